//! Differential test of the writer against CPython: for thousands of generated values
//! and a corpus of edge cases (int widths, big ints up to LONG4, every str/bytes length
//! class, the 64 KiB frame boundary, batches of 1000, memo indexes past 255, shared
//! singletons, nesting), `dumps` must give exactly `pickle.dumps(value, protocol=5)` and
//! `PyValue::repr` exactly `repr(value)` (tests/fixtures/check_writer.py); JSON texts
//! parsed by `PyValue::from_json` must load as `json.loads` builds them.
//!
//! The seed is fixed (`RQS_FUZZ_SEED` and `RQS_FUZZ_COUNT` change the seed and the number
//! of random values, default 3000). Like the other Python tests, this fails (never skips)
//! without a Python interpreter.

// Tests report what they checked.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use common::{find_python, fixtures_dir, hex_encode, json_str};
use rqs_pickle::{PyInt, PyValue, dumps};

/// xorshift64*: deterministic and dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Characters with every repr and UTF-8 length class (no unassigned code points: their
/// repr depends on the Python version).
const CHARS: &[char] = &[
    'a',
    'b',
    'Z',
    '0',
    ' ',
    '\'',
    '"',
    '\\',
    '\n',
    '\t',
    '\r',
    '\0',
    '\u{1}',
    '\u{7f}',
    '\u{80}',
    '\u{a0}',
    '\u{ad}',
    'é',
    'ÿ',
    'ā',
    'Ω',
    '中',
    '✓',
    '\u{2028}',
    '\u{200b}',
    '\u{e000}',
    '\u{fffe}',
    '😀',
    '\u{10ffff}',
    '\u{1f600}',
];

struct Gen {
    rng: Rng,
    /// Makes dict keys unique under Python equality.
    key_serial: u64,
}

impl Gen {
    fn string(&mut self) -> String {
        let len = match self.rng.below(10) {
            0 => 0,
            1..=3 => 1,
            4..=7 => 2 + self.rng.below(6),
            _ => self.rng.below(40),
        };
        (0..len)
            .map(|_| CHARS[self.rng.below(CHARS.len())])
            .collect()
    }

    fn bytes(&mut self) -> Vec<u8> {
        let len = match self.rng.below(4) {
            0 => 0,
            1 => 1,
            _ => self.rng.below(300),
        };
        (0..len).map(|_| self.rng.next() as u8).collect()
    }

    fn int(&mut self) -> PyInt {
        match self.rng.below(8) {
            0 => PyInt::from(self.rng.below(256) as i64),
            1 => PyInt::from(self.rng.below(65536) as i64),
            2 => PyInt::from(self.rng.next() as i32),
            3 => PyInt::from(self.rng.next() as i64),
            4 => PyInt::from((self.rng.next() as i64) >> self.rng.below(64)),
            _ => {
                // Big: up to 300 random bytes, so LONG4 (more than 255) happens.
                let max = if self.rng.below(5) == 0 { 300 } else { 24 };
                let len = 1 + self.rng.below(max);
                let bytes: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
                PyInt::from_le_twos(&bytes)
            }
        }
    }

    fn float(&mut self) -> f64 {
        match self.rng.below(6) {
            0 => f64::from_bits(self.rng.next()),
            1 => (self.rng.next() as i64 as f64) / 1000.0,
            2 => [
                0.0,
                -0.0,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
                1e16,
                1e-5,
                0.1,
            ][self.rng.below(8)],
            3 => 10f64.powi(self.rng.below(40) as i32 - 20) * (self.rng.below(1000) as f64),
            _ => self.rng.below(1 << 20) as f64 / 64.0,
        }
    }

    fn key(&mut self) -> PyValue {
        self.key_serial += 1;
        let n = self.key_serial;
        match self.rng.below(5) {
            0 => PyValue::from(n as i64 * 7919),
            1 => PyValue::tuple([PyValue::from(n), PyValue::from(self.string())]),
            2 => PyValue::bytes(format!("k{n}").into_bytes()),
            3 => PyValue::Float(n as f64 + 0.5),
            _ => PyValue::from(format!("{}#{n}", self.string())),
        }
    }

    fn value(&mut self, depth: usize) -> PyValue {
        let leaf = depth >= 4 || self.rng.below(3) != 0;
        if leaf {
            return match self.rng.below(8) {
                0 => PyValue::None,
                1 => PyValue::Bool(self.rng.below(2) == 1),
                2 | 3 => PyValue::Int(self.int()),
                4 => PyValue::Float(self.float()),
                5 | 6 => PyValue::Str(self.string()),
                _ => PyValue::Bytes(self.bytes()),
            };
        }
        let len = if self.rng.below(6) == 0 {
            self.rng.below(40)
        } else {
            self.rng.below(5)
        };
        match self.rng.below(3) {
            0 => PyValue::List((0..len).map(|_| self.value(depth + 1)).collect()),
            1 => PyValue::Tuple((0..len).map(|_| self.value(depth + 1)).collect()),
            _ => PyValue::Dict(
                (0..len)
                    .map(|_| (self.key(), self.value(depth + 1)))
                    .collect(),
            ),
        }
    }
}

fn typed(v: &PyValue) -> String {
    let items = |items: &[PyValue]| items.iter().map(typed).collect::<Vec<_>>().join(",");
    match v {
        PyValue::None => r#"{"t":"none"}"#.to_owned(),
        PyValue::Bool(b) => format!(r#"{{"t":"bool","v":{b}}}"#),
        PyValue::Int(i) => format!(r#"{{"t":"int","v":"{i}"}}"#),
        PyValue::Float(f) => format!(r#"{{"t":"float","v":"{:016x}"}}"#, f.to_bits()),
        PyValue::Str(s) => format!(r#"{{"t":"str","v":{}}}"#, json_str(s)),
        PyValue::Bytes(b) => format!(r#"{{"t":"bytes","v":"{}"}}"#, hex_encode(b)),
        PyValue::List(l) => format!(r#"{{"t":"list","v":[{}]}}"#, items(l)),
        PyValue::Tuple(t) => format!(r#"{{"t":"tuple","v":[{}]}}"#, items(t)),
        PyValue::Dict(d) => format!(
            r#"{{"t":"dict","v":[{}]}}"#,
            d.iter()
                .map(|(k, v)| format!("[{},{}]", typed(k), typed(v)))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => unreachable!("no other variants are generated"),
    }
}

fn ints(values: impl IntoIterator<Item = i128>) -> PyValue {
    PyValue::list(values.into_iter().map(PyInt::from))
}

/// Values at every boundary the pickler has.
fn corpus() -> Vec<(String, PyValue)> {
    let mut out: Vec<(String, PyValue)> = Vec::new();
    let mut add = |name: &str, v: PyValue| out.push((name.to_owned(), v));
    add(
        "int widths",
        ints([
            0,
            1,
            255,
            256,
            65535,
            65536,
            -1,
            -128,
            -129,
            -256,
            -32768,
            -32769,
            i32::MAX as i128,
            i32::MIN as i128,
            i32::MAX as i128 + 1,
            i32::MIN as i128 - 1,
            i64::MAX as i128,
            i64::MIN as i128,
            i64::MAX as i128 + 1,
            i64::MIN as i128 - 1,
            1 << 70,
            -(1 << 70),
            (1 << 71) - 1,
            -(1 << 71),
            i128::MAX,
            i128::MIN,
        ]),
    );
    let huge = |bytes: usize, top: u8| {
        let mut b = vec![0x5a; bytes];
        b[bytes - 1] = top;
        PyValue::Int(PyInt::from_le_twos(&b))
    };
    add(
        "LONG1/LONG4 boundary",
        PyValue::list([
            huge(255, 0x7f),
            huge(256, 0x7f),
            huge(255, 0x80),
            huge(256, 0x80),
            huge(1000, 0x01),
        ]),
    );
    for len in [0, 1, 2, 255, 256, 65535, 65536, 65537, 70000] {
        add(
            &format!("str of {len} bytes"),
            PyValue::from("x".repeat(len)),
        );
        add(&format!("bytes of {len}"), PyValue::bytes(vec![7u8; len]));
        add(
            &format!("{len} bytes between small values"),
            PyValue::list([
                PyValue::from("head"),
                PyValue::from("y".repeat(len)),
                PyValue::bytes(vec![1u8; len]),
                PyValue::from("tail"),
            ]),
        );
    }
    add(
        "multi-byte 255/256",
        PyValue::list([
            PyValue::from("é".repeat(127) + "a"),
            PyValue::from("é".repeat(128)),
        ]),
    );
    for n in [0, 1, 2, 3, 4, 5, 999, 1000, 1001, 2000, 2001, 2500] {
        add(&format!("list of {n}"), ints((0..n).map(|i| i as i128 * 3)));
        add(
            &format!("tuple of {n}"),
            PyValue::tuple((0..n).map(|i| i as i64)),
        );
        add(
            &format!("dict of {n}"),
            PyValue::dict((0..n).map(|i| (format!("key{i}"), i as i64))),
        );
    }
    // Many frames: 200 KiB made of small pieces.
    add(
        "many frames",
        PyValue::list((0..5000).map(|i| PyValue::from(format!("piece number {i} of many")))),
    );
    // A shared singleton first memoised past index 255: LONG_BINGET.
    let mut items: Vec<PyValue> = (0..300).map(|i| PyValue::from(format!("s{i}"))).collect();
    items.extend([
        PyValue::from("q"),
        PyValue::from("q"),
        PyValue::bytes(b"\x00".to_vec()),
        PyValue::bytes(b"\x00".to_vec()),
    ]);
    items.extend([
        PyValue::from(""),
        PyValue::from(""),
        PyValue::bytes(Vec::new()),
        PyValue::bytes(Vec::new()),
    ]);
    items.extend([
        PyValue::from("ā"),
        PyValue::from("ā"),
        PyValue::from("ÿ"),
        PyValue::from("ÿ"),
    ]);
    add("memo past 255", PyValue::List(items));
    add(
        "nested",
        PyValue::tuple([
            PyValue::from("mod.func"),
            PyValue::None,
            PyValue::tuple([
                PyValue::list([PyValue::dict([("a", PyValue::tuple([1, 2]))])]),
                PyValue::tuple::<[i32; 0], i32>([]),
                PyValue::tuple([PyValue::tuple::<[i32; 0], i32>([])]),
            ]),
            PyValue::dict([
                ("k", PyValue::bytes(b"\xff".to_vec())),
                ("k2", PyValue::from("k")),
            ]),
        ]),
    );
    let mut deep = PyValue::from(1);
    for i in 0..rqs_pickle::MAX_DEPTH {
        deep = if i % 2 == 0 {
            PyValue::list([deep])
        } else {
            PyValue::tuple([deep, PyValue::from("d")])
        };
    }
    add("deepest accepted", deep);
    out
}

const JSON_TEXTS: &[&str] = &[
    r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
    r#"[123456789012345678901234567890, -98765432109876543210, 0, -0, 1.5, -0.0, 1e400, 2.5e-8]"#,
    r#"{"dup": 1, "x": 2, "dup": 3}"#,
    r#""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 \u0000""#,
    r#"[[], {}, [[]], {"": ""}]"#,
    r#"[{"k": 1}, {"k": 2}, {"k": 3}]"#,
    "  \t\n 42 \r\n",
    r#"9007199254740993"#,
    r#"0.1"#,
];

fn settings() -> (u64, usize) {
    let env_num = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let want = env_num("RQS_FUZZ_COUNT").map_or(3000, |n| n as usize);
    (
        env_num("RQS_FUZZ_SEED").unwrap_or(0x0b5e_55ed_1e57_0001),
        want,
    )
}

#[test]
fn cpython_writes_the_same_bytes_and_repr() {
    let (seed, count) = settings();
    let mut g = Gen {
        rng: Rng(seed | 1),
        key_serial: 0,
    };
    let mut cases = corpus();
    cases.extend((0..count).map(|i| (format!("random#{i}"), g.value(0))));
    let mut text = String::new();
    for (id, value) in &cases {
        let bytes = dumps(value).unwrap_or_else(|e| panic!("{id}: {e}"));
        text.push_str(&format!(
            "{{\"id\":{},\"value\":{},\"pickle\":\"{}\",\"repr\":{}}}\n",
            json_str(id),
            typed(value),
            hex_encode(&bytes),
            json_str(&value.repr())
        ));
    }
    for (i, json) in JSON_TEXTS.iter().enumerate() {
        let value = PyValue::from_json(json).unwrap_or_else(|e| panic!("{json}: {e}"));
        text.push_str(&format!(
            "{{\"id\":\"json#{i}\",\"json\":{},\"pickle\":\"{}\"}}\n",
            json_str(json),
            hex_encode(&dumps(&value).unwrap())
        ));
    }
    let path = std::env::temp_dir().join(format!("rqs-pickle-writer-{}.jsonl", std::process::id()));
    std::fs::write(&path, text).unwrap();
    let output = std::process::Command::new(find_python())
        .arg(fixtures_dir().join("check_writer.py"))
        .arg(&path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("cannot run python");
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "CPython disagrees with rqs_pickle::dumps:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "checked {} values and {} json texts",
            cases.len(),
            JSON_TEXTS.len()
        )),
        "the checker did not read every case:\n{stdout}"
    );
}

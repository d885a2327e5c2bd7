//! Shared test helpers: a small JSON reader (the crate has no JSON dependency) and the
//! loader for `tests/fixtures/corpus.jsonl`.

#![allow(dead_code)]

use std::path::PathBuf;

use rqs_pickle::Value;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(String),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(fields) => fields.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn str(&self) -> &str {
        match self {
            Json::Str(s) => s,
            other => panic!("expected a JSON string, got {other:?}"),
        }
    }

    pub fn arr(&self) -> &[Json] {
        match self {
            Json::Arr(v) => v,
            other => panic!("expected a JSON array, got {other:?}"),
        }
    }

    pub fn bool(&self) -> bool {
        match self {
            Json::Bool(b) => *b,
            other => panic!("expected a JSON bool, got {other:?}"),
        }
    }

    pub fn num(&self) -> &str {
        match self {
            Json::Num(n) => n,
            other => panic!("expected a JSON number, got {other:?}"),
        }
    }
}

pub fn parse_json(text: &str) -> Json {
    let mut p = JsonParser {
        s: text.as_bytes(),
        i: 0,
    };
    let v = p.value();
    p.ws();
    assert_eq!(p.i, p.s.len(), "trailing JSON text");
    v
}

struct JsonParser<'a> {
    s: &'a [u8],
    i: usize,
}

impl JsonParser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) {
        self.ws();
        assert_eq!(
            self.s.get(self.i),
            Some(&b),
            "JSON: expected {:?}",
            b as char
        );
        self.i += 1;
    }

    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut fields = Vec::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(fields);
                }
                loop {
                    self.ws();
                    let k = self.string();
                    self.eat(b':');
                    let v = self.value();
                    fields.push((k, v));
                    self.ws();
                    let c = self.s[self.i];
                    self.i += 1;
                    match c {
                        b',' => continue,
                        b'}' => return Json::Obj(fields),
                        _ => panic!("JSON: bad object"),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(items);
                }
                loop {
                    items.push(self.value());
                    self.ws();
                    let c = self.s[self.i];
                    self.i += 1;
                    match c {
                        b',' => continue,
                        b']' => return Json::Arr(items),
                        _ => panic!("JSON: bad array"),
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                assert!(self.i > start, "JSON: unexpected byte");
                Json::Num(String::from_utf8(self.s[start..self.i].to_vec()).unwrap())
            }
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Json {
        assert!(
            self.s[self.i..].starts_with(w.as_bytes()),
            "JSON: bad literal"
        );
        self.i += w.len();
        v
    }

    fn hex4(&mut self) -> u32 {
        let h = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
        self.i += 4;
        u32::from_str_radix(h, 16).unwrap()
    }

    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = String::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return out,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut code = self.hex4();
                            if (0xd800..0xdc00).contains(&code) {
                                assert_eq!(&self.s[self.i..self.i + 2], b"\\u", "lone surrogate");
                                self.i += 2;
                                let low = self.hex4();
                                code = 0x10000 + ((code - 0xd800) << 10) + (low - 0xdc00);
                            }
                            out.push(char::from_u32(code).expect("valid JSON code point"));
                        }
                        _ => panic!("JSON: bad escape"),
                    }
                }
                _ => {
                    // Multi-byte UTF-8 passes through byte by byte.
                    let start = self.i - 1;
                    let mut end = self.i;
                    while end < self.s.len() && (self.s[end] & 0xc0) == 0x80 {
                        end += 1;
                    }
                    out.push_str(std::str::from_utf8(&self.s[start..end]).unwrap());
                    self.i = end;
                }
            }
        }
    }
}

/// Writes a JSON string literal.
pub fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn hex_decode(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

pub fn hex_encode(b: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(b.len() * 2);
    for byte in b {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 15)] as char);
    }
    out
}

/// One pickle of the corpus with what `Meta::parse` must report for it.
#[derive(Debug, Clone)]
pub struct CorpusEntry {
    pub name: String,
    pub protocol: u8,
    pub bytes: Vec<u8>,
    pub roundtrip: bool,
    pub entries: Vec<(String, Value)>,
}

impl CorpusEntry {
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.protocol)
    }
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
}

fn expected_value(j: &Json) -> Value {
    let t = j.get("t").expect("type tag").str();
    let v = j.get("v");
    match t {
        "none" => Value::None,
        "bool" => Value::Bool(v.expect("bool").bool()),
        "int" => Value::Int(v.expect("int").str().parse().expect("i64")),
        "bigint" => Value::BigInt(hex_decode(v.expect("bigint").str())),
        "float" => {
            let bytes: [u8; 8] = hex_decode(v.expect("float").str()).try_into().unwrap();
            Value::Float(f64::from_be_bytes(bytes))
        }
        "str" => Value::Str(v.expect("str").str().to_owned()),
        "bytes" => Value::Bytes(hex_decode(v.expect("bytes").str())),
        "opaque" => Value::Opaque,
        other => panic!("unknown expected type {other}"),
    }
}

pub fn load_corpus() -> Vec<CorpusEntry> {
    let path = fixtures_dir().join("corpus.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let j = parse_json(line);
            CorpusEntry {
                name: j.get("name").unwrap().str().to_owned(),
                protocol: j.get("protocol").unwrap().num().parse().unwrap(),
                bytes: hex_decode(j.get("hex").unwrap().str()),
                roundtrip: j.get("roundtrip").unwrap().bool(),
                entries: j
                    .get("entries")
                    .unwrap()
                    .arr()
                    .iter()
                    .map(|pair| {
                        let pair = pair.arr();
                        (pair[0].str().to_owned(), expected_value(&pair[1]))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Equality that treats two NaNs with the same bits as equal (and tells -0.0 from 0.0).
pub fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

/// `Meta`'s entries in the JSON shape of corpus.jsonl / verify_patched.py.
pub fn entries_json(meta: &rqs_pickle::Meta) -> String {
    let items: Vec<String> = meta
        .entries()
        .map(|(k, v)| format!("[{},{}]", json_str(k), value_json(v)))
        .collect();
    format!("[{}]", items.join(","))
}

pub fn value_json(v: &Value) -> String {
    match v {
        Value::None => r#"{"t":"none"}"#.to_owned(),
        Value::Bool(b) => format!(r#"{{"t":"bool","v":{b}}}"#),
        Value::Int(i) => format!(r#"{{"t":"int","v":"{i}"}}"#),
        Value::BigInt(b) => format!(r#"{{"t":"bigint","v":"{}"}}"#, hex_encode(b)),
        Value::Float(f) => format!(r#"{{"t":"float","v":"{}"}}"#, hex_encode(&f.to_be_bytes())),
        Value::Str(s) => format!(r#"{{"t":"str","v":{}}}"#, json_str(s)),
        Value::Bytes(b) => format!(r#"{{"t":"bytes","v":"{}"}}"#, hex_encode(b)),
        _ => r#"{"t":"opaque"}"#.to_owned(),
    }
}

fn python_runs(python: &str) -> bool {
    std::process::Command::new(python)
        .args([
            "-c",
            "import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `$RQS_PYTHON` if it runs, else `python3` from PATH; panics (failing the test) if
/// neither does. Tests that need Python never skip.
pub fn find_python() -> String {
    let explicit = std::env::var("RQS_PYTHON").ok().filter(|s| !s.is_empty());
    if let Some(p) = &explicit {
        if python_runs(p) {
            return p.clone();
        }
        eprintln!("RQS_PYTHON={p} does not run a Python >= 3.9; trying python3 from PATH");
    }
    if python_runs("python3") {
        return "python3".to_owned();
    }
    panic!(
        "no Python interpreter to verify patched pickles with: set RQS_PYTHON to a Python \
         3.9+ executable or put python3 on PATH (RQS_PYTHON is {explicit:?})"
    );
}

/// One original pickle and its patches, as a line of verify_patched.py input.
pub struct VerifyGroup {
    pub id: String,
    pub protocol: u8,
    pub orig: Vec<u8>,
    /// What `Meta::parse` reported, for Python to cross-check (JSON, see `entries_json`).
    pub entries: Option<String>,
    /// False where bytes values went through `_codecs.encode` (CPython below protocol 3).
    pub bytes_primitive: bool,
    /// The original may run code that fails in CPython: skip it then (counted as skipped).
    pub may_fail: bool,
    /// (key, value, patched bytes, must equal pickle.dumps of the expected dict)
    pub patches: Vec<(String, i64, Vec<u8>, bool)>,
}

/// Runs tests/fixtures/verify_patched.py on `groups`; panics with its report on failure.
/// Returns the verifier's output.
pub fn run_verifier(tag: &str, groups: &[VerifyGroup]) -> String {
    use std::io::Write;

    let python = find_python();
    let mut text = String::new();
    let mut count = 0usize;
    for g in groups {
        let patches: Vec<String> = g
            .patches
            .iter()
            .map(|(key, value, patched, exact)| {
                format!(
                    "{{\"key\":{},\"value\":\"{value}\",\"patched\":\"{}\",\"exact\":{exact}}}",
                    json_str(key),
                    hex_encode(patched)
                )
            })
            .collect();
        count += patches.len();
        let entries = g
            .entries
            .as_ref()
            .map(|e| {
                format!(
                    ",\"entries\":{e},\"bytes_primitive\":{},\"may_fail\":{}",
                    g.bytes_primitive, g.may_fail
                )
            })
            .unwrap_or_default();
        text.push_str(&format!(
            "{{\"id\":{},\"protocol\":{},\"orig\":\"{}\"{entries},\"patches\":[{}]}}\n",
            json_str(&g.id),
            g.protocol,
            hex_encode(&g.orig),
            patches.join(",")
        ));
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let path = std::env::temp_dir().join(format!(
        "rqs-pickle-{tag}-{}-{nanos}.jsonl",
        std::process::id()
    ));
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    let fixtures = fixtures_dir();
    let output = std::process::Command::new(&python)
        .arg(fixtures.join("verify_patched.py"))
        .arg(&path)
        .env("PYTHONPATH", &fixtures)
        // Keep __pycache__ out of the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    let _ = std::fs::remove_file(&path);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "CPython disagrees with rqs-pickle ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains(&format!("read {count} patched pickles")),
        "verifier did not read every case:\n{stdout}"
    );
    if !groups.iter().any(|g| g.may_fail) {
        assert!(
            stdout.contains(&format!("{count} verified")),
            "verifier skipped cases:\n{stdout}"
        );
    }
    stdout
}

//! Property tests. Dicts of primitives are pickled by a small writer that follows what
//! CPython's pickler emits at protocols 2 and 5 (memo, SETITEM/SETITEMS batching, frames),
//! so the expected parse is known without Python.

use std::collections::HashMap;

use proptest::prelude::*;
use rqs_pickle::{Meta, Value, set_int};

#[derive(Debug, Clone)]
enum Prim {
    None,
    Bool(bool),
    Int(i64),
    Big(i128),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
}

fn minimal_twos(mut v: Vec<u8>) -> Vec<u8> {
    while v.len() > 1 {
        let last = v[v.len() - 1];
        let prev = v[v.len() - 2];
        if (last == 0 && prev & 0x80 == 0) || (last == 0xff && prev & 0x80 != 0) {
            v.pop();
        } else {
            break;
        }
    }
    if v == [0] {
        v.clear();
    }
    v
}

impl Prim {
    fn expected(&self, proto: u8) -> Value {
        match self {
            Prim::None => Value::None,
            Prim::Bool(b) => Value::Bool(*b),
            Prim::Int(i) => Value::Int(*i),
            Prim::Big(i) => match i64::try_from(*i) {
                Ok(v) => Value::Int(v),
                Err(_) => Value::BigInt(minimal_twos(i.to_le_bytes().to_vec())),
            },
            Prim::Float(f) => Value::Float(*f),
            Prim::Str(s) => Value::Str(s.clone()),
            Prim::Bytes(b) if proto >= 3 => Value::Bytes(b.clone()),
            Prim::Bytes(_) => Value::Opaque,
        }
    }
}

/// A CPython-like pickler for a dict of primitives.
struct Writer {
    proto: u8,
    file: Vec<u8>,
    frame: Vec<u8>,
    frame_target: usize,
    memo: HashMap<Vec<u8>, u32>,
}

impl Writer {
    fn emit(&mut self, bytes: &[u8]) {
        if self.proto >= 4 {
            self.frame.extend_from_slice(bytes);
        } else {
            self.file.extend_from_slice(bytes);
        }
    }

    /// Between objects: close the frame once it reaches the target size.
    fn boundary(&mut self, force: bool) {
        if self.proto >= 4 && (self.frame.len() >= self.frame_target || force) {
            if self.frame.len() >= 4 {
                self.file.push(0x95);
                self.file.extend((self.frame.len() as u64).to_le_bytes());
            }
            self.file.append(&mut self.frame);
        }
    }

    fn memoize(&mut self, memo_key: Vec<u8>) {
        let idx = self.memo.len() as u32;
        self.memo.insert(memo_key, idx);
        if self.proto >= 4 {
            self.emit(&[0x94]);
        } else if idx < 256 {
            self.emit(&[b'q', idx as u8]);
        } else {
            let mut op = vec![b'r'];
            op.extend(idx.to_le_bytes());
            self.emit(&op);
        }
    }

    /// Emits a memo reference if this (str or bytes) object was written before.
    fn recall(&mut self, memo_key: &[u8]) -> bool {
        let Some(&idx) = self.memo.get(memo_key) else {
            return false;
        };
        if idx < 256 {
            self.emit(&[b'h', idx as u8]);
        } else {
            let mut op = vec![b'j'];
            op.extend(idx.to_le_bytes());
            self.emit(&op);
        }
        true
    }

    fn save_str(&mut self, s: &str) {
        let memo_key = [b"s:".as_slice(), s.as_bytes()].concat();
        if self.recall(&memo_key) {
            return;
        }
        let b = s.as_bytes();
        let mut op = Vec::new();
        if self.proto >= 4 && b.len() < 256 {
            op.push(0x8c);
            op.push(b.len() as u8);
        } else {
            op.push(b'X');
            op.extend((b.len() as u32).to_le_bytes());
        }
        op.extend_from_slice(b);
        self.emit(&op);
        self.memoize(memo_key);
    }

    fn save(&mut self, p: &Prim) {
        self.boundary(false);
        match p {
            Prim::None => self.emit(b"N"),
            Prim::Bool(true) => self.emit(&[0x88]),
            Prim::Bool(false) => self.emit(&[0x89]),
            Prim::Int(i) => self.save_int(i128::from(*i)),
            Prim::Big(i) => self.save_int(*i),
            Prim::Float(f) => {
                let mut op = vec![b'G'];
                op.extend(f.to_be_bytes());
                self.emit(&op);
            }
            Prim::Str(s) => self.save_str(s),
            Prim::Bytes(b) if self.proto >= 3 => {
                let memo_key = [b"b:".as_slice(), b].concat();
                if self.recall(&memo_key) {
                    return;
                }
                let mut op = Vec::new();
                if b.len() < 256 {
                    op.push(b'C');
                    op.push(b.len() as u8);
                } else {
                    op.push(b'B');
                    op.extend((b.len() as u32).to_le_bytes());
                }
                op.extend_from_slice(b);
                self.emit(&op);
                self.memoize(memo_key);
            }
            Prim::Bytes(b) => {
                // Protocol 2: _codecs.encode(bytes.decode('latin1'), 'latin1').
                if !self.recall(b"g:codecs") {
                    self.emit(b"c_codecs\nencode\n");
                    self.memoize(b"g:codecs".to_vec());
                }
                let text: String = b.iter().map(|c| char::from(*c)).collect();
                self.save_str(&text);
                self.save_str("latin1");
                self.emit(&[0x86]);
                self.memoize(format!("t:{}", self.memo.len()).into_bytes());
                self.emit(b"R");
                self.memoize(format!("o:{}", self.memo.len()).into_bytes());
            }
        }
    }

    fn save_int(&mut self, v: i128) {
        let mut op = Vec::new();
        if (0..=0xff).contains(&v) {
            op.extend([b'K', v as u8]);
        } else if (0..=0xffff).contains(&v) {
            op.push(b'M');
            op.extend((v as u16).to_le_bytes());
        } else if let Ok(v) = i32::try_from(v) {
            op.push(b'J');
            op.extend(v.to_le_bytes());
        } else {
            let payload = minimal_twos(v.to_le_bytes().to_vec());
            op.extend([0x8a, payload.len() as u8]);
            op.extend(payload);
        }
        self.emit(&op);
    }
}

fn write_pickle(entries: &[(String, Prim)], proto: u8, frame_target: usize) -> Vec<u8> {
    let mut w = Writer {
        proto,
        file: vec![0x80, proto],
        frame: Vec::new(),
        frame_target,
        memo: HashMap::new(),
    };
    w.boundary(false);
    w.emit(b"}");
    w.memoize(b"d:top".to_vec());
    for batch in entries.chunks(5) {
        if batch.len() > 1 {
            w.emit(b"(");
        }
        for (k, v) in batch {
            w.boundary(false);
            w.save_str(k);
            w.save(v);
        }
        w.emit(if batch.len() > 1 { b"u" } else { b"s" });
    }
    w.emit(b".");
    w.boundary(true);
    w.file
}

/// Python dict semantics: the last assignment wins, the first position stays.
fn model(entries: &[(String, Prim)], proto: u8) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    for (k, v) in entries {
        let val = v.expected(proto);
        match out.iter_mut().find(|(key, _)| key == k) {
            Some(slot) => slot.1 = val,
            None => out.push((k.clone(), val)),
        }
    }
    out
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Float(x), Value::Float(y)) => x.to_bits() == y.to_bits(),
        _ => a == b,
    }
}

fn assert_meta(meta: &Meta, want: &[(String, Value)]) -> Result<(), TestCaseError> {
    let keys: Vec<&str> = meta.keys().collect();
    let want_keys: Vec<&str> = want.iter().map(|(k, _)| k.as_str()).collect();
    prop_assert_eq!(keys, want_keys);
    for (k, v) in want {
        let got = meta.get(k);
        prop_assert!(got.is_some_and(|g| same(g, v)), "{k}: {got:?} != {v:?}");
    }
    Ok(())
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("repeat".to_owned()),
        Just("interval".to_owned()),
        Just("cron_string".to_owned()),
        Just("use_local_timezone".to_owned()),
        Just("cl\u{e9}".to_owned()),
        "[a-c]{1,2}",
        any::<String>(),
        "x{250,300}",
    ]
}

fn prim_strategy() -> impl Strategy<Value = Prim> {
    prop_oneof![
        Just(Prim::None),
        any::<bool>().prop_map(Prim::Bool),
        prop_oneof![
            any::<i64>(),
            0i64..=300,
            65530i64..=65540,
            Just(i64::from(i32::MIN)),
            Just(i64::MIN),
            Just(i64::MAX),
        ]
        .prop_map(Prim::Int),
        any::<i128>().prop_map(Prim::Big),
        any::<f64>().prop_map(Prim::Float),
        any::<String>().prop_map(Prim::Str),
        "[a-z]{0,3}".prop_map(Prim::Str),
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(Prim::Bytes),
    ]
}

fn dict_strategy() -> impl Strategy<Value = (Vec<(String, Prim)>, u8, usize)> {
    (
        proptest::collection::vec((key_strategy(), prim_strategy()), 0..14),
        prop_oneof![Just(2u8), Just(5u8)],
        prop_oneof![Just(1usize << 20), 1usize..80],
    )
}

fn new_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        any::<i64>(),
        -300i64..300,
        Just(255),
        Just(256),
        Just(65535),
        Just(65536),
        Just(i64::MIN),
        Just(i64::MAX),
    ]
}

/// Short byte strings that are (parts of) opcodes, to reach deep into the walker.
fn token() -> impl Strategy<Value = Vec<u8>> {
    let fixed: Vec<&'static [u8]> = vec![
        b"\x80\x05",
        b"\x80\x02",
        b"}",
        b"(",
        b")",
        b"]",
        b"\x8f",
        b"s",
        b"u",
        b"a",
        b"e",
        b"d",
        b"l",
        b"t",
        b"0",
        b"1",
        b"2",
        b".",
        b"N",
        b"\x88",
        b"\x89",
        b"K\x05",
        b"M\x00\x01",
        b"J\xff\xff\xff\xff",
        b"\x8a\x01\x05",
        b"\x8b\x01\x00\x00\x00\x05",
        b"I5\n",
        b"I01\n",
        b"L5L\n",
        b"F1.5\n",
        b"G\x3f\xf0\0\0\0\0\0\0",
        b"\x8c\x06repeat",
        b"\x8c\x01a",
        b"X\x06\x00\x00\x00repeat",
        b"Vrepeat\n",
        b"S'repeat'\n",
        b"U\x06repeat",
        b"C\x01z",
        b"\x94",
        b"q\x00",
        b"q\x01",
        b"h\x00",
        b"h\x01",
        b"p0\n",
        b"g0\n",
        b"r\x00\0\0\0",
        b"j\x00\0\0\0",
        b"\x85",
        b"\x86",
        b"\x87",
        b"R",
        b"b",
        b"o",
        b"\x81",
        b"\x92",
        b"c_codecs\nencode\n",
        b"\x93",
        b"\x90",
        b"\x91",
        b"icorpus\nX\n",
        b"\x95\x04\0\0\0\0\0\0\0",
        b"\x95\x10\0\0\0\0\0\0\0",
        b"\x95\0\0\0\0\0\0\0\0",
        b"\x82\x01",
        b"\x96\x01\0\0\0\0\0\0\0z",
    ];
    prop_oneof![
        8 => proptest::sample::select(fixed).prop_map(|t| t.to_vec()),
        1 => proptest::collection::vec(any::<u8>(), 1..4),
    ]
}

/// If the walker accepts something, patching it must work and be visible.
fn check_consistent(bytes: &[u8]) -> Result<(), TestCaseError> {
    let parsed = Meta::parse(bytes);
    let patched = set_int(bytes, "repeat", 42);
    prop_assert_eq!(parsed.is_ok(), patched.is_ok());
    if let (Ok(before), Ok(after)) = (parsed, patched) {
        let meta = Meta::parse(&after).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(meta.get("repeat"), Some(&Value::Int(42)));
        let mut keys: Vec<&str> = before.keys().collect();
        if before.get("repeat").is_none() {
            keys.push("repeat");
        }
        prop_assert_eq!(meta.keys().collect::<Vec<_>>(), keys);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        check_consistent(&bytes)?;
        let mut with_header = b"\x80\x05".to_vec();
        with_header.extend(&bytes);
        check_consistent(&with_header)?;
    }

    #[test]
    fn opcode_soup_never_panics(tokens in proptest::collection::vec(token(), 0..40)) {
        let bytes: Vec<u8> = tokens.concat();
        check_consistent(&bytes)?;
        // Most soups do not end as a dict: close one so that more of them parse.
        let mut closed = b"}".to_vec();
        closed.extend(&bytes);
        closed.extend(b"0.");
        check_consistent(&closed)?;
    }

    #[test]
    fn parse_sees_what_was_written((entries, proto, target) in dict_strategy()) {
        let bytes = write_pickle(&entries, proto, target);
        let meta = Meta::parse(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(meta.protocol(), proto);
        assert_meta(&meta, &model(&entries, proto))?;
    }

    #[test]
    fn set_int_changes_only_its_key(
        (entries, proto, target) in dict_strategy(),
        key in key_strategy(),
        value in new_value(),
    ) {
        let bytes = write_pickle(&entries, proto, target);
        let patched = set_int(&bytes, &key, value).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let meta = Meta::parse(&patched).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut want = model(&entries, proto);
        match want.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = Value::Int(value),
            None => want.push((key.clone(), Value::Int(value))),
        }
        assert_meta(&meta, &want)?;
        prop_assert_eq!(meta.protocol(), proto);
    }

    #[test]
    fn in_place_patch_equals_fresh_pickle(
        (mut entries, proto, _target) in dict_strategy(),
        at in any::<prop::sample::Index>(),
        old in prop_oneof![
            any::<i64>().prop_map(Prim::Int),
            any::<bool>().prop_map(Prim::Bool),
            any::<i128>().prop_map(Prim::Big),
        ],
        value in new_value(),
    ) {
        // With one frame (or none) the rewritten int is exactly what the writer emits for
        // the updated dict, as CPython's pickler would.
        let target = 1 << 20;
        let i = at.index(entries.len() + 1);
        entries.insert(i, ("repeat".to_owned(), old));
        let bytes = write_pickle(&entries, proto, target);
        let last = entries.iter().rposition(|(k, _)| k == "repeat").unwrap_or(i);
        if matches!(entries[last].1, Prim::Int(_) | Prim::Bool(_) | Prim::Big(_)) {
            let mut updated = entries.clone();
            updated[last].1 = Prim::Int(value);
            let patched = set_int(&bytes, "repeat", value)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(patched, write_pickle(&updated, proto, target));
        }
    }

    #[test]
    fn setting_twice_is_setting_once(
        (entries, proto, target) in dict_strategy(),
        key in key_strategy(),
        first in new_value(),
        second in new_value(),
    ) {
        let bytes = write_pickle(&entries, proto, target);
        let once = set_int(&bytes, &key, second).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let twice = set_int(&bytes, &key, first)
            .and_then(|b| set_int(&b, &key, second))
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&once, &twice);
        let a = Meta::parse(&once).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let b = Meta::parse(&twice).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
        prop_assert_eq!(a.get(&key), Some(&Value::Int(second)));
    }

    #[test]
    fn every_truncation_is_an_error((entries, proto, target) in dict_strategy()) {
        let bytes = write_pickle(&entries, proto, target);
        for cut in 0..bytes.len() {
            prop_assert!(Meta::parse(&bytes[..cut]).is_err(), "prefix of {cut} bytes parsed");
            prop_assert!(set_int(&bytes[..cut], "repeat", 1).is_err());
        }
    }

    #[test]
    fn corrupted_pickles_never_panic(
        (entries, proto, target) in dict_strategy(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut bytes = write_pickle(&entries, proto, target);
        for (at, byte) in flips {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        check_consistent(&bytes)?;
    }
}

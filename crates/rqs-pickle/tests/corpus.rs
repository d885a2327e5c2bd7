//! `Meta::parse` and `set_int` against the pickles CPython wrote (tests/fixtures).

// Tests report what they checked.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use common::{hex_decode, load_corpus, same_value};
use rqs_pickle::{Meta, Value, set_int};

#[test]
fn corpus_is_large_and_covers_every_protocol() {
    let corpus = load_corpus();
    assert!(
        corpus.len() >= 600,
        "corpus has only {} pickles",
        corpus.len()
    );
    for p in 0..=5u8 {
        let n = corpus.iter().filter(|e| e.protocol == p).count();
        assert!(n >= 90, "only {n} pickles at protocol {p}");
    }
}

#[test]
fn parse_reports_the_primitive_entries_python_sees() {
    let corpus = load_corpus();
    let mut failures = Vec::new();
    for entry in &corpus {
        let meta = match Meta::parse(&entry.bytes) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{}: parse failed: {e}", entry.id()));
                continue;
            }
        };
        if meta.protocol() != entry.protocol {
            failures.push(format!("{}: protocol {}", entry.id(), meta.protocol()));
        }
        let keys: Vec<&str> = meta.keys().collect();
        let want: Vec<&str> = entry.entries.iter().map(|(k, _)| k.as_str()).collect();
        if keys != want {
            failures.push(format!("{}: keys {keys:?}, want {want:?}", entry.id()));
            continue;
        }
        for (key, want) in &entry.entries {
            match meta.get(key) {
                Some(got) if same_value(got, want) => {}
                got => failures.push(format!("{}: {key} = {got:?}, want {want:?}", entry.id())),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Rust-side view of every patch (the Python side is in python_verify.rs).
#[test]
fn set_int_then_parse_shows_only_the_new_value() {
    let corpus = load_corpus();
    let mut failures = Vec::new();
    for entry in &corpus {
        for (key, value) in [("repeat", 4i64), ("repeat", i64::MIN), ("brand new", 7)] {
            let patched = match set_int(&entry.bytes, key, value) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(format!("{}: set_int failed: {e}", entry.id()));
                    continue;
                }
            };
            let meta = match Meta::parse(&patched) {
                Ok(m) => m,
                Err(e) => {
                    failures.push(format!("{}: patched does not parse: {e}", entry.id()));
                    continue;
                }
            };
            let mut want_keys: Vec<&str> = entry.entries.iter().map(|(k, _)| k.as_str()).collect();
            if !want_keys.contains(&key) {
                want_keys.push(key);
            }
            let got_keys: Vec<&str> = meta.keys().collect();
            if got_keys != want_keys {
                failures.push(format!("{}: keys changed after setting {key}", entry.id()));
            }
            for (k, v) in &entry.entries {
                let want = if k == key { &Value::Int(value) } else { v };
                if !meta.get(k).is_some_and(|got| same_value(got, want)) {
                    failures.push(format!("{}: {k} wrong after setting {key}", entry.id()));
                }
            }
            if meta.get(key) != Some(&Value::Int(value)) {
                failures.push(format!("{}: {key} not set", entry.id()));
            }
            if meta.protocol() != entry.protocol {
                failures.push(format!("{}: protocol changed", entry.id()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn in_place_patch_changes_only_the_int_opcode_and_frame_length() {
    // A protocol-5 meta written by CPython with repeat=255 (K\xff) set to 256 (M\x00\x01):
    // the result differs by exactly one inserted byte plus the frame length.
    let corpus = load_corpus();
    let entry = corpus
        .iter()
        .find(|e| e.name == "repeat_255_middle" && e.protocol == 5)
        .expect("corpus entry");
    let patched = set_int(&entry.bytes, "repeat", 256).unwrap();
    assert_eq!(patched.len(), entry.bytes.len() + 1);
    let old_len = u64::from_le_bytes(entry.bytes[3..11].try_into().unwrap());
    let new_len = u64::from_le_bytes(patched[3..11].try_into().unwrap());
    assert_eq!(new_len, old_len + 1);
    let at = entry.bytes.windows(2).position(|w| w == b"K\xff").unwrap();
    assert_eq!(&patched[..3], &entry.bytes[..3]);
    assert_eq!(&patched[11..at], &entry.bytes[11..at]);
    assert_eq!(&patched[at..at + 3], b"M\x00\x01");
    assert_eq!(&patched[at + 3..], &entry.bytes[at + 2..]);
}

#[test]
fn rq_scheduler_interval_meta_matches_python_bytes() {
    let before = hex_decode(
        "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b05752e",
    );
    let after = hex_decode(
        "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b04752e",
    );
    let meta = Meta::parse(&before).unwrap();
    assert_eq!(meta.get("interval"), Some(&Value::Int(60)));
    assert_eq!(meta.get("repeat"), Some(&Value::Int(5)));
    assert_eq!(set_int(&before, "repeat", 4).unwrap(), after);
}

#[test]
fn rq_scheduler_cron_meta_matches_python_bytes() {
    let before = hex_decode(
        "80059542000000000000007d94288c0b63726f6e5f737472696e67948c0b2a2f35202a202a202a202a948c127573655f6c6f63616c5f74696d657a6f6e6594888c06726570656174944b03752e",
    );
    let meta = Meta::parse(&before).unwrap();
    assert_eq!(
        meta.get("cron_string"),
        Some(&Value::Str("*/5 * * * *".into()))
    );
    assert_eq!(meta.get("use_local_timezone"), Some(&Value::Bool(true)));
    assert_eq!(meta.get("repeat"), Some(&Value::Int(3)));
    assert_eq!(
        meta.keys().collect::<Vec<_>>(),
        ["cron_string", "use_local_timezone", "repeat"]
    );
    let after = set_int(&before, "repeat", 2).unwrap();
    let mut want = before.clone();
    let n = want.len();
    want[n - 3] = 0x02;
    assert_eq!(after, want);
    assert!(after.ends_with(&hex_decode("944b02752e")));
}

#[test]
fn nested_repeat_keys_are_untouched() {
    let corpus = load_corpus();
    for entry in corpus.iter().filter(|e| e.name == "nested_repeat_only") {
        let patched = set_int(&entry.bytes, "repeat", 9).unwrap();
        // Absent at top level: the original bytes up to STOP stay a prefix, except for
        // the length of the single frame (protocol 4+) that grows.
        let n = entry.bytes.len() - 1;
        let skip = if entry.protocol >= 4 { 3..11 } else { 0..0 };
        for i in (0..n).filter(|i| !skip.contains(i)) {
            assert_eq!(patched[i], entry.bytes[i], "{} byte {i}", entry.id());
        }
        assert_eq!(patched.last(), Some(&b'.'));
    }
}

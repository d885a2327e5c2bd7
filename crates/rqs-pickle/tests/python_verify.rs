//! Every corpus pickle is patched with several values and CPython checks the results
//! (tests/fixtures/verify_patched.py, with both the C and the pure-Python unpickler).
//!
//! The interpreter is `$RQS_PYTHON` when set, else `python3` from PATH. This test never
//! skips: without a working Python it fails.

// Tests report what they checked.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use common::{CorpusEntry, VerifyGroup, entries_json, load_corpus, run_verifier};
use rqs_pickle::{Meta, Value, set_int};

/// New values for `repeat`: every int width change CPython can make, and the i64 limits.
const REPEAT_VALUES: &[i64] = &[
    0,
    1,
    255,
    256,
    65535,
    65536,
    -1,
    -129,
    2_147_483_647,
    2_147_483_648,
    -2_147_483_649,
    1 << 40,
    i64::MIN,
    i64::MAX,
];

/// A key no corpus dict has, with characters protocol 0 must escape.
const FRESH_KEY: &str = "fresh\\key\nwith \u{20ac} and \u{1F600}";

/// Whether `set_int(key)` rewrites an int opcode of a pickle CPython wrote and whose
/// re-pickling is byte-stable: then the result must equal `pickle.dumps` of the new dict.
fn expect_exact(entry: &CorpusEntry, key: &str) -> bool {
    entry.roundtrip
        && entry.entries.iter().any(|(k, v)| {
            k == key && matches!(v, Value::Int(_) | Value::Bool(_) | Value::BigInt(_))
        })
}

#[test]
fn cpython_loads_every_patched_pickle_as_the_expected_dict() {
    let corpus = load_corpus();
    let mut groups = Vec::new();
    let mut exact = 0usize;
    for entry in &corpus {
        let meta = Meta::parse(&entry.bytes)
            .unwrap_or_else(|e| panic!("{}: parse failed: {e}", entry.id()));
        let mut keys: Vec<(String, i64)> = Vec::new();
        if let Some(Value::Int(v)) = meta.get("repeat") {
            // What the daemon does after each run.
            keys.push(("repeat".into(), v.saturating_sub(1)));
        }
        keys.extend(REPEAT_VALUES.iter().map(|v| ("repeat".to_owned(), *v)));
        keys.push((FRESH_KEY.into(), 1 << 33));
        if let Some(first) = meta.keys().next().filter(|k| *k != "repeat") {
            keys.push((first.to_owned(), 7));
        }
        let patches = keys
            .into_iter()
            .map(|(key, value)| {
                let patched = set_int(&entry.bytes, &key, value)
                    .unwrap_or_else(|e| panic!("{}: set_int({key:?}) failed: {e}", entry.id()));
                let is_exact = expect_exact(entry, &key);
                exact += usize::from(is_exact);
                (key, value, patched, is_exact)
            })
            .collect();
        groups.push(VerifyGroup {
            id: entry.id(),
            protocol: entry.protocol,
            orig: entry.bytes.clone(),
            entries: Some(entries_json(&meta)),
            bytes_primitive: entry.protocol >= 3,
            may_fail: false,
            patches,
        });
    }
    let total: usize = groups.iter().map(|g| g.patches.len()).sum();
    println!(
        "{total} patched pickles from {} corpus pickles, {exact} expected byte-exact",
        corpus.len()
    );
    run_verifier("corpus", &groups);
}

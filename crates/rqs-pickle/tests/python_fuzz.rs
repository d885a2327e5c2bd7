//! Differential test against CPython: random opcode sequences (without any opcode that
//! runs Python code, so CPython's verdict depends on the pickle alone) are fed to
//! `Meta::parse`; every one it accepts must load the same way under `pickle.loads` and
//! `pickle._loads`, as a dict with exactly the reported str-keyed entries, and its
//! `set_int` patches must load as expected. The seed is fixed, so runs are repeatable.
//!
//! Like python_verify.rs, this fails (never skips) without a Python interpreter.
//! `RQS_FUZZ_SEED` and `RQS_FUZZ_COUNT` change the seed and the number of accepted
//! pickles (default 3000) for longer local runs.

// Tests report what they checked.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod common;

use std::collections::HashSet;

use common::{VerifyGroup, entries_json, run_verifier};
use rqs_pickle::{Meta, set_int};

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

    fn pick<'a>(&mut self, items: &[&'a [u8]]) -> &'a [u8] {
        items[self.below(items.len())]
    }
}

const VALUES: &[&[u8]] = &[
    b"N",
    b"\x88",
    b"\x89",
    b"K\x05",
    b"K\xff",
    b"M\x00\x01",
    b"J\xff\xff\xff\xff",
    b"J\x00\x00\x00\x80",
    b"\x8a\x00",
    b"\x8a\x01\xff",
    b"\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01",
    b"\x8a\x08\x05\x00\x00\x00\x00\x00\x00\x00",
    b"\x8b\x02\x00\x00\x00\x05\x00",
    b"I5\n",
    b"I01\n",
    b"I00\n",
    b"I-7\n",
    b"I99999999999999999999\n",
    b"L5L\n",
    b"L-1180591620717411303424L\n",
    b"F1.5\n",
    b"Fnan\n",
    b"F-0.0\n",
    b"Finf\n",
    b"G\x7f\xf8\x00\x00\x00\x00\x00\x01",
    b"G\x80\x00\x00\x00\x00\x00\x00\x00",
    b"C\x01z",
    b"B\x02\x00\x00\x00zz",
    b"\x8e\x01\x00\x00\x00\x00\x00\x00\x00z",
    b"\x96\x01\x00\x00\x00\x00\x00\x00\x00z",
];

const KEYS: &[&[u8]] = &[
    b"\x8c\x06repeat",
    b"X\x06\x00\x00\x00repeat",
    b"Vrepeat\n",
    b"S'repeat'\n",
    b"S\"repeat\"\n",
    b"U\x06repeat",
    b"T\x06\x00\x00\x00repeat",
    b"\x8d\x06\x00\x00\x00\x00\x00\x00\x00repeat",
    b"\x8c\x01a",
    b"Va\n",
    b"\x8c\x02\xc3\xa9",
    b"V\\u00e9\n",
    b"V\xe9\n",
    b"\x8c\x03\xed\xa0\x80",
    b"V\\ud800\n",
    b"S'a\\nb'\n",
    b"\x8c\x00",
];

const STRUCTURE: &[&[u8]] = &[
    b"]", b")", b"}", b"\x8f", b"(", b"(", b"(", b"l", b"t", b"d", b"\x85", b"\x86", b"\x87",
    b"\x91", b"\x90", b"a", b"e", b"s", b"s", b"s", b"u", b"u", b"0", b"1", b"2",
];

const MEMO: &[&[u8]] = &[
    b"\x94",
    b"q\x00",
    b"q\x01",
    b"q\x02",
    b"h\x00",
    b"h\x01",
    b"h\x02",
    b"p0\n",
    b"p1\n",
    b"g0\n",
    b"g1\n",
    b"r\x02\x00\x00\x00",
    b"j\x02\x00\x00\x00",
];

/// Opcodes that run code: globals that are safe to call, and the calls themselves.
const CODE: &[&[u8]] = &[
    b"ccollections\nOrderedDict\n",
    b"cbuiltins\nlist\n",
    b"c__builtin__\nset\n",
    b"cbuiltins\ndict\n",
    b"ccorpus_classes\nPlain\n",
    b"\x8c\x0bcollections\x8c\x0bOrderedDict\x93",
    b"R",
    b"b",
    b"\x81",
    b"o",
    b")R",
    b"}b",
    b")\x81",
];

const PREFIXES: &[&[u8]] = &[
    b"",
    b"\x80\x05",
    b"\x80\x02",
    b"\x80\x00",
    b"}",
    b"\x80\x04}\x94",
    b"(dp0\n",
];

fn soup(rng: &mut Rng, with_code: bool) -> Vec<u8> {
    let mut out = rng.pick(PREFIXES).to_vec();
    let n = rng.below(24);
    for _ in 0..n {
        let token = match rng.below(if with_code { 12 } else { 10 }) {
            10..=11 => rng.pick(CODE),
            0..=2 => rng.pick(VALUES),
            3..=4 => rng.pick(KEYS),
            5..=7 => rng.pick(STRUCTURE),
            _ => rng.pick(MEMO),
        };
        out.extend_from_slice(token);
    }
    match rng.below(4) {
        0 => out.extend_from_slice(b"0."),
        1 => out.extend_from_slice(b"h\x00."),
        _ => out.push(b'.'),
    }
    // Sometimes wrap everything after PROTO in one frame.
    if rng.below(4) == 0 && out.starts_with(b"\x80") && out.len() > 2 {
        let body = out.split_off(2);
        out.push(0x95);
        out.extend((body.len() as u64).to_le_bytes());
        out.extend(body);
    }
    out
}

fn collect(seed: u64, want: usize, with_code: bool) -> Vec<VerifyGroup> {
    let mut rng = Rng(seed | 1);
    let mut seen = HashSet::new();
    let mut groups = Vec::new();
    let mut tried = 0usize;
    while groups.len() < want && tried < want * 1000 {
        tried += 1;
        let bytes = soup(&mut rng, with_code);
        let Ok(meta) = Meta::parse(&bytes) else {
            continue;
        };
        if !seen.insert(bytes.clone()) {
            continue;
        }
        let values = [5, 300, -(1 << 40), i64::MAX];
        let mut patches = Vec::new();
        for (key, value) in [
            ("repeat", values[rng.below(values.len())]),
            ("a", 1 << 31),
            ("\u{e9}", -1),
        ] {
            let patched = set_int(&bytes, key, value)
                .unwrap_or_else(|e| panic!("set_int failed on accepted {bytes:?}: {e}"));
            patches.push((key.to_owned(), value, patched, false));
        }
        groups.push(VerifyGroup {
            id: format!("soup#{tried}"),
            protocol: meta.protocol(),
            orig: bytes,
            entries: Some(entries_json(&meta)),
            bytes_primitive: true,
            may_fail: with_code,
            patches,
        });
    }
    println!(
        "{} accepted random pickles out of {tried} tried",
        groups.len()
    );
    assert!(
        groups.len() >= want / 2,
        "too few random pickles were accepted"
    );
    groups
}

fn settings(default_seed: u64) -> (u64, usize) {
    let env_num = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    let want = env_num("RQS_FUZZ_COUNT").map_or(3000, |n| n as usize);
    (env_num("RQS_FUZZ_SEED").unwrap_or(default_seed), want)
}

#[test]
fn cpython_agrees_on_every_accepted_random_pickle() {
    let (seed, want) = settings(0x5eed_1234_abcd_0001);
    run_verifier("fuzz", &collect(seed, want, false));
}

/// With REDUCE, BUILD, NEWOBJ and OBJ in the mix, CPython may fail to load a pickle the
/// walker accepts (a call with the wrong arguments); those are skipped, every other one
/// gets the full check.
#[test]
fn cpython_agrees_on_accepted_random_pickles_with_calls() {
    let (seed, want) = settings(0x0dd5_eed5_0000_0003);
    let out = run_verifier("fuzz-code", &collect(seed, want, true));
    assert!(out.contains("verified"), "{out}");
}

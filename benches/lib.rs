//! Shared helpers of the rqs benchmarks (this package only holds benches).

/// Decodes a hex string.
pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `{'interval': 60, 'repeat': 5}` as rq-scheduler 0.14 pickles it.
pub const INTERVAL_REPEAT_META: &str =
    "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b05752e";

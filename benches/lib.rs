//! Shared helpers of the rqs benchmarks (this package only holds benches).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("benches/ has a parent")
        .to_owned()
}

/// Cargo's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Builds the release `rqs` and returns its path.
pub fn release_rqs() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "rqs"])
        .current_dir(root())
        .status()
        .expect("cargo")
        .success();
    assert!(ok, "building the release rqs failed");
    target_dir().join("release/rqs")
}

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

//! The newest-dependencies step of `cargo xtask test`: the workspace is resolved afresh
//! with `cargo update` (the newest semver-compatible versions, as a fresh resolve gives
//! them to anyone who builds without our Cargo.lock; resolver 3 keeps to versions whose
//! `rust-version` fits the workspace's) and checked with clippy and `-D warnings`; then
//! Cargo.lock is put back as it was, whatever happened. A dependency release that
//! deprecates something rqs calls then fails the suite here, instead of warning in every
//! build made after a `cargo update`.
//!
//! The step needs crates.io: offline it fails, saying so, rather than pass on a stale index.
//!
//! Why in place and not in a copy of the workspace: cargo names the artefacts of a path
//! crate by its path relative to the workspace root, so a copy sharing the target
//! directory overwrites the workspace's own artefacts with ones whose recorded sources are
//! the copy's, and later edits go unseen; a copy with a target directory of its own
//! checks every dependency again (3 min 20 s cold here). In place, with the one target
//! directory, only the updated packages, what depends on them and the workspace crates are
//! checked again (about a minute), and every artefact is named by the versions it was
//! built with, so the two lockfiles never share one. Clippy's `-D warnings` reaches only
//! the workspace crates, so the dependencies' artefacts are never rebuilt for it
//! (`RUSTFLAGS` would rebuild them all).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::{cargo, project_root};

/// Checks the workspace against the newest semver-compatible dependencies.
pub(crate) fn check() -> Result<()> {
    let started = Instant::now();
    let root = project_root();
    let lock = root.join("Cargo.lock");
    let ours = fs::read(&lock).context("cannot read Cargo.lock")?;
    let result = check_with_newest(&root);
    // Put our lockfile back even when the check failed; keep the newest one to look at.
    let newest = root.join("target/newest/Cargo.lock");
    if let Some(dir) = newest.parent() {
        fs::create_dir_all(dir)?;
    }
    let _ = fs::copy(&lock, &newest);
    fs::write(&lock, ours).context("cannot restore Cargo.lock")?;
    result.map_err(|e| {
        e.context(format!(
            "the newest-dependencies check failed ({} lists the versions it used)",
            newest.display()
        ))
    })?;
    eprintln!(
        "xtask: warning-free with the newest dependencies ({:.0?})",
        started.elapsed()
    );
    Ok(())
}

fn check_with_newest(root: &Path) -> Result<()> {
    // Offline (`CARGO_NET_OFFLINE`, `net.offline` in a config file) cargo would resolve
    // from the local copy of the index and miss every newer release: a command-line
    // `--config` outranks both.
    if !run_in(
        root,
        cargo().args(["update", "--config", "net.offline=false"]),
    )? {
        bail!(
            "`cargo update` failed (its error is above): the newest-dependencies check needs \
             crates.io, so it fails rather than pass without having looked"
        );
    }
    if !run_in(
        root,
        cargo()
            .args(["clippy", "--workspace", "--all-targets", "--locked"])
            .args(["--", "-D", "warnings"]),
    )? {
        bail!(
            "the workspace does not build warning-free with the newest semver-compatible \
             dependencies (the errors are above): most often a new release deprecated \
             something rqs calls. Fix the code, or raise the minimum version in Cargo.toml"
        );
    }
    Ok(())
}

/// Runs `cmd` in `dir`; whether it succeeded.
fn run_in(dir: &Path, cmd: &mut Command) -> Result<bool> {
    eprintln!("xtask: running {cmd:?} in {}", dir.display());
    let status = cmd
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    Ok(status.success())
}

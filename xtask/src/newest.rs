//! The newest-dependencies step of `cargo xtask test`: the workspace is copied to
//! `target/newest/workspace`, resolved afresh there with `cargo update` (the newest
//! semver-compatible versions, as a fresh resolve gives them to anyone who builds without
//! our Cargo.lock; resolver 3 keeps to versions whose `rust-version` fits the workspace's)
//! and checked with clippy and `-D warnings`. A dependency release that deprecates
//! something rqs calls then fails the suite here, instead of warning in every build made
//! after a `cargo update`.
//!
//! The step needs crates.io: offline it fails, saying so, rather than pass on a stale index.
//!
//! Cost: the copy shares the workspace's own target directory, so every dependency whose
//! version did not move is the artefact the suite's clippy step just checked; only the
//! updated packages, what depends on them and the workspace crates are checked again. A
//! file whose content did not change is not written again, so its timestamp, and
//! cargo's fingerprints, hold. Clippy's `-D warnings` reaches only the workspace crates,
//! so the dependencies' artefacts are never rebuilt for it (`RUSTFLAGS` would rebuild them
//! all).

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
    let newest = root.join("target/newest");
    let workspace = newest.join("workspace");
    mirror(&root, &workspace)
        .with_context(|| format!("cannot copy the workspace to {}", workspace.display()))?;

    // Offline (`CARGO_NET_OFFLINE`, `net.offline` in a config file) cargo would resolve
    // from the local copy of the index and miss every newer release: a command-line
    // `--config` outranks both.
    let updated = run_in(
        &workspace,
        cargo().args(["update", "--config", "net.offline=false"]),
    )?;
    if !updated {
        bail!(
            "`cargo update` failed in {} (its error is above): the newest-dependencies check \
             needs crates.io, so it fails rather than pass without having looked",
            workspace.display()
        );
    }

    let target = root.join("target");
    let checked = run_in(
        &workspace,
        cargo()
            .args(["clippy", "--workspace", "--all-targets", "--locked"])
            .arg("--target-dir")
            .arg(&target)
            .args(["--", "-D", "warnings"]),
    )?;
    if !checked {
        bail!(
            "the workspace does not build warning-free with the newest semver-compatible \
             dependencies ({} lists them; the errors are above): most often a new release \
             deprecated something rqs calls. Fix the code, or raise the minimum version in \
             Cargo.toml",
            workspace.join("Cargo.lock").display()
        );
    }
    eprintln!(
        "xtask: warning-free with the newest dependencies ({:.0?})",
        started.elapsed()
    );
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

/// Makes `to` a copy of the directory `from`, without any `target/` or `.git/`. Files whose
/// content is the same are left alone; files gone from `from` are removed.
fn mirror(from: &Path, to: &Path) -> Result<()> {
    let skipped = |name: &std::ffi::OsStr| name == "target" || name == ".git";
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(to)? {
        let entry = entry?;
        let source = from.join(entry.file_name());
        let gone = skipped(&entry.file_name());
        if entry.file_type()?.is_dir() {
            if gone || !source.is_dir() {
                fs::remove_dir_all(entry.path())?;
            }
        } else if gone || !source.is_file() {
            fs::remove_file(entry.path())?;
        }
    }
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skipped(&name) {
            continue;
        }
        let (source, copy) = (entry.path(), to.join(&name));
        // Follows symbolic links: the copy holds what they point to.
        let meta = fs::metadata(&source)?;
        if meta.is_dir() {
            mirror(&source, &copy)?;
        } else if meta.is_file() && fs::read(&copy).ok() != Some(fs::read(&source)?) {
            fs::copy(&source, &copy)
                .with_context(|| format!("cannot copy {}", source.display()))?;
        }
    }
    Ok(())
}

//! Developer tasks: `cargo xtask <task>`.
//!
//! - `test`: the whole test suite on a fresh machine; installs what is missing
//!   (`redis-server`, Python's venv module, the zone files, Chromium, promtool) from Debian's packages, then
//!   runs the format check, clippy and every test. Tests start their own `redis-server` on free loopback
//!   ports and build their pinned Python environments under `target/`.
//! - `demo [--keep]`: the newcomer's first command; a private Redis, the real Python
//!   client scheduling jobs, rqs handing them over and an `rq worker` running them,
//!   narrated from what it reads in Redis (`demo.rs`).
//! - `redis [PORT]`: a throwaway `redis-server` in the foreground, on 127.0.0.1, with no
//!   persistence.
//! - `interop`: only the interop tests against the real Python packages.
//! - `bench [--quick]`: the criterion benchmarks, then the end-to-end comparison with
//!   Python's `rqscheduler`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod bench;
mod demo;
mod image;
mod newest;
mod system;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest: Vec<&str> = args.iter().skip(1).map(String::as_str).collect();
    match args.first().map(String::as_str) {
        Some("test") => test(&rest),
        Some("demo") => demo::run(&rest),
        Some("redis") => redis(&rest),
        Some("interop") => interop(&rest),
        Some("bench") => bench::run(&rest),
        Some("image") => image::run(&rest),
        Some("newest") => newest::check(),
        _ => {
            eprintln!(
                "usage: cargo xtask <task>\n\n\
                 tasks:\n  \
                 test              the whole test suite (installs redis-server, python3-venv, tzdata, chromium and promtool if missing)\n  \
                 demo [--keep]     the whole flow, narrated: Python schedules, rqs hands over, rq runs (--help for more)\n  \
                 redis [PORT]      a throwaway redis-server on 127.0.0.1 in the foreground\n  \
                 interop           only the interop tests against Python rq / rq-scheduler\n  \
                 bench [--quick]   criterion benchmarks and the end-to-end comparison with rqscheduler\n  \
                 image [--tag T]   the container image (Containerfile) from a statically linked rqs, with podman\n  \
                 newest            only the check that the build is warning-free with the newest semver-compatible dependencies"
            );
            bail!("unknown or missing task")
        }
    }
}

/// The workspace root.
pub(crate) fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

/// Runs a command in the workspace root, failing on a non-zero exit.
pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: running {cmd:?}");
    let status = cmd
        .current_dir(project_root())
        .status()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

pub(crate) fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn test(args: &[&str]) -> Result<()> {
    system::ensure_prerequisites()?;
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // The same, after a fresh resolve to the newest semver-compatible dependencies.
    newest::check()?;
    // Library docs with every feature (the mocks and in-memory parts show), links checked.
    run(cargo()
        .args(["doc", "--workspace", "--no-deps", "--all-features", "--lib"])
        .env("RUSTDOCFLAGS", "-D warnings"))?;
    // The end-to-end tests run the rqs binary; build it first so they find it.
    run(cargo().args(["build", "-p", "rqs"]))?;
    // The image test's static release build, before the tests rather than beside them.
    image::build_binary()?;
    run(cargo().args(["test", "--workspace"]).args(args))
}

fn interop(args: &[&str]) -> Result<()> {
    system::ensure_prerequisites()?;
    run(cargo().args(["build", "-p", "rqs"]))?;
    run(cargo()
        .args(["test", "-p", "rqs-tests", "--test", "interop"])
        .args(args))
}

fn redis(args: &[&str]) -> Result<()> {
    system::ensure_redis()?;
    let port = args.first().copied().unwrap_or("6390");
    port.parse::<u16>()
        .with_context(|| format!("{port:?} is not a port number"))?;
    eprintln!("xtask: redis-server on 127.0.0.1:{port}, nothing saved to disk; Ctrl-C stops it");
    run(Command::new("redis-server").args([
        "--port",
        port,
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
    ]))
}

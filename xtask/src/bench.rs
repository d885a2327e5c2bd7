//! `cargo xtask bench`: criterion benchmarks, then the end-to-end comparison with Python.

use anyhow::Result;

use crate::{cargo, system};

/// Runs every benchmark of `rqs-benches`. The end-to-end one (`benches/e2e.rs`) runs the
/// release `rqs` binary and Python's `rqscheduler` side by side on the same machine and
/// prints medians and ratios; `--quick` shortens every run.
pub(crate) fn run(args: &[&str]) -> Result<()> {
    system::ensure_prerequisites()?;
    crate::run(cargo().args(["build", "--release", "-p", "rqs"]))?;
    let mut cmd = cargo();
    cmd.args(["bench", "-p", "rqs-benches"]);
    if args.contains(&"--quick") {
        cmd.env("RQS_BENCH_QUICK", "1").args(["--", "--quick"]);
    }
    crate::run(&mut cmd)
}

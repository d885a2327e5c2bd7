//! Installs the system packages the tests need, from Debian's archive, when missing.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

fn works(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn python() -> String {
    std::env::var("RQS_PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

fn redis_missing() -> Vec<&'static str> {
    if works("redis-server", &["--version"]) {
        Vec::new()
    } else {
        vec!["redis-server"]
    }
}

fn chromium() -> String {
    std::env::var("RQS_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned())
}

/// What the whole test suite needs: `redis-server`, a Python 3 with `venv` and `ensurepip`
/// (the interop tests build pinned virtualenvs), the IANA zone files (a test runs rqs
/// with `TZ=Europe/Berlin`), Chromium (the status page is tested in a headless
/// browser), `ip` from iproute2 (the network partition test runs Redis in a network
/// namespace, which also needs root), and `promtool`, which Debian ships only in its
/// `prometheus` package (a test checks and unit-tests `deploy/prometheus/`).
fn test_missing() -> Vec<&'static str> {
    let mut missing = redis_missing();
    if !works("ip", &["-V"]) {
        missing.push("iproute2");
    }
    if !works(&python(), &["-c", "import venv, ensurepip"]) {
        missing.extend(["python3", "python3-venv"]);
    }
    if !Path::new("/usr/share/zoneinfo/Europe/Berlin").exists() {
        missing.push("tzdata");
    }
    if !works(&chromium(), &["--version"]) {
        missing.push("chromium");
    }
    if !works("promtool", &["--version"]) {
        missing.push("prometheus");
    }
    if !postgres_binaries() {
        missing.push("postgresql");
    }
    missing.extend(image_missing());
    missing
}

/// What the container image test needs (tests/ops/image.rs, `cargo xtask image`):
/// `podman`, which builds the image from `Containerfile` (the test cannot run a
/// container, so it checks the image from outside), and glibc's static libraries from
/// `libc6-dev`, which the statically linked binary links in (`gcc` usually brings them).
fn image_missing() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !works("podman", &["--version"]) {
        missing.push("podman");
    }
    if !works("sh", &["-c", "test -f \"$(gcc -print-file-name=libc.a)\""]) {
        missing.push("libc6-dev");
    }
    missing
}

/// Makes sure what `cargo xtask image` needs exists.
pub(crate) fn ensure_image_prerequisites() -> Result<()> {
    install(&image_missing())?;
    let still = image_missing();
    if !still.is_empty() {
        bail!("still missing after installing: {}", still.join(" "));
    }
    Ok(())
}

/// `initdb` and `postgres`, which the PostgreSQL lock example's tests run as a private
/// server (rqs-testkit's `PostgresServer`): on PATH, or where Debian keeps them.
fn postgres_binaries() -> bool {
    works("initdb", &["--version"])
        || std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|versions| {
            versions
                .filter_map(Result::ok)
                .any(|v| v.path().join("bin/initdb").is_file())
        })
}

/// Makes sure `redis-server` exists.
pub(crate) fn ensure_redis() -> Result<()> {
    install(&redis_missing())?;
    if !works("redis-server", &["--version"]) {
        bail!("redis-server still does not run after installing it");
    }
    Ok(())
}

/// Makes sure everything the test suite needs exists.
pub(crate) fn ensure_prerequisites() -> Result<()> {
    let missing = test_missing();
    install(&missing)?;
    if missing.contains(&"prometheus") {
        stop_service("prometheus.service", "Prometheus server", "promtool");
    }
    if missing.contains(&"postgresql") {
        stop_service(
            "postgresql.service",
            "PostgreSQL server",
            "initdb and postgres",
        );
    }
    let still = test_missing();
    if !still.is_empty() {
        bail!("still missing after installing: {}", still.join(" "));
    }
    Ok(())
}

/// Debian's `prometheus` and `postgresql` are installed for their tools only, but on a
/// systemd host each package also enables and starts its server (Prometheus on port
/// 9090, PostgreSQL on 5432): stop and disable it, warning if that fails since the tests
/// need only the tools. Where no init runs (containers, CI) nothing was started: the
/// package's `invoke-rc.d` finds no runlevel and declines, and so does Docker's
/// `policy-rc.d`.
fn stop_service(unit: &str, what: &str, needed: &str) {
    if !Path::new("/run/systemd/system").exists() {
        return;
    }
    eprintln!("xtask: stopping the {what} the package started (only {needed} is needed)");
    if let Err(e) = crate::run(privileged("systemctl").args(["disable", "--now", unit])) {
        eprintln!("xtask: warning: {e:#}");
    }
}

fn is_root() -> bool {
    works("sh", &["-c", "test \"$(id -u)\" = 0"])
}

/// `program` run as root: directly, or through password-less sudo.
fn privileged(program: &str) -> Command {
    if is_root() {
        Command::new(program)
    } else {
        let mut c = Command::new("sudo");
        c.args(["-n", program]);
        c
    }
}

fn venv_missing() -> Vec<&'static str> {
    if works(&python(), &["-c", "import venv, ensurepip"]) {
        Vec::new()
    } else {
        vec!["python3", "python3-venv"]
    }
}

/// Makes sure what the demo needs exists: `redis-server` and a Python 3 with `venv` (it
/// runs the pinned rq and rq-scheduler).
pub(crate) fn ensure_demo_prerequisites() -> Result<()> {
    let missing = || [redis_missing(), venv_missing()].concat();
    install(&missing())?;
    let still = missing();
    if !still.is_empty() {
        bail!("still missing after installing: {}", still.join(" "));
    }
    Ok(())
}

fn install(packages: &[&str]) -> Result<()> {
    if packages.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing missing packages: {}", packages.join(" "));
    if !is_root() && !works("sudo", &["-n", "true"]) {
        bail!(
            "these Debian packages are missing: {0}; install them as root \
             (apt-get install -y {0}) or give this user password-less sudo, then rerun",
            packages.join(" ")
        );
    }
    let apt = |args: &[&str]| -> Result<()> {
        crate::run(
            privileged("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive"),
        )
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(packages);
    apt(&args)
}

//! Installs the system packages the tests need, from Debian's archive, when missing.

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

/// Makes sure `redis-server` and a Python 3 with `venv` and `ensurepip` exist.
pub(crate) fn ensure_prerequisites() -> Result<()> {
    let mut missing = Vec::new();
    if !works("redis-server", &["--version"]) {
        missing.push("redis-server");
    }
    if !works(&python(), &["-c", "import venv, ensurepip"]) {
        missing.extend(["python3", "python3-venv"]);
    }
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing missing packages: {}", missing.join(" "));
    let root = works("sh", &["-c", "test \"$(id -u)\" = 0"]);
    let apt = |args: &[&str]| -> Result<()> {
        let mut cmd = if root {
            Command::new("apt-get")
        } else {
            let mut c = Command::new("sudo");
            c.arg("apt-get");
            c
        };
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        crate::run(&mut cmd)
    };
    apt(&["update", "-q"])?;
    let mut install = vec!["install", "-y", "-q", "--no-install-recommends"];
    install.extend(&missing);
    apt(&install)?;
    if !works("redis-server", &["--version"]) || !works(&python(), &["-c", "import venv"]) {
        bail!("installed {missing:?} but the tools still do not run");
    }
    Ok(())
}

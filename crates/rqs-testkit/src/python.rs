//! Pinned Python environments for interop tests, built once and cached under `target/`.
//!
//! Each [`Stack`] is a virtualenv with exact versions of rq, rq-scheduler and their
//! dependencies from PyPI. The first test that needs one builds it (under a lock, so
//! parallel tests and test binaries wait for one another); later runs reuse it. The base
//! interpreter is `$RQS_PYTHON` or `python3`, which needs the `venv` module (Debian:
//! `python3-venv`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A combination of rq and rq-scheduler versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stack {
    /// rq 2.12.0 + rq-scheduler 0.14.0: the reference stack.
    Rq2,
    /// rq 3.0.0 + rq-scheduler 0.14.0: what `pip install rq-scheduler` brings today.
    Rq3,
    /// rq 1.16.2 + rq-scheduler 0.13.1.
    Rq1,
}

impl Stack {
    /// Every stack of the interop matrix.
    pub const ALL: [Stack; 3] = [Stack::Rq2, Stack::Rq3, Stack::Rq1];

    /// A short name, also the virtualenv's directory name.
    pub fn name(self) -> &'static str {
        match self {
            Stack::Rq2 => "rq-2.12.0-sched-0.14.0",
            Stack::Rq3 => "rq-3.0.0-sched-0.14.0",
            Stack::Rq1 => "rq-1.16.2-sched-0.13.1",
        }
    }

    /// The exact requirements installed.
    pub fn requirements(self) -> &'static [&'static str] {
        match self {
            Stack::Rq2 => &[
                "rq==2.12.0",
                "rq-scheduler==0.14.0",
                "crontab==1.0.5",
                "redis==8.1.0",
                "click==8.5.1",
                "python-dateutil==2.9.0.post0",
                "freezegun==1.5.5",
                "croniter==7.0.0",
                "six==1.17.0",
            ],
            Stack::Rq3 => &[
                "rq==3.0.0",
                "rq-scheduler==0.14.0",
                "crontab==1.0.5",
                "redis==8.1.0",
                "click==8.5.1",
                "python-dateutil==2.9.0.post0",
                "freezegun==1.5.5",
                "croniter==7.0.0",
                "six==1.17.0",
            ],
            Stack::Rq1 => &[
                "rq==1.16.2",
                "rq-scheduler==0.13.1",
                "crontab==1.0.5",
                "redis==5.2.1",
                "click==8.1.8",
                "python-dateutil==2.9.0.post0",
                "freezegun==1.5.5",
                "six==1.17.0",
            ],
        }
    }
}

/// A built environment.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    root: PathBuf,
}

impl PythonEnv {
    /// The virtualenv directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The environment's `python`.
    pub fn python(&self) -> PathBuf {
        self.root.join("bin").join("python")
    }

    /// A program installed in the environment (`rqscheduler`, `rq`...).
    pub fn bin(&self, name: &str) -> PathBuf {
        self.root.join("bin").join(name)
    }
}

/// The directory cached environments live in: `<target>/rqs-python`.
pub fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    target.join("rqs-python")
}

/// The base interpreter: `$RQS_PYTHON`, else `python3`.
pub fn base_python() -> PathBuf {
    std::env::var_os("RQS_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"))
}

static BUILDING: Mutex<()> = Mutex::new(());

/// Returns the environment of `stack`, building it first when needed.
///
/// # Panics
/// When Python or PyPI is unavailable: interop tests cannot run without them, and they
/// fail rather than skip.
pub fn ensure(stack: Stack) -> PythonEnv {
    let _in_process = BUILDING.lock().unwrap_or_else(|p| p.into_inner());
    let root = cache_dir().join(stack.name());
    let env = PythonEnv { root: root.clone() };
    let marker = root.join(".rqs-complete");
    let wanted = stack.requirements().join("\n");
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return env;
    }
    std::fs::create_dir_all(cache_dir()).expect("cannot create the Python cache directory");
    let _across_processes = DirLock::take(&cache_dir().join(format!("{}.lock", stack.name())));
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == wanted) {
        return env;
    }
    let _ = std::fs::remove_dir_all(&root);
    run(
        Command::new(base_python()).args(["-m", "venv"]).arg(&root),
        "create a virtualenv (Debian: sudo apt-get install -y python3-venv)",
    );
    run(
        Command::new(env.python())
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(stack.requirements()),
        "install the pinned rq and rq-scheduler from PyPI",
    );
    std::fs::write(&marker, wanted).expect("cannot write the environment marker");
    env
}

fn run(cmd: &mut Command, what: &str) {
    let output = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot {what}: {e} ({cmd:?})"));
    assert!(
        output.status.success(),
        "cannot {what}: {cmd:?} failed\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A lock between processes: a directory that exists while someone builds.
struct DirLock(PathBuf);

impl DirLock {
    fn take(path: &Path) -> Self {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            match std::fs::create_dir(path) {
                Ok(()) => return Self(path.to_owned()),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    // A lock left by a killed build is older than any real build takes.
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t.elapsed().unwrap_or_default() > Duration::from_secs(900));
                    if stale {
                        let _ = std::fs::remove_dir(path);
                    }
                    assert!(Instant::now() < deadline, "timed out waiting for {path:?}");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("cannot take the lock {path:?}: {e}"),
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

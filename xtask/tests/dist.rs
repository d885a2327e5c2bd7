//! How newcomers get rqs and see it work: `pip install` from the checkout into a fresh
//! virtualenv, `cargo install --locked`, and `cargo xtask demo` (the real xtask binary,
//! run to its end, and stopped with Ctrl-C under `--keep`), and a dry run of publishing
//! the crates.
//!
//! The two installs share this test build's target directory and profile, so they compile
//! nothing that `cargo xtask test` has not built already (a user's installs build the
//! release profile; that is the only difference).

#![allow(clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const VERSION: &str = env!("CARGO_PKG_VERSION");
/// A first run may build rqs and the pinned Python stack.
const SETUP: Duration = Duration::from_secs(900);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// This test's target directory: `<target>/<profile>/deps/<test binary>`.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_owned()
}

fn profile() -> String {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.ancestors().nth(2).unwrap();
    dir.file_name().unwrap().to_string_lossy().into_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn base_python() -> PathBuf {
    std::env::var_os("RQS_PYTHON").map_or_else(|| "python3".into(), PathBuf::from)
}

/// Runs `cmd` to success and returns its stdout.
fn run(cmd: &mut Command) -> String {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    assert!(
        status.success(),
        "{cmd:?} failed with {status}\n{stdout}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    stdout
}

#[test]
fn pip_install_puts_rqs_on_the_path_of_a_fresh_virtualenv() {
    let scratch = tempfile::tempdir().unwrap();
    let venv = scratch.path().join("venv");
    run(Command::new(base_python()).args(["-m", "venv"]).arg(&venv));
    let bin = venv.join("bin");
    run(Command::new(bin.join("pip"))
        .args(["install", "--disable-pip-version-check", "--quiet"])
        .arg(root())
        .env("CARGO_TARGET_DIR", target_dir())
        .env(
            "MATURIN_PEP517_ARGS",
            format!("--profile {}", cargo_profile()),
        ));

    // Found by name with the environment's bin directory first, as after `activate`.
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    let version = run(Command::new("rqs").arg("--version").env("PATH", path));
    assert_eq!(version.trim(), format!("rqs {VERSION}"));
    assert!(bin.join("rqs").is_file(), "no rqs in {}", bin.display());

    // The package's version is the workspace's.
    let shown = run(Command::new(bin.join("python")).args([
        "-m",
        "pip",
        "show",
        "--disable-pip-version-check",
        "rqs-rs",
    ]));
    assert!(
        shown.lines().any(|l| l == format!("Version: {VERSION}")),
        "pip shows another version:\n{shown}"
    );
}

/// `target/debug` is the `dev` profile.
fn cargo_profile() -> String {
    match profile().as_str() {
        "debug" => "dev".to_owned(),
        other => other.to_owned(),
    }
}

#[test]
fn cargo_install_locked_installs_rqs() {
    let scratch = tempfile::tempdir().unwrap();
    let mut install = cargo();
    install
        .args(["install", "--locked", "--path", "crates/rqs", "--root"])
        .arg(scratch.path())
        .current_dir(root())
        .env("CARGO_TARGET_DIR", target_dir());
    match cargo_profile().as_str() {
        "dev" => install.arg("--debug"),
        other => install.args(["--profile", other]),
    };
    run(&mut install);
    let version = run(Command::new(scratch.path().join("bin").join("rqs")).arg("--version"));
    assert_eq!(version.trim(), format!("rqs {VERSION}"));
}

/// Every crate under `crates/` packages for crates.io with its dependencies at versions
/// (no upload, no build), without a warning about its metadata; nothing else is packaged.
#[test]
fn the_crates_package_for_crates_io() {
    // Nothing is compiled; a target directory of its own keeps the build lock free.
    let scratch = tempfile::tempdir().unwrap();
    let output = cargo()
        .args([
            "publish",
            "--workspace",
            "--dry-run",
            "--no-verify",
            "--locked",
            "--allow-dirty",
        ])
        .current_dir(root())
        .env("CARGO_TARGET_DIR", scratch.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let warnings: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("warning:") && !l.contains("aborting upload due to dry run"))
        .collect();
    assert!(warnings.is_empty(), "{stderr}");
    let mut uploaded: Vec<&str> = stderr
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("Uploading "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    uploaded.sort_unstable();
    let mut crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort_unstable();
    assert_eq!(uploaded, crates, "{stderr}");
}

/// `cargo xtask demo` as a child process, its stdout read line by line.
struct Demo {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
    stderr: Option<JoinHandle<String>>,
    _logs: tempfile::TempDir,
}

impl Demo {
    fn start(args: &[&str]) -> Self {
        let logs = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .arg("demo")
            .args(args)
            .arg("--dir")
            .arg(logs.path())
            .current_dir(root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start xtask demo");
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
            stderr: Some(stderr),
            _logs: logs,
        }
    }

    /// Reads lines until one contains `needle`.
    fn wait_for(&mut self, needle: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.seen.last().is_some_and(|l| l.contains(needle)) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {needle:?} within {within:?}:\n{}",
                        self.report()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "the demo ended before a line with {needle:?}:\n{}",
                        self.report()
                    )
                }
            }
        }
    }

    /// Reads every line until the demo exits.
    fn wait_for_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("the demo did not end within {within:?}:\n{}", self.report())
                }
            }
        }
        self.child.wait().unwrap()
    }

    fn report(&mut self) -> String {
        let stderr = match self.child.try_wait() {
            Ok(Some(_)) => self.stderr.take().map(|h| h.join().unwrap()),
            _ => None,
        };
        format!(
            "stdout:\n{}\nstderr:\n{}",
            self.seen.join("\n"),
            stderr.unwrap_or_else(|| "(still running)".to_owned())
        )
    }

    /// The counts of the last line, `demo: N scheduled, N handed over, N run`.
    fn summary(&mut self) -> (u32, u32, u32) {
        let last = self.seen.last().cloned().unwrap_or_default();
        let numbers: Vec<u32> = last
            .strip_prefix("demo: ")
            .and_then(|rest| {
                let rest = rest.strip_suffix(" run")?;
                let (scheduled, rest) = rest.split_once(" scheduled, ")?;
                let (handed_over, ran) = rest.split_once(" handed over, ")?;
                [scheduled, handed_over, ran]
                    .iter()
                    .map(|n| n.parse().ok())
                    .collect()
            })
            .unwrap_or_else(|| panic!("the last line is not the summary:\n{}", self.report()));
        (numbers[0], numbers[1], numbers[2])
    }

    /// Neither the private Redis nor rqs nor the worker outlives the demo.
    fn assert_nothing_left(&self) {
        let port: u16 = self
            .value_after("on 127.0.0.1:")
            .expect("the demo names its Redis port");
        let pids: Vec<(u32, Vec<String>)> = self
            .seen
            .iter()
            .filter_map(|line| {
                let rest = &line[line.find("(pid ")? + "(pid ".len()..];
                let pid = rest[..rest.find(')')?].parse().ok()?;
                // What only our process has in its command line.
                let marks = if line.contains("redis-server") {
                    vec!["redis-server".to_owned(), port.to_string()]
                } else {
                    vec!["rqs-demo".to_owned()]
                };
                Some((pid, marks))
            })
            .collect();
        assert_eq!(pids.len(), 3, "Redis, rqs and the worker name their pids");
        for (pid, marks) in pids {
            // A pid reused since would be another program, without our marks.
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline);
            assert!(
                !marks.iter().all(|mark| cmdline.contains(mark.as_str())),
                "pid {pid} still runs: {cmdline}"
            );
        }
    }

    fn value_after<T: std::str::FromStr>(&self, prefix: &str) -> Option<T> {
        self.seen.iter().find_map(|line| {
            let rest = &line[line.find(prefix)? + prefix.len()..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        // A failed test still stops the demo, which stops its children.
        if let Ok(None) = self.child.try_wait() {
            let pid = Pid::from_raw(i32::try_from(self.child.id()).unwrap());
            let _ = kill(pid, Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

#[test]
fn demo_hands_over_and_runs_every_job_then_leaves_nothing_running() {
    let mut demo = Demo::start(&["--seconds", "20"]);
    let status = demo.wait_for_exit(SETUP);
    assert!(
        status.success(),
        "the demo failed ({status}):\n{}",
        demo.report()
    );
    let (scheduled, handed_over, ran) = demo.summary();
    assert_eq!(scheduled, 3, "{}", demo.report());
    assert!(handed_over > 0, "{}", demo.report());
    assert_eq!(handed_over, ran, "{}", demo.report());
    // Each kind of job went the whole way: the cron job is first due within 10 s of the
    // scheduling, 10 s before the end.
    for id in ["demo-once", "demo-interval", "demo-cron"] {
        for event in [format!("handed job {id} over"), format!("ran job {id}:")] {
            assert!(
                demo.seen.iter().any(|l| l.contains(&event)),
                "no {event:?}:\n{}",
                demo.report()
            );
        }
    }
    demo.assert_nothing_left();
}

#[test]
fn demo_keep_runs_until_ctrl_c_then_stops_everything() {
    let mut demo = Demo::start(&["--keep"]);
    demo.wait_for("redis-cli -p", SETUP);
    demo.wait_for("status page: http://", SETUP);
    let url = demo.seen.last().unwrap().clone();
    let page = http_get(url.split("http://").nth(1).unwrap());
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("<html"),
        "the printed status page answers: {url}\n{page}"
    );
    demo.wait_for("ran job", SETUP);
    let pid = Pid::from_raw(i32::try_from(demo.child.id()).unwrap());
    kill(pid, Signal::SIGINT).unwrap();
    let status = demo.wait_for_exit(Duration::from_secs(120));
    assert!(
        status.success(),
        "Ctrl-C ends --keep cleanly ({status}):\n{}",
        demo.report()
    );
    let (scheduled, handed_over, ran) = demo.summary();
    assert_eq!(scheduled, 3, "{}", demo.report());
    assert!(handed_over > 0, "{}", demo.report());
    assert_eq!(handed_over, ran, "{}", demo.report());
    demo.assert_nothing_left();
}

/// GET of `host:port/path` over plain HTTP/1.1; the whole response, headers included.
fn http_get(address: &str) -> String {
    use std::io::Write;
    let (host, path) = address.split_once('/').unwrap_or((address, ""));
    let mut stream = std::net::TcpStream::connect(host).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

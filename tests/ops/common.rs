//! Helpers of the operations tests: the Python client, `rqs` subcommands, HTTP and the
//! Prometheus text format.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use redis::aio::ConnectionManager;
use rqs_testkit::python::{self, PythonEnv, Stack};

use crate::support::{Daemon, eventually, q, root, rqs_bin};

/// Generous bound for anything a test waits for.
pub const T: Duration = Duration::from_secs(60);

/// The pinned reference stack (rq 2.12, rq-scheduler 0.14), built once.
pub async fn python_env() -> PythonEnv {
    tokio::task::spawn_blocking(|| python::ensure(Stack::Rq2))
        .await
        .unwrap()
}

/// Runs `tests/ops/py/ops_scenario.py` with the interop job functions importable.
pub fn scenario(env: &PythonEnv, args: &[&str]) {
    let py = root().join("tests");
    let output = Command::new(env.python())
        .arg(py.join("ops/py/ops_scenario.py"))
        .args(args)
        .env(
            "PYTHONPATH",
            format!(
                "{}:{}",
                py.join("interop/py").display(),
                py.join("ops/py").display()
            ),
        )
        .env("TZ", "UTC")
        .output()
        .expect("cannot run python");
    assert!(
        output.status.success(),
        "ops_scenario.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// What a finished `rqs` command printed.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// The stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", self.stdout, self.stderr))
    }

    /// Asserts the exit code, showing everything on failure.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// Runs `rqs -u URL ARGS...` to completion.
pub fn rqs(url: &str, args: &[&str]) -> Out {
    let mut cmd = Command::new(rqs_bin());
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RQ_REDIS_") {
            cmd.env_remove(var);
        }
    }
    let output = cmd
        .args(["-u", url])
        .args(args)
        .env_remove("RUST_LOG")
        .env("TZ", "UTC")
        .output()
        .expect("cannot run rqs");
    Out {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Every key of the database with its type, value and whether it expires: what a
/// command that changes nothing leaves exactly as it found.
pub async fn snapshot(conn: &ConnectionManager) -> Vec<(Vec<u8>, Vec<u8>, bool)> {
    let mut keys: Vec<Vec<u8>> = q(conn, redis::cmd("KEYS").arg("*")).await;
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let dump: Vec<u8> = q(conn, redis::cmd("DUMP").arg(&key)).await;
        let pttl: i64 = q(conn, redis::cmd("PTTL").arg(&key)).await;
        out.push((key, dump, pttl >= 0));
    }
    out
}

/// An HTTP/1.1 GET: status code and body.
pub fn http_get(addr: &str, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| std::io::Error::other(format!("no HTTP head in {text:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    Ok((
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        },
    ))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// Series of a Prometheus text exposition: `name{labels}` → value. Comment lines are
/// checked for shape and skipped.
pub fn parse_metrics(text: &str) -> HashMap<String, f64> {
    let mut out = HashMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix('#') {
            let word = comment.split_whitespace().next();
            assert!(
                matches!(word, Some("HELP" | "TYPE")),
                "odd comment {line:?}"
            );
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample line: {line:?}"));
        let value: f64 = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        assert!(
            out.insert(series.to_owned(), value).is_none(),
            "duplicate series {series}"
        );
    }
    out
}

/// A daemon started with `--metrics-addr 127.0.0.1:0`, and the address it serves on.
pub struct Served {
    pub daemon: Daemon,
    pub addr: String,
}

impl Served {
    /// Starts `rqs run -u URL --metrics-addr 127.0.0.1:0 ARGS...` and reads the bound
    /// address from its log.
    pub async fn start(url: &str, args: &[&str]) -> Self {
        let mut all = vec!["run", "-u", url, "--metrics-addr", "127.0.0.1:0"];
        all.extend_from_slice(args);
        Self::serving(Daemon::start_env(&all, &[("TZ", "UTC")])).await
    }

    /// A daemon started with `--metrics-addr 127.0.0.1:0`, once its log names the address.
    pub async fn serving(daemon: Daemon) -> Self {
        let addr = eventually(T, "the metrics address in the log", || {
            let log = daemon.log();
            async move {
                let rest = log.split_once("status page on http://")?.1;
                // A line still being written has no `/` yet: wait for the whole address.
                Some(rest.split_once('/')?.0.to_owned())
            }
        })
        .await;
        Self { daemon, addr }
    }

    /// A GET, retried until it connects (the server may not be up yet).
    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(&self.addr, path)
            .unwrap_or_else(|e| panic!("GET {path} on {}: {e}\n{}", self.addr, self.daemon.log()))
    }

    /// The current metrics.
    pub fn metrics(&self) -> HashMap<String, f64> {
        let (status, body) = self.get("/metrics");
        assert_eq!(status, 200, "{body}");
        parse_metrics(&body)
    }

    /// Waits until `series` has the value `want`.
    pub async fn metric_reaches(&self, series: &str, want: f64) {
        eventually(T, &format!("{series} == {want}"), || {
            let got = self.metrics().get(series).copied();
            async move { (got == Some(want)).then_some(()) }
        })
        .await;
    }
}

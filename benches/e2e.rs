//! End-to-end comparison of the release `rqs` binary with Python's `rqscheduler`
//! (rq 2.12 + rq-scheduler 0.14), side by side on the same machine in the same run.
//!
//! 1. Throughput: N due one-off jobs (copies of one real job hash); wall time of
//!    `--burst` until every job is in its queue, and the peak resident memory.
//! 2. Punctuality: a daemon running, jobs due at distinct future seconds; the delay from
//!    each due second to the job's `enqueued_at`.
//!
//! Runs alternate between the two daemons and the medians are reported, because the
//! machine is shared and noisy. `RQS_BENCH_QUICK=1` shortens everything.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use rqs_testkit::RedisServer;
use rqs_testkit::python::{self, PythonEnv, Stack};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn py_dir() -> PathBuf {
    root().join("tests/interop/py")
}

fn release_rqs() -> PathBuf {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let ok = Command::new(cargo)
        .args(["build", "--release", "--quiet", "-p", "rqs"])
        .current_dir(root())
        .status()
        .expect("cargo")
        .success();
    assert!(ok, "building the release rqs failed");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    target.join("release/rqs")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    Rqs,
    Python,
}

struct Ctx {
    rqs: PathBuf,
    env: PythonEnv,
    /// Where the daemons' stderr goes, to explain a failure.
    log: tempfile::NamedTempFile,
}

impl Ctx {
    fn command(&self, daemon: Daemon, args: &[&str]) -> Command {
        let mut cmd = match daemon {
            Daemon::Rqs => Command::new(&self.rqs),
            Daemon::Python => {
                let mut c = Command::new(self.env.bin("rqscheduler"));
                c.env("PYTHONPATH", py_dir());
                c
            }
        };
        cmd.args(args)
            .env("TZ", "UTC")
            .stdout(Stdio::null())
            .stderr(self.log.reopen().expect("log file"));
        cmd
    }
}

async fn q<T: redis::FromRedisValue>(conn: &ConnectionManager, cmd: &redis::Cmd) -> T {
    cmd.query_async(&mut conn.clone()).await.expect("redis")
}

/// N copies of a real rq-scheduler job hash, all due; returns the hash's DUMP for more
/// copies (RESTORE works on every Redis version, unlike COPY).
async fn seed(ctx: &Ctx, server: &RedisServer, conn: &ConnectionManager, n: usize) -> Vec<u8> {
    let status = Command::new(ctx.env.python())
        .arg(py_dir().join("scenario.py"))
        .args(["template", &server.url()])
        .env("PYTHONPATH", py_dir())
        .status()
        .expect("python");
    assert!(status.success());
    let template: Vec<u8> = q(conn, redis::cmd("DUMP").arg("rq:job:template")).await;
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let id = format!("bench-{i:06}");
            pipe.cmd("RESTORE")
                .arg(format!("rq:job:{id}"))
                .arg(0)
                .arg(&template)
                .ignore();
            pipe.zadd("rq:scheduler:scheduled_jobs", id, 1_577_880_000)
                .ignore();
        }
        let () = pipe.query_async(&mut conn.clone()).await.expect("seed");
    }
    template
}

/// Peak resident set size of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// Seconds for `--burst` to move `n` jobs, and the peak RSS in KiB.
async fn throughput(ctx: &Ctx, daemon: Daemon, n: usize) -> (f64, u64) {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let _ = seed(ctx, &server, &conn, n).await;
    let start = Instant::now();
    let mut child = ctx
        .command(daemon, &["--burst", "-u", &server.url()])
        .spawn()
        .expect("spawn");
    let mut peak = 0;
    let status = loop {
        if let Some(rss) = peak_rss_kib(child.id()) {
            peak = peak.max(rss);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let secs = start.elapsed().as_secs_f64();
    if !status.success() {
        let log = std::fs::read_to_string(ctx.log.path()).unwrap_or_default();
        panic!("{daemon:?} failed:\n{log}");
    }
    let moved: usize = q(&conn, redis::cmd("LLEN").arg("rq:queue:default")).await;
    assert_eq!(moved, n, "{daemon:?} moved {moved} of {n}");
    (secs, peak)
}

/// Delays (seconds) from each job's due second to its `enqueued_at`.
async fn punctuality(ctx: &Ctx, daemon: Daemon, interval: &str, jobs: i64) -> Vec<f64> {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let template = seed(ctx, &server, &conn, 0).await;
    let mut child = ctx
        .command(daemon, &["-u", &server.url(), "-i", interval])
        .spawn()
        .expect("spawn");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let first = chrono::Utc::now().timestamp() + 2;
    let mut pipe = redis::pipe();
    for k in 0..jobs {
        let id = format!("due-{k}");
        pipe.cmd("RESTORE")
            .arg(format!("rq:job:{id}"))
            .arg(0)
            .arg(&template)
            .ignore();
        pipe.zadd("rq:scheduler:scheduled_jobs", &id, first + k)
            .ignore();
    }
    let () = pipe.query_async(&mut conn.clone()).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(jobs as u64 + 120);
    loop {
        let len: i64 = q(&conn, redis::cmd("LLEN").arg("rq:queue:default")).await;
        if len == jobs || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut delays = Vec::new();
    for k in 0..jobs {
        let at: Option<String> = q(
            &conn,
            redis::cmd("HGET")
                .arg(format!("rq:job:due-{k}"))
                .arg("enqueued_at"),
        )
        .await;
        let at = at.expect("every job was enqueued");
        let at = rqs_core::time::parse_rq_timestamp(&at).unwrap();
        let delay = rqs_core::time::unix_seconds(at) - (first + k) as f64;
        delays.push(delay);
    }
    delays
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench binaries without --bench: nothing to check.
        return;
    }
    let quick = std::env::var_os("RQS_BENCH_QUICK").is_some();
    let (n, reps, punctual_jobs) = if quick {
        (2_000, 1, 5)
    } else {
        (20_000, 3, 15)
    };
    let ctx = Ctx {
        rqs: release_rqs(),
        env: python::ensure(Stack::Rq2),
        log: tempfile::NamedTempFile::new().expect("temp file"),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        let (mut our_rss, mut their_rss) = (Vec::new(), Vec::new());
        for rep in 0..reps {
            let order = if rep % 2 == 0 {
                [Daemon::Rqs, Daemon::Python]
            } else {
                [Daemon::Python, Daemon::Rqs]
            };
            for daemon in order {
                let (secs, rss) = throughput(&ctx, daemon, n).await;
                eprintln!("throughput run {rep}: {daemon:?} moved {n} jobs in {secs:.3} s, peak RSS {rss} KiB");
                match daemon {
                    Daemon::Rqs => {
                        ours.push(secs);
                        our_rss.push(rss as f64);
                    }
                    Daemon::Python => {
                        theirs.push(secs);
                        their_rss.push(rss as f64);
                    }
                }
            }
        }
        let (o, t) = (median(&mut ours), median(&mut theirs));
        let (or, tr) = (median(&mut our_rss), median(&mut their_rss));
        println!("\n## rqs vs rqscheduler (rq 2.12, rq-scheduler 0.14), medians of {reps} run(s)\n");
        println!("| measure | rqs | rqscheduler | ratio |");
        println!("|---|---|---|---|");
        println!(
            "| move {n} due jobs (--burst, wall) | {o:.3} s ({:.0} jobs/s) | {t:.3} s ({:.0} jobs/s) | {:.1}x faster |",
            n as f64 / o,
            n as f64 / t,
            t / o
        );
        println!(
            "| peak RSS during that run | {:.1} MiB | {:.1} MiB | {:.1}x less |",
            or / 1024.0,
            tr / 1024.0,
            tr / or
        );
        for (daemon, interval) in [(Daemon::Rqs, "60"), (Daemon::Python, "1"), (Daemon::Python, "60")] {
            if quick && interval == "60" && daemon == Daemon::Python {
                continue;
            }
            let mut d = punctuality(&ctx, daemon, interval, punctual_jobs).await;
            println!(
                "| hand-over delay after the due second, {daemon:?} -i {interval} ({} jobs) | median {:.3} s, p95 {:.3} s, max {:.3} s | | |",
                d.len(),
                median(&mut d),
                percentile(&mut d, 0.95),
                percentile(&mut d, 1.0)
            );
        }
    });
}

//! End-to-end benchmarks of the release `rqs` binary, side by side on the same machine in
//! the same run with Python's `rqscheduler` (rq 2.12 + rq-scheduler 0.14), with a
//! floor (one bare Lua script doing only the minimal writes of a hand-off) and with a
//! checked floor (the same script, also reading what a safe hand-off checks per job).
//!
//! 1. Throughput: N due jobs (copies of real job hashes, one in ten periodic); wall time
//!    until every job is in its queue, Redis main-thread CPU per job (`INFO cpu`), the
//!    scripts' own time per job (`INFO commandstats`), the longest script (`SLOWLOG`, see
//!    [`SLOWLOG_THRESHOLD_US`]) and the peak resident memory. Runs alternate and medians
//!    are reported: the machine is shared and noisy. Then Redis's instructions per job
//!    (callgrind, 5,000 jobs), which do not move with the machine's load.
//! 2. Scaling: 10k, 50k and 200k due jobs; 1,000 due among 100 and among 1,000,000
//!    scheduled; an idle daemon's Redis calls per second with 1,000,000 scheduled; peak
//!    memory with 1,000,000 scheduled and 100,000 due.
//! 3. Punctuality: the delay from each job's due second to its `enqueued_at`.
//!
//! The tables are printed and written to `target/bench/e2e.md`. `RQS_BENCH_QUICK=1`
//! shortens everything. `RQS_BENCH_BASELINE=/path/to/an/older/rqs` runs only a before
//! and after comparison instead: the throughput runs and the callgrind count, the older
//! binary alternating with this one, written to `target/bench/baseline.md`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use rqs_benches::{release_rqs, root, target_dir};
use rqs_testkit::python::{self, PythonEnv, Stack};
use rqs_testkit::{RedisServer, ServerOptions};

fn py_dir() -> PathBuf {
    root().join("tests/interop/py")
}

/// The minimal hand-off: status, `enqueued_at`, push, leave the schedule; 500 a call.
const FLOOR: &str = "
local page = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, 500)
if #page == 0 then return 0 end
for i = 1, #page do
  redis.call('HSET', 'rq:job:' .. page[i], 'status', 'queued', 'enqueued_at', ARGV[2])
end
redis.call('RPUSH', 'rq:queue:default', unpack(page))
redis.call('ZREM', KEYS[1], unpack(page))
return #page";

/// The floor plus the reads a safe hand-off cannot skip: the seven fields that tell
/// whether a job needs a decision, the meta's length and whether `data` exists (the
/// fast lane reads these, one job at a time, in the same script as its writes). It
/// shows how much of rqs's distance to the floor is the checking itself.
const CHECKED_FLOOR: &str = "
local page = redis.call('ZRANGEBYSCORE', KEYS[1], 0, ARGV[1], 'LIMIT', 0, 500)
if #page == 0 then return 0 end
for i = 1, #page do
  local key = 'rq:job:' .. page[i]
  redis.call('HMGET', key, 'origin', 'status', 'timeout', 'ttl', 'enqueue_at_front',
    'dependency_ids', 'dependency_id')
  redis.call('HSTRLEN', key, 'meta')
  redis.call('HEXISTS', key, 'data')
  redis.call('HSET', key, 'status', 'queued', 'enqueued_at', ARGV[2])
end
redis.call('RPUSH', 'rq:queue:default', unpack(page))
redis.call('ZREM', KEYS[1], unpack(page))
return #page";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Who {
    Rqs,
    /// Another build of rqs (`RQS_BENCH_BASELINE`), for a before and after comparison.
    Baseline,
    Floor,
    CheckedFloor,
    Python,
}

struct Ctx {
    rqs: PathBuf,
    baseline: Option<PathBuf>,
    env: PythonEnv,
    /// Where the daemons' stderr goes, to explain a failure.
    log: tempfile::NamedTempFile,
}

impl Ctx {
    fn command(&self, who: Who, args: &[&str]) -> Command {
        let mut cmd = match who {
            Who::Rqs => Command::new(&self.rqs),
            Who::Baseline => Command::new(self.baseline.as_ref().expect("RQS_BENCH_BASELINE")),
            Who::Python => {
                let mut c = Command::new(self.env.bin("rqscheduler"));
                c.env("PYTHONPATH", py_dir());
                c
            }
            Who::Floor | Who::CheckedFloor => {
                unreachable!("the floors are scripts, not processes")
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

/// The real job hashes of the Python client, as DUMPs: one-off and periodic.
async fn templates(ctx: &Ctx, server: &RedisServer, conn: &ConnectionManager) -> [Vec<u8>; 2] {
    let status = Command::new(ctx.env.python())
        .arg(py_dir().join("scenario.py"))
        .args(["template", &server.url()])
        .env("PYTHONPATH", py_dir())
        .status()
        .expect("python");
    assert!(status.success());
    let plain: Vec<u8> = q(conn, redis::cmd("DUMP").arg("rq:job:template")).await;
    let periodic: Vec<u8> = q(conn, redis::cmd("DUMP").arg("rq:job:template-periodic")).await;
    let _: i64 = q(
        conn,
        redis::cmd("DEL")
            .arg("rq:job:template")
            .arg("rq:job:template-periodic"),
    )
    .await;
    [plain, periodic]
}

/// `due` due jobs (one in ten periodic) with hashes, and `idle` future members without
/// (the daemon never reads a job before it is due).
async fn seed(ctx: &Ctx, server: &RedisServer, conn: &ConnectionManager, due: usize, idle: usize) {
    let [plain, periodic] = templates(ctx, server, conn).await;
    for chunk in (0..due).collect::<Vec<_>>().chunks(2000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let id = format!("bench-{i:07}");
            let dump = if i % 10 == 0 { &periodic } else { &plain };
            pipe.cmd("RESTORE")
                .arg(format!("rq:job:{id}"))
                .arg(0)
                .arg(dump)
                .ignore();
            pipe.zadd("rq:scheduler:scheduled_jobs", id, 1_577_880_000)
                .ignore();
        }
        let () = pipe.query_async(&mut conn.clone()).await.expect("seed");
    }
    for chunk in (0..idle).collect::<Vec<_>>().chunks(10_000) {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("rq:scheduler:scheduled_jobs");
        for i in chunk {
            cmd.arg(4_102_444_800u64).arg(format!("later-{i:07}"));
        }
        let _: i64 = q(conn, &cmd).await;
    }
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

/// Redis's main-thread CPU seconds.
async fn main_cpu(conn: &ConnectionManager) -> f64 {
    let info: String = q(conn, redis::cmd("INFO").arg("cpu")).await;
    info.lines()
        .filter(|l| {
            l.starts_with("used_cpu_user_main_thread:")
                || l.starts_with("used_cpu_sys_main_thread:")
        })
        .filter_map(|l| l.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum()
}

/// `INFO commandstats` as command → (calls, usec).
async fn commandstats(conn: &ConnectionManager) -> HashMap<String, (u64, u64)> {
    let info: String = q(conn, redis::cmd("INFO").arg("commandstats")).await;
    info.lines()
        .filter_map(|l| {
            let (name, rest) = l.strip_prefix("cmdstat_")?.split_once(':')?;
            let field = |key: &str| -> Option<u64> {
                rest.split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{key}=")))?
                    .parse()
                    .ok()
            };
            Some((name.to_owned(), (field("calls")?, field("usec")?)))
        })
        .collect()
}

/// The longest script in `SLOWLOG`, in µs.
async fn longest_script(conn: &ConnectionManager) -> u64 {
    let entries: Vec<redis::Value> = q(conn, redis::cmd("SLOWLOG").arg("GET").arg(1_000_000)).await;
    entries
        .iter()
        .filter_map(|e| match e {
            redis::Value::Array(fields) => {
                let duration = match fields.get(2)? {
                    redis::Value::Int(d) => *d as u64,
                    _ => return None,
                };
                let script = match fields.get(3)? {
                    redis::Value::Array(args) => {
                        matches!(args.first(), Some(redis::Value::BulkString(c))
                        if c.eq_ignore_ascii_case(b"evalsha") || c.eq_ignore_ascii_case(b"eval"))
                    }
                    _ => false,
                };
                script.then_some(duration)
            }
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// What one throughput run measured.
#[derive(Debug, Clone, Copy, Default)]
struct Run {
    wall: f64,
    redis_us_per_job: f64,
    script_us_per_job: f64,
    longest_script_us: u64,
    rss_kib: u64,
}

/// What `SLOWLOG` records in a measured run: every command of at least 100 µs. At 0 µs
/// Redis 7 also logs each command a script runs, which costs it about 0.4 µs a command
/// (1.8 µs a job for rqs, measured): the figures would then measure the logging, and
/// more so for whoever checks more per job. Every script of a batch takes far longer
/// than 100 µs, so the longest script is the same as at 0 µs.
const SLOWLOG_THRESHOLD_US: u64 = 100;

async fn prepare_stats(conn: &ConnectionManager) {
    let () = q(conn, redis::cmd("CONFIG").arg("RESETSTAT")).await;
    let () = q(conn, redis::cmd("SLOWLOG").arg("RESET")).await;
    let () = q(
        conn,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("slowlog-log-slower-than")
            .arg(SLOWLOG_THRESHOLD_US)
            .arg("slowlog-max-len")
            .arg(1_000_000),
    )
    .await;
}

/// Moves `due` due jobs (among `idle` more scheduled later) with `who`.
/// Moves every due job with `who`; the peak RSS of its process, in KiB (0 for a script).
async fn move_due(ctx: &Ctx, who: Who, server: &RedisServer, conn: &ConnectionManager) -> u64 {
    let mut peak = 0;
    if let Some(source) = match who {
        Who::Floor => Some(FLOOR),
        Who::CheckedFloor => Some(CHECKED_FLOOR),
        _ => None,
    } {
        let script = redis::Script::new(source);
        loop {
            let moved: i64 = script
                .key("rq:scheduler:scheduled_jobs")
                .arg(2_000_000_000)
                .arg("2026-12-04T00:00:00.000000Z")
                .invoke_async(&mut conn.clone())
                .await
                .expect("floor");
            if moved == 0 {
                break;
            }
        }
    } else {
        let mut child = ctx
            .command(who, &["--burst", "-u", &server.url()])
            .spawn()
            .expect("spawn");
        let status = loop {
            if let Some(rss) = peak_rss_kib(child.id()) {
                peak = peak.max(rss);
            }
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        if !status.success() {
            let log = std::fs::read_to_string(ctx.log.path()).unwrap_or_default();
            panic!("{who:?} failed:\n{log}");
        }
    }
    peak
}

async fn throughput(ctx: &Ctx, who: Who, due: usize, idle: usize) -> Run {
    let server = RedisServer::start();
    let conn = server.connection().await;
    seed(ctx, &server, &conn, due, idle).await;
    prepare_stats(&conn).await;
    let cpu = main_cpu(&conn).await;
    let start = Instant::now();
    let peak = move_due(ctx, who, &server, &conn).await;
    let wall = start.elapsed().as_secs_f64();
    let cpu = main_cpu(&conn).await - cpu;
    let stats = commandstats(&conn).await;
    let scripts: u64 = ["evalsha", "eval"]
        .iter()
        .filter_map(|c| stats.get(*c))
        .map(|(_, usec)| usec)
        .sum();
    let moved: usize = q(&conn, redis::cmd("LLEN").arg("rq:queue:default")).await;
    assert_eq!(moved, due, "{who:?} moved {moved} of {due}");
    Run {
        wall,
        redis_us_per_job: cpu * 1e6 / due as f64,
        script_us_per_job: scripts as f64 / due as f64,
        longest_script_us: longest_script(&conn).await,
        rss_kib: peak,
    }
}

/// This build against `RQS_BENCH_BASELINE`, alternating, `reps` runs each of `n` due
/// jobs; medians, ratios and callgrind counts.
async fn before_and_after(ctx: &Ctx, n: usize, reps: usize) {
    let mut runs: HashMap<Who, Vec<Run>> = HashMap::new();
    for rep in 0..reps {
        let order = if rep % 2 == 0 {
            [Who::Baseline, Who::Rqs]
        } else {
            [Who::Rqs, Who::Baseline]
        };
        for who in order {
            let run = throughput(ctx, who, n, 0).await;
            eprintln!("run {rep}: {who:?} {run:?}");
            runs.entry(who).or_default().push(run);
        }
    }
    let [before, after] = [Who::Baseline, Who::Rqs].map(|w| median_run(&runs[&w]));
    let counts = [
        instructions(ctx, Who::Baseline, 5_000).await,
        instructions(ctx, Who::Rqs, 5_000).await,
    ];
    let mut report = format!(
        "## Before and after: {n} due jobs (one in ten periodic), medians of {reps} alternating runs\n\n\
         | | before | after | after / before |\n|---|---|---|---|\n"
    );
    let mut row = |name: &str, b: f64, a: f64, unit: &str| {
        writeln!(
            report,
            "| {name} | {b:.3}{unit} | {a:.3}{unit} | {:.3}x |",
            a / b
        )
        .unwrap();
    };
    row("wall", before.wall, after.wall, " s");
    row("jobs/s", n as f64 / before.wall, n as f64 / after.wall, "");
    row(
        "Redis main-thread µs per job",
        before.redis_us_per_job,
        after.redis_us_per_job,
        "",
    );
    row(
        "script µs per job",
        before.script_us_per_job,
        after.script_us_per_job,
        "",
    );
    row(
        "longest script µs",
        before.longest_script_us as f64,
        after.longest_script_us as f64,
        "",
    );
    row(
        "peak RSS KiB",
        before.rss_kib as f64,
        after.rss_kib as f64,
        "",
    );
    if let [Some(b), Some(a)] = counts {
        row(
            "Redis instructions per job (callgrind, 5,000 jobs)",
            b,
            a,
            "",
        );
    }
    println!("{report}");
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    std::fs::write(out.join("baseline.md"), report).expect("write the report");
}

/// Redis's instructions per job while `who` moves `due` jobs, counted by callgrind on a
/// server run under valgrind: unlike time, the count does not move with the machine's
/// load, so a regression shows in review. `None` when valgrind is not installed.
async fn instructions(ctx: &Ctx, who: Who, due: usize) -> Option<f64> {
    let have = |tool: &str| {
        Command::new(tool)
            .arg("--help")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    };
    if !have("valgrind") || !have("callgrind_control") {
        return None;
    }
    let out = tempfile::tempdir().expect("temp dir");
    let file = out.path().join("callgrind.%p");
    let file = format!("--callgrind-out-file={}", file.display());
    let server = RedisServer::start_with(ServerOptions::default().wrapped(&[
        "valgrind",
        "--tool=callgrind",
        &file,
    ]));
    let conn = server.connection().await;
    seed(ctx, &server, &conn, due, 0).await;
    let pid = server.pid().expect("running").to_string();
    let control = |what: &str| {
        let ok = Command::new("callgrind_control")
            .args([what, &pid])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "callgrind_control {what} failed");
    };
    control("-z");
    move_due(ctx, who, &server, &conn).await;
    control("-d");
    let moved: usize = q(&conn, redis::cmd("LLEN").arg("rq:queue:default")).await;
    assert_eq!(moved, due, "{who:?} moved {moved} of {due}");
    // The dump made by -d is the only one until the server exits.
    let dump = std::fs::read_dir(out.path())
        .expect("callgrind output")
        .filter_map(Result::ok)
        .find(|e| e.file_name().to_string_lossy().ends_with(".1"))
        .expect("a callgrind dump");
    let text = std::fs::read_to_string(dump.path()).expect("read the dump");
    let total: u64 = text
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary: ")
                .or_else(|| l.strip_prefix("totals: "))
        })
        .and_then(|v| v.trim().parse().ok())
        .expect("a total in the dump");
    Some(total as f64 / due as f64)
}

/// Redis calls per second of an idle active daemon with `scheduled` jobs, none due:
/// the commands `MONITOR` shows from the daemon's connection (not the ones its scripts
/// run inside Redis).
async fn idle_calls(ctx: &Ctx, scheduled: usize, seconds: u64) -> f64 {
    let server = RedisServer::start();
    let conn = server.connection().await;
    seed(ctx, &server, &conn, 0, scheduled).await;
    let mut child = ctx
        .command(Who::Rqs, &["-u", &server.url()])
        .spawn()
        .expect("spawn");
    // Let it start and become active, then watch.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let monitor = Command::new("timeout")
        .arg(seconds.to_string())
        .args(["redis-cli", "-p", &server.port().to_string(), "monitor"])
        .output()
        .expect("redis-cli monitor");
    let _ = child.kill();
    let _ = child.wait();
    let text = String::from_utf8_lossy(&monitor.stdout);
    let calls = text
        .lines()
        .filter(|l| l.contains(" [0 127.0.0.1:") && !l.contains("\"monitor\""))
        .count();
    calls as f64 / seconds as f64
}

/// Delays (seconds) from each job's due second to its `enqueued_at`.
async fn punctuality(ctx: &Ctx, who: Who, interval: &str, jobs: i64) -> Vec<f64> {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let [template, _] = templates(ctx, &server, &conn).await;
    let mut child = ctx
        .command(who, &["-u", &server.url(), "-i", interval])
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
        delays.push(rqs_core::time::unix_seconds(at) - (first + k) as f64);
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

fn median_run(runs: &[Run]) -> Run {
    let pick = |f: fn(&Run) -> f64| median(&mut runs.iter().map(f).collect::<Vec<_>>());
    Run {
        wall: pick(|r| r.wall),
        redis_us_per_job: pick(|r| r.redis_us_per_job),
        script_us_per_job: pick(|r| r.script_us_per_job),
        longest_script_us: pick(|r| r.longest_script_us as f64) as u64,
        rss_kib: pick(|r| r.rss_kib as f64) as u64,
    }
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
        (20_000, 5, 15)
    };
    let ctx = Ctx {
        rqs: release_rqs(),
        baseline: std::env::var_os("RQS_BENCH_BASELINE").map(PathBuf::from),
        env: python::ensure(Stack::Rq2),
        log: tempfile::NamedTempFile::new().expect("temp file"),
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    if ctx.baseline.is_some() {
        rt.block_on(before_and_after(&ctx, n, reps.max(7)));
        return;
    }
    let mut report = String::new();
    let mut line = |text: String| {
        println!("{text}");
        writeln!(report, "{text}").unwrap();
    };
    rt.block_on(async {
        let mut runs: HashMap<Who, Vec<Run>> = HashMap::new();
        for rep in 0..reps {
            let order = match rep % 3 {
                0 => [Who::Rqs, Who::Floor, Who::CheckedFloor, Who::Python],
                1 => [Who::Floor, Who::CheckedFloor, Who::Python, Who::Rqs],
                _ => [Who::Python, Who::Rqs, Who::Floor, Who::CheckedFloor],
            };
            for who in order {
                let run = throughput(&ctx, who, n, 0).await;
                eprintln!("run {rep}: {who:?} {run:?}");
                runs.entry(who).or_default().push(run);
            }
        }
        let [ours, floor, checked, python] =
            [Who::Rqs, Who::Floor, Who::CheckedFloor, Who::Python].map(|w| median_run(&runs[&w]));
        line(format!(
            "\n## Hand-off of {n} due jobs (one in ten periodic): rqs, a bare Lua floor, rqscheduler\n\nMedians of {reps} alternating runs.\n"
        ));
        line("| | rqs | floor | rqscheduler | rqs / floor | rqscheduler / rqs |".into());
        line("|---|---|---|---|---|---|".into());
        line(format!(
            "| wall | {:.3} s | {:.3} s | {:.3} s | {:.2}x | {:.1}x |",
            ours.wall,
            floor.wall,
            python.wall,
            ours.wall / floor.wall,
            python.wall / ours.wall
        ));
        line(format!(
            "| jobs/s | {:.0} | {:.0} | {:.0} | | |",
            n as f64 / ours.wall,
            n as f64 / floor.wall,
            n as f64 / python.wall
        ));
        line(format!(
            "| Redis main-thread µs per job | {:.2} | {:.2} | {:.2} | {:.2}x | {:.1}x |",
            ours.redis_us_per_job,
            floor.redis_us_per_job,
            python.redis_us_per_job,
            ours.redis_us_per_job / floor.redis_us_per_job,
            python.redis_us_per_job / ours.redis_us_per_job
        ));
        line(format!(
            "| script µs per job (commandstats) | {:.2} | {:.2} | {:.2} | | |",
            ours.script_us_per_job, floor.script_us_per_job, python.script_us_per_job
        ));
        line(format!(
            "| longest script (SLOWLOG) | {} µs | {} µs | {} µs | | |",
            ours.longest_script_us, floor.longest_script_us, python.longest_script_us
        ));
        line(format!(
            "| peak RSS | {:.1} MiB | | {:.1} MiB | | {:.1}x |",
            ours.rss_kib as f64 / 1024.0,
            python.rss_kib as f64 / 1024.0,
            python.rss_kib as f64 / ours.rss_kib.max(1) as f64
        ));
        line(format!(
            "\nA floor that also reads what a hand-off must check per job (seven fields, the \
             meta's length, whether `data` exists): wall {:.3} s ({:.2}x the floor; rqs is \
             {:.2}x it), Redis main-thread {:.2} µs per job ({:.2}x the floor; rqs is {:.2}x \
             it), longest script {} µs.",
            checked.wall,
            checked.wall / floor.wall,
            ours.wall / checked.wall,
            checked.redis_us_per_job,
            checked.redis_us_per_job / floor.redis_us_per_job,
            ours.redis_us_per_job / checked.redis_us_per_job,
            checked.longest_script_us
        ));
        let counted = if quick { 1_000 } else { 5_000 };
        let counts: Vec<Option<f64>> = {
            let mut counts = Vec::new();
            for who in [Who::Floor, Who::CheckedFloor, Who::Rqs] {
                counts.push(instructions(&ctx, who, counted).await);
            }
            counts
        };
        match counts.as_slice() {
            [Some(floor), Some(checked), Some(ours)] => line(format!(
                "\nRedis instructions per job (callgrind, {counted} due jobs, stable under load): \
                 floor {floor:.0}, checked floor {checked:.0}, rqs {ours:.0} (its whole \
                 `--burst`, start-up included): rqs is {:.2}x the floor, {:.2}x the checked \
                 floor.",
                ours / floor,
                ours / checked
            )),
            _ => line("\nRedis instructions per job: valgrind is not installed.".into()),
        }

        line("\n## Scaling (rqs)\n".into());
        line("| workload | wall | jobs/s | Redis µs per job | longest script | peak RSS |".into());
        line("|---|---|---|---|---|---|".into());
        let sizes: &[(usize, usize, &str)] = if quick {
            &[(2_000, 0, "2k due"), (1_000, 100, "1,000 due among 1,100")]
        } else {
            &[
                (10_000, 0, "10k due"),
                (50_000, 0, "50k due"),
                (200_000, 0, "200k due"),
                (1_000, 100, "1,000 due among 1,100 scheduled"),
                (1_000, 1_000_000, "1,000 due among 1,001,000 scheduled"),
                (100_000, 900_000, "100k due among 1,000,000 scheduled"),
            ]
        };
        for &(due, idle, name) in sizes {
            let mut runs = Vec::new();
            for _ in 0..if quick { 1 } else { 3 } {
                runs.push(throughput(&ctx, Who::Rqs, due, idle).await);
            }
            let run = median_run(&runs);
            line(format!(
                "| {name} | {:.3} s | {:.0} | {:.2} | {} µs | {:.1} MiB |",
                run.wall,
                due as f64 / run.wall,
                run.redis_us_per_job,
                run.longest_script_us,
                run.rss_kib as f64 / 1024.0
            ));
        }
        let scheduled = if quick { 10_000 } else { 1_000_000 };
        let calls = idle_calls(&ctx, scheduled, if quick { 3 } else { 10 }).await;
        line(format!(
            "\nAn idle active daemon with {scheduled} scheduled jobs, none due: {calls:.1} Redis calls a second.\n"
        ));

        line("## Punctuality\n".into());
        line("| daemon | hand-over delay after the due second |".into());
        line("|---|---|".into());
        for (who, interval) in [(Who::Rqs, "60"), (Who::Python, "1"), (Who::Python, "60")] {
            if quick && interval == "60" && who == Who::Python {
                continue;
            }
            let mut d = punctuality(&ctx, who, interval, punctual_jobs).await;
            line(format!(
                "| {who:?} -i {interval} ({} jobs) | median {:.3} s, p95 {:.3} s, max {:.3} s |",
                d.len(),
                median(&mut d),
                percentile(&mut d, 0.95),
                percentile(&mut d, 1.0)
            ));
        }
    });
    let dir = target_dir().join("bench");
    std::fs::create_dir_all(&dir).expect("target/bench");
    let machine = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let header = format!(
        "# rqs end-to-end benchmarks\n\n{} on {} ({} cores), {}\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        machine,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        if quick { "quick run" } else { "full run" }
    );
    std::fs::write(dir.join("e2e.md"), header + &report).expect("write the report");
    eprintln!("written to {}", dir.join("e2e.md").display());
}

//! `rqs plan` and `rqs apply` of a 10,000-job schedule file against a schedule of
//! 100,000 other jobs (the release binary, wall time of the whole command: start, read,
//! plan, write). Each kind of run alternates with the others and is repeated; medians
//! are reported and written to `target/bench/declare.md`.
//!
//! - plan, all new: the file's jobs are not in Redis yet (10,000 to add);
//! - apply, all new: writes them;
//! - plan, unchanged: the same file again (nothing to do);
//! - apply, all changed: every job's arguments changed (10,000 to change, next runs kept).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rqs_benches::{release_rqs, target_dir};
use rqs_testkit::RedisServer;

const DECLARED: usize = 10_000;
const OTHERS: usize = 100_000;

fn file(args: &str) -> String {
    let mut out = String::from("[defaults]\nqueue = \"bulk\"\n");
    for i in 0..DECLARED {
        let when = match i % 3 {
            0 => format!("cron = \"{} * * * *\"", i % 60),
            1 => format!("interval = {}", 60 + i),
            _ => "at = 2031-01-01T00:00:00Z".to_owned(),
        };
        let _ = write!(
            out,
            "\n[[job]]\nid = \"declared-{i:05}\"\nfunc = \"tasks.work\"\nargs = [{i}, \"{args}\"]\n{when}\n"
        );
    }
    out
}

fn timed(rqs: &Path, url: &str, args: &[&str], want: i32) -> Duration {
    let started = Instant::now();
    let out = Command::new(rqs)
        .args(args)
        .args(["-u", url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("rqs");
    let took = started.elapsed();
    assert_eq!(
        out.status.code(),
        Some(want),
        "rqs {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// Redis's own time in the apply script since the last `CONFIG RESETSTAT`.
fn script_time(
    runtime: &tokio::runtime::Runtime,
    conn: &redis::aio::ConnectionManager,
) -> Duration {
    runtime.block_on(async {
        let mut c = conn.clone();
        let info: String = redis::cmd("INFO")
            .arg("commandstats")
            .query_async(&mut c)
            .await
            .unwrap();
        let usec: u64 = info
            .lines()
            .filter(|l| l.starts_with("cmdstat_evalsha:") || l.starts_with("cmdstat_eval:"))
            .filter_map(|l| {
                l.split("usec=")
                    .nth(1)?
                    .split(',')
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        Duration::from_micros(usec)
    })
}

fn reset_stats(runtime: &tokio::runtime::Runtime, conn: &redis::aio::ConnectionManager) {
    runtime.block_on(async {
        let () = redis::cmd("CONFIG")
            .arg("RESETSTAT")
            .query_async(&mut conn.clone())
            .await
            .unwrap();
    });
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench binaries without --bench: nothing to check.
        return;
    }
    let rqs = release_rqs();
    let runs: usize = if std::env::var_os("RQS_BENCH_QUICK").is_some() {
        3
    } else {
        7
    };
    let server = RedisServer::start();
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conn = runtime.block_on(server.connection());
    // 100,000 jobs application code scheduled, each with a hash, none of them declared.
    runtime.block_on(async {
        let mut c = conn.clone();
        for chunk in (0..OTHERS).collect::<Vec<_>>().chunks(5_000) {
            let mut pipe = redis::pipe();
            for i in chunk {
                let id = format!("other-{i:06}");
                pipe.zadd("rq:scheduler:scheduled_jobs", &id, 2_000_000_000 + i)
                    .ignore()
                    .hset(format!("rq:job:{id}"), "origin", "default")
                    .ignore();
            }
            let () = pipe.query_async(&mut c).await.unwrap();
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("a.toml"), dir.path().join("b.toml"));
    std::fs::write(&first, file("a")).unwrap();
    std::fs::write(&second, file("b")).unwrap();
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
    let forget = || {
        runtime.block_on(async {
            let mut c = conn.clone();
            let ids: Vec<String> = (0..DECLARED).map(|i| format!("declared-{i:05}")).collect();
            let mut pipe = redis::pipe();
            pipe.del("rq:rqs:schedule-set:default")
                .ignore()
                .del("rq:rqs:schedule-owners")
                .ignore();
            for id in &ids {
                pipe.zrem("rq:scheduler:scheduled_jobs", id)
                    .ignore()
                    .del(format!("rq:job:{id}"))
                    .ignore();
            }
            let () = pipe.query_async(&mut c).await.unwrap();
        });
    };
    let mut rows: Vec<(&str, Vec<Duration>)> = vec![
        ("plan, 10,000 to add", Vec::new()),
        ("apply, 10,000 to add", Vec::new()),
        ("plan, 10,000 unchanged", Vec::new()),
        ("apply, 10,000 to change", Vec::new()),
        ("Redis time of the script, 10,000 to add", Vec::new()),
        ("Redis time of the script, 10,000 to change", Vec::new()),
    ];
    for run in 0..runs {
        forget();
        rows[0].1.push(timed(&rqs, &url, &["plan", first], 4));
        reset_stats(&runtime, &conn);
        rows[1].1.push(timed(&rqs, &url, &["apply", first], 0));
        rows[4].1.push(script_time(&runtime, &conn));
        rows[2].1.push(timed(&rqs, &url, &["plan", first], 0));
        reset_stats(&runtime, &conn);
        rows[3].1.push(timed(&rqs, &url, &["apply", second], 0));
        rows[5].1.push(script_time(&runtime, &conn));
        eprintln!("run {}/{runs} done", run + 1);
    }
    let mut report = format!(
        "# rqs plan / apply\n\n{DECLARED} declared jobs against {OTHERS} other scheduled jobs; \
         release binary, whole command, median of {runs} alternating runs.\n\n\
         | run | median | min | max |\n|---|---|---|---|\n"
    );
    for (name, times) in rows {
        let (min, max) = (*times.iter().min().unwrap(), *times.iter().max().unwrap());
        let _ = writeln!(
            report,
            "| {name} | {:.3} s | {:.3} s | {:.3} s |",
            median(times).as_secs_f64(),
            min.as_secs_f64(),
            max.as_secs_f64()
        );
    }
    print!("{report}");
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("declare.md"), report).unwrap();
}

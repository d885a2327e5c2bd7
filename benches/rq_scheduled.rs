//! rqs as the scheduler of RQ's own registries (`--rq-scheduled`), side by side with
//! RQ's `RQScheduler` (rq 2.12), on the same Redis:
//!
//! 1. Throughput: a backlog of 20,000 due jobs in `rq:scheduled:bulk`; RQScheduler's
//!    passes run back to back until none is due (its own loop does one pass a second:
//!    at most 1,000 jobs a queue a second), against `rqs --burst --rq-scheduled bulk`
//!    (the whole process: start, lock, move, stop). Runs alternate; medians.
//! 2. Punctuality: a running `rqs --rq-scheduled punctual`, and jobs due at distinct
//!    seconds; the delay from each job's due second to its `enqueued_at`.
//!
//! Written to `target/bench/rq_scheduled.md`. `RQS_BENCH_QUICK=1` shortens both.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rqs_benches::{release_rqs, root, target_dir};
use rqs_testkit::RedisServer;
use rqs_testkit::python::{self, PythonEnv, Stack};

fn helper(env: &PythonEnv, args: &[&str]) -> String {
    let out = Command::new(env.python())
        .arg(root().join("benches/rq_scheduled.py"))
        .args(args)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        // `cargo test --benches` runs bench binaries without --bench: nothing to check.
        return;
    }
    let quick = std::env::var_os("RQS_BENCH_QUICK").is_some();
    let (n, reps, punctual) = if quick {
        (2_000, 1, 5)
    } else {
        (20_000, 5, 20)
    };
    let rqs = release_rqs();
    let env = python::ensure(Stack::Rq2);
    let server = RedisServer::start();
    let url = server.url();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let conn = rt.block_on(server.connection());
    let count = |key: &str, cmd: &str| -> usize {
        rt.block_on(async {
            redis::cmd(cmd)
                .arg(key)
                .query_async(&mut conn.clone())
                .await
                .unwrap()
        })
    };

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        for rqs_first in [rep % 2 == 0, rep % 2 != 0] {
            helper(&env, &["fill", &url, &n.to_string()]);
            if rqs_first {
                let started = Instant::now();
                let ok = Command::new(&rqs)
                    .args(["--burst", "--quiet", "--rq-scheduled", "bulk", "-u", &url])
                    .stderr(Stdio::null())
                    .status()
                    .unwrap()
                    .success();
                assert!(ok);
                ours.push(started.elapsed().as_secs_f64());
            } else {
                // RQScheduler logs to stdout too: the time is the last line.
                let out = helper(&env, &["rqscheduler", &url]);
                let took: f64 = out.lines().last().unwrap_or("").trim().parse().unwrap();
                theirs.push(took);
            }
            assert_eq!(count("rq:queue:bulk", "LLEN"), n, "every job moved");
        }
        eprintln!(
            "run {}/{reps}: rqs {:?}, RQScheduler {:?}",
            rep + 1,
            ours.last(),
            theirs.last()
        );
    }
    let (ours, theirs) = (median(ours), median(theirs));

    // Punctuality: jobs due at distinct seconds, moved by a running rqs.
    let () = rt.block_on(async {
        redis::cmd("FLUSHDB")
            .query_async(&mut conn.clone())
            .await
            .unwrap()
    });
    let mut daemon = Command::new(&rqs)
        .args(["--quiet", "--rq-scheduled", "punctual", "-u", &url])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    helper(&env, &["punctual", &url, &punctual.to_string()]);
    let due: Vec<(String, f64)> = rt.block_on(async {
        redis::cmd("ZRANGE")
            .arg("rq:scheduled:punctual")
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut conn.clone())
            .await
            .unwrap()
    });
    assert_eq!(due.len(), punctual);
    let deadline = Instant::now() + Duration::from_secs(punctual as u64 + 30);
    while count("rq:queue:punctual", "LLEN") < punctual {
        assert!(
            Instant::now() < deadline,
            "the punctual jobs were not all moved"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let mut late: Vec<f64> = due
        .iter()
        .map(|(id, score)| {
            let at: String = rt.block_on(async {
                redis::cmd("HGET")
                    .arg(format!("rq:job:{id}"))
                    .arg("enqueued_at")
                    .query_async(&mut conn.clone())
                    .await
                    .unwrap()
            });
            let at = rqs_core::time::parse_rq_timestamp(&at).expect("RQ's format");
            (rqs_core::time::unix_seconds(at) - score) * 1000.0
        })
        .collect();
    late.sort_by(f64::total_cmp);
    let pick = |p: f64| late[((late.len() - 1) as f64 * p).round() as usize];

    let mut report = format!(
        "# RQ's own registries: rqs against RQScheduler (rq 2.12)\n\n\
         | | rqs | RQScheduler | RQScheduler / rqs |\n|---|---|---|---|\n\
         | {n} due jobs, median of {reps} alternating runs | {ours:.3} s ({:.0} jobs/s) | {theirs:.3} s ({:.0} jobs/s) | {:.1}x |\n\n\
         RQScheduler's passes ran back to back here; its own loop does one a second, at most 1,000 jobs a queue each.\n\n\
         Punctuality of a running rqs, {punctual} jobs due at distinct seconds, from the due second to `enqueued_at`: \
         median {:.1} ms, p99 {:.1} ms, max {:.1} ms.\n",
        n as f64 / ours,
        n as f64 / theirs,
        theirs / ours,
        pick(0.5),
        pick(0.99),
        late[late.len() - 1]
    );
    let _ = writeln!(report);
    print!("{report}");
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("rq_scheduled.md"), report).unwrap();
}

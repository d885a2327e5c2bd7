//! A standby takes over within seconds, with default flags: after a kill -9 of the active
//! instance (its 5 s lease runs out, a standby retries every second), after a clean stop
//! (the lease is released), and when the active instance is paused for longer than its
//! lease (it steps down on waking, before writing anything).
//!
//! The takeover times are measured and printed; the only bounds asserted are the
//! documented ones (10 s after a crash, 3 s after a clean stop), as the tests' timeouts.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use redis::aio::ConnectionManager;
use rqs_testkit::RedisServer;
use rqs_testkit::client_job;

use crate::support::{Daemon, Jobs, eventually, instance_field, now_secs, q, queue};

const T: Duration = Duration::from_secs(60);

async fn lock_holder(conn: &ConnectionManager) -> Option<String> {
    q(conn, redis::cmd("GET").arg("rq:scheduler_lock")).await
}

/// Starts `active` and then `standby` with default flags, and waits until the first
/// holds the lock and has moved a job, and the second is registered.
async fn pair(server: &RedisServer, jobs: &Jobs) -> (Daemon, Daemon) {
    let conn = server.connection().await;
    let url = server.url();
    let active = Daemon::start(&["-u", &url, "--name", "active"]);
    eventually(T, "the first instance holding the lock", || async {
        lock_holder(&conn)
            .await
            .filter(|h| h.starts_with("active@"))
    })
    .await;
    let standby = Daemon::start(&["-u", &url, "--name", "standby"]);
    eventually(T, "the standby's birth", || async {
        instance_field(&conn, "standby", "birth").await
    })
    .await;
    jobs.schedule("warm-up", &client_job("default"), 1.0)
        .await
        .unwrap();
    eventually(T, "the active instance moving a job", || async {
        queue(&conn, "default")
            .await
            .contains(&"warm-up".to_owned())
            .then_some(())
    })
    .await;
    (active, standby)
}

/// Schedules a job due now and waits (at most `within`) until it is in its queue;
/// returns how long that took from `since`.
async fn due_job_moved(
    conn: &ConnectionManager,
    jobs: &Jobs,
    id: &str,
    since: Instant,
    within: Duration,
) -> Duration {
    jobs.schedule(id, &client_job("default"), (now_secs() - 1) as f64)
        .await
        .unwrap();
    eventually(within, &format!("{id} moved within {within:?}"), || async {
        queue(conn, "default")
            .await
            .contains(&id.to_owned())
            .then_some(())
    })
    .await;
    since.elapsed()
}

#[tokio::test]
async fn a_standby_moves_due_jobs_within_10_s_of_a_kill_9() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let (mut active, standby) = pair(&server, &jobs).await;
    active.kill9();
    let killed = Instant::now();
    let took = due_job_moved(&conn, &jobs, "after-crash", killed, Duration::from_secs(10)).await;
    eprintln!("kill -9: the standby moved a due job {took:?} after the crash");
    let holder = lock_holder(&conn).await.unwrap_or_default();
    assert!(holder.starts_with("standby@"), "{holder}");
    // A standby's tries are quiet: no line per try at the default level.
    let log = standby.log();
    assert!(!log.contains("lock already taken"), "{log}");
    assert!(log.contains("became the active instance"), "{log}");
}

#[tokio::test]
async fn a_standby_moves_due_jobs_within_3_s_of_a_clean_stop() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let (mut active, standby) = pair(&server, &jobs).await;
    active.signal(Signal::SIGTERM);
    let stopped = Instant::now();
    let took = due_job_moved(&conn, &jobs, "after-stop", stopped, Duration::from_secs(3)).await;
    eprintln!("SIGTERM: the standby moved a due job {took:?} after the signal");
    assert_eq!(active.exit_code(T), 0, "{}", active.log());
    assert!(active.log().contains("released the scheduler lock"));
    assert!(standby.log().contains("became the active instance"));
}

/// The active instance is stopped (SIGSTOP) for longer than its lease while jobs keep
/// falling due. The standby takes over; on SIGCONT the paused one notices that its lease
/// is gone before it writes anything, says so once, and stands by. Every job is pushed
/// exactly once.
#[tokio::test]
async fn a_paused_instance_steps_down_on_waking_and_nothing_is_duplicated() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let (active, standby) = pair(&server, &jobs).await;
    // Jobs due every 200 ms for the next 14 s: across the pause and after it.
    let start = now_secs() as f64;
    let mut ids = vec!["warm-up".to_owned()];
    for i in 0..70 {
        let id = format!("stream-{i:03}");
        jobs.schedule(&id, &client_job("default"), start + 0.2 * f64::from(i))
            .await
            .unwrap();
        ids.push(id);
    }
    active.signal(Signal::SIGSTOP);
    let paused = Instant::now();
    let holder = eventually(T, "the standby taking the lock", || async {
        lock_holder(&conn)
            .await
            .filter(|h| h.starts_with("standby@"))
    })
    .await;
    eprintln!(
        "SIGSTOP: the standby took the lock {:?} after the pause began ({holder})",
        paused.elapsed()
    );
    // Paused well past its 5 s lease.
    let pause = Duration::from_secs(8);
    tokio::time::sleep(pause.saturating_sub(paused.elapsed())).await;
    active.signal(Signal::SIGCONT);
    eventually(T, "the woken instance stepping down", || async {
        active
            .log()
            .contains("the lease ran out before it could be renewed")
            .then_some(())
    })
    .await;
    eventually(T, "every streamed job moved", || async {
        (jobs.count(Some(start + 14.0)).await.unwrap() == 0).then_some(())
    })
    .await;

    let pushed = queue(&conn, "default").await;
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for id in &pushed {
        *counts.entry(id.as_str()).or_default() += 1;
    }
    for id in &ids {
        assert_eq!(counts.get(id.as_str()), Some(&1), "{id} in {pushed:?}");
    }
    assert_eq!(pushed.len(), ids.len(), "{pushed:?}");

    let log = active.log();
    let lines: Vec<&str> = log.lines().collect();
    let step_downs: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("the lease ran out before it could be renewed"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(step_downs.len(), 1, "one log line: {log}");
    assert!(
        lines[step_downs[0]..]
            .iter()
            .all(|l| !l.contains("handed over a batch")),
        "the woken instance wrote nothing after stepping down: {log}"
    );
    assert!(standby.log().contains("became the active instance"));
    assert!(
        lock_holder(&conn)
            .await
            .is_some_and(|h| h.starts_with("standby@")),
        "the standby keeps the lock"
    );
}

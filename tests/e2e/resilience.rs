//! Never lose or duplicate a job: kill -9 at any instant, several instances at once, a
//! client cancelling at the same moment, Redis restarting.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use redis::aio::ConnectionManager;
use rqs_store::{JobStore, RedisJobStore};
use rqs_testkit::conformance::{client_job, client_job_with};
use rqs_testkit::{RedisServer, ServerOptions};

use crate::support::{Daemon, Rng, eventually, now_secs, q};

const T: Duration = Duration::from_secs(120);

/// `{'interval': 600}` and `{'interval': 60, 'repeat': 5}` as rq-scheduler pickles them.
const INTERVAL_META: &str = "80059512000000000000007d948c08696e74657276616c944d5802732e";
const REPEAT_META: &str =
    "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b05752e";
const REPEAT_META_AFTER_ONE_RUN: &str =
    "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b04752e";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Schedules `n` due one-off jobs plus interval and repeat jobs; returns every id.
async fn seed(
    store: &RedisJobStore<ConnectionManager>,
    n: usize,
) -> (Vec<String>, Vec<String>, Vec<String>) {
    let past = (now_secs() - 60) as f64;
    let mut once = Vec::new();
    for i in 0..n {
        let id = format!("once-{i:05}");
        store
            .schedule(&id, &client_job("default"), past)
            .await
            .unwrap();
        once.push(id);
    }
    let (interval_meta, repeat_meta) = (hex(INTERVAL_META), hex(REPEAT_META));
    let mut interval = Vec::new();
    let mut repeat = Vec::new();
    for i in 0..n / 50 {
        let id = format!("every-{i:03}");
        store
            .schedule(
                &id,
                &client_job_with(
                    "default",
                    &[("meta", &interval_meta), ("result_ttl", b"-1")],
                ),
                past,
            )
            .await
            .unwrap();
        interval.push(id);
        let id = format!("repeat-{i:03}");
        store
            .schedule(
                &id,
                &client_job_with("default", &[("meta", &repeat_meta)]),
                past,
            )
            .await
            .unwrap();
        repeat.push(id);
    }
    (once, interval, repeat)
}

async fn queue_counts(conn: &ConnectionManager, queue: &str) -> HashMap<String, usize> {
    let ids = crate::support::queue(conn, queue).await;
    let mut counts = HashMap::new();
    for id in ids {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// Every id was pushed exactly once, periodic ones re-armed, repeat counters decremented
/// once.
async fn assert_exactly_once(
    conn: &ConnectionManager,
    store: &RedisJobStore<ConnectionManager>,
    (once, interval, repeat): &(Vec<String>, Vec<String>, Vec<String>),
) {
    let counts = queue_counts(conn, "default").await;
    let expected: HashSet<&String> = once.iter().chain(interval).chain(repeat).collect();
    let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(dupes.is_empty(), "duplicated: {dupes:?}");
    let missing: Vec<_> = expected
        .iter()
        .filter(|id| !counts.contains_key(**id))
        .collect();
    assert!(
        missing.is_empty(),
        "lost: {} jobs, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    assert_eq!(counts.len(), expected.len(), "unexpected ids pushed");
    let now = now_secs() as f64;
    for id in interval.iter().chain(repeat) {
        let score = store.score(id).await.unwrap();
        assert!(
            score.is_some_and(|s| s > now),
            "{id} re-armed in the future: {score:?}"
        );
    }
    let after = hex(REPEAT_META_AFTER_ONE_RUN);
    for id in repeat {
        let meta: Vec<u8> = q(
            conn,
            redis::cmd("HGET").arg(format!("rq:job:{id}")).arg("meta"),
        )
        .await;
        assert_eq!(meta, after, "{id}: repeat decremented exactly once");
    }
    assert_eq!(
        store.count(Some(now - 1.0)).await.unwrap(),
        0,
        "nothing left due"
    );
}

async fn nothing_due(store: &RedisJobStore<ConnectionManager>) -> bool {
    store.count(Some((now_secs() - 1) as f64)).await.unwrap() == 0
}

#[tokio::test]
async fn kill_9_at_any_instant_never_loses_or_duplicates() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    let jobs = seed(&store, 3000).await;
    let mut rng = Rng::from_env("kill_9_at_any_instant_never_loses_or_duplicates");
    let url = server.url();
    let mut kills = 0;
    while !nothing_due(&store).await {
        let mut d = Daemon::start(&["-u", &url, "-i", "1", "--batch-size", "20"]);
        // Kill it at a random instant after it took the lock, i.e. while it is moving jobs.
        eventually(T, "the lock", || async {
            let lock: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
            lock
        })
        .await;
        tokio::time::sleep(Duration::from_micros(rng.below(30_000))).await;
        d.kill9();
        kills += 1;
        // The killed instance's lock would expire after 11 s; a dead process cannot
        // object to losing it sooner.
        let _: i64 = q(&conn, redis::cmd("DEL").arg("rq:scheduler_lock")).await;
        assert!(kills < 2_000, "no progress after {kills} restarts");
    }
    eprintln!("killed rqs {kills} times");
    assert!(kills > 1, "the test must actually interrupt rqs");
    assert_exactly_once(&conn, &store, &jobs).await;
}

#[tokio::test]
async fn several_active_instances_never_duplicate() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    let jobs = seed(&store, 3000).await;
    // Keep deleting the lock so that all three instances act at the same time.
    let chaos = {
        let conn = conn.clone();
        tokio::spawn(async move {
            loop {
                let _: i64 = q(&conn, redis::cmd("DEL").arg("rq:scheduler_lock")).await;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let url = server.url();
    let daemons: Vec<Daemon> = (0..3)
        .map(|_| {
            // A short interval: an instance that lost the lock tries again soon.
            Daemon::start(&[
                "-u",
                &url,
                "-i",
                "0.02",
                "--batch-size",
                "10",
                "--peek-interval",
                "0.02",
            ])
        })
        .collect();
    eventually(T, "every job moved", || async {
        nothing_due(&store).await.then_some(())
    })
    .await;
    chaos.abort();
    let active = daemons
        .iter()
        .filter(|d| d.log().contains("moved due jobs"))
        .count();
    assert!(
        active >= 2,
        "only {active} instance(s) moved jobs: no concurrency was tested"
    );
    drop(daemons);
    assert_exactly_once(&conn, &store, &jobs).await;
}

#[tokio::test]
async fn a_client_racing_the_hand_off_wins_cleanly() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    let past = (now_secs() - 60) as f64;
    let ids: Vec<String> = (0..2000).map(|i| format!("race-{i:04}")).collect();
    for id in &ids {
        store
            .schedule(id, &client_job("default"), past)
            .await
            .unwrap();
    }
    let mut d = Daemon::start(&["-u", &server.url(), "--batch-size", "10"]);
    eventually(T, "rqs moving jobs", || async {
        let len: i64 = q(&conn, redis::cmd("LLEN").arg("rq:queue:default")).await;
        (len > 0).then_some(())
    })
    .await;
    let mut rng = Rng::from_env("a_client_racing_the_hand_off_wins_cleanly");
    let future = (now_secs() + 3600) as f64;
    let mut cancelled = HashSet::new();
    let mut moved = HashSet::new();
    let mut too_late = 0;
    for id in &ids {
        match rng.below(3) {
            0 => {
                if store.cancel(id).await.unwrap() {
                    cancelled.insert(id.clone());
                } else {
                    too_late += 1;
                }
            }
            1 => {
                if store.change_execution_time(id, future).await.is_ok() {
                    moved.insert(id.clone());
                } else {
                    too_late += 1;
                }
            }
            _ => {}
        }
    }
    eventually(T, "every due job moved", || async {
        nothing_due(&store).await.then_some(())
    })
    .await;
    d.kill9();
    let counts = queue_counts(&conn, "default").await;
    // Both sides must have won some: the client and rqs really raced.
    assert!(
        !cancelled.is_empty() && !moved.is_empty() && too_late > 0,
        "no race: {} cancelled, {} moved, {too_late} too late",
        cancelled.len(),
        moved.len()
    );
    for id in &ids {
        let pushed = counts.get(id).copied().unwrap_or(0);
        if cancelled.contains(id) {
            assert_eq!(pushed, 0, "{id} was cancelled but pushed");
            assert_eq!(store.score(id).await.unwrap(), None);
        } else if moved.contains(id) {
            assert_eq!(pushed, 0, "{id} was rescheduled but pushed");
            assert_eq!(store.score(id).await.unwrap(), Some(future));
        } else {
            assert_eq!(pushed, 1, "{id} pushed {pushed} times");
        }
    }
}

#[tokio::test]
async fn redis_restarting_under_a_running_daemon_loses_nothing() {
    let mut server = RedisServer::start_with(ServerOptions::persistent());
    let mut d = Daemon::start(&["-u", &server.url(), "-i", "1"]);
    let mut all = Vec::new();
    for round in 0..3 {
        // A fresh client each round: the test's own connection saw the crash too.
        let store = RedisJobStore::new(server.connection().await);
        let past = (now_secs() - 5) as f64;
        for i in 0..200 {
            let id = format!("r{round}-{i:03}");
            store
                .schedule(&id, &client_job("default"), past)
                .await
                .unwrap();
            all.push(id);
        }
        eventually(T, "the round moved", || async {
            store
                .count(Some(now_secs() as f64))
                .await
                .ok()
                .filter(|n| *n == 0)
        })
        .await;
        // A crash of Redis itself, then a restart from its append-only file.
        server.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.restart();
    }
    assert!(
        d.wait(Duration::ZERO).is_none(),
        "rqs survived the restarts:\n{}",
        d.log()
    );
    let conn = server.connection().await;
    let counts = queue_counts(&conn, "default").await;
    for id in &all {
        assert_eq!(counts.get(id), Some(&1), "{id}");
    }
    assert_eq!(counts.len(), all.len());
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
}

//! Never lose or duplicate a job: kill -9 at any instant, several instances at once, a
//! client cancelling at the same moment, Redis restarting.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use redis::aio::ConnectionManager;
use rqs_testkit::{RedisServer, ServerOptions};
use rqs_testkit::{client_job, client_job_with};

use crate::support::{Daemon, Jobs, Rng, eventually, now_secs, q};

const T: Duration = Duration::from_secs(120);

/// `{'interval': 600}` and `{'interval': 3600, 'repeat': 5}` as rq-scheduler pickles
/// them; intervals longer than any round, so no job falls due twice on a slow machine.
const INTERVAL_META: &str = "80059512000000000000007d948c08696e74657276616c944d5802732e";
const REPEAT_META: &str =
    "8005951e000000000000007d94288c08696e74657276616c944d100e8c06726570656174944b05752e";
const REPEAT_META_AFTER_ONE_RUN: &str =
    "8005951e000000000000007d94288c08696e74657276616c944d100e8c06726570656174944b04752e";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

type Seeded = (Vec<String>, Vec<String>, Vec<String>);

/// Schedules `n` due one-off jobs plus interval and repeat jobs, ids starting with
/// `prefix`; returns every id.
async fn seed(store: &Jobs, n: usize, prefix: &str) -> Seeded {
    let past = (now_secs() - 60) as f64;
    let mut once = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}once-{i:05}");
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
        let id = format!("{prefix}every-{i:03}");
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
        let id = format!("{prefix}repeat-{i:03}");
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
    store: &Jobs,
    (once, interval, repeat): &Seeded,
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

async fn nothing_due(store: &Jobs) -> bool {
    store.count(Some((now_secs() - 1) as f64)).await.unwrap() == 0
}

/// rqs is killed (SIGKILL) at random instants while it moves jobs. The test goes on
/// until it has seen at least ten kills that interrupted a pass (jobs still due after
/// the kill), seeding a fresh round of jobs whenever one instance finished a round
/// before its kill, so the interruption is observed, not hoped for.
#[tokio::test]
async fn kill_9_at_any_instant_never_loses_or_duplicates() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    let mut rng = Rng::from_env("kill_9_at_any_instant_never_loses_or_duplicates");
    let url = server.url();
    let mut rounds = vec![seed(&store, 3000, "r0-").await];
    let (mut kills, mut interrupted) = (0, 0);
    while interrupted < 10 || !nothing_due(&store).await {
        if nothing_due(&store).await {
            let prefix = format!("r{}-", rounds.len());
            rounds.push(seed(&store, 600, &prefix).await);
        }
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
        if !nothing_due(&store).await {
            interrupted += 1;
        }
        // The killed instance's lease would expire after 5 s; a dead process cannot
        // object to losing it sooner.
        let _: i64 = q(&conn, redis::cmd("DEL").arg("rq:scheduler_lock")).await;
        assert!(kills < 2_000, "no progress after {kills} restarts");
    }
    eprintln!(
        "killed rqs {kills} times, {interrupted} of them mid-pass, over {} rounds",
        rounds.len()
    );
    let mut all: Seeded = Default::default();
    for (once, interval, repeat) in rounds.iter().cloned() {
        all.0.extend(once);
        all.1.extend(interval);
        all.2.extend(repeat);
    }
    assert_exactly_once(&conn, &store, &all).await;
}

/// Three real daemons with a lock deleted every 2 ms, so that several act at once. The
/// scenario repeats on fresh jobs until at least two instances have moved jobs in the
/// same round (at most ten rounds); whatever the interleaving, nothing is duplicated.
/// `races::instances_that_all_think_they_are_active_never_duplicate` forces the overlap
/// deterministically through a seam.
#[tokio::test]
async fn several_active_instances_never_duplicate() {
    for round in 1..=10 {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let store = Jobs::new(conn.clone());
        let jobs = seed(&store, 3000, "").await;
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
                    "0.05",
                    "--batch-size",
                    "10",
                    "--peek-interval",
                    "0.05",
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
            .filter(|d| d.log().contains("handed over a batch"))
            .count();
        drop(daemons);
        assert_exactly_once(&conn, &store, &jobs).await;
        if active >= 2 {
            eprintln!("round {round}: {active} instances moved jobs");
            return;
        }
        eprintln!("round {round}: only {active} instance moved jobs; again");
    }
    panic!("ten rounds without two instances moving jobs at once");
}

/// A client cancels or reschedules jobs while the real daemon moves them, from the end
/// of the schedule (what the daemon reaches last), so the two meet. The scenario repeats
/// on a fresh server until both a client win and a daemon win were seen (at most ten
/// rounds); in every round, each job ends exactly as the side that won left it.
/// `races::a_client_acting_inside_the_hand_off_window_always_wins` makes the race happen
/// on every batch through a seam.
#[tokio::test]
async fn a_client_racing_the_daemon_wins_cleanly() {
    let mut rng = Rng::from_env("a_client_racing_the_daemon_wins_cleanly");
    for round in 1..=10 {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let store = Jobs::new(conn.clone());
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
        let future = (now_secs() + 3600) as f64;
        let mut cancelled = HashSet::new();
        let mut moved = HashSet::new();
        let mut too_late = 0;
        for id in ids.iter().rev() {
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
        let client_won = cancelled.len() + moved.len();
        if client_won > 0 && too_late > 0 {
            eprintln!("round {round}: client won {client_won}, daemon won {too_late}");
            return;
        }
        eprintln!(
            "round {round}: no race ({client_won} client wins, {too_late} daemon wins); again"
        );
    }
    panic!("ten rounds without a client and the daemon meeting");
}

#[tokio::test]
async fn redis_restarting_under_a_running_daemon_loses_nothing() {
    let mut server = RedisServer::start_with(ServerOptions::persistent());
    let mut d = Daemon::start(&["-u", &server.url(), "-i", "1"]);
    let mut all = Vec::new();
    for round in 0..3 {
        // A fresh client each round: the test's own connection saw the crash too.
        let store = Jobs::new(server.connection().await);
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
    // rqs survived the restarts.
    d.assert_running();
    let conn = server.connection().await;
    let counts = queue_counts(&conn, "default").await;
    for id in &all {
        assert_eq!(counts.get(id), Some(&1), "{id}");
    }
    assert_eq!(counts.len(), all.len());
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
}

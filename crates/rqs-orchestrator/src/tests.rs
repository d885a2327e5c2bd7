//! Unit tests of the loop's logic with mocked components and paused Tokio time.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mockall::Sequence;
use rqs_core::{Action, Enqueue, EnqueueOptions, JobHash, Outcome, ScheduledJob};
use rqs_lifecycle::MockLifecycleRegistry;
use rqs_lock::MockLockProvider;
use rqs_sink::MockQueueSink;
use rqs_store::MockJobStore;
use tokio::time::Instant;

use crate::{Error, Scheduler, SchedulerConfig, TokioClock};

type TestScheduler =
    Scheduler<MockJobStore, MockQueueSink, MockLockProvider, MockLifecycleRegistry>;

fn origin() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

fn job(id: &str, score: f64) -> ScheduledJob {
    ScheduledJob {
        id: id.into(),
        score,
        hash: Some(JobHash::from_pairs([("data", "x"), ("origin", "default")])),
    }
}

fn sink() -> MockQueueSink {
    let mut sink = MockQueueSink::new();
    sink.expect_prepare()
        .returning(|job, now| Enqueue::for_job(job, now, &EnqueueOptions::default()));
    sink
}

/// A lifecycle that accepts birth, heartbeats and death any number of times.
fn lifecycle() -> MockLifecycleRegistry {
    let mut r = MockLifecycleRegistry::new();
    r.expect_register_birth().returning(|_, _, _| Ok(()));
    r.expect_heartbeat().returning(|_, _| Ok(true));
    r.expect_register_death().returning(|_, _| Ok(()));
    r
}

/// A lock that is always ours.
fn free_lock() -> MockLockProvider {
    let mut l = MockLockProvider::new();
    l.expect_acquire().returning(|_, _| Ok(true));
    l.expect_renew().returning(|_, _| Ok(true));
    l.expect_release().returning(|_| Ok(true));
    l
}

fn scheduler(
    store: MockJobStore,
    lock: MockLockProvider,
    lifecycle: MockLifecycleRegistry,
    config: SchedulerConfig,
) -> TestScheduler {
    Scheduler::new(store, sink(), lock, lifecycle, config)
        .with_clock(Arc::new(TokioClock::starting_at(origin())))
}

fn pushed(n: usize) -> Vec<Outcome> {
    vec![Outcome::Pushed; n]
}

#[tokio::test(start_paused = true)]
async fn burst_moves_due_jobs_in_order_then_releases_and_dies() {
    let mut seq = Sequence::new();
    let token = Arc::new(Mutex::new(String::new()));
    let mut lifecycle = MockLifecycleRegistry::new();
    let mut lock = MockLockProvider::new();
    let mut store = MockJobStore::new();

    lifecycle
        .expect_register_birth()
        .withf(|name, at, ttl| name == "n1" && *at == origin() && *ttl == Duration::from_secs(70))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    lifecycle
        .expect_heartbeat()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    let t = token.clone();
    lock.expect_acquire()
        .withf(|_, ttl| *ttl == Duration::from_secs(70))
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |tok, _| {
            *t.lock().unwrap() = tok.to_owned();
            Ok(true)
        });
    store
        .expect_due()
        .withf(|until, limit| *until == 1_800_000_000.0 && *limit == 500)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![job("a", 1.0), job("b", 2.0)]));
    store
        .expect_commit()
        .withf(|batch| {
            batch.len() == 2
                && batch[0].job_id == "a"
                && batch[1].job_id == "b"
                && batch[0].read_score == 1.0
                && batch
                    .iter()
                    .all(|h| matches!(&h.action, Action::Enqueue { next: None, .. }))
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    let t = token.clone();
    lock.expect_release()
        .withf(move |tok| *tok == *t.lock().unwrap())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(true));
    lifecycle
        .expect_register_death()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(()));

    let s = scheduler(
        store,
        lock,
        lifecycle,
        SchedulerConfig::new("n1").burst(true),
    );
    let stats = s.run(std::future::pending()).await.unwrap();
    assert_eq!(stats.pushed, 2);
    assert_eq!(stats.batches, 1);
    assert!(token.lock().unwrap().starts_with("n1@"));
}

#[tokio::test(start_paused = true)]
async fn burst_waits_for_the_lock_like_rqscheduler() {
    let mut lock = MockLockProvider::new();
    let attempts = Arc::new(Mutex::new(0));
    let a = attempts.clone();
    lock.expect_acquire().returning(move |_, _| {
        let mut n = a.lock().unwrap();
        *n += 1;
        Ok(*n >= 3)
    });
    lock.expect_holder()
        .times(2)
        .returning(|| Ok(Some("1795804932.2265215".into())));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let mut store = MockJobStore::new();
    let started = Instant::now();
    store.expect_due().times(1).returning(move |_, _| {
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(2 * 5),
            "tried every interval"
        );
        Ok(vec![])
    });
    let config = SchedulerConfig::new("n")
        .burst(true)
        .interval(Duration::from_secs(5));
    scheduler(store, lock, lifecycle(), config)
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(*attempts.lock().unwrap(), 3);
}

#[tokio::test(start_paused = true)]
async fn refuses_to_start_when_the_name_is_alive() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle
        .expect_register_birth()
        .times(1)
        .returning(|n, _, _| Err(rqs_lifecycle::Error::AlreadyActive(n.to_owned())));
    // No lock, store or death expectations: touching them fails the test.
    let s = scheduler(
        MockJobStore::new(),
        MockLockProvider::new(),
        lifecycle,
        SchedulerConfig::new("busy"),
    );
    let err = s.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyActive(ref n) if n == "busy"),
        "{err:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_sleep_releases_the_lock_and_registers_death() {
    let mut store = MockJobStore::new();
    store.expect_due().returning(|_, _| Ok(vec![]));
    store.expect_next_due().returning(|| Ok(None));
    let mut lock = MockLockProvider::new();
    lock.expect_acquire().times(1).returning(|_, _| Ok(true));
    // Woken every peek (1 s) for 10 s: about ten renewals keep the lease.
    lock.expect_renew().times(9..=10).returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle
        .expect_register_birth()
        .times(1)
        .returning(|_, _, _| Ok(()));
    lifecycle
        .expect_heartbeat()
        .times(10..=11)
        .returning(|_, _| Ok(true));
    lifecycle
        .expect_register_death()
        .times(1)
        .returning(|_, _| Ok(()));
    let started = Instant::now();
    scheduler(store, lock, lifecycle, SchedulerConfig::new("n"))
        .run(tokio::time::sleep(Duration::from_millis(10_500)))
        .await
        .unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(10_500),
        "stops at once"
    );
}

/// Runs a daemon for 9 s of paused time with an empty schedule whose head is due at
/// `next_due`, and a one-minute peek; returns (elapsed, until) of every `due` call.
async fn due_calls_with_head_at(next_due: f64) -> Vec<(Duration, f64)> {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let started = Instant::now();
    let mut store = MockJobStore::new();
    store.expect_due().returning(move |until, _| {
        c.lock().unwrap().push((started.elapsed(), until));
        Ok(vec![])
    });
    store
        .expect_next_due()
        .returning(move || Ok(Some(next_due)));
    let config = SchedulerConfig::new("n").peek_interval(Duration::from_secs(60));
    scheduler(store, free_lock(), lifecycle(), config)
        .run(tokio::time::sleep(Duration::from_secs(9)))
        .await
        .unwrap();
    calls.lock().unwrap().clone()
}

#[tokio::test(start_paused = true)]
async fn wakes_exactly_at_the_next_due_time() {
    assert_eq!(
        due_calls_with_head_at(1_800_000_007.0).await,
        [
            (Duration::ZERO, 1_800_000_000.0),
            (Duration::from_secs(7), 1_800_000_007.0)
        ],
        "woken at the due second, then back to the peek cadence"
    );
}

#[tokio::test(start_paused = true)]
async fn a_fractional_score_wakes_at_the_second_it_becomes_due() {
    // rq-scheduler writes whole seconds, but another writer may not: 7.25 is due at 8.
    assert_eq!(
        due_calls_with_head_at(1_800_000_007.25).await,
        [
            (Duration::ZERO, 1_800_000_000.0),
            (Duration::from_secs(8), 1_800_000_008.0)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_lock_stops_the_pass_between_batches() {
    let mut store = MockJobStore::new();
    let mut seq = Sequence::new();
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![job("a", 1.0), job("b", 1.0)]));
    store
        .expect_commit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(vec![]));
    let mut lock = MockLockProvider::new();
    lock.expect_acquire().times(2).returning(|_, _| Ok(true));
    lock.expect_renew().times(1).returning(|_, _| Ok(false));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let config = SchedulerConfig::new("n").burst(true).batch_size(2);
    let stats = scheduler(store, lock, lifecycle(), config)
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(stats.pushed, 2);
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_backoff() {
    let mut store = MockJobStore::new();
    let mut seq = Sequence::new();
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Err(rqs_store::Error::Unavailable("connection reset".into())));
    let started = Instant::now();
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _| {
            assert_eq!(started.elapsed(), Duration::from_millis(200));
            Ok(vec![job("a", 1.0)])
        });
    store
        .expect_commit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    let stats = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(stats.pushed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_non_transient_error_ends_a_burst() {
    let mut store = MockJobStore::new();
    store
        .expect_due()
        .times(1)
        .returning(|_, _| Err(rqs_store::Error::Backend("WRONGTYPE".into())));
    let err = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
}

#[tokio::test(start_paused = true)]
async fn missing_jobs_are_unscheduled_and_unreadable_ones_quarantined() {
    let mut store = MockJobStore::new();
    let mut corrupt = job("corrupt", 2.0);
    if let Some(h) = corrupt.hash.as_mut() {
        h.set("ttl", "soon");
    }
    let missing = ScheduledJob {
        id: "missing".into(),
        score: 1.0,
        hash: None,
    };
    store
        .expect_due()
        .times(1)
        .returning(move |_, _| Ok(vec![missing.clone(), corrupt.clone(), job("ok", 3.0)]));
    store
        .expect_commit()
        .withf(|b| {
            matches!(b[0].action, Action::Unschedule { .. })
                && matches!(&b[1].action, Action::Quarantine { reason, at }
                    if reason.contains("ttl") && *at == 1_800_000_000)
                && matches!(b[2].action, Action::Enqueue { .. })
        })
        .times(1)
        .returning(|_| {
            Ok(vec![
                Outcome::Unscheduled,
                Outcome::Quarantined,
                Outcome::Pushed,
            ])
        });
    let stats = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(
        (stats.unscheduled, stats.quarantined, stats.pushed),
        (1, 1, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_between_batches_finishes_the_batch_in_flight() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let mut store = MockJobStore::new();
    store
        .expect_due()
        .times(1)
        .returning(|_, _| Ok(vec![job("a", 1.0)]));
    store.expect_commit().times(1).returning(move |b| {
        // Shutdown arrives while the batch is being committed.
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
        Ok(pushed(b.len()))
    });
    let config = SchedulerConfig::new("n").batch_size(1);
    let stats = scheduler(store, free_lock(), lifecycle(), config)
        .run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    assert_eq!(stats.pushed, 1);
}

#[tokio::test(start_paused = true)]
async fn an_expired_instance_record_is_registered_again() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle
        .expect_register_birth()
        .times(2)
        .returning(|_, _, _| Ok(()));
    lifecycle
        .expect_heartbeat()
        .times(1)
        .returning(|_, _| Ok(false));
    lifecycle
        .expect_register_death()
        .times(1)
        .returning(|_, _| Ok(()));
    let mut store = MockJobStore::new();
    store.expect_due().returning(|_, _| Ok(vec![]));
    scheduler(
        store,
        free_lock(),
        lifecycle,
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_name_clash_at_re_birth_ends_the_run_as_at_first_birth() {
    for burst in [true, false] {
        let mut seq = Sequence::new();
        let mut lifecycle = MockLifecycleRegistry::new();
        lifecycle
            .expect_register_birth()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        lifecycle
            .expect_heartbeat()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(false));
        lifecycle
            .expect_register_birth()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|name, _, _| Err(rqs_lifecycle::Error::AlreadyActive(name.to_owned())));
        // The record now belongs to the other instance: no death is written over it.
        lifecycle.expect_register_death().times(0);
        let err = scheduler(
            MockJobStore::new(),
            free_lock(),
            lifecycle,
            SchedulerConfig::new("twin").burst(burst),
        )
        .run(std::future::pending())
        .await
        .unwrap_err();
        assert!(
            matches!(err, Error::AlreadyActive(ref n) if n == "twin"),
            "burst={burst}: {err:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_batch_that_makes_no_progress_does_not_spin() {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let started = Instant::now();
    let mut store = MockJobStore::new();
    store.expect_due().returning(move |_, _| {
        c.lock().unwrap().push(started.elapsed());
        Ok(vec![job("raced", 1.0)])
    });
    store
        .expect_commit()
        .returning(|b| Ok(vec![Outcome::Stale; b.len()]));
    scheduler(store, free_lock(), lifecycle(), SchedulerConfig::new("n"))
        .run(tokio::time::sleep(Duration::from_millis(2_500)))
        .await
        .unwrap();
    let calls = calls.lock().unwrap();
    assert_eq!(
        *calls,
        [
            Duration::ZERO,
            Duration::from_secs(1),
            Duration::from_secs(2)
        ],
        "retried once per peek, not in a tight loop"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_is_taken_again_at_once_when_free() {
    let mut lock = MockLockProvider::new();
    let mut seq = Sequence::new();
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    // The key vanished (say, Redis restarted without persistence): renew fails...
    lock.expect_renew()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(false));
    // ...and the instance takes it again in the same wake-up, not an interval later.
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    lock.expect_renew().returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let calls = Arc::new(Mutex::new(Vec::new()));
    let c = calls.clone();
    let started = Instant::now();
    let mut store = MockJobStore::new();
    store.expect_due().returning(move |_, _| {
        c.lock().unwrap().push(started.elapsed());
        Ok(vec![])
    });
    store.expect_next_due().returning(|| Ok(None));
    scheduler(store, lock, lifecycle(), SchedulerConfig::new("n"))
        .run(tokio::time::sleep(Duration::from_millis(1_500)))
        .await
        .unwrap();
    assert_eq!(
        *calls.lock().unwrap(),
        [Duration::ZERO, Duration::from_secs(1)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_lock_under_our_own_token_is_ours() {
    let token = Arc::new(Mutex::new(String::new()));
    let mut lock = MockLockProvider::new();
    let t = token.clone();
    // The SET NX went through but its reply was lost: the key carries our token.
    lock.expect_acquire().times(1).returning(move |tok, _| {
        *t.lock().unwrap() = tok.to_owned();
        Ok(false)
    });
    let t = token.clone();
    lock.expect_holder()
        .times(1)
        .returning(move || Ok(Some(t.lock().unwrap().clone())));
    lock.expect_renew().times(1).returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let mut store = MockJobStore::new();
    store
        .expect_due()
        .times(1)
        .returning(|_, _| Ok(vec![job("a", 1.0)]));
    store
        .expect_commit()
        .times(1)
        .returning(|b| Ok(pushed(b.len())));
    let stats = scheduler(
        store,
        lock,
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(stats.pushed, 1);
}

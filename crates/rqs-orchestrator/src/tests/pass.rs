//! Passes: order, wake-ups at the due second, decisions, shutdown between batches, stuck jobs.

use crate::{Error, SchedulerConfig, TokioClock};
use mockall::Sequence;
use rqs_core::{Action, BackendError, JobHash, Outcome, QuarantineKind, ScheduledJob};
use rqs_lifecycle::MockLifecycleRegistry;
use rqs_lock::MockLockProvider;
use rqs_store::MockJobStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use super::*;

#[tokio::test(start_paused = true)]
async fn burst_moves_due_jobs_in_order_then_releases_and_dies() {
    let mut seq = Sequence::new();
    let token = Arc::new(Mutex::new(String::new()));
    let mut lifecycle = MockLifecycleRegistry::new();
    let mut lock = MockLockProvider::new();
    let mut store = MockJobStore::new();

    lifecycle
        .expect_instances()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .withf(|name, at, ttl| name == "n1" && *at == origin() && *ttl == Duration::from_secs(70))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    let t = token.clone();
    lock.expect_acquire()
        .withf(|_, ttl| *ttl == Duration::from_secs(5))
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |tok, _| {
            *t.lock().unwrap() = tok.to_owned();
            Ok(true)
        });
    store
        .expect_count()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(2));
    store
        .expect_next_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(Some(1.0)));
    store
        .expect_due()
        .withf(|until, offset, limit| *until == 1_800_000_000.0 && *offset == 0 && *limit == 200)
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![job("a", 1.0), job("b", 2.0)]));
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
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![]));
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

    let recorder = Arc::new(Recorder::default());
    let s = scheduler(
        store,
        lock,
        lifecycle,
        SchedulerConfig::new("n1").burst(true),
    )
    .with_observer(recorder.clone());
    let stats = s.run(std::future::pending()).await.unwrap();
    assert_eq!(stats.pushed, 2);
    assert_eq!(stats.batches, 1);
    assert!(token.lock().unwrap().starts_with("n1@"));
    assert_eq!(
        *recorder.0.lock().unwrap(),
        [
            "born n1",
            "active Some(2)",
            "job a pushed rescheduled=false None late=1799999999s",
            "job b pushed rescheduled=false None late=1799999998s",
            "batch pushed=2",
            "down Shutdown",
            "stopped pushed=2",
        ]
    );
}

/// Runs a daemon for 9 s of paused time with an empty schedule whose head is due at
/// `next_due`, and a one-minute peek; returns (elapsed, until) of every `due` call.
async fn due_calls_with_head_at(next_due: f64) -> Vec<(Duration, f64)> {
    let script = scripted(vec![], Some(next_due));
    let config = SchedulerConfig::new("n")
        .peek_interval(Duration::from_secs(60))
        .heartbeat_every(Duration::from_secs(60))
        .lease(Duration::from_secs(120));
    scheduler(script.store, free_lock(), lifecycle(), config)
        .run(tokio::time::sleep(Duration::from_secs(9)))
        .await
        .unwrap();
    let calls = script.calls.lock().unwrap();
    calls.iter().map(|(at, until, _)| (*at, *until)).collect()
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
async fn a_non_transient_error_ends_a_burst_and_keeps_the_counts_so_far() {
    let mut store = MockJobStore::new();
    let mut seq = Sequence::new();
    store.expect_count().returning(|_| Ok(0));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![job("a", 1.0)]));
    store
        .expect_commit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(BackendError::Other("WRONGTYPE".into())));
    store.expect_next_due().returning(|| Ok(None));
    let recorder = Arc::new(Recorder::default());
    let err = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    assert_eq!(
        recorder.0.lock().unwrap().last().unwrap(),
        "stopped pushed=1",
        "the committed batch still counts"
    );
}

#[tokio::test(start_paused = true)]
async fn missing_jobs_are_unscheduled_and_unreadable_ones_quarantined() {
    let mut corrupt = job("corrupt", 2.0);
    if let Some(h) = corrupt.hash.as_mut() {
        h.set("ttl", "soon");
    }
    let missing = ScheduledJob::new("missing", 1.0, None);
    let mut script = scripted(vec![vec![missing, corrupt, job("ok", 3.0)]], None);
    script
        .store
        .expect_commit()
        .withf(|b| {
            matches!(b[0].action, Action::Unschedule { .. })
                && matches!(&b[1].action, Action::Quarantine { reason, at, kind: QuarantineKind::InvalidField }
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
    let recorder = Arc::new(Recorder::default());
    let stats = scheduler(
        script.store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(
        (stats.unscheduled, stats.quarantined, stats.pushed),
        (1, 1, 1)
    );
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|e| e.starts_with("job corrupt quarantined rescheduled=false Some(InvalidField)"))
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_between_batches_finishes_the_batch_in_flight() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = Mutex::new(Some(tx));
    let mut script = scripted(vec![vec![job("a", 1.0)], vec![job("b", 1.0)]], None);
    script.store.expect_commit().times(1).returning(move |b| {
        // Shutdown arrives while the batch is being committed.
        if let Some(tx) = tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
        Ok(pushed(b.len()))
    });
    let config = SchedulerConfig::new("n").batch_size(1);
    let stats = scheduler(script.store, free_lock(), lifecycle(), config)
        .run(async {
            let _ = rx.await;
        })
        .await
        .unwrap();
    assert_eq!(stats.pushed, 1);
}

/// Jobs that keep coming back stale or with a changed meta do not block the jobs behind
/// them, do not make the loop spin, and go to the quarantine after `stuck_limit` passes,
/// with one warning each.
#[tokio::test(start_paused = true)]
async fn stuck_jobs_are_skipped_then_quarantined_without_spinning() {
    #[derive(Default)]
    struct Fake {
        stuck_gone: bool,
        behind_gone: bool,
        reads: Vec<(u64, usize)>,
    }
    let fake = Arc::new(Mutex::new(Fake::default()));
    let started = Instant::now();
    let mut store = MockJobStore::new();
    store.expect_count().returning(|_| Ok(0));
    let f = fake.clone();
    store
        .expect_next_due()
        .returning(move || Ok((!f.lock().unwrap().stuck_gone).then_some(1.0)));
    // Two stuck jobs at the head, one movable job behind them.
    let f = fake.clone();
    store.expect_due().returning(move |_, offset, limit| {
        let mut fake = f.lock().unwrap();
        fake.reads.push((started.elapsed().as_secs(), offset));
        let mut all = Vec::new();
        if !fake.stuck_gone {
            all.extend([job("stuck-1", 1.0), job("stuck-2", 1.0)]);
        }
        if !fake.behind_gone {
            all.push(job("behind", 2.0));
        }
        Ok(all.into_iter().skip(offset).take(limit).collect())
    });
    let f = fake.clone();
    store.expect_commit().returning(move |batch| {
        let mut fake = f.lock().unwrap();
        Ok(batch
            .iter()
            .map(|h| match (&h.action, h.job_id.to_str()) {
                (Action::Quarantine { .. }, _) => {
                    fake.stuck_gone = true;
                    Outcome::Quarantined
                }
                (_, Some("behind")) => {
                    fake.behind_gone = true;
                    Outcome::Pushed
                }
                (_, Some("stuck-2")) => Outcome::MetaChanged,
                _ => Outcome::Stale,
            })
            .collect())
    });
    let recorder = Arc::new(Recorder::default());
    let warnings = Captured::default();
    let writer = warnings.clone();
    let _logs = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish(),
    );
    let config = SchedulerConfig::new("n").batch_size(2);
    scheduler(store, free_lock(), lifecycle(), config)
        .with_observer(recorder.clone())
        .run(tokio::time::sleep(Duration::from_millis(7_500)))
        .await
        .unwrap();
    let fake = fake.lock().unwrap();
    assert!(fake.behind_gone, "the job behind the stuck ones moved");
    assert!(fake.stuck_gone, "the stuck jobs were quarantined");
    // The first pass reads the head, then past it; every later pass starts one second
    // after the previous one, never sooner.
    assert_eq!(fake.reads[..3], [(0, 0), (0, 2), (0, 2)]);
    let passes: Vec<u64> = fake
        .reads
        .iter()
        .filter(|(_, offset)| *offset == 0)
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(passes, [0, 1, 2, 3, 4, 5, 5, 6, 7], "{:?}", fake.reads);
    let events = recorder.0.lock().unwrap();
    let stuck: Vec<_> = events
        .iter()
        .filter(|e| e.contains("quarantined rescheduled=false Some(Stuck)"))
        .collect();
    assert_eq!(stuck.len(), 2, "{events:?}");
    let warnings = String::from_utf8(warnings.0.lock().unwrap().clone()).unwrap();
    for id in ["stuck-1", "stuck-2"] {
        let lines: Vec<_> = warnings.lines().filter(|l| l.contains(id)).collect();
        assert_eq!(lines.len(), 1, "one warning for {id}: {warnings}");
        assert!(lines[0].contains("5 passes in a row"), "{}", lines[0]);
    }
}

#[tokio::test(start_paused = true)]
async fn the_in_memory_bundle_runs_a_scheduler() {
    use rqs_store::JobAdmin;

    let parts = crate::memory::InMemory::new();
    let hash = JobHash::from_pairs([("data", "x"), ("origin", "reports")]);
    parts
        .store
        .schedule(&"r1".into(), &hash, 1.0)
        .await
        .unwrap();
    let stats = parts
        .scheduler(SchedulerConfig::new("bundle").burst(true))
        .with_clock(Arc::new(TokioClock::starting_at(origin())))
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(stats.pushed, 1);
    assert_eq!(parts.queue("reports"), ["r1"]);
    assert_eq!(parts.store.score(&"r1".into()).await.unwrap(), None);
}

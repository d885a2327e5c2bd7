//! Unit tests of the loop's logic with mocked components and paused Tokio time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use mockall::Sequence;
use rqs_core::{
    Action, BackendError, Enqueue, EnqueueOptions, JobHash, Outcome, QuarantineKind, ScheduledJob,
};
use rqs_lifecycle::{InstanceRecord, MockLifecycleRegistry};
use rqs_lock::MockLockProvider;
use rqs_sink::MockQueueSink;
use rqs_store::MockJobStore;
use tokio::time::Instant;

use crate::{Error, Event, Observer, Scheduler, SchedulerConfig, TokioClock};

type TestScheduler =
    Scheduler<MockJobStore, MockQueueSink, MockLockProvider, MockLifecycleRegistry>;

fn origin() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

fn job(id: &str, score: f64) -> ScheduledJob {
    ScheduledJob::new(
        id,
        score,
        Some(JobHash::from_pairs([("data", "x"), ("origin", "default")])),
    )
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
    r.expect_instances().returning(|| Ok(vec![]));
    r.expect_register_birth().returning(|_, _, _| Ok(()));
    r.expect_heartbeat().returning(|_, _, _| Ok(true));
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

/// A store whose `due` hands out `batches` in turn (ignoring its arguments), then
/// nothing, and records every call as (elapsed, until, offset).
struct Script {
    store: MockJobStore,
    calls: Arc<Mutex<Vec<(Duration, f64, usize)>>>,
}

fn scripted(batches: Vec<Vec<ScheduledJob>>, next_due: Option<f64>) -> Script {
    let calls = Arc::new(Mutex::new(Vec::new()));
    let queue = Mutex::new(VecDeque::from(batches));
    let started = Instant::now();
    let mut store = MockJobStore::new();
    let c = calls.clone();
    store.expect_due().returning(move |until, offset, _| {
        c.lock().unwrap().push((started.elapsed(), until, offset));
        Ok(queue.lock().unwrap().pop_front().unwrap_or_default())
    });
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(move || Ok(next_due));
    Script { store, calls }
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

/// Records the events it sees, as short strings.
#[derive(Debug, Default)]
struct Recorder(Mutex<Vec<String>>);

impl Observer for Recorder {
    fn observe(&self, event: &Event<'_>) {
        let line = match event {
            Event::Born { name } => format!("born {name}"),
            Event::Active { scheduled, .. } => format!("active {scheduled:?}"),
            Event::SteppedDown { reason } => format!("down {reason:?}"),
            Event::HandedOff {
                job,
                outcome,
                rescheduled,
                quarantine,
                lateness,
                ..
            } => format!(
                "job {job} {outcome} rescheduled={rescheduled} {quarantine:?} late={}s",
                lateness.as_secs()
            ),
            Event::Batch { stats, .. } => format!("batch pushed={}", stats.pushed),
            Event::Idle { next_due } => format!("idle {next_due:?}"),
            Event::Error { error } => format!("error {}", error.kind()),
            Event::Stopped { total } => format!("stopped pushed={}", total.pushed),
            Event::BackendDown { error } => format!("outage {}", error.kind()),
            Event::BackendBack { .. } => "back".to_owned(),
            // Every turn and every renewal: too many to list; tests that need them
            // count them apart.
            Event::Tick | Event::LeaseRenewed { .. } => return,
        };
        self.0.lock().unwrap().push(line);
    }
}

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

#[tokio::test(start_paused = true)]
async fn a_standby_retries_the_lock_every_second_quietly() {
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
    let script = scripted(vec![], None);
    let config = SchedulerConfig::new("n")
        .burst(true)
        .interval(Duration::from_secs(5));
    scheduler(script.store, lock, lifecycle(), config)
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(*attempts.lock().unwrap(), 3);
    assert_eq!(
        script.calls.lock().unwrap()[0].0,
        Duration::from_secs(2),
        "tried every second"
    );
}

#[tokio::test(start_paused = true)]
async fn refuses_to_start_when_the_name_stays_alive() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    let tries = Arc::new(Mutex::new(0));
    let t = tries.clone();
    lifecycle.expect_register_birth().returning(move |n, _, _| {
        *t.lock().unwrap() += 1;
        Err(BackendError::AlreadyActive(n.to_owned()))
    });
    // No lock, store or death expectations: touching them fails the test.
    let s = scheduler(
        MockJobStore::new(),
        MockLockProvider::new(),
        lifecycle,
        SchedulerConfig::new("busy"),
    );
    let started = Instant::now();
    let err = s.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyActive(ref n) if n == "busy"),
        "{err:?}"
    );
    // Tried every half second for as long as a crashed instance's heartbeat takes to
    // go stale (and a margin), then refused: the holder kept beating.
    let waited = started.elapsed();
    let stale = rqs_lifecycle::STALE_AFTER;
    assert!(
        waited >= stale && waited <= stale + Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(*tries.lock().unwrap() >= 10, "{}", tries.lock().unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_crashed_instance_of_the_same_name_is_waited_out_not_refused() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    let mut seq = Sequence::new();
    // The record of the crashed instance goes stale after three refusals.
    lifecycle
        .expect_register_birth()
        .times(3)
        .in_sequence(&mut seq)
        .returning(|n, _, _| Err(BackendError::AlreadyActive(n.to_owned())));
    lifecycle
        .expect_register_birth()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    scheduler(
        script.store,
        free_lock(),
        lifecycle,
        SchedulerConfig::new("again").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(1_500));
    assert_eq!(recorder.0.lock().unwrap()[0], "born again");
}

#[tokio::test(start_paused = true)]
async fn a_birth_while_redis_is_unavailable_is_retried() {
    let mut lifecycle = MockLifecycleRegistry::new();
    let mut seq = Sequence::new();
    lifecycle
        .expect_instances()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|| Err(BackendError::Unavailable("loading".into())));
    lifecycle
        .expect_instances()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let started = Instant::now();
    let recorder = Arc::new(Recorder::default());
    scheduler(
        script.store,
        free_lock(),
        lifecycle,
        SchedulerConfig::new("n").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap();
    // Two waits of the retry period plus up to half of it, not a growing backoff.
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(500)..=Duration::from_millis(750)).contains(&waited),
        "{waited:?}"
    );
    let events = recorder.0.lock().unwrap();
    assert_eq!(
        events[..5],
        [
            "error unavailable",
            "outage unavailable",
            "error unavailable",
            "back",
            "born n"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_name_is_refused_before_any_call() {
    for name in ["", "has space", "new\nline", &"n".repeat(65)] {
        let s = scheduler(
            MockJobStore::new(),
            MockLockProvider::new(),
            MockLifecycleRegistry::new(),
            SchedulerConfig::new(name),
        );
        let err = s.run(std::future::pending()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{name:?}: {err:?}");
    }
}

fn python_instance() -> Vec<(String, InstanceRecord)> {
    let mut record = InstanceRecord::default();
    record.birth = Some("1795804227.8".into());
    vec![("python-one".to_owned(), record)]
}

#[tokio::test(start_paused = true)]
async fn a_live_python_scheduler_is_refused_in_exclusive_mode() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle
        .expect_instances()
        .times(1)
        .returning(|| Ok(python_instance()));
    let s = scheduler(
        MockJobStore::new(),
        MockLockProvider::new(),
        lifecycle,
        SchedulerConfig::new("n").exclusive(true),
    );
    let err = s.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(&err, Error::ForeignScheduler(names) if names == &["python-one"]),
        "{err:?}"
    );
    // Without --exclusive it is only a warning.
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle
        .expect_instances()
        .returning(|| Ok(python_instance()));
    lifecycle
        .expect_register_birth()
        .returning(|_, _, _| Ok(()));
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    scheduler(
        script.store,
        free_lock(),
        lifecycle,
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_sleep_releases_the_lock_and_registers_death() {
    let script = scripted(vec![], None);
    let mut lock = MockLockProvider::new();
    lock.expect_acquire().times(1).returning(|_, _| Ok(true));
    // Woken every second for 10 s; the 5 s lease is renewed once half of it is gone.
    lock.expect_renew().times(3..=4).returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .times(1)
        .returning(|_, _, _| Ok(()));
    // A heartbeat every second (so that a crash is seen within seconds): the wake-ups
    // at 1 s .. 10 s.
    lifecycle
        .expect_heartbeat()
        .times(10)
        .returning(|_, _, _| Ok(true));
    lifecycle
        .expect_register_death()
        .times(1)
        .returning(|_, _| Ok(()));
    let started = Instant::now();
    scheduler(script.store, lock, lifecycle, SchedulerConfig::new("n"))
        .run(tokio::time::sleep(Duration::from_millis(10_500)))
        .await
        .unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(10_500),
        "stops at once"
    );
    assert_eq!(script.calls.lock().unwrap().len(), 11, "one read a second");
}

#[tokio::test(start_paused = true)]
async fn heartbeats_come_every_second_and_keep_the_record_alive() {
    let beats = Arc::new(Mutex::new(Vec::new()));
    let b = beats.clone();
    let started = Instant::now();
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .returning(|_, _, _| Ok(()));
    lifecycle
        .expect_heartbeat()
        .withf(|_, _, ttl| *ttl == Duration::from_secs(11))
        .returning(move |_, _, _| {
            b.lock().unwrap().push(started.elapsed().as_secs());
            Ok(true)
        });
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let config = SchedulerConfig::new("n").interval(Duration::from_secs(1));
    scheduler(script.store, free_lock(), lifecycle, config)
        .run(tokio::time::sleep(Duration::from_millis(12_500)))
        .await
        .unwrap();
    assert_eq!(*beats.lock().unwrap(), (1..=12).collect::<Vec<_>>());
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
async fn a_lost_lock_stops_the_pass_before_the_next_commit() {
    let mut store = MockJobStore::new();
    let mut seq = Sequence::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(None));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![job("a", 1.0), job("b", 1.0)]));
    store
        .expect_commit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    // The next batch is read after the lease is half gone: it must be renewed first,
    // and that fails, so this batch is never committed.
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![job("c", 1.0)]));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![]));
    let mut lock = MockLockProvider::new();
    let mut lseq = Sequence::new();
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut lseq)
        .returning(|_, _| Ok(true));
    lock.expect_renew()
        .times(1)
        .in_sequence(&mut lseq)
        .returning(|_, _| Ok(false));
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut lseq)
        .returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let recorder = Arc::new(Recorder::default());
    // A commit that takes 3 s of a 5 s lease.
    let slow = Slow {
        inner: store,
        read: Duration::ZERO,
        commit: Duration::from_secs(3),
    };
    let config = SchedulerConfig::new("n").burst(true).batch_size(2);
    let stats = Scheduler::new(slow, sink(), lock, lifecycle(), config)
        .with_clock(Arc::new(TokioClock::starting_at(origin())))
        .with_observer(recorder.clone())
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(stats.pushed, 2);
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .contains(&"down LostLock".to_owned()),
        "{:?}",
        recorder.0.lock().unwrap()
    );
}

/// A store whose reads and commits take time (paused time: no real waiting).
#[derive(Debug)]
struct Slow {
    inner: MockJobStore,
    /// After each read: the process is paused right after it (SIGSTOP).
    read: Duration,
    /// Before each commit.
    commit: Duration,
}

#[async_trait::async_trait]
impl rqs_store::JobStore for Slow {
    async fn due(
        &self,
        until: f64,
        offset: usize,
        limit: usize,
    ) -> rqs_store::Result<Vec<ScheduledJob>> {
        let jobs = self.inner.due(until, offset, limit).await;
        tokio::time::sleep(self.read).await;
        jobs
    }
    async fn next_due(&self) -> rqs_store::Result<Option<f64>> {
        self.inner.next_due().await
    }
    async fn count(&self, until: Option<f64>) -> rqs_store::Result<u64> {
        self.inner.count(until).await
    }
    async fn commit(&self, batch: &[rqs_core::HandOff]) -> rqs_store::Result<Vec<Outcome>> {
        tokio::time::sleep(self.commit).await;
        self.inner.commit(batch).await
    }
}

/// A pause longer than the lease (SIGSTOP) between the read and the commit: the instance
/// notices before it writes, and steps down with one event.
#[tokio::test(start_paused = true)]
async fn a_pause_longer_than_the_lease_steps_down_without_writing() {
    let mut store = MockJobStore::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(None));
    // The process is stopped right after this read (Slow's `read`).
    store
        .expect_due()
        .times(1)
        .returning(|_, _, _| Ok(vec![job("a", 1.0)]));
    store.expect_commit().times(0);
    let mut lock = MockLockProvider::new();
    lock.expect_acquire().times(1).returning(|_, _| Ok(true));
    lock.expect_renew().times(1).returning(|_, _| Ok(false));
    lock.expect_holder()
        .returning(|| Ok(Some("other@1.0".into())));
    lock.expect_acquire().returning(|_, _| Ok(false));
    let recorder = Arc::new(Recorder::default());
    let paused = Slow {
        inner: store,
        read: Duration::from_secs(8),
        commit: Duration::ZERO,
    };
    Scheduler::new(paused, sink(), lock, lifecycle(), SchedulerConfig::new("n"))
        .with_clock(Arc::new(TokioClock::starting_at(origin())))
        .with_observer(recorder.clone())
        .run(tokio::time::sleep(Duration::from_secs(10)))
        .await
        .unwrap();
    let events = recorder.0.lock().unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("down LeaseExpired"))
            .count(),
        1,
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e.starts_with("job ")), "{events:?}");
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_backoff() {
    let mut store = MockJobStore::new();
    let mut seq = Sequence::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(None));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(BackendError::Unavailable("connection reset".into())));
    let started = Instant::now();
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| {
            // The retry period (250 ms) plus at most half of it.
            let waited = started.elapsed();
            assert!(
                (Duration::from_millis(250)..=Duration::from_millis(375)).contains(&waited),
                "{waited:?}"
            );
            Ok(vec![job("a", 1.0)])
        });
    store
        .expect_commit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![]));
    let recorder = Arc::new(Recorder::default());
    let stats = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(stats.pushed, 1);
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .contains(&"error unavailable".to_owned())
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

#[tokio::test(start_paused = true)]
async fn an_expired_instance_record_is_registered_again() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .times(2)
        .returning(|_, _, _| Ok(()));
    // The record is gone at the first heartbeat (an outage outlived it), then kept.
    let mut first = true;
    lifecycle
        .expect_heartbeat()
        .times(1..)
        .returning(move |_, _, _| Ok(!std::mem::take(&mut first)));
    lifecycle
        .expect_register_death()
        .times(1)
        .returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let config = SchedulerConfig::new("n").interval(Duration::from_secs(1));
    scheduler(script.store, free_lock(), lifecycle, config)
        .run(tokio::time::sleep(Duration::from_millis(4_500)))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_name_clash_at_re_birth_ends_the_run_as_at_first_birth() {
    for burst in [true, false] {
        let mut seq = Sequence::new();
        let mut lifecycle = MockLifecycleRegistry::new();
        lifecycle.expect_instances().returning(|| Ok(vec![]));
        lifecycle
            .expect_register_birth()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        lifecycle
            .expect_heartbeat()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(false));
        lifecycle
            .expect_register_birth()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|name, _, _| Err(BackendError::AlreadyActive(name.to_owned())));
        // The record now belongs to the other instance: no death is written over it.
        lifecycle.expect_register_death().times(0);
        let script = scripted(vec![], None);
        // A one-second interval: the first heartbeat falls due after four seconds.
        let config = SchedulerConfig::new("twin")
            .burst(burst)
            .interval(Duration::from_secs(1));
        let mut lock = MockLockProvider::new();
        lock.expect_acquire().returning(|_, _| Ok(false));
        lock.expect_holder()
            .returning(|| Ok(Some("other@1.0".into())));
        let err = scheduler(script.store, lock, lifecycle, config)
            .run(std::future::pending())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::AlreadyActive(ref n) if n == "twin"),
            "burst={burst}: {err:?}"
        );
    }
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

/// Log lines written while a test runs, for the tests that check what is logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
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
    // ...and the instance takes it again in the same wake-up.
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    lock.expect_renew().returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let script = scripted(vec![], None);
    scheduler(script.store, lock, lifecycle(), SchedulerConfig::new("n"))
        .run(tokio::time::sleep(Duration::from_millis(3_500)))
        .await
        .unwrap();
    let reads: Vec<u64> = script
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|(at, _, _)| at.as_secs())
        .collect();
    assert_eq!(reads, [0, 1, 2, 3]);
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
    let mut script = scripted(vec![vec![job("a", 1.0)]], None);
    script
        .store
        .expect_commit()
        .times(1)
        .returning(|b| Ok(pushed(b.len())));
    let stats = scheduler(
        script.store,
        lock,
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(stats.pushed, 1);
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

/// A fast lane that hands out scripted windows in turn. Window `hold` (0-based) does not
/// return until the window after it has been sent, or 10 s have passed (paused time),
/// so a test can tell whether the scheduler sends a window while the one before runs.
#[derive(Debug)]
struct ScriptedLane {
    windows: Mutex<VecDeque<rqs_store::Result<rqs_core::fast::FastPass>>>,
    calls: std::sync::atomic::AtomicUsize,
    hold: usize,
    next_sent: tokio::sync::Notify,
    overlapped: std::sync::atomic::AtomicBool,
    /// Asks for shutdown when the window of this index is sent.
    stop_at: Mutex<Option<(usize, tokio::sync::oneshot::Sender<()>)>>,
}

impl ScriptedLane {
    fn new(windows: Vec<rqs_store::Result<rqs_core::fast::FastPass>>, hold: usize) -> Arc<Self> {
        Arc::new(Self {
            windows: Mutex::new(windows.into()),
            calls: Default::default(),
            hold,
            next_sent: tokio::sync::Notify::new(),
            overlapped: Default::default(),
            stop_at: Mutex::new(None),
        })
    }

    fn calls(&self) -> usize {
        self.calls.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl rqs_store::FastHandOff for ScriptedLane {
    async fn fast_pass(
        &self,
        _lane: &rqs_core::fast::FastLane,
    ) -> rqs_store::Result<rqs_core::fast::FastPass> {
        let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let window = self
            .windows
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(Default::default()));
        if n == self.hold + 1 {
            self.next_sent.notify_one();
        }
        let stop = {
            let mut stop_at = self.stop_at.lock().unwrap();
            if stop_at.as_ref().is_some_and(|(at, _)| *at == n) {
                stop_at.take()
            } else {
                None
            }
        };
        if let Some((_, tx)) = stop {
            let _ = tx.send(());
        }
        if n == self.hold {
            let sent = tokio::time::timeout(Duration::from_secs(10), self.next_sent.notified());
            self.overlapped
                .store(sent.await.is_ok(), std::sync::atomic::Ordering::SeqCst);
        }
        window
    }
}

/// A window of `n` plain jobs named `<prefix>0..`; `stopped` as the script says.
fn window(prefix: &str, n: usize, stopped: bool) -> rqs_store::Result<rqs_core::fast::FastPass> {
    Ok(rqs_core::fast::FastPass {
        handed: (0..n)
            .map(|i| rqs_core::fast::FastHandOff {
                job_id: format!("{prefix}{i}").into(),
                score: 1.0,
                queue: "default".into(),
                rescheduled: false,
            })
            .collect(),
        stopped,
    })
}

/// Runs a burst in windows of 2 through `lane`, ordinary batches from `store`, until
/// it ends or `shutdown`; what it returned and what was observed.
async fn fast_burst(
    store: MockJobStore,
    lane: &Arc<ScriptedLane>,
    shutdown: impl Future<Output = ()> + Send,
) -> (Result<crate::Stats, Error>, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let result = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true).batch_size(2),
    )
    .with_fast_lane(lane.clone())
    .with_observer(recorder.clone())
    .run(shutdown)
    .await;
    (result, recorder)
}

fn handed(recorder: &Recorder) -> Vec<String> {
    recorder
        .0
        .lock()
        .unwrap()
        .iter()
        .filter_map(|l| Some(l.strip_prefix("job ")?.split(' ').next()?.to_owned()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn after_a_full_window_the_next_is_sent_while_the_one_before_runs() {
    // Windows of 2: full, full (held until the third is sent), then one job.
    let lane = ScriptedLane::new(
        vec![
            window("a", 2, false),
            window("b", 2, false),
            window("c", 1, false),
        ],
        1,
    );
    let (stats, recorder) =
        fast_burst(scripted(vec![], None).store, &lane, std::future::pending()).await;
    let stats = stats.unwrap();
    assert!(
        lane.overlapped.load(std::sync::atomic::Ordering::SeqCst),
        "the third window was not sent before the second returned"
    );
    // The window sent ahead of the short one comes back empty, and nothing follows it.
    assert_eq!(lane.calls(), 4);
    assert_eq!(stats.pushed, 5);
    assert_eq!(handed(&recorder), ["a0", "a1", "b0", "b1", "c0"]);
}

#[tokio::test(start_paused = true)]
async fn the_first_window_of_a_pass_goes_alone() {
    // A pass with little due must not cost a second, empty window.
    let lane = ScriptedLane::new(vec![window("a", 1, false)], usize::MAX - 1);
    let (stats, _) = fast_burst(scripted(vec![], None).store, &lane, std::future::pending()).await;
    assert_eq!(lane.calls(), 1);
    assert_eq!(stats.unwrap().pushed, 1);
}

#[tokio::test(start_paused = true)]
async fn a_window_sent_ahead_of_one_that_stopped_is_still_reported() {
    // The second window stops at a job that needs a decision; the third, already sent,
    // hands over what a client made movable meanwhile. Then the ordinary path runs.
    let lane = ScriptedLane::new(
        vec![
            window("a", 2, false),
            window("b", 1, true),
            window("c", 1, true),
        ],
        1,
    );
    let mut script = scripted(vec![vec![job("d", 1.0)]], None);
    script
        .store
        .expect_commit()
        .times(1)
        .returning(|b| Ok(pushed(b.len())));
    let (stats, recorder) = fast_burst(script.store, &lane, std::future::pending()).await;
    let stats = stats.unwrap();
    assert!(lane.overlapped.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(stats.pushed, 5);
    assert_eq!(handed(&recorder), ["a0", "a1", "b0", "c0", "d"]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_window_ends_the_burst_after_the_one_sent_ahead_is_reported() {
    let lane = ScriptedLane::new(
        vec![
            window("a", 2, false),
            Err(BackendError::Other("WRONGTYPE".into())),
            window("c", 2, false),
        ],
        1,
    );
    let (result, recorder) =
        fast_burst(scripted(vec![], None).store, &lane, std::future::pending()).await;
    let err = result.unwrap_err();
    assert!(matches!(err, Error::Store(_)), "{err:?}");
    assert_eq!(
        lane.calls(),
        3,
        "nothing is sent after the failure is known"
    );
    assert_eq!(handed(&recorder), ["a0", "a1", "c0", "c1"]);
    assert_eq!(
        recorder.0.lock().unwrap().last().unwrap(),
        "stopped pushed=4",
        "the window sent ahead still counts"
    );
}

#[tokio::test(start_paused = true)]
async fn shutdown_between_windows_waits_for_the_one_sent_ahead() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let lane = ScriptedLane::new(
        vec![
            window("a", 2, false),
            window("b", 2, false),
            window("c", 2, false),
        ],
        1,
    );
    // Shutdown is asked as the third window is sent, ahead of the second's reply.
    *lane.stop_at.lock().unwrap() = Some((2, tx));
    let shutdown = async {
        let _ = rx.await;
    };
    let (stats, recorder) = fast_burst(scripted(vec![], None).store, &lane, shutdown).await;
    let stats = stats.unwrap();
    assert_eq!(lane.calls(), 3, "no window is sent once shutdown is asked");
    assert_eq!(stats.pushed, 6);
    assert_eq!(handed(&recorder), ["a0", "a1", "b0", "b1", "c0", "c1"]);
}

/// Runs a daemon through an outage of `outage` that starts 3 s in: every call of the
/// store, the lock and the lifecycle fails as unavailable meanwhile. Returns the events
/// seen (Ticks and lease renewals left out, as by [`Recorder`]), when the first pass after
/// the outage read the schedule (from the outage's end), and how many calls of `due`
/// failed.
async fn through_an_outage(outage: Duration) -> (Vec<String>, Duration, usize) {
    let started = Instant::now();
    let down_from = started + Duration::from_secs(3);
    let down_until = down_from + outage;
    let down = move || {
        let now = Instant::now();
        now >= down_from && now < down_until
    };
    let unavailable = || BackendError::Unavailable("connection refused".into());
    let failed = Arc::new(Mutex::new(0usize));
    let first_after = Arc::new(Mutex::new(None));
    let mut store = MockJobStore::new();
    let (f, a) = (failed.clone(), first_after.clone());
    store.expect_due().returning(move |_, _, _| {
        if down() {
            *f.lock().unwrap() += 1;
            return Err(unavailable());
        }
        let now = Instant::now();
        if now >= down_until {
            a.lock().unwrap().get_or_insert(now - down_until);
        }
        Ok(vec![])
    });
    store
        .expect_count()
        .returning(move |_| if down() { Err(unavailable()) } else { Ok(0) });
    store
        .expect_next_due()
        .returning(move || if down() { Err(unavailable()) } else { Ok(None) });
    let mut lock = MockLockProvider::new();
    lock.expect_acquire()
        .returning(move |_, _| if down() { Err(unavailable()) } else { Ok(true) });
    lock.expect_renew()
        .returning(move |_, _| if down() { Err(unavailable()) } else { Ok(true) });
    lock.expect_holder().returning(|| Ok(None));
    lock.expect_release().returning(|_| Ok(true));
    let mut lifecycle = lifecycle();
    lifecycle.checkpoint();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .returning(|_, _, _| Ok(()));
    lifecycle
        .expect_heartbeat()
        .returning(move |_, _, _| if down() { Err(unavailable()) } else { Ok(true) });
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let recorder = Arc::new(Recorder::default());
    scheduler(store, lock, lifecycle, SchedulerConfig::new("n"))
        .with_observer(recorder.clone())
        .run(tokio::time::sleep(
            Duration::from_secs(3) + outage + Duration::from_secs(3),
        ))
        .await
        .unwrap();
    let events = recorder.0.lock().unwrap().clone();
    let first = first_after
        .lock()
        .unwrap()
        .expect("a pass after the outage");
    let failed = *failed.lock().unwrap();
    (events, first, failed)
}

#[tokio::test(start_paused = true)]
async fn outages_short_and_long_are_retried_on_a_short_cadence() {
    for secs in [3, 20, 120] {
        let outage = Duration::from_secs(secs);
        let (events, first, _) = through_an_outage(outage).await;
        // The retry period plus its jitter: never a backoff that grew with the outage.
        assert!(
            first <= Duration::from_millis(375),
            "{secs} s outage: first pass {first:?} after it ended"
        );
        let outages = events.iter().filter(|e| e.starts_with("outage")).count();
        let backs = events.iter().filter(|e| *e == "back").count();
        assert_eq!((outages, backs), (1, 1), "{secs} s: {events:?}");
        // The lease (5 s) could not be renewed: given up while the backend was away,
        // and taken again once it answered.
        let down = events
            .iter()
            .position(|e| e == "down LeaseExpired")
            .unwrap_or_else(|| panic!("{secs} s: no step-down in {events:?}"));
        // The turn that found the backend again ends the outage (its first success is
        // that turn's lock, so "active" comes first).
        let back = events.iter().position(|e| e == "back").unwrap();
        let active_again = events
            .iter()
            .rposition(|e| e.starts_with("active"))
            .unwrap();
        assert!(
            down < active_again && active_again < back,
            "{secs} s: {events:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn every_turn_and_every_lease_is_reported() {
    #[derive(Debug, Default)]
    struct Count(Mutex<(usize, Vec<Duration>)>);
    impl Observer for Count {
        fn observe(&self, event: &Event<'_>) {
            let mut c = self.0.lock().unwrap();
            match event {
                Event::Tick => c.0 += 1,
                Event::LeaseRenewed { left } => c.1.push(*left),
                _ => {}
            }
        }
    }
    let count = Arc::new(Count::default());
    let script = scripted(vec![], None);
    scheduler(
        script.store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n"),
    )
    .with_observer(count.clone())
    .run(tokio::time::sleep(Duration::from_millis(10_500)))
    .await
    .unwrap();
    let (ticks, leases) = count.0.lock().unwrap().clone();
    // One at birth, one at 0 s and one at every wake-up (1 s .. 10 s).
    assert_eq!(ticks, 12);
    // Taken at start, renewed when half of it is gone; each time for the whole lease
    // (paused time: no time passes during a call).
    assert!(leases.len() >= 3, "{leases:?}");
    assert!(
        leases.iter().all(|l| *l == Duration::from_secs(5)),
        "{leases:?}"
    );
}

#[test]
fn every_error_kind_is_listed() {
    let backend = [
        BackendError::Unavailable("x".into()),
        BackendError::ReadOnly("x".into()),
        BackendError::PermissionDenied("x".into()),
        BackendError::Rejected("x".into()),
        BackendError::Protocol("x".into()),
        BackendError::NotScheduled("j".into()),
        BackendError::NotQuarantined("j".into()),
        BackendError::AlreadyActive("n".into()),
        BackendError::Other("x".into()),
    ];
    let mut errors: Vec<Error> = backend.into_iter().map(Error::Store).collect();
    errors.push(Error::InvalidConfig("x".into()));
    errors.push(Error::AlreadyActive("n".into()));
    errors.push(Error::ForeignScheduler(vec![]));
    for e in &errors {
        assert!(
            Error::KINDS.contains(&e.kind()),
            "{} is not listed",
            e.kind()
        );
    }
}

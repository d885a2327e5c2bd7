//! Unit tests of the loop's logic with mocked components and paused Tokio time, one
//! module per concern; shared fixtures here.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rqs_core::{Enqueue, EnqueueOptions, JobHash, Outcome, ScheduledJob};
use rqs_lifecycle::MockLifecycleRegistry;
use rqs_lock::MockLockProvider;
use rqs_sink::MockQueueSink;
use rqs_store::MockJobStore;
use tokio::time::Instant;

use crate::{Event, Observer, Scheduler, SchedulerConfig, TokioClock};

mod birth;
mod control;
mod fast;
mod lease;
mod outage;
mod pass;

pub(super) type TestScheduler =
    Scheduler<MockJobStore, MockQueueSink, MockLockProvider, MockLifecycleRegistry>;

pub(super) fn origin() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

pub(super) fn job(id: &str, score: f64) -> ScheduledJob {
    ScheduledJob::new(
        id,
        score,
        Some(JobHash::from_pairs([("data", "x"), ("origin", "default")])),
    )
}

pub(super) fn sink() -> MockQueueSink {
    let mut sink = MockQueueSink::new();
    sink.expect_prepare()
        .returning(|job, now| Enqueue::for_job(job, now, &EnqueueOptions::default()));
    sink
}

/// A lifecycle that accepts birth, heartbeats and death any number of times.
pub(super) fn lifecycle() -> MockLifecycleRegistry {
    let mut r = MockLifecycleRegistry::new();
    r.expect_instances().returning(|| Ok(vec![]));
    r.expect_register_birth().returning(|_, _, _| Ok(()));
    r.expect_heartbeat().returning(|_, _, _| Ok(true));
    r.expect_register_death().returning(|_, _| Ok(()));
    r
}

/// A lock that is always ours.
pub(super) fn free_lock() -> MockLockProvider {
    let mut l = MockLockProvider::new();
    l.expect_acquire().returning(|_, _| Ok(true));
    l.expect_renew().returning(|_, _| Ok(true));
    l.expect_release().returning(|_| Ok(true));
    l
}

/// A store whose `due` hands out `batches` in turn (ignoring its arguments), then
/// nothing, and records every call as (elapsed, until, offset).
pub(super) struct Script {
    pub(super) store: MockJobStore,
    pub(super) calls: Arc<Mutex<Vec<(Duration, f64, usize)>>>,
}

pub(super) fn scripted(batches: Vec<Vec<ScheduledJob>>, next_due: Option<f64>) -> Script {
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

pub(super) fn scheduler(
    store: MockJobStore,
    lock: MockLockProvider,
    lifecycle: MockLifecycleRegistry,
    config: SchedulerConfig,
) -> TestScheduler {
    Scheduler::new(store, sink(), lock, lifecycle, config)
        .with_clock(Arc::new(TokioClock::starting_at(origin())))
}

pub(super) fn pushed(n: usize) -> Vec<Outcome> {
    vec![Outcome::Pushed; n]
}

/// Records the events it sees, as short strings.
#[derive(Debug, Default)]
pub(super) struct Recorder(pub(super) Mutex<Vec<String>>);

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
            Event::Paused { pause } => format!("paused {}", pause.scope),
            Event::Resumed { scope } => format!("resumed {scope}"),
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

/// Log lines written while a test runs, for the tests that check what is logged.
#[derive(Clone, Default)]
pub(super) struct Captured(pub(super) Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

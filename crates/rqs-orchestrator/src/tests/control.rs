//! The control seam: pauses read once a turn, reported once, honoured by the loop.

use crate::{Control, Instructions, Pause, PauseScope, SchedulerConfig};
use chrono::{DateTime, Utc};
use rqs_core::{BackendError, Outcome};
use rqs_store::MockJobStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use super::*;

/// Pauses every queue from the start until `until` (seconds of paused time), and counts
/// its reads.
#[derive(Debug)]
struct Window {
    started: Instant,
    until: Duration,
    scope: PauseScope,
    reads: Mutex<u32>,
}

#[async_trait::async_trait]
impl Control for Window {
    async fn instructions(&self, _now: DateTime<Utc>) -> Result<Instructions, BackendError> {
        *self.reads.lock().unwrap() += 1;
        if self.started.elapsed() >= self.until {
            return Ok(Instructions::default());
        }
        Ok(Instructions::with_pauses(vec![Pause {
            scope: self.scope.clone(),
            until: None,
            reason: "maintenance".into(),
            by: "ops@host".into(),
            since: None,
        }]))
    }
}

fn window(scope: PauseScope, seconds: u64) -> Arc<Window> {
    Arc::new(Window {
        started: Instant::now(),
        until: Duration::from_secs(seconds),
        scope,
        reads: Mutex::new(0),
    })
}

#[tokio::test(start_paused = true)]
async fn while_every_queue_is_paused_nothing_is_read_and_the_pause_is_reported_once() {
    let control = window(PauseScope::All, 5);
    let script = scripted(vec![vec![job("a", 1.0)]], Some(1.0));
    let calls = script.calls.clone();
    let mut store = script.store;
    store.expect_commit().returning(|b| Ok(pushed(b.len())));
    let recorder = Arc::new(Recorder::default());
    scheduler(store, free_lock(), lifecycle(), SchedulerConfig::new("n"))
        .with_control(control.clone())
        .with_observer(recorder.clone())
        .run(tokio::time::sleep(Duration::from_secs(8)))
        .await
        .unwrap();
    let calls = calls.lock().unwrap();
    // The first read of the schedule comes once the pause is over, not before.
    let first = calls
        .first()
        .expect("the schedule was read after the resume")
        .0;
    assert!(
        first >= Duration::from_secs(5),
        "read at {first:?} while paused"
    );
    let events = recorder.0.lock().unwrap();
    let paused: Vec<_> = events.iter().filter(|e| e.starts_with("paused")).collect();
    let resumed: Vec<_> = events.iter().filter(|e| e.starts_with("resumed")).collect();
    assert_eq!(paused, ["paused every queue"], "{events:?}");
    assert_eq!(resumed, ["resumed every queue"], "{events:?}");
    assert!(events.iter().any(|e| e.starts_with("job a")), "{events:?}");
    // Read once a turn, about once a second, on paused time.
    assert!((6..=12).contains(&*control.reads.lock().unwrap()));
}

#[tokio::test(start_paused = true)]
async fn a_burst_with_every_queue_paused_quits_without_reading_the_schedule() {
    let control = window(PauseScope::All, 3_600);
    let mut store = MockJobStore::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(Some(1.0)));
    store.expect_due().never();
    store.expect_commit().never();
    let stats = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .with_control(control)
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(stats.pushed, 0);
}

/// A store that reports `paused` for the jobs of queue `q`: the pass skips them (they
/// stay at the head), moves the job behind them, never quarantines them as stuck however
/// long the pause lasts, and does not spin.
#[tokio::test(start_paused = true)]
async fn jobs_the_store_holds_for_a_paused_queue_wait_without_being_stuck() {
    let started = Instant::now();
    let reads = Arc::new(Mutex::new(Vec::new()));
    let mut store = MockJobStore::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(Some(1.0)));
    let r = reads.clone();
    let behind_gone = Arc::new(Mutex::new(false));
    let gone = behind_gone.clone();
    store.expect_due().returning(move |_, offset, limit| {
        r.lock()
            .unwrap()
            .push((started.elapsed().as_secs(), offset));
        let mut all = vec![job("held-1", 1.0), job("held-2", 1.0)];
        if !*gone.lock().unwrap() {
            all.push(job("behind", 2.0));
        }
        Ok(all.into_iter().skip(offset).take(limit).collect())
    });
    let gone = behind_gone.clone();
    store.expect_commit().returning(move |batch| {
        Ok(batch
            .iter()
            .map(|h| match h.job_id.to_str() {
                Some("behind") => {
                    *gone.lock().unwrap() = true;
                    Outcome::Pushed
                }
                _ => Outcome::Paused,
            })
            .collect())
    });
    let recorder = Arc::new(Recorder::default());
    let config = SchedulerConfig::new("n").batch_size(2);
    scheduler(store, free_lock(), lifecycle(), config)
        .with_observer(recorder.clone())
        .run(tokio::time::sleep(Duration::from_millis(10_500)))
        .await
        .unwrap();
    assert!(
        *behind_gone.lock().unwrap(),
        "the job behind the held ones moved"
    );
    let events = recorder.0.lock().unwrap();
    assert!(
        !events.iter().any(|e| e.contains("quarantined")),
        "a paused job is never stuck: {events:?}"
    );
    let passes: Vec<u64> = reads
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, offset)| *offset == 0)
        .map(|(at, _)| *at)
        .collect();
    // One pass a second (the peek), not a spin.
    assert_eq!(
        passes,
        (0..=10).collect::<Vec<_>>(),
        "{:?}",
        reads.lock().unwrap()
    );
}

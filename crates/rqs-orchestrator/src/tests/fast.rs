//! The fast lane's pipelining, with a scripted lane on paused time.

use crate::{Error, SchedulerConfig};
use rqs_core::BackendError;
use rqs_store::MockJobStore;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

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

/// A mocked store whose fast lane is a [`ScriptedLane`].
struct Laned {
    store: MockJobStore,
    lane: Arc<ScriptedLane>,
}

#[async_trait::async_trait]
impl rqs_store::JobStore for Laned {
    async fn due(
        &self,
        until: f64,
        offset: usize,
        limit: usize,
    ) -> rqs_store::Result<Vec<ScheduledJob>> {
        self.store.due(until, offset, limit).await
    }
    async fn next_due(&self) -> rqs_store::Result<Option<f64>> {
        self.store.next_due().await
    }
    async fn count(&self, until: Option<f64>) -> rqs_store::Result<u64> {
        self.store.count(until).await
    }
    async fn commit(
        &self,
        batch: &[rqs_core::HandOff],
    ) -> rqs_store::Result<Vec<rqs_core::Outcome>> {
        self.store.commit(batch).await
    }
}

#[async_trait::async_trait]
impl rqs_store::FastLaneStore for Laned {
    async fn fast_pass(
        &self,
        lane: &rqs_core::fast::FastLane,
    ) -> rqs_store::Result<rqs_core::fast::FastPass> {
        self.lane.fast_pass(lane).await
    }
}

impl ScriptedLane {
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
    let store = Laned {
        store,
        lane: lane.clone(),
    };
    let result = Scheduler::new(
        store,
        rqs_sink::RqQueueSink::new(),
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true).batch_size(2),
    )
    .with_clock(Arc::new(TokioClock::starting_at(origin())))
    .with_fast_lane()
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

//! The fast lane's pipelining: windows sent back to back, the next one sent before the
//! last one's reply is in once a window came back full, every window awaited and
//! reported whatever ends the run.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rqs_core::fast::{FastHandOff, FastLane, FastPass, PlainEnqueue};
use rqs_core::{Outcome, time};
use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_sink::{FastLaneSink, QueueSink};
use rqs_store::{FastLaneStore, JobStore};
use tokio::time::Instant;
use tracing::debug;

use super::{Scheduler, State, Stats};
use crate::Error;
use crate::observer::Event;
use crate::stop::Stop;

/// The fast lane of a composition whose store and sink both offer their half, with the
/// store and sink types erased so the loop needs no bound beyond `JobStore` and
/// `QueueSink`.
pub(super) trait Fusion: Send + Sync + std::fmt::Debug {
    /// The sink's rule for plain jobs.
    fn plain(&self) -> PlainEnqueue;
    /// Sends one window, on a task of its own.
    fn send(&self, lane: FastLane) -> tokio::task::JoinHandle<rqs_store::Result<FastPass>>;
    /// Tells the sink what a window handed over.
    fn handed(&self, jobs: &[FastHandOff]);
}

/// The scheduler's own store and sink, shared with the fast lane.
pub(super) struct Fused<S, Q> {
    pub(super) store: Arc<S>,
    pub(super) sink: Arc<Q>,
}

impl<S, Q> std::fmt::Debug for Fused<S, Q> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Fused")
    }
}

impl<S: FastLaneStore + 'static, Q: FastLaneSink + 'static> Fusion for Fused<S, Q> {
    fn plain(&self) -> PlainEnqueue {
        self.sink.plain_enqueue()
    }

    fn send(&self, lane: FastLane) -> tokio::task::JoinHandle<rqs_store::Result<FastPass>> {
        let store = Arc::clone(&self.store);
        tokio::spawn(async move { store.fast_pass(&lane).await })
    }

    fn handed(&self, jobs: &[FastHandOff]) {
        self.sink.handed_plain(jobs);
    }
}

/// How a run of fast-lane windows ended; `moved` is whether any window handed a job over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FastEnd {
    /// Fewer jobs than a window holds were due: the pass is done.
    Drained { moved: bool },
    /// A window stopped at a job that needs a decision: the ordinary path takes it.
    NeedsDecision { moved: bool },
    /// The backend refused the fast lane (an ACL).
    Refused { moved: bool },
    /// Shutdown was requested between windows.
    Stopped,
    /// The lease is gone.
    SteppedDown,
}

/// A fast-lane window on its way.
struct Window {
    handle: tokio::task::JoinHandle<rqs_store::Result<FastPass>>,
    limit: usize,
    started: Instant,
}

/// The windows of one fast-lane run: those on their way, and what ends the run.
#[derive(Default)]
struct FastRun {
    in_flight: VecDeque<Window>,
    end: Option<FastEnd>,
    error: Option<Error>,
}

impl FastRun {
    /// Files the outcome of a send: a window on its way, why none was sent, or a failure.
    fn file(&mut self, sent: Result<Result<Window, FastEnd>, Error>) {
        match sent {
            Ok(Ok(window)) => self.in_flight.push_back(window),
            Ok(Err(reason)) => self.end = Some(reason),
            Err(e) => self.error = Some(e),
        }
    }

    /// Whether the run is ending: nothing more is sent, what is on its way is awaited.
    fn ending(&self) -> bool {
        self.end.is_some() || self.error.is_some()
    }
}

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: JobStore,
    Q: QueueSink,
    L: LockProvider,
    R: LifecycleRegistry,
{
    /// Runs fast-lane windows back to back, from `lane`, until one stops at a job that
    /// needs a decision, fewer jobs than a window holds are due, shutdown is asked or the
    /// lease is gone. Once a window came back full, the next one is sent before the
    /// current one's reply is in, so Redis runs it straight after instead of idling for a
    /// round trip. Every window sent is awaited and reported, whatever ends the run; an
    /// error is returned after that.
    pub(super) async fn fast_windows<F: Future<Output = ()>>(
        &self,
        state: &mut State,
        stop: &mut Stop<F>,
        total: &mut Stats,
        lane: FastLane,
        batches: &mut u64,
    ) -> Result<FastEnd, Error> {
        let fast = Arc::clone(self.fast.as_ref().expect("only called with a fast lane"));
        let offset = lane.offset;
        let mut run = FastRun::default();
        let mut moved = false;
        let mut last_full = false;
        run.file(self.send_window(&fast, state, lane).await);
        while let Some(window) = run.in_flight.pop_front() {
            // Send the next window ahead when the last one was full: more is likely due.
            if last_full && run.in_flight.is_empty() && !run.ending() {
                self.send_next(&fast, state, stop, offset, &mut run).await;
            }
            *batches += 1;
            let result = match window.handle.await {
                Ok(result) => result,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            let handed = match result {
                Ok(handed) => handed,
                Err(rqs_core::BackendError::PermissionDenied(reason)) => {
                    debug!(%reason, "the fast lane is refused; using the ordinary path");
                    run.end.get_or_insert(FastEnd::Refused { moved: false });
                    last_full = false;
                    continue;
                }
                Err(e) => {
                    run.error.get_or_insert(Error::Store(e));
                    last_full = false;
                    continue;
                }
            };
            let committed = self.clock.now();
            if !handed.handed.is_empty() {
                fast.handed(&handed.handed);
                let mut stats = Stats {
                    batches: 1,
                    ..Stats::default()
                };
                let mut queues = BTreeMap::new();
                for job in &handed.handed {
                    self.report_fast(job, committed, &mut stats);
                    *queues.entry(job.queue.clone()).or_insert(0) += 1;
                    state.stuck.remove(&job.job_id);
                }
                self.batch_done(&stats, &queues, window.started, total);
                moved = true;
            }
            last_full = !handed.stopped && handed.handed.len() >= window.limit;
            if run.ending() {
                continue;
            }
            if handed.stopped {
                run.end = Some(FastEnd::NeedsDecision { moved: false });
            } else if !last_full {
                run.end = Some(FastEnd::Drained { moved: false });
            } else if run.in_flight.is_empty() {
                // Full, and nothing sent ahead yet: the next window goes now.
                self.send_next(&fast, state, stop, offset, &mut run).await;
            }
        }
        if let Some(e) = run.error {
            return Err(e);
        }
        Ok(match run.end.expect("the last window ends the run") {
            FastEnd::Drained { .. } => FastEnd::Drained { moved },
            FastEnd::NeedsDecision { .. } => FastEnd::NeedsDecision { moved },
            FastEnd::Refused { .. } => FastEnd::Refused { moved },
            other => other,
        })
    }

    /// Sends the run's next window, unless shutdown was asked.
    async fn send_next<F: Future<Output = ()>>(
        &self,
        fast: &Arc<dyn Fusion>,
        state: &mut State,
        stop: &mut Stop<F>,
        offset: usize,
        run: &mut FastRun,
    ) {
        if stop.requested() {
            run.end = Some(FastEnd::Stopped);
        } else {
            let lane = self.lane(fast.as_ref(), state, self.clock.now(), offset);
            run.file(self.send_window(fast, state, lane).await);
        }
    }

    /// Sends one fast-lane window, after checking the lease (it reads and writes in one
    /// step); `Err` says why none was sent.
    async fn send_window(
        &self,
        fast: &Arc<dyn Fusion>,
        state: &mut State,
        lane: FastLane,
    ) -> Result<Result<Window, FastEnd>, Error> {
        let started = Instant::now();
        if !self.lease_still_ours(state).await? {
            return Ok(Err(FastEnd::SteppedDown));
        }
        let limit = lane.limit;
        // A task of its own, so it is sent at once and runs on while the caller reports
        // the window before it.
        let handle = fast.send(lane);
        Ok(Ok(Window {
            handle,
            limit,
            started,
        }))
    }

    /// The fast-lane window at `now`, with the sink's plain enqueue and the plans of the
    /// metas seen lately.
    pub(super) fn lane(
        &self,
        fast: &dyn Fusion,
        state: &mut State,
        now: DateTime<Utc>,
        offset: usize,
    ) -> FastLane {
        let mut lane = FastLane::at(now, offset, self.config.batch_size, fast.plain());
        lane.plans = state.plans(now, &self.config.local_zone);
        lane
    }

    fn report_fast(&self, job: &FastHandOff, committed: DateTime<Utc>, stats: &mut Stats) {
        stats.count(Outcome::Pushed);
        if job.rescheduled {
            stats.rescheduled += 1;
        }
        let lateness = (time::unix_seconds(committed) - job.score).max(0.0);
        self.emit(Event::HandedOff {
            job: &job.job_id,
            queue: Some(&job.queue),
            outcome: Outcome::Pushed,
            rescheduled: job.rescheduled,
            quarantine: None,
            lateness: Duration::try_from_secs_f64(lateness).unwrap_or(Duration::MAX),
        });
        debug!(job_id = %job.job_id, queue = %job.queue, outcome = "pushed", "hand-off");
    }
}

//! One pass: due jobs read, decided and committed in batches, after the fast lane took
//! what it could; each hand-off reported and logged.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rqs_core::plan::{self};
use rqs_core::{
    Action, Escaped, HandOff, JobId, Outcome, QuarantineKind, QueueName, ScheduledJob, time,
};
use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_sink::QueueSink;
use rqs_store::JobStore;
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use super::{FastEnd, Scheduler, State, Stats};
use crate::Error;
use crate::observer::Event;
use crate::stop::Stop;

/// Why a pass ended.
pub(super) enum PassEnd {
    /// Nothing more is due (`stuck` jobs are due but could not be moved, `paused` ones
    /// wait for their queue's pause to end); `moved` is whether any batch was committed.
    Drained {
        stuck: usize,
        paused: usize,
        moved: bool,
    },
    /// Shutdown was requested between batches.
    Stopped,
    /// The lease is gone; another instance may act.
    SteppedDown,
}

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: JobStore,
    Q: QueueSink,
    L: LockProvider,
    R: LifecycleRegistry,
{
    /// Moves due jobs in batches until none is due, the lease is gone or shutdown is asked.
    pub(super) async fn pass<F: Future<Output = ()>>(
        &self,
        state: &mut State,
        stop: &mut Stop<F>,
        total: &mut Stats,
    ) -> Result<PassEnd, Error> {
        // Jobs of this pass that could not be moved stay at the head: skip them.
        let mut offset = 0usize;
        let mut batches = 0u64;
        let mut stuck_now: HashSet<JobId> = HashSet::new();
        // Jobs whose queue is paused: they stay at the head, never counted as stuck.
        let mut paused_now = 0usize;
        // The fast lane runs first; after a window that stopped at a job needing a
        // decision, one ordinary batch takes it (and what follows), then the fast lane
        // again.
        let mut fast_next = self.fast.is_some() && !state.fast_refused;
        let mut moved = false;
        let end = loop {
            // Shutdown is honoured between batches, never inside one.
            if batches > 0 && stop.requested() {
                break PassEnd::Stopped;
            }
            batches += 1;
            let started = Instant::now();
            let now = self.clock.now();
            let until = time::floor_seconds(now) as f64;
            if fast_next && let Some(fast) = &self.fast {
                let lane = self.lane(fast.as_ref(), state, now, offset);
                match self
                    .fast_windows(state, stop, total, lane, &mut batches)
                    .await?
                {
                    FastEnd::Drained { moved: any } => {
                        break PassEnd::Drained {
                            stuck: stuck_now.len(),
                            paused: paused_now,
                            moved: moved || any,
                        };
                    }
                    FastEnd::NeedsDecision { moved: any } => moved |= any,
                    // A refusal the ordinary path reports better (with the key and the
                    // command): use it for the rest of the run.
                    FastEnd::Refused { moved: any } => {
                        moved |= any;
                        state.fast_refused = true;
                    }
                    FastEnd::Stopped => break PassEnd::Stopped,
                    FastEnd::SteppedDown => break PassEnd::SteppedDown,
                }
                fast_next = false;
                continue;
            }
            fast_next = self.fast.is_some() && !state.fast_refused;
            let due = self
                .store
                .due(until, offset, self.config.batch_size)
                .await
                .map_err(Error::Store)?;
            if due.is_empty() {
                break PassEnd::Drained {
                    stuck: stuck_now.len(),
                    paused: paused_now,
                    moved,
                };
            }
            let batch: Vec<HandOff> = due.iter().map(|job| self.decide(job, state, now)).collect();
            if !self.lease_still_ours(state).await? {
                break PassEnd::SteppedDown;
            }
            let outcomes = self.store.commit(&batch).await.map_err(Error::Store)?;
            let committed = self.clock.now();
            let mut stats = Stats {
                batches: 1,
                ..Stats::default()
            };
            let mut progress = false;
            // Jobs this batch left at the head of the schedule.
            let mut still_there = 0;
            let mut queues = BTreeMap::new();
            for ((job, handoff), outcome) in due.iter().zip(&batch).zip(&outcomes) {
                // A paused queue's job was not touched: nothing to count or report, at
                // every pass the pause lasts.
                if *outcome != Outcome::Paused {
                    stats.count(*outcome);
                    self.report(job, handoff, *outcome, committed, &mut stats);
                }
                if let (Outcome::Pushed | Outcome::Deferred, Action::Enqueue { enqueue, .. }) =
                    (outcome, &handoff.action)
                {
                    *queues.entry(enqueue.queue.clone()).or_insert(0) += 1;
                }
                match outcome {
                    Outcome::Stale | Outcome::MetaChanged => {
                        still_there += usize::from(*outcome == Outcome::MetaChanged);
                        *state.stuck.entry(job.id.clone()).or_insert(0) += 1;
                        stuck_now.insert(job.id.clone());
                    }
                    // Waits for the quarantine to be usable again; never counted as
                    // stuck, since the quarantine is what stuck jobs go to.
                    Outcome::Held => {
                        still_there += 1;
                        stuck_now.insert(job.id.clone());
                        if state.held.insert(job.id.clone()) {
                            let reason = match &handoff.action {
                                Action::Quarantine { reason, .. } => reason.as_str(),
                                _ => "one of its keys has the wrong type",
                            };
                            error!(
                                job_id = %job.id,
                                reason = %Escaped(reason),
                                "cannot quarantine this job: the store's quarantine has the wrong type; it stays in the schedule, the other jobs move on (fix the quarantine key)"
                            );
                        }
                    }
                    Outcome::Paused => {
                        still_there += 1;
                        paused_now += 1;
                    }
                    Outcome::Pushed => {
                        progress = true;
                        state.stuck.remove(&job.id);
                        state.learn(job);
                    }
                    _ => {
                        progress = true;
                        state.stuck.remove(&job.id);
                    }
                }
            }
            // A stale job was moved by a client, so it left the head; a job whose meta
            // changed is still there. A batch that moved nothing is skipped whole, so a
            // job that keeps failing can never hold up the ones behind it.
            offset += if progress { still_there } else { due.len() };
            moved |= progress;
            self.batch_done(&stats, &queues, started, total);
        };
        // Only passes in a row count: forget jobs that moved or were not seen this time.
        state.stuck.retain(|id, _| stuck_now.contains(id));
        state.held.retain(|id| stuck_now.contains(id));
        Ok(end)
    }

    pub(super) fn batch_done(
        &self,
        stats: &Stats,
        queues: &BTreeMap<QueueName, u64>,
        started: Instant,
        total: &mut Stats,
    ) {
        total.add(*stats);
        // A batch of paused jobs only, read again at every pass of a pause: not news.
        if *stats
            == (Stats {
                batches: 1,
                ..Stats::default()
            })
        {
            return;
        }
        self.emit(Event::Batch {
            stats,
            duration: started.elapsed(),
        });
        // One field for every queue: `name=count` pairs, names escaped, so a log search
        // can match `queues` without knowing the queue names in advance.
        let per_queue = queues
            .iter()
            .map(|(q, n)| format!("{}={n}", Escaped(q)))
            .collect::<Vec<_>>()
            .join(" ");
        info!(
            instance = %self.config.name,
            queues = %per_queue,
            pushed = stats.pushed,
            deferred = stats.deferred,
            rescheduled = stats.rescheduled,
            unscheduled = stats.unscheduled,
            quarantined = stats.quarantined,
            skipped = stats.skipped,
            "handed over a batch"
        );
    }

    fn decide(&self, job: &ScheduledJob, state: &State, now: DateTime<Utc>) -> HandOff {
        let tries = state.stuck.get(&job.id).copied().unwrap_or(0);
        if tries >= self.config.stuck_limit {
            let reason = format!(
                "its hand-off came back stale or with a changed meta {tries} passes in a row"
            );
            return HandOff {
                job_id: job.id.clone(),
                read_score: job.score,
                action: Action::Quarantine {
                    kind: QuarantineKind::Stuck,
                    reason,
                    at: time::floor_seconds(now),
                },
            };
        }
        let (handoff, notes) = plan::decide(job, now, &self.config.local_zone, |j| {
            self.sink.prepare(j, now)
        });
        // A quarantine is logged once it is committed, with its fields (`report`).
        if !matches!(handoff.action, Action::Quarantine { .. }) {
            for note in notes {
                warn!(job_id = %note.job_id, "{}", Escaped(&note.message));
            }
        }
        handoff
    }

    fn report(
        &self,
        job: &ScheduledJob,
        handoff: &HandOff,
        outcome: Outcome,
        committed: DateTime<Utc>,
        stats: &mut Stats,
    ) {
        let (queue, rescheduled, quarantine) = match &handoff.action {
            Action::Enqueue { enqueue, next, .. } => {
                let moved = matches!(outcome, Outcome::Pushed | Outcome::Deferred);
                let kind = (outcome == Outcome::Quarantined).then_some(QuarantineKind::WrongType);
                (Some(&enqueue.queue), moved && next.is_some(), kind)
            }
            Action::Quarantine { kind, .. } => (None, false, Some(*kind)),
            Action::Unschedule { .. } => (None, false, None),
        };
        if rescheduled {
            stats.rescheduled += 1;
        }
        let lateness = (time::unix_seconds(committed) - job.score).max(0.0);
        self.emit(Event::HandedOff {
            job: &job.id,
            queue,
            outcome,
            rescheduled,
            quarantine: quarantine.filter(|_| outcome == Outcome::Quarantined),
            lateness: Duration::try_from_secs_f64(lateness).unwrap_or(Duration::MAX),
        });
        match (outcome, queue) {
            (Outcome::Vanished, _) => warn!(
                job_id = %job.id,
                "job hash disappeared before its hand-off: removed from the schedule"
            ),
            (Outcome::Quarantined, _) => {
                let (kind, reason) = match &handoff.action {
                    Action::Quarantine { kind, reason, .. } => (*kind, reason.as_str()),
                    _ => (
                        QuarantineKind::WrongType,
                        "one of its keys has the wrong type (details in the quarantine)",
                    ),
                };
                let origin = job.hash.as_ref().and_then(rqs_core::JobHash::origin);
                let queue = queue
                    .or(origin.as_ref())
                    .map_or_else(String::new, |q| Escaped(q).to_string());
                warn!(
                    job_id = %job.id,
                    queue = %queue,
                    kind = kind.as_str(),
                    reason = %Escaped(reason),
                    "quarantined a job"
                );
            }
            (_, Some(queue)) => {
                debug!(job_id = %job.id, queue = %queue, outcome = %outcome, "hand-off")
            }
            (_, None) => debug!(job_id = %job.id, outcome = %outcome, "hand-off"),
        }
    }
}

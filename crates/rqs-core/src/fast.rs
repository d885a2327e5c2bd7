//! The fast lane: hand-offs a store may apply by itself, in the same step as its read,
//! for due jobs that need no decision.
//!
//! Most due jobs are plain: a hash with `data` and an `origin`, not deferred, no `ttl`,
//! no `enqueue_at_front`, no dependencies, and either no `meta` or one of a few metas
//! the scheduler has seen before. For such a job [`crate::plan::decide`] always gives
//! the same hand-off: push on its queue with `status=queued`, `enqueued_at` and the
//! default timeout when it has none, then leave the schedule (no meta) or take the meta
//! and next score that [`MetaPlan`] precomputed for this second. A store can therefore
//! read and hand over a whole window of such jobs in one atomic step, without a round
//! trip through the scheduler; it stops at the first job that needs a real decision and
//! leaves it, and everything after it, to the ordinary read-decide-commit path.
//!
//! Every value the store writes comes from here, computed by the same functions as the
//! ordinary path ([`crate::plan::plan_schedule`], [`crate::time::rq_timestamp`]); only the
//! eligibility test runs in the store. `rqs-redis`'s differential test checks that both
//! paths leave Redis in the same state, byte for byte, on generated jobs.

use chrono::{DateTime, Utc};

use crate::plan::{LocalZone, plan_schedule};
use crate::{JobId, QueueName, time};

/// What a periodic job's hand-off does, precomputed for one meta and one second.
#[derive(Debug, Clone, PartialEq)]
pub struct MetaPlan {
    /// The meta as stored; a job qualifies only with exactly these bytes.
    pub meta: Vec<u8>,
    /// The meta to write (a decremented `repeat`), if it changes.
    pub new_meta: Option<Vec<u8>>,
    /// The next score; `None` leaves the schedule.
    pub next: Option<f64>,
}

impl MetaPlan {
    /// The plan for `meta` at `now`, when a job with it needs no decision: a readable
    /// schedule with nothing to note (no exhausted cron, no Python queue class).
    pub fn for_meta(meta: &[u8], now: DateTime<Utc>, local: &LocalZone) -> Option<Self> {
        let plan = plan_schedule(Some(meta), now, local).ok()?;
        if !plan.notes.is_empty() {
            return None;
        }
        // The table serves a whole second: a plan that depends on where in the second
        // the hand-off falls (a sub-second interval) is left to the ordinary path.
        let second = time::floor_seconds(now);
        let edges = [0, 999_999_999].map(|nanos| {
            let at = DateTime::from_timestamp(second, nanos).unwrap_or(now);
            plan_schedule(Some(meta), at, local).ok().map(|p| p.next)
        });
        if edges.iter().any(|next| *next != Some(plan.next)) {
            return None;
        }
        Some(Self {
            meta: meta.to_vec(),
            new_meta: plan.meta.map(|m| m.new),
            next: plan.next,
        })
    }
}

/// What a sink's enqueue writes on a plain job: the only enqueue the fast lane applies.
///
/// RQ's `Queue.enqueue_job` on a plain job sets `status=queued`, `enqueued_at` and, when
/// the job has none, the default timeout, and pushes it at the tail of its queue; the
/// default timeout is the one thing a sink chooses. A sink offers this rule through
/// `rqs_sink::FastLaneSink`, promising that its `prepare` describes exactly this for
/// every plain job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainEnqueue {
    /// The timeout written when the job has none.
    pub default_timeout: u64,
}

/// One window of the fast lane.
#[derive(Debug, Clone, PartialEq)]
pub struct FastLane {
    /// Jobs with a score in `[0, until]` are due.
    pub until: f64,
    /// Due jobs to skip first (the ones the pass could not move).
    pub offset: usize,
    /// The most jobs to hand over.
    pub limit: usize,
    /// RQ's `enqueued_at` for this window.
    pub enqueued_at: String,
    /// The timeout written when a job has none.
    pub default_timeout: u64,
    /// Metas that qualify, with what their jobs' hand-off does.
    pub plans: Vec<MetaPlan>,
}

impl FastLane {
    /// A window at `now`: due up to `floor(now)`, enqueued by `plain`.
    pub fn at(now: DateTime<Utc>, offset: usize, limit: usize, plain: PlainEnqueue) -> Self {
        Self {
            until: time::floor_seconds(now) as f64,
            offset,
            limit,
            enqueued_at: time::rq_timestamp(now),
            default_timeout: plain.default_timeout,
            plans: Vec::new(),
        }
    }
}

/// One job the store handed over in the fast lane (pushed, never deferred).
#[derive(Debug, Clone, PartialEq)]
pub struct FastHandOff {
    /// The job.
    pub job_id: JobId,
    /// The score it was due at.
    pub score: f64,
    /// Its queue.
    pub queue: QueueName,
    /// Whether it was re-armed (a periodic job).
    pub rescheduled: bool,
}

/// What one fast-lane window did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FastPass {
    /// The jobs handed over, in order.
    pub handed: Vec<FastHandOff>,
    /// The window stopped at a job that needs a decision (it and the jobs after it are
    /// still due): the ordinary path takes over from there.
    pub stopped: bool,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// `{'interval': seconds}` as protocol 2 pickles it.
    fn interval_meta(seconds: f64) -> Vec<u8> {
        let mut out = vec![0x80, 2, b'}', b'(', b'X'];
        out.extend(8u32.to_le_bytes());
        out.extend(b"interval");
        out.push(b'G');
        out.extend(seconds.to_be_bytes());
        out.extend([b'u', b'.']);
        out
    }

    #[test]
    fn a_plan_that_depends_on_the_fraction_of_the_second_is_not_shared() {
        let now = Utc.timestamp_opt(1_800_000_000, 400_000_000).unwrap();
        let local = LocalZone::System;
        // Whole seconds: the same next score all second long, so the table may hold it.
        let minute = MetaPlan::for_meta(&interval_meta(60.0), now, &local).unwrap();
        assert_eq!(minute.next, Some(1_800_000_060.0));
        // Half a second: the score moves a second on late in the second (at most once a
        // second), so each hand-off is planned at its own instant.
        assert_eq!(MetaPlan::for_meta(&interval_meta(0.5), now, &local), None);
    }
}

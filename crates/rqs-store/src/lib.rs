//! Where scheduled jobs live: the [`JobStore`] port the scheduler loop needs, and the
//! [`JobAdmin`] capability that tools (the CLI, the client) use on top of it.
//!
//! This crate holds the traits and [`InMemoryJobStore`]; it does not depend on Redis. The
//! Redis implementation, `RedisJobStore`, lives in `rqs-redis`.
//!
//! # Implementing
//! A backend for the scheduler implements [`JobStore`]: four methods. Write it with the
//! re-exported [`async_trait`](macro@async_trait) attribute (`#[rqs_store::async_trait]`): the traits are
//! dyn-compatible, so `async fn` in them must be boxed, and a plain `async fn` fails with
//! `E0195`. The conformance suite in `rqs-conformance` (`job_store_conformance!`) turns each
//! sentence of the contract into a test; run it against your implementation.
//!
//! The scheduler calls, on the active instance only:
//! - [`next_due`](JobStore::next_due) after each pass, to sleep until the next due job;
//! - [`due`](JobStore::due) in a loop during a pass, with `offset` = the number of jobs
//!   of this pass that came back [`Outcome::Stale`] or [`Outcome::MetaChanged`], until it
//!   returns nothing;
//! - [`commit`](JobStore::commit) once per batch read;
//! - [`count`](JobStore::count) when the instance becomes active, for its log line.
//!
//! Errors are [`BackendError`] (one type shared by every component). Return
//! [`BackendError::Unavailable`] for a failure worth retrying (a lost connection, a timeout):
//! the scheduler retries it every 250 ms or so until the backend answers. Any other error
//! is logged and retried by a daemon with a growing backoff, and ends a burst run.
//!
//! # Wrappers
//! A wrapper (for metrics, tracing, fault injection) holds an inner store and implements
//! the same trait, forwarding each method; `tests/e2e` has one that pauses commits. Every
//! type the traits name is re-exported here, so a wrapper needs no other rqs crate.
//!
//! A scheduler with the fast lane on hands jobs over through two methods: `commit` for
//! the ones that needed a decision, [`FastLaneStore::fast_pass`] for the others. A
//! wrapper that forwards both sees every hand-off; one that implements only [`JobStore`]
//! cannot be given the fast lane (`Scheduler::with_fast_lane` needs `FastLaneStore`), so
//! every hand-off then goes through its `commit`:
//!
//! ```
//! use std::sync::atomic::{AtomicUsize, Ordering};
//!
//! use rqs_store::{
//!     FastLane, FastLaneStore, FastPass, HandOff, JobStore, Outcome, Result, ScheduledJob,
//!     async_trait,
//! };
//!
//! /// Counts the jobs handed over through it.
//! struct Counting<S> {
//!     inner: S,
//!     handed: AtomicUsize,
//! }
//!
//! #[async_trait]
//! impl<S: JobStore> JobStore for Counting<S> {
//!     async fn due(&self, until: f64, offset: usize, limit: usize) -> Result<Vec<ScheduledJob>> {
//!         self.inner.due(until, offset, limit).await
//!     }
//!     async fn next_due(&self) -> Result<Option<f64>> {
//!         self.inner.next_due().await
//!     }
//!     async fn count(&self, until: Option<f64>) -> Result<u64> {
//!         self.inner.count(until).await
//!     }
//!     async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
//!         let outcomes = self.inner.commit(batch).await?;
//!         let handed = outcomes.iter().filter(|o| matches!(o, Outcome::Pushed | Outcome::Deferred));
//!         self.handed.fetch_add(handed.count(), Ordering::Relaxed);
//!         Ok(outcomes)
//!     }
//! }
//!
//! // Forwarded too, so a composition with this wrapper keeps the fast lane.
//! #[async_trait]
//! impl<S: FastLaneStore> FastLaneStore for Counting<S> {
//!     async fn fast_pass(&self, lane: &FastLane) -> Result<FastPass> {
//!         let pass = self.inner.fast_pass(lane).await?;
//!         self.handed.fetch_add(pass.handed.len(), Ordering::Relaxed);
//!         Ok(pass)
//!     }
//! }
//!
//! let store = Counting { inner: rqs_store::InMemoryJobStore::default(), handed: AtomicUsize::new(0) };
//! # let _ = store.handed.load(Ordering::Relaxed);
//! ```

use std::sync::Arc;

pub use async_trait::async_trait;
// Every type the traits' signatures name, so that a wrapper or a backend needs only
// this crate.
pub use rqs_core::fast::{FastHandOff, FastLane, FastPass, MetaPlan};
pub use rqs_core::memory::Quarantined;
pub use rqs_core::{Action, HandOff, JobHash, Outcome, ScheduledJob};
pub use rqs_core::{BackendError, JobId};

mod memory;

pub use memory::InMemoryJobStore;

/// Result alias of this crate.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// A page of the schedule: `length` entries after skipping `offset`, as
/// `Scheduler.get_jobs(offset=…, length=…)` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Entries to skip.
    pub offset: usize,
    /// Entries to return at most.
    pub length: usize,
}

/// What the scheduler loop needs from a schedule.
///
/// # Contract
/// - The schedule maps job ids (bytes) to scores (due times in Unix seconds). Order is
///   by score, then by id bytes, like a Redis sorted set. Only scores `>= 0` are ever
///   due, counted or listed, as in rq-scheduler.
/// - [`due`](JobStore::due) returns due jobs (score in `[0, until]`) in order, skipping
///   the first `offset`, at most `limit`, each with the hand-off fields of its hash
///   ([`rqs_core::JobHash::projection`]; `None` when the hash does not exist). It may
///   return fewer than `limit` to bound its memory by bytes, but at least one job when
///   any is due past `offset`. A job whose meta is larger than
///   [`rqs_core::plan::MAX_META_BYTES`] comes without it, with
///   [`ScheduledJob::oversized`] set. It changes nothing.
/// - [`commit`](JobStore::commit) applies each [`HandOff`] atomically, and the whole batch
///   as one atomic step: no observer ever sees a job pushed but still scheduled, or
///   re-armed but not pushed. A hand-off applies only if the job's score still equals
///   the score it was read with, otherwise its outcome is [`Outcome::Stale`] and nothing
///   changes; a guarded meta that changed gives [`Outcome::MetaChanged`]; a hash that
///   disappeared gives [`Outcome::Vanished`] and removes the job from the schedule.
///   Outcomes come back in batch order. Committing the same batch twice changes nothing
///   the second time (every hand-off is then stale), which makes a retry after a timeout
///   safe.
/// - A quarantined job leaves the schedule; [`JobAdmin::quarantined`] lists it with its
///   score and reason. A store whose quarantine cannot take a job now (a key of the
///   wrong type) gives [`Outcome::Held`] for that job and changes nothing of it; the
///   other hand-offs of the batch apply as usual.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Due jobs (score in `[0, until]`) with their hand-off fields, skipping `offset`, at
    /// most `limit`.
    async fn due(&self, until: f64, offset: usize, limit: usize) -> Result<Vec<ScheduledJob>>;

    /// The lowest score `>= 0` in the schedule.
    async fn next_due(&self) -> Result<Option<f64>>;

    /// The number of jobs with a score in `[0, until]` (`None`: no upper bound).
    async fn count(&self, until: Option<f64>) -> Result<u64>;

    /// Applies a batch of hand-offs atomically; one outcome per hand-off, in order.
    async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>>;
}

/// What tools need beyond the loop: scheduling, cancelling, listing, the quarantine.
///
/// # Contract
/// - [`schedule`](JobAdmin::schedule) writes the fields of a job hash and schedules the
///   job at `score`, atomically, as a client's `enqueue_at` does.
/// - [`cancel`](JobAdmin::cancel) removes a job from the schedule and leaves its hash, as
///   rq-scheduler's `cancel` does; cancelling twice is harmless.
/// - [`change_execution_time`](JobAdmin::change_execution_time) moves a scheduled job
///   atomically and fails with [`BackendError::NotScheduled`] for an unscheduled one.
/// - [`release`](JobAdmin::release) puts a quarantined job back in the schedule (at the
///   given score, else at the score it had) and removes its quarantine record, in one
///   step; it fails with [`BackendError::NotQuarantined`] for a job that is not quarantined.
#[async_trait]
pub trait JobAdmin: JobStore {
    /// Writes a job hash and schedules it at `score`.
    async fn schedule(&self, id: &JobId, hash: &JobHash, score: f64) -> Result<()>;

    /// Scheduled ids with their scores, in order, score in `[0, until]`.
    async fn list(&self, until: Option<f64>, page: Option<Page>) -> Result<Vec<(JobId, f64)>>;

    /// The score of a job, `None` when it is not scheduled.
    async fn score(&self, id: &JobId) -> Result<Option<f64>>;

    /// Every field of a job hash, `None` when it does not exist.
    async fn job(&self, id: &JobId) -> Result<Option<JobHash>>;

    /// Removes a job from the schedule; `true` when it was scheduled.
    async fn cancel(&self, id: &JobId) -> Result<bool>;

    /// Gives a scheduled job a new score.
    async fn change_execution_time(&self, id: &JobId, score: f64) -> Result<()>;

    /// The quarantined jobs, by id.
    async fn quarantined(&self) -> Result<Vec<Quarantined>>;

    /// Puts a quarantined job back at `score` (else its old score); returns the score.
    async fn release(&self, id: &JobId, score: Option<f64>) -> Result<f64>;
}

/// A store that can run the fast lane ([`rqs_core::fast`]): hand over, in the same
/// atomic step as the read, the due jobs that need no decision. It is the store's half of
/// the fast lane; the sink's half is `rqs_sink::FastLaneSink`, which says what a plain
/// job's enqueue writes. The scheduler's `with_fast_lane` exists only for a composition
/// whose store and sink both implement their half.
///
/// # Contract
/// - [`fast_pass`](FastLaneStore::fast_pass) reads the due jobs of the window in
///   schedule order (skipping `offset`, at most `limit`) and hands over each one that
///   qualifies exactly as [`commit`](JobStore::commit) would with the sink's plain
///   enqueue: queue push at the tail, `status=queued`, the window's `enqueued_at`, its
///   default timeout when the job has none, the planned meta and next score. It stops
///   before the first job that does not qualify and reports `stopped`. The whole window
///   is one atomic step; nothing is written for a job it did not hand over. Every job
///   handed over is in the reply, in order.
/// - A job qualifies (is *plain*) when its hash has `data` and a non-empty `origin`, its
///   `status` is not `deferred`, it has no (or an empty) `ttl`, `enqueue_at_front`,
///   `dependency_ids` and `dependency_id`, its `meta` is absent or empty or equal to one
///   of the window's [`MetaPlan`]s, and every key its hand-off writes has the right type.
/// - Two windows may be in flight at once: the scheduler sends the next one before the
///   reply to the last is in. Each must stand alone (atomic, reading the schedule as it
///   is when it runs), so either order of running them leaves every job handed over
///   once and the queues in schedule order.
///
/// A wrapper forwards [`fast_pass`](FastLaneStore::fast_pass) as it forwards
/// [`commit`](JobStore::commit): between them, it sees every hand-off. A wrapper that
/// does not implement this trait keeps its composition on the ordinary path.
#[async_trait]
pub trait FastLaneStore: JobStore {
    /// Runs one window of the fast lane.
    async fn fast_pass(&self, lane: &FastLane) -> Result<FastPass>;
}

macro_rules! forward {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: JobStore + ?Sized> JobStore for $ty {
            async fn due(&self, until: f64, offset: usize, limit: usize) -> Result<Vec<ScheduledJob>> {
                (**self).due(until, offset, limit).await
            }
            async fn next_due(&self) -> Result<Option<f64>> {
                (**self).next_due().await
            }
            async fn count(&self, until: Option<f64>) -> Result<u64> {
                (**self).count(until).await
            }
            async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
                (**self).commit(batch).await
            }
        }

        #[async_trait]
        impl<T: JobAdmin + ?Sized> JobAdmin for $ty {
            async fn schedule(&self, id: &JobId, hash: &JobHash, score: f64) -> Result<()> {
                (**self).schedule(id, hash, score).await
            }
            async fn list(&self, until: Option<f64>, page: Option<Page>) -> Result<Vec<(JobId, f64)>> {
                (**self).list(until, page).await
            }
            async fn score(&self, id: &JobId) -> Result<Option<f64>> {
                (**self).score(id).await
            }
            async fn job(&self, id: &JobId) -> Result<Option<JobHash>> {
                (**self).job(id).await
            }
            async fn cancel(&self, id: &JobId) -> Result<bool> {
                (**self).cancel(id).await
            }
            async fn change_execution_time(&self, id: &JobId, score: f64) -> Result<()> {
                (**self).change_execution_time(id, score).await
            }
            async fn quarantined(&self) -> Result<Vec<Quarantined>> {
                (**self).quarantined().await
            }
            async fn release(&self, id: &JobId, score: Option<f64>) -> Result<f64> {
                (**self).release(id, score).await
            }
        }
    )*};
}

forward!(Arc<T>, Box<T>, &T);

macro_rules! forward_fast_lane {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: FastLaneStore + ?Sized> FastLaneStore for $ty {
            async fn fast_pass(&self, lane: &FastLane) -> Result<FastPass> {
                (**self).fast_pass(lane).await
            }
        }
    )*};
}

forward_fast_lane!(Arc<T>, Box<T>, &T);

// Both traits must stay usable as trait objects.
const _: Option<&dyn JobStore> = None;
const _: Option<&dyn JobAdmin> = None;
const _: Option<&dyn FastLaneStore> = None;

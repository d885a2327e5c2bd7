//! The [`JobStore`] trait: where scheduled jobs live, and the atomic hand-off of due jobs.
//!
//! Implementations:
//! - [`RedisJobStore`]: rq-scheduler's sorted set `rq:scheduler:scheduled_jobs` (scored
//!   by due time in Unix seconds) and one RQ hash per job; every multi-key step is a Lua
//!   script in `lua/`;
//! - [`InMemoryJobStore`]: the same contract over an [`rqs_core::memory::RqModel`], for
//!   tests and examples.
//!
//! The conformance suite in `rqs-testkit` (`conformance::job_store`) checks both.

use std::sync::Arc;

use async_trait::async_trait;
use rqs_core::memory::Quarantined;
use rqs_core::{HandOff, JobHash, Outcome, ScheduledJob};

mod memory;
mod redis_store;

pub use memory::InMemoryJobStore;
pub use redis_store::RedisJobStore;

/// A page of the schedule: `length` entries after skipping `offset`, as
/// `Scheduler.get_jobs(offset=…, length=…)` takes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Entries to skip.
    pub offset: usize,
    /// Entries to return at most.
    pub length: usize,
}

/// Errors of a job store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend is unreachable or timed out; the same call may succeed later. A
    /// timed-out write may still have been applied: every write of the contract is safe to
    /// repeat.
    #[error("job store unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A key the call must write has a type it cannot work with (someone stored something
    /// else under an RQ key name); nothing was written.
    #[error("job store refused the call: {0}")]
    Rejected(String),
    /// The backend refused the call (a script error, a wrong key type...).
    #[error("job store error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The job is not in the schedule.
    #[error("job {0} is not scheduled")]
    NotScheduled(String),
    /// The backend answered something the store cannot read.
    #[error("unexpected reply from the job store: {0}")]
    Protocol(String),
}

impl Error {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

rqs_redis::impl_from_redis_error!(Error, rejected);

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where scheduled jobs live.
///
/// # Contract
/// - The schedule maps job ids to scores (due times in Unix seconds). Order is by score,
///   then by id (byte order), like a Redis sorted set. Only scores `>= 0` are ever due,
///   counted or listed, as in rq-scheduler.
/// - [`due`](JobStore::due) returns at most `limit` jobs with a score in `[0, until]`, in
///   order, each with the hand-off fields of its hash ([`rqs_core::JobHash::projection`];
///   `None` when the hash does not exist). It changes nothing.
/// - [`commit`](JobStore::commit) applies each [`HandOff`] atomically, and the whole batch
///   as one atomic step: no observer ever sees a job pushed but still scheduled, or
///   re-armed but not pushed. A hand-off applies only if the job's score still equals
///   the score it was read with, otherwise its outcome is [`Outcome::Stale`] and nothing
///   changes; a guarded meta that changed gives [`Outcome::MetaChanged`]; a hash that
///   disappeared gives [`Outcome::Vanished`] and removes the job from the schedule.
///   Outcomes come back in batch order. Committing the same batch twice changes nothing
///   the second time (every hand-off is then stale), which makes a retry after a timeout
///   safe.
/// - [`cancel`](JobStore::cancel) removes a job from the schedule and leaves its hash, as
///   rq-scheduler's `cancel` does; cancelling twice is harmless.
/// - [`change_execution_time`](JobStore::change_execution_time) moves a scheduled job
///   atomically and fails with [`Error::NotScheduled`] for an unscheduled one.
/// - A quarantined job leaves the schedule and is listed by
///   [`quarantined`](JobStore::quarantined) with its score and reason.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Writes a job hash and schedules it at `score`, as a client's `enqueue_at` does.
    async fn schedule(&self, id: &str, hash: &JobHash, score: f64) -> Result<()>;

    /// The first `limit` due jobs (score in `[0, until]`) with their hand-off fields.
    async fn due(&self, until: f64, limit: usize) -> Result<Vec<ScheduledJob>>;

    /// The lowest score `>= 0` in the schedule.
    async fn next_due(&self) -> Result<Option<f64>>;

    /// The number of jobs with a score in `[0, until]` (`None`: no upper bound).
    async fn count(&self, until: Option<f64>) -> Result<u64>;

    /// Scheduled ids with their scores, in order, score in `[0, until]`.
    async fn list(&self, until: Option<f64>, page: Option<Page>) -> Result<Vec<(String, f64)>>;

    /// The score of a job, `None` when it is not scheduled.
    async fn score(&self, id: &str) -> Result<Option<f64>>;

    /// Removes a job from the schedule; `true` when it was scheduled.
    async fn cancel(&self, id: &str) -> Result<bool>;

    /// Gives a scheduled job a new score.
    async fn change_execution_time(&self, id: &str, score: f64) -> Result<()>;

    /// Applies a batch of hand-offs atomically; one outcome per hand-off, in order.
    async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>>;

    /// The quarantined jobs.
    async fn quarantined(&self) -> Result<Vec<Quarantined>>;
}

macro_rules! forward_job_store {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: JobStore + ?Sized> JobStore for $ty {
            async fn schedule(&self, id: &str, hash: &JobHash, score: f64) -> Result<()> {
                (**self).schedule(id, hash, score).await
            }
            async fn due(&self, until: f64, limit: usize) -> Result<Vec<ScheduledJob>> {
                (**self).due(until, limit).await
            }
            async fn next_due(&self) -> Result<Option<f64>> {
                (**self).next_due().await
            }
            async fn count(&self, until: Option<f64>) -> Result<u64> {
                (**self).count(until).await
            }
            async fn list(&self, until: Option<f64>, page: Option<Page>) -> Result<Vec<(String, f64)>> {
                (**self).list(until, page).await
            }
            async fn score(&self, id: &str) -> Result<Option<f64>> {
                (**self).score(id).await
            }
            async fn cancel(&self, id: &str) -> Result<bool> {
                (**self).cancel(id).await
            }
            async fn change_execution_time(&self, id: &str, score: f64) -> Result<()> {
                (**self).change_execution_time(id, score).await
            }
            async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
                (**self).commit(batch).await
            }
            async fn quarantined(&self) -> Result<Vec<Quarantined>> {
                (**self).quarantined().await
            }
        }
    )*};
}

forward_job_store!(Arc<T>, Box<T>, &T);

// The trait must stay usable as `dyn JobStore`.
const _: Option<&dyn JobStore> = None;

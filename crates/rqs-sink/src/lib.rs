//! The [`QueueSink`] trait: how a due job enters an RQ queue, as a description.
//!
//! A sink is a policy, not a connection. [`QueueSink::prepare`] describes, as plain data
//! ([`Enqueue`]), what RQ's `Queue.enqueue_job` does for a job: status, `enqueued_at`,
//! the default timeout, front or back of the list, the dependency check, the job's time
//! to live. The orchestrator hands that description to the job store, which applies it
//! in the same atomic step as the schedule change: a sink that wrote to a queue itself
//! could not be atomic with the store, so no sink does I/O.
//!
//! [`RqQueueSink`] describes RQ's own enqueue; it is what the `rqs` binary uses, with
//! every store.
//!
//! # The fast lane
//! A sink that implements [`FastLaneSink`] as well declares the one enqueue it gives
//! every *plain* job (see [`rqs_core::fast`]), so that a store implementing
//! `rqs_store::FastLaneStore` can apply it by itself, in the same step as its read,
//! without asking [`prepare`](QueueSink::prepare) job by job. The scheduler's
//! `with_fast_lane` exists only for a composition whose store and sink both offer it.
//! A sink that changes what a plain job's enqueue writes must not implement
//! [`FastLaneSink`]: it is then asked about every job.
//!
//! # Implementing
//! The scheduler calls [`prepare`](QueueSink::prepare) once per due job it hands over on
//! the ordinary path, on the active instance, and only for jobs it is handing over. It
//! must be fast and must not block. A sink that targets another queue system still
//! describes the enqueue as an [`Enqueue`], because the job store applies it.
//!
//! # Wrappers
//! Every type the traits name is re-exported here, so a wrapper needs only this crate.
//! A wrapper that offers the fast lane forwards both traits, and sees every hand-off:
//! the ordinary ones through `prepare`, the fast ones through
//! [`handed_plain`](FastLaneSink::handed_plain):
//!
//! ```
//! use std::sync::Mutex;
//!
//! use rqs_sink::{
//!     DateTime, Enqueue, FastHandOff, FastLaneSink, JobError, JobId, PlainEnqueue, QueueSink,
//!     RqQueueSink, ScheduledJob, Utc,
//! };
//!
//! /// Records the id of every job handed over through it.
//! #[derive(Default)]
//! struct Recording<Q> {
//!     inner: Q,
//!     seen: Mutex<Vec<JobId>>,
//! }
//!
//! impl<Q: QueueSink> QueueSink for Recording<Q> {
//!     fn prepare(&self, job: &ScheduledJob, now: DateTime<Utc>) -> Result<Enqueue, JobError> {
//!         self.seen.lock().unwrap().push(job.id.clone());
//!         self.inner.prepare(job, now)
//!     }
//! }
//!
//! impl<Q: FastLaneSink> FastLaneSink for Recording<Q> {
//!     fn plain_enqueue(&self) -> PlainEnqueue {
//!         self.inner.plain_enqueue()
//!     }
//!     fn handed_plain(&self, jobs: &[FastHandOff]) {
//!         self.seen.lock().unwrap().extend(jobs.iter().map(|j| j.job_id.clone()));
//!         self.inner.handed_plain(jobs);
//!     }
//! }
//!
//! let sink = Recording::<RqQueueSink>::default();
//! assert_eq!(sink.plain_enqueue().default_timeout, 180);
//! ```

// Every type the traits' signatures name, so that a sink or a wrapper needs only this
// crate.
pub use chrono::{DateTime, Utc};
pub use rqs_core::fast::{FastHandOff, PlainEnqueue};
pub use rqs_core::{Enqueue, EnqueueOptions, JobError, JobId, ScheduledJob};

/// Where due jobs go, as a description the job store applies.
///
/// # Contract
/// [`prepare`](QueueSink::prepare) does no I/O. For a job whose hash exists and has
/// `data`, it describes RQ's enqueue: pushed jobs get `status=queued`, `enqueued_at`
/// (RQ's `%Y-%m-%dT%H:%M:%S.%fZ` format) and the default timeout when they have none;
/// a job with dependencies is checked against them when the store applies the
/// description (deferred while one is unmet); `enqueue_at_front=1` means the head of the
/// list; a positive `ttl` field expires the hash and its dependency sets. It fails with
/// a [`JobError`] for a missing job or an unreadable field.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
pub trait QueueSink: Send + Sync {
    /// Describes how `job` is enqueued at `now`.
    ///
    /// # Errors
    /// The job's data cannot be enqueued as it is.
    fn prepare(&self, job: &ScheduledJob, now: DateTime<Utc>) -> Result<Enqueue, JobError>;
}

/// A sink whose enqueue of a plain job is a fixed rule a store may apply by itself: the
/// sink's half of the fast lane ([`rqs_core::fast`]).
///
/// # Contract
/// - For every plain job (see `rqs_store::FastLaneStore` for the test a store applies)
///   and every `now`, [`prepare`](QueueSink::prepare) describes exactly what
///   [`plain_enqueue`](FastLaneSink::plain_enqueue) says: `status=queued`, `enqueued_at`
///   at `now`, the rule's default timeout when the job has none, a push at the tail, no
///   time to live.
/// - [`handed_plain`](FastLaneSink::handed_plain) is told, once, of every job the fast
///   lane handed over under that rule, after the store committed it. It does no I/O.
pub trait FastLaneSink: QueueSink {
    /// The enqueue every plain job gets.
    fn plain_enqueue(&self) -> PlainEnqueue;

    /// The jobs one fast-lane window handed over under
    /// [`plain_enqueue`](FastLaneSink::plain_enqueue), in order.
    fn handed_plain(&self, jobs: &[FastHandOff]);
}

macro_rules! forward_queue_sink {
    ($($ty:ty),*) => {$(
        impl<T: QueueSink + ?Sized> QueueSink for $ty {
            fn prepare(&self, job: &ScheduledJob, now: DateTime<Utc>) -> Result<Enqueue, JobError> {
                (**self).prepare(job, now)
            }
        }

        impl<T: FastLaneSink + ?Sized> FastLaneSink for $ty {
            fn plain_enqueue(&self) -> PlainEnqueue {
                (**self).plain_enqueue()
            }
            fn handed_plain(&self, jobs: &[FastHandOff]) {
                (**self).handed_plain(jobs);
            }
        }
    )*};
}

forward_queue_sink!(std::sync::Arc<T>, Box<T>, &T);

// Both traits must stay usable as trait objects.
const _: Option<&dyn QueueSink> = None;
const _: Option<&dyn FastLaneSink> = None;

/// RQ's own enqueue (`Queue.enqueue_job`), with its options: the sink every store uses
/// unless a team needs another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RqQueueSink {
    options: EnqueueOptions,
}

impl RqQueueSink {
    /// RQ's defaults: a 180 s default timeout, dependencies met when `finished`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Explicit enqueue options.
    pub fn with_options(options: EnqueueOptions) -> Self {
        Self { options }
    }

    /// The options.
    pub fn options(&self) -> &EnqueueOptions {
        &self.options
    }
}

impl QueueSink for RqQueueSink {
    fn prepare(&self, job: &ScheduledJob, now: DateTime<Utc>) -> Result<Enqueue, JobError> {
        Enqueue::for_job(job, now, &self.options)
    }
}

impl FastLaneSink for RqQueueSink {
    fn plain_enqueue(&self) -> PlainEnqueue {
        PlainEnqueue {
            default_timeout: self.options.default_timeout,
        }
    }

    // RQ's enqueue keeps no record of its own: the store wrote everything.
    fn handed_plain(&self, _jobs: &[FastHandOff]) {}
}

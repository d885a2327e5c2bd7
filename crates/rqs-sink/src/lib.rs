//! The [`QueueSink`] trait: how a due job enters an RQ queue.
//!
//! A sink has two halves. [`QueueSink::prepare`] describes, as plain data
//! ([`rqs_core::Enqueue`]), what RQ's `Queue.enqueue_job` does for a job: status,
//! `enqueued_at`, the default timeout, front or back of the list, the dependency check,
//! the job's time to live. The orchestrator hands that description to the job store,
//! which applies it in the same atomic step as the schedule change.
//! [`QueueSink::enqueue`] applies one description on its own, for callers that enqueue
//! outside a hand-off.
//!
//! This crate holds the trait and [`InMemoryQueueSink`]; it does not depend on Redis.
//! `RedisQueueSink` lives in `rqs-redis`.
//!
//! # Implementing
//! Use the re-exported [`async_trait`](macro@async_trait) attribute. The scheduler calls only
//! [`prepare`](QueueSink::prepare), once per due job, on the active instance, with no
//! I/O allowed: it must be fast and must not block. A sink that targets another queue
//! system still describes the enqueue as an [`rqs_core::Enqueue`], because the job store
//! applies it atomically with the schedule change. [`enqueue`](QueueSink::enqueue)
//! returns [`Error`], shared by every component; [`Error::Unavailable`] means "retry".

use std::sync::{Arc, Mutex};

pub use async_trait::async_trait;
// Every type the trait's signatures name, so that a sink or a wrapper needs only this
// crate.
pub use chrono::{DateTime, Utc};
pub use rqs_core::BackendError as Error;
use rqs_core::memory::RqModel;
pub use rqs_core::{Enqueue, EnqueueOptions, Outcome, ScheduledJob};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where due jobs go.
///
/// # Contract
/// - [`prepare`](QueueSink::prepare) does no I/O. For a job whose hash exists and has
///   `data`, it describes RQ's enqueue: pushed jobs get `status=queued`, `enqueued_at`
///   (RQ's `%Y-%m-%dT%H:%M:%S.%fZ` format) and the default timeout when they have none;
///   deferred jobs get `status=deferred`; `enqueue_at_front=1` means the head of the list;
///   a positive `ttl` field expires the hash and its dependency sets. It fails with a
///   [`rqs_core::Error`] for a missing job or an unreadable field.
/// - [`enqueue`](QueueSink::enqueue) applies one description atomically with the
///   semantics documented on [`rqs_core::Enqueue`]: the queue is registered in
///   `rq:queues`, a job with an existing dependency whose status is not met is deferred
///   (deferred registry, dependents and dependencies sets), any other job is pushed.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait QueueSink: Send + Sync {
    /// Describes how `job` is enqueued at `now`.
    ///
    /// # Errors
    /// The job's data cannot be enqueued as it is.
    fn prepare(
        &self,
        job: &ScheduledJob,
        now: DateTime<Utc>,
    ) -> std::result::Result<Enqueue, rqs_core::Error>;

    /// Applies one enqueue on its own; `Pushed` or `Deferred`.
    async fn enqueue(&self, enqueue: &Enqueue) -> Result<Outcome>;
}

macro_rules! forward_queue_sink {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: QueueSink + ?Sized> QueueSink for $ty {
            fn prepare(
                &self,
                job: &ScheduledJob,
                now: DateTime<Utc>,
            ) -> std::result::Result<Enqueue, rqs_core::Error> {
                (**self).prepare(job, now)
            }
            async fn enqueue(&self, enqueue: &Enqueue) -> Result<Outcome> {
                (**self).enqueue(enqueue).await
            }
        }
    )*};
}

forward_queue_sink!(Arc<T>, Box<T>, &T);

// The trait must stay usable as `dyn QueueSink`.
const _: Option<&dyn QueueSink> = None;

/// Enqueues into an in-memory [`RqModel`] shared with an in-memory job store.
#[derive(Debug, Clone, Default)]
pub struct InMemoryQueueSink {
    model: Arc<Mutex<RqModel>>,
    options: EnqueueOptions,
}

impl InMemoryQueueSink {
    /// A sink on a shared model with RQ's defaults.
    pub fn new(model: Arc<Mutex<RqModel>>) -> Self {
        Self {
            model,
            options: EnqueueOptions::default(),
        }
    }

    /// Replaces the enqueue options.
    pub fn with_options(mut self, options: EnqueueOptions) -> Self {
        self.options = options;
        self
    }
}

#[async_trait]
impl QueueSink for InMemoryQueueSink {
    fn prepare(
        &self,
        job: &ScheduledJob,
        now: DateTime<Utc>,
    ) -> std::result::Result<Enqueue, rqs_core::Error> {
        Enqueue::for_job(job, now, &self.options)
    }

    async fn enqueue(&self, enqueue: &Enqueue) -> Result<Outcome> {
        let mut model = self.model.lock().unwrap_or_else(|p| p.into_inner());
        Ok(model.apply_enqueue(enqueue))
    }
}

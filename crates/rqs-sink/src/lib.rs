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
//! Implementations: [`RedisQueueSink`] (a Lua script shared with the Redis job store's
//! commit) and [`InMemoryQueueSink`].

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::Script;
use rqs_core::memory::RqModel;
use rqs_core::{Enqueue, EnqueueOptions, Outcome, ScheduledJob};
use rqs_redis::Conn;

/// Errors of a queue sink.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend is unreachable or timed out; the same call may succeed later.
    #[error("queue sink unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A key the call must write has a type it cannot work with (someone stored something
    /// else under an RQ key name); nothing was written.
    #[error("queue sink refused the call: {0}")]
    Rejected(String),
    /// The backend refused the call.
    #[error("queue sink error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend answered something the sink cannot read.
    #[error("unexpected reply from the queue sink: {0}")]
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

static ENQUEUE_ONE: std::sync::LazyLock<Script> =
    std::sync::LazyLock::new(|| rqs_redis::script(include_str!("lua/enqueue_one.lua")));

/// Enqueues into RQ's Redis keys (`rq:queue:<q>`, `rq:queues`, `rq:deferred:<q>`...).
#[derive(Clone)]
pub struct RedisQueueSink<C> {
    conn: C,
    options: EnqueueOptions,
}

impl<C> std::fmt::Debug for RedisQueueSink<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisQueueSink")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<C: Conn> RedisQueueSink<C> {
    /// A sink on `conn` with RQ's defaults.
    pub fn new(conn: C) -> Self {
        Self::with_options(conn, EnqueueOptions::default())
    }

    /// A sink with explicit enqueue options.
    pub fn with_options(conn: C, options: EnqueueOptions) -> Self {
        Self { conn, options }
    }
}

fn parse_outcome(name: &str) -> Result<Outcome> {
    Outcome::parse(name).ok_or_else(|| Error::Protocol(format!("unknown outcome {name:?}")))
}

#[async_trait]
impl<C: Conn> QueueSink for RedisQueueSink<C> {
    fn prepare(
        &self,
        job: &ScheduledJob,
        now: DateTime<Utc>,
    ) -> std::result::Result<Enqueue, rqs_core::Error> {
        Enqueue::for_job(job, now, &self.options)
    }

    async fn enqueue(&self, enqueue: &Enqueue) -> Result<Outcome> {
        let mut args = Vec::new();
        rqs_redis::encode_enqueue(enqueue, &mut args);
        let mut invocation = ENQUEUE_ONE.prepare_invoke();
        for a in &args {
            invocation.arg(a.as_slice());
        }
        let name: String = invocation.invoke_async(&mut self.conn.clone()).await?;
        parse_outcome(&name)
    }
}

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

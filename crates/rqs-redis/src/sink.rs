//! [`QueueSink`] into RQ's Redis keys.

use std::sync::LazyLock;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rqs_core::{BackendError as Error, Enqueue, EnqueueOptions, Outcome, ScheduledJob};
use rqs_sink::{QueueSink, Result};

use crate::Conn;
use crate::error::RedisResultExt;
use crate::script::{Lua, encode_enqueue};

static ENQUEUE_ONE: LazyLock<Lua> =
    LazyLock::new(|| Lua::with_fragment(include_str!("lua/enqueue_one.lua")));

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
        let mut cmd = ENQUEUE_ONE.cmd::<&str>(&[]);
        encode_enqueue(enqueue, &mut cmd);
        let name: String = ENQUEUE_ONE
            .run(&mut self.conn.clone(), &cmd)
            .await
            .backend()?;
        Outcome::parse(&name).ok_or_else(|| Error::Protocol(format!("unknown outcome {name:?}")))
    }
}

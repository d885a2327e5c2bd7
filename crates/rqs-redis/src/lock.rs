//! [`LockProvider`] on a Redis key, by default rq-scheduler's `rq:scheduler_lock`.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use rqs_core::keys;
use rqs_lock::{LockProvider, Result};

use crate::Conn;
use crate::error::{RedisResultExt, query};
use crate::script::Lua;

static RENEW: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/lock_renew.lua")));
static RELEASE: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/lock_release.lua")));

/// Milliseconds of a lease, at least 1 (Redis refuses a zero expiry).
pub(crate) fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The lock on a Redis key: `SET NX PX` to take it, Lua compare-and-expire and
/// compare-and-delete on the owner token to renew and release it. Redis expires the key,
/// so a crashed holder's lease ends by itself. On `rq:scheduler_lock` a Python
/// `rqscheduler` sees the key and skips its run.
#[derive(Clone)]
pub struct RedisLockProvider<C> {
    conn: C,
    key: String,
}

impl<C> std::fmt::Debug for RedisLockProvider<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLockProvider")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl<C: Conn> RedisLockProvider<C> {
    /// The lock on `rq:scheduler_lock`, shared with Python's `rqscheduler`.
    pub fn new(conn: C) -> Self {
        Self::with_key(conn, keys::SCHEDULER_LOCK)
    }

    /// A lock on another key.
    pub fn with_key(conn: C, key: impl Into<String>) -> Self {
        Self {
            conn,
            key: key.into(),
        }
    }
}

#[async_trait]
impl<C: Conn> LockProvider for RedisLockProvider<C> {
    async fn acquire(&self, token: &str, ttl: Duration) -> Result<bool> {
        let reply: Option<String> = query(
            &mut self.conn.clone(),
            redis::cmd("SET")
                .arg(&self.key)
                .arg(token)
                .arg("NX")
                .arg("PX")
                .arg(millis(ttl)),
        )
        .await?;
        Ok(reply.is_some())
    }

    async fn renew(&self, token: &str, ttl: Duration) -> Result<bool> {
        let mut cmd = RENEW.cmd(&[&self.key]);
        cmd.arg(token).arg(millis(ttl));
        let renewed: i64 = RENEW.run(&mut self.conn.clone(), &cmd).await.backend()?;
        Ok(renewed == 1)
    }

    async fn release(&self, token: &str) -> Result<bool> {
        let mut cmd = RELEASE.cmd(&[&self.key]);
        cmd.arg(token);
        let released: i64 = RELEASE.run(&mut self.conn.clone(), &cmd).await.backend()?;
        Ok(released == 1)
    }

    async fn holder(&self) -> Result<Option<String>> {
        let value: Option<Vec<u8>> =
            query(&mut self.conn.clone(), redis::cmd("GET").arg(&self.key)).await?;
        Ok(value.map(|v| String::from_utf8_lossy(&v).into_owned()))
    }
}

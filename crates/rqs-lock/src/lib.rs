//! The [`LockProvider`] trait: at most one scheduler instance acts at a time.
//!
//! Implementations:
//! - [`RedisLockProvider`]: rq-scheduler's own key `rq:scheduler_lock` taken with
//!   `SET NX PX`, so an rqs and a Python `rqscheduler` never act at the same time;
//!   renew and release are Lua compare-and-expire / compare-and-delete on an owner token;
//! - [`InMemoryLockProvider`]: the same contract inside one process.
//!
//! The lock is an efficiency and compatibility device, not the last line of defence: the
//! job store's commit is guarded by each job's score, so even two instances acting at
//! once cannot hand the same job off twice.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use redis::Script;
use rqs_core::keys;
use rqs_redis::Conn;

/// Errors of a lock provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The backend is unreachable or timed out; the same call may succeed later.
    #[error("lock provider unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend refused the call.
    #[error("lock provider error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl Error {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

rqs_redis::impl_from_redis_error!(Error);

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A lease that at most one owner holds at a time.
///
/// # Contract
/// - [`acquire`](LockProvider::acquire) succeeds only when nobody holds the lock; the
///   lease then lasts `ttl` unless renewed. Acquiring a lock one already holds fails
///   (use `renew`).
/// - [`renew`](LockProvider::renew) extends the lease to `ttl` from now only when
///   `token` holds it, and reports whether it did; a lease that expired cannot be renewed.
/// - [`release`](LockProvider::release) frees the lock only when `token` holds it, and
///   reports whether it did. Releasing twice is harmless.
/// - [`holder`](LockProvider::holder) names the current holder's token, if any.
/// - Tokens are opaque strings; callers pick one that no other instance uses.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait LockProvider: Send + Sync {
    /// Takes the lock for `ttl` when it is free.
    async fn acquire(&self, token: &str, ttl: Duration) -> Result<bool>;
    /// Extends the lease of the owner `token`.
    async fn renew(&self, token: &str, ttl: Duration) -> Result<bool>;
    /// Frees the lock if `token` holds it.
    async fn release(&self, token: &str) -> Result<bool>;
    /// The token of the current holder.
    async fn holder(&self) -> Result<Option<String>>;
}

macro_rules! forward_lock_provider {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: LockProvider + ?Sized> LockProvider for $ty {
            async fn acquire(&self, token: &str, ttl: Duration) -> Result<bool> {
                (**self).acquire(token, ttl).await
            }
            async fn renew(&self, token: &str, ttl: Duration) -> Result<bool> {
                (**self).renew(token, ttl).await
            }
            async fn release(&self, token: &str) -> Result<bool> {
                (**self).release(token).await
            }
            async fn holder(&self) -> Result<Option<String>> {
                (**self).holder().await
            }
        }
    )*};
}

forward_lock_provider!(Arc<T>, Box<T>, &T);

// The trait must stay usable as `dyn LockProvider`.
const _: Option<&dyn LockProvider> = None;

static RENEW: std::sync::LazyLock<Script> =
    std::sync::LazyLock::new(|| Script::new(include_str!("lua/renew.lua")));
static RELEASE: std::sync::LazyLock<Script> =
    std::sync::LazyLock::new(|| Script::new(include_str!("lua/release.lua")));

/// Milliseconds of a lease, at least 1 (Redis refuses a zero expiry).
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// The lock on a Redis key, by default rq-scheduler's `rq:scheduler_lock`.
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
        let reply: Option<String> = redis::cmd("SET")
            .arg(&self.key)
            .arg(token)
            .arg("NX")
            .arg("PX")
            .arg(millis(ttl))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(reply.is_some())
    }

    async fn renew(&self, token: &str, ttl: Duration) -> Result<bool> {
        let renewed: i64 = RENEW
            .key(&self.key)
            .arg(token)
            .arg(millis(ttl))
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(renewed == 1)
    }

    async fn release(&self, token: &str) -> Result<bool> {
        let released: i64 = RELEASE
            .key(&self.key)
            .arg(token)
            .invoke_async(&mut self.conn.clone())
            .await?;
        Ok(released == 1)
    }

    async fn holder(&self) -> Result<Option<String>> {
        Ok(redis::cmd("GET")
            .arg(&self.key)
            .query_async(&mut self.conn.clone())
            .await?)
    }
}

/// A lock inside one process, for tests and single-process schedulers.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLockProvider {
    lease: Arc<Mutex<Option<(String, Instant)>>>,
}

impl InMemoryLockProvider {
    /// A free lock.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_current<R>(&self, f: impl FnOnce(&mut Option<(String, Instant)>) -> R) -> R {
        let mut lease = self.lease.lock().unwrap_or_else(|p| p.into_inner());
        if lease
            .as_ref()
            .is_some_and(|(_, until)| *until <= Instant::now())
        {
            *lease = None;
        }
        f(&mut lease)
    }
}

#[async_trait]
impl LockProvider for InMemoryLockProvider {
    async fn acquire(&self, token: &str, ttl: Duration) -> Result<bool> {
        Ok(self.with_current(|lease| {
            if lease.is_some() {
                return false;
            }
            *lease = Some((token.to_owned(), Instant::now() + ttl));
            true
        }))
    }

    async fn renew(&self, token: &str, ttl: Duration) -> Result<bool> {
        Ok(self.with_current(|lease| match lease {
            Some((owner, until)) if owner == token => {
                *until = Instant::now() + ttl;
                true
            }
            _ => false,
        }))
    }

    async fn release(&self, token: &str) -> Result<bool> {
        Ok(self.with_current(|lease| {
            if lease.as_ref().is_some_and(|(owner, _)| owner == token) {
                *lease = None;
                true
            } else {
                false
            }
        }))
    }

    async fn holder(&self) -> Result<Option<String>> {
        Ok(self.with_current(|lease| lease.as_ref().map(|(owner, _)| owner.clone())))
    }
}

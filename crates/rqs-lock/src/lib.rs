//! The [`LockProvider`] trait: at most one scheduler instance acts at a time.
//!
//! This crate holds the trait and [`InMemoryLockProvider`] (one process); it does not
//! depend on Redis. `RedisLockProvider`, on rq-scheduler's own key `rq:scheduler_lock`,
//! lives in `rqs-redis`; `examples/postgres-lock` in the repository is a lock on
//! PostgreSQL advisory locks.
//!
//! The lock is an efficiency and compatibility device, not the last line of defence: the
//! job store's commit is guarded by each job's score, so even two instances acting at
//! once cannot hand the same job off twice.
//!
//! # Implementing
//! Use the re-exported [`async_trait`](macro@async_trait) attribute (`#[rqs_lock::async_trait]`); a plain
//! `async fn` in the impl fails with `E0195`. Then run the conformance suite:
//! `rqs_conformance::lock_provider_conformance!` with a factory of handles (its `paused:`
//! form runs on paused Tokio time, which needs tokio's `test-util` feature among your
//! dev-dependencies; a backend that keeps leases in whole seconds declares it with
//! `granularity = Duration::from_secs(1),` before the setup, and the suite's short leases
//! become a second long).
//!
//! **Tokens.** The scheduler's token is `{name}@{birth}`: the instance name (at most
//! [`MAX_NAME_LEN`] bytes of `[A-Za-z0-9._:-]`), `@`, and its birth time as Python prints
//! `time.time()` (at most 24 bytes). A token is therefore at most [`MAX_TOKEN_LEN`] bytes
//! of printable ASCII. Treat it as opaque and store it whole: two instances never share
//! one, and the scheduler recognises its own lock by comparing tokens.
//!
//! **Leases.** `ttl` is the lease lifetime (default 5 s, `SchedulerConfig::lease`). The
//! backend must expire a lease on its own side, without the holder's help: a holder that
//! crashed or was paused never releases, and a standby can only take over once the
//! backend itself considers the lease gone. A lease that exists only in the holder's
//! memory (a connection-scoped lock with no expiry, say) does not satisfy the contract.
//!
//! **When the scheduler calls what.**
//! - [`acquire`](LockProvider::acquire): by every instance that does not hold the lock,
//!   once per lock retry interval (default 1 s);
//! - [`holder`](LockProvider::holder): after a failed `acquire`, to recognise its own
//!   token when the reply to an earlier successful `acquire` was lost;
//! - [`renew`](LockProvider::renew): by the active instance when less than half of its
//!   lease is left, checked at every wake-up (about once a second), between batches and
//!   before each commit: with the default 5 s lease, a renewal every 2.5 to 3.5 s; a
//!   `false` makes it step down at once;
//! - [`release`](LockProvider::release): once, at a clean shutdown.
//!
//! The active instance also keeps its own deadline (the time it sent the last
//! successful `acquire` or `renew`, plus `ttl`) and never commits past it, so a lease
//! the backend expired while the holder was paused cannot be acted on.
//!
//! **Errors.** A lease that is no longer this token's, for whatever reason (expired,
//! taken by another handle, or gone with a backend session that ended), is an answer,
//! not an error: `renew` and `release` return `Ok(false)`. Return
//! [`BackendError::Unavailable`] for a failure worth retrying (the backend does not answer):
//! the scheduler retries every 250 ms or so, and an active instance that cannot renew
//! stops committing, and reports itself no longer the leader, when its own deadline
//! passes. Any other error is logged and retried by a daemon, and ends a burst run.
//! Every call must be safe to repeat after a timeout whose effect may have happened.
//!
//! **Across processes.** Instances are separate processes, each with its own handle on
//! the same lock: everything above must hold between handles, not just within one.

use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use async_trait::async_trait;
pub use rqs_core::BackendError;
use tokio::time::Instant;

/// Result alias of this crate.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// The longest instance name the scheduler accepts.
pub const MAX_NAME_LEN: usize = 64;

/// The longest token the scheduler uses: a name, `@`, and a birth time.
pub const MAX_TOKEN_LEN: usize = MAX_NAME_LEN + 1 + 24;

/// A lease that at most one owner holds at a time.
///
/// # Contract
/// - [`acquire`](LockProvider::acquire) succeeds only when nobody holds the lock; the
///   lease then lasts `ttl` unless renewed. Acquiring a lock one already holds fails
///   (use `renew`).
/// - [`renew`](LockProvider::renew) extends the lease to `ttl` from now only when
///   `token` holds it, and reports whether it did; a lease that expired cannot be renewed.
///   A lease lost in any way (expired, taken, gone with a backend session) is
///   `Ok(false)`, never an error.
/// - [`release`](LockProvider::release) frees the lock only when `token` holds it, and
///   reports whether it did. Releasing twice is harmless.
/// - The scheduler renews and releases through the handle that acquired; a backend may
///   require that (a lock tied to a database session does).
/// - [`holder`](LockProvider::holder) names the current holder's token, if any.
/// - The backend expires a lease by itself; all of the above holds between handles in
///   different processes.
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

/// A lock inside one process, for tests and single-process schedulers. Clones share the
/// lease, so each clone is a handle on the same lock.
///
/// It keeps time with [`tokio::time::Instant`], so tests on paused Tokio time control
/// its expiry.
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

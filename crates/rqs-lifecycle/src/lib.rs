//! The [`LifecycleRegistry`] trait: birth, heartbeat and death of scheduler instances.
//!
//! [`RedisLifecycleRegistry`] writes rq-scheduler's record, a hash
//! `rq:scheduler_instance:<name>` with a `birth` field and, after shutdown, a `death`
//! field (both Unix times as Python's `repr(time.time())` prints them). The record lives
//! for the heartbeat time to live while the instance runs and 60 seconds after its death,
//! so tools that list rq-scheduler instances see rqs the same way.
//! [`InMemoryLifecycleRegistry`] keeps the same records in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::Script;
use rqs_core::{keys, time};
use rqs_redis::Conn;

/// How long a death record stays, as in rq-scheduler.
pub const DEATH_TTL: Duration = Duration::from_secs(60);

/// Errors of a lifecycle registry.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An instance of this name is alive (a record without a death exists).
    #[error("there is already an active rq scheduler named {0:?}")]
    AlreadyActive(String),
    /// The backend is unreachable or timed out; the same call may succeed later.
    #[error("lifecycle registry unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend refused the call.
    #[error("lifecycle registry error: {0}")]
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

/// What the registry knows of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRecord {
    /// Birth time as stored (Python float repr of Unix seconds).
    pub birth: Option<String>,
    /// Death time as stored, once dead.
    pub death: Option<String>,
}

/// Where scheduler instances announce themselves.
///
/// # Contract
/// - [`register_birth`](LifecycleRegistry::register_birth) fails with
///   [`Error::AlreadyActive`] while a record of the same name exists without a death;
///   otherwise it replaces any old record with a fresh birth that expires after `ttl`.
///   The check and the write are one atomic step.
/// - [`heartbeat`](LifecycleRegistry::heartbeat) extends the record to `ttl` from now and
///   reports `false` when the record no longer exists (it expired).
/// - [`register_death`](LifecycleRegistry::register_death) adds the death time and lets
///   the record expire after [`DEATH_TTL`]. Registering death twice is harmless.
/// - [`record`](LifecycleRegistry::record) reads a record.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait LifecycleRegistry: Send + Sync {
    /// Registers a birth at `at`, refusing a name that is alive.
    async fn register_birth(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<()>;
    /// Keeps the record alive for `ttl`; `false` when it had expired.
    async fn heartbeat(&self, name: &str, ttl: Duration) -> Result<bool>;
    /// Registers a death at `at`.
    async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()>;
    /// The record of `name`.
    async fn record(&self, name: &str) -> Result<Option<InstanceRecord>>;
}

macro_rules! forward_lifecycle_registry {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: LifecycleRegistry + ?Sized> LifecycleRegistry for $ty {
            async fn register_birth(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<()> {
                (**self).register_birth(name, at, ttl).await
            }
            async fn heartbeat(&self, name: &str, ttl: Duration) -> Result<bool> {
                (**self).heartbeat(name, ttl).await
            }
            async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
                (**self).register_death(name, at).await
            }
            async fn record(&self, name: &str) -> Result<Option<InstanceRecord>> {
                (**self).record(name).await
            }
        }
    )*};
}

forward_lifecycle_registry!(Arc<T>, Box<T>, &T);

// The trait must stay usable as `dyn LifecycleRegistry`.
const _: Option<&dyn LifecycleRegistry> = None;

static BIRTH: std::sync::LazyLock<Script> =
    std::sync::LazyLock::new(|| Script::new(include_str!("lua/birth.lua")));

fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn stamp(at: DateTime<Utc>) -> String {
    time::python_float_repr(time::unix_seconds(at))
}

/// rq-scheduler's `rq:scheduler_instance:<name>` records.
#[derive(Clone)]
pub struct RedisLifecycleRegistry<C> {
    conn: C,
}

impl<C> std::fmt::Debug for RedisLifecycleRegistry<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLifecycleRegistry")
            .finish_non_exhaustive()
    }
}

impl<C: Conn> RedisLifecycleRegistry<C> {
    /// A registry on `conn`.
    pub fn new(conn: C) -> Self {
        Self { conn }
    }
}

#[async_trait]
impl<C: Conn> LifecycleRegistry for RedisLifecycleRegistry<C> {
    async fn register_birth(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<()> {
        let registered: i64 = BIRTH
            .key(keys::instance_key(name))
            .arg(stamp(at))
            .arg(millis(ttl))
            .invoke_async(&mut self.conn.clone())
            .await?;
        if registered == 1 {
            Ok(())
        } else {
            Err(Error::AlreadyActive(name.to_owned()))
        }
    }

    async fn heartbeat(&self, name: &str, ttl: Duration) -> Result<bool> {
        let alive: i64 = redis::cmd("PEXPIRE")
            .arg(keys::instance_key(name))
            .arg(millis(ttl))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(alive == 1)
    }

    async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let key = keys::instance_key(name);
        redis::pipe()
            .atomic()
            .hset(&key, "death", stamp(at))
            .ignore()
            .expire(&key, DEATH_TTL.as_secs() as i64)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn record(&self, name: &str) -> Result<Option<InstanceRecord>> {
        let fields: HashMap<String, String> = redis::cmd("HGETALL")
            .arg(keys::instance_key(name))
            .query_async(&mut self.conn.clone())
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Ok(Some(InstanceRecord {
            birth: fields.get("birth").cloned(),
            death: fields.get("death").cloned(),
        }))
    }
}

#[derive(Debug, Clone)]
struct Entry {
    record: InstanceRecord,
    expires: Instant,
}

/// Instance records kept in memory.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLifecycleRegistry {
    records: Arc<Mutex<HashMap<String, Entry>>>,
}

impl InMemoryLifecycleRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_live<R>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> R) -> R {
        let mut records = self.records.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        records.retain(|_, e| e.expires > now);
        f(&mut records)
    }
}

#[async_trait]
impl LifecycleRegistry for InMemoryLifecycleRegistry {
    async fn register_birth(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<()> {
        self.with_live(|records| {
            if records.get(name).is_some_and(|e| e.record.death.is_none()) {
                return Err(Error::AlreadyActive(name.to_owned()));
            }
            records.insert(
                name.to_owned(),
                Entry {
                    record: InstanceRecord {
                        birth: Some(stamp(at)),
                        death: None,
                    },
                    expires: Instant::now() + ttl,
                },
            );
            Ok(())
        })
    }

    async fn heartbeat(&self, name: &str, ttl: Duration) -> Result<bool> {
        Ok(self.with_live(|records| match records.get_mut(name) {
            Some(e) => {
                e.expires = Instant::now() + ttl;
                true
            }
            None => false,
        }))
    }

    async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.with_live(|records| {
            let entry = records.entry(name.to_owned()).or_insert_with(|| Entry {
                record: InstanceRecord {
                    birth: None,
                    death: None,
                },
                expires: Instant::now(),
            });
            entry.record.death = Some(stamp(at));
            entry.expires = Instant::now() + DEATH_TTL;
        });
        Ok(())
    }

    async fn record(&self, name: &str) -> Result<Option<InstanceRecord>> {
        Ok(self.with_live(|records| records.get(name).map(|e| e.record.clone())))
    }
}

//! The [`LifecycleRegistry`] trait: birth, heartbeat and death of scheduler instances.
//!
//! rq-scheduler's record is a hash `rq:scheduler_instance:<name>` with a `birth` field
//! and, after shutdown, a `death` field (both Unix times as Python's `repr(time.time())`
//! prints them). It lives for the heartbeat time to live while the instance runs and 60
//! seconds after its death, so tools that list rq-scheduler instances see rqs the same
//! way. rqs adds two fields of its own, `rqs` (its version) and `heartbeat`, which is how
//! it tells its own instances from Python's.
//!
//! This crate holds the trait and [`InMemoryLifecycleRegistry`]; it does not depend on
//! Redis. `RedisLifecycleRegistry` lives in `rqs-redis`.
//!
//! # Implementing
//! Use the re-exported [`async_trait`](macro@async_trait) attribute. The scheduler calls
//! [`register_birth`](LifecycleRegistry::register_birth) once at start (and again when
//! its record expired during an outage), [`instances`](LifecycleRegistry::instances) right
//! after birth (to warn about a Python scheduler on the same data),
//! [`heartbeat`](LifecycleRegistry::heartbeat) every [`HEARTBEAT_EVERY`] (a second), and [`register_death`](LifecycleRegistry::register_death) at a clean stop.
//! Records must expire on the backend's side after `ttl`, without the instance's help. An
//! [`BackendError::AlreadyActive`] from `register_birth` stops the scheduler (exit code 3 in the
//! binary); [`BackendError::Unavailable`] is retried; anything else is retried by a daemon and
//! ends a burst run.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use async_trait::async_trait;
// The time type the trait's signatures name, so that a registry needs only this crate.
pub use chrono::{DateTime, Utc};
pub use rqs_core::BackendError;
use rqs_core::time;
use tokio::time::Instant;

/// How long a death record stays, as in rq-scheduler.
pub const DEATH_TTL: Duration = Duration::from_secs(60);

/// How often a running rqs instance refreshes the `heartbeat` of its record.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// An rqs record without a death whose heartbeat is older than this is a crashed
/// instance's: a birth under its name takes it over, and inspection shows it dead. Five
/// missed heartbeats, so a live instance is never mistaken for a dead one over a slow
/// call or two; well under the record's time to live (`interval + 10` s, kept for
/// Python's tools), which would otherwise block a restart under the same name for a
/// minute.
pub const STALE_AFTER: Duration = Duration::from_secs(5);

/// Result alias of this crate.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// What the registry knows of one instance.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InstanceRecord {
    /// Birth time as stored (Python float repr of Unix seconds).
    pub birth: Option<String>,
    /// Death time as stored, once dead.
    pub death: Option<String>,
    /// The rqs version that registered it; `None` for another scheduler (Python's).
    pub rqs: Option<String>,
    /// Time of the last heartbeat (Python float repr), written by rqs only.
    pub heartbeat: Option<String>,
}

impl InstanceRecord {
    /// A record as rqs writes it at birth.
    pub fn born(at: DateTime<Utc>, version: &str) -> Self {
        Self {
            birth: Some(stamp(at)),
            death: None,
            rqs: Some(version.to_owned()),
            heartbeat: Some(stamp(at)),
        }
    }

    /// Whether the instance has not registered its death.
    pub fn is_alive(&self) -> bool {
        self.death.is_none()
    }

    /// Whether the instance is alive at `now` (Unix seconds): it has not registered its
    /// death and, for an rqs instance, its heartbeat is younger than [`STALE_AFTER`].
    /// Python's records carry no heartbeat; they are alive until they expire.
    pub fn is_alive_at(&self, now: f64) -> bool {
        self.is_alive() && !self.is_stale_at(now)
    }

    /// Whether this is an rqs record whose heartbeat stopped more than [`STALE_AFTER`]
    /// before `now` (Unix seconds): its instance crashed.
    pub fn is_stale_at(&self, now: f64) -> bool {
        let beat = self
            .heartbeat
            .as_deref()
            .and_then(|h| h.parse::<f64>().ok());
        match beat {
            Some(beat) if self.is_rqs() => now - beat >= STALE_AFTER.as_secs_f64(),
            _ => false,
        }
    }

    /// Whether an rqs instance wrote the record.
    pub fn is_rqs(&self) -> bool {
        self.rqs.is_some()
    }
}

/// A time as rq-scheduler stores it: Python's `repr(time.time())`.
pub fn stamp(at: DateTime<Utc>) -> String {
    time::python_float_repr(time::unix_seconds(at))
}

/// Where scheduler instances announce themselves.
///
/// # Contract
/// - [`register_birth`](LifecycleRegistry::register_birth) fails with
///   [`BackendError::AlreadyActive`] while a record of the same name exists without a death,
///   unless it is an rqs record whose last heartbeat is older than [`STALE_AFTER`] (a
///   crashed instance's); otherwise it replaces any old record with a fresh birth that
///   expires after `ttl`. The check and the write are one atomic step. Staleness is
///   judged on the backend's own clock where it has one, so that two hosts' clocks are
///   never compared.
/// - [`heartbeat`](LifecycleRegistry::heartbeat) records the time (`at`, or the
///   backend's own clock, the same that judges staleness), extends the
///   record to `ttl` from now, and reports `false` (writing nothing) when the record no
///   longer exists (it expired).
/// - [`register_death`](LifecycleRegistry::register_death) adds the death time and lets
///   the record expire after [`DEATH_TTL`]. Registering death twice is harmless.
/// - [`record`](LifecycleRegistry::record) reads one record and
///   [`instances`](LifecycleRegistry::instances) every record, sorted by name, whoever
///   wrote them (Python's `rqscheduler` included).
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait LifecycleRegistry: Send + Sync {
    /// Registers a birth at `at`, refusing a name that is alive.
    async fn register_birth(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<()>;
    /// Keeps the record alive for `ttl`; `false` when it had expired.
    async fn heartbeat(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<bool>;
    /// Registers a death at `at`.
    async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()>;
    /// The record of `name`.
    async fn record(&self, name: &str) -> Result<Option<InstanceRecord>>;
    /// Every record, by name.
    async fn instances(&self) -> Result<Vec<(String, InstanceRecord)>>;
}

macro_rules! forward_lifecycle_registry {
    ($($ty:ty),*) => {$(
        #[async_trait]
        impl<T: LifecycleRegistry + ?Sized> LifecycleRegistry for $ty {
            async fn register_birth(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<()> {
                (**self).register_birth(name, at, ttl).await
            }
            async fn heartbeat(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<bool> {
                (**self).heartbeat(name, at, ttl).await
            }
            async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
                (**self).register_death(name, at).await
            }
            async fn record(&self, name: &str) -> Result<Option<InstanceRecord>> {
                (**self).record(name).await
            }
            async fn instances(&self) -> Result<Vec<(String, InstanceRecord)>> {
                (**self).instances().await
            }
        }
    )*};
}

forward_lifecycle_registry!(Arc<T>, Box<T>, &T);

// The trait must stay usable as `dyn LifecycleRegistry`.
const _: Option<&dyn LifecycleRegistry> = None;

#[derive(Debug, Clone)]
struct Entry {
    record: InstanceRecord,
    expires: Instant,
    /// The last birth or heartbeat, on the registry's own clock: what staleness is
    /// judged by, as Redis judges it by its own.
    beat: Instant,
}

impl Entry {
    fn is_live(&self) -> bool {
        self.record.is_alive() && !(self.record.is_rqs() && self.beat.elapsed() >= STALE_AFTER)
    }
}

/// Instance records kept in memory. Clones share the records.
///
/// It keeps time with [`tokio::time::Instant`], so tests on paused Tokio time control
/// expiry.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLifecycleRegistry {
    records: Arc<Mutex<HashMap<String, Entry>>>,
}

impl InMemoryLifecycleRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a record as another scheduler would write it (no rqs marker), for tests.
    pub fn insert_foreign(&self, name: &str, birth: DateTime<Utc>, ttl: Duration) {
        self.with_live(|records| {
            let record = InstanceRecord {
                birth: Some(stamp(birth)),
                ..InstanceRecord::default()
            };
            records.insert(
                name.to_owned(),
                Entry {
                    record,
                    expires: Instant::now() + ttl,
                    beat: Instant::now(),
                },
            );
        });
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
            if records.get(name).is_some_and(Entry::is_live) {
                return Err(BackendError::AlreadyActive(name.to_owned()));
            }
            records.insert(
                name.to_owned(),
                Entry {
                    record: InstanceRecord::born(at, env!("CARGO_PKG_VERSION")),
                    expires: Instant::now() + ttl,
                    beat: Instant::now(),
                },
            );
            Ok(())
        })
    }

    async fn heartbeat(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        Ok(self.with_live(|records| match records.get_mut(name) {
            Some(e) => {
                e.expires = Instant::now() + ttl;
                e.beat = Instant::now();
                e.record.heartbeat = Some(stamp(at));
                true
            }
            None => false,
        }))
    }

    async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        self.with_live(|records| {
            let entry = records.entry(name.to_owned()).or_insert_with(|| Entry {
                record: InstanceRecord::default(),
                expires: Instant::now(),
                beat: Instant::now(),
            });
            entry.record.death = Some(stamp(at));
            entry.expires = Instant::now() + DEATH_TTL;
        });
        Ok(())
    }

    async fn record(&self, name: &str) -> Result<Option<InstanceRecord>> {
        Ok(self.with_live(|records| records.get(name).map(|e| e.record.clone())))
    }

    async fn instances(&self) -> Result<Vec<(String, InstanceRecord)>> {
        Ok(self.with_live(|records| {
            let mut all: Vec<_> = records
                .iter()
                .map(|(name, e)| (name.clone(), e.record.clone()))
                .collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        }))
    }
}

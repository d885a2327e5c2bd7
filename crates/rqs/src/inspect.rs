//! The read side shared by the inspection commands and the status page: instances, the
//! lock, counts, upcoming jobs, the quarantine. Everything here only reads Redis.

use crate::connection::Connection;
use futures_util::{StreamExt, TryStreamExt};
use rqs_core::memory::Quarantined;
use rqs_core::{BackendError, JobHash, JobId};
use rqs_lifecycle::{InstanceRecord, LifecycleRegistry};
use rqs_lock::LockProvider;
use rqs_redis::{RedisJobStore, RedisLifecycleRegistry, RedisLockProvider};
use rqs_store::{JobAdmin, JobStore, Page};
use serde::Serialize;

use crate::jobinfo::{self, Kind};
use crate::output;

/// Job hashes read at once while listing (they share one multiplexed connection).
const CONCURRENT_READS: usize = 16;

/// A Unix time, serialised with its UTC date: `{"unix": 1796378400.0, "utc": "2026-…Z"}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stamp(pub(crate) f64);

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Stamp", 2)?;
        st.serialize_field("unix", &self.0)?;
        st.serialize_field("utc", &output::rfc3339_exact(self.0))?;
        st.end()
    }
}

fn stamp(text: Option<&str>) -> Option<Stamp> {
    text.and_then(|t| t.parse::<f64>().ok()).map(Stamp)
}

/// One scheduler instance record (rqs's or Python's).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Instance {
    pub(crate) name: String,
    /// `rqs 0.1.0`, or `not rqs` for Python's `rqscheduler`.
    pub(crate) software: String,
    pub(crate) alive: bool,
    pub(crate) birth: Option<Stamp>,
    pub(crate) heartbeat: Option<Stamp>,
    pub(crate) death: Option<Stamp>,
    pub(crate) holds_lock: bool,
}

/// The scheduler lock: its raw value, and the instance it names when rqs wrote it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Lock {
    pub(crate) value: String,
    pub(crate) holder: Option<String>,
}

impl Lock {
    /// `instance a1b2…`, or what the value tells of a Python holder.
    pub(crate) fn label(&self) -> String {
        match &self.holder {
            Some(name) => name.clone(),
            None => match self.value.parse::<f64>() {
                Ok(at) => format!(
                    "a scheduler that is not rqs (rqscheduler's lock, taken at {})",
                    output::rfc3339(at)
                ),
                Err(_) => format!("unknown holder {:?}", self.value),
            },
        }
    }
}

/// What `rqs status` and the top of the status page show.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overview {
    pub(crate) generated: Stamp,
    pub(crate) instances: Vec<Instance>,
    pub(crate) lock: Option<Lock>,
    pub(crate) scheduled: u64,
    pub(crate) due: u64,
    pub(crate) next_due: Option<Stamp>,
    pub(crate) quarantined: u64,
}

/// One scheduled job, as `rqs list` and the status page show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobSummary {
    pub(crate) id: String,
    pub(crate) due: Stamp,
    /// The job hash is gone (rqs would unschedule the job).
    pub(crate) missing: bool,
    pub(crate) queue: Option<String>,
    pub(crate) function: Option<String>,
    #[serde(flatten)]
    pub(crate) kind: Kind,
    pub(crate) repeat: Option<i64>,
    /// Runs still to come, the next one included; `null`: no limit.
    pub(crate) repeats_left: Option<i64>,
    pub(crate) description: Option<String>,
    pub(crate) status: Option<String>,
}

impl JobSummary {
    pub(crate) fn new(id: &JobId, score: f64, hash: Option<&JobHash>) -> Self {
        let id_text = output::text(id.as_bytes());
        let Some(hash) = hash.filter(|h| !h.is_empty()) else {
            return Self {
                id: id_text,
                due: Stamp(score),
                missing: true,
                queue: None,
                function: None,
                kind: Kind::Once,
                repeat: None,
                repeats_left: None,
                description: None,
                status: None,
            };
        };
        let (kind, repeat) = Kind::of(hash);
        let field = |name: &str| hash.get(name).map(output::text);
        Self {
            id: id_text,
            due: Stamp(score),
            missing: false,
            queue: field("origin"),
            function: Some(jobinfo::function(hash)),
            repeats_left: kind.runs_left(repeat),
            kind,
            repeat,
            description: field("description"),
            status: field("status"),
        }
    }

    /// The kind column: `once`, `every 600s`, `cron */5 * * * *`, `missing hash`.
    pub(crate) fn kind_label(&self) -> String {
        if self.missing {
            "missing hash".to_owned()
        } else {
            self.kind.label()
        }
    }
}

/// One quarantined job.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct QuarantineEntry {
    pub(crate) id: String,
    /// The stable kind (`invalid_cron`...), when the record names one.
    pub(crate) kind: Option<String>,
    pub(crate) reason: String,
    /// Where it was in the schedule.
    pub(crate) score: Option<Stamp>,
    /// When it was quarantined.
    pub(crate) since: Stamp,
}

impl From<Quarantined> for QuarantineEntry {
    fn from(q: Quarantined) -> Self {
        Self {
            id: output::text(q.job_id.as_bytes()),
            kind: q.kind.map(|k| k.as_str().to_owned()),
            reason: q.reason,
            score: q.score.is_finite().then_some(Stamp(q.score)),
            since: Stamp(q.at as f64),
        }
    }
}

/// Which scheduled jobs to list.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    /// Due at or before this time.
    pub(crate) until: Option<f64>,
    /// Going to this queue.
    pub(crate) queue: Option<String>,
    /// At most this many.
    pub(crate) limit: usize,
}

/// Reads everything the commands and the page show.
#[derive(Debug, Clone)]
pub(crate) struct Inspector {
    pub(crate) store: RedisJobStore<Connection>,
    lifecycle: RedisLifecycleRegistry<Connection>,
    lock: RedisLockProvider<Connection>,
}

impl Inspector {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            store: RedisJobStore::new(conn.clone()),
            lifecycle: RedisLifecycleRegistry::new(conn.clone()),
            lock: RedisLockProvider::new(conn),
        }
    }

    /// Instances, lock, counts and the next due time.
    pub(crate) async fn overview(&self) -> Result<Overview, BackendError> {
        let now = output::now();
        let lock = self.lock.holder().await?;
        let records = self.lifecycle.instances().await?;
        let holder = lock
            .as_deref()
            .and_then(|v| v.rsplit_once('@'))
            .map(|(name, _)| name)
            .filter(|name| records.iter().any(|(n, _)| n == name))
            .map(str::to_owned);
        let instances = records
            .iter()
            .map(|(name, r)| instance(name, r, holder.as_deref() == Some(name.as_str())))
            .collect();
        Ok(Overview {
            generated: Stamp(now),
            instances,
            lock: lock.map(|value| Lock { value, holder }),
            scheduled: self.store.count(None).await?,
            due: self.store.count(Some(now.floor())).await?,
            next_due: self.store.next_due().await?.map(Stamp),
            quarantined: self.store.quarantined().await?.len() as u64,
        })
    }

    /// Scheduled jobs in due order, filtered.
    pub(crate) async fn jobs(&self, filter: &Filter) -> Result<Vec<JobSummary>, BackendError> {
        let mut out = Vec::new();
        let length = filter.limit.clamp(100, 1_000);
        let mut offset = 0;
        while out.len() < filter.limit {
            let page = self
                .store
                .list(filter.until, Some(Page { offset, length }))
                .await?;
            // Owned ids and store: a stream over borrows is not `Send` for axum's handler.
            let hashes: Vec<Option<JobHash>> =
                futures_util::stream::iter(page.iter().map(|p| p.0.clone()).collect::<Vec<_>>())
                    .map(|id| {
                        let store = self.store.clone();
                        async move { store.job(&id).await }
                    })
                    .buffered(CONCURRENT_READS)
                    .try_collect()
                    .await?;
            for ((id, score), hash) in page.iter().zip(&hashes) {
                let wanted = filter.queue.as_deref().is_none_or(|q| {
                    hash.as_ref().and_then(|h| h.get("origin")) == Some(q.as_bytes())
                });
                if wanted && out.len() < filter.limit {
                    out.push(JobSummary::new(id, *score, hash.as_ref()));
                }
            }
            if page.len() < length {
                break;
            }
            offset += length;
        }
        Ok(out)
    }

    /// The quarantine, by id.
    pub(crate) async fn quarantine(&self) -> Result<Vec<QuarantineEntry>, BackendError> {
        Ok(self
            .store
            .quarantined()
            .await?
            .into_iter()
            .map(QuarantineEntry::from)
            .collect())
    }
}

fn instance(name: &str, r: &InstanceRecord, holds_lock: bool) -> Instance {
    Instance {
        name: name.to_owned(),
        software: r
            .rqs
            .as_ref()
            .map_or_else(|| "not rqs".to_owned(), |v| format!("rqs {v}")),
        // A crashed rqs instance shows dead once its heartbeat is stale (seconds), not
        // once its record expires (a minute or more).
        alive: r.is_alive_at(crate::output::now()),
        birth: stamp(r.birth.as_deref()),
        heartbeat: stamp(r.heartbeat.as_deref()),
        death: stamp(r.death.as_deref()),
        holds_lock,
    }
}

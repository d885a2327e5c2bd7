//! [`JobStore`] and [`JobAdmin`] over rq-scheduler's Redis keys.

use std::sync::LazyLock;

use async_trait::async_trait;
use redis::Cmd;
use rqs_core::QueueName;
use rqs_core::fast::{FastHandOff, FastLane, FastPass};
use rqs_core::handoff::Action;
use rqs_core::memory::Quarantined;
use rqs_core::plan::MAX_META_BYTES;
use rqs_core::{
    BackendError as Error, HANDOFF_FIELDS, HandOff, JobHash, JobId, MetaGuard, Outcome,
    QuarantineKind, ScheduledJob, keys,
};
use rqs_store::{FastLaneStore, JobAdmin, JobStore, Page, Result};

use crate::Conn;
use crate::error::{RedisResultExt, query};
use crate::script::{Lua, encode_enqueue, enqueue_len};

static DUE: LazyLock<Lua> = LazyLock::new(|| Lua::with_fragment(include_str!("lua/due.lua")));
static COMMIT: LazyLock<Lua> = LazyLock::new(|| Lua::with_fragment(include_str!("lua/commit.lua")));
static RESCHEDULE: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/reschedule.lua")));
static RELEASE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("lua/quarantine_release.lua")));
static FAST_LANE: LazyLock<Lua> =
    LazyLock::new(|| Lua::with_fragment(include_str!("lua/fast_lane.lua")));
static MIGRATE: LazyLock<Lua> =
    LazyLock::new(|| Lua::new(include_str!("lua/quarantine_migrate.lua")));

/// How many bytes of job fields one `due` reply holds at most (it always holds one job).
pub const DEFAULT_BYTE_BUDGET: u64 = 512 * 1024;

/// The Redis job store: `rq:scheduler:scheduled_jobs` plus the RQ job hashes, and the
/// quarantine hash `rq:rqs:quarantine`.
///
/// `C` is any shared async connection, usually the reconnecting one from
/// [`connect`](crate::connect).
#[derive(Clone)]
pub struct RedisJobStore<C> {
    conn: C,
    byte_budget: u64,
}

impl<C> std::fmt::Debug for RedisJobStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisJobStore")
            .field("byte_budget", &self.byte_budget)
            .finish_non_exhaustive()
    }
}

impl<C: Conn> RedisJobStore<C> {
    /// A store on `conn`.
    pub fn new(conn: C) -> Self {
        Self {
            conn,
            byte_budget: DEFAULT_BYTE_BUDGET,
        }
    }

    /// Caps the bytes of job fields one batch read holds (default 512 KiB, which keeps a batch's scripts within a few milliseconds); a batch stops
    /// before the job that would pass it, but always holds one job.
    pub fn with_byte_budget(mut self, bytes: u64) -> Self {
        self.byte_budget = bytes.max(1);
        self
    }

    fn conn(&self) -> C {
        self.conn.clone()
    }

    /// How many jobs the quarantine holds (`HLEN rq:rqs:quarantine`).
    pub async fn quarantine_len(&self) -> Result<u64> {
        query(&mut self.conn(), redis::cmd("HLEN").arg(keys::QUARANTINE)).await
    }

    /// Moves the quarantine of rqs before 0.2 (`rqs:quarantine`) under `rq:`; returns the
    /// number of records moved. Without access to the old key (an ACL user limited to
    /// `rq:*`) there is nothing rqs could have written there, so that is not an error.
    pub async fn migrate_legacy_quarantine(&self) -> Result<u64> {
        let cmd = MIGRATE.cmd(&[keys::LEGACY_QUARANTINE, keys::QUARANTINE]);
        match MIGRATE.run(&mut self.conn(), &cmd).await.backend() {
            Err(Error::PermissionDenied(_)) => Ok(0),
            other => other,
        }
    }
}

fn parse_score(text: &[u8]) -> Result<f64> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .ok_or_else(|| {
            Error::Protocol(format!("score {} is not a number", rqs_core::escaped(text)))
        })
}

fn bound(until: Option<f64>) -> String {
    until.map_or_else(|| "+inf".to_owned(), |u| u.to_string())
}

/// Appends the ARGV entries of one hand-off: id, read score, kind, length, arguments.
fn encode_handoff(h: &HandOff, cmd: &mut Cmd) {
    cmd.arg(h.job_id.as_bytes()).arg(h.read_score.to_string());
    match &h.action {
        Action::Unschedule { .. } => {
            cmd.arg("U").arg(0);
        }
        Action::Quarantine { kind, reason, at } => {
            let record = serde_json::json!({
                "score": h.read_score,
                "kind": kind.as_str(),
                "reason": reason,
                "at": at,
            });
            cmd.arg("Q").arg(1).arg(record.to_string());
        }
        Action::Enqueue {
            enqueue,
            meta,
            next,
        } => {
            let meta_len = match meta.as_ref().map(|m| &m.expected) {
                None => 1,
                Some(MetaGuard::Absent) => 2,
                Some(MetaGuard::Exact(_)) => 3,
            };
            cmd.arg("E").arg(meta_len + 1 + enqueue_len(enqueue));
            match meta {
                None => {
                    cmd.arg("-");
                }
                Some(update) => {
                    match &update.expected {
                        MetaGuard::Absent => cmd.arg("A"),
                        MetaGuard::Exact(bytes) => cmd.arg("E").arg(bytes.as_slice()),
                    };
                    cmd.arg(update.new.as_slice());
                }
            }
            match next {
                Some(n) => cmd.arg(n.to_string()),
                None => cmd.arg(""),
            };
            encode_enqueue(enqueue, cmd);
        }
    }
}

type DueRow = (Vec<u8>, Vec<u8>, Option<Vec<Vec<u8>>>, u64, String);

#[async_trait]
impl<C: Conn> JobStore for RedisJobStore<C> {
    async fn due(&self, until: f64, offset: usize, limit: usize) -> Result<Vec<ScheduledJob>> {
        let mut cmd = DUE.cmd(&[keys::SCHEDULED_JOBS]);
        cmd.arg(until)
            .arg(offset)
            .arg(limit)
            .arg(self.byte_budget)
            .arg(MAX_META_BYTES);
        for field in HANDOFF_FIELDS.iter().filter(|f| **f != "data") {
            cmd.arg(*field);
        }
        let rows: Vec<DueRow> = DUE.run(&mut self.conn(), &cmd).await.backend()?;
        rows.into_iter()
            .map(|(id, score, flat, oversized, key_type)| {
                let hash = flat.map(|flat| {
                    let mut fields = flat.into_iter();
                    let mut hash = JobHash::new();
                    while let (Some(k), Some(v)) = (fields.next(), fields.next()) {
                        hash.set(String::from_utf8_lossy(&k).into_owned(), v);
                    }
                    hash
                });
                let mut job = ScheduledJob::new(JobId::new(id), parse_score(&score)?, hash);
                job.oversized = (oversized > 0).then_some(oversized);
                job.key_type = (!key_type.is_empty()).then_some(key_type);
                Ok(job)
            })
            .collect()
    }

    async fn next_due(&self) -> Result<Option<f64>> {
        let first: Vec<(Vec<u8>, f64)> = query(
            &mut self.conn(),
            redis::cmd("ZRANGEBYSCORE")
                .arg(keys::SCHEDULED_JOBS)
                .arg(0)
                .arg("+inf")
                .arg("WITHSCORES")
                .arg("LIMIT")
                .arg(0)
                .arg(1),
        )
        .await?;
        Ok(first.first().map(|(_, s)| *s))
    }

    async fn count(&self, until: Option<f64>) -> Result<u64> {
        query(
            &mut self.conn(),
            redis::cmd("ZCOUNT")
                .arg(keys::SCHEDULED_JOBS)
                .arg(0)
                .arg(bound(until)),
        )
        .await
    }

    async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = COMMIT.cmd(&[keys::SCHEDULED_JOBS, keys::QUARANTINE, keys::PAUSED]);
        cmd.arg(batch.len());
        for h in batch {
            encode_handoff(h, &mut cmd);
        }
        let names: Vec<String> = COMMIT.run(&mut self.conn(), &cmd).await.backend()?;
        if names.len() != batch.len() {
            return Err(Error::Protocol(format!(
                "commit returned {} outcomes for {} hand-offs",
                names.len(),
                batch.len()
            )));
        }
        names
            .iter()
            .map(|n| {
                Outcome::parse(n).ok_or_else(|| Error::Protocol(format!("unknown outcome {n:?}")))
            })
            .collect()
    }
}

#[async_trait]
impl<C: Conn> JobAdmin for RedisJobStore<C> {
    async fn schedule(&self, id: &JobId, hash: &JobHash, score: f64) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !hash.is_empty() {
            let pairs: Vec<(&str, &[u8])> = hash.iter().collect();
            pipe.hset_multiple(keys::job_key(id), &pairs).ignore();
        }
        pipe.zadd(keys::SCHEDULED_JOBS, id.as_bytes(), score)
            .ignore();
        pipe.query_async::<()>(&mut self.conn()).await.backend()
    }

    async fn list(&self, until: Option<f64>, page: Option<Page>) -> Result<Vec<(JobId, f64)>> {
        let mut cmd = redis::cmd("ZRANGEBYSCORE");
        cmd.arg(keys::SCHEDULED_JOBS)
            .arg(0)
            .arg(bound(until))
            .arg("WITHSCORES");
        if let Some(p) = page {
            cmd.arg("LIMIT").arg(p.offset).arg(p.length);
        }
        let rows: Vec<(Vec<u8>, f64)> = cmd.query_async(&mut self.conn()).await.backend()?;
        Ok(rows
            .into_iter()
            .map(|(id, s)| (JobId::new(id), s))
            .collect())
    }

    async fn score(&self, id: &JobId) -> Result<Option<f64>> {
        redis::cmd("ZSCORE")
            .arg(keys::SCHEDULED_JOBS)
            .arg(id.as_bytes())
            .query_async(&mut self.conn())
            .await
            .backend()
    }

    async fn job(&self, id: &JobId) -> Result<Option<JobHash>> {
        let key = keys::job_key(id);
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut self.conn())
            .await
            .backend()?;
        if kind != "hash" {
            return Ok(None);
        }
        let pairs: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(&key)
            .query_async(&mut self.conn())
            .await
            .backend()?;
        Ok(Some(
            pairs
                .into_iter()
                .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
                .collect(),
        ))
    }

    async fn cancel(&self, id: &JobId) -> Result<bool> {
        let removed: u64 = redis::cmd("ZREM")
            .arg(keys::SCHEDULED_JOBS)
            .arg(id.as_bytes())
            .query_async(&mut self.conn())
            .await
            .backend()?;
        Ok(removed > 0)
    }

    async fn change_execution_time(&self, id: &JobId, score: f64) -> Result<()> {
        let mut cmd = RESCHEDULE.cmd(&[keys::SCHEDULED_JOBS]);
        cmd.arg(id.as_bytes()).arg(score);
        let moved: i64 = RESCHEDULE.run(&mut self.conn(), &cmd).await.backend()?;
        if moved == 1 {
            Ok(())
        } else {
            Err(Error::NotScheduled(id.clone()))
        }
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let records: Vec<(Vec<u8>, Vec<u8>)> = redis::cmd("HGETALL")
            .arg(keys::QUARANTINE)
            .query_async(&mut self.conn())
            .await
            .backend()?;
        let mut out: Vec<Quarantined> = records
            .into_iter()
            .map(|(job_id, json)| parse_quarantine(JobId::new(job_id), &json))
            .collect();
        out.sort_by(|a, b| a.job_id.cmp(&b.job_id));
        Ok(out)
    }

    async fn release(&self, id: &JobId, score: Option<f64>) -> Result<f64> {
        let mut cmd = RELEASE.cmd(&[keys::SCHEDULED_JOBS, keys::QUARANTINE]);
        cmd.arg(id.as_bytes())
            .arg(score.map(|s| s.to_string()).unwrap_or_default());
        let score: Option<Vec<u8>> = RELEASE.run(&mut self.conn(), &cmd).await.backend()?;
        match score {
            Some(s) => parse_score(&s),
            None => Err(Error::NotQuarantined(id.clone())),
        }
    }
}

#[async_trait]
impl<C: Conn> FastLaneStore for RedisJobStore<C> {
    async fn fast_pass(&self, lane: &FastLane) -> Result<FastPass> {
        let mut cmd = FAST_LANE.cmd(&[keys::SCHEDULED_JOBS, keys::QUEUES, keys::PAUSED]);
        cmd.arg(lane.until)
            .arg(lane.offset)
            .arg(lane.limit)
            .arg(&lane.enqueued_at)
            .arg(lane.default_timeout)
            .arg(lane.plans.len());
        for plan in &lane.plans {
            cmd.arg(plan.meta.as_slice())
                .arg(plan.new_meta.as_deref().unwrap_or_default());
            match plan.next {
                Some(next) => cmd.arg(next.to_string()),
                None => cmd.arg(""),
            };
        }
        let reply: Vec<redis::Value> = FAST_LANE.run(&mut self.conn(), &cmd).await.backend()?;
        let bad = || Error::Protocol("unreadable fast-lane reply".into());
        let bytes = |v: redis::Value| match v {
            redis::Value::BulkString(b) => Ok(b),
            _ => Err(bad()),
        };
        let int = |v: redis::Value| match v {
            redis::Value::Int(i) => Ok(i),
            _ => Err(bad()),
        };
        let array = |v: Option<redis::Value>| match v {
            Some(redis::Value::Array(items)) => Ok(items),
            _ => Err(bad()),
        };
        let mut parts = reply.into_iter();
        let stopped = int(parts.next().ok_or_else(bad)?)? == 1;
        let ids = array(parts.next())?;
        let runs = array(parts.next())?;
        let mut ids = ids.into_iter();
        let mut runs = runs.into_iter();
        let mut handed = Vec::with_capacity(ids.len());
        while let (Some(len), Some(score), Some(queue), Some(plan)) =
            (runs.next(), runs.next(), runs.next(), runs.next())
        {
            let plan = usize::try_from(int(plan)?).map_err(|_| bad())?;
            let rescheduled = plan
                .checked_sub(1)
                .and_then(|p| lane.plans.get(p))
                .is_some_and(|p| p.next.is_some());
            let score = parse_score(&bytes(score)?)?;
            let queue = QueueName::new(bytes(queue)?);
            for _ in 0..int(len)? {
                handed.push(FastHandOff {
                    job_id: JobId::new(bytes(ids.next().ok_or_else(bad)?)?),
                    score,
                    queue: queue.clone(),
                    rescheduled,
                });
            }
        }
        Ok(FastPass { handed, stopped })
    }
}

/// Reads a quarantine record (`{"score", "kind", "reason", "at"}`, the value under the
/// job's id in `rq:rqs:quarantine`); one that is not readable JSON (written by hand, say)
/// is shown with its raw text as the reason rather than hiding every other record.
pub fn parse_quarantine(job_id: JobId, raw: &[u8]) -> Quarantined {
    let text = String::from_utf8_lossy(raw);
    let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    Quarantined {
        score: value["score"].as_f64().unwrap_or(f64::NAN),
        kind: value["kind"].as_str().and_then(QuarantineKind::parse),
        reason: value["reason"]
            .as_str()
            .map_or_else(|| format!("unreadable record: {text}"), str::to_owned),
        at: value["at"].as_i64().unwrap_or(0),
        job_id,
    }
}

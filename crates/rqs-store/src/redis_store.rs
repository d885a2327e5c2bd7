//! [`JobStore`] over rq-scheduler's Redis keys.

use std::sync::LazyLock;

use async_trait::async_trait;
use redis::Script;
use rqs_core::handoff::Action;
use rqs_core::memory::Quarantined;
use rqs_core::{HANDOFF_FIELDS, HandOff, JobHash, Outcome, ScheduledJob, keys};
use rqs_redis::Conn;

use crate::{Error, JobStore, Page, Result};

static DUE: LazyLock<Script> = LazyLock::new(|| rqs_redis::script(include_str!("lua/due.lua")));
static COMMIT: LazyLock<Script> =
    LazyLock::new(|| rqs_redis::script(include_str!("lua/commit.lua")));
static RESCHEDULE: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("lua/reschedule.lua")));

/// The Redis job store: `rq:scheduler:scheduled_jobs` plus the RQ job hashes.
///
/// `C` is any shared async connection, usually a reconnecting
/// [`redis::aio::ConnectionManager`] from [`rqs_redis::connect`].
#[derive(Clone)]
pub struct RedisJobStore<C> {
    conn: C,
}

impl<C> std::fmt::Debug for RedisJobStore<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisJobStore").finish_non_exhaustive()
    }
}

impl<C: Conn> RedisJobStore<C> {
    /// A store on `conn`.
    pub fn new(conn: C) -> Self {
        Self { conn }
    }

    fn conn(&self) -> C {
        self.conn.clone()
    }
}

fn parse_score(text: &str) -> Result<f64> {
    text.parse::<f64>()
        .map_err(|_| Error::Protocol(format!("score {text:?} is not a number")))
}

fn bound(until: Option<f64>) -> String {
    until.map_or_else(|| "+inf".to_owned(), |u| u.to_string())
}

/// Appends the ARGV entries of one hand-off: id, read score, kind, length, arguments.
fn encode_handoff(h: &HandOff, args: &mut Vec<Vec<u8>>) {
    let mut body: Vec<Vec<u8>> = Vec::new();
    let kind: &[u8] = match &h.action {
        Action::Unschedule { .. } => b"U",
        Action::Quarantine { reason, at } => {
            let record = serde_json::json!({
                "score": h.read_score,
                "reason": reason,
                "at": at,
            });
            body.push(record.to_string().into_bytes());
            b"Q"
        }
        Action::Enqueue {
            enqueue,
            meta,
            next,
        } => {
            match meta {
                None => body.push(b"-".to_vec()),
                Some(update) => {
                    body.push(b"S".to_vec());
                    body.push(
                        if update.expected.is_some() {
                            b"1"
                        } else {
                            b"0"
                        }
                        .to_vec(),
                    );
                    body.push(update.expected.clone().unwrap_or_default());
                    body.push(update.new.clone());
                }
            }
            body.push(next.map(|n| n.to_string().into_bytes()).unwrap_or_default());
            rqs_redis::encode_enqueue(enqueue, &mut body);
            b"E"
        }
    };
    args.push(h.job_id.as_bytes().to_vec());
    args.push(h.read_score.to_string().into_bytes());
    args.push(kind.to_vec());
    args.push(body.len().to_string().into_bytes());
    args.extend(body);
}

#[async_trait]
impl<C: Conn> JobStore for RedisJobStore<C> {
    async fn schedule(&self, id: &str, hash: &JobHash, score: f64) -> Result<()> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        if !hash.is_empty() {
            let pairs: Vec<(&str, &[u8])> = hash.iter().collect();
            pipe.hset_multiple(keys::job_key(id), &pairs).ignore();
        }
        pipe.zadd(keys::SCHEDULED_JOBS, id, score).ignore();
        pipe.query_async::<()>(&mut self.conn()).await?;
        Ok(())
    }

    async fn due(&self, until: f64, limit: usize) -> Result<Vec<ScheduledJob>> {
        let mut invocation = DUE.key(keys::SCHEDULED_JOBS);
        invocation.arg(until).arg(limit);
        for field in HANDOFF_FIELDS.iter().filter(|f| **f != "data") {
            invocation.arg(*field);
        }
        // Ids are read as bytes: RQ only creates UTF-8 ids, and one odd member must not
        // make the whole batch unreadable.
        let rows: Vec<(Vec<u8>, String, Option<Vec<Vec<u8>>>)> =
            invocation.invoke_async(&mut self.conn()).await?;
        rows.into_iter()
            .map(|(id, score, flat)| {
                let id = String::from_utf8_lossy(&id).into_owned();
                let hash = flat.map(|flat| {
                    flat.chunks_exact(2)
                        .map(|kv| (String::from_utf8_lossy(&kv[0]).into_owned(), kv[1].clone()))
                        .collect::<JobHash>()
                });
                Ok(ScheduledJob {
                    id,
                    score: parse_score(&score)?,
                    hash,
                })
            })
            .collect()
    }

    async fn next_due(&self) -> Result<Option<f64>> {
        let first: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
            .arg(keys::SCHEDULED_JOBS)
            .arg(0)
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(1)
            .query_async(&mut self.conn())
            .await?;
        Ok(first.first().map(|(_, s)| *s))
    }

    async fn count(&self, until: Option<f64>) -> Result<u64> {
        Ok(redis::cmd("ZCOUNT")
            .arg(keys::SCHEDULED_JOBS)
            .arg(0)
            .arg(bound(until))
            .query_async(&mut self.conn())
            .await?)
    }

    async fn list(&self, until: Option<f64>, page: Option<Page>) -> Result<Vec<(String, f64)>> {
        let mut cmd = redis::cmd("ZRANGEBYSCORE");
        cmd.arg(keys::SCHEDULED_JOBS)
            .arg(0)
            .arg(bound(until))
            .arg("WITHSCORES");
        if let Some(p) = page {
            cmd.arg("LIMIT").arg(p.offset).arg(p.length);
        }
        Ok(cmd.query_async(&mut self.conn()).await?)
    }

    async fn score(&self, id: &str) -> Result<Option<f64>> {
        Ok(redis::cmd("ZSCORE")
            .arg(keys::SCHEDULED_JOBS)
            .arg(id)
            .query_async(&mut self.conn())
            .await?)
    }

    async fn cancel(&self, id: &str) -> Result<bool> {
        let removed: u64 = redis::cmd("ZREM")
            .arg(keys::SCHEDULED_JOBS)
            .arg(id)
            .query_async(&mut self.conn())
            .await?;
        Ok(removed > 0)
    }

    async fn change_execution_time(&self, id: &str, score: f64) -> Result<()> {
        let moved: i64 = RESCHEDULE
            .key(keys::SCHEDULED_JOBS)
            .arg(id)
            .arg(score)
            .invoke_async(&mut self.conn())
            .await?;
        if moved == 1 {
            Ok(())
        } else {
            Err(Error::NotScheduled(id.to_owned()))
        }
    }

    async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut args: Vec<Vec<u8>> = vec![batch.len().to_string().into_bytes()];
        for h in batch {
            encode_handoff(h, &mut args);
        }
        let mut invocation = COMMIT.key(keys::SCHEDULED_JOBS);
        invocation.key(keys::QUARANTINE);
        for a in &args {
            invocation.arg(a.as_slice());
        }
        let names: Vec<String> = invocation.invoke_async(&mut self.conn()).await?;
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

    async fn quarantined(&self) -> Result<Vec<Quarantined>> {
        let records: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(keys::QUARANTINE)
            .query_async(&mut self.conn())
            .await?;
        let mut out: Vec<Quarantined> = records
            .into_iter()
            .map(|(job_id, json)| parse_quarantine(job_id, &json))
            .collect::<Result<_>>()?;
        out.sort_by(|a, b| a.job_id.cmp(&b.job_id));
        Ok(out)
    }
}

fn parse_quarantine(job_id: String, json: &str) -> Result<Quarantined> {
    let bad = || {
        Error::Protocol(format!(
            "quarantine record of {job_id:?} is not readable: {json}"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|_| bad())?;
    Ok(Quarantined {
        score: value["score"].as_f64().ok_or_else(bad)?,
        reason: value["reason"].as_str().ok_or_else(bad)?.to_owned(),
        at: value["at"].as_i64().ok_or_else(bad)?,
        job_id,
    })
}

//! Schedule sets on Redis (`rqs plan`/`apply`): what each set declared, which set owns
//! which job, and the one script that applies a plan.
//!
//! The jobs themselves are rq-scheduler's (`rq:job:<id>` and the schedule); the record of
//! a set lives under `rq:rqs:` ([`keys::declared_set_key`], [`keys::DECLARED_OWNERS`]),
//! never in a job's `meta`, which user code reads.

use std::collections::HashMap;
use std::sync::LazyLock;

use redis::Value;
use rqs_core::{BackendError, keys};

use crate::Conn;
use crate::error::{RedisResultExt, query};
use crate::script::Lua;

static APPLY: LazyLock<Lua> =
    LazyLock::new(|| Lua::with_fragment(include_str!("lua/declare_apply.lua")));

/// What a plan needs to know of Redis for one set and the jobs a file declares.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct DeclaredState {
    /// The set's record: job id → declaration, as written by the last apply.
    pub recorded: HashMap<String, String>,
    /// For the ids asked about: the set that owns each, when one does.
    pub owners: HashMap<String, String>,
    /// For the ids asked about and the recorded ones: the score of each that is
    /// scheduled.
    pub scores: HashMap<String, f64>,
    /// For the ids asked about that are scheduled: the job's raw `meta` (`None`: none).
    pub metas: HashMap<String, Option<Vec<u8>>>,
}

/// What one job must still look like when the plan is applied.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    /// Its entry in the set's record.
    pub record: Option<String>,
    /// The set that owned it.
    pub owner: Option<String>,
    /// Whether it was scheduled.
    pub scheduled: bool,
    /// Its raw meta, when the change depends on it (`Some(None)`: it had none).
    pub meta: Option<Option<Vec<u8>>>,
}

/// One job's part of a plan.
#[derive(Debug, Clone, PartialEq)]
pub enum DeclaredOp {
    /// Write the job and record it as the set's.
    Put {
        /// The job id.
        id: String,
        /// What the plan saw.
        seen: Seen,
        /// The set's new record of it.
        record: String,
        /// Hash fields to write.
        fields: Vec<(String, Vec<u8>)>,
        /// Hash fields to delete (options the declaration no longer sets).
        drop: Vec<String>,
        /// The new score; `None` keeps the job's next run as it is.
        score: Option<f64>,
    },
    /// Take the job out of the schedule and out of the set (its hash stays, as with
    /// rq-scheduler's `cancel`: a run in a queue still needs it).
    Remove {
        /// The job id.
        id: String,
        /// What the plan saw.
        seen: Seen,
    },
}

/// Why an apply wrote nothing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    /// A job changed between the plan and the apply (another apply, a scheduler's
    /// hand-off, a client): plan again.
    #[error("job {id} changed since the plan ({what}); nothing was written")]
    Changed {
        /// The job.
        id: String,
        /// What changed.
        what: String,
    },
    /// Redis failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// Schedule sets on a Redis connection.
#[derive(Clone)]
pub struct RedisDeclared<C> {
    conn: C,
}

impl<C> std::fmt::Debug for RedisDeclared<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisDeclared").finish_non_exhaustive()
    }
}

/// A pipeline of this many commands at most, so a 100,000-job read never builds one
/// reply of that size.
const CHUNK: usize = 5_000;

impl<C: Conn> RedisDeclared<C> {
    /// The sets on `conn`.
    pub fn new(conn: C) -> Self {
        Self { conn }
    }

    /// Reads the set's record and, for `ids` (the file's jobs), their owners, scores and
    /// metas; the recorded jobs' scores too.
    ///
    /// # Errors
    /// The backend's.
    pub async fn state(&self, set: &str, ids: &[String]) -> Result<DeclaredState, BackendError> {
        let mut conn = self.conn.clone();
        let recorded: HashMap<String, String> = query(
            &mut conn,
            redis::cmd("HGETALL").arg(keys::declared_set_key(set)),
        )
        .await?;
        let owners_of: Vec<Option<String>> = self
            .each(ids, |pipe, id| {
                pipe.hget(keys::DECLARED_OWNERS, id);
            })
            .await?;
        let owners = ids
            .iter()
            .zip(owners_of)
            .filter_map(|(id, o)| Some((id.clone(), o?)))
            .collect();
        let asked: std::collections::HashSet<&String> = ids.iter().collect();
        let mut scored: Vec<String> = ids.to_vec();
        scored.extend(recorded.keys().filter(|k| !asked.contains(k)).cloned());
        let scores_of: Vec<Option<f64>> = self
            .each(&scored, |pipe, id| {
                pipe.zscore(keys::SCHEDULED_JOBS, id);
            })
            .await?;
        let scores: HashMap<String, f64> = scored
            .into_iter()
            .zip(scores_of)
            .filter_map(|(id, s)| Some((id, s?)))
            .collect();
        let in_schedule: Vec<String> = ids
            .iter()
            .filter(|id| scores.contains_key(*id))
            .cloned()
            .collect();
        let metas_of: Vec<Option<Vec<u8>>> = self
            .each(&in_schedule, |pipe, id| {
                pipe.hget(keys::job_key(id), "meta");
            })
            .await?;
        let metas = in_schedule.into_iter().zip(metas_of).collect();
        Ok(DeclaredState {
            recorded,
            owners,
            scores,
            metas,
        })
    }

    /// One reply per id, pipelined in chunks.
    async fn each<T: redis::FromRedisValue>(
        &self,
        ids: &[String],
        command: impl Fn(&mut redis::Pipeline, &str),
    ) -> Result<Vec<T>, BackendError> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for id in chunk {
                command(&mut pipe, id);
            }
            let replies: Vec<T> = pipe.query_async(&mut self.conn.clone()).await.backend()?;
            out.extend(replies);
        }
        Ok(out)
    }

    /// The names of the sets that own at least one job.
    ///
    /// # Errors
    /// The backend's.
    pub async fn sets(&self) -> Result<Vec<String>, BackendError> {
        let owners: Vec<String> = query(
            &mut self.conn.clone(),
            redis::cmd("HVALS").arg(keys::DECLARED_OWNERS),
        )
        .await?;
        let mut sets: Vec<String> = owners;
        sets.sort();
        sets.dedup();
        Ok(sets)
    }

    /// Applies `ops` to `set` in one script: all of them, or none when any job is no
    /// longer as [`Seen`] says.
    ///
    /// # Errors
    /// [`ApplyError::Changed`] (nothing written), or the backend's.
    pub async fn apply(&self, set: &str, ops: &[DeclaredOp]) -> Result<usize, ApplyError> {
        if ops.is_empty() {
            return Ok(0);
        }
        let set_key = keys::declared_set_key(set);
        let mut cmd = APPLY.cmd(&[
            keys::SCHEDULED_JOBS,
            set_key.as_str(),
            keys::DECLARED_OWNERS,
        ]);
        cmd.arg(set).arg(keys::DECLARED_SET_PREFIX);
        let seen = |v: Option<&[u8]>| match v {
            Some(v) => [b"=".as_slice(), v].concat(),
            None => b"-".to_vec(),
        };
        for op in ops {
            let (id, s) = match op {
                DeclaredOp::Put { id, seen, .. } | DeclaredOp::Remove { id, seen } => (id, seen),
            };
            cmd.arg(id)
                .arg(seen(s.record.as_deref().map(str::as_bytes)))
                .arg(seen(s.owner.as_deref().map(str::as_bytes)))
                .arg(if s.scheduled { "1" } else { "0" })
                .arg(match &s.meta {
                    None => Vec::new(),
                    Some(m) => seen(m.as_deref()),
                });
            match op {
                DeclaredOp::Remove { .. } => {
                    cmd.arg("remove").arg("").arg("").arg(0).arg(0);
                }
                DeclaredOp::Put {
                    record,
                    fields,
                    drop,
                    score,
                    ..
                } => {
                    cmd.arg("put").arg(record);
                    match score {
                        Some(s) => cmd.arg(*s),
                        None => cmd.arg(""),
                    };
                    cmd.arg(fields.len());
                    for (k, v) in fields {
                        cmd.arg(k).arg(v.as_slice());
                    }
                    cmd.arg(drop.len());
                    for k in drop {
                        cmd.arg(k);
                    }
                }
            }
        }
        let reply: Vec<Value> = APPLY
            .run(&mut self.conn.clone(), &cmd)
            .await
            .map_err(|e| ApplyError::Backend(crate::backend_error(e)))?;
        let text = |v: Option<&Value>| match v {
            Some(Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
            Some(Value::SimpleString(s)) => s.clone(),
            Some(Value::Int(n)) => n.to_string(),
            _ => String::new(),
        };
        match text(reply.first()).as_str() {
            "ok" => Ok(ops.len()),
            _ => Err(ApplyError::Changed {
                id: text(reply.get(1)),
                what: text(reply.get(2)),
            }),
        }
    }
}

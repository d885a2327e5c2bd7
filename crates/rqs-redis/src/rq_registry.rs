//! RQ's own scheduled-job registries (`rq:scheduled:<queue>`), served by rqs with
//! `--rq-scheduled`: the jobs `Queue.enqueue_at`, `enqueue_in`, `Retry` intervals and
//! `Repeat` put there, moved into their queues as RQ's `RQScheduler` moves them, a batch
//! per script, under RQ's own per-queue locks `rq:scheduler-lock:<queue>`.

use std::sync::LazyLock;

use rqs_core::{BackendError, keys};

use crate::Conn;
use crate::error::{RedisResultExt, query};
use crate::script::Lua;

static HOLD: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/rq_hold.lua")));
static MOVE: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/rq_move.lua")));
static RELEASE: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/rq_release.lua")));

/// RQ's `DEFAULT_TIMEOUT`, written when a job has none (as `Queue._enqueue_job` does).
pub const RQ_DEFAULT_TIMEOUT: u64 = 180;

/// What one move script did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Moved {
    /// Jobs pushed onto the queue.
    pub pushed: usize,
    /// Due ids whose job hash was gone, removed from the registry.
    pub missing: usize,
    /// Due jobs set aside in the quarantine (a key of the wrong type, an RQ 3 rate
    /// limit), each with its reason.
    pub quarantined: usize,
    /// The batch was full: more may be due.
    pub more: bool,
    /// The queue's lock is no longer this instance's: nothing was moved.
    pub lost_lock: bool,
}

/// One registry as `rqs status` shows it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RegistryView {
    /// The queue.
    pub queue: String,
    /// Jobs in `rq:scheduled:<queue>`.
    pub scheduled: u64,
    /// Of those, due at the time asked.
    pub due: u64,
    /// The lowest score.
    pub next_due: Option<f64>,
    /// Who holds `rq:scheduler-lock:<queue>` (`rqs:<name>`, or a worker scheduler's name).
    pub lock: Option<String>,
}

/// The registries on one connection, for the instance whose lock token is `token`.
#[derive(Clone)]
pub struct RqRegistries<C> {
    conn: C,
    token: String,
}

impl<C> std::fmt::Debug for RqRegistries<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RqRegistries")
            .field("token", &self.token)
            .finish_non_exhaustive()
    }
}

/// The prefix of every lock token rqs writes: an active rqs instance may take over a
/// queue lock another rqs instance left (it holds rqs's own lock, so the other is not
/// active), never one a worker holds.
pub const RQS_TOKEN_PREFIX: &str = "rqs:";

impl<C: Conn> RqRegistries<C> {
    /// The registries, locked as instance `name` (token `rqs:<name>`).
    pub fn new(conn: C, name: &str) -> Self {
        Self {
            conn,
            token: format!("{RQS_TOKEN_PREFIX}{name}"),
        }
    }

    /// The queue names RQ knows: `rq:queues` (`rq:queue:<name>` members), sorted.
    ///
    /// # Errors
    /// The backend's.
    pub async fn known_queues(&self) -> Result<Vec<String>, BackendError> {
        let members: Vec<Vec<u8>> = query(
            &mut self.conn.clone(),
            redis::cmd("SMEMBERS").arg(keys::QUEUES),
        )
        .await?;
        let mut names: Vec<String> = members
            .iter()
            .filter_map(|m| m.strip_prefix(keys::QUEUE_PREFIX.as_bytes()))
            .filter_map(|n| String::from_utf8(n.to_vec()).ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The queues that have a registry, by a walk of `rq:scheduled:*` (`SCAN`): for
    /// registries whose queue is not in `rq:queues`. Call it rarely.
    ///
    /// # Errors
    /// The backend's.
    pub async fn walk_registries(&self) -> Result<Vec<String>, BackendError> {
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut found = Vec::new();
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(format!("{}*", keys::RQ_SCHEDULED_PREFIX))
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await
                .backend()?;
            found.extend(
                batch
                    .iter()
                    .filter_map(|k| k.strip_prefix(keys::RQ_SCHEDULED_PREFIX.as_bytes()))
                    .filter_map(|n| String::from_utf8(n.to_vec()).ok()),
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// Each registry of `queues` that holds jobs, with its lock holder, at `now` (Unix
    /// seconds), in one pipeline.
    ///
    /// # Errors
    /// The backend's.
    pub async fn views(
        &self,
        queues: &[String],
        now: f64,
    ) -> Result<Vec<RegistryView>, BackendError> {
        if queues.is_empty() {
            // An empty pipeline is an error to the client, not an empty answer.
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for q in queues {
            let key = keys::rq_scheduled_key(q);
            pipe.zcard(&key)
                .zcount(&key, 0, now)
                .cmd("ZRANGE")
                .arg(&key)
                .arg(0)
                .arg(0)
                .arg("WITHSCORES")
                .get(keys::rq_scheduler_lock_key(q));
        }
        type Row = (u64, u64, Vec<(Vec<u8>, f64)>, Option<String>);
        // A pipeline's replies come flat; four make one row.
        let rows: Vec<Row> = pipe.query_async(&mut self.conn.clone()).await.backend()?;
        let mut out = Vec::new();
        for (q, row) in queues.iter().zip(rows) {
            if row.0 > 0 {
                out.push(RegistryView {
                    queue: q.clone(),
                    scheduled: row.0,
                    due: row.1,
                    next_due: row.2.first().map(|(_, s)| *s),
                    lock: row.3,
                });
            }
        }
        Ok(out)
    }

    /// Takes or refreshes the locks of `queues` for `ttl_secs` (RQ's `SET NX EX`); with
    /// `take_over`, also the locks another rqs instance left. Returns the queues whose
    /// lock is this instance's.
    ///
    /// # Errors
    /// The backend's.
    pub async fn hold(
        &self,
        queues: &[String],
        ttl_secs: u64,
        take_over: bool,
    ) -> Result<Vec<String>, BackendError> {
        if queues.is_empty() {
            return Ok(Vec::new());
        }
        let lock_keys: Vec<String> = queues
            .iter()
            .map(|q| keys::rq_scheduler_lock_key(q))
            .collect();
        let mut cmd = HOLD.cmd(&lock_keys);
        cmd.arg(&self.token)
            .arg(ttl_secs)
            .arg(if take_over { RQS_TOKEN_PREFIX } else { "" });
        let held: Vec<i64> = HOLD.run(&mut self.conn.clone(), &cmd).await.backend()?;
        Ok(queues
            .iter()
            .zip(held)
            .filter(|(_, h)| *h == 1)
            .map(|(q, _)| q.clone())
            .collect())
    }

    /// Releases the locks of `queues` that are this instance's.
    ///
    /// # Errors
    /// The backend's.
    pub async fn release(&self, queues: &[String]) -> Result<(), BackendError> {
        if queues.is_empty() {
            return Ok(());
        }
        let lock_keys: Vec<String> = queues
            .iter()
            .map(|q| keys::rq_scheduler_lock_key(q))
            .collect();
        let mut cmd = RELEASE.cmd(&lock_keys);
        cmd.arg(&self.token);
        let () = RELEASE.run(&mut self.conn.clone(), &cmd).await.backend()?;
        Ok(())
    }

    /// The lowest score among the registries of `queues`.
    ///
    /// # Errors
    /// The backend's.
    pub async fn next_due(&self, queues: &[String]) -> Result<Option<f64>, BackendError> {
        if queues.is_empty() {
            return Ok(None);
        }
        let mut pipe = redis::pipe();
        for q in queues {
            pipe.cmd("ZRANGE")
                .arg(keys::rq_scheduled_key(q))
                .arg(0)
                .arg(0)
                .arg("WITHSCORES");
        }
        let heads: Vec<Vec<(Vec<u8>, f64)>> =
            pipe.query_async(&mut self.conn.clone()).await.backend()?;
        Ok(heads
            .into_iter()
            .filter_map(|h| h.first().map(|(_, s)| *s))
            .reduce(f64::min))
    }

    /// Moves up to `limit` jobs of `queue`'s registry due at `cutoff` (Unix seconds,
    /// inclusive) into the queue, in one script, if the queue's lock is still this
    /// instance's; `enqueued_at` is written into each (RQ's format).
    ///
    /// # Errors
    /// The backend's.
    pub async fn move_due(
        &self,
        queue: &str,
        cutoff: i64,
        enqueued_at: &str,
        limit: usize,
    ) -> Result<Moved, BackendError> {
        let registry = keys::rq_scheduled_key(queue);
        let lock = keys::rq_scheduler_lock_key(queue);
        let queue_key = format!("{}{queue}", keys::QUEUE_PREFIX);
        let mut cmd = MOVE.cmd(&[
            registry.as_str(),
            lock.as_str(),
            queue_key.as_str(),
            keys::QUARANTINE,
        ]);
        cmd.arg(&self.token)
            .arg(cutoff)
            .arg(limit)
            .arg(enqueued_at)
            .arg(RQ_DEFAULT_TIMEOUT)
            .arg(keys::JOB_PREFIX)
            .arg(format!("{}{queue}", keys::DEFERRED_PREFIX))
            .arg(cutoff)
            .arg(queue);
        let reply: Vec<i64> = MOVE.run(&mut self.conn.clone(), &cmd).await.backend()?;
        let at = |i: usize| reply.get(i).copied().unwrap_or(0);
        if at(0) < 0 {
            return Ok(Moved {
                lost_lock: true,
                ..Moved::default()
            });
        }
        Ok(Moved {
            pushed: at(0) as usize,
            missing: at(1) as usize,
            quarantined: at(2) as usize,
            more: at(3) == 1,
            lost_lock: false,
        })
    }
}

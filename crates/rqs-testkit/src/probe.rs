//! Looking at (and arranging) RQ state from a conformance case, whatever the backend.
//!
//! Ids and queue names come back as text (invalid UTF-8 replaced): cases that need raw
//! bytes talk to the backend directly.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rqs_core::memory::{Quarantined, RqModel};
use rqs_core::{JobHash, JobId};

fn text(id: &JobId) -> String {
    String::from_utf8_lossy(id.as_bytes()).into_owned()
}

/// Reads and arranges the RQ state an implementation works on, the way a client or an
/// operator would, without going through the implementation under test.
#[async_trait]
pub trait Probe: Send + Sync {
    /// Writes a job hash and schedules it, as a client's `enqueue_at` does.
    async fn schedule(&self, id: &str, hash: &JobHash, score: f64);
    /// The score of a job, `None` when it is not scheduled.
    async fn score(&self, id: &str) -> Option<f64>;
    /// Moves or adds a job in the schedule (a client's `change_execution_time`).
    async fn set_score(&self, id: &str, score: f64);
    /// Removes a job from the schedule (a client's `cancel`).
    async fn unschedule(&self, id: &str);
    /// The number of scheduled jobs with a score `>= 0`.
    async fn scheduled(&self) -> u64;
    /// The quarantined jobs, by id.
    async fn quarantined(&self) -> Vec<Quarantined>;
    /// Ids in a queue, head first.
    async fn queue(&self, name: &str) -> Vec<String>;
    /// A job hash.
    async fn job(&self, id: &str) -> Option<JobHash>;
    /// The time to live of a job hash in seconds, `None` when it has none.
    async fn job_ttl(&self, id: &str) -> Option<u64>;
    /// Queue names in `rq:queues`.
    async fn known_queues(&self) -> Vec<String>;
    /// A deferred registry: id → score.
    async fn deferred(&self, queue: &str) -> BTreeMap<String, i64>;
    /// Ids waiting for `id`.
    async fn dependents(&self, id: &str) -> BTreeSet<String>;
    /// Ids `id` waits for.
    async fn dependencies(&self, id: &str) -> BTreeSet<String>;
    /// Writes fields into a job hash (creating it).
    async fn write_job(&self, id: &str, fields: &[(&str, &[u8])]);
    /// Deletes a job hash.
    async fn delete_job(&self, id: &str);
}

/// A [`Probe`] over an in-memory model.
#[derive(Debug, Clone)]
pub struct ModelProbe {
    model: Arc<Mutex<RqModel>>,
}

impl ModelProbe {
    /// A probe on `model`.
    pub fn new(model: Arc<Mutex<RqModel>>) -> Self {
        Self { model }
    }

    fn with<R>(&self, f: impl FnOnce(&mut RqModel) -> R) -> R {
        f(&mut self.model.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl Probe for ModelProbe {
    async fn schedule(&self, id: &str, hash: &JobHash, score: f64) {
        self.with(|m| m.schedule(id, hash, score));
    }

    async fn score(&self, id: &str) -> Option<f64> {
        self.with(|m| m.score(id))
    }

    async fn set_score(&self, id: &str, score: f64) {
        self.with(|m| m.set_score(id, score));
    }

    async fn unschedule(&self, id: &str) {
        self.with(|m| m.unset_score(id));
    }

    async fn scheduled(&self) -> u64 {
        self.with(|m| m.count(f64::INFINITY))
    }

    async fn quarantined(&self) -> Vec<Quarantined> {
        self.with(|m| m.quarantine())
    }

    async fn queue(&self, name: &str) -> Vec<String> {
        self.with(|m| m.queue(name).iter().map(text).collect())
    }

    async fn job(&self, id: &str) -> Option<JobHash> {
        self.with(|m| m.job(id).cloned())
    }

    async fn job_ttl(&self, id: &str) -> Option<u64> {
        self.with(|m| m.job_ttl(id))
    }

    async fn known_queues(&self) -> Vec<String> {
        self.with(|m| {
            m.known_queues()
                .iter()
                .map(|q| String::from_utf8_lossy(q.as_bytes()).into_owned())
                .collect()
        })
    }

    async fn deferred(&self, queue: &str) -> BTreeMap<String, i64> {
        self.with(|m| {
            m.deferred(queue)
                .iter()
                .map(|(k, v)| (text(k), *v))
                .collect()
        })
    }

    async fn dependents(&self, id: &str) -> BTreeSet<String> {
        self.with(|m| m.dependents(id).iter().map(text).collect())
    }

    async fn dependencies(&self, id: &str) -> BTreeSet<String> {
        self.with(|m| m.dependencies(id).iter().map(text).collect())
    }

    async fn write_job(&self, id: &str, fields: &[(&str, &[u8])]) {
        self.with(|m| {
            m.write_fields(
                id,
                fields.iter().map(|(k, v)| ((*k).to_owned(), v.to_vec())),
            );
        });
    }

    async fn delete_job(&self, id: &str) {
        self.with(|m| m.delete_job(id));
    }
}

#[cfg(feature = "redis")]
pub use redis_probe::RedisProbe;

#[cfg(feature = "redis")]
mod redis_probe {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use async_trait::async_trait;
    use rqs_core::memory::Quarantined;
    use rqs_core::{JobHash, JobId, keys};
    use rqs_redis::redis;
    use rqs_redis::redis::aio::ConnectionManager;
    use rqs_store::JobAdmin;

    use super::Probe;

    /// A [`Probe`] over a Redis database.
    #[derive(Clone)]
    pub struct RedisProbe {
        conn: ConnectionManager,
    }

    impl std::fmt::Debug for RedisProbe {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("RedisProbe").finish_non_exhaustive()
        }
    }

    impl RedisProbe {
        /// A probe on `conn`.
        pub fn new(conn: ConnectionManager) -> Self {
            Self { conn }
        }

        fn admin(&self) -> rqs_redis::RedisJobStore<ConnectionManager> {
            rqs_redis::RedisJobStore::new(self.conn.clone())
        }

        async fn query<T: redis::FromRedisValue>(&self, cmd: &redis::Cmd) -> T {
            cmd.query_async(&mut self.conn.clone())
                .await
                .unwrap_or_else(|e| panic!("probe command failed: {e}"))
        }
    }

    #[async_trait]
    impl Probe for RedisProbe {
        async fn schedule(&self, id: &str, hash: &JobHash, score: f64) {
            self.admin()
                .schedule(&JobId::from(id), hash, score)
                .await
                .unwrap_or_else(|e| panic!("probe schedule failed: {e}"));
        }

        async fn score(&self, id: &str) -> Option<f64> {
            self.query(redis::cmd("ZSCORE").arg(keys::SCHEDULED_JOBS).arg(id))
                .await
        }

        async fn set_score(&self, id: &str, score: f64) {
            let _: i64 = self
                .query(
                    redis::cmd("ZADD")
                        .arg(keys::SCHEDULED_JOBS)
                        .arg(score)
                        .arg(id),
                )
                .await;
        }

        async fn unschedule(&self, id: &str) {
            let _: i64 = self
                .query(redis::cmd("ZREM").arg(keys::SCHEDULED_JOBS).arg(id))
                .await;
        }

        async fn scheduled(&self) -> u64 {
            self.query(
                redis::cmd("ZCOUNT")
                    .arg(keys::SCHEDULED_JOBS)
                    .arg(0)
                    .arg("+inf"),
            )
            .await
        }

        async fn quarantined(&self) -> Vec<Quarantined> {
            self.admin()
                .quarantined()
                .await
                .unwrap_or_else(|e| panic!("probe quarantined failed: {e}"))
        }

        async fn queue(&self, name: &str) -> Vec<String> {
            self.query(
                redis::cmd("LRANGE")
                    .arg(keys::queue_key(name))
                    .arg(0)
                    .arg(-1),
            )
            .await
        }

        async fn job(&self, id: &str) -> Option<JobHash> {
            let map: HashMap<String, Vec<u8>> = self
                .query(redis::cmd("HGETALL").arg(keys::job_key(id)))
                .await;
            (!map.is_empty()).then(|| map.into_iter().collect())
        }

        async fn job_ttl(&self, id: &str) -> Option<u64> {
            let ttl: i64 = self.query(redis::cmd("TTL").arg(keys::job_key(id))).await;
            u64::try_from(ttl).ok()
        }

        async fn known_queues(&self) -> Vec<String> {
            let mut members: Vec<String> =
                self.query(redis::cmd("SMEMBERS").arg(keys::QUEUES)).await;
            members.sort();
            members
                .into_iter()
                .map(|m| {
                    m.strip_prefix(keys::QUEUE_PREFIX)
                        .map(str::to_owned)
                        .unwrap_or(m)
                })
                .collect()
        }

        async fn deferred(&self, queue: &str) -> BTreeMap<String, i64> {
            let rows: Vec<(String, f64)> = self
                .query(
                    redis::cmd("ZRANGE")
                        .arg(keys::deferred_key(queue))
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES"),
                )
                .await;
            rows.into_iter().map(|(id, s)| (id, s as i64)).collect()
        }

        async fn dependents(&self, id: &str) -> BTreeSet<String> {
            self.query(redis::cmd("SMEMBERS").arg(keys::dependents_key(id)))
                .await
        }

        async fn dependencies(&self, id: &str) -> BTreeSet<String> {
            self.query(redis::cmd("SMEMBERS").arg(keys::dependencies_key(id)))
                .await
        }

        async fn write_job(&self, id: &str, fields: &[(&str, &[u8])]) {
            let () = self
                .query(redis::cmd("HSET").arg(keys::job_key(id)).arg(fields))
                .await;
        }

        async fn delete_job(&self, id: &str) {
            let _: i64 = self.query(redis::cmd("DEL").arg(keys::job_key(id))).await;
        }
    }
}

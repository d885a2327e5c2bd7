//! [`RedisProbe`]: the conformance suites' [`Probe`](rqs_conformance::Probe) over a real Redis.

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

    use rqs_conformance::Probe;

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

//! A stream of one-off jobs falling due at a steady rate, and what became of each: for
//! the fault and failover tests, which check that every job reached its queue exactly
//! once and report how late.

use std::collections::HashMap;
use std::time::Duration;

use redis::aio::ConnectionLike;
use rqs_testkit::client_job;

/// Jobs `<prefix>-<n>` on queue `default`, due one after the other.
#[derive(Debug, Clone)]
pub struct Stream {
    pub jobs: Vec<(String, f64)>,
}

/// Unix seconds now, with a fraction.
pub fn now() -> f64 {
    chrono::Utc::now().timestamp_micros() as f64 / 1e6
}

impl Stream {
    /// Schedules `n` jobs due every `every`, the first at `first` (Unix seconds).
    pub async fn schedule<C: ConnectionLike + Clone + Send + Sync + 'static>(
        conn: &C,
        prefix: &str,
        first: f64,
        every: Duration,
        n: usize,
    ) -> Self {
        use rqs_store::JobAdmin;
        let store = rqs_redis::RedisJobStore::new(conn.clone());
        let mut jobs = Vec::with_capacity(n);
        for i in 0..n {
            let id = format!("{prefix}-{i:04}");
            let score = first + every.as_secs_f64() * i as f64;
            store
                .schedule(&id.as_str().into(), &client_job("default"), score)
                .await
                .unwrap_or_else(|e| panic!("scheduling {id}: {e}"));
            jobs.push((id, score));
        }
        Self { jobs }
    }

    /// When the last job is due.
    pub fn last_due(&self) -> f64 {
        self.jobs.last().map_or(0.0, |(_, s)| *s)
    }

    /// Checks that each job is in `rq:queue:default` exactly once and no longer
    /// scheduled; returns each job's lateness (its `enqueued_at` minus its due time), in
    /// stream order.
    pub async fn assert_each_once<C: ConnectionLike + Clone + Send + Sync>(
        &self,
        conn: &C,
    ) -> Vec<f64> {
        let mut conn = conn.clone();
        let pushed: Vec<String> = redis::cmd("LRANGE")
            .arg("rq:queue:default")
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for id in &pushed {
            *counts.entry(id).or_default() += 1;
        }
        let lost: Vec<&str> = self
            .jobs
            .iter()
            .filter(|(id, _)| !counts.contains_key(id.as_str()))
            .map(|(id, _)| id.as_str())
            .collect();
        let duplicated: Vec<(&&str, &usize)> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(lost.is_empty(), "lost {} jobs: {lost:?}", lost.len());
        assert!(duplicated.is_empty(), "duplicated: {duplicated:?}");
        let mut lateness = Vec::with_capacity(self.jobs.len());
        for (id, score) in &self.jobs {
            let key = format!("rq:job:{id}");
            let (status, enqueued_at, scheduled): (Option<String>, Option<String>, Option<f64>) =
                redis::pipe()
                    .hget(&key, "status")
                    .hget(&key, "enqueued_at")
                    .zscore("rq:scheduler:scheduled_jobs", id)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            assert_eq!(status.as_deref(), Some("queued"), "{id}");
            assert_eq!(scheduled, None, "{id} is still scheduled");
            let at = enqueued_at
                .as_deref()
                .and_then(rqs_core::time::parse_rq_timestamp)
                .unwrap_or_else(|| panic!("{id}: enqueued_at {enqueued_at:?}"));
            lateness.push(at.timestamp_micros() as f64 / 1e6 - score);
        }
        lateness
    }
}

/// The worst of `lateness` for the jobs due in `[from, to)`, and how many there were.
pub fn worst(stream: &Stream, lateness: &[f64], from: f64, to: f64) -> (f64, usize) {
    stream
        .jobs
        .iter()
        .zip(lateness)
        .filter(|((_, s), _)| (from..to).contains(s))
        .fold((0.0f64, 0), |(w, n), (_, l)| (w.max(*l), n + 1))
}

/// When the last of the jobs due in `[from, to)` was handed over (Unix seconds).
pub fn last_moved(stream: &Stream, lateness: &[f64], from: f64, to: f64) -> f64 {
    stream
        .jobs
        .iter()
        .zip(lateness)
        .filter(|((_, s), _)| (from..to).contains(s))
        .fold(0.0f64, |latest, ((_, s), l)| latest.max(s + l))
}

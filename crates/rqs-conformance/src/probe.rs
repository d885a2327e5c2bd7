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

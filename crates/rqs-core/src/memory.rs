//! An in-memory model of the RQ and rq-scheduler keys the scheduler touches.
//!
//! The in-memory job store and queue sink share one [`RqModel`] (behind a mutex), the way
//! the Redis implementations share one Redis database. It follows the same contracts as
//! the Redis scripts and is checked by the same conformance suites. Key time-to-live
//! values are recorded, not enforced: the model has no clock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::handoff::{Action, Enqueue, HandOff, Outcome};
use crate::{JobHash, ScheduledJob};

/// A schedule entry ordered like a Redis sorted set: by score, then by member.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    score: f64,
    id: String,
}

impl Eq for Entry {}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| self.id.cmp(&other.id))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A quarantined job.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// The job id.
    pub job_id: String,
    /// The score it had in the schedule.
    pub score: f64,
    /// Why it was quarantined.
    pub reason: String,
    /// When, in Unix seconds.
    pub at: i64,
}

/// RQ's keys as plain collections.
#[derive(Debug, Default, Clone)]
pub struct RqModel {
    schedule: BTreeSet<Entry>,
    scores: HashMap<String, f64>,
    jobs: HashMap<String, JobHash>,
    ttls: HashMap<String, u64>,
    queues: HashMap<String, VecDeque<String>>,
    known_queues: BTreeSet<String>,
    deferred: HashMap<String, BTreeMap<String, i64>>,
    dependents: HashMap<String, BTreeSet<String>>,
    dependencies: HashMap<String, BTreeSet<String>>,
    quarantine: BTreeMap<String, Quarantined>,
}

impl RqModel {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes a job hash (replacing fields given) and schedules it, as a client does.
    pub fn schedule(&mut self, id: &str, hash: &JobHash, score: f64) {
        self.write_fields(id, hash.iter().map(|(k, v)| (k.to_owned(), v.to_vec())));
        self.set_score(id, score);
    }

    /// Adds or moves `id` in the schedule.
    pub fn set_score(&mut self, id: &str, score: f64) {
        self.unset_score(id);
        self.schedule.insert(Entry {
            score,
            id: id.to_owned(),
        });
        self.scores.insert(id.to_owned(), score);
    }

    /// Removes `id` from the schedule; `true` when it was there.
    pub fn unset_score(&mut self, id: &str) -> bool {
        match self.scores.remove(id) {
            Some(score) => {
                self.schedule.remove(&Entry {
                    score,
                    id: id.to_owned(),
                });
                true
            }
            None => false,
        }
    }

    /// The score of `id`, if scheduled.
    pub fn score(&self, id: &str) -> Option<f64> {
        self.scores.get(id).copied()
    }

    /// Scheduled ids with scores in `[0, until]`, in order, after `offset`, at most `limit`.
    pub fn range(&self, until: f64, offset: usize, limit: Option<usize>) -> Vec<(String, f64)> {
        let iter = self
            .schedule
            .iter()
            .filter(|e| e.score >= 0.0)
            .take_while(|e| e.score <= until)
            .skip(offset)
            .map(|e| (e.id.clone(), e.score));
        match limit {
            Some(n) => iter.take(n).collect(),
            None => iter.collect(),
        }
    }

    /// The first `limit` due jobs (score in `[0, until]`) with their hand-off fields.
    pub fn due(&self, until: f64, limit: usize) -> Vec<ScheduledJob> {
        self.range(until, 0, Some(limit))
            .into_iter()
            .map(|(id, score)| ScheduledJob {
                hash: self.jobs.get(&id).map(JobHash::projection),
                id,
                score,
            })
            .collect()
    }

    /// The lowest score in the schedule.
    pub fn next_due(&self) -> Option<f64> {
        self.schedule.first().map(|e| e.score)
    }

    /// A job hash.
    pub fn job(&self, id: &str) -> Option<&JobHash> {
        self.jobs.get(id)
    }

    /// The recorded time to live of a job hash.
    pub fn job_ttl(&self, id: &str) -> Option<u64> {
        self.ttls.get(id).copied()
    }

    /// Writes fields into a job hash, creating it when needed.
    pub fn write_fields<I: IntoIterator<Item = (String, Vec<u8>)>>(&mut self, id: &str, fields: I) {
        // Like HSET, writing no field creates no hash.
        let mut fields = fields.into_iter().peekable();
        if fields.peek().is_none() {
            return;
        }
        let hash = self.jobs.entry(id.to_owned()).or_default();
        for (k, v) in fields {
            hash.set(k, v);
        }
    }

    /// Removes a job hash.
    pub fn delete_job(&mut self, id: &str) {
        self.jobs.remove(id);
        self.ttls.remove(id);
    }

    /// Ids in a queue, head first.
    pub fn queue(&self, name: &str) -> Vec<String> {
        self.queues
            .get(name)
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Names of the queues registered in `rq:queues`.
    pub fn known_queues(&self) -> Vec<String> {
        self.known_queues.iter().cloned().collect()
    }

    /// The deferred registry of a queue: id → score.
    pub fn deferred(&self, queue: &str) -> BTreeMap<String, i64> {
        self.deferred.get(queue).cloned().unwrap_or_default()
    }

    /// Ids waiting for `id`.
    pub fn dependents(&self, id: &str) -> BTreeSet<String> {
        self.dependents.get(id).cloned().unwrap_or_default()
    }

    /// Ids `id` waits for.
    pub fn dependencies(&self, id: &str) -> BTreeSet<String> {
        self.dependencies.get(id).cloned().unwrap_or_default()
    }

    /// Quarantined jobs by id.
    pub fn quarantine(&self) -> Vec<Quarantined> {
        self.quarantine.values().cloned().collect()
    }

    /// Applies one enqueue as described by [`Enqueue`].
    pub fn apply_enqueue(&mut self, e: &Enqueue) -> Outcome {
        self.known_queues.insert(e.queue.clone());
        let blocked = e.dependencies.iter().any(|dep| {
            self.jobs.get(dep).is_some_and(|h| {
                !e.met_statuses
                    .iter()
                    .any(|s| h.status() == Some(s.as_str()))
            })
        });
        let outcome = if blocked {
            self.write_fields(&e.job_id, e.deferred_fields.iter().cloned());
            self.deferred
                .entry(e.queue.clone())
                .or_default()
                .insert(e.job_id.clone(), e.now);
            for dep in &e.dependencies {
                self.dependents
                    .entry(dep.clone())
                    .or_default()
                    .insert(e.job_id.clone());
                self.dependencies
                    .entry(e.job_id.clone())
                    .or_default()
                    .insert(dep.clone());
            }
            Outcome::Deferred
        } else {
            self.write_fields(&e.job_id, e.ready_fields.iter().cloned());
            if e.was_deferred
                && let Some(registry) = self.deferred.get_mut(&e.queue)
            {
                registry.remove(&e.job_id);
            }
            let queue = self.queues.entry(e.queue.clone()).or_default();
            if e.at_front {
                queue.push_front(e.job_id.clone());
            } else {
                queue.push_back(e.job_id.clone());
            }
            Outcome::Pushed
        };
        if let Some(ttl) = e.ttl {
            self.ttls.insert(e.job_id.clone(), ttl);
        }
        outcome
    }

    /// Applies a batch of hand-offs with the semantics of the Redis commit script.
    pub fn commit(&mut self, batch: &[HandOff]) -> Vec<Outcome> {
        batch.iter().map(|h| self.commit_one(h)).collect()
    }

    fn commit_one(&mut self, h: &HandOff) -> Outcome {
        if self.score(&h.job_id) != Some(h.read_score) {
            return Outcome::Stale;
        }
        match &h.action {
            Action::Unschedule { .. } => {
                self.unset_score(&h.job_id);
                Outcome::Unscheduled
            }
            Action::Quarantine { reason, at } => {
                self.unset_score(&h.job_id);
                self.quarantine.insert(
                    h.job_id.clone(),
                    Quarantined {
                        job_id: h.job_id.clone(),
                        score: h.read_score,
                        reason: reason.clone(),
                        at: *at,
                    },
                );
                Outcome::Quarantined
            }
            Action::Enqueue {
                enqueue,
                meta,
                next,
            } => {
                let Some(hash) = self.jobs.get(&h.job_id) else {
                    self.unset_score(&h.job_id);
                    return Outcome::Vanished;
                };
                if let Some(update) = meta {
                    if hash.get("meta") != update.expected.as_deref() {
                        return Outcome::MetaChanged;
                    }
                    self.write_fields(&h.job_id, [("meta".to_owned(), update.new.clone())]);
                }
                let outcome = self.apply_enqueue(enqueue);
                match next {
                    Some(score) => self.set_score(&h.job_id, *score as f64),
                    None => {
                        self.unset_score(&h.job_id);
                    }
                }
                outcome
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handoff::MetaUpdate;

    fn enqueue(id: &str, deps: &[&str]) -> Enqueue {
        Enqueue {
            job_id: id.into(),
            queue: "default".into(),
            at_front: false,
            ready_fields: vec![("status".into(), b"queued".to_vec())],
            deferred_fields: vec![("status".into(), b"deferred".to_vec())],
            ttl: None,
            dependencies: deps.iter().map(|d| d.to_string()).collect(),
            met_statuses: vec!["finished".into()],
            was_deferred: false,
            now: 7,
        }
    }

    #[test]
    fn schedule_orders_by_score_then_id() {
        let mut m = RqModel::new();
        let h = JobHash::from_pairs([("data", "x")]);
        m.schedule("b", &h, 5.0);
        m.schedule("a", &h, 5.0);
        m.schedule("c", &h, 1.0);
        m.schedule("neg", &h, -1.0);
        let ids: Vec<_> = m.range(10.0, 0, None).into_iter().map(|(i, _)| i).collect();
        assert_eq!(ids, ["c", "a", "b"]);
        assert_eq!(m.next_due(), Some(-1.0));
        m.set_score("c", 9.0);
        assert_eq!(m.due(10.0, 1)[0].id, "a");
    }

    #[test]
    fn enqueue_defers_on_unfinished_dependency_only() {
        let mut m = RqModel::new();
        m.write_fields("dep", [("status".into(), b"started".to_vec())]);
        assert_eq!(
            m.apply_enqueue(&enqueue("j", &["dep", "gone"])),
            Outcome::Deferred
        );
        assert_eq!(m.deferred("default").get("j"), Some(&7));
        assert!(m.dependents("dep").contains("j"));
        assert!(m.dependencies("j").contains("gone"));
        m.write_fields("dep", [("status".into(), b"finished".to_vec())]);
        assert_eq!(m.apply_enqueue(&enqueue("j", &["dep"])), Outcome::Pushed);
        assert_eq!(m.queue("default"), ["j"]);
    }

    #[test]
    fn commit_is_guarded_by_score_and_meta() {
        let mut m = RqModel::new();
        let h = JobHash::from_pairs([("data", "x"), ("meta", "m1")]);
        m.schedule("j", &h, 5.0);
        let action = |next| Action::Enqueue {
            enqueue: Box::new(enqueue("j", &[])),
            meta: Some(MetaUpdate {
                expected: Some(b"m0".to_vec()),
                new: b"m2".to_vec(),
            }),
            next,
        };
        let stale = HandOff {
            job_id: "j".into(),
            read_score: 4.0,
            action: action(None),
        };
        assert_eq!(m.commit(&[stale]), [Outcome::Stale]);
        let changed = HandOff {
            job_id: "j".into(),
            read_score: 5.0,
            action: action(None),
        };
        assert_eq!(m.commit(&[changed]), [Outcome::MetaChanged]);
        assert!(m.queue("default").is_empty());
    }
}

//! An in-memory model of the RQ and rq-scheduler keys the scheduler touches.
//!
//! The in-memory job store and queue sink share one [`RqModel`] (behind a mutex), the way
//! the Redis implementations share one Redis database. It follows the same contracts as
//! the Redis scripts and is checked by the same conformance suites. Key time-to-live
//! values are recorded, not enforced: the model has no clock.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use crate::handoff::{Action, Enqueue, HandOff, Outcome, QuarantineKind};
use crate::{JobHash, JobId, QueueName, ScheduledJob};

/// A schedule entry ordered like a Redis sorted set: by score, then by member bytes.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    score: f64,
    id: JobId,
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
    pub job_id: JobId,
    /// The score it had in the schedule.
    pub score: f64,
    /// What kind of problem (absent in records written by rqs before 0.2).
    pub kind: Option<QuarantineKind>,
    /// Why it was quarantined.
    pub reason: String,
    /// When, in Unix seconds.
    pub at: i64,
}

/// RQ's keys as plain collections.
#[derive(Debug, Default, Clone)]
pub struct RqModel {
    schedule: BTreeSet<Entry>,
    scores: HashMap<JobId, f64>,
    jobs: HashMap<JobId, JobHash>,
    ttls: HashMap<JobId, u64>,
    queues: HashMap<QueueName, VecDeque<JobId>>,
    known_queues: BTreeSet<QueueName>,
    deferred: HashMap<QueueName, BTreeMap<JobId, i64>>,
    dependents: HashMap<JobId, BTreeSet<JobId>>,
    dependencies: HashMap<JobId, BTreeSet<JobId>>,
    quarantine: BTreeMap<JobId, Quarantined>,
}

fn id(bytes: impl AsRef<[u8]>) -> JobId {
    JobId::from(bytes.as_ref())
}

impl RqModel {
    /// An empty model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes a job hash (replacing fields given) and schedules it, as a client does.
    pub fn schedule(&mut self, job: impl AsRef<[u8]>, hash: &JobHash, score: f64) {
        self.write_fields(&job, hash.iter().map(|(k, v)| (k.to_owned(), v.to_vec())));
        self.set_score(job, score);
    }

    /// Adds or moves a job in the schedule.
    pub fn set_score(&mut self, job: impl AsRef<[u8]>, score: f64) {
        self.unset_score(&job);
        let job = id(job);
        self.schedule.insert(Entry {
            score,
            id: job.clone(),
        });
        self.scores.insert(job, score);
    }

    /// Removes a job from the schedule; `true` when it was there.
    pub fn unset_score(&mut self, job: impl AsRef<[u8]>) -> bool {
        match self.scores.remove(job.as_ref()) {
            Some(score) => {
                self.schedule.remove(&Entry { score, id: id(job) });
                true
            }
            None => false,
        }
    }

    /// The score of a job, if scheduled.
    pub fn score(&self, job: impl AsRef<[u8]>) -> Option<f64> {
        self.scores.get(job.as_ref()).copied()
    }

    /// Scheduled ids with scores in `[0, until]`, in order, after `offset`, at most `limit`.
    pub fn range(&self, until: f64, offset: usize, limit: Option<usize>) -> Vec<(JobId, f64)> {
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

    /// Due jobs (score in `[0, until]`) with their hand-off fields: the first `limit`
    /// after skipping `offset`.
    pub fn due(&self, until: f64, offset: usize, limit: usize) -> Vec<ScheduledJob> {
        self.range(until, offset, Some(limit))
            .into_iter()
            .map(|(job, score)| {
                let hash = self.jobs.get(&job).map(JobHash::projection);
                ScheduledJob::new(job, score, hash)
            })
            .collect()
    }

    /// The lowest score `>= 0` in the schedule.
    pub fn next_due(&self) -> Option<f64> {
        self.range(f64::INFINITY, 0, Some(1))
            .first()
            .map(|(_, s)| *s)
    }

    /// The number of scheduled jobs with a score in `[0, until]`.
    pub fn count(&self, until: f64) -> u64 {
        self.schedule
            .iter()
            .filter(|e| e.score >= 0.0)
            .take_while(|e| e.score <= until)
            .count() as u64
    }

    /// A job hash.
    pub fn job(&self, job: impl AsRef<[u8]>) -> Option<&JobHash> {
        self.jobs.get(job.as_ref())
    }

    /// The recorded time to live of a job hash.
    pub fn job_ttl(&self, job: impl AsRef<[u8]>) -> Option<u64> {
        self.ttls.get(job.as_ref()).copied()
    }

    /// Writes fields into a job hash, creating it when needed.
    pub fn write_fields<I: IntoIterator<Item = (String, Vec<u8>)>>(
        &mut self,
        job: impl AsRef<[u8]>,
        fields: I,
    ) {
        // Like HSET, writing no field creates no hash.
        let mut fields = fields.into_iter().peekable();
        if fields.peek().is_none() {
            return;
        }
        let hash = self.jobs.entry(id(job)).or_default();
        for (k, v) in fields {
            hash.set(k, v);
        }
    }

    /// Removes a job hash.
    pub fn delete_job(&mut self, job: impl AsRef<[u8]>) {
        self.jobs.remove(job.as_ref());
        self.ttls.remove(job.as_ref());
    }

    /// Ids in a queue, head first.
    pub fn queue(&self, name: impl AsRef<[u8]>) -> Vec<JobId> {
        self.queues
            .get(name.as_ref())
            .map(|q| q.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Names of the queues registered in `rq:queues`.
    pub fn known_queues(&self) -> Vec<QueueName> {
        self.known_queues.iter().cloned().collect()
    }

    /// The deferred registry of a queue: id → score.
    pub fn deferred(&self, queue: impl AsRef<[u8]>) -> BTreeMap<JobId, i64> {
        self.deferred
            .get(queue.as_ref())
            .cloned()
            .unwrap_or_default()
    }

    /// Ids waiting for a job.
    pub fn dependents(&self, job: impl AsRef<[u8]>) -> BTreeSet<JobId> {
        self.dependents
            .get(job.as_ref())
            .cloned()
            .unwrap_or_default()
    }

    /// Ids a job waits for.
    pub fn dependencies(&self, job: impl AsRef<[u8]>) -> BTreeSet<JobId> {
        self.dependencies
            .get(job.as_ref())
            .cloned()
            .unwrap_or_default()
    }

    /// Quarantined jobs by id.
    pub fn quarantine(&self) -> Vec<Quarantined> {
        self.quarantine.values().cloned().collect()
    }

    /// Puts a quarantined job back in the schedule, at `score` or else at the score it
    /// had; returns the score, or `None` when the job is not quarantined.
    pub fn release(&mut self, job: impl AsRef<[u8]>, score: Option<f64>) -> Option<f64> {
        let record = self.quarantine.remove(job.as_ref())?;
        let score = score.unwrap_or(record.score);
        self.set_score(&record.job_id, score);
        Some(score)
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
            Action::Quarantine { kind, reason, at } => {
                self.unset_score(&h.job_id);
                self.quarantine.insert(
                    h.job_id.clone(),
                    Quarantined {
                        job_id: h.job_id.clone(),
                        score: h.read_score,
                        kind: Some(*kind),
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
                    if !update.expected.matches(hash.get("meta")) {
                        return Outcome::MetaChanged;
                    }
                    self.write_fields(&h.job_id, [("meta".to_owned(), update.new.clone())]);
                }
                let outcome = self.apply_enqueue(enqueue);
                match next {
                    Some(score) => self.set_score(&h.job_id, *score),
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
    use crate::handoff::{MetaGuard, MetaUpdate};

    fn enqueue(id: &str, deps: &[&str]) -> Enqueue {
        Enqueue {
            job_id: id.into(),
            queue: "default".into(),
            at_front: false,
            ready_fields: vec![("status".into(), b"queued".to_vec())],
            deferred_fields: vec![("status".into(), b"deferred".to_vec())],
            ttl: None,
            dependencies: deps.iter().map(|d| JobId::from(*d)).collect(),
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
        assert_eq!(m.next_due(), Some(1.0), "negative scores are never due");
        m.set_score("c", 9.0);
        assert_eq!(m.due(10.0, 0, 1)[0].id, "a");
        assert_eq!(m.due(10.0, 1, 1)[0].id, "b");
        assert_eq!(m.count(10.0), 3);
    }

    #[test]
    fn enqueue_defers_on_unfinished_dependency_only() {
        let mut m = RqModel::new();
        m.write_fields("dep", [("status".into(), b"started".to_vec())]);
        assert_eq!(
            m.apply_enqueue(&enqueue("j", &["dep", "gone"])),
            Outcome::Deferred
        );
        assert_eq!(m.deferred("default").get(&b"j"[..]), Some(&7));
        assert!(m.dependents("dep").contains(&b"j"[..]));
        assert!(m.dependencies("j").contains(&b"gone"[..]));
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
                expected: MetaGuard::Exact(b"m0".to_vec()),
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

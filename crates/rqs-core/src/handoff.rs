//! The hand-off of due jobs, described as plain data.
//!
//! The orchestrator decides what happens to each due job ([`HandOff`]), a queue sink
//! describes how RQ enqueues it ([`Enqueue`]), and a job store applies a whole batch of
//! hand-offs in one atomic step. Keeping the description as data is what lets the store
//! make the queue push, the hash update and the schedule change happen together.

use chrono::{DateTime, Utc};

use crate::{JobError, JobId, QueueName, ScheduledJob, time};

/// RQ's `Queue.DEFAULT_TIMEOUT`, written when a job has no timeout.
pub const RQ_DEFAULT_TIMEOUT: u64 = 180;

/// The largest job `ttl` rqs passes to `EXPIRE` (about 31 million years); Redis refuses
/// larger ones, which would make the whole hand-off batch fail.
pub const MAX_TTL: u64 = 1_000_000_000_000_000;

/// What RQ's `Queue.enqueue_job` does for one scheduled job, as data.
///
/// Applying it means, in one atomic step:
/// 1. add `rq:queue:<queue>` to `rq:queues`;
/// 2. if any id in `dependencies` names an existing job whose `status` is not in
///    `met_statuses`: write `deferred_fields`, add the job to `rq:deferred:<queue>` with
///    score `now`, add it to every dependency's `rq:job:<dep>:dependents` and the
///    dependencies to `rq:job::<id>:dependencies` (the job is *deferred*);
/// 3. otherwise write `ready_fields`, remove the job from `rq:deferred:<queue>` when
///    `was_deferred`, and push the id on `rq:queue:<queue>`: at the head when `at_front`,
///    else at the tail (the job is *pushed*). RQ itself would not push a job whose stored
///    status is `deferred` and would lose that run; rqs pushes it, as RQ's worker does
///    when a dependency finishes;
/// 4. either way, when `ttl` is set, expire the job hash, its dependents set and its
///    dependencies set after `ttl` seconds.
///
/// A missing dependency counts as met, as in RQ.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Enqueue {
    /// The job id.
    pub job_id: JobId,
    /// The queue name (the job's `origin`).
    pub queue: QueueName,
    /// Push at the head of the list (`LPUSH`) instead of the tail.
    pub at_front: bool,
    /// Hash fields written when the job is pushed.
    pub ready_fields: Vec<(String, Vec<u8>)>,
    /// Hash fields written when the job is deferred.
    pub deferred_fields: Vec<(String, Vec<u8>)>,
    /// Positive job time to live in seconds.
    pub ttl: Option<u64>,
    /// Ids of the jobs this one waits for.
    pub dependencies: Vec<JobId>,
    /// Dependency statuses that count as done.
    pub met_statuses: Vec<String>,
    /// The job's stored status was `deferred`: leave the deferred registry when pushed.
    pub was_deferred: bool,
    /// Unix seconds used as the deferred-registry score.
    pub now: i64,
}

/// How a sink turns a job into an [`Enqueue`]: the RQ semantics that are not Redis-specific.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnqueueOptions {
    /// Timeout written when the job has none (RQ: 180).
    pub default_timeout: u64,
    /// Dependency statuses that count as done (RQ 2.x: only `finished`).
    pub met_statuses: Vec<String>,
}

impl Default for EnqueueOptions {
    fn default() -> Self {
        Self {
            default_timeout: RQ_DEFAULT_TIMEOUT,
            met_statuses: vec!["finished".to_owned()],
        }
    }
}

impl EnqueueOptions {
    /// Sets the timeout written when a job has none.
    pub fn default_timeout(mut self, seconds: u64) -> Self {
        self.default_timeout = seconds;
        self
    }

    /// Sets the dependency statuses that count as done.
    pub fn met_statuses<I: IntoIterator<Item = S>, S: Into<String>>(mut self, statuses: I) -> Self {
        self.met_statuses = statuses.into_iter().map(Into::into).collect();
        self
    }
}

impl Enqueue {
    /// Describes how RQ's `Queue.enqueue_job` treats `job` at `now`.
    ///
    /// Only the fields RQ changes are written: `status`, and for a pushed job also
    /// `enqueued_at` and, when the job has none, `timeout`. Every other field stays as
    /// stored, which is what RQ's full rewrite of the hash amounts to.
    ///
    /// # Errors
    /// [`JobError::MissingJob`] when the hash is absent or has no `data`;
    /// [`JobError::InvalidField`] when `origin`, `ttl`, `enqueue_at_front` or
    /// `dependency_ids` cannot be read.
    pub fn for_job(
        job: &ScheduledJob,
        now: DateTime<Utc>,
        options: &EnqueueOptions,
    ) -> Result<Self, JobError> {
        let hash = job
            .hash
            .as_ref()
            .filter(|h| h.has_data())
            .ok_or(JobError::MissingJob)?;
        let queue = hash.origin().ok_or_else(|| JobError::InvalidField {
            field: "origin",
            reason: "missing or empty, so the job has no queue".to_owned(),
        })?;
        let at_front = hash.at_front()?;
        let ttl = hash
            .ttl()?
            .and_then(|t| u64::try_from(t).ok())
            .filter(|t| *t > 0);
        if let Some(t) = ttl.filter(|t| *t > MAX_TTL) {
            return Err(JobError::InvalidField {
                field: "ttl",
                reason: format!("{t} seconds is more than Redis can expire"),
            });
        }
        let dependencies = hash.dependency_ids()?;

        let mut ready_fields = vec![
            ("status".to_owned(), b"queued".to_vec()),
            (
                "enqueued_at".to_owned(),
                time::rq_timestamp(now).into_bytes(),
            ),
        ];
        if hash.timeout_unset() {
            ready_fields.push((
                "timeout".to_owned(),
                options.default_timeout.to_string().into_bytes(),
            ));
        }
        Ok(Self {
            job_id: job.id.clone(),
            queue,
            at_front,
            ready_fields,
            deferred_fields: vec![("status".to_owned(), b"deferred".to_vec())],
            ttl,
            dependencies,
            met_statuses: options.met_statuses.clone(),
            was_deferred: hash.status() == Some("deferred"),
            now: time::floor_seconds(now),
        })
    }
}

/// What the stored `meta` must still be for a guarded meta change to apply.
///
/// The bytes themselves, even for a large meta: comparing them in the store is a
/// `memcmp`, far cheaper for Redis than hashing them, and a batch read is bounded by
/// bytes, so the copy it costs the client is bounded too.
#[derive(Clone, PartialEq, Eq)]
pub enum MetaGuard {
    /// The job had no `meta` field.
    Absent,
    /// The exact bytes.
    Exact(Vec<u8>),
}

impl MetaGuard {
    /// The guard of `meta` as read.
    pub fn of(meta: Option<&[u8]>) -> Self {
        match meta {
            None => MetaGuard::Absent,
            Some(bytes) => MetaGuard::Exact(bytes.to_vec()),
        }
    }

    /// Whether the stored meta (`None`: no field) is still the one guarded.
    pub fn matches(&self, stored: Option<&[u8]>) -> bool {
        match (self, stored) {
            (MetaGuard::Absent, None) => true,
            (MetaGuard::Exact(bytes), Some(s)) => bytes == s,
            _ => false,
        }
    }
}

impl std::fmt::Debug for MetaGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetaGuard::Absent => f.write_str("Absent"),
            MetaGuard::Exact(b) => write!(f, "Exact({} bytes)", b.len()),
        }
    }
}

/// A guarded replacement of the job's pickled `meta`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaUpdate {
    /// The meta the decision was based on. When the stored meta differs at commit time,
    /// the hand-off of this job is skipped.
    pub expected: MetaGuard,
    /// The meta to write.
    pub new: Vec<u8>,
}

/// What happens to one due job.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Enqueue the job, optionally rewrite its meta, then re-arm it at `next` or, when
    /// `next` is `None`, remove it from the schedule.
    Enqueue {
        /// How RQ enqueues it.
        enqueue: Box<Enqueue>,
        /// A new meta (a decremented `repeat`).
        meta: Option<MetaUpdate>,
        /// The next due time in Unix seconds, for periodic jobs.
        next: Option<f64>,
    },
    /// Remove the job from the schedule without enqueueing it (its hash is gone).
    Unschedule {
        /// Why, for the log.
        reason: String,
    },
    /// Move the job out of the schedule into the quarantine, with the reason.
    Quarantine {
        /// What kind of problem, a stable name (for metrics).
        kind: QuarantineKind,
        /// Why, stored next to the job id.
        reason: String,
        /// When, in Unix seconds.
        at: i64,
    },
}

/// What kind of problem sent a job to the quarantine. The names are stable: metrics use
/// them as label values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum QuarantineKind {
    /// A job hash field cannot be read (`ttl`, `origin`, `dependency_ids`...).
    InvalidField,
    /// The pickled meta cannot be read or patched (JSON metas included).
    UnreadableMeta,
    /// The schedule in the meta cannot be used (a negative or too short interval...).
    InvalidSchedule,
    /// The cron string is invalid.
    InvalidCron,
    /// The meta is too large to handle within the memory bound.
    TooLarge,
    /// A key the hand-off writes has the wrong type (found by the store).
    WrongType,
    /// The hand-off came back stale or with a changed meta too many times in a row.
    Stuck,
}

impl QuarantineKind {
    /// Every kind, so that metrics can list each at zero before it first happens.
    pub const ALL: [QuarantineKind; 7] = [
        QuarantineKind::InvalidField,
        QuarantineKind::UnreadableMeta,
        QuarantineKind::InvalidSchedule,
        QuarantineKind::InvalidCron,
        QuarantineKind::TooLarge,
        QuarantineKind::WrongType,
        QuarantineKind::Stuck,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            QuarantineKind::InvalidField => "invalid_field",
            QuarantineKind::UnreadableMeta => "unreadable_meta",
            QuarantineKind::InvalidSchedule => "invalid_schedule",
            QuarantineKind::InvalidCron => "invalid_cron",
            QuarantineKind::TooLarge => "too_large",
            QuarantineKind::WrongType => "wrong_type",
            QuarantineKind::Stuck => "stuck",
        }
    }

    /// Parses [`QuarantineKind::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "invalid_field" => QuarantineKind::InvalidField,
            "unreadable_meta" => QuarantineKind::UnreadableMeta,
            "invalid_schedule" => QuarantineKind::InvalidSchedule,
            "invalid_cron" => QuarantineKind::InvalidCron,
            "too_large" => QuarantineKind::TooLarge,
            "wrong_type" => QuarantineKind::WrongType,
            "stuck" => QuarantineKind::Stuck,
            _ => return None,
        })
    }
}

impl std::fmt::Display for QuarantineKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One job's hand-off, guarded by the score it was read with.
#[derive(Debug, Clone, PartialEq)]
pub struct HandOff {
    /// The job id.
    pub job_id: JobId,
    /// The score the job was read with. If the job's score differs at commit time (a
    /// client cancelled or rescheduled it), nothing happens to it.
    pub read_score: f64,
    /// What to do.
    pub action: Action,
}

/// The result of committing one [`HandOff`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Pushed on its queue.
    Pushed,
    /// Deferred behind an unfinished dependency.
    Deferred,
    /// Removed from the schedule without being enqueued.
    Unscheduled,
    /// Moved into the quarantine.
    Quarantined,
    /// Not touched: its score changed since it was read (cancelled or rescheduled).
    Stale,
    /// Not touched: its meta changed since it was read; it is read again next time.
    MetaChanged,
    /// Its hash disappeared since it was read: removed from the schedule.
    Vanished,
    /// Not touched: it needs the quarantine, which cannot take it now (a backend's
    /// quarantine key has the wrong type). It stays in the schedule; the jobs behind it
    /// move on.
    Held,
    /// Left in the schedule, untouched, because its queue is paused; it goes out when the
    /// pause ends, in due order.
    Paused,
}

impl Outcome {
    /// Stable lower-case name, used in logs and in the store scripts.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pushed => "pushed",
            Outcome::Deferred => "deferred",
            Outcome::Unscheduled => "unscheduled",
            Outcome::Quarantined => "quarantined",
            Outcome::Stale => "stale",
            Outcome::MetaChanged => "meta_changed",
            Outcome::Vanished => "vanished",
            Outcome::Held => "held",
            Outcome::Paused => "paused",
        }
    }

    /// Parses [`Outcome::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pushed" => Outcome::Pushed,
            "deferred" => Outcome::Deferred,
            "unscheduled" => Outcome::Unscheduled,
            "quarantined" => Outcome::Quarantined,
            "stale" => Outcome::Stale,
            "meta_changed" => Outcome::MetaChanged,
            "held" => Outcome::Held,
            "paused" => Outcome::Paused,
            "vanished" => Outcome::Vanished,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::JobHash;
    use chrono::TimeZone;

    fn job(pairs: &[(&str, &str)]) -> ScheduledJob {
        ScheduledJob::new("j1", 10.0, Some(JobHash::from_pairs(pairs.iter().copied())))
    }

    #[test]
    fn plain_job_gets_rq_fields() {
        let now = Utc.timestamp_opt(1_795_804_227, 851_209_000).unwrap();
        let e = Enqueue::for_job(
            &job(&[("data", "x"), ("origin", "default")]),
            now,
            &EnqueueOptions::default(),
        )
        .unwrap();
        assert_eq!(e.queue, "default");
        assert!(!e.at_front);
        assert_eq!(
            e.ready_fields,
            vec![
                ("status".to_owned(), b"queued".to_vec()),
                (
                    "enqueued_at".to_owned(),
                    b"2026-11-27T18:30:27.851209Z".to_vec()
                ),
                ("timeout".to_owned(), b"180".to_vec()),
            ]
        );
        assert_eq!(e.now, 1_795_804_227);
        assert_eq!(e.ttl, None);
        assert!(!e.was_deferred);
    }

    #[test]
    fn existing_timeout_ttl_front_and_dependencies_are_kept() {
        let now = Utc.timestamp_opt(0, 0).unwrap();
        let e = Enqueue::for_job(
            &job(&[
                ("data", "x"),
                ("origin", "q"),
                ("timeout", "30"),
                ("ttl", "600"),
                ("enqueue_at_front", "1"),
                ("dependency_ids", r#"["d1"]"#),
                ("status", "deferred"),
            ]),
            now,
            &EnqueueOptions::default().default_timeout(5),
        )
        .unwrap();
        assert!(e.at_front);
        assert_eq!(e.ttl, Some(600));
        assert_eq!(e.dependencies, [JobId::from("d1")]);
        assert!(e.was_deferred);
        assert_eq!(e.ready_fields.len(), 2, "timeout is already set");
    }

    #[test]
    fn missing_and_corrupt_jobs_are_errors() {
        let now = Utc.timestamp_opt(0, 0).unwrap();
        let opts = EnqueueOptions::default();
        let missing = ScheduledJob::new("x", 1.0, None);
        assert!(matches!(
            Enqueue::for_job(&missing, now, &opts),
            Err(JobError::MissingJob)
        ));
        assert!(matches!(
            Enqueue::for_job(&job(&[("origin", "q")]), now, &opts),
            Err(JobError::MissingJob)
        ));
        assert!(matches!(
            Enqueue::for_job(&job(&[("data", "x")]), now, &opts),
            Err(JobError::InvalidField {
                field: "origin",
                ..
            })
        ));
        assert!(
            Enqueue::for_job(
                &job(&[("data", "x"), ("origin", "q"), ("ttl", "x")]),
                now,
                &opts
            )
            .is_err()
        );
        let huge = job(&[("data", "x"), ("origin", "q"), ("ttl", "9000000000000000")]);
        let err = Enqueue::for_job(&huge, now, &opts).unwrap_err();
        assert!(
            err.to_string().contains("more than Redis can expire"),
            "{err}"
        );
    }

    #[test]
    fn meta_guards_compare_bytes() {
        let meta = vec![7u8; 5000];
        let guard = MetaGuard::of(Some(&meta));
        assert!(guard.matches(Some(&meta)));
        let mut changed = meta.clone();
        changed[100] = 8;
        assert!(!guard.matches(Some(&changed)));
        assert!(!guard.matches(None));
        assert!(MetaGuard::Absent.matches(None));
        assert!(!MetaGuard::Absent.matches(Some(b"")));
    }

    #[test]
    fn outcome_names_round_trip() {
        for o in [
            Outcome::Pushed,
            Outcome::Deferred,
            Outcome::Unscheduled,
            Outcome::Quarantined,
            Outcome::Stale,
            Outcome::MetaChanged,
            Outcome::Vanished,
        ] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert_eq!(Outcome::parse("nope"), None);
    }
}

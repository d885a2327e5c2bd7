//! Redis key names shared with RQ and rq-scheduler.
//!
//! These are plain strings so that every implementation (Redis or not) and every
//! test names keys the same way. The spellings are RQ's, quirks included: the
//! dependencies key of a job has a double colon.

/// Sorted set of scheduled job ids, scored by due time in Unix seconds.
pub const SCHEDULED_JOBS: &str = "rq:scheduler:scheduled_jobs";

/// The single-active-instance lock shared with Python's `rqscheduler`.
pub const SCHEDULER_LOCK: &str = "rq:scheduler_lock";

/// Prefix of the per-instance birth/death hash.
pub const INSTANCE_PREFIX: &str = "rq:scheduler_instance:";

/// Set of every known queue key (`rq:queue:<name>`).
pub const QUEUES: &str = "rq:queues";

/// Prefix of job hashes.
pub const JOB_PREFIX: &str = "rq:job:";

/// Prefix of queue lists.
pub const QUEUE_PREFIX: &str = "rq:queue:";

/// Prefix of RQ's deferred-job registries.
pub const DEFERRED_PREFIX: &str = "rq:deferred:";

/// Hash of quarantined job ids (rqs's own key; rq-scheduler has no such thing). It lives
/// under `rq:` so that an ACL user restricted to RQ's key space (`~rq:*`) can write it.
///
/// Field = job id, value = a JSON object `{"score":…, "reason":…, "at":…}`.
pub const QUARANTINE: &str = "rq:rqs:quarantine";

/// Sorted set of scheduler instance names, each scored with the Unix time (Redis's) it
/// was last registered or beat: every rqs instance's birth and heartbeat keep their own
/// name there, and a daemon serving `--metrics-addr` adds what a walk of
/// `rq:scheduler_instance:*` finds (Python's among them) about once a minute. The status
/// page and `rqs status` read it instead of walking the keyspace.
pub const INSTANCE_INDEX: &str = "rq:rqs:instances";

/// Hash of the pauses in force (rqs's own key, written by `rqs pause`, read by every
/// rqs instance and inside the hand-off scripts). Field = a queue name, or [`PAUSE_ALL`]
/// for every queue; value = the Unix time the pause ends, as a decimal string, or the
/// empty string for a pause that lasts until `rqs resume`. A pause whose end has passed
/// is over. Python's `rqscheduler` does not read it.
pub const PAUSED: &str = "rq:rqs:paused";

/// Hash of what operators said about each pause in [`PAUSED`] (same fields): a JSON object
/// `{"reason": …, "by": …, "at": …, "until": …}`, for the log, `rqs status` and the page.
/// The scripts never read it.
pub const PAUSE_NOTES: &str = "rq:rqs:paused:notes";

/// The field of [`PAUSED`] that pauses every queue.
pub const PAUSE_ALL: &str = "*";

/// Prefix of RQ's own scheduled-job registries (`Queue.enqueue_at`, `Retry`, `Repeat`):
/// a sorted set per queue, member = job id, score = due time in Unix seconds.
pub const RQ_SCHEDULED_PREFIX: &str = "rq:scheduled:";

/// Prefix of RQ's per-queue scheduler locks (`rq worker --with-scheduler` takes them;
/// rqs with `--rq-scheduled` does too).
pub const RQ_SCHEDULER_LOCK_PREFIX: &str = "rq:scheduler-lock:";

/// `rq:scheduled:<queue>`.
pub fn rq_scheduled_key(queue: &str) -> String {
    format!("{RQ_SCHEDULED_PREFIX}{queue}")
}

/// `rq:scheduler-lock:<queue>`.
pub fn rq_scheduler_lock_key(queue: &str) -> String {
    format!("{RQ_SCHEDULER_LOCK_PREFIX}{queue}")
}

/// Prefix of a schedule set's record (`rqs apply`): a hash per set, field = job id,
/// value = the job's declaration as the set's file said it (JSON). rqs's own keys; the
/// jobs themselves are rq-scheduler's.
pub const DECLARED_SET_PREFIX: &str = "rq:rqs:schedule-set:";

/// Hash of which set owns each declared job: field = job id, value = the set's name. A
/// job outside it belongs to no set (application code scheduled it).
pub const DECLARED_OWNERS: &str = "rq:rqs:schedule-owners";

/// `rq:rqs:schedule-set:<name>`.
pub fn declared_set_key(set: &str) -> String {
    format!("{DECLARED_SET_PREFIX}{set}")
}

/// Where rqs releases before 0.2 kept the quarantine; moved to [`QUARANTINE`] once.
pub const LEGACY_QUARANTINE: &str = "rqs:quarantine";

/// `rq:scheduler_instance:<name>`.
pub fn instance_key(name: &str) -> String {
    format!("{INSTANCE_PREFIX}{name}")
}

fn join(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// `rq:job:<id>` (ids are bytes, so keys are too).
pub fn job_key(id: impl AsRef<[u8]>) -> Vec<u8> {
    join(&[JOB_PREFIX.as_bytes(), id.as_ref()])
}

/// `rq:queue:<name>`.
pub fn queue_key(queue: impl AsRef<[u8]>) -> Vec<u8> {
    join(&[QUEUE_PREFIX.as_bytes(), queue.as_ref()])
}

/// `rq:deferred:<queue>`.
pub fn deferred_key(queue: impl AsRef<[u8]>) -> Vec<u8> {
    join(&[DEFERRED_PREFIX.as_bytes(), queue.as_ref()])
}

/// `rq:job:<id>:dependents`: ids of jobs waiting for `id`.
pub fn dependents_key(id: impl AsRef<[u8]>) -> Vec<u8> {
    join(&[JOB_PREFIX.as_bytes(), id.as_ref(), b":dependents"])
}

/// `rq:job::<id>:dependencies` (RQ builds it with a double colon, in every version).
pub fn dependencies_key(id: impl AsRef<[u8]>) -> Vec<u8> {
    join(&[JOB_PREFIX.as_bytes(), b":", id.as_ref(), b":dependencies"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spellings_match_rq() {
        assert_eq!(job_key("a"), b"rq:job:a");
        assert_eq!(queue_key("default"), b"rq:queue:default");
        assert_eq!(deferred_key("q"), b"rq:deferred:q");
        assert_eq!(dependents_key("a"), b"rq:job:a:dependents");
        assert_eq!(dependencies_key("a"), b"rq:job::a:dependencies");
        assert_eq!(job_key(b"\xff"), b"rq:job:\xff");
        assert_eq!(instance_key("n"), "rq:scheduler_instance:n");
    }
}

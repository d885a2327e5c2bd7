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

/// Hash of quarantined job ids (rqs's own key; rq-scheduler has no such thing).
///
/// Field = job id, value = a JSON object `{"score":…, "reason":…, "at":…}`.
pub const QUARANTINE: &str = "rqs:quarantine";

/// `rq:scheduler_instance:<name>`.
pub fn instance_key(name: &str) -> String {
    format!("{INSTANCE_PREFIX}{name}")
}

/// `rq:job:<id>`.
pub fn job_key(id: &str) -> String {
    format!("{JOB_PREFIX}{id}")
}

/// `rq:queue:<name>`.
pub fn queue_key(queue: &str) -> String {
    format!("{QUEUE_PREFIX}{queue}")
}

/// `rq:deferred:<queue>`.
pub fn deferred_key(queue: &str) -> String {
    format!("{DEFERRED_PREFIX}{queue}")
}

/// `rq:job:<id>:dependents`: ids of jobs waiting for `id`.
pub fn dependents_key(id: &str) -> String {
    format!("{JOB_PREFIX}{id}:dependents")
}

/// `rq:job::<id>:dependencies` (RQ builds it with a double colon, in every version).
pub fn dependencies_key(id: &str) -> String {
    format!("{JOB_PREFIX}:{id}:dependencies")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_spellings_match_rq() {
        assert_eq!(job_key("a"), "rq:job:a");
        assert_eq!(queue_key("default"), "rq:queue:default");
        assert_eq!(deferred_key("q"), "rq:deferred:q");
        assert_eq!(dependents_key("a"), "rq:job:a:dependents");
        assert_eq!(dependencies_key("a"), "rq:job::a:dependencies");
        assert_eq!(instance_key("n"), "rq:scheduler_instance:n");
    }
}

//! The client's errors.

use rqs_core::JobId;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The job or its schedule is invalid; nothing was written.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// [`change_execution_time`](crate::Client::change_execution_time) on a job that is
    /// not scheduled (Python raises `ValueError('Job not in scheduled jobs queue')`).
    #[error("job {0} is not in the schedule")]
    NotScheduled(JobId),
    /// The store failed; [`rqs_store::BackendError::is_transient`] tells whether a retry may
    /// work. Writing a job is safe to repeat.
    #[error(transparent)]
    Store(rqs_store::BackendError),
}

impl From<rqs_store::BackendError> for Error {
    fn from(e: rqs_store::BackendError) -> Self {
        match e {
            rqs_store::BackendError::NotScheduled(id) => Error::NotScheduled(id),
            other => Error::Store(other),
        }
    }
}

/// What is wrong with a job or a schedule. Each message names the value at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Invalid {
    /// A function or callback path RQ's worker could not import.
    #[error("invalid function path {path:?}: {reason}")]
    FunctionPath {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A job id RQ refuses (it takes letters, digits, `_` and `-` only).
    #[error("invalid job id {id}: RQ accepts only letters, digits, underscores and dashes")]
    JobId {
        /// The id, escaped for display.
        id: String,
    },
    /// A cron string Python's `crontab` refuses.
    #[error("invalid cron string {expr:?}: {reason}")]
    Cron {
        /// The string as given.
        expr: String,
        /// The parser's explanation.
        reason: String,
    },
    /// A cron string that never matches again (a past year).
    #[error("cron string {0:?} has no future match")]
    NoFutureMatch(String),
    /// An interval shorter than one second (rq-scheduler stores whole seconds).
    #[error("the interval must be at least 1 second, got {0:?}")]
    Interval(std::time::Duration),
    /// `repeat` given without an interval (Python: "Can't repeat a job without interval
    /// argument").
    #[error("repeat={0} needs an interval")]
    RepeatWithoutInterval(i64),
    /// A time before 1970, which would never become due.
    #[error("{0} is before 1970-01-01T00:00:00Z: such a job would never be due")]
    BeforeEpoch(chrono::DateTime<chrono::Utc>),
    /// A job `ttl` that is not a positive number of seconds Redis can use.
    #[error("the job ttl must be from 1 to {max} seconds, got {0}", max = rqs_core::handoff::MAX_TTL)]
    Ttl(i64),
    /// A callback timeout that is not positive.
    #[error("a callback timeout must be at least 1 second, got {0}")]
    CallbackTimeout(i64),
    /// Arguments, keyword arguments or meta that cannot be pickled.
    #[error("{what} cannot be pickled: {source}")]
    Value {
        /// `"args"`, `"kwargs"` or `"meta"`.
        what: &'static str,
        /// Why.
        source: rqs_pickle::WriteError,
    },
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

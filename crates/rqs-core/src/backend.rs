//! The error every component backend reports: one type for the job store, the queue
//! sink, the lock provider and the lifecycle registry, so that the orchestrator (and a
//! wrapper around any of them) decides to retry, give up or report without knowing which
//! backend it talks to.

use crate::JobId;

/// A boxed error from the backend's own library.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a backend call failed.
///
/// Only [`Unavailable`](BackendError::Unavailable) and
/// [`ReadOnly`](BackendError::ReadOnly) are worth retrying
/// ([`is_transient`](BackendError::is_transient)): the orchestrator retries them on a short
/// fixed cadence however long the outage, and logs and retries any other error too (with a
/// growing backoff) when it runs as a daemon, but a burst run gives up on those.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The backend is unreachable or timed out; the same call may succeed later. A
    /// timed-out write may still have been applied: every write of the component
    /// contracts is safe to repeat.
    #[error("backend unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The server is a read-only replica (Redis `READONLY`), for instance during a
    /// failover; nothing was written.
    #[error("the server is a read-only replica, nothing was written: {0}")]
    ReadOnly(String),
    /// The server refused the call for lack of permission (Redis `NOPERM`): the message
    /// names the key or command.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// A key the call must write has a type it cannot work with (someone stored
    /// something else under an RQ key name); nothing was written.
    #[error("refused: {0}")]
    Rejected(String),
    /// The backend answered something the component cannot read.
    #[error("unexpected reply: {0}")]
    Protocol(String),
    /// The job is not in the schedule.
    #[error("job {0} is not scheduled")]
    NotScheduled(JobId),
    /// The job is not in the quarantine.
    #[error("job {0} is not quarantined")]
    NotQuarantined(JobId),
    /// Another live scheduler instance has this name.
    #[error("there is already an active rq scheduler named {0:?}")]
    AlreadyActive(String),
    /// Any other failure of the backend.
    #[error("backend error: {0}")]
    Other(#[source] BoxError),
}

impl BackendError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            BackendError::Unavailable(_) | BackendError::ReadOnly(_)
        )
    }

    /// A short, stable name of the variant, for metrics labels and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            BackendError::Unavailable(_) => "unavailable",
            BackendError::ReadOnly(_) => "read_only",
            BackendError::PermissionDenied(_) => "permission_denied",
            BackendError::Rejected(_) => "rejected",
            BackendError::Protocol(_) => "protocol",
            BackendError::NotScheduled(_) => "not_scheduled",
            BackendError::NotQuarantined(_) => "not_quarantined",
            BackendError::AlreadyActive(_) => "already_active",
            BackendError::Other(_) => "other",
        }
    }
}

/// Result of a backend call.
pub type BackendResult<T, E = BackendError> = std::result::Result<T, E>;

//! The rqs scheduler loop, generic over its four components.
//!
//! [`Scheduler`] orders the I/O; every decision about a job (is it periodic, what is its
//! next time, is it readable) is a pure function of `rqs-core`. The scheduler is generic
//! over a [`JobStore`](rqs_store::JobStore), a [`QueueSink`](rqs_sink::QueueSink), a
//! [`LockProvider`](rqs_lock::LockProvider) and a
//! [`LifecycleRegistry`](rqs_lifecycle::LifecycleRegistry), and names no backend type, so
//! each piece can be mocked or replaced. `examples/custom_lock.rs` swaps in a lock of
//! its own.
//!
//! [`memory::InMemory`] builds every component in memory over one model:
//!
//! ```
//! use rqs_core::{JobHash, JobId};
//! use rqs_orchestrator::SchedulerConfig;
//! use rqs_orchestrator::memory::InMemory;
//! use rqs_store::JobAdmin;
//!
//! # tokio_test_run(async {
//! let parts = InMemory::new();
//! let job = JobHash::from_pairs([("data", "payload"), ("origin", "default")]);
//! parts.store.schedule(&JobId::from("report"), &job, 1.0).await.unwrap();
//! let stats = parts
//!     .scheduler(SchedulerConfig::new("example").burst(true))
//!     .run(std::future::pending())
//!     .await
//!     .unwrap();
//! assert_eq!(stats.pushed, 1);
//! assert_eq!(parts.queue("default"), ["report"]);
//! # });
//! # fn tokio_test_run(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```
//!
//! Everything the scheduler does is reported to an [`Observer`] ([`Event`]s): metrics,
//! logs and status pages hang on that one seam, and this crate depends on no metrics or
//! HTTP library.

mod clock;
mod control;
pub mod memory;
mod observer;
mod scheduler;
mod stop;
#[cfg(test)]
mod tests;

pub use chrono;
pub use clock::{Clock, SystemClock, TokioClock};
pub use control::{Control, Instructions, NoControl, Pause, PauseScope};
pub use observer::{Event, NoObserver, Observer, StepDown};
pub use rqs_core::BackendError;
pub use scheduler::{Scheduler, SchedulerConfig, Stats};

/// Why the scheduler stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration cannot work.
    #[error("invalid scheduler configuration: {0}")]
    InvalidConfig(String),
    /// Another live instance has the same name.
    #[error("there is already an active rq scheduler named {0:?}")]
    AlreadyActive(String),
    /// A live scheduler that is not rqs is registered and the configuration is exclusive.
    #[error(
        "a scheduler that is not rqs is running on this Redis (instances {0:?}); stop it first (rqscheduler hands jobs over without any guard)"
    )]
    ForeignScheduler(Vec<String>),
    /// The job store failed.
    #[error("job store: {0}")]
    Store(#[source] BackendError),
    /// The lock provider failed.
    #[error("lock provider: {0}")]
    Lock(#[source] BackendError),
    /// The lifecycle registry failed.
    #[error("lifecycle registry: {0}")]
    Lifecycle(#[source] BackendError),
}

impl Error {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        self.backend().is_some_and(BackendError::is_transient)
    }

    /// The backend error, when a component failed.
    pub fn backend(&self) -> Option<&BackendError> {
        match self {
            Error::Store(e) | Error::Lock(e) | Error::Lifecycle(e) => Some(e),
            _ => None,
        }
    }

    /// Every value [`kind`](Self::kind) can take, so that metrics can list each at zero
    /// before it first happens.
    pub const KINDS: [&'static str; 11] = [
        "invalid_config",
        "already_active",
        "foreign_scheduler",
        "unavailable",
        "read_only",
        "permission_denied",
        "rejected",
        "protocol",
        "not_scheduled",
        "not_quarantined",
        "other",
    ];

    /// A short, stable name of the error, for metrics labels: the backend error's kind
    /// (`unavailable`, `permission_denied`...) or the scheduler's own.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidConfig(_) => "invalid_config",
            Error::AlreadyActive(_) => "already_active",
            Error::ForeignScheduler(_) => "foreign_scheduler",
            Error::Store(e) | Error::Lock(e) | Error::Lifecycle(e) => e.kind(),
        }
    }
}

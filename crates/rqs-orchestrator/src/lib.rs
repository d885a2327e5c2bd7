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
//! ```
//! use std::sync::{Arc, Mutex};
//! use std::time::Duration;
//! use rqs_core::memory::RqModel;
//! use rqs_lifecycle::InMemoryLifecycleRegistry;
//! use rqs_lock::InMemoryLockProvider;
//! use rqs_orchestrator::{Scheduler, SchedulerConfig};
//! use rqs_sink::InMemoryQueueSink;
//! use rqs_store::InMemoryJobStore;
//!
//! # tokio_test_run(async {
//! let model = Arc::new(Mutex::new(RqModel::new()));
//! let scheduler = Scheduler::new(
//!     InMemoryJobStore::new(model.clone()),
//!     InMemoryQueueSink::new(model.clone()),
//!     InMemoryLockProvider::new(),
//!     InMemoryLifecycleRegistry::new(),
//!     SchedulerConfig::new("example").burst(true),
//! );
//! let stats = scheduler.run(std::future::pending()).await.unwrap();
//! assert_eq!(stats.pushed, 0);
//! # });
//! # fn tokio_test_run(f: impl std::future::Future<Output = ()>) {
//! #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
//! # }
//! ```

mod clock;
mod scheduler;
mod stop;
#[cfg(test)]
mod tests;

pub use clock::{Clock, SystemClock, TokioClock};
pub use scheduler::{Scheduler, SchedulerConfig, Stats};

/// Why the scheduler stopped with an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Another live instance has the same name.
    #[error("there is already an active rq scheduler named {0:?}")]
    AlreadyActive(String),
    /// The job store failed.
    #[error(transparent)]
    Store(rqs_store::Error),
    /// The lock provider failed.
    #[error(transparent)]
    Lock(rqs_lock::Error),
    /// The lifecycle registry failed.
    #[error(transparent)]
    Lifecycle(rqs_lifecycle::Error),
}

impl Error {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::AlreadyActive(_) => false,
            Error::Store(e) => e.is_transient(),
            Error::Lock(e) => e.is_transient(),
            Error::Lifecycle(e) => e.is_transient(),
        }
    }
}

//! Domain types and pure decisions of rqs, the Rust scheduler for RQ.
//!
//! Nothing here does I/O. The crate holds:
//! - [`keys`]: the Redis key names shared with RQ and rq-scheduler;
//! - [`JobHash`] and [`ScheduledJob`]: a due job as read from the store;
//! - [`handoff`]: the data that describes a hand-off ([`Enqueue`], [`HandOff`],
//!   [`Outcome`]), which lets a store apply a whole batch atomically;
//! - [`plan`]: rq-scheduler's rules for `repeat`, `interval` and `cron_string`, and
//!   [`plan::decide`], which turns one due job into a [`HandOff`];
//! - [`memory::RqModel`]: an in-memory model of the RQ keys that the in-memory
//!   implementations of the component traits share;
//! - [`time`]: the timestamp formats RQ and rq-scheduler write.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rqs_core::{JobHash, ScheduledJob, plan::{decide, LocalZone}};
//! use rqs_core::handoff::{Action, Enqueue, EnqueueOptions};
//!
//! let job = ScheduledJob::new(
//!     "report",
//!     1_700_000_000.0,
//!     Some(JobHash::from_pairs([("data", "…"), ("origin", "default")])),
//! );
//! let now = Utc.timestamp_opt(1_700_000_005, 0).unwrap();
//! let (handoff, _notes) = decide(&job, now, &LocalZone::System, |j| {
//!     Enqueue::for_job(j, now, &EnqueueOptions::default())
//! });
//! match handoff.action {
//!     Action::Enqueue { enqueue, next, .. } => {
//!         assert_eq!(enqueue.queue, "default");
//!         assert_eq!(next, None); // a one-off job leaves the schedule
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! ```

pub mod backend;
mod error;
pub mod fast;
pub mod handoff;
mod id;
mod job;
pub mod keys;
pub mod memory;
pub mod plan;
pub mod time;

pub use backend::{BackendError, BackendResult};
pub use error::JobError;
pub use handoff::{
    Action, Enqueue, EnqueueOptions, HandOff, MetaGuard, MetaUpdate, Outcome, QuarantineKind,
};
pub use id::{Escaped, JobId, QueueName, escape, escaped};
pub use job::{HANDOFF_FIELDS, JobHash, ScheduledJob};

//! Schedule RQ jobs from Rust, exactly as rq-scheduler's Python client does.
//!
//! [`Client`] has the methods of `rq_scheduler.Scheduler`: [`enqueue_at`],
//! [`enqueue_in`], [`schedule`] (interval, repeat), [`cron`] (repeat,
//! `use_local_timezone`), [`cancel`], [`change_execution_time`], [`count`],
//! [`get_jobs`] and [`contains`] (Python's `in`). A [`Job`] names the function by its
//! dotted path and carries its arguments ([`PyValue`]s: None, bool, ints of any size,
//! float, str, bytes, list, tuple, dict; `serde_json::Value`s convert) and the per-job
//! options (`queue_name`, `job_id`, `timeout`, `result_ttl`, `ttl`, `description`,
//! `meta`, `depends_on`, `at_front`, `on_success`, `on_failure`).
//!
//! The job hash is the one rq-scheduler 0.14 writes on rq 2.x and 3.x (the two write the
//! same fields; [`RqFormat::Rq1`] writes rq-scheduler 0.13's): the same fields and
//! defaults (`result_ttl` `-1` for interval and cron jobs), `data` =
//! `zlib(pickle((func_name, None, args, kwargs)))` with the pickle byte for byte what
//! CPython writes, a pickled `meta`, and the same integer score. So Python clients see
//! these jobs as their own, both `rqscheduler` and rqs move them, and `rq worker` runs
//! them.
//!
//! The client is generic over [`rqs_store::JobAdmin`]; with the default `redis` feature,
//! [`Client::connect`] opens one over Redis. [`prepare`] checks a job and builds its hash
//! without any I/O, for callers that validate before connecting (`rqs schedule` does).
//!
//! ```no_run
//! use std::time::Duration;
//! use chrono::{TimeDelta, Utc};
//! use rqs_client::{Client, CronOptions, Job, Periodic, PyValue};
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let client = Client::connect("redis://127.0.0.1:6379/0").await?;
//!
//! // tasks.send_report(42, b'\x00\xff', to='ops') in ten minutes
//! let job = Job::new("tasks.send_report")
//!     .arg(42)
//!     .arg(PyValue::bytes(b"\x00\xff".to_vec()))
//!     .kwarg("to", "ops");
//! let id = client.enqueue_in(TimeDelta::minutes(10), &job).await?;
//!
//! // every hour, three times, on the "reports" queue
//! let hourly = Job::new("tasks.refresh").queue("reports").id("refresh");
//! client.schedule(Utc::now(), &hourly, Periodic::every(Duration::from_secs(3600)).repeat(3)).await?;
//!
//! // weekdays at 09:00 UTC
//! client.cron("0 9 * * mon-fri", &Job::new("tasks.digest"), CronOptions::new()).await?;
//!
//! assert!(client.contains(&id).await?);
//! client.cancel(&id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! [`enqueue_at`]: Client::enqueue_at
//! [`enqueue_in`]: Client::enqueue_in
//! [`schedule`]: Client::schedule
//! [`cron`]: Client::cron
//! [`cancel`]: Client::cancel
//! [`change_execution_time`]: Client::change_execution_time
//! [`count`]: Client::count
//! [`get_jobs`]: Client::get_jobs
//! [`contains`]: Client::contains

mod client;
mod error;
mod job;
mod record;

pub use client::{
    Client, ClientOptions, CronOptions, JobQuery, Periodic, Prepared, ScheduledEntry, When, prepare,
};
pub use error::{Error, Invalid, Result};
pub use job::{CALLBACK_TIMEOUT, Callback, Job};
pub use record::{RqFormat, call_string, job_data};
pub use rqs_core::JobId;
pub use rqs_pickle::{PyInt, PyValue};

// The Rust examples of docs/scheduling.md compile as doctests of `rqs-tests`
// (tests/lib.rs), which depends on every crate they use.

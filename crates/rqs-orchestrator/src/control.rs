//! The control seam: what operators tell the loop from outside (today, pauses), read once
//! a turn through one small capability installed like the observer.
//!
//! A new kind of instruction is a field of [`Instructions`], read by the
//! implementation (for Redis, `RedisControl` in `rqs-redis`) and written by one CLI
//! command: no store, sink or wrapper has to learn it.
//!
//! The loop uses the instructions to skip work (a pass while every queue is paused) and to
//! report them (one log line when a pause starts and one when it ends, [`Event::Paused`]
//! and [`Event::Resumed`]). It is not what keeps a paused queue's jobs in the schedule: a
//! store that honours pauses checks them in the same atomic step as each hand-off, so a
//! window sent before the pause landed cannot slip a job through (`RedisJobStore` does).
//!
//! [`Event::Paused`]: crate::Event::Paused
//! [`Event::Resumed`]: crate::Event::Resumed

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rqs_core::{BackendError, QueueName};

/// Where the loop reads its outside instructions.
///
/// # Contract
/// [`instructions`](Control::instructions) returns what is in force at `now`: a pause
/// whose end has passed is left out. It is called once per loop turn, on every instance
/// (active or standby), so it must be cheap. An error is logged and the last instructions
/// read stay in force.
#[async_trait]
pub trait Control: Send + Sync + std::fmt::Debug {
    /// The instructions in force at `now`.
    async fn instructions(&self, now: DateTime<Utc>) -> Result<Instructions, BackendError>;
}

/// Everything operators have asked of the schedulers.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Instructions {
    /// The pauses in force, at most one per scope.
    pub pauses: Vec<Pause>,
}

impl Instructions {
    /// Instructions with these pauses.
    pub fn with_pauses(pauses: Vec<Pause>) -> Self {
        Self { pauses }
    }

    /// Whether every queue is paused.
    pub fn all_paused(&self) -> bool {
        self.pauses.iter().any(|p| p.scope == PauseScope::All)
    }

    /// Whether `queue`'s jobs wait.
    pub fn is_paused(&self, queue: &QueueName) -> bool {
        self.pauses.iter().any(|p| match &p.scope {
            PauseScope::All => true,
            PauseScope::Queue(q) => q == queue,
        })
    }
}

/// What a pause covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PauseScope {
    /// Every queue.
    All,
    /// One queue.
    Queue(QueueName),
}

impl std::fmt::Display for PauseScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PauseScope::All => f.write_str("every queue"),
            PauseScope::Queue(q) => write!(f, "queue {}", rqs_core::Escaped(q)),
        }
    }
}

/// One pause in force.
#[derive(Debug, Clone, PartialEq)]
pub struct Pause {
    /// What it covers.
    pub scope: PauseScope,
    /// When it ends by itself (Unix seconds); `None` until a resume.
    pub until: Option<f64>,
    /// Why, as the operator wrote it.
    pub reason: String,
    /// Who paused (`user@host`).
    pub by: String,
    /// Since when (Unix seconds), when known.
    pub since: Option<f64>,
}

/// No outside instructions: nothing is ever paused.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoControl;

#[async_trait]
impl Control for NoControl {
    async fn instructions(&self, _now: DateTime<Utc>) -> Result<Instructions, BackendError> {
        Ok(Instructions::default())
    }
}

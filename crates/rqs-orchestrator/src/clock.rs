//! Wall-clock time, injectable so tests can drive it.

use chrono::{DateTime, Utc};

/// Where the scheduler reads the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Wall-clock time that advances with Tokio's clock from a fixed origin.
///
/// Under `tokio::time::pause()` it moves only when the test advances time, so the
/// scheduler's sleeps and its idea of "now" stay in step without real waiting.
#[derive(Debug, Clone, Copy)]
pub struct TokioClock {
    origin: DateTime<Utc>,
    started: tokio::time::Instant,
}

impl TokioClock {
    /// A clock that reads `origin` now.
    pub fn starting_at(origin: DateTime<Utc>) -> Self {
        Self {
            origin,
            started: tokio::time::Instant::now(),
        }
    }
}

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        let elapsed = self.started.elapsed();
        self.origin + chrono::Duration::from_std(elapsed).unwrap_or(chrono::TimeDelta::MAX)
    }
}

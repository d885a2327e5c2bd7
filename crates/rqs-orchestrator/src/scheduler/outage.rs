//! Outages: retrying on a short, jittered cadence while the backend is unavailable, with
//! one log line and one event at each end; a growing backoff for other errors.

use std::time::Duration;

use rqs_core::Escaped;
use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_sink::QueueSink;
use rqs_store::JobStore;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::Scheduler;
use crate::Error;
use crate::observer::Event;

/// A backend outage under way, and the state of the retry jitter.
#[derive(Debug)]
pub(super) struct Outage {
    pub(super) since: Option<Instant>,
    seed: u64,
}

impl Default for Outage {
    fn default() -> Self {
        // Distinct per process, so that instances restarted together do not retry in step.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self {
            since: None,
            seed: u64::from(std::process::id()) << 32 | u64::from(nanos) | 1,
        }
    }
}

impl Outage {
    /// A number in [0, 1) from a xorshift generator: jitter needs no better.
    fn jitter(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }
}

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: JobStore,
    Q: QueueSink,
    L: LockProvider,
    R: LifecycleRegistry,
{
    pub(super) fn backoff(&self, failures: u32) -> Duration {
        let base = Duration::from_millis(100);
        base.saturating_mul(1u32 << failures.min(16))
            .min(self.config.max_backoff)
    }

    /// The wait before the next try during an outage: the retry period plus up to half of
    /// it at random.
    pub(super) fn retry_wait(&self, outage: &mut Outage) -> Duration {
        let every = self.config.retry_every;
        every + every.mul_f64(outage.jitter() / 2.0)
    }

    /// Notes a transient error: the first one of an outage is logged and reported, the
    /// rest only at debug level.
    pub(super) fn unavailable(&self, outage: &mut Outage, e: &Error) {
        if outage.since.is_some() {
            debug!(error = %Escaped(e), "backend still unavailable; retrying");
            return;
        }
        outage.since = Some(Instant::now());
        self.emit(Event::BackendDown { error: e });
        warn!(
            error = %Escaped(e),
            retry_every = ?self.config.retry_every,
            "backend unavailable; retrying until it answers"
        );
    }

    /// Ends an outage, if one was under way, with one log line saying how long it was.
    pub(super) fn recovered(&self, outage: &mut Outage) {
        let Some(since) = outage.since.take() else {
            return;
        };
        let length = since.elapsed();
        self.emit(Event::BackendBack { outage: length });
        info!(outage = ?length, outage_seconds = length.as_secs_f64(), "backend answers again");
    }
}

//! The scheduler's one seam for everything that watches it: metrics, logs, a status
//! page, tests. The scheduler reports [`Event`]s to an [`Observer`]; it depends on no
//! metrics or HTTP crate itself.

use std::time::Duration;

use rqs_core::{JobId, Outcome, QuarantineKind, QueueName};

use crate::{Error, Stats};

/// Why this instance stopped acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepDown {
    /// Another instance holds the lock now (the lease was lost or expired).
    LostLock,
    /// The lease ran out before it could be renewed (a pause, a slow backend).
    LeaseExpired,
    /// A clean shutdown released the lock.
    Shutdown,
}

/// Something the scheduler did.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// The instance registered its birth.
    Born {
        /// Its name.
        name: &'a str,
    },
    /// This instance took the lock and acts from now on.
    Active {
        /// Jobs in the schedule at that moment, when the store could count them.
        scheduled: Option<u64>,
        /// The lowest score in the schedule.
        next_due: Option<f64>,
    },
    /// This instance stopped acting.
    SteppedDown {
        /// Why.
        reason: StepDown,
    },
    /// One job's hand-off was committed.
    HandedOff {
        /// The job.
        job: &'a JobId,
        /// Its queue, for a job that was enqueued (or could have been).
        queue: Option<&'a QueueName>,
        /// What happened to it.
        outcome: Outcome,
        /// The job was re-armed for a next run.
        rescheduled: bool,
        /// For a quarantined job, the kind of problem.
        quarantine: Option<QuarantineKind>,
        /// From its due time to the commit.
        lateness: Duration,
    },
    /// The loop turned (at the top of every turn, a retry after an error included): a
    /// watchdog's sign that the loop is not wedged.
    Tick,
    /// The lease was taken or renewed: this instance may act for `left` from now, and
    /// can no longer be sure of it after that unless a later renewal says so.
    LeaseRenewed {
        /// How long the lease lasts from the moment the event is sent.
        left: Duration,
    },
    /// The backend stopped answering (the first transient error after a success).
    BackendDown {
        /// The error that started the outage.
        error: &'a Error,
    },
    /// The backend answers again after an outage.
    BackendBack {
        /// How long the outage lasted, from its first error to the first success.
        outage: Duration,
    },
    /// A batch was committed.
    Batch {
        /// What it did.
        stats: &'a Stats,
        /// From the read to the end of the commit.
        duration: Duration,
    },
    /// A pause came into force (read through the [`Control`](crate::Control)).
    Paused {
        /// What it covers, who paused, why and until when.
        pause: &'a crate::Pause,
    },
    /// A pause ended (resumed, or its time ran out).
    Resumed {
        /// What it covered.
        scope: &'a crate::PauseScope,
    },
    /// A pass ended and the active instance is about to sleep.
    Idle {
        /// The lowest score in the schedule, when known.
        next_due: Option<f64>,
    },
    /// A backend call failed; the scheduler retries (or, in burst mode, may give up).
    Error {
        /// The error.
        error: &'a Error,
    },
    /// The scheduler stopped.
    Stopped {
        /// What every pass did together.
        total: &'a Stats,
    },
}

/// Receives the scheduler's [`Event`]s.
///
/// Called inline from the loop: keep it quick, and hand slow work (I/O) to a task of
/// your own.
pub trait Observer: Send + Sync + std::fmt::Debug {
    /// One event.
    fn observe(&self, event: &Event<'_>);
}

/// Ignores every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoObserver;

impl Observer for NoObserver {
    fn observe(&self, _event: &Event<'_>) {}
}

/// Both observers see every event, the first one first.
impl<A: Observer, B: Observer> Observer for (A, B) {
    fn observe(&self, event: &Event<'_>) {
        self.0.observe(event);
        self.1.observe(event);
    }
}

impl<T: Observer + ?Sized> Observer for std::sync::Arc<T> {
    fn observe(&self, event: &Event<'_>) {
        (**self).observe(event);
    }
}

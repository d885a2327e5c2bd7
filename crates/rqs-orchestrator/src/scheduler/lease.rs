//! The lease: taking, renewing and giving up the lock, never writing on a lease that may
//! be gone.

use std::time::Duration;

use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_sink::QueueSink;
use rqs_store::JobStore;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::{Scheduler, State, from_unix, log_time};
use crate::Error;
use crate::observer::{Event, StepDown};

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: JobStore,
    Q: QueueSink,
    L: LockProvider,
    R: LifecycleRegistry,
{
    /// Renews the lease; `false` when it is no longer ours.
    pub(super) async fn renew(&self, state: &mut State) -> Result<bool, Error> {
        let sent = Instant::now();
        let renewed = self
            .lock
            .renew(&state.token, self.config.lease)
            .await
            .map_err(Error::Lock)?;
        if renewed {
            self.leased(state, sent);
        }
        Ok(renewed)
    }

    pub(super) async fn step_down(&self, state: &mut State, reason: StepDown) {
        if !state.holding {
            return;
        }
        state.holding = false;
        state.leased_at = None;
        self.emit(Event::SteppedDown { reason });
        if reason == StepDown::Shutdown {
            info!("released the scheduler lock");
            return;
        }
        // What the instance leaves behind, for the one line an operator reads; a backend
        // that cannot say now does not delay the stepping down.
        let scheduled = self.store.count(None).await.ok();
        let next = self.store.next_due().await.ok().flatten();
        let next = next.map_or_else(|| "none".to_owned(), |s| log_time(from_unix(s)));
        match reason {
            StepDown::LeaseExpired => warn!(
                scheduled,
                next_due = %next,
                "the lease ran out before it could be renewed (a pause?); standing by without writing"
            ),
            _ => warn!(
                scheduled,
                next_due = %next,
                "lost the scheduler lock to another instance; standing by"
            ),
        }
    }

    /// Tries to take the lock. A lock that already carries our token is ours: the reply to
    /// an earlier, successful acquire was lost (a timeout), so take it back by renewing.
    pub(super) async fn take_lock(&self, state: &mut State) -> Result<bool, Error> {
        let sent = Instant::now();
        if self
            .lock
            .acquire(&state.token, self.config.lease)
            .await
            .map_err(Error::Lock)?
        {
            self.leased(state, sent);
            return Ok(true);
        }
        let holder = self.lock.holder().await.map_err(Error::Lock)?;
        if holder.as_deref() == Some(state.token.as_str()) {
            warn!("found the scheduler lock held under our own token; keeping it");
            return self.renew(state).await;
        }
        // A standby tries every second: say nothing each time.
        debug!(
            holder = holder.as_deref().unwrap_or("nobody (it was just released)"),
            "lock already taken - skipping run"
        );
        Ok(false)
    }

    /// Records a lease taken or renewed by a call sent at `sent`, and reports how long it
    /// lasts from now.
    fn leased(&self, state: &mut State, sent: Instant) {
        state.leased_at = Some(sent);
        self.emit(Event::LeaseRenewed {
            left: state.lease_left(self.config.lease),
        });
    }

    pub(super) async fn became_active(&self) -> Result<(), Error> {
        let scheduled = self.store.count(None).await.map_err(Error::Store)?;
        let next_due = self.store.next_due().await.map_err(Error::Store)?;
        self.emit(Event::Active {
            scheduled: Some(scheduled),
            next_due,
        });
        let next = next_due.map_or_else(|| "none".to_owned(), |s| log_time(from_unix(s)));
        info!(
            scheduled,
            next_due = %next,
            "became the active instance"
        );
        Ok(())
    }

    /// Never write on a lease that may be gone: after a pause (SIGSTOP) the backend may
    /// have given it to another instance. Renews when half of it is gone; `false` (after
    /// stepping down) when it is no longer ours.
    pub(super) async fn lease_still_ours(&self, state: &mut State) -> Result<bool, Error> {
        let lease = self.config.lease;
        if state.lease_left(lease) < lease / 2 && !self.renew(state).await? {
            self.step_down(state, lost(state, lease)).await;
            return Ok(false);
        }
        Ok(true)
    }

    /// Gives up a lease that ran out without being renewed (during an outage), without
    /// asking the backend anything: it may not answer.
    pub(super) fn lapse_if_expired(&self, state: &mut State) {
        if !state.holding || !state.lease_left(self.config.lease).is_zero() {
            return;
        }
        state.holding = false;
        state.leased_at = None;
        self.emit(Event::SteppedDown {
            reason: StepDown::LeaseExpired,
        });
        warn!("the lease ran out while the backend did not answer; standing by until it does");
    }
}

/// Why a renew failed: our lease had run out (a pause), or another instance took it.
pub(super) fn lost(state: &State, lease: Duration) -> StepDown {
    if state.lease_left(lease).is_zero() {
        StepDown::LeaseExpired
    } else {
        StepDown::LostLock
    }
}

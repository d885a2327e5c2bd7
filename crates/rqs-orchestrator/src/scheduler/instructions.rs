//! Operators' instructions, read through the control once a turn: what changed is
//! logged and reported once.

use rqs_core::Escaped;
use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_sink::QueueSink;
use rqs_store::JobStore;
use tracing::{debug, info};

use super::{Scheduler, State};
use crate::observer::Event;

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: JobStore,
    Q: QueueSink,
    L: LockProvider,
    R: LifecycleRegistry,
{
    /// Reads the control's instructions and reports what changed: one log line and one
    /// event when a pause starts or ends. A failed read keeps the last instructions.
    pub(super) async fn follow_instructions(&self, state: &mut State) {
        let read = match self.control.instructions(self.clock.now()).await {
            Ok(read) => read,
            Err(e) => {
                debug!(error = %e, "cannot read the instructions; keeping the last ones");
                return;
            }
        };
        for pause in &read.pauses {
            if !state.instructions.pauses.iter().any(|p| p == pause) {
                let until = pause.until.map_or_else(
                    || "until resumed".to_owned(),
                    |u| format!("until {}", super::from_unix(u).to_rfc3339()),
                );
                info!(
                    scope = %pause.scope,
                    reason = %Escaped(&pause.reason),
                    by = %Escaped(&pause.by),
                    until = %until,
                    "paused: due jobs of {} wait in the schedule",
                    pause.scope
                );
                self.emit(Event::Paused { pause });
            }
        }
        for old in &state.instructions.pauses {
            if !read.pauses.iter().any(|p| p.scope == old.scope) {
                info!(scope = %old.scope, "resumed: due jobs of {} move again", old.scope);
                self.emit(Event::Resumed { scope: &old.scope });
            }
        }
        state.instructions = read;
    }
}

//! `rqs_paused{queue}`: 1 while a pause of that queue (`*` for every queue) is in force,
//! as the scheduler reads it through its control, on every instance.

use metrics::{describe_gauge, gauge};
use rqs_orchestrator::{Event, Observer, PauseScope};

const PAUSED: &str = "rqs_paused";

fn label(scope: &PauseScope) -> String {
    match scope {
        PauseScope::All => rqs_core::keys::PAUSE_ALL.to_owned(),
        PauseScope::Queue(q) => rqs_core::Escaped(q).to_string(),
    }
}

/// Sets the gauge at each pause and resume the scheduler reports.
#[derive(Debug)]
pub(crate) struct PauseGauge;

impl PauseGauge {
    /// Describes the gauge and makes `rqs_paused{queue="*"}` exist at 0, so an alert on
    /// it has a series from the start. Call after the recorder is installed.
    pub(crate) fn new() -> Self {
        describe_gauge!(
            PAUSED,
            "1 while a pause of the queue (\"*\": every queue) is in force (rqs pause)"
        );
        gauge!(PAUSED, "queue" => rqs_core::keys::PAUSE_ALL).set(0.0);
        Self
    }
}

impl Observer for PauseGauge {
    fn observe(&self, event: &Event<'_>) {
        match event {
            Event::Paused { pause } => gauge!(PAUSED, "queue" => label(&pause.scope)).set(1.0),
            Event::Resumed { scope } => gauge!(PAUSED, "queue" => label(scope)).set(0.0),
            _ => {}
        }
    }
}

//! `rqs run --schedule FILE`: the daemon applies its files each time it becomes the
//! active instance, so a rolling deploy's new instance applies the new file when it takes
//! over, and a standby never writes.

use rqs_orchestrator::{Event, Observer};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

use super::file::Source;
use super::render;
use crate::commands::declare::{Applied, plan_and_apply};
use crate::connection::Connection;
use crate::exit::Failure;

/// Reads `--schedule` files as the daemon starts: every error is a usage error, and two
/// files may not fill the same set.
pub(crate) fn sources(paths: &[std::path::PathBuf]) -> Result<Vec<Source>, Failure> {
    let mut sources: Vec<Source> = Vec::new();
    for path in paths {
        let source = crate::commands::declare::source(path, None)?;
        if let Some(other) = sources.iter().find(|s| s.set == source.set) {
            return Err(Failure::Usage(format!(
                "--schedule {} and {} both fill set {:?}: give each file its own `set = \"...\"`",
                other.file.path, source.file.path, source.set
            )));
        }
        sources.push(source);
    }
    Ok(sources)
}

/// Tells the applier when this instance becomes active.
#[derive(Debug)]
pub(crate) struct OnActive(mpsc::UnboundedSender<()>);

impl Observer for OnActive {
    fn observe(&self, event: &Event<'_>) {
        if let Event::Active { .. } = event {
            // The applier ended only if the process is ending.
            let _ = self.0.send(());
        }
    }
}

/// The observer, and the task that applies `sources` on `conn` after each activation.
pub(crate) fn start(conn: Connection, sources: Vec<Source>) -> OnActive {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while rx.recv().await.is_some() {
            // Activations while one apply runs need no second one.
            while rx.try_recv().is_ok() {}
            apply_all(&conn, &sources).await;
        }
    });
    OnActive(tx)
}

/// Applies every file once, logging each plan's summary.
pub(crate) async fn apply_all(conn: &Connection, sources: &[Source]) {
    for source in sources {
        let (file, set) = (&source.file.path, &source.set);
        match plan_and_apply(conn, source, false, true).await {
            Ok(Applied::Done(plan)) => {
                info!(set = %set, file = %file, "applied the schedule file: {}", render::summary_line(&plan));
            }
            Ok(Applied::Conflicts(plan)) => {
                let ids: Vec<&str> = plan.conflicts.iter().map(|c| c.id.as_str()).collect();
                error!(
                    set = %set,
                    file = %file,
                    "did not apply the schedule file: {} declared job(s) are scheduled outside the set ({}); `rqs apply --adopt` takes them over",
                    ids.len(),
                    ids.join(", ")
                );
            }
            Err(e) => {
                warn!(set = %set, file = %file, "could not apply the schedule file (again at the next activation): {e}")
            }
        }
    }
}

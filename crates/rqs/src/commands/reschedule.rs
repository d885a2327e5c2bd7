//! `rqs reschedule ID TIME`: moves a scheduled job to another time.

use clap::Args;
use rqs_core::{BackendError, JobId};
use rqs_redis::RedisJobStore;
use rqs_store::JobAdmin;
use serde::Serialize;

use crate::cli::ConnectionArgs;
use crate::commands::cancel::not_scheduled;
use crate::exit::Failure;
use crate::inspect::Stamp;
use crate::output;

/// `rqs reschedule` flags.
#[derive(Debug, Args, Clone, PartialEq)]
pub(crate) struct RescheduleArgs {
    /// The job id, as `rqs list` prints it (\xff, \u{0} and \\ stand for the bytes they
    /// name)
    #[arg(value_parser = output::parse_id)]
    pub(crate) id: JobId,

    /// The new due time: RFC 3339 (2026-12-04T10:00:00Z), Unix seconds, now, or +30s,
    /// +5m, +2h, +1d from now
    #[arg(value_parser = output::parse_time, allow_hyphen_values = true)]
    pub(crate) time: f64,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Serialize)]
struct Rescheduled {
    id: String,
    was_due: Option<Stamp>,
    due: Stamp,
}

pub(crate) async fn run(args: &RescheduleArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let store = RedisJobStore::new(connection.connect().await?);
    let id = args.id.clone();
    let shown = output::text(id.as_bytes());
    let was_due = store.score(&id).await?.map(Stamp);
    match store.change_execution_time(&id, args.time).await {
        Ok(()) => {}
        Err(BackendError::NotScheduled(_)) => return Err(not_scheduled(&shown)),
        Err(e) => return Err(e.into()),
    }
    if args.json {
        return output::print_json(&Rescheduled {
            id: shown,
            was_due,
            due: Stamp(args.time),
        });
    }
    let before = was_due.map_or_else(String::new, |s| format!(" (was {})", output::rfc3339(s.0)));
    output::print(&format!(
        "{shown} is now due at {}{before}\n",
        output::rfc3339(args.time)
    ))
}

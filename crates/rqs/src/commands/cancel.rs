//! `rqs cancel ID`: removes a job from the schedule, as rq-scheduler's `cancel` does (the
//! job hash stays).

use clap::Args;
use rqs_core::JobId;
use rqs_redis::RedisJobStore;
use rqs_store::JobAdmin;
use serde::Serialize;

use crate::cli::ConnectionArgs;
use crate::exit::Failure;
use crate::inspect::Stamp;
use crate::output;

/// `rqs cancel` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct CancelArgs {
    /// The job id, as `rqs list` prints it (\xff, \u{0} and \\ stand for the bytes they
    /// name)
    #[arg(value_parser = output::parse_id)]
    pub(crate) id: JobId,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Serialize)]
struct Cancelled {
    id: String,
    cancelled: bool,
    /// When it was due.
    was_due: Stamp,
}

pub(crate) async fn run(args: &CancelArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let store = RedisJobStore::new(connection.connect().await?);
    let id = args.id.clone();
    let shown = output::text(id.as_bytes());
    // The score is read first only to report it; the removal itself decides.
    let score = store.score(&id).await?;
    if !store.cancel(&id).await? {
        return Err(not_scheduled(&shown));
    }
    let was_due = Stamp(score.unwrap_or(f64::NAN));
    if args.json {
        return output::print_json(&Cancelled {
            id: shown,
            cancelled: true,
            was_due,
        });
    }
    output::print(&format!(
        "cancelled {shown} (it was due at {}); its hash rq:job:{shown} is kept\n",
        output::rfc3339(was_due.0)
    ))
}

/// The error of a command given an id that is not in the schedule.
pub(crate) fn not_scheduled(id: &str) -> Failure {
    Failure::Runtime(anyhow::anyhow!(
        "job {id} is not scheduled (see `rqs list`, or `rqs quarantine list`)"
    ))
}

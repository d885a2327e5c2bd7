//! `rqs run-now ID`: hands a scheduled job over at once, through the store's guarded
//! commit, so it is atomic with the daemon: if the daemon hands the job over in the same
//! instant, one of the two finds its score changed and does nothing.
//!
//! A one-off job leaves the schedule. A periodic job runs once more now and keeps its next
//! run and its repeat count, as Temporal's "trigger" does: the extra run is not one of
//! its scheduled runs.

use clap::Args;
use rqs_core::plan::{Recurrence, ScheduleMeta};
use rqs_core::{Action, HandOff, JobId, Outcome, ScheduledJob};
use rqs_redis::RedisJobStore;
use rqs_sink::{QueueSink, RqQueueSink};
use rqs_store::{JobAdmin, JobStore};
use serde::Serialize;

use crate::cli::ConnectionArgs;
use crate::commands::cancel::not_scheduled;
use crate::exit::Failure;
use crate::output;

/// How often a hand-off whose score moved under it (the daemon, a client) is tried again.
const ATTEMPTS: usize = 3;

/// `rqs run-now` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct RunNowArgs {
    /// The job id, as `rqs list` prints it (\xff, \u{0} and \\ stand for the bytes they
    /// name)
    #[arg(value_parser = output::parse_id)]
    pub(crate) id: JobId,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Serialize)]
struct RanNow {
    id: String,
    queue: String,
    outcome: &'static str,
    /// The next scheduled run, kept, for a periodic job.
    next_run: Option<f64>,
}

fn fail(message: String) -> Failure {
    Failure::Runtime(anyhow::anyhow!(message))
}

pub(crate) async fn run(args: &RunNowArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let store = RedisJobStore::new(connection.connect().await?);
    let id = args.id.clone();
    let shown = output::text(id.as_bytes());
    for _ in 0..ATTEMPTS {
        let Some(score) = store.score(&id).await? else {
            return Err(not_scheduled(&shown));
        };
        let hash = store.job(&id).await?;
        let job = ScheduledJob::new(id.clone(), score, hash.map(|h| h.projection()));
        let Some(hash) = job.hash.as_ref() else {
            return Err(fail(format!(
                "job {shown} is scheduled but its hash rq:job:{shown} is gone; nothing to run"
            )));
        };
        let schedule = ScheduleMeta::read(hash.meta())
            .map_err(|e| fail(format!("job {shown}: {e}; see `rqs show {shown}`")))?;
        let periodic = !matches!(schedule.recurrence, Recurrence::Once);
        let enqueue = RqQueueSink::new()
            .prepare(&job, chrono::Utc::now())
            .map_err(|e| fail(format!("job {shown} cannot be enqueued: {e}")))?;
        let queue = output::text(enqueue.queue.as_bytes());
        let handoff = HandOff {
            job_id: id.clone(),
            read_score: score,
            action: Action::Enqueue {
                enqueue: Box::new(enqueue),
                meta: None,
                // A periodic job stays at its score: its next run does not move.
                next: periodic.then_some(score),
            },
        };
        let outcome = store.commit(&[handoff]).await?[0];
        let done = |outcome: &'static str| RanNow {
            id: shown.clone(),
            queue: queue.clone(),
            outcome,
            next_run: periodic.then_some(score),
        };
        let ran = match outcome {
            Outcome::Pushed => done("pushed"),
            Outcome::Deferred => done("deferred"),
            // The daemon (or a client) moved it meanwhile: read it again.
            Outcome::Stale | Outcome::MetaChanged => continue,
            Outcome::Paused => {
                return Err(fail(format!(
                    "queue {queue} is paused, so job {shown} waits (`rqs resume --queue {queue}` or `rqs resume`)"
                )));
            }
            Outcome::Vanished => {
                return Err(fail(format!(
                    "job {shown}'s hash vanished; it left the schedule without running"
                )));
            }
            other => {
                return Err(fail(format!(
                    "job {shown} was not handed over ({}); see `rqs show {shown}`",
                    other.as_str()
                )));
            }
        };
        if args.json {
            return output::print_json(&ran);
        }
        let mut text = format!("{} {shown} on queue {queue} now", ran.outcome);
        match ran.next_run {
            Some(next) => text.push_str(&format!(
                "; its next scheduled run stays at {}\n",
                output::rfc3339(next)
            )),
            None => text.push_str("; it left the schedule\n"),
        }
        return output::print(&text);
    }
    Err(fail(format!(
        "job {shown} kept changing under rqs run-now (the daemon or a client moves it); \
         see `rqs show {shown}`"
    )))
}

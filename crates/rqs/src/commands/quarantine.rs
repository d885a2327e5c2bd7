//! `rqs quarantine list` and `rqs quarantine release ID [--at T] [--force]`.

use clap::{Args, Subcommand};
use rqs_core::{BackendError, JobId};
use rqs_store::JobAdmin;
use serde::Serialize;

use crate::cli::ConnectionArgs;
use crate::commands::check;
use crate::exit::Failure;
use crate::inspect::{Inspector, QuarantineEntry, Stamp};
use crate::output::{self, Table};

/// `rqs quarantine` subcommands.
#[derive(Debug, Args, Clone, PartialEq)]
pub(crate) struct QuarantineArgs {
    #[command(subcommand)]
    pub(crate) action: Action,
}

/// What to do with the quarantine.
#[derive(Debug, Subcommand, Clone, PartialEq)]
pub(crate) enum Action {
    /// The quarantined jobs with the reason of each
    List {
        /// Print JSON instead of a table
        #[arg(long)]
        json: bool,
    },
    /// Put a job back in the schedule (after fixing it) and drop its quarantine record
    Release {
        /// The job id, as `rqs quarantine list` prints it (\xff, \u{0} and \\ stand
        /// for the bytes they name)
        #[arg(value_parser = output::parse_id)]
        id: JobId,

        /// Schedule it at T (RFC 3339, Unix seconds, now, or +30s, +5m, +2h, +1d from
        /// now) instead of its old due time
        #[arg(
            long,
            value_name = "T",
            value_parser = output::parse_time,
            allow_hyphen_values = true
        )]
        at: Option<f64>,

        /// Release it even though `rqs check` finds it would be quarantined again
        #[arg(long)]
        force: bool,

        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Serialize)]
struct Released {
    id: String,
    due: Stamp,
    /// Why the job is likely back in the quarantine soon (a `--force` release).
    warning: Option<String>,
}

pub(crate) async fn run(args: &QuarantineArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let conn = connection.connect().await?;
    match &args.action {
        Action::List { json } => {
            let entries = Inspector::new(conn).quarantine().await?;
            if *json {
                return output::print_json(&entries);
            }
            if entries.is_empty() {
                return output::print("The quarantine is empty.\n");
            }
            output::print(&table(&entries).to_string())
        }
        Action::Release {
            id,
            at,
            force,
            json,
        } => {
            let job = id.clone();
            let shown = output::text(job.as_bytes());
            let not_quarantined = || {
                Failure::Runtime(anyhow::anyhow!(
                    "job {shown} is not quarantined (see `rqs quarantine list`)"
                ))
            };
            let store = rqs_redis::RedisJobStore::new(conn.clone());
            let Some(record) = store
                .quarantined()
                .await?
                .into_iter()
                .find(|q| q.job_id == job)
            else {
                return Err(not_quarantined());
            };
            // Judged at the score it gets back: a daemon hands it over from then on. The
            // record's own score is checked here, not left to Redis: 1e300 would be
            // scheduled for ever, a NaN refused with a raw script error.
            let score = match at {
                Some(at) => *at,
                None if output::in_range(record.score) => record.score,
                None => {
                    let kept = if record.score.is_nan() {
                        "no readable due time".to_owned()
                    } else {
                        format!(
                            "the due time {}, which is out of range (1970 to 9999)",
                            output::rfc3339(record.score)
                        )
                    };
                    return Err(Failure::Runtime(anyhow::anyhow!(
                        "job {shown} was not released: its quarantine record keeps {kept}; give \
                         the time to schedule it at with --at T"
                    )));
                }
            };
            let warning = match check::would_quarantine(conn, &job, score).await? {
                Some(f) if !*force => {
                    return Err(Failure::Runtime(anyhow::anyhow!(
                        "job {shown} would be quarantined again ({}): {}; fix it first (see `rqs check`), or release it anyway with --force",
                        f.kind,
                        output::text(f.reason.as_bytes())
                    )));
                }
                Some(f) => {
                    let warning = format!(
                        "{shown} is released but will likely be quarantined again at its next hand-off ({}): {}",
                        f.kind,
                        output::text(f.reason.as_bytes())
                    );
                    tracing::warn!("{warning}");
                    Some(warning)
                }
                None => None,
            };
            let due = match store.release(&job, Some(score)).await {
                Ok(score) => score,
                Err(BackendError::NotQuarantined(_)) => return Err(not_quarantined()),
                Err(e) => return Err(e.into()),
            };
            if *json {
                return output::print_json(&Released {
                    id: shown,
                    due: Stamp(due),
                    warning,
                });
            }
            output::print(&format!(
                "released {shown}: back in the schedule, due at {}\n",
                output::when(due, output::now())
            ))
        }
    }
}

/// The table `quarantine list` prints.
pub(crate) fn table(entries: &[QuarantineEntry]) -> Table {
    let mut t = Table::new(&["ID", "SINCE", "KIND", "WAS DUE", "REASON"]);
    for q in entries {
        t.row(vec![
            q.id.clone(),
            output::rfc3339(q.since.0),
            q.kind.clone().unwrap_or_else(|| "-".into()),
            q.score.map_or_else(|| "-".into(), |s| output::rfc3339(s.0)),
            output::text(q.reason.as_bytes()),
        ]);
    }
    t
}

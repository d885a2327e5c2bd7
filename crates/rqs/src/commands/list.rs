//! `rqs list`: scheduled jobs in due order.

use clap::Args;

use crate::cli::ConnectionArgs;
use crate::exit::Failure;
use crate::inspect::{Filter, Inspector, JobSummary};
use crate::jobinfo::runs_label;
use crate::output::{self, Table};

/// `rqs list` flags.
#[derive(Debug, Args, Clone, PartialEq)]
pub(crate) struct ListArgs {
    /// Only jobs due at or before T (RFC 3339, or Unix seconds)
    #[arg(long, value_name = "T", value_parser = output::parse_time)]
    pub(crate) until: Option<f64>,

    /// Only jobs of queue Q
    #[arg(long, value_name = "Q")]
    pub(crate) queue: Option<String>,

    /// At most N jobs
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) limit: usize,

    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) async fn run(args: &ListArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let inspector = Inspector::new(connection.connect().await?);
    let jobs = inspector
        .jobs(&Filter {
            until: args.until,
            queue: args.queue.clone(),
            limit: args.limit,
        })
        .await?;
    if args.json {
        return output::print_json(&jobs);
    }
    if jobs.is_empty() {
        return output::print("No scheduled job matches.\n");
    }
    output::print(&table(&jobs, output::now()).to_string())
}

/// The table `rqs list` prints.
pub(crate) fn table(jobs: &[JobSummary], now: f64) -> Table {
    let mut t = Table::new(&[
        "NEXT RUN",
        "ID",
        "QUEUE",
        "FUNCTION",
        "KIND",
        "REPEATS LEFT",
    ]);
    for j in jobs {
        t.row(vec![
            output::when(j.due.0, now),
            j.id.clone(),
            j.queue.clone().unwrap_or_else(|| "-".into()),
            j.function.clone().unwrap_or_else(|| "-".into()),
            j.kind_label(),
            if j.missing {
                "-".into()
            } else {
                runs_label(j.repeats_left)
            },
        ]);
    }
    t
}

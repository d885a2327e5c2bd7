//! `rqs list`: scheduled jobs in due order.

use clap::Args;
use futures_util::{StreamExt, TryStreamExt};
use rqs_redis::RedisJobStore;
use rqs_store::{JobAdmin, Page};

use crate::cli::ConnectionArgs;
use crate::commands::show::{JobRead, Limits, read_job};
use crate::connection::Connection;
use crate::exit::Failure;
use crate::inspect::JobSummary;
use crate::jobinfo::runs_label;
use crate::output::{self, Table};

/// Job hashes read at once (they share one multiplexed connection); each is bounded by
/// [`Limits::LIST`], so this bounds the memory too.
const CONCURRENT_READS: usize = 16;

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
    let jobs = jobs(&connection.connect().await?, args).await?;
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

/// Scheduled jobs in due order, filtered, each hash read within [`Limits::LIST`]: a
/// hostile hash (a 100 MB meta) is reported, not read.
async fn jobs(conn: &Connection, args: &ListArgs) -> Result<Vec<JobSummary>, Failure> {
    let store = RedisJobStore::new(conn.clone());
    let mut out = Vec::new();
    let length = args.limit.clamp(100, 1_000);
    let mut offset = 0;
    while out.len() < args.limit {
        let page = store
            .list(args.until, Some(Page { offset, length }))
            .await?;
        let reads: Vec<Option<JobRead>> = futures_util::stream::iter(&page)
            .map(|(id, _)| read_job(conn, id, Limits::LIST))
            .buffered(CONCURRENT_READS)
            .try_collect()
            .await?;
        for ((id, score), read) in page.iter().zip(&reads) {
            let wanted = args.queue.as_deref().is_none_or(|q| {
                read.as_ref().and_then(|r| r.hash.get("origin")) == Some(q.as_bytes())
            });
            if wanted && out.len() < args.limit {
                out.push(match read {
                    Some(read) => read.summary(id, *score),
                    None => JobSummary::new(id, *score, None),
                });
            }
        }
        if page.len() < length {
            break;
        }
        offset += length;
    }
    Ok(out)
}

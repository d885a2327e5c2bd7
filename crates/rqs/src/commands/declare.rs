//! `rqs plan FILE`, `rqs apply FILE` and `rqs export`: schedules as code
//! (docs/schedules.md).

use std::path::PathBuf;

use chrono::Utc;
use clap::Args;
use rqs_core::JobHash;
use rqs_redis::{ApplyError, RedisDeclared};
use tracing::debug;

use crate::cli::ConnectionArgs;
use crate::connection::Connection;
use crate::declare::diff::{self, Plan};
use crate::declare::file::{self, Source};
use crate::declare::{export, render};
use crate::exit::Failure;
use crate::output;

/// `rqs plan` and `rqs apply` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct DeclareArgs {
    /// The schedule file (TOML: a [defaults] table and one [[job]] table per job)
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// The set the file's jobs belong to (default: the file's `set`, else "default")
    #[arg(long, value_name = "NAME")]
    pub(crate) set: Option<String>,

    /// Take over declared ids that application code or another set scheduled
    #[arg(long)]
    pub(crate) adopt: bool,

    /// Print one JSON object instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

/// `rqs export` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct ExportArgs {
    /// The set to write (default: "default")
    #[arg(long, value_name = "NAME", conflicts_with = "all")]
    pub(crate) set: Option<String>,

    /// Every scheduled job, whichever set (or none) it belongs to
    #[arg(long)]
    pub(crate) all: bool,

    /// Write the file here instead of to stdout
    #[arg(short, long, value_name = "FILE")]
    pub(crate) output: Option<PathBuf>,
}

/// How many times `apply` plans again when a job changed under it.
const ATTEMPTS: usize = 5;

/// What one apply did, or why it did nothing.
pub(crate) enum Applied {
    /// Written (or nothing to write).
    Done(Plan),
    /// Declared ids taken outside the set: nothing written.
    Conflicts(Plan),
}

/// Plans `source` against Redis and, with `write`, applies it; plans again when a job
/// changed between the two.
pub(crate) async fn plan_and_apply(
    conn: &Connection,
    source: &Source,
    adopt: bool,
    write: bool,
) -> Result<Applied, Failure> {
    let sets = RedisDeclared::new(conn.clone());
    let ids: Vec<String> = source.file.jobs.iter().map(|j| j.id.clone()).collect();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let state = sets.state(&source.set, &ids).await?;
        let plan = diff::plan(&source.file, &source.set, &state, Utc::now(), adopt)
            .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
        if !plan.conflicts.is_empty() {
            return Ok(Applied::Conflicts(plan));
        }
        if !write {
            return Ok(Applied::Done(plan));
        }
        match sets.apply(&source.set, &plan.ops).await {
            Ok(_) => return Ok(Applied::Done(plan)),
            Err(ApplyError::Changed { id, what }) if attempt < ATTEMPTS => {
                debug!(job_id = %id, "{what} changed since the plan; planning again");
            }
            Err(e) => return Err(Failure::Runtime(e.into())),
        }
    }
}

/// Reads and checks a file for `set` (`--set`): usage errors name the line.
pub(crate) fn source(path: &std::path::Path, set: Option<&str>) -> Result<Source, Failure> {
    let file = file::read(path, Utc::now()).map_err(|e| Failure::Usage(e.to_string()))?;
    let set = file::set_of(&file, set).map_err(Failure::Usage)?;
    Ok(Source { file, set })
}

/// `rqs plan` (`write` false) and `rqs apply` (`write` true).
pub(crate) async fn run(
    args: &DeclareArgs,
    connection: &ConnectionArgs,
    write: bool,
) -> Result<(), Failure> {
    let source = source(&args.file, args.set.as_deref())?;
    let conn = connection.connect().await?;
    let applied = plan_and_apply(&conn, &source, args.adopt, write).await?;
    let (plan, conflicted) = match applied {
        Applied::Done(plan) => (plan, false),
        Applied::Conflicts(plan) => (plan, true),
    };
    let name = &source.file.path;
    let done = write && !conflicted;
    if args.json {
        output::print_json(&render::json(&plan, name, done))?;
    } else {
        let tense = if done {
            render::Tense::Applied
        } else {
            render::Tense::Plan
        };
        output::print(&render::text(&plan, name, tense))?;
    }
    if conflicted {
        return Err(Failure::Conflict(format!(
            "{} declared job(s) are scheduled outside set {:?} (see the lines starting with !); \
             nothing was written; --adopt takes them over",
            plan.conflicts.len(),
            plan.set
        )));
    }
    if !write && plan.has_changes() {
        return Err(Failure::Verdict(crate::exit::EXIT_CHANGES));
    }
    Ok(())
}

/// `rqs export`.
pub(crate) async fn export(args: &ExportArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let set = args
        .set
        .clone()
        .unwrap_or_else(|| file::DEFAULT_SET.to_owned());
    file::check_set_name(&set).map_err(Failure::Usage)?;
    let conn = connection.connect().await?;
    let mut c = conn.clone();
    let mut jobs = Vec::new();
    let mut skipped = Vec::new();
    if args.all {
        let rows: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
            .arg(rqs_core::keys::SCHEDULED_JOBS)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut c)
            .await?;
        for chunk in rows.chunks(1_000) {
            let mut pipe = redis::pipe();
            for (id, _) in chunk {
                pipe.hgetall(rqs_core::keys::job_key(id));
            }
            let hashes: Vec<Vec<(String, Vec<u8>)>> = pipe.query_async(&mut c).await?;
            for ((id, score), fields) in chunk.iter().zip(hashes) {
                let Ok(id) = String::from_utf8(id.clone()) else {
                    skipped.push((output::text(id), "its id is not UTF-8".to_owned()));
                    continue;
                };
                if fields.is_empty() {
                    skipped.push((id, "its hash is missing".to_owned()));
                    continue;
                }
                match export::from_hash(&JobHash::from_pairs(fields), *score) {
                    Ok(decl) => jobs.push((id, decl)),
                    Err(why) => skipped.push((id, why)),
                }
            }
        }
    } else {
        let state = RedisDeclared::new(conn.clone()).state(&set, &[]).await?;
        let mut recorded: Vec<_> = state.recorded.into_iter().collect();
        recorded.sort();
        for (id, text) in recorded {
            match crate::declare::Declaration::from_record(&text) {
                Some(decl) => jobs.push((id, decl)),
                None => skipped.push((id, "its record was written by another rqs version".into())),
            }
        }
    }
    let header = if args.all {
        format!(
            "Every scheduled job, exported by rqs {} at {}.\nApply it with: rqs apply --adopt FILE",
            env!("CARGO_PKG_VERSION"),
            output::rfc3339(output::now())
        )
    } else {
        format!(
            "Set {set:?}, exported by rqs {} at {}.",
            env!("CARGO_PKG_VERSION"),
            output::rfc3339(output::now())
        )
    };
    let set_line = (!args.all && set != file::DEFAULT_SET).then_some(set.as_str());
    let text = export::to_toml(&header, set_line, &jobs, &skipped);
    match &args.output {
        None => output::print(&text),
        Some(path) => {
            std::fs::write(path, text).map_err(|e| {
                Failure::Runtime(anyhow::anyhow!("cannot write {}: {e}", path.display()))
            })?;
            output::print(&format!(
                "wrote {} job(s) to {}{}\n",
                jobs.len(),
                path.display(),
                if skipped.is_empty() {
                    String::new()
                } else {
                    format!(" ({} left out: see the comments at its end)", skipped.len())
                }
            ))
        }
    }
}

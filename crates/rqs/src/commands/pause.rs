//! `rqs pause` and `rqs resume`: hold due jobs in the schedule, for every queue or some,
//! for a while or until resumed. The state lives in Redis (`rq:rqs:paused`), so every rqs
//! instance, active or standby, and every hand-off script honours it; a Python
//! `rqscheduler` does not know of it.

use clap::Args;
use rqs_core::QueueName;
use rqs_orchestrator::{Control, PauseScope};
use rqs_redis::RedisControl;
use serde::Serialize;

use crate::cli::ConnectionArgs;
use crate::exit::Failure;
use crate::output;

/// `rqs pause` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct PauseArgs {
    /// Pause only queue Q (repeatable); without it, every queue
    #[arg(long = "queue", value_name = "Q")]
    pub(crate) queues: Vec<String>,

    /// End the pause by itself after this long (90s, 5m, 2h, 1d); without it, until
    /// `rqs resume`
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_for)]
    pub(crate) for_: Option<i64>,

    /// Why, shown in the log, `rqs status`, the status page and metrics' log line
    #[arg(long, value_name = "TEXT", default_value = "")]
    pub(crate) reason: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

/// `rqs resume` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct ResumeArgs {
    /// Resume only queue Q (repeatable); without it, the pause of every queue
    #[arg(long = "queue", value_name = "Q")]
    pub(crate) queues: Vec<String>,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

fn parse_for(text: &str) -> Result<i64, String> {
    let seconds = crate::commands::schedule::parse_duration(text)
        .map_err(|_| format!("--for {text:?} is not a duration like 90s, 5m, 2h or 1d"))?
        .num_seconds();
    if seconds <= 0 {
        return Err(format!("--for {text:?} must be longer than zero"));
    }
    Ok(seconds)
}

fn scopes(queues: &[String]) -> Vec<PauseScope> {
    if queues.is_empty() {
        return vec![PauseScope::All];
    }
    queues
        .iter()
        .map(|q| PauseScope::Queue(QueueName::new(q.as_bytes().to_vec())))
        .collect()
}

/// Who is pausing: `user@host`, for the notes.
fn operator() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    if host.is_empty() {
        user
    } else {
        format!("{user}@{host}")
    }
}

#[derive(Debug, Serialize)]
struct Paused {
    scope: String,
    until: Option<f64>,
    reason: String,
    by: String,
}

pub(crate) async fn pause(args: &PauseArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let control = RedisControl::new(connection.connect().await?);
    let now = chrono::Utc::now();
    let until = args
        .for_
        .map(|s| rqs_core::time::unix_seconds(now) + s as f64);
    let by = operator();
    let mut done = Vec::new();
    for scope in scopes(&args.queues) {
        control.pause(&scope, until, &args.reason, &by, now).await?;
        done.push(Paused {
            scope: scope.to_string(),
            until,
            reason: args.reason.clone(),
            by: by.clone(),
        });
    }
    if args.json {
        return output::print_json(&done);
    }
    let mut text = String::new();
    for p in &done {
        let until = p.until.map_or_else(
            || "until `rqs resume`".to_owned(),
            |u| format!("until {}", output::rfc3339(u)),
        );
        text.push_str(&format!("paused {} {until}", p.scope));
        if !p.reason.is_empty() {
            text.push_str(&format!(" ({})", p.reason));
        }
        text.push('\n');
    }
    text.push_str(
        "due jobs wait in the schedule and go out in due order on resume; \
         a Python rqscheduler, if one runs, does not know of the pause\n",
    );
    output::print(&text)
}

#[derive(Debug, Serialize)]
struct Resumed {
    scope: String,
    was_paused: bool,
}

pub(crate) async fn resume(args: &ResumeArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let control = RedisControl::new(connection.connect().await?);
    let now = chrono::Utc::now();
    let mut done = Vec::new();
    for scope in scopes(&args.queues) {
        let was_paused = control.resume(&scope, now).await?;
        done.push(Resumed {
            scope: scope.to_string(),
            was_paused,
        });
    }
    if args.json {
        return output::print_json(&done);
    }
    let mut text = String::new();
    for r in &done {
        if r.was_paused {
            text.push_str(&format!("resumed {}\n", r.scope));
        } else {
            text.push_str(&format!("{} was not paused\n", r.scope));
        }
    }
    // A pause of every queue outlives a resume of one queue: say so.
    if !args.queues.is_empty() && control.instructions(now).await?.all_paused() {
        text.push_str("every queue is still paused (`rqs resume` without --queue ends that)\n");
    }
    output::print(&text)
}

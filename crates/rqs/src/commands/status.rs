//! `rqs status`: is a scheduler alive, which one acts, how big is the schedule, what is
//! due next.

use clap::Args;
use rqs_orchestrator::{Control, Pause, PauseScope};
use rqs_redis::{RedisControl, RegistryView, RqRegistries};

use crate::cli::ConnectionArgs;
use crate::exit::Failure;
use crate::inspect::{Discovery, Inspector, Overview};
use crate::output::{self, Table};

/// `rqs status` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct StatusArgs {
    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) async fn run(args: &StatusArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let conn = connection.connect().await?;
    let inspector = Inspector::new(conn.clone());
    let overview = inspector.overview(Discovery::IndexOrWalk).await?;
    let pauses = RedisControl::new(conn.clone())
        .instructions(chrono::Utc::now())
        .await?
        .pauses;
    // RQ's own registries (served with --rq-scheduled), found through `rq:queues`.
    let registries = RqRegistries::new(conn, "status");
    let queues = registries.known_queues().await?;
    let views = registries.views(&queues, overview.generated.0).await?;
    if args.json {
        let mut value = serde_json::to_value(&overview).map_err(anyhow::Error::from)?;
        value["pauses"] = pauses.iter().map(pause_json).collect();
        value["rq_registries"] = views.iter().map(view_json).collect();
        output::print_json(&value)
    } else {
        let mut text = render_pauses(&pauses, overview.generated.0);
        text.push_str(&render(&overview));
        text.push_str(&render_registries(&views, overview.generated.0));
        output::print(&text)
    }
}

fn view_json(v: &RegistryView) -> serde_json::Value {
    serde_json::json!({
        "queue": v.queue,
        "registry": rqs_core::keys::rq_scheduled_key(&v.queue),
        "scheduled": v.scheduled,
        "due": v.due,
        "next_due": v.next_due,
        "lock": v.lock,
    })
}

/// RQ's own scheduled jobs, a row per registry that holds any (none: nothing printed).
fn render_registries(views: &[RegistryView], now: f64) -> String {
    if views.is_empty() {
        return String::new();
    }
    let mut t = Table::new(&["RQ REGISTRY", "SCHEDULED", "DUE", "NEXT DUE", "MOVED BY"]);
    for v in views {
        t.row(vec![
            rqs_core::keys::rq_scheduled_key(&v.queue),
            v.scheduled.to_string(),
            v.due.to_string(),
            v.next_due
                .map_or_else(|| "-".to_owned(), |s| output::when(s, now)),
            match v.lock.as_deref() {
                Some(token) => match token.strip_prefix(rqs_redis::RQS_TOKEN_PREFIX) {
                    Some(name) => format!("rqs {name}"),
                    None => format!("RQ scheduler {token}"),
                },
                None => "nobody (no lock)".to_owned(),
            },
        ]);
    }
    format!("\n{t}")
}

fn pause_json(p: &Pause) -> serde_json::Value {
    serde_json::json!({
        "queue": match &p.scope {
            PauseScope::All => rqs_core::keys::PAUSE_ALL.to_owned(),
            PauseScope::Queue(q) => output::text(q.as_bytes()),
        },
        "until": p.until,
        "reason": p.reason,
        "by": p.by,
        "since": p.since,
    })
}

/// One line per pause in force, first, since it explains everything below it.
fn render_pauses(pauses: &[Pause], now: f64) -> String {
    let mut out = String::new();
    for p in pauses {
        let until = p.until.map_or_else(
            || "until `rqs resume`".to_owned(),
            |u| format!("until {}", output::when(u, now)),
        );
        out.push_str(&format!("PAUSED: {} {until}", p.scope));
        if let Some(since) = p.since {
            out.push_str(&format!(", since {}", output::when(since, now)));
        }
        if !p.by.is_empty() {
            out.push_str(&format!(", by {}", rqs_core::Escaped(&p.by)));
        }
        if !p.reason.is_empty() {
            out.push_str(&format!(": {}", rqs_core::Escaped(&p.reason)));
        }
        out.push('\n');
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The human-readable status.
pub(crate) fn render(o: &Overview) -> String {
    let now = o.generated.0;
    let next = o
        .next_due
        .map_or_else(|| "none".to_owned(), |s| output::when(s.0, now));
    let unreadable = |key: &str| format!("unreadable (see {key} below)");
    let lock = match &o.lock {
        _ if o.problem(rqs_core::keys::SCHEDULER_LOCK).is_some() => {
            unreadable(rqs_core::keys::SCHEDULER_LOCK)
        }
        Some(l) => l.label(),
        None => "nobody".to_owned(),
    };
    let quarantined = o
        .quarantined
        .map_or_else(|| unreadable(rqs_core::keys::QUARANTINE), |n| n.to_string());
    let mut out = output::pairs(&[
        ("Scheduled jobs", o.scheduled.to_string()),
        ("Due now", o.due.to_string()),
        ("Next due", next),
        ("Quarantined", quarantined),
        ("Lock holder", lock),
    ]);
    out.push('\n');
    if !o.problems.is_empty() {
        out.push_str("Keys rqs cannot read:\n");
        for p in &o.problems {
            out.push_str(&format!(
                "  {}: {}\n",
                output::text(p.key.as_bytes()),
                rqs_core::Escaped(&p.error)
            ));
        }
        out.push('\n');
    }
    if o.instances.is_empty() {
        out.push_str("No scheduler instance is registered.\n");
        return out;
    }
    let mut t = Table::new(&[
        "INSTANCE",
        "SOFTWARE",
        "STATE",
        "LOCK",
        "BORN",
        "LAST HEARTBEAT",
        "DIED",
    ]);
    let at = |s: Option<crate::inspect::Stamp>| {
        s.map_or_else(|| "-".to_owned(), |s| output::when(s.0, now))
    };
    for i in &o.instances {
        t.row(vec![
            output::text(i.name.as_bytes()),
            i.software.clone(),
            if i.alive { "alive" } else { "dead" }.to_owned(),
            if i.holds_lock { "holds it" } else { "-" }.to_owned(),
            at(i.birth),
            at(i.heartbeat),
            at(i.death),
        ]);
    }
    out.push_str(&t.to_string());
    out
}

//! `rqs show ID`: one job's fields decoded, and its next run times.

use clap::Args;
use rqs_core::JobId;
use rqs_core::plan::LocalZone;
use rqs_store::JobAdmin;
use serde::Serialize;

use crate::cli::ConnectionArgs;
use crate::exit::Failure;
use crate::inspect::{Inspector, QuarantineEntry, Stamp};
use crate::jobinfo::{self, Kind};
use crate::output;

/// How many run times `show` computes.
const RUNS: usize = 5;

/// `rqs show` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct ShowArgs {
    /// The job id
    pub(crate) id: String,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,
}

/// Everything `show` tells about a job.
#[derive(Debug, Serialize)]
struct Detail {
    id: String,
    /// The job hash exists.
    exists: bool,
    /// Its due time, when it is in the schedule.
    scheduled: Option<Stamp>,
    quarantine: Option<QuarantineEntry>,
    /// `quarantined` for a quarantined job out of the schedule, else the hash's status.
    status: Option<String>,
    /// The hash's `status` field as stored (stale for a quarantined job).
    hash_status: Option<String>,
    queue: Option<String>,
    description: Option<String>,
    function: Option<String>,
    instance: Option<serde_json::Value>,
    args: Option<Vec<serde_json::Value>>,
    kwargs: Option<serde_json::Map<String, serde_json::Value>>,
    /// Why `data` could not be read, when it could not.
    data_error: Option<String>,
    meta: Option<serde_json::Map<String, serde_json::Value>>,
    meta_error: Option<String>,
    #[serde(flatten)]
    kind: Kind,
    repeat: Option<i64>,
    repeats_left: Option<i64>,
    timeout: Option<String>,
    result_ttl: Option<String>,
    failure_ttl: Option<String>,
    ttl: Option<String>,
    created_at: Option<String>,
    enqueued_at: Option<String>,
    /// The next run times (the scheduled one first), for a scheduled job.
    next_runs: Vec<Stamp>,
    #[serde(skip)]
    text: Vec<(&'static str, String)>,
}

pub(crate) async fn run(args: &ShowArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let inspector = Inspector::new(connection.connect().await?);
    let id = JobId::from(args.id.as_str());
    let store = &inspector.store;
    let hash = store.job(&id).await?.filter(|h| !h.is_empty());
    let score = store.score(&id).await?;
    let quarantine = store
        .quarantined()
        .await?
        .into_iter()
        .find(|q| q.job_id == id)
        .map(QuarantineEntry::from);
    if hash.is_none() && score.is_none() && quarantine.is_none() {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "no job {}: there is no hash rq:job:{0}, and it is neither scheduled nor quarantined",
            output::text(id.as_bytes())
        )));
    }
    let detail = detail(&id, hash.as_ref(), score, quarantine);
    if args.json {
        output::print_json(&detail)
    } else {
        output::print(&output::pairs(&detail.text))
    }
}

fn detail(
    id: &JobId,
    hash: Option<&rqs_core::JobHash>,
    score: Option<f64>,
    quarantine: Option<QuarantineEntry>,
) -> Detail {
    let now = output::now();
    let empty = rqs_core::JobHash::new();
    let h = hash.unwrap_or(&empty);
    let field = |name: &str| h.get(name).map(output::text);
    let (kind, repeat) = Kind::of(h);
    let call = jobinfo::call(h);
    let meta = jobinfo::meta_entries(h);
    let next_runs: Vec<Stamp> = match (score, hash) {
        (Some(s), Some(h)) => {
            jobinfo::next_runs(h, s, chrono::Utc::now(), &LocalZone::System, RUNS)
                .into_iter()
                .map(Stamp)
                .collect()
        }
        (Some(s), None) => vec![Stamp(s)],
        _ => Vec::new(),
    };

    let mut text: Vec<(&'static str, String)> = vec![("id", output::text(id.as_bytes()))];
    let mut push = |k: &'static str, v: Option<String>| {
        if let Some(v) = v {
            text.push((k, v));
        }
    };
    push(
        "scheduled",
        Some(score.map_or_else(|| "no".to_owned(), |s| output::when(s, now))),
    );
    if let Some(q) = &quarantine {
        let kind = q
            .kind
            .as_deref()
            .map_or_else(String::new, |k| format!(", {k}"));
        push(
            "quarantined",
            Some(format!(
                "since {}{kind}: {}",
                output::when(q.since.0, now),
                output::text(q.reason.as_bytes())
            )),
        );
        push("was due", q.score.map(|s| output::when(s.0, now)));
    }
    if hash.is_none() {
        push(
            "hash",
            Some(format!(
                "missing (rq:job:{} does not exist)",
                output::text(id.as_bytes())
            )),
        );
    }
    // Its hash still says `scheduled`: RQ's status knows nothing of rqs's quarantine.
    let status = if quarantine.is_some() && score.is_none() {
        Some("quarantined".to_owned())
    } else {
        field("status")
    };
    push(
        "status",
        match (&status, field("status")) {
            (Some(s), Some(h)) if *s != h => Some(format!("{s} (its hash says {h})")),
            (s, _) => s.clone(),
        },
    );
    push("queue", field("origin"));
    push("description", field("description"));
    let (function, instance, args, kwargs, data_error) = match &call {
        Ok(c) => {
            push(
                "function",
                Some(
                    c.func_name()
                        .map_or_else(|| jobinfo::python_repr(&c.func), str::to_owned),
                ),
            );
            if c.instance != rqs_pickle::Value::None {
                push("instance", Some(jobinfo::python_repr(&c.instance)));
            }
            push(
                "args",
                Some(c.args.as_ref().map_or_else(
                    || "<opaque>".to_owned(),
                    |a| {
                        let items: Vec<String> = a.iter().map(jobinfo::python_repr).collect();
                        // Python's repr of a 1-tuple keeps its comma.
                        let comma = if items.len() == 1 { "," } else { "" };
                        format!("({}{comma})", items.join(", "))
                    },
                )),
            );
            push(
                "kwargs",
                Some(
                    c.kwargs
                        .as_ref()
                        .map_or_else(|| "<opaque>".to_owned(), |k| dict_repr(k)),
                ),
            );
            (
                c.func_name().map(str::to_owned),
                Some(jobinfo::json_value(&c.instance)),
                c.args
                    .as_ref()
                    .map(|a| a.iter().map(jobinfo::json_value).collect()),
                c.kwargs.as_ref().map(|k| json_map(k)),
                None,
            )
        }
        Err(e) if hash.is_some() => {
            push("data", Some(format!("unreadable: {e}")));
            (None, None, None, None, Some(e.clone()))
        }
        Err(_) => (None, None, None, None, None),
    };
    let (meta_json, meta_error) = match &meta {
        Ok(Some(entries)) => {
            push("meta", Some(dict_repr(entries)));
            (Some(json_map(entries)), None)
        }
        Ok(None) => (None, None),
        Err(e) => {
            push("meta", Some(format!("unreadable: {e}")));
            (None, Some(e.clone()))
        }
    };
    if hash.is_some() {
        push(
            "kind",
            Some(match &kind {
                Kind::Invalid { reason } => format!("invalid: {reason}"),
                k => k.label(),
            }),
        );
        push(
            "repeats left",
            Some(jobinfo::runs_label(kind.runs_left(repeat))),
        );
    }
    for (label, name) in [
        ("timeout", "timeout"),
        ("result ttl", "result_ttl"),
        ("failure ttl", "failure_ttl"),
        ("ttl", "ttl"),
        ("created at", "created_at"),
        ("enqueued at", "enqueued_at"),
    ] {
        push(label, field(name));
    }
    for (i, run) in next_runs.iter().enumerate() {
        text.push((
            if i == 0 { "next runs" } else { "" },
            output::when(run.0, now),
        ));
    }
    Detail {
        id: output::text(id.as_bytes()),
        exists: hash.is_some(),
        scheduled: score.map(Stamp),
        quarantine,
        status,
        hash_status: field("status"),
        queue: field("origin"),
        description: field("description"),
        function,
        instance,
        args,
        kwargs,
        data_error,
        meta: meta_json,
        meta_error,
        repeats_left: hash.and(kind.runs_left(repeat)),
        kind,
        repeat,
        timeout: field("timeout"),
        result_ttl: field("result_ttl"),
        failure_ttl: field("failure_ttl"),
        ttl: field("ttl"),
        created_at: field("created_at"),
        enqueued_at: field("enqueued_at"),
        next_runs,
        text,
    }
}

fn dict_repr(entries: &[(String, rqs_pickle::Value)]) -> String {
    let items: Vec<String> = entries
        .iter()
        .map(|(k, v)| {
            format!(
                "{}: {}",
                jobinfo::python_repr(&rqs_pickle::Value::Str(k.clone())),
                jobinfo::python_repr(v)
            )
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

fn json_map(entries: &[(String, rqs_pickle::Value)]) -> serde_json::Map<String, serde_json::Value> {
    entries
        .iter()
        .map(|(k, v)| (k.clone(), jobinfo::json_value(v)))
        .collect()
}

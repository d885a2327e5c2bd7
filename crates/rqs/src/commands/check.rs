//! `rqs check`: a dry run over the whole schedule. For each job it tells what rqs would
//! do (hand it over, quarantine it, unschedule it) and where that differs from Python's
//! `rqscheduler` (the deviation table of docs/compatibility.md), with its next run
//! times. It reads the jobs exactly as the scheduler does and decides with the same pure
//! functions, and it writes nothing.

use std::collections::HashMap;

use crate::connection::Connection;
use chrono::{DateTime, Utc};
use clap::Args;
use rqs_core::plan::{self, LocalZone, MAX_META_BYTES};
use rqs_core::{Action, Enqueue, EnqueueOptions, JobHash, JobId, ScheduledJob, keys};
use rqs_store::{JobAdmin, JobStore};
use serde::{Serialize, Serializer};

use crate::cli::ConnectionArgs;
use crate::exit::Failure;
use crate::inspect::{Inspector, Stamp};
use crate::jobinfo::{self, Kind};
use crate::output::{self, Table};

/// Jobs read per round trip, as the scheduler reads a batch.
const PAGE: usize = 500;

/// `rqs check` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct CheckArgs {
    /// List only the jobs with a finding
    #[arg(long)]
    pub(crate) problems: bool,

    /// How many run times to show per job
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub(crate) runs: u16,

    /// Print JSON instead of a table
    #[arg(long)]
    pub(crate) json: bool,
}

/// What rqs would do with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    /// Hand it over as rqscheduler would.
    Ok,
    /// Hand it over, but not as rqscheduler would.
    Differs,
    /// Remove it from the schedule (its hash is gone, as rqscheduler would too).
    Unschedule,
    /// Move it to the quarantine.
    Quarantine,
}

#[derive(Debug, Serialize)]
struct JobCheck {
    id: String,
    due: Stamp,
    queue: Option<String>,
    #[serde(flatten, serialize_with = "kind_fields")]
    kind: Kind,
    verdict: Verdict,
    /// Why it would be quarantined or unscheduled.
    reason: Option<String>,
    /// The quarantine kind (`invalid_cron`...).
    quarantine_kind: Option<&'static str>,
    /// Where rqs and rqscheduler part ways for this job.
    differences: Vec<String>,
    next_runs: Vec<Stamp>,
}

/// The kind without an invalid kind's own `reason`: the entry's `reason` says why (the
/// same text, as the same meta error quarantines the job), and an object must not hold
/// a key twice.
fn kind_fields<S: Serializer>(kind: &Kind, s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    match kind {
        Kind::Invalid { .. } => {
            let mut map = s.serialize_map(Some(1))?;
            map.serialize_entry("kind", "invalid")?;
            map.end()
        }
        k => k.serialize(s),
    }
}

/// A finding that would send a job (back) to the quarantine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QuarantineFinding {
    /// The quarantine kind (`invalid_cron`...).
    pub(crate) kind: &'static str,
    pub(crate) reason: String,
}

/// Whether the scheduler would quarantine job `id` if it were due at `score`, decided
/// as `rqs check` decides for a scheduled job. It reads, and writes nothing.
pub(crate) async fn would_quarantine(
    conn: Connection,
    id: &JobId,
    score: f64,
) -> Result<Option<QuarantineFinding>, Failure> {
    let inspector = Inspector::new(conn.clone());
    let job = read_as_due(&conn, &inspector, id, score).await?;
    let mut checker = Checker::new(conn, &inspector, 1);
    let check = checker.check(&job).await?;
    Ok(match (check.verdict, check.quarantine_kind) {
        (Verdict::Quarantine, Some(kind)) => Some(QuarantineFinding {
            kind,
            reason: check.reason.unwrap_or_default(),
        }),
        _ => None,
    })
}

/// A job outside the schedule read as the store's `due` reads a scheduled one (see
/// `due.lua`): hand-off fields only, oversized ones left out, a key of another type
/// reported with its type.
async fn read_as_due(
    conn: &Connection,
    inspector: &Inspector,
    id: &JobId,
    score: f64,
) -> Result<ScheduledJob, Failure> {
    let key_type: String = redis::cmd("TYPE")
        .arg(keys::job_key(id))
        .query_async(&mut conn.clone())
        .await
        .map_err(rqs_redis::backend_error)?;
    let mut job = ScheduledJob::new(id.clone(), score, None);
    match key_type.as_str() {
        "none" => {}
        "hash" => {
            let hash = inspector
                .store
                .job(id)
                .await?
                .unwrap_or_default()
                .projection();
            let size: u64 = hash
                .iter()
                .filter(|(field, _)| *field != "data")
                .map(|(_, value)| value.len() as u64)
                .sum();
            if size > MAX_META_BYTES {
                job.oversized = Some(size);
                job.hash = Some(JobHash::from_pairs(
                    hash.get("data").map(|_| ("data", Vec::new())),
                ));
            } else {
                job.hash = Some(hash);
            }
        }
        other => {
            job.hash = Some(JobHash::new());
            job.key_type = Some(other.to_owned());
        }
    }
    Ok(job)
}

#[derive(Debug, Serialize)]
struct Report {
    checked: u64,
    ok: u64,
    differs: u64,
    unschedule: u64,
    quarantine: u64,
    /// Jobs already in the quarantine (not part of the schedule).
    already_quarantined: u64,
    clean: bool,
    jobs: Vec<JobCheck>,
}

pub(crate) async fn run(args: &CheckArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let conn = connection.connect().await?;
    let inspector = Inspector::new(conn.clone());
    let mut checker = Checker::new(conn, &inspector, usize::from(args.runs));
    let mut report = Report {
        checked: 0,
        ok: 0,
        differs: 0,
        unschedule: 0,
        quarantine: 0,
        already_quarantined: inspector.store.quarantined().await?.len() as u64,
        clean: true,
        jobs: Vec::new(),
    };
    let mut offset = 0;
    loop {
        // The whole schedule, read as the scheduler reads a due batch (hand-off fields).
        let page = inspector.store.due(f64::MAX, offset, PAGE).await?;
        if page.is_empty() {
            break;
        }
        offset += page.len();
        for job in &page {
            let check = checker.check(job).await?;
            report.checked += 1;
            *match check.verdict {
                Verdict::Ok => &mut report.ok,
                Verdict::Differs => &mut report.differs,
                Verdict::Unschedule => &mut report.unschedule,
                Verdict::Quarantine => &mut report.quarantine,
            } += 1;
            if !(args.problems && check.verdict == Verdict::Ok) {
                report.jobs.push(check);
            }
        }
    }
    report.clean = report.ok == report.checked;
    if args.json {
        output::print_json(&report)?;
    } else {
        output::print(&render(&report, checker.now))?;
    }
    if report.clean {
        Ok(())
    } else {
        Err(Failure::Runtime(anyhow::anyhow!(
            "check: {} of {} scheduled jobs would be quarantined, unscheduled or handled differently than by rqscheduler",
            report.checked - report.ok,
            report.checked
        )))
    }
}

struct Checker<'a> {
    conn: Connection,
    inspector: &'a Inspector,
    zone: LocalZone,
    now: DateTime<Utc>,
    runs: usize,
    /// `TYPE` of each queue key seen.
    queue_types: HashMap<Vec<u8>, String>,
}

impl<'a> Checker<'a> {
    fn new(conn: Connection, inspector: &'a Inspector, runs: usize) -> Self {
        Self {
            conn,
            inspector,
            zone: LocalZone::System,
            now: Utc::now(),
            runs,
            queue_types: HashMap::new(),
        }
    }

    async fn check(&mut self, job: &ScheduledJob) -> Result<JobCheck, Failure> {
        // Decided as the scheduler would at the job's due second (now, when overdue).
        let at = output::instant(job.score.ceil())
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
            .max(self.now);
        let empty = JobHash::new();
        let hash = job.hash.as_ref().unwrap_or(&empty);
        let (kind, _) = Kind::of(hash);
        let (handoff, notes) = plan::decide(job, at, &self.zone, |j| {
            Enqueue::for_job(j, at, &EnqueueOptions::default())
        });
        let mut check = JobCheck {
            id: output::text(job.id.as_bytes()),
            due: Stamp(job.score),
            queue: hash.get("origin").map(output::text),
            kind,
            verdict: Verdict::Ok,
            reason: None,
            quarantine_kind: None,
            differences: Vec::new(),
            next_runs: Vec::new(),
        };
        match handoff.action {
            Action::Unschedule { reason } => {
                check.verdict = Verdict::Unschedule;
                check.reason = Some(reason);
                return Ok(check);
            }
            Action::Quarantine { kind, reason, .. } => {
                check.verdict = Verdict::Quarantine;
                check.reason = Some(reason);
                check.quarantine_kind = Some(kind.as_str());
                return Ok(check);
            }
            Action::Enqueue { enqueue, .. } => {
                if let Some(problem) = self.queue_key_problem(&enqueue).await? {
                    check.verdict = Verdict::Quarantine;
                    check.reason = Some(problem);
                    check.quarantine_kind = Some(rqs_core::QuarantineKind::WrongType.as_str());
                    return Ok(check);
                }
                check.differences = notes.into_iter().map(|n| n.message).collect();
                check
                    .differences
                    .extend(self.differences(hash, &enqueue, &check.kind, at).await?);
            }
        }
        if !check.differences.is_empty() {
            check.verdict = Verdict::Differs;
        }
        check.next_runs = jobinfo::next_runs(hash, job.score, self.now, &self.zone, self.runs)
            .into_iter()
            .map(Stamp)
            .collect();
        Ok(check)
    }

    /// A queue key of another type than a list makes the store quarantine the job.
    async fn queue_key_problem(&mut self, e: &Enqueue) -> Result<Option<String>, Failure> {
        let key = keys::queue_key(e.queue.as_bytes());
        if !self.queue_types.contains_key(&key) {
            let kind: String = redis::cmd("TYPE")
                .arg(&key)
                .query_async(&mut self.conn)
                .await
                .map_err(rqs_redis::backend_error)?;
            self.queue_types.insert(key.clone(), kind);
        }
        Ok(self
            .queue_types
            .get(&key)
            .filter(|t| !matches!(t.as_str(), "list" | "none"))
            .map(|t| format!("{} is a {t}, not a list", output::text(&key))))
    }

    /// The deviations of docs/compatibility.md that a job's fields show.
    async fn differences(
        &self,
        hash: &JobHash,
        e: &Enqueue,
        kind: &Kind,
        at: DateTime<Utc>,
    ) -> Result<Vec<String>, Failure> {
        let mut out = Vec::new();
        if hash.get_str("ttl").map(str::trim) == Some("0") {
            out.push(
                "ttl is 0: RQ would delete the job and push a dangling id; rqs treats it as no time to live"
                    .to_owned(),
            );
        }
        if e.was_deferred && self.dependencies_met(e).await? {
            out.push(
                "still marked deferred though its dependencies are done: rqscheduler would drop this run; rqs pushes it"
                    .to_owned(),
            );
        }
        if let Kind::Cron {
            cron,
            local_timezone: false,
        } = kind
            && let Ok(expr) = rqs_cron::CronExpr::parse(cron)
        {
            let rqs = expr.next_in(at, &Utc);
            let python = expr.next_in(at, &chrono::Local);
            if rqs != python {
                let show = |t: Option<DateTime<Utc>>| {
                    t.map_or_else(
                        || "never".to_owned(),
                        |t| output::rfc3339(rqs_core::time::unix_seconds(t)),
                    )
                };
                out.push(format!(
                    "use_local_timezone=False: rqs runs the cron string in UTC (next {}), rqscheduler in this host's zone (next {})",
                    show(rqs),
                    show(python)
                ));
            }
        }
        Ok(out)
    }

    /// Whether every dependency is done or gone (RQ counts a missing one as met).
    async fn dependencies_met(&self, e: &Enqueue) -> Result<bool, Failure> {
        for dep in &e.dependencies {
            let status = self.inspector.store.job(dep).await?;
            let met = status
                .as_ref()
                .and_then(JobHash::status)
                .is_none_or(|s| e.met_statuses.iter().any(|m| m == s));
            if !met {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn render(r: &Report, now: DateTime<Utc>) -> String {
    let now = rqs_core::time::unix_seconds(now);
    let mut out = String::new();
    if !r.jobs.is_empty() {
        let mut t = Table::new(&["ID", "DUE", "QUEUE", "KIND", "VERDICT", "DETAIL"]);
        for j in &r.jobs {
            let detail = match j.verdict {
                Verdict::Quarantine | Verdict::Unschedule => j.reason.clone().unwrap_or_default(),
                Verdict::Differs => j.differences.join("; "),
                Verdict::Ok => {
                    let runs: Vec<String> =
                        j.next_runs.iter().map(|s| output::rfc3339(s.0)).collect();
                    format!("runs at {}", runs.join(", "))
                }
            };
            t.row(vec![
                j.id.clone(),
                output::when(j.due.0, now),
                j.queue.clone().unwrap_or_else(|| "-".into()),
                j.kind.label(),
                match j.verdict {
                    Verdict::Ok => "ok",
                    Verdict::Differs => "differs",
                    Verdict::Unschedule => "unschedule",
                    Verdict::Quarantine => "quarantine",
                }
                .to_owned(),
                output::text(detail.as_bytes()),
            ]);
        }
        out.push_str(&t.to_string());
        out.push('\n');
    }
    out.push_str(&format!(
        "checked {} scheduled jobs: {} ok, {} handled differently than by rqscheduler, {} would be unscheduled, {} would be quarantined; {} already in the quarantine\n",
        r.checked, r.ok, r.differs, r.unschedule, r.quarantine, r.already_quarantined
    ));
    out
}

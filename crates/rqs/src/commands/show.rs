//! `rqs show ID`: one job's fields decoded, and its next run times.
//!
//! A job hash is any bytes a client wrote, so `show` (and `list`, which reads hashes the
//! same way) reads each field only up to a bound and prints each value only up to
//! [`output::PRINT_LIMIT`] characters, with a note; `--full` reads and prints it all.

use clap::Args;
use rqs_core::plan::{LocalZone, MAX_META_BYTES};
use rqs_core::{JobHash, JobId};
use rqs_store::JobAdmin;
use serde::Serialize;

use crate::cli::ConnectionArgs;
use crate::connection::Connection;
use crate::exit::Failure;
use crate::inspect::{Inspector, JobSummary, QuarantineEntry, Stamp};
use crate::jobinfo::{self, Kind};
use crate::output;

/// How many run times `show` computes.
const RUNS: usize = 5;

/// `rqs show` flags.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
pub(crate) struct ShowArgs {
    /// The job id, as `rqs list` prints it (\xff, \u{0} and \\ stand for the bytes they
    /// name)
    #[arg(value_parser = output::parse_id)]
    pub(crate) id: JobId,

    /// Print JSON instead of text
    #[arg(long)]
    pub(crate) json: bool,

    /// Read and print every field whole, however large (by default a field over its
    /// bound is not read, and a long value is cut with a note)
    #[arg(long)]
    pub(crate) full: bool,
}

/// How much of each field a command reads, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// `data`, compressed: the pickled call.
    pub(crate) data: u64,
    /// `meta`.
    pub(crate) meta: u64,
    /// Any other field.
    pub(crate) other: u64,
}

impl Limits {
    /// What `show` reads: a call of up to 16 MiB, the meta the scheduler would read.
    pub(crate) const SHOW: Limits = Limits {
        data: 16 * 1024 * 1024,
        meta: MAX_META_BYTES,
        other: 64 * 1024,
    };
    /// What `list` reads of each of its jobs: less of the call, which only names the
    /// function there.
    pub(crate) const LIST: Limits = Limits {
        data: 1024 * 1024,
        ..Limits::SHOW
    };
    /// Everything (`--full`).
    pub(crate) const NONE: Limits = Limits {
        data: u64::MAX,
        meta: u64::MAX,
        other: u64::MAX,
    };

    fn of(&self, field: &str) -> u64 {
        match field {
            "data" => self.data,
            "meta" => self.meta,
            _ => self.other,
        }
    }
}

/// The fields `show` and `list` use: what they display, and the scheduler's hand-off
/// fields, whose total size decides whether it reads the job at all.
const FIELDS: [&str; 14] = [
    "status",
    "origin",
    "description",
    "data",
    "meta",
    "timeout",
    "result_ttl",
    "failure_ttl",
    "ttl",
    "created_at",
    "enqueued_at",
    "enqueue_at_front",
    "dependency_ids",
    "dependency_id",
];

/// A job hash as far as it was read.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobRead {
    /// The fields read.
    pub(crate) hash: JobHash,
    /// Fields left unread for their size, with it.
    pub(crate) unread: Vec<(&'static str, u64)>,
    /// The size of the hand-off fields (`data` aside) when it is over the scheduler's
    /// limit: it quarantines the job without reading them.
    pub(crate) oversized: Option<u64>,
}

impl JobRead {
    /// The job's kind, as the scheduler would judge it.
    pub(crate) fn kind(&self) -> (Kind, Option<i64>) {
        match self.oversized {
            Some(bytes) => (
                Kind::Invalid {
                    reason: rqs_core::JobError::TooLarge {
                        bytes,
                        limit: MAX_META_BYTES,
                    }
                    .to_string(),
                },
                None,
            ),
            None => Kind::of(&self.hash),
        }
    }

    fn unread(&self, field: &str) -> Option<u64> {
        self.unread
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, bytes)| *bytes)
    }

    /// A line of `list`.
    pub(crate) fn summary(&self, id: &JobId, score: f64) -> JobSummary {
        let mut summary = JobSummary::new(id, score, Some(&self.hash));
        let (kind, repeat) = self.kind();
        summary.missing = false;
        summary.repeats_left = kind.runs_left(repeat);
        summary.kind = kind;
        summary.repeat = repeat;
        if let Some(bytes) = self.unread("data") {
            summary.function = Some(format!("<a call of {bytes} bytes: see rqs show --full>"));
        }
        for (value, field) in [
            (&mut summary.queue, "origin"),
            (&mut summary.description, "description"),
            (&mut summary.status, "status"),
        ] {
            if let Some(bytes) = self.unread(field) {
                *value = Some(not_read(bytes));
            } else if let Some(clipped) = value
                .as_deref()
                .and_then(|v| output::clip(v, output::PRINT_LIMIT))
            {
                *value = Some(clipped);
            }
        }
        summary
    }
}

/// How a field too large to read shows.
fn not_read(bytes: u64) -> String {
    format!("<{bytes} bytes, not read: --full reads it>")
}

/// One field of a job hash as far as it was read.
#[derive(Debug)]
enum Cell {
    Absent,
    Read(Vec<u8>),
    /// Over its bound: its size, not read.
    TooLarge(u64),
}

impl JobRead {
    /// The job from its [`FIELDS`], in order.
    fn from_cells(cells: impl IntoIterator<Item = Cell>) -> Self {
        let mut read = JobRead::default();
        let mut handoff = 0;
        for (field, cell) in FIELDS.into_iter().zip(cells) {
            let size = match cell {
                Cell::Absent => 0,
                Cell::Read(value) => {
                    let size = value.len() as u64;
                    read.hash.set(field, value);
                    size
                }
                Cell::TooLarge(size) => {
                    read.unread.push((field, size));
                    size
                }
            };
            if field != "data" && rqs_core::HANDOFF_FIELDS.contains(&field) {
                handoff += size;
            }
        }
        read.oversized = (handoff > MAX_META_BYTES).then_some(handoff);
        read
    }
}

/// Reads the fields of `rq:job:<id>` that `show` and `list` use, each only when it is
/// within `limits`; `None` when there is no such hash.
///
/// # Errors
/// Redis errors.
pub(crate) async fn read_job(
    conn: &Connection,
    id: &JobId,
    limits: Limits,
) -> Result<Option<JobRead>, Failure> {
    let mut read = None;
    read_jobs(conn, &[id], limits, |_, job| read = job).await?;
    Ok(read)
}

/// Field bytes one round trip of [`read_jobs`] fetches at most (and one job more).
const READ_BUDGET: u64 = 4 * 1024 * 1024;

/// Reads jobs as [`read_job`] reads one, in pipelines: the types, the sizes of the
/// fields, then the fields within `limits`, [`READ_BUDGET`] bytes at a time. `each`
/// gets every job in order (its index in `ids`; `None`: no hash) as soon as it is read,
/// so at most one round trip's fields are held.
///
/// (A Lua script doing the same per batch costs the client less but Redis twice the
/// CPU, measured on 100,000 jobs: Redis is the one shared by everyone.)
///
/// # Errors
/// Redis errors.
pub(crate) async fn read_jobs(
    conn: &Connection,
    ids: &[&JobId],
    limits: Limits,
    mut each: impl FnMut(usize, Option<JobRead>),
) -> Result<(), Failure> {
    let backend = rqs_redis::backend_error;
    let mut conn = conn.clone();
    let keys: Vec<Vec<u8>> = ids.iter().map(rqs_core::keys::job_key).collect();
    let mut types = redis::pipe();
    for key in &keys {
        types.cmd("TYPE").arg(key);
    }
    let types: Vec<String> = types.query_async(&mut conn).await.map_err(backend)?;
    let hashes: Vec<usize> = (0..ids.len()).filter(|&i| types[i] == "hash").collect();
    // Sizes first: HGETALL would pull a 100 MB field whole. (A field that grows between
    // the round trips is read at its new size: only a writer racing us can do that.)
    let mut sizes = redis::pipe();
    for &i in &hashes {
        for field in FIELDS {
            sizes.cmd("HSTRLEN").arg(&keys[i]).arg(field);
        }
    }
    let sizes: Vec<u64> = if hashes.is_empty() {
        Vec::new()
    } else {
        sizes.query_async(&mut conn).await.map_err(backend)?
    };
    // Each hash job with its sizes, the fields to read and their bytes, popped from the
    // end: in order.
    let mut pending: Vec<(usize, &[u64], Vec<&str>, u64)> = hashes
        .into_iter()
        .zip(sizes.chunks(FIELDS.len()))
        .rev()
        .map(|(i, sizes)| {
            let within = |(field, size): &(&str, &u64)| **size <= limits.of(field);
            let fields = FIELDS.into_iter().zip(sizes);
            let wanted = fields.clone().filter(within).map(|(f, _)| f).collect();
            let bytes = fields.filter(within).map(|(_, size)| size).sum();
            (i, sizes, wanted, bytes)
        })
        .collect();
    let mut next = 0;
    while !pending.is_empty() {
        // One round trip: the next jobs whose wanted fields fit in the budget, at least one.
        let mut total = 0;
        let mut batch = Vec::new();
        while let Some(job) = pending.pop_if(|job| batch.is_empty() || total + job.3 <= READ_BUDGET)
        {
            total += job.3;
            batch.push(job);
        }
        let mut values = redis::pipe();
        for (i, _, wanted, _) in batch.iter().filter(|job| !job.2.is_empty()) {
            values.cmd("HMGET").arg(&keys[*i]).arg(wanted);
        }
        let values: Vec<Vec<Option<Vec<u8>>>> = if values.is_empty() {
            Vec::new()
        } else {
            values.query_async(&mut conn).await.map_err(backend)?
        };
        let mut values = values.into_iter();
        for (i, sizes, wanted, _) in batch {
            for j in next..i {
                each(j, None);
            }
            next = i + 1;
            let mut got = if wanted.is_empty() {
                Vec::new()
            } else {
                values.next().unwrap_or_default()
            };
            got.reverse();
            let cells = FIELDS.iter().zip(sizes).map(|(field, &size)| {
                if size > limits.of(field) {
                    Cell::TooLarge(size)
                } else {
                    got.pop().flatten().map_or(Cell::Absent, Cell::Read)
                }
            });
            each(i, Some(JobRead::from_cells(cells.collect::<Vec<_>>())));
        }
    }
    for j in next..ids.len() {
        each(j, None);
    }
    Ok(())
}

/// Everything `show` tells about a job.
#[derive(Debug, Serialize)]
struct Detail {
    id: String,
    /// The job hash exists.
    exists: bool,
    /// Its due time, when it is in the schedule.
    scheduled: Option<Stamp>,
    /// RQ's own registry it waits in (`rq:scheduled:<queue>`) and its due time, when it
    /// is one of RQ's scheduled jobs.
    #[serde(skip_serializing_if = "Option::is_none")]
    rq_registry: Option<serde_json::Value>,
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
    /// A value was cut, or a field too large to read was left out: `--full` shows all.
    truncated: bool,
    #[serde(skip)]
    text: Vec<(&'static str, String)>,
}

pub(crate) async fn run(args: &ShowArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let conn = connection.connect().await?;
    let inspector = Inspector::new(conn.clone());
    let id = args.id.clone();
    let store = &inspector.store;
    let limits = if args.full {
        Limits::NONE
    } else {
        Limits::SHOW
    };
    let read = read_job(&conn, &id, limits).await?;
    let score = store.score(&id).await?;
    let quarantine = store
        .quarantined()
        .await?
        .into_iter()
        .find(|q| q.job_id == id)
        .map(QuarantineEntry::from);
    if read.is_none() && score.is_none() && quarantine.is_none() {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "no job {}: there is no hash rq:job:{0}, and it is neither scheduled nor quarantined",
            output::text(id.as_bytes())
        )));
    }
    let origin = read
        .as_ref()
        .and_then(|r| r.hash.get("origin"))
        .and_then(|o| std::str::from_utf8(o).ok())
        .map(str::to_owned);
    let mut detail = detail(&id, read.as_ref(), score, quarantine);
    if let Some(queue) = origin.filter(|_| score.is_none()) {
        let registry = rqs_core::keys::rq_scheduled_key(&queue);
        let due: Option<f64> = redis::cmd("ZSCORE")
            .arg(&registry)
            .arg(id.as_bytes())
            .query_async(&mut conn.clone())
            .await?;
        if let Some(due) = due {
            let line = format!("{registry}, due {}", output::when(due, output::now()));
            detail.text.insert(2, ("in RQ registry", line));
            detail.rq_registry = Some(serde_json::json!({"key": registry, "due": Stamp(due)}));
        }
    }
    if !args.full {
        detail.clip(output::PRINT_LIMIT);
    }
    if args.json {
        output::print_json(&detail)
    } else {
        output::print(&output::pairs(&detail.text))
    }
}

impl Detail {
    /// Cuts long values, noting which.
    fn clip(&mut self, limit: usize) {
        // The id stays whole: it is what other commands take back.
        for (_, value) in self.text.iter_mut().filter(|(label, _)| *label != "id") {
            if let Some(clipped) = output::clip(value, limit) {
                *value = clipped;
                self.truncated = true;
            }
        }
        let mut cut = false;
        if let Some(args) = &mut self.args
            && args.len() > limit
        {
            args.truncate(limit);
            cut = true;
        }
        for value in [&mut self.instance]
            .into_iter()
            .flatten()
            .chain(self.args.iter_mut().flatten())
            .chain(self.kwargs.iter_mut().flat_map(|m| m.values_mut()))
            .chain(self.meta.iter_mut().flat_map(|m| m.values_mut()))
        {
            cut |= output::clip_json(value, limit);
        }
        for text in [
            &mut self.description,
            &mut self.data_error,
            &mut self.meta_error,
            &mut self.queue,
            &mut self.function,
        ]
        .into_iter()
        .flatten()
        {
            if let Some(clipped) = output::clip(text, limit) {
                *text = clipped;
                cut = true;
            }
        }
        self.truncated |= cut;
    }
}

fn detail(
    id: &JobId,
    read: Option<&JobRead>,
    score: Option<f64>,
    quarantine: Option<QuarantineEntry>,
) -> Detail {
    let now = output::now();
    let empty = JobRead::default();
    let r = read.unwrap_or(&empty);
    let h = &r.hash;
    let field = |name: &str| match r.unread(name) {
        Some(bytes) => Some(not_read(bytes)),
        None => h.get(name).map(output::text),
    };
    let (kind, repeat) = r.kind();
    let call = match r.unread("data") {
        Some(bytes) => Err(format!("not read: {bytes} bytes (--full reads it)")),
        None => jobinfo::call(h),
    };
    let meta = match r.unread("meta") {
        Some(bytes) => Err(format!("not read: {bytes} bytes (--full reads it)")),
        None => jobinfo::meta_entries(h),
    };
    let unreadable = |field: &str, e: &str| {
        if r.unread(field).is_some() {
            e.to_owned()
        } else {
            format!("unreadable: {e}")
        }
    };
    let next_runs: Vec<Stamp> = match (score, read) {
        (Some(s), Some(_)) if r.oversized.is_some() => vec![Stamp(s)],
        (Some(s), Some(r)) => {
            jobinfo::next_runs(&r.hash, s, chrono::Utc::now(), &LocalZone::System, RUNS)
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
    if read.is_none() {
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
        Err(e) if read.is_some() => {
            push("data", Some(unreadable("data", e)));
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
            push("meta", Some(unreadable("meta", e)));
            (None, Some(e.clone()))
        }
    };
    if read.is_some() {
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
        exists: read.is_some(),
        scheduled: score.map(Stamp),
        rq_registry: None,
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
        repeats_left: read.and(kind.runs_left(repeat)),
        kind,
        repeat,
        timeout: field("timeout"),
        result_ttl: field("result_ttl"),
        failure_ttl: field("failure_ttl"),
        ttl: field("ttl"),
        created_at: field("created_at"),
        enqueued_at: field("enqueued_at"),
        next_runs,
        truncated: !r.unread.is_empty(),
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

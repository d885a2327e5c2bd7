//! Reading a schedule file: TOML, a `[defaults]` table and one `[[job]]` table per job.
//!
//! Everything is checked before anything is compared or written: unknown keys, wrong
//! types, bad times, cron strings (by rqs's own parser), duplicate ids, and whether the
//! client can build each job. Every problem names the file, line and column.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value as Json;
use toml::Spanned;

use super::{Declaration, Timing};

/// A checked file.
#[derive(Debug, Clone)]
pub(crate) struct ScheduleFile {
    /// The path as given, for messages.
    pub(crate) path: String,
    /// `set = "..."` at the top, when the file names its set.
    pub(crate) set: Option<String>,
    /// The jobs, in file order, ids unique.
    pub(crate) jobs: Vec<Declared>,
}

/// One `[[job]]`.
#[derive(Debug, Clone)]
pub(crate) struct Declared {
    pub(crate) id: String,
    /// The line of its `[[job]]` header.
    pub(crate) line: usize,
    pub(crate) decl: Declaration,
}

/// Everything wrong with a file, one problem a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileErrors(pub(crate) Vec<String>);

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("\n"))?;
        if self.0.len() > 1 {
            write!(f, "\n{} problems; nothing was written", self.0.len())
        } else {
            f.write_str("; nothing was written")
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    set: Option<Spanned<String>>,
    defaults: Option<RawDefaults>,
    #[serde(default)]
    job: Vec<Spanned<RawJob>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawDefaults {
    queue: Option<Spanned<String>>,
    timeout: Option<Spanned<toml::Value>>,
    result_ttl: Option<Spanned<i64>>,
    ttl: Option<Spanned<i64>>,
    use_local_timezone: Option<bool>,
    meta: Option<Spanned<toml::Table>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    id: Spanned<String>,
    func: Spanned<String>,
    args: Option<Spanned<Vec<toml::Value>>>,
    kwargs: Option<Spanned<toml::Table>>,
    queue: Option<Spanned<String>>,
    cron: Option<Spanned<String>>,
    use_local_timezone: Option<Spanned<bool>>,
    interval: Option<Spanned<toml::Value>>,
    at: Option<Spanned<toml::Value>>,
    repeat: Option<Spanned<i64>>,
    timeout: Option<Spanned<toml::Value>>,
    result_ttl: Option<Spanned<i64>>,
    ttl: Option<Spanned<i64>>,
    description: Option<Spanned<String>>,
    meta: Option<Spanned<toml::Table>>,
}

/// Keys of `meta` that are rq-scheduler's own: a file says them with `cron`, `interval`
/// and `repeat`.
const RESERVED_META: [&str; 4] = ["interval", "cron_string", "use_local_timezone", "repeat"];

/// Reads and checks `path`.
pub(crate) fn read(path: &Path, now: DateTime<Utc>) -> Result<ScheduleFile, FileErrors> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| FileErrors(vec![format!("{name}: cannot read the file: {e}")]))?;
    parse(&name, &text, now)
}

/// Checks `text`, read from `name`.
pub(crate) fn parse(
    name: &str,
    text: &str,
    now: DateTime<Utc>,
) -> Result<ScheduleFile, FileErrors> {
    let lines = Lines::of(text);
    let at = |span: Range<usize>| lines.position(text, span.start);
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let place = e.span().map(|s| at(s).to_string()).unwrap_or_default();
        let message = e.message().trim_end().replace('\n', " ");
        FileErrors(vec![format!("{name}:{place}: {message}")])
    })?;
    let mut problems = Problems {
        name,
        text,
        lines: &lines,
        list: Vec::new(),
    };
    let defaults = raw.defaults.unwrap_or_default();
    let set = raw.set.map(|s| {
        let span = s.span();
        let value = s.into_inner();
        if let Err(e) = check_set_name(&value) {
            problems.add(span, e);
        }
        value
    });
    let default_meta = defaults
        .meta
        .as_ref()
        .map(|m| table(m.get_ref()).map_err(|e| (m.span(), format!("defaults.meta: {e}"))))
        .transpose()
        .unwrap_or_else(|(span, e)| {
            problems.add(span, e);
            None
        })
        .unwrap_or_default();
    let default_timeout = defaults.timeout.as_ref().and_then(|t| {
        timeout(t.get_ref())
            .map_err(|e| problems.add(t.span(), format!("defaults.timeout: {e}")))
            .ok()
    });
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut jobs = Vec::new();
    for spanned in raw.job {
        let job_span = spanned.span();
        let line = at(job_span.clone()).line;
        let job = spanned.into_inner();
        let id = job.id.get_ref().clone();
        let before = problems.list.len();
        if let Some(first) = seen.insert(id.clone(), line) {
            problems.add(
                job.id.span(),
                format!("job {id:?} is declared twice (first on line {first})"),
            );
        }
        let check = |problems: &mut Problems<'_>, result: Result<(), (Range<usize>, String)>| {
            if let Err((span, message)) = result {
                problems.add(span, format!("job {id:?}: {message}"));
            }
        };
        let timing = timing(&job, defaults.use_local_timezone, job_span.clone());
        let args = job
            .args
            .as_ref()
            .map(|a| {
                a.get_ref()
                    .iter()
                    .map(json)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| (a.span(), format!("args: {e}")))
            })
            .transpose();
        let kwargs = job
            .kwargs
            .as_ref()
            .map(|k| table(k.get_ref()).map_err(|e| (k.span(), format!("kwargs: {e}"))))
            .transpose();
        let meta = job
            .meta
            .as_ref()
            .map(|m| {
                let own = table(m.get_ref()).map_err(|e| (m.span(), format!("meta: {e}")))?;
                match own.keys().find(|k| RESERVED_META.contains(&k.as_str())) {
                    Some(k) => Err((
                        m.span(),
                        format!(
                            "meta key {k:?} is rq-scheduler's own: use cron, interval or repeat"
                        ),
                    )),
                    None => Ok(own),
                }
            })
            .transpose();
        let job_timeout = job
            .timeout
            .as_ref()
            .map(|t| timeout(t.get_ref()).map_err(|e| (t.span(), format!("timeout: {e}"))))
            .transpose();
        let (timing, args, kwargs, meta, job_timeout) =
            match (timing, args, kwargs, meta, job_timeout) {
                (Ok(t), Ok(a), Ok(k), Ok(m), Ok(o)) => (t, a, k, m, o),
                (t, a, k, m, o) => {
                    for e in [t.err(), a.err(), k.err(), m.err(), o.err()]
                        .into_iter()
                        .flatten()
                    {
                        check(&mut problems, Err(e));
                    }
                    continue;
                }
            };
        if let Some(r) = &job.repeat
            && !timing.periodic()
        {
            check(
                &mut problems,
                Err((r.span(), "repeat goes with cron or interval, not at".into())),
            );
        }
        let mut merged = default_meta.clone();
        merged.extend(meta.unwrap_or_default());
        let decl = Declaration {
            func: job.func.get_ref().clone(),
            args: args.unwrap_or_default(),
            kwargs: kwargs.unwrap_or_default(),
            queue: job
                .queue
                .as_ref()
                .or(defaults.queue.as_ref())
                .map_or_else(|| "default".to_owned(), |q| q.get_ref().clone()),
            timing,
            repeat: job.repeat.as_ref().map(|r| *r.get_ref()),
            timeout: job_timeout.or(default_timeout),
            result_ttl: job
                .result_ttl
                .as_ref()
                .or(defaults.result_ttl.as_ref())
                .map(|r| *r.get_ref()),
            ttl: job
                .ttl
                .as_ref()
                .or(defaults.ttl.as_ref())
                .map(|t| *t.get_ref()),
            description: job.description.as_ref().map(|d| d.get_ref().clone()),
            meta: merged,
        };
        if problems.list.len() > before {
            continue;
        }
        // The client's own checks (function path, id, cron string, values) and the
        // scheduler's reading of the meta; reported at the key they are about.
        if let Err(e) = decl.prepare(&id, now) {
            let span = blame(&job, &e).unwrap_or(job_span);
            check(&mut problems, Err((span, e)));
            continue;
        }
        jobs.push(Declared { id, line, decl });
    }
    if problems.list.is_empty() {
        Ok(ScheduleFile {
            path: name.to_owned(),
            set,
            jobs,
        })
    } else {
        Err(FileErrors(problems.list))
    }
}

/// Problems found so far, each placed in the file.
struct Problems<'a> {
    name: &'a str,
    text: &'a str,
    lines: &'a Lines,
    list: Vec<String>,
}

impl Problems<'_> {
    fn add(&mut self, span: Range<usize>, message: impl std::fmt::Display) {
        let at = self.lines.position(self.text, span.start);
        self.list.push(format!("{}:{at}: {message}", self.name));
    }
}

/// A set name: what `rq:rqs:schedule-set:<name>` can hold and a person can type.
pub(crate) fn check_set_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 100
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "set name {name:?} must be 1 to 100 letters, digits, '_', '-' or '.'"
        ))
    }
}

/// The key a client error is about, for its line and column.
fn blame(job: &RawJob, error: &str) -> Option<Range<usize>> {
    let e = error.to_ascii_lowercase();
    let span = |s: &Option<Spanned<String>>| s.as_ref().map(Spanned::span);
    if e.contains("cron") {
        span(&job.cron)
    } else if e.contains("job id") || e.contains("id ") && e.contains("invalid") {
        Some(job.id.span())
    } else if e.contains("function") || e.contains("func") {
        Some(job.func.span())
    } else if e.contains("ttl") {
        job.ttl.as_ref().map(Spanned::span)
    } else if e.contains("args") {
        job.args.as_ref().map(Spanned::span)
    } else if e.contains("meta") {
        job.meta.as_ref().map(Spanned::span)
    } else {
        None
    }
}

fn timing(
    job: &RawJob,
    default_local: Option<bool>,
    job_span: Range<usize>,
) -> Result<Timing, (Range<usize>, String)> {
    let given: Vec<&str> = [
        job.cron.as_ref().map(|_| "cron"),
        job.interval.as_ref().map(|_| "interval"),
        job.at.as_ref().map(|_| "at"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if given.len() != 1 {
        let message = if given.is_empty() {
            "needs one of cron, interval or at".to_owned()
        } else {
            format!(
                "has {}: give exactly one of cron, interval or at",
                given.join(" and ")
            )
        };
        return Err((job_span, message));
    }
    if let Some(local) = &job.use_local_timezone
        && job.cron.is_none()
    {
        return Err((local.span(), "use_local_timezone goes with cron".into()));
    }
    if let Some(cron) = &job.cron {
        let local = job
            .use_local_timezone
            .as_ref()
            .map(|l| *l.get_ref())
            .or(default_local)
            .unwrap_or(false);
        return Ok(Timing::Cron {
            expr: cron.get_ref().clone(),
            local,
        });
    }
    if let Some(interval) = &job.interval {
        let seconds = match interval.get_ref() {
            toml::Value::Integer(n) if *n > 0 => Ok(n.unsigned_abs()),
            toml::Value::Integer(n) => Err(format!("interval {n} must be at least 1 second")),
            toml::Value::String(s) => crate::commands::schedule::parse_duration(s)
                .ok()
                .and_then(|d| u64::try_from(d.num_seconds()).ok())
                .filter(|s| *s > 0)
                .ok_or_else(|| format!("interval {s:?} is not a duration like 30s, 5m, 1h or 1d")),
            other => Err(format!(
                "interval must be seconds or a duration like \"5m\", not {}",
                other.type_str()
            )),
        };
        return seconds
            .map(|seconds| Timing::Interval { seconds })
            .map_err(|e| (interval.span(), e));
    }
    let at = job.at.as_ref().expect("one of the three");
    let unix = match at.get_ref() {
        toml::Value::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(_), Some(_), Some(_)) => DateTime::parse_from_rfc3339(&dt.to_string())
                .map(|t| t.timestamp())
                .map_err(|e| format!("at {dt}: {e}")),
            _ => Err(format!(
                "at {dt} needs a date, a time and a UTC offset (e.g. 2030-01-01T09:00:00Z)"
            )),
        },
        toml::Value::String(s) => DateTime::parse_from_rfc3339(s.trim())
            .map(|t| t.timestamp())
            .map_err(|_| format!("at {s:?} is not an RFC 3339 time like 2030-01-01T09:00:00Z")),
        toml::Value::Integer(n) => Ok(*n),
        other => Err(format!("at must be a date-time, not {}", other.type_str())),
    };
    let unix = unix
        .and_then(|u| {
            if crate::output::in_range(u as f64) {
                Ok(u)
            } else {
                Err(format!("at {u} is outside 1970 to 9999"))
            }
        })
        .map_err(|e| (at.span(), e))?;
    Ok(Timing::At { unix })
}

/// RQ's timeout forms: seconds, or "10m", "2h", "1d".
fn timeout(value: &toml::Value) -> Result<i64, String> {
    match value {
        toml::Value::Integer(n) => Ok(*n),
        toml::Value::String(s) => crate::commands::schedule::parse_timeout(s)
            .map_err(|_| format!("{s:?} is not seconds or a duration like 10m, 2h or 1d")),
        other => Err(format!(
            "expected seconds or a duration like \"10m\", not {}",
            other.type_str()
        )),
    }
}

fn table(t: &toml::Table) -> Result<BTreeMap<String, Json>, String> {
    t.iter()
        .map(|(k, v)| {
            json(v)
                .map(|v| (k.clone(), v))
                .map_err(|e| format!("{k}: {e}"))
        })
        .collect()
}

/// A TOML value as the JSON form `rqs schedule` takes; `{"$none" = true}` is Python's
/// None (TOML has no null).
pub(crate) fn json(value: &toml::Value) -> Result<Json, String> {
    Ok(match value {
        toml::Value::String(s) => Json::from(s.clone()),
        toml::Value::Integer(n) => Json::from(*n),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or_else(|| format!("{f} is not a number JSON can hold"))?,
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(dt) => {
            return Err(format!(
                "{dt}: a TOML date-time is not a value a job can take here; quote it as a string"
            ));
        }
        toml::Value::Array(items) => Json::Array(items.iter().map(json).collect::<Result<_, _>>()?),
        toml::Value::Table(t) => {
            if let Some(none) = t.get("$none") {
                if t.len() == 1 && none.as_bool() == Some(true) {
                    return Ok(Json::Null);
                }
                return Err("{\"$none\" = true} is Python's None and takes nothing else".into());
            }
            let map = table(t)?;
            let value = Json::Object(map.into_iter().collect());
            // The escapes ($bytes, $tuple) are checked as rqs schedule checks them.
            super::py_value(&value)?;
            value
        }
    })
}

/// A line and column, counted from 1.
#[derive(Debug, Clone, Copy)]
struct Position {
    line: usize,
    column: usize,
}

/// Where each line starts, so that placing a span costs a search, not a scan of the
/// file (a 10,000-job file places 10,000 of them).
struct Lines(Vec<usize>);

impl Lines {
    fn of(text: &str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self(starts)
    }

    fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let line = self.0.partition_point(|&start| start <= offset);
        let start = self.0[line - 1];
        let column = text.get(start..offset).map_or(0, |l| l.chars().count()) + 1;
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// When a file is used in the daemon: its path and the set it fills.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) file: ScheduleFile,
    pub(crate) set: String,
}

/// The set a file fills: `--set`, else the file's `set`, else `default`; a `--set` that
/// disagrees with the file is an error.
pub(crate) fn set_of(file: &ScheduleFile, flag: Option<&str>) -> Result<String, String> {
    match (flag, &file.set) {
        (Some(f), Some(s)) if f != s => Err(format!(
            "--set {f} disagrees with {}, which says set = {s:?}",
            file.path
        )),
        (Some(f), _) => check_set_name(f).map(|()| f.to_owned()),
        (None, Some(s)) => Ok(s.clone()),
        (None, None) => Ok(DEFAULT_SET.to_owned()),
    }
}

/// The set of a file that names none.
pub(crate) const DEFAULT_SET: &str = "default";

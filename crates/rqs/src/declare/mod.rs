//! Schedules as code: a TOML file declares a set of jobs; `rqs plan` shows what `rqs
//! apply` would change to make Redis match it, and `apply` makes it so in one atomic
//! step (docs/schedules.md).
//!
//! - [`file`] reads and checks a file (every error with its line and column);
//! - [`diff`] compares it with what Redis holds and builds the [`diff::Plan`];
//! - [`render`] prints a plan for people (`+`, `~`, `-`) and for pipelines (JSON);
//! - [`export`] writes what runs today as such a file.
//!
//! What a set declared is recorded under `rq:rqs:` (rqs-redis's `RedisDeclared`), never
//! in the jobs' `meta`, which user code reads.

pub(crate) mod daemon;
pub(crate) mod diff;
pub(crate) mod export;
pub(crate) mod file;
pub(crate) mod render;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use rqs_client::{ClientOptions, CronOptions, Job, Periodic, Prepared, PyValue, When};
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// One declared job, defaults applied: what a set's record keeps for it (as JSON), and
/// what two plans compare.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Declaration {
    pub(crate) func: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) args: Vec<Json>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) kwargs: BTreeMap<String, Json>,
    pub(crate) queue: String,
    pub(crate) timing: Timing,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) repeat: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) result_ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) description: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) meta: BTreeMap<String, Json>,
}

/// When a declared job runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Timing {
    /// At every match of a cron string.
    Cron { expr: String, local: bool },
    /// Every so many seconds, the first run one interval after the job is added.
    Interval { seconds: u64 },
    /// Once, at a Unix second.
    At { unix: i64 },
}

impl Timing {
    /// Whether the job runs more than once.
    pub(crate) fn periodic(&self) -> bool {
        !matches!(self, Timing::At { .. })
    }
}

/// The names of a declaration's fields, in the order plans and files show them.
pub(crate) const FIELDS: [&str; 14] = [
    "func",
    "args",
    "kwargs",
    "queue",
    "cron",
    "use_local_timezone",
    "interval",
    "at",
    "repeat",
    "timeout",
    "result_ttl",
    "ttl",
    "description",
    "meta",
];

impl Declaration {
    /// The value of one of [`FIELDS`] as the file would write it (`None`: not set).
    pub(crate) fn field(&self, name: &str) -> Option<Json> {
        let opt = |v: Option<i64>| v.map(Json::from);
        match (name, &self.timing) {
            ("func", _) => Some(Json::from(self.func.clone())),
            ("args", _) => (!self.args.is_empty()).then(|| Json::Array(self.args.clone())),
            ("kwargs", _) => (!self.kwargs.is_empty()).then(|| object(&self.kwargs)),
            ("queue", _) => Some(Json::from(self.queue.clone())),
            ("cron", Timing::Cron { expr, .. }) => Some(Json::from(expr.clone())),
            ("use_local_timezone", Timing::Cron { local: true, .. }) => Some(Json::Bool(true)),
            ("interval", Timing::Interval { seconds }) => Some(Json::from(*seconds)),
            ("at", Timing::At { unix }) => Some(Json::from(crate::output::rfc3339(*unix as f64))),
            ("repeat", _) => opt(self.repeat),
            ("timeout", _) => opt(self.timeout),
            ("result_ttl", _) => opt(self.result_ttl),
            ("ttl", _) => opt(self.ttl),
            ("description", _) => self.description.clone().map(Json::from),
            ("meta", _) => (!self.meta.is_empty()).then(|| object(&self.meta)),
            _ => None,
        }
    }

    /// The job `rqs-client` writes for this declaration.
    pub(crate) fn job(&self, id: &str) -> Result<Job, String> {
        let mut job = Job::new(&self.func).id(id).queue(&self.queue);
        for (i, arg) in self.args.iter().enumerate() {
            job = job.arg(py_value(arg).map_err(|e| format!("args[{i}]: {e}"))?);
        }
        for (k, v) in &self.kwargs {
            job = job.kwarg(k, py_value(v).map_err(|e| format!("kwargs.{k}: {e}"))?);
        }
        for (k, v) in &self.meta {
            job = job.meta(k, py_value(v).map_err(|e| format!("meta.{k}: {e}"))?);
        }
        if let Some(t) = self.timeout {
            job = job.timeout(t);
        }
        if let Some(s) = self.result_ttl {
            job = job.result_ttl(s);
        }
        if let Some(s) = self.ttl {
            job = job.ttl(s);
        }
        if let Some(d) = &self.description {
            job = job.description(d);
        }
        Ok(job)
    }

    /// When the job is next due if it were added at `now`, as `rqs-client` takes it.
    pub(crate) fn when(&self, now: DateTime<Utc>) -> Result<When, String> {
        Ok(match &self.timing {
            Timing::Cron { expr, local } => {
                let mut options = CronOptions::new().use_local_timezone(*local);
                if let Some(n) = self.repeat {
                    options = options.repeat(n);
                }
                When::Cron(expr.clone(), options)
            }
            Timing::Interval { seconds } => {
                let first = i64::try_from(*seconds)
                    .ok()
                    .and_then(TimeDelta::try_seconds)
                    .and_then(|d| now.checked_add_signed(d))
                    .ok_or_else(|| format!("interval {seconds} is out of range"))?;
                let mut periodic = Periodic::every(Duration::from_secs(*seconds));
                if let Some(n) = self.repeat {
                    periodic = periodic.repeat(n);
                }
                When::Periodic(first, periodic)
            }
            Timing::At { unix } => {
                let at = DateTime::from_timestamp(*unix, 0)
                    .ok_or_else(|| format!("at {unix} is out of range"))?;
                When::At(at)
            }
        })
    }

    /// The hash and score `rqs-client` would write for this job at `now`, checked as the
    /// scheduler will read it.
    pub(crate) fn prepare(&self, id: &str, now: DateTime<Utc>) -> Result<Prepared, String> {
        let job = self.job(id)?;
        let when = self.when(now)?;
        let prepared = rqs_client::prepare(&job, &when, &ClientOptions::default(), now)
            .map_err(|e| e.to_string())?;
        rqs_core::plan::plan_schedule(
            prepared.hash.meta(),
            now,
            &rqs_core::plan::LocalZone::System,
        )
        .map_err(|e| format!("the scheduler could not use this job: {e}"))?;
        Ok(prepared)
    }

    /// Its record: compact JSON, the same for the same declaration.
    pub(crate) fn record(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A record back; `None` for one this rqs cannot read (hand-edited, or newer).
    pub(crate) fn from_record(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

fn object(map: &BTreeMap<String, Json>) -> Json {
    Json::Object(map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// A declared value as Python's: JSON, with `{"$bytes": hex}` and `{"$tuple": [...]}`
/// as `rqs schedule` takes them.
pub(crate) fn py_value(value: &Json) -> Result<PyValue, String> {
    crate::commands::schedule::parse_value("value", &value.to_string())
}

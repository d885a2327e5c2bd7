//! [`Job`]: what to run and how, the Rust side of rq-scheduler's per-call arguments.

use rqs_core::JobId;
use rqs_pickle::PyValue;

/// RQ's default callback timeout (`rq.defaults.CALLBACK_TIMEOUT`).
pub const CALLBACK_TIMEOUT: i64 = 60;

/// A callback run by the worker after the job, named by its dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    pub(crate) path: String,
    pub(crate) timeout: i64,
}

impl Callback {
    /// `rq.Callback(path)`: the function at `path`, with RQ's default 60 s timeout.
    pub fn new(path: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            timeout: CALLBACK_TIMEOUT,
        }
    }

    /// `rq.Callback(path, timeout=seconds)`.
    pub fn timeout(mut self, seconds: i64) -> Self {
        self.timeout = seconds;
        self
    }
}

impl From<&str> for Callback {
    fn from(path: &str) -> Self {
        Callback::new(path)
    }
}

impl From<String> for Callback {
    fn from(path: String) -> Self {
        Callback::new(path)
    }
}

/// Where the `result_ttl` of a job comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum ResultTtl {
    /// rq-scheduler's default: `-1` (keep forever) for interval and cron jobs, none for
    /// the others.
    #[default]
    Default,
    /// This many seconds (`-1` keeps the result forever, `0` drops the job at once).
    Seconds(i64),
    /// No field: the worker's default (500 s), even for a periodic job (Python's
    /// `result_ttl=None` on `cron`).
    Worker,
}

/// A call to schedule: the function's dotted path, its arguments and the job options of
/// rq-scheduler's client.
///
/// ```
/// use rqs_client::{Job, PyValue};
///
/// let job = Job::new("reports.send")
///     .arg(42)
///     .arg(PyValue::bytes(b"\x00\xff".to_vec()))
///     .kwarg("to", "ops@example.com")
///     .queue("reports")
///     .id("weekly-report")
///     .timeout(300)
///     .meta("owner", "ops")
///     .on_failure("reports.alert");
/// assert_eq!(job.func(), "reports.send");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub(crate) func: String,
    pub(crate) args: Vec<PyValue>,
    pub(crate) kwargs: Vec<(String, PyValue)>,
    pub(crate) queue: Option<String>,
    pub(crate) id: Option<JobId>,
    pub(crate) timeout: Option<i64>,
    pub(crate) result_ttl: ResultTtl,
    pub(crate) ttl: Option<i64>,
    pub(crate) description: Option<String>,
    pub(crate) meta: Vec<(String, PyValue)>,
    pub(crate) depends_on: Vec<JobId>,
    pub(crate) at_front: bool,
    pub(crate) on_success: Option<Callback>,
    pub(crate) on_failure: Option<Callback>,
}

/// Sets `key` in an ordered map the way a Python dict assignment does: an existing key
/// keeps its position.
pub(crate) fn assign(pairs: &mut Vec<(String, PyValue)>, key: String, value: PyValue) {
    match pairs.iter_mut().find(|(k, _)| *k == key) {
        Some(slot) => slot.1 = value,
        None => pairs.push((key, value)),
    }
}

impl Job {
    /// A call of the function at `func`, a dotted path the worker imports
    /// (`package.module.function`, or a builtin's bare name).
    pub fn new(func: impl Into<String>) -> Self {
        Self {
            func: func.into(),
            args: Vec::new(),
            kwargs: Vec::new(),
            queue: None,
            id: None,
            timeout: None,
            result_ttl: ResultTtl::Default,
            ttl: None,
            description: None,
            meta: Vec::new(),
            depends_on: Vec::new(),
            at_front: false,
            on_success: None,
            on_failure: None,
        }
    }

    /// The function's dotted path.
    pub fn func(&self) -> &str {
        &self.func
    }

    /// Appends a positional argument.
    pub fn arg(mut self, value: impl Into<PyValue>) -> Self {
        self.args.push(value.into());
        self
    }

    /// Appends positional arguments.
    pub fn args<I: IntoIterator<Item = T>, T: Into<PyValue>>(mut self, values: I) -> Self {
        self.args.extend(values.into_iter().map(Into::into));
        self
    }

    /// Sets a keyword argument (a repeated name keeps its first position and its last
    /// value, as in a Python dict).
    pub fn kwarg(mut self, name: impl Into<String>, value: impl Into<PyValue>) -> Self {
        assign(&mut self.kwargs, name.into(), value.into());
        self
    }

    /// The queue the job goes to (`queue_name`); empty or unset means the client's
    /// default queue.
    pub fn queue(mut self, name: impl Into<String>) -> Self {
        self.queue = Some(name.into());
        self
    }

    /// The job id (`job_id` / `id`), instead of a random uuid4.
    pub fn id(mut self, id: impl Into<JobId>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// The worker's time limit in seconds (`timeout`); `-1` means none.
    pub fn timeout(mut self, seconds: i64) -> Self {
        self.timeout = Some(seconds);
        self
    }

    /// How long the worker keeps the result, in seconds (`job_result_ttl` /
    /// `result_ttl`): `-1` forever, `0` drops the job when it succeeds. Unset, interval
    /// and cron jobs keep theirs forever (rq-scheduler's default, which keeps the job
    /// hash alive for the next run) and other jobs get the worker's default.
    pub fn result_ttl(mut self, seconds: i64) -> Self {
        self.result_ttl = ResultTtl::Seconds(seconds);
        self
    }

    /// Writes no `result_ttl`, so the worker's default (500 s) applies even to an
    /// interval or cron job, as Python's `result_ttl=None` does. Such a periodic job's
    /// hash can expire before its next run.
    pub fn worker_result_ttl(mut self) -> Self {
        self.result_ttl = ResultTtl::Worker;
        self
    }

    /// The job's own time to live in seconds (`job_ttl` / `ttl`), applied when it is
    /// enqueued.
    pub fn ttl(mut self, seconds: i64) -> Self {
        self.ttl = Some(seconds);
        self
    }

    /// The description shown by RQ's tools (`job_description` / `description`); by
    /// default RQ's call string, e.g. `reports.send(42, to='ops')`.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Sets an entry of the job's `meta` dict. rq-scheduler adds its own entries
    /// (`interval`, `repeat`, `cron_string`, `use_local_timezone`) after these, replacing
    /// a user entry of the same name in place.
    pub fn meta(mut self, key: impl Into<String>, value: impl Into<PyValue>) -> Self {
        assign(&mut self.meta, key.into(), value.into());
        self
    }

    /// Makes the job wait for another one (`depends_on`); may be called several times.
    pub fn depends_on(mut self, id: impl Into<JobId>) -> Self {
        self.depends_on.push(id.into());
        self
    }

    /// Pushes the job at the front of its queue when it is due (`at_front`).
    ///
    /// Stored for every kind of job, unlike Python's `enqueue_at`/`enqueue_in`, which
    /// save the job before setting the flag and so lose it.
    pub fn at_front(mut self, yes: bool) -> Self {
        self.at_front = yes;
        self
    }

    /// A function the worker calls after the job succeeds (`on_success`).
    pub fn on_success(mut self, callback: impl Into<Callback>) -> Self {
        self.on_success = Some(callback.into());
        self
    }

    /// A function the worker calls after the job fails (`on_failure`).
    pub fn on_failure(mut self, callback: impl Into<Callback>) -> Self {
        self.on_failure = Some(callback.into());
        self
    }
}

//! [`Client`]: rq-scheduler's `Scheduler` client API over any [`JobAdmin`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rqs_core::{JobHash, JobId};
use rqs_cron::CronExpr;
use rqs_store::{JobAdmin, Page};

use crate::error::{Invalid, Result};
use crate::job::Job;
use crate::record::{self, Kind, RqFormat};

/// Settings shared by every job a [`Client`] writes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The queue of jobs that name none (Python's `Scheduler(queue_name=…)`); default
    /// `"default"`.
    pub queue_name: String,
    /// Which RQ generation's fields to write; the default suits rq 1.16, 2.x and 3.x.
    pub format: RqFormat,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            queue_name: "default".to_owned(),
            format: RqFormat::default(),
        }
    }
}

impl ClientOptions {
    /// Sets the default queue.
    pub fn queue_name(mut self, name: impl Into<String>) -> Self {
        self.queue_name = name.into();
        self
    }

    /// Sets the format.
    pub fn format(mut self, format: RqFormat) -> Self {
        self.format = format;
        self
    }
}

/// How an interval job repeats (`schedule(…, interval=…, repeat=…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Periodic {
    interval: Option<Duration>,
    repeat: Option<i64>,
}

impl Periodic {
    /// Runs once (`schedule` without an interval).
    pub fn once() -> Self {
        Self::default()
    }

    /// Runs every `interval` (whole seconds; at least one), counted from each hand-off.
    pub fn every(interval: Duration) -> Self {
        Self {
            interval: Some(interval),
            repeat: None,
        }
    }

    /// Runs `n` times in all: `0` once, a negative `n` forever (rq-scheduler's `repeat`).
    pub fn repeat(mut self, n: i64) -> Self {
        self.repeat = Some(n);
        self
    }
}

/// How a cron job repeats (`cron(…, repeat=…, use_local_timezone=…)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CronOptions {
    repeat: Option<i64>,
    use_local_timezone: bool,
}

impl CronOptions {
    /// Forever, in UTC.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `n` times in all (see [`Periodic::repeat`]).
    pub fn repeat(mut self, n: i64) -> Self {
        self.repeat = Some(n);
        self
    }

    /// Evaluates the cron string in the local zone of whoever computes the next run
    /// (`TZ`, else `/etc/localtime`) instead of UTC.
    pub fn use_local_timezone(mut self, yes: bool) -> Self {
        self.use_local_timezone = yes;
        self
    }
}

/// Which scheduled jobs [`Client::get_jobs`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobQuery {
    until: Option<DateTime<Utc>>,
    page: Option<Page>,
}

impl JobQuery {
    /// Every scheduled job.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only jobs due at or before `at` (`until=`).
    pub fn until(mut self, at: DateTime<Utc>) -> Self {
        self.until = Some(at);
        self
    }

    /// `length` jobs after skipping `offset` (`offset=`, `length=`).
    pub fn page(mut self, offset: usize, length: usize) -> Self {
        self.page = Some(Page { offset, length });
        self
    }
}

/// A scheduled job as [`Client::get_jobs`] returns it: Python's `(job, time)` pair of
/// `get_jobs(with_times=True)`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScheduledEntry {
    /// The job id.
    pub id: JobId,
    /// When it is due (whole seconds).
    pub at: DateTime<Utc>,
    /// Every field of its hash.
    pub hash: JobHash,
}

impl ScheduledEntry {
    /// The job's decoded `meta` entries, when it has a readable one.
    pub fn meta(&self) -> Option<rqs_pickle::Meta> {
        self.hash
            .meta()
            .and_then(|m| rqs_pickle::Meta::parse(m).ok())
    }
}

/// When a job runs: the schedule argument of each client method.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum When {
    /// Once, at a time (`enqueue_at`).
    At(DateTime<Utc>),
    /// Once, this long after now (`enqueue_in`).
    In(TimeDelta),
    /// At a time, then as `Periodic` says (`schedule`).
    Periodic(DateTime<Utc>, Periodic),
    /// At every match of a cron string (`cron`).
    Cron(String, CronOptions),
}

/// A checked job, ready to write: what [`Client::submit`] stores.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Prepared {
    /// The job id (given, or a new uuid4).
    pub id: JobId,
    /// The job hash, as rq-scheduler writes it.
    pub hash: JobHash,
    /// The schedule score: whole Unix seconds.
    pub score: f64,
}

/// Checks `job` and builds the hash and score rq-scheduler would write for it at `now`,
/// without any I/O.
///
/// # Errors
/// [`Invalid`]: a bad function or callback path, job or dependency id, cron string, ttl,
/// interval, repeat without interval, a time before 1970, or values that cannot be
/// pickled.
pub fn prepare(
    job: &Job,
    when: &When,
    options: &ClientOptions,
    now: DateTime<Utc>,
) -> Result<Prepared, Invalid> {
    let (kind, at) = match when {
        When::At(at) => (Kind::Once, *at),
        When::In(delay) => {
            let at = now
                .checked_add_signed(*delay)
                .ok_or(Invalid::BeforeEpoch(DateTime::<Utc>::MIN_UTC))?;
            (Kind::Once, at)
        }
        When::Periodic(at, periodic) => {
            let interval = match periodic.interval {
                Some(d) if d.as_secs() == 0 => return Err(Invalid::Interval(d)),
                Some(d) => Some(i64::try_from(d.as_secs()).map_err(|_| Invalid::Interval(d))?),
                None => None,
            };
            let kind = Kind::Periodic {
                interval,
                repeat: periodic.repeat,
            };
            (kind, *at)
        }
        When::Cron(expr, cron) => {
            let at = next_cron(expr, cron.use_local_timezone, now)?;
            let kind = Kind::Cron {
                expr: expr.clone(),
                local: cron.use_local_timezone,
                repeat: cron.repeat,
            };
            (kind, at)
        }
    };
    let score = record::score(at)?;
    let (id, hash) = record::build(job, &kind, now, &options.queue_name, options.format)?;
    Ok(Prepared { id, hash, score })
}

type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Schedules RQ jobs the way rq-scheduler's Python `Scheduler` does, on any store that
/// implements [`JobAdmin`] (with the default `redis` feature,
/// [`Client::connect`] builds one over `RedisJobStore`).
///
/// Every method that writes checks the whole job first: an invalid job is an
/// [`Error::Invalid`](crate::Error::Invalid) and writes nothing. The hash and the
/// schedule entry are written in one atomic step (Python writes them one after the other).
#[derive(Clone)]
pub struct Client<S> {
    store: S,
    options: ClientOptions,
    clock: Clock,
}

impl<S> fmt::Debug for Client<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl<S: JobAdmin> Client<S> {
    /// A client on `store` with the default options.
    pub fn new(store: S) -> Self {
        Self::with_options(store, ClientOptions::default())
    }

    /// A client on `store`.
    pub fn with_options(store: S, options: ClientOptions) -> Self {
        Self {
            store,
            options,
            clock: Arc::new(Utc::now),
        }
    }

    /// Replaces the clock (`created_at`, `enqueue_in` and cron's first run read it).
    pub fn with_clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The options.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// Checks `job` and builds its hash and score for `when`, with this client's options
    /// and clock, without writing anything; [`submit`](Self::submit) writes the result.
    ///
    /// # Errors
    /// [`Invalid`] as for [`prepare`].
    pub fn prepare(&self, job: &Job, when: &When) -> Result<Prepared, Invalid> {
        prepare(job, when, &self.options, (self.clock)())
    }

    /// Writes a prepared job: its hash and its schedule entry, in one atomic step.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store) when the store fails.
    pub async fn submit(&self, prepared: &Prepared) -> Result<JobId> {
        self.store
            .schedule(&prepared.id, &prepared.hash, prepared.score)
            .await?;
        Ok(prepared.id.clone())
    }

    async fn write(&self, job: &Job, when: &When) -> Result<JobId> {
        let prepared = self.prepare(job, when)?;
        self.submit(&prepared).await
    }

    /// Schedules `job` to be enqueued at `at` (`enqueue_at`). A time in the past makes
    /// it due at once.
    ///
    /// # Errors
    /// [`Error::Invalid`](crate::Error::Invalid) for an invalid job or a time before
    /// 1970; [`Error::Store`](crate::Error::Store) when the store fails.
    pub async fn enqueue_at(&self, at: DateTime<Utc>, job: &Job) -> Result<JobId> {
        self.write(job, &When::At(at)).await
    }

    /// Schedules `job` `delay` from now (`enqueue_in`); a negative delay is a time in
    /// the past.
    ///
    /// # Errors
    /// As [`enqueue_at`](Self::enqueue_at).
    pub async fn enqueue_in(&self, delay: TimeDelta, job: &Job) -> Result<JobId> {
        self.write(job, &When::In(delay)).await
    }

    /// Schedules `job` at `at`, then every interval of `periodic` (`schedule`).
    ///
    /// # Errors
    /// As [`enqueue_at`](Self::enqueue_at), and [`Invalid::Interval`] for an interval
    /// under one second, [`Invalid::RepeatWithoutInterval`] for a non-zero repeat without
    /// one.
    pub async fn schedule(
        &self,
        at: DateTime<Utc>,
        job: &Job,
        periodic: Periodic,
    ) -> Result<JobId> {
        self.write(job, &When::Periodic(at, periodic)).await
    }

    /// Schedules `job` at every match of `cron_string` (`cron`), first at the next match
    /// after now, in UTC or, with [`CronOptions::use_local_timezone`], in the local zone
    /// (as rqs evaluates it; rq-scheduler uses the host's zone either way, the same on
    /// UTC hosts). The grammar is Python `crontab`'s.
    ///
    /// # Errors
    /// As [`enqueue_at`](Self::enqueue_at), and [`Invalid::Cron`] /
    /// [`Invalid::NoFutureMatch`] for a cron string Python would refuse or that never
    /// matches again.
    pub async fn cron(&self, cron_string: &str, job: &Job, options: CronOptions) -> Result<JobId> {
        self.write(job, &When::Cron(cron_string.to_owned(), options))
            .await
    }

    /// Removes a job from the schedule, leaving its hash (`cancel`); `true` when it was
    /// scheduled.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store).
    pub async fn cancel(&self, id: &JobId) -> Result<bool> {
        Ok(self.store.cancel(id).await?)
    }

    /// Moves a scheduled job to `at` (`change_execution_time`), atomically.
    ///
    /// # Errors
    /// [`Error::NotScheduled`](crate::Error::NotScheduled) for a job that is not
    /// scheduled, [`Invalid::BeforeEpoch`], or a store error.
    pub async fn change_execution_time(&self, id: &JobId, at: DateTime<Utc>) -> Result<()> {
        let score = record::score(at)?;
        Ok(self.store.change_execution_time(id, score).await?)
    }

    /// The number of scheduled jobs, those due by `until` when given (`count`).
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store).
    pub async fn count(&self, until: Option<DateTime<Utc>>) -> Result<u64> {
        let until = until.map(|t| rqs_core::time::floor_seconds(t) as f64);
        Ok(self.store.count(until).await?)
    }

    /// The scheduled jobs in due order, with their times and hashes (`get_jobs`, always
    /// `with_times`). An id whose hash is gone is removed from the schedule and left out,
    /// as Python does.
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store).
    pub async fn get_jobs(&self, query: JobQuery) -> Result<Vec<ScheduledEntry>> {
        let until = query.until.map(|t| rqs_core::time::floor_seconds(t) as f64);
        let listed = self.store.list(until, query.page).await?;
        let mut out = Vec::with_capacity(listed.len());
        for (id, score) in listed {
            match self.store.job(&id).await? {
                Some(hash) => out.push(ScheduledEntry {
                    at: from_score(score),
                    id,
                    hash,
                }),
                None => {
                    self.store.cancel(&id).await?;
                }
            }
        }
        Ok(out)
    }

    /// Whether a job is scheduled (Python's `job_id in scheduler`).
    ///
    /// # Errors
    /// [`Error::Store`](crate::Error::Store).
    pub async fn contains(&self, id: &JobId) -> Result<bool> {
        Ok(self.store.score(id).await?.is_some())
    }
}

/// The first run of a cron job after `now`.
pub(crate) fn next_cron(
    expr: &str,
    local: bool,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, Invalid> {
    let parsed = CronExpr::parse(expr).map_err(|e| Invalid::Cron {
        expr: expr.to_owned(),
        reason: e.to_string(),
    })?;
    let next = if local {
        rqs_core::plan::LocalZone::System.next(&parsed, now)
    } else {
        parsed.next_in(now, &Utc)
    };
    next.ok_or_else(|| Invalid::NoFutureMatch(expr.to_owned()))
}

fn from_score(score: f64) -> DateTime<Utc> {
    let secs = score.floor();
    let nanos = ((score - secs) * 1e9) as u32;
    Utc.timestamp_opt(secs as i64, nanos)
        .single()
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

#[cfg(feature = "redis")]
impl Client<rqs_redis::RedisJobStore<rqs_redis::redis::aio::ConnectionManager>> {
    /// A client on the Redis at `url` (`redis://[user:password@]host:port/db` or
    /// `unix:///path`), over a reconnecting connection.
    ///
    /// # Errors
    /// [`rqs_redis::ConnectError`] for a bad URL or a Redis that does not answer.
    pub async fn connect(url: &str) -> Result<Self, rqs_redis::ConnectError> {
        let conn = rqs_redis::connect(url, &rqs_redis::ConnectOptions::default()).await?;
        Ok(Self::new(rqs_redis::RedisJobStore::new(conn)))
    }
}

//! [`SchedulerConfig`]: how the scheduler runs, with its defaults and checks.

use std::time::Duration;

use rqs_core::plan::LocalZone;
use rqs_lock::MAX_NAME_LEN;

/// How the scheduler runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// The instance name (`rq:scheduler_instance:<name>`): at most
    /// [`MAX_NAME_LEN`] bytes of `[A-Za-z0-9._:-]`.
    pub name: String,
    /// rq-scheduler's `--interval`: the instance record lives `int(interval) + 10`
    /// seconds between heartbeats, as Python's does.
    pub interval: Duration,
    /// The longest the active instance sleeps before looking at the head of the schedule
    /// again, so a job added with an earlier due time is not missed. The active instance
    /// also wakes exactly at the next due time.
    pub peek_interval: Duration,
    /// The lifetime of the lock lease. The active instance renews it when half of it is
    /// gone; after a crash a standby takes over once it expires.
    pub lease: Duration,
    /// How often an instance without the lock tries to take it.
    pub lock_retry: Duration,
    /// Quit after the first pass that held the lock (rq-scheduler's `--burst`).
    pub burst: bool,
    /// Jobs per atomic hand-off batch.
    pub batch_size: usize,
    /// The zone of `use_local_timezone=True` cron jobs.
    pub local_zone: LocalZone,
    /// How often to try again while the backend is unavailable (a transient error:
    /// refused or dropped connections, timeouts, a server loading, full or failing
    /// over). Each wait adds up to half of it at random, so that instances do not retry
    /// in step. It does not grow with the outage: the scheduler is back within about one
    /// period of the backend answering, however long it was away.
    pub retry_every: Duration,
    /// Longest wait between retries after an error that is not transient (a refused
    /// permission, say): the wait doubles from 100 ms up to this.
    pub max_backoff: Duration,
    /// Refuse to start while a live scheduler instance that is not rqs (a Python
    /// `rqscheduler`) is registered, instead of warning.
    pub exclusive: bool,
    /// Passes in a row a job may come back stale or with a changed meta before it is
    /// quarantined.
    pub stuck_limit: u32,
    /// How often the instance refreshes its record's heartbeat (at most a third of the
    /// record's life). Keep it well under
    /// [`STALE_AFTER`](rqs_lifecycle::STALE_AFTER): a restart under the same name
    /// takes over a record whose heartbeat is older than that.
    pub heartbeat: Duration,
}

impl SchedulerConfig {
    /// The defaults: rq-scheduler's 60 s interval, a 1 s peek, a 5 s lease retried every
    /// second, batches of 200 (each script then holds Redis for
    /// a few milliseconds at most).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            interval: Duration::from_secs(60),
            peek_interval: Duration::from_secs(1),
            lease: Duration::from_secs(5),
            lock_retry: Duration::from_secs(1),
            burst: false,
            batch_size: 200,
            local_zone: LocalZone::System,
            retry_every: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            exclusive: false,
            stuck_limit: 5,
            heartbeat: rqs_lifecycle::HEARTBEAT_EVERY,
        }
    }

    /// Sets the interval.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the peek interval.
    pub fn peek_interval(mut self, peek: Duration) -> Self {
        self.peek_interval = peek;
        self
    }

    /// Sets the lease lifetime.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Sets how often a standby tries the lock.
    pub fn lock_retry(mut self, retry: Duration) -> Self {
        self.lock_retry = retry;
        self
    }

    /// Sets burst mode.
    pub fn burst(mut self, burst: bool) -> Self {
        self.burst = burst;
        self
    }

    /// Sets the batch size (at least 1).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }

    /// Sets the zone of `use_local_timezone=True` cron jobs.
    pub fn local_zone(mut self, zone: LocalZone) -> Self {
        self.local_zone = zone;
        self
    }

    /// Sets the retry period during an outage (at least 10 ms).
    pub fn retry_every(mut self, every: Duration) -> Self {
        self.retry_every = every.max(Duration::from_millis(10));
        self
    }

    /// Sets the longest retry wait after an error that is not transient.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// Refuses to start beside a live non-rqs scheduler.
    pub fn exclusive(mut self, exclusive: bool) -> Self {
        self.exclusive = exclusive;
        self
    }

    /// Sets the heartbeat period (at least 100 ms).
    pub fn heartbeat_every(mut self, every: Duration) -> Self {
        self.heartbeat = every.max(Duration::from_millis(100));
        self
    }

    /// Sets how many times in a row a job may come back stale before its quarantine.
    pub fn stuck_limit(mut self, passes: u32) -> Self {
        self.stuck_limit = passes.max(1);
        self
    }

    /// `int(interval) + 10` seconds, rq-scheduler's instance record time to live.
    pub fn record_ttl(&self) -> Duration {
        Duration::from_secs(self.interval.as_secs() + 10)
    }

    /// Checks the values the backends rely on.
    ///
    /// # Errors
    /// A message naming the bad value.
    pub fn validate(&self) -> Result<(), String> {
        let name_ok = !self.name.is_empty()
            && self.name.len() <= MAX_NAME_LEN
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b));
        if !name_ok {
            return Err(format!(
                "the instance name {:?} must be 1 to {MAX_NAME_LEN} characters of A-Z a-z 0-9 . _ : -",
                self.name
            ));
        }
        if self.lease < Duration::from_millis(100) || self.lock_retry.is_zero() {
            return Err("the lease must be at least 100 ms and the lock retry positive".into());
        }
        if self.lease <= self.peek_interval.min(self.interval) {
            return Err(format!(
                "the lease ({:?}) must be longer than the peek interval ({:?}), or it expires between renewals",
                self.lease, self.peek_interval
            ));
        }
        Ok(())
    }

    /// How often every instance writes its heartbeat: the configured period, and at
    /// least three times in the record's life.
    pub(super) fn heartbeat_period(&self) -> Duration {
        self.heartbeat.min(self.record_ttl() / 3)
    }
}

//! The scheduler loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rqs_core::plan::{self, LocalZone};
use rqs_core::{Action, HandOff, Outcome, time};
use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_sink::QueueSink;
use rqs_store::JobStore;
use tracing::{debug, error, info, warn};

use crate::Error;
use crate::clock::{Clock, SystemClock};
use crate::stop::Stop;

/// How the scheduler runs.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerConfig {
    /// The instance name (`rq:scheduler_instance:<name>`).
    pub name: String,
    /// rq-scheduler's `--interval`: the lock and heartbeat time to live is
    /// `int(interval) + 10` seconds, and a standby instance tries the lock this often.
    pub interval: Duration,
    /// The longest the active instance sleeps before looking at the head of the schedule
    /// again, so a job added with an earlier due time is not missed until the next
    /// interval. The active instance also wakes exactly at the next due time.
    pub peek_interval: Duration,
    /// Quit after the first pass that held the lock (rq-scheduler's `--burst`).
    pub burst: bool,
    /// Jobs per atomic hand-off batch.
    pub batch_size: usize,
    /// The zone of `use_local_timezone=True` cron jobs.
    pub local_zone: LocalZone,
    /// Longest wait between retries after a backend error.
    pub max_backoff: Duration,
}

impl SchedulerConfig {
    /// rq-scheduler's defaults: 60 s interval, plus a 1 s peek and batches of 500.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            interval: Duration::from_secs(60),
            peek_interval: Duration::from_secs(1),
            burst: false,
            batch_size: 500,
            local_zone: LocalZone::System,
            max_backoff: Duration::from_secs(30),
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

    /// Sets the longest retry wait.
    pub fn max_backoff(mut self, max: Duration) -> Self {
        self.max_backoff = max;
        self
    }

    /// `int(interval) + 10` seconds, rq-scheduler's lock and heartbeat time to live.
    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.interval.as_secs() + 10)
    }
}

/// Counts of what passes did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Jobs pushed on a queue.
    pub pushed: u64,
    /// Jobs deferred behind a dependency.
    pub deferred: u64,
    /// Jobs removed because their hash was gone.
    pub unscheduled: u64,
    /// Jobs moved to the quarantine.
    pub quarantined: u64,
    /// Jobs left alone because a client changed them meanwhile.
    pub skipped: u64,
    /// Atomic batches committed.
    pub batches: u64,
}

impl Stats {
    fn count(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Pushed => self.pushed += 1,
            Outcome::Deferred => self.deferred += 1,
            Outcome::Unscheduled | Outcome::Vanished => self.unscheduled += 1,
            Outcome::Quarantined => self.quarantined += 1,
            _ => self.skipped += 1,
        }
    }

    fn add(&mut self, other: Stats) {
        self.pushed += other.pushed;
        self.deferred += other.deferred;
        self.unscheduled += other.unscheduled;
        self.quarantined += other.quarantined;
        self.skipped += other.skipped;
        self.batches += other.batches;
    }

    fn moved(&self) -> u64 {
        self.pushed + self.deferred + self.unscheduled + self.quarantined
    }
}

/// Why a pass ended.
enum PassEnd {
    /// Nothing more is due.
    Drained,
    /// A batch made no progress (every job was changed by a client meanwhile).
    Stalled,
    /// Shutdown was requested between batches.
    Stopped,
    /// Another instance holds the lock now.
    LostLock,
}

/// The scheduler: moves due jobs from a [`JobStore`] into queues described by a
/// [`QueueSink`], while holding a [`LockProvider`] lease and announcing itself in a
/// [`LifecycleRegistry`]. It names no backend type.
#[derive(Debug)]
pub struct Scheduler<S, Q, L, R> {
    store: S,
    sink: Q,
    lock: L,
    lifecycle: R,
    config: SchedulerConfig,
    clock: Arc<dyn Clock>,
}

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: JobStore,
    Q: QueueSink,
    L: LockProvider,
    R: LifecycleRegistry,
{
    /// A scheduler on the system clock.
    pub fn new(store: S, sink: Q, lock: L, lifecycle: R, config: SchedulerConfig) -> Self {
        Self {
            store,
            sink,
            lock,
            lifecycle,
            config,
            clock: Arc::new(SystemClock),
        }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// Runs until `shutdown` resolves (or, in burst mode, until one pass held the lock).
    ///
    /// Registers its birth (refusing a name that is alive), then loops: heartbeat, take or
    /// renew the lock, move every due job in atomic batches, sleep until the next due time
    /// or the next peek. On shutdown it finishes the batch in flight, releases the lock and
    /// registers its death. Backend errors are logged and retried with a growing backoff;
    /// in burst mode a non-transient error ends the run.
    ///
    /// # Errors
    /// [`Error::AlreadyActive`] when an instance of the same name is alive; a backend error
    /// at birth; a non-transient backend error in burst mode.
    pub async fn run<F>(&self, shutdown: F) -> Result<Stats, Error>
    where
        F: Future<Output = ()> + Send,
    {
        let name = &self.config.name;
        let born = self.clock.now();
        self.lifecycle
            .register_birth(name, born, self.config.ttl())
            .await
            .map_err(birth_error)?;
        info!(name = %name, interval = ?self.config.interval, burst = self.config.burst, "registered birth");
        let token = format!(
            "{name}@{}",
            time::python_float_repr(time::unix_seconds(born))
        );
        let mut stop = Stop::new(shutdown);
        let mut holding = false;
        let mut failures = 0u32;
        let mut total = Stats::default();

        let result = loop {
            if stop.requested() {
                break Ok(());
            }
            match self
                .iteration(&token, &mut holding, &mut stop, &mut total)
                .await
            {
                Ok(Some(wake)) => {
                    failures = 0;
                    self.sleep_until(wake, &mut stop).await;
                }
                Ok(None) => break Ok(()),
                Err(e) => {
                    failures += 1;
                    if let Error::AlreadyActive(_) = e {
                        error!(error = %e, "name clash at re-birth, giving up");
                        break Err(e);
                    }
                    if self.config.burst && !e.is_transient() {
                        error!(error = %e, "backend error in burst mode, giving up");
                        break Err(e);
                    }
                    let wait = self.backoff(failures);
                    warn!(error = %e, retry_in = ?wait, "backend error; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.wait() => {}
                    }
                }
            }
        };
        // After a clash at re-birth the record is another instance's: leave it alone.
        let owns_record = !matches!(result, Err(Error::AlreadyActive(_)));
        self.shut_down(&token, holding, owns_record).await;
        info!(
            pushed = total.pushed,
            deferred = total.deferred,
            unscheduled = total.unscheduled,
            quarantined = total.quarantined,
            "scheduler stopped"
        );
        result.map(|()| total)
    }

    /// One loop turn: returns when to wake next, or `None` to quit (burst done).
    async fn iteration<F: Future<Output = ()>>(
        &self,
        token: &str,
        holding: &mut bool,
        stop: &mut Stop<F>,
        total: &mut Stats,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        let name = &self.config.name;
        let ttl = self.config.ttl();
        if !self
            .lifecycle
            .heartbeat(name, ttl)
            .await
            .map_err(Error::Lifecycle)?
        {
            warn!(name = %name, "instance record expired (a long pause?); registering birth again");
            self.lifecycle
                .register_birth(name, self.clock.now(), ttl)
                .await
                .map_err(birth_error)?;
        }
        let renewed = *holding && self.lock.renew(token, ttl).await.map_err(Error::Lock)?;
        if *holding && !renewed {
            warn!("lost the scheduler lock; trying to take it again");
        }
        *holding = renewed || self.take_lock(token, ttl).await?;
        if !*holding {
            return Ok(Some(self.clock.now() + to_chrono(self.config.interval)));
        }

        let (stats, end) = self.pass(token, stop).await?;
        total.add(stats);
        if stats.moved() > 0 || stats.skipped > 0 {
            info!(
                pushed = stats.pushed,
                deferred = stats.deferred,
                unscheduled = stats.unscheduled,
                quarantined = stats.quarantined,
                skipped = stats.skipped,
                batches = stats.batches,
                "moved due jobs"
            );
        }
        match end {
            PassEnd::LostLock => {
                // Try to take it back at once: it may simply have expired.
                *holding = false;
                return Ok(Some(self.clock.now()));
            }
            PassEnd::Stopped => return Ok(None),
            PassEnd::Drained | PassEnd::Stalled if self.config.burst => {
                info!("burst done, quitting");
                return Ok(None);
            }
            PassEnd::Drained | PassEnd::Stalled => {}
        }
        // The active instance renews its lease at least every peek, well within the TTL.
        let now = self.clock.now();
        let cap = self.config.peek_interval.min(self.config.interval);
        let mut wake = now + to_chrono(cap);
        if !matches!(end, PassEnd::Stalled)
            && let Some(next) = self.store.next_due().await.map_err(Error::Store)?
        {
            // A job is due once floor(now) reaches its score, i.e. at the whole second
            // ceil(score).
            let next = from_unix(next.ceil());
            if next > now || stats.batches > 0 {
                wake = wake.min(next.max(now));
            }
        }
        Ok(Some(wake))
    }

    /// Tries to take the lock. A lock that already carries our token is ours: the reply to
    /// an earlier, successful acquire was lost (a timeout), so take it back by renewing.
    async fn take_lock(&self, token: &str, ttl: Duration) -> Result<bool, Error> {
        if self.lock.acquire(token, ttl).await.map_err(Error::Lock)? {
            return Ok(true);
        }
        let holder = self.lock.holder().await.map_err(Error::Lock)?;
        if holder.as_deref() == Some(token) {
            warn!("found the scheduler lock held under our own token; keeping it");
            return self.lock.renew(token, ttl).await.map_err(Error::Lock);
        }
        info!(
            holder = holder.as_deref().unwrap_or("nobody (it was just released)"),
            "lock already taken - skipping run"
        );
        Ok(false)
    }

    /// Moves due jobs in batches until none is due, the lock is lost or shutdown is asked.
    async fn pass<F: Future<Output = ()>>(
        &self,
        token: &str,
        stop: &mut Stop<F>,
    ) -> Result<(Stats, PassEnd), Error> {
        let mut stats = Stats::default();
        loop {
            let now = self.clock.now();
            let until = time::floor_seconds(now) as f64;
            let due = self
                .store
                .due(until, self.config.batch_size)
                .await
                .map_err(Error::Store)?;
            if due.is_empty() {
                return Ok((stats, PassEnd::Drained));
            }
            let full = due.len() >= self.config.batch_size;
            let batch: Vec<HandOff> = due
                .iter()
                .map(|job| {
                    let (handoff, notes) = plan::decide(job, now, &self.config.local_zone, |j| {
                        self.sink.prepare(j, now)
                    });
                    for note in notes {
                        warn!(job = %note.job_id, "{}", note.message);
                    }
                    handoff
                })
                .collect();
            let outcomes = self.store.commit(&batch).await.map_err(Error::Store)?;
            let mut batch_stats = Stats {
                batches: 1,
                ..Stats::default()
            };
            for (handoff, outcome) in batch.iter().zip(&outcomes) {
                debug!(job = %handoff.job_id, outcome = %outcome, "hand-off");
                match (outcome, &handoff.action) {
                    (Outcome::Vanished, _) => warn!(
                        job = %handoff.job_id,
                        "job hash disappeared before its hand-off: removed from the schedule"
                    ),
                    (Outcome::Quarantined, Action::Enqueue { .. }) => warn!(
                        job = %handoff.job_id,
                        "quarantined by the store: one of its keys has the wrong type (reason in rqs:quarantine)"
                    ),
                    _ => {}
                }
                batch_stats.count(*outcome);
            }
            stats.add(batch_stats);
            if batch_stats.moved() == 0 {
                return Ok((stats, PassEnd::Stalled));
            }
            if !full {
                return Ok((stats, PassEnd::Drained));
            }
            if stop.requested() {
                return Ok((stats, PassEnd::Stopped));
            }
            if !self
                .lock
                .renew(token, self.config.ttl())
                .await
                .map_err(Error::Lock)?
            {
                warn!("lost the scheduler lock in the middle of a pass; standing by");
                return Ok((stats, PassEnd::LostLock));
            }
        }
    }

    async fn sleep_until<F: Future<Output = ()>>(&self, wake: DateTime<Utc>, stop: &mut Stop<F>) {
        let wait = (wake - self.clock.now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.wait() => {}
        }
    }

    fn backoff(&self, failures: u32) -> Duration {
        let base = Duration::from_millis(100);
        base.saturating_mul(1u32 << failures.min(16))
            .min(self.config.max_backoff)
    }

    /// Releases the lock and registers death, logging (not returning) errors: the process
    /// is ending either way, and the lock and record expire on their own.
    async fn shut_down(&self, token: &str, holding: bool, owns_record: bool) {
        if holding {
            match self.lock.release(token).await {
                Ok(true) => debug!("released the scheduler lock"),
                Ok(false) => warn!("the scheduler lock was no longer ours at shutdown"),
                Err(e) => {
                    warn!(error = %e, "could not release the scheduler lock; it expires on its own")
                }
            }
        }
        if !owns_record {
            return;
        }
        if let Err(e) = self
            .lifecycle
            .register_death(&self.config.name, self.clock.now())
            .await
        {
            warn!(error = %e, "could not register death; the record expires on its own");
        } else {
            info!(name = %self.config.name, "registered death");
        }
    }
}

/// A name clash is the same fatal error at re-birth (after an outage) as at first birth.
fn birth_error(e: rqs_lifecycle::Error) -> Error {
    match e {
        rqs_lifecycle::Error::AlreadyActive(n) => Error::AlreadyActive(n),
        other => Error::Lifecycle(other),
    }
}

fn to_chrono(d: Duration) -> chrono::TimeDelta {
    chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
}

fn from_unix(score: f64) -> DateTime<Utc> {
    let secs = score.floor();
    let nanos = ((score - secs) * 1e9) as u32;
    DateTime::from_timestamp(secs as i64, nanos.min(999_999_999))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

//! The scheduler loop.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rqs_core::fast::{FastHandOff as FastHandOffRecord, FastLane, MetaPlan};
use rqs_core::plan::{self, LocalZone};
use rqs_core::{
    Action, Escaped, HandOff, JobId, Outcome, QuarantineKind, QueueName, ScheduledJob, time,
};
use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::{LockProvider, MAX_NAME_LEN};
use rqs_sink::QueueSink;
use rqs_store::{FastHandOff, JobStore};
use tokio::time::Instant;
use tracing::{debug, error, info, warn};

use crate::Error;
use crate::clock::{Clock, SystemClock};
use crate::observer::{Event, NoObserver, Observer, StepDown};
use crate::stop::Stop;

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
    fn heartbeat_period(&self) -> Duration {
        self.heartbeat.min(self.record_ttl() / 3)
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
    /// Pushed or deferred jobs re-armed for a next run.
    pub rescheduled: u64,
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
        self.rescheduled += other.rescheduled;
        self.unscheduled += other.unscheduled;
        self.quarantined += other.quarantined;
        self.skipped += other.skipped;
        self.batches += other.batches;
    }
}

/// Why a pass ended.
enum PassEnd {
    /// Nothing more is due (`stuck` jobs are due but could not be moved); `moved` is
    /// whether any batch was committed.
    Drained { stuck: usize, moved: bool },
    /// Shutdown was requested between batches.
    Stopped,
    /// The lease is gone; another instance may act.
    SteppedDown,
}

/// How a run of fast-lane windows ended; `moved` is whether any window handed a job over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastEnd {
    /// Fewer jobs than a window holds were due: the pass is done.
    Drained { moved: bool },
    /// A window stopped at a job that needs a decision: the ordinary path takes it.
    NeedsDecision { moved: bool },
    /// The backend refused the fast lane (an ACL).
    Refused { moved: bool },
    /// Shutdown was requested between windows.
    Stopped,
    /// The lease is gone.
    SteppedDown,
}

/// A fast-lane window on its way.
struct Window {
    handle: tokio::task::JoinHandle<rqs_store::Result<rqs_core::fast::FastPass>>,
    limit: usize,
    started: Instant,
}

/// The windows of one fast-lane run: those on their way, and what ends the run.
#[derive(Default)]
struct FastRun {
    in_flight: VecDeque<Window>,
    end: Option<FastEnd>,
    error: Option<Error>,
}

impl FastRun {
    /// Files the outcome of a send: a window on its way, why none was sent, or a failure.
    fn file(&mut self, sent: Result<Result<Window, FastEnd>, Error>) {
        match sent {
            Ok(Ok(window)) => self.in_flight.push_back(window),
            Ok(Err(reason)) => self.end = Some(reason),
            Err(e) => self.error = Some(e),
        }
    }

    /// Whether the run is ending: nothing more is sent, what is on its way is awaited.
    fn ending(&self) -> bool {
        self.end.is_some() || self.error.is_some()
    }
}

/// How long a birth refused for a name clash is tried again before the clash is taken
/// as real: long enough for a crashed instance's heartbeat to go stale.
const NAME_WAIT: Duration = rqs_lifecycle::STALE_AFTER.saturating_add(Duration::from_secs(2));
const NAME_RETRY: Duration = Duration::from_millis(500);

/// A backend outage under way, and the state of the retry jitter.
#[derive(Debug)]
struct Outage {
    since: Option<Instant>,
    seed: u64,
}

impl Default for Outage {
    fn default() -> Self {
        // Distinct per process, so that instances restarted together do not retry in step.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        Self {
            since: None,
            seed: u64::from(std::process::id()) << 32 | u64::from(nanos) | 1,
        }
    }
}

impl Outage {
    /// A number in [0, 1) from a xorshift generator: jitter needs no better.
    fn jitter(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the loop remembers between turns.
struct State {
    token: String,
    holding: bool,
    /// When the last successful acquire or renew was sent: the lease lasts from there.
    leased_at: Option<Instant>,
    last_heartbeat: Option<Instant>,
    /// Passes in a row each job came back stale or with a changed meta.
    stuck: HashMap<JobId, u32>,
    /// Jobs held out of an unusable quarantine, each logged once while it lasts.
    held: HashSet<JobId>,
    /// Passes a burst made after its first.
    burst_retries: u32,
    /// Metas of periodic jobs handed over lately, newest first: the fast lane's table.
    metas: Vec<Vec<u8>>,
    /// Their plans, for one second.
    plans: Option<(i64, Vec<MetaPlan>)>,
    /// The backend refused the fast lane (an ACL): the ordinary path only.
    fast_refused: bool,
}

/// How many metas the fast lane knows at most, and how long one may be: every window
/// carries the table, so it stays small.
const FAST_METAS: usize = 16;
const FAST_META_BYTES: usize = 512;

impl State {
    /// Remembers the meta of a job the ordinary path handed over, for the fast lane.
    fn learn(&mut self, job: &ScheduledJob) {
        let Some(meta) = job.hash.as_ref().and_then(rqs_core::JobHash::meta) else {
            return;
        };
        if meta.len() > FAST_META_BYTES {
            return;
        }
        if let Some(at) = self.metas.iter().position(|m| m == meta) {
            if at == 0 {
                return;
            }
            self.metas.remove(at);
        }
        self.metas.insert(0, meta.to_vec());
        self.metas.truncate(FAST_METAS);
        self.plans = None;
    }

    /// The plans of the known metas at `now` (recomputed once a second: interval and
    /// cron times depend on it).
    fn plans(&mut self, now: DateTime<Utc>, local: &LocalZone) -> Vec<MetaPlan> {
        let second = time::floor_seconds(now);
        match &self.plans {
            Some((at, plans)) if *at == second => plans.clone(),
            _ => {
                let plans: Vec<MetaPlan> = self
                    .metas
                    .iter()
                    .filter_map(|m| MetaPlan::for_meta(m, now, local))
                    .collect();
                self.plans = Some((second, plans.clone()));
                plans
            }
        }
    }

    fn lease_left(&self, lease: Duration) -> Duration {
        self.leased_at
            .map_or(Duration::ZERO, |at| lease.saturating_sub(at.elapsed()))
    }
}

/// The scheduler: moves due jobs from a [`JobStore`] into queues described by a
/// [`QueueSink`], while holding a [`LockProvider`] lease and announcing itself in a
/// [`LifecycleRegistry`]. It names no backend type, and reports what it does to an
/// [`Observer`].
#[derive(Debug)]
pub struct Scheduler<S, Q, L, R> {
    store: S,
    sink: Q,
    lock: L,
    lifecycle: R,
    config: SchedulerConfig,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    fast: Option<Arc<dyn FastHandOff>>,
}

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: JobStore,
    Q: QueueSink,
    L: LockProvider,
    R: LifecycleRegistry,
{
    /// A scheduler on the system clock, observed by nobody.
    pub fn new(store: S, sink: Q, lock: L, lifecycle: R, config: SchedulerConfig) -> Self {
        Self {
            store,
            sink,
            lock,
            lifecycle,
            config,
            clock: Arc::new(SystemClock),
            observer: Arc::new(NoObserver),
            fast: None,
        }
    }

    /// Runs the fast lane ([`rqs_core::fast`]) through `fast`, usually the same store:
    /// due jobs that need no decision are handed over in the same step as their read.
    /// Each window runs as a Tokio task, the next one sent while the last is reported.
    pub fn with_fast_lane(mut self, fast: Arc<dyn FastHandOff>) -> Self {
        self.fast = Some(fast);
        self
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reports every [`Event`] to `observer`.
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.observer = observer;
        self
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    #[allow(clippy::needless_pass_by_value)] // Callers build the event in place.
    fn emit(&self, event: Event<'_>) {
        self.observer.observe(&event);
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
    /// [`Error::InvalidConfig`]; [`Error::AlreadyActive`] when an instance of the same
    /// name is alive (at birth, or at a re-birth after an outage);
    /// [`Error::ForeignScheduler`] in exclusive mode; a backend error at birth; a
    /// non-transient backend error in burst mode.
    pub async fn run<F>(&self, shutdown: F) -> Result<Stats, Error>
    where
        F: Future<Output = ()> + Send,
    {
        self.config.validate().map_err(Error::InvalidConfig)?;
        let name = &self.config.name;
        let mut stop = Stop::new(shutdown);
        // Redis may be failing over or restarting as the instance starts: wait for it.
        let mut outage = Outage::default();
        let mut clash: Option<Instant> = None;
        let born = loop {
            self.emit(Event::Tick);
            match self.be_born().await {
                Ok(born) => {
                    self.recovered(&mut outage);
                    break born;
                }
                Err(Error::AlreadyActive(n)) if clash.is_none_or(|at| at.elapsed() < NAME_WAIT) => {
                    self.recovered(&mut outage);
                    // A record whose heartbeat goes stale within the wait is a crashed
                    // instance's, and the next birth takes it over; one that keeps
                    // beating is a live instance's.
                    if clash.is_none() {
                        warn!(name = %n, wait = ?NAME_WAIT, "an instance of this name is registered: waiting to see whether it is alive");
                        clash = Some(Instant::now());
                    }
                    tokio::select! {
                        () = tokio::time::sleep(NAME_RETRY) => {}
                        () = stop.wait() => return Ok(Stats::default()),
                    }
                }
                Err(e) if e.is_transient() => {
                    self.emit(Event::Error { error: &e });
                    self.unavailable(&mut outage, &e);
                    tokio::select! {
                        () = tokio::time::sleep(self.retry_wait(&mut outage)) => {}
                        () = stop.wait() => return Ok(Stats::default()),
                    }
                }
                Err(e) => return Err(e),
            }
        };
        self.emit(Event::Born { name });
        info!(name = %name, interval = ?self.config.interval, lease = ?self.config.lease, burst = self.config.burst, "registered birth");
        let mut state = State {
            token: format!(
                "{name}@{}",
                time::python_float_repr(time::unix_seconds(born))
            ),
            holding: false,
            leased_at: None,
            last_heartbeat: Some(Instant::now()),
            stuck: HashMap::new(),
            held: HashSet::new(),
            burst_retries: 0,
            metas: Vec::new(),
            plans: None,
            fast_refused: false,
        };
        let mut failures = 0u32;
        let mut total = Stats::default();

        let result = loop {
            if stop.requested() {
                break Ok(());
            }
            self.emit(Event::Tick);
            match self.iteration(&mut state, &mut stop, &mut total).await {
                Ok(Some(wake)) => {
                    failures = 0;
                    self.recovered(&mut outage);
                    self.sleep_until(wake, &mut stop).await;
                }
                Ok(None) => break Ok(()),
                Err(e) => {
                    self.emit(Event::Error { error: &e });
                    if let Error::AlreadyActive(_) = e {
                        error!(error = %Escaped(&e), "name clash at re-birth, giving up");
                        break Err(e);
                    }
                    if self.config.burst && !e.is_transient() {
                        error!(error = %Escaped(&e), "backend error in burst mode, giving up");
                        break Err(e);
                    }
                    let wait = if e.is_transient() {
                        self.unavailable(&mut outage, &e);
                        self.retry_wait(&mut outage)
                    } else {
                        failures += 1;
                        let wait = self.backoff(failures);
                        warn!(error = %Escaped(&e), retry_in = ?wait, "backend error; retrying");
                        wait
                    };
                    // A lease that ran out while the backend did not answer is given up
                    // at once, and the sleep ends when the lease does: this instance
                    // never says it acts on a lease it cannot be sure of.
                    self.lapse_if_expired(&mut state);
                    let wait = if state.holding {
                        wait.min(state.lease_left(self.config.lease))
                    } else {
                        wait
                    };
                    tokio::select! {
                        () = tokio::time::sleep(wait) => {}
                        () = stop.wait() => {}
                    }
                    self.lapse_if_expired(&mut state);
                }
            }
        };
        // After a clash at re-birth the record is another instance's: leave it alone.
        let owns_record = !matches!(result, Err(Error::AlreadyActive(_)));
        self.shut_down(&mut state, owns_record).await;
        self.emit(Event::Stopped { total: &total });
        info!(
            pushed = total.pushed,
            deferred = total.deferred,
            unscheduled = total.unscheduled,
            quarantined = total.quarantined,
            skipped = total.skipped,
            "scheduler stopped"
        );
        result.map(|()| total)
    }

    /// Checks for a Python scheduler, then registers the birth; returns its time.
    async fn be_born(&self) -> Result<DateTime<Utc>, Error> {
        self.check_foreign_schedulers().await?;
        let born = self.clock.now();
        self.lifecycle
            .register_birth(&self.config.name, born, self.config.record_ttl())
            .await
            .map_err(birth_error)?;
        Ok(born)
    }

    /// Warns about (or, in exclusive mode, refuses) a live scheduler instance that is
    /// not rqs: Python's `rqscheduler` moves jobs without any guard, so running both at
    /// once can duplicate jobs.
    async fn check_foreign_schedulers(&self) -> Result<(), Error> {
        let foreign: Vec<String> = self
            .lifecycle
            .instances()
            .await
            .map_err(Error::Lifecycle)?
            .into_iter()
            .filter(|(_, r)| r.is_alive() && !r.is_rqs())
            .map(|(name, _)| name)
            .collect();
        if foreign.is_empty() {
            return Ok(());
        }
        if self.config.exclusive {
            return Err(Error::ForeignScheduler(foreign));
        }
        warn!(
            instances = ?foreign,
            "a scheduler that is not rqs (Python's rqscheduler?) is registered on this Redis; \
             running both can hand a job over twice: stop it, then start rqs (--exclusive refuses to start)"
        );
        Ok(())
    }

    /// One loop turn: returns when to wake next, or `None` to quit (burst done).
    async fn iteration<F: Future<Output = ()>>(
        &self,
        state: &mut State,
        stop: &mut Stop<F>,
        total: &mut Stats,
    ) -> Result<Option<DateTime<Utc>>, Error> {
        self.heartbeat(state).await?;
        let lease = self.config.lease;
        if state.holding && state.lease_left(lease) < lease / 2 && !self.renew(state).await? {
            self.step_down(state, lost(state, lease)).await;
        }
        if !state.holding {
            state.holding = self.take_lock(state).await?;
            if !state.holding {
                let retry = self
                    .config
                    .lock_retry
                    .min(self.config.interval)
                    .min(self.config.heartbeat_period());
                return Ok(Some(self.clock.now() + to_chrono(retry)));
            }
            self.became_active().await?;
        }

        let end = self.pass(state, stop, total).await?;
        let (stuck, moved) = match end {
            PassEnd::SteppedDown => return Ok(Some(self.clock.now())),
            PassEnd::Stopped => return Ok(None),
            // A burst waits for jobs it could not move yet, until they move or reach
            // the quarantine (after `stuck_limit` passes).
            PassEnd::Drained { stuck, .. }
                if self.config.burst
                    && (stuck == 0 || state.burst_retries > self.config.stuck_limit) =>
            {
                if stuck > 0 {
                    warn!(stuck, "burst done, leaving jobs that could not be moved");
                } else {
                    info!("burst done, quitting");
                }
                return Ok(None);
            }
            PassEnd::Drained { stuck, moved } => {
                state.burst_retries += 1;
                (stuck, moved)
            }
        };
        let now = self.clock.now();
        // The heartbeat must not go stale while the instance sleeps.
        let nap = self
            .config
            .peek_interval
            .min(self.config.interval)
            .min(self.config.heartbeat_period());
        let mut wake = now + to_chrono(nap);
        let next = self.store.next_due().await.map_err(Error::Store)?;
        self.emit(Event::Idle { next_due: next });
        if stuck == 0
            && let Some(next) = next
        {
            // A job is due once floor(now) reaches its score: at the whole second
            // ceil(score). A head that is due already, after a pass that found nothing
            // to move, waits for the peek: waking at once would spin. So do jobs that
            // could not be moved (`stuck`).
            let due_at = from_unix(next.ceil());
            if due_at > now || moved {
                wake = wake.min(due_at.max(now));
            }
        }
        Ok(Some(wake))
    }

    async fn heartbeat(&self, state: &mut State) -> Result<(), Error> {
        let every = self.config.heartbeat_period();
        // A quarter of slack: wake-ups every `every` must not skip every other beat.
        if state
            .last_heartbeat
            .is_some_and(|at| at.elapsed() + every / 4 < every)
        {
            return Ok(());
        }
        let name = &self.config.name;
        let ttl = self.config.record_ttl();
        let sent = Instant::now();
        if !self
            .lifecycle
            .heartbeat(name, self.clock.now(), ttl)
            .await
            .map_err(Error::Lifecycle)?
        {
            warn!(name = %name, "instance record expired (a long pause?); registering birth again");
            self.lifecycle
                .register_birth(name, self.clock.now(), ttl)
                .await
                .map_err(birth_error)?;
        }
        state.last_heartbeat = Some(sent);
        Ok(())
    }

    /// Renews the lease; `false` when it is no longer ours.
    async fn renew(&self, state: &mut State) -> Result<bool, Error> {
        let sent = Instant::now();
        let renewed = self
            .lock
            .renew(&state.token, self.config.lease)
            .await
            .map_err(Error::Lock)?;
        if renewed {
            self.leased(state, sent);
        }
        Ok(renewed)
    }

    async fn step_down(&self, state: &mut State, reason: StepDown) {
        if !state.holding {
            return;
        }
        state.holding = false;
        state.leased_at = None;
        self.emit(Event::SteppedDown { reason });
        if reason == StepDown::Shutdown {
            info!("released the scheduler lock");
            return;
        }
        // What the instance leaves behind, for the one line an operator reads; a backend
        // that cannot say now does not delay the stepping down.
        let scheduled = self.store.count(None).await.ok();
        let next = self.store.next_due().await.ok().flatten();
        let next = next.map_or_else(|| "none".to_owned(), |s| log_time(from_unix(s)));
        match reason {
            StepDown::LeaseExpired => warn!(
                scheduled,
                next_due = %next,
                "the lease ran out before it could be renewed (a pause?); standing by without writing"
            ),
            _ => warn!(
                scheduled,
                next_due = %next,
                "lost the scheduler lock to another instance; standing by"
            ),
        }
    }

    /// Tries to take the lock. A lock that already carries our token is ours: the reply to
    /// an earlier, successful acquire was lost (a timeout), so take it back by renewing.
    async fn take_lock(&self, state: &mut State) -> Result<bool, Error> {
        let sent = Instant::now();
        if self
            .lock
            .acquire(&state.token, self.config.lease)
            .await
            .map_err(Error::Lock)?
        {
            self.leased(state, sent);
            return Ok(true);
        }
        let holder = self.lock.holder().await.map_err(Error::Lock)?;
        if holder.as_deref() == Some(state.token.as_str()) {
            warn!("found the scheduler lock held under our own token; keeping it");
            return self.renew(state).await;
        }
        // A standby tries every second: say nothing each time.
        debug!(
            holder = holder.as_deref().unwrap_or("nobody (it was just released)"),
            "lock already taken - skipping run"
        );
        Ok(false)
    }

    /// Records a lease taken or renewed by a call sent at `sent`, and reports how long it
    /// lasts from now.
    fn leased(&self, state: &mut State, sent: Instant) {
        state.leased_at = Some(sent);
        self.emit(Event::LeaseRenewed {
            left: state.lease_left(self.config.lease),
        });
    }

    async fn became_active(&self) -> Result<(), Error> {
        let scheduled = self.store.count(None).await.map_err(Error::Store)?;
        let next_due = self.store.next_due().await.map_err(Error::Store)?;
        self.emit(Event::Active {
            scheduled: Some(scheduled),
            next_due,
        });
        let next = next_due.map_or_else(|| "none".to_owned(), |s| log_time(from_unix(s)));
        info!(
            scheduled,
            next_due = %next,
            "became the active instance"
        );
        Ok(())
    }

    /// Moves due jobs in batches until none is due, the lease is gone or shutdown is asked.
    async fn pass<F: Future<Output = ()>>(
        &self,
        state: &mut State,
        stop: &mut Stop<F>,
        total: &mut Stats,
    ) -> Result<PassEnd, Error> {
        // Jobs of this pass that could not be moved stay at the head: skip them.
        let mut offset = 0usize;
        let mut batches = 0u64;
        let mut stuck_now: HashSet<JobId> = HashSet::new();
        // The fast lane runs first; after a window that stopped at a job needing a
        // decision, one ordinary batch takes it (and what follows), then the fast lane
        // again.
        let mut fast_next = self.fast.is_some() && !state.fast_refused;
        let mut moved = false;
        let end = loop {
            // Shutdown is honoured between batches, never inside one.
            if batches > 0 && stop.requested() {
                break PassEnd::Stopped;
            }
            batches += 1;
            let started = Instant::now();
            let now = self.clock.now();
            let until = time::floor_seconds(now) as f64;
            if fast_next && let Some(lane) = self.lane(state, now, offset) {
                match self
                    .fast_windows(state, stop, total, lane, &mut batches)
                    .await?
                {
                    FastEnd::Drained { moved: any } => {
                        break PassEnd::Drained {
                            stuck: stuck_now.len(),
                            moved: moved || any,
                        };
                    }
                    FastEnd::NeedsDecision { moved: any } => moved |= any,
                    // A refusal the ordinary path reports better (with the key and the
                    // command): use it for the rest of the run.
                    FastEnd::Refused { moved: any } => {
                        moved |= any;
                        state.fast_refused = true;
                    }
                    FastEnd::Stopped => break PassEnd::Stopped,
                    FastEnd::SteppedDown => break PassEnd::SteppedDown,
                }
                fast_next = false;
                continue;
            }
            fast_next = self.fast.is_some() && !state.fast_refused;
            let due = self
                .store
                .due(until, offset, self.config.batch_size)
                .await
                .map_err(Error::Store)?;
            if due.is_empty() {
                break PassEnd::Drained {
                    stuck: stuck_now.len(),
                    moved,
                };
            }
            let batch: Vec<HandOff> = due.iter().map(|job| self.decide(job, state, now)).collect();
            if !self.lease_still_ours(state).await? {
                break PassEnd::SteppedDown;
            }
            let outcomes = self.store.commit(&batch).await.map_err(Error::Store)?;
            let committed = self.clock.now();
            let mut stats = Stats {
                batches: 1,
                ..Stats::default()
            };
            let mut progress = false;
            // Jobs this batch left at the head of the schedule.
            let mut still_there = 0;
            let mut queues = BTreeMap::new();
            for ((job, handoff), outcome) in due.iter().zip(&batch).zip(&outcomes) {
                stats.count(*outcome);
                self.report(job, handoff, *outcome, committed, &mut stats);
                if let (Outcome::Pushed | Outcome::Deferred, Action::Enqueue { enqueue, .. }) =
                    (outcome, &handoff.action)
                {
                    *queues.entry(enqueue.queue.clone()).or_insert(0) += 1;
                }
                match outcome {
                    Outcome::Stale | Outcome::MetaChanged => {
                        still_there += usize::from(*outcome == Outcome::MetaChanged);
                        *state.stuck.entry(job.id.clone()).or_insert(0) += 1;
                        stuck_now.insert(job.id.clone());
                    }
                    // Waits for the quarantine to be usable again; never counted as
                    // stuck, since the quarantine is what stuck jobs go to.
                    Outcome::Held => {
                        still_there += 1;
                        stuck_now.insert(job.id.clone());
                        if state.held.insert(job.id.clone()) {
                            let reason = match &handoff.action {
                                Action::Quarantine { reason, .. } => reason.as_str(),
                                _ => "one of its keys has the wrong type",
                            };
                            error!(
                                job_id = %job.id,
                                reason = %Escaped(reason),
                                "cannot quarantine this job: the store's quarantine has the wrong type; it stays in the schedule, the other jobs move on (fix the quarantine key)"
                            );
                        }
                    }
                    Outcome::Pushed => {
                        progress = true;
                        state.stuck.remove(&job.id);
                        state.learn(job);
                    }
                    _ => {
                        progress = true;
                        state.stuck.remove(&job.id);
                    }
                }
            }
            // A stale job was moved by a client, so it left the head; a job whose meta
            // changed is still there. A batch that moved nothing is skipped whole, so a
            // job that keeps failing can never hold up the ones behind it.
            offset += if progress { still_there } else { due.len() };
            moved |= progress;
            self.batch_done(&stats, &queues, started, total);
        };
        // Only passes in a row count: forget jobs that moved or were not seen this time.
        state.stuck.retain(|id, _| stuck_now.contains(id));
        state.held.retain(|id| stuck_now.contains(id));
        Ok(end)
    }

    /// Runs fast-lane windows back to back, from `lane`, until one stops at a job that
    /// needs a decision, fewer jobs than a window holds are due, shutdown is asked or the
    /// lease is gone. Once a window came back full, the next one is sent before the
    /// current one's reply is in, so Redis runs it straight after instead of idling for a
    /// round trip. Every window sent is awaited and reported, whatever ends the run; an
    /// error is returned after that.
    async fn fast_windows<F: Future<Output = ()>>(
        &self,
        state: &mut State,
        stop: &mut Stop<F>,
        total: &mut Stats,
        lane: FastLane,
        batches: &mut u64,
    ) -> Result<FastEnd, Error> {
        let fast = Arc::clone(self.fast.as_ref().expect("only called with a fast lane"));
        let offset = lane.offset;
        let mut run = FastRun::default();
        let mut moved = false;
        let mut last_full = false;
        run.file(self.send_window(&fast, state, lane).await);
        while let Some(window) = run.in_flight.pop_front() {
            // Send the next window ahead when the last one was full: more is likely due.
            if last_full && run.in_flight.is_empty() && !run.ending() {
                self.send_next(&fast, state, stop, offset, &mut run).await;
            }
            *batches += 1;
            let result = match window.handle.await {
                Ok(result) => result,
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
            let handed = match result {
                Ok(handed) => handed,
                Err(rqs_core::BackendError::PermissionDenied(reason)) => {
                    debug!(%reason, "the fast lane is refused; using the ordinary path");
                    run.end.get_or_insert(FastEnd::Refused { moved: false });
                    last_full = false;
                    continue;
                }
                Err(e) => {
                    run.error.get_or_insert(Error::Store(e));
                    last_full = false;
                    continue;
                }
            };
            let committed = self.clock.now();
            if !handed.handed.is_empty() {
                let mut stats = Stats {
                    batches: 1,
                    ..Stats::default()
                };
                let mut queues = BTreeMap::new();
                for job in &handed.handed {
                    self.report_fast(job, committed, &mut stats);
                    *queues.entry(job.queue.clone()).or_insert(0) += 1;
                    state.stuck.remove(&job.job_id);
                }
                self.batch_done(&stats, &queues, window.started, total);
                moved = true;
            }
            last_full = !handed.stopped && handed.handed.len() >= window.limit;
            if run.ending() {
                continue;
            }
            if handed.stopped {
                run.end = Some(FastEnd::NeedsDecision { moved: false });
            } else if !last_full {
                run.end = Some(FastEnd::Drained { moved: false });
            } else if run.in_flight.is_empty() {
                // Full, and nothing sent ahead yet: the next window goes now.
                self.send_next(&fast, state, stop, offset, &mut run).await;
            }
        }
        if let Some(e) = run.error {
            return Err(e);
        }
        Ok(match run.end.expect("the last window ends the run") {
            FastEnd::Drained { .. } => FastEnd::Drained { moved },
            FastEnd::NeedsDecision { .. } => FastEnd::NeedsDecision { moved },
            FastEnd::Refused { .. } => FastEnd::Refused { moved },
            other => other,
        })
    }

    /// Sends the run's next window, unless shutdown was asked or the sink no longer
    /// enqueues the way the fast lane does.
    async fn send_next<F: Future<Output = ()>>(
        &self,
        fast: &Arc<dyn FastHandOff>,
        state: &mut State,
        stop: &mut Stop<F>,
        offset: usize,
        run: &mut FastRun,
    ) {
        if stop.requested() {
            run.end = Some(FastEnd::Stopped);
        } else if let Some(lane) = self.lane(state, self.clock.now(), offset) {
            run.file(self.send_window(fast, state, lane).await);
        } else {
            run.end = Some(FastEnd::NeedsDecision { moved: false });
        }
    }

    /// Sends one fast-lane window, after checking the lease (it reads and writes in one
    /// step); `Err` says why none was sent.
    async fn send_window(
        &self,
        fast: &Arc<dyn FastHandOff>,
        state: &mut State,
        lane: FastLane,
    ) -> Result<Result<Window, FastEnd>, Error> {
        let started = Instant::now();
        if !self.lease_still_ours(state).await? {
            return Ok(Err(FastEnd::SteppedDown));
        }
        let limit = lane.limit;
        let fast = Arc::clone(fast);
        // A task of its own, so it is sent at once and runs on while the caller reports
        // the window before it.
        let handle = tokio::spawn(async move { fast.fast_pass(&lane).await });
        Ok(Ok(Window {
            handle,
            limit,
            started,
        }))
    }

    /// Never write on a lease that may be gone: after a pause (SIGSTOP) the backend may
    /// have given it to another instance. Renews when half of it is gone; `false` (after
    /// stepping down) when it is no longer ours.
    async fn lease_still_ours(&self, state: &mut State) -> Result<bool, Error> {
        let lease = self.config.lease;
        if state.lease_left(lease) < lease / 2 && !self.renew(state).await? {
            self.step_down(state, lost(state, lease)).await;
            return Ok(false);
        }
        Ok(true)
    }

    fn batch_done(
        &self,
        stats: &Stats,
        queues: &BTreeMap<QueueName, u64>,
        started: Instant,
        total: &mut Stats,
    ) {
        total.add(*stats);
        self.emit(Event::Batch {
            stats,
            duration: started.elapsed(),
        });
        // One field for every queue: `name=count` pairs, names escaped, so a log search
        // can match `queues` without knowing the queue names in advance.
        let per_queue = queues
            .iter()
            .map(|(q, n)| format!("{}={n}", Escaped(q)))
            .collect::<Vec<_>>()
            .join(" ");
        info!(
            instance = %self.config.name,
            queues = %per_queue,
            pushed = stats.pushed,
            deferred = stats.deferred,
            rescheduled = stats.rescheduled,
            unscheduled = stats.unscheduled,
            quarantined = stats.quarantined,
            skipped = stats.skipped,
            "handed over a batch"
        );
    }

    /// The fast-lane window at `now`, with the plans of the metas seen lately; `None`
    /// when the sink does not enqueue the way the fast lane does (a custom sink).
    fn lane(&self, state: &mut State, now: DateTime<Utc>, offset: usize) -> Option<FastLane> {
        // The sink decides what a plain job's hand-off writes: read it off a plain job.
        let plain = ScheduledJob::new(
            "fast-lane-template",
            0.0,
            Some(rqs_core::JobHash::from_pairs([
                ("data", ""),
                ("origin", "q"),
            ])),
        );
        let template = self.sink.prepare(&plain, now).ok()?;
        let timestamp = rqs_core::time::rq_timestamp(now).into_bytes();
        let timeout = match template.ready_fields.as_slice() {
            [(status, queued), (enqueued, at), (timeout, value)]
                if status == "status"
                    && queued == b"queued"
                    && enqueued == "enqueued_at"
                    && *at == timestamp
                    && timeout == "timeout" =>
            {
                std::str::from_utf8(value).ok()?.parse().ok()?
            }
            _ => return None,
        };
        if template.at_front || template.ttl.is_some() {
            return None;
        }
        let mut lane = FastLane::at(now, offset, self.config.batch_size, timeout);
        lane.plans = state.plans(now, &self.config.local_zone);
        Some(lane)
    }

    fn report_fast(&self, job: &FastHandOffRecord, committed: DateTime<Utc>, stats: &mut Stats) {
        stats.count(Outcome::Pushed);
        if job.rescheduled {
            stats.rescheduled += 1;
        }
        let lateness = (time::unix_seconds(committed) - job.score).max(0.0);
        self.emit(Event::HandedOff {
            job: &job.job_id,
            queue: Some(&job.queue),
            outcome: Outcome::Pushed,
            rescheduled: job.rescheduled,
            quarantine: None,
            lateness: Duration::try_from_secs_f64(lateness).unwrap_or(Duration::MAX),
        });
        debug!(job_id = %job.job_id, queue = %job.queue, outcome = "pushed", "hand-off");
    }

    fn decide(&self, job: &ScheduledJob, state: &State, now: DateTime<Utc>) -> HandOff {
        let tries = state.stuck.get(&job.id).copied().unwrap_or(0);
        if tries >= self.config.stuck_limit {
            let reason = format!(
                "its hand-off came back stale or with a changed meta {tries} passes in a row"
            );
            return HandOff {
                job_id: job.id.clone(),
                read_score: job.score,
                action: Action::Quarantine {
                    kind: QuarantineKind::Stuck,
                    reason,
                    at: time::floor_seconds(now),
                },
            };
        }
        let (handoff, notes) = plan::decide(job, now, &self.config.local_zone, |j| {
            self.sink.prepare(j, now)
        });
        // A quarantine is logged once it is committed, with its fields (`report`).
        if !matches!(handoff.action, Action::Quarantine { .. }) {
            for note in notes {
                warn!(job_id = %note.job_id, "{}", Escaped(&note.message));
            }
        }
        handoff
    }

    fn report(
        &self,
        job: &ScheduledJob,
        handoff: &HandOff,
        outcome: Outcome,
        committed: DateTime<Utc>,
        stats: &mut Stats,
    ) {
        let (queue, rescheduled, quarantine) = match &handoff.action {
            Action::Enqueue { enqueue, next, .. } => {
                let moved = matches!(outcome, Outcome::Pushed | Outcome::Deferred);
                let kind = (outcome == Outcome::Quarantined).then_some(QuarantineKind::WrongType);
                (Some(&enqueue.queue), moved && next.is_some(), kind)
            }
            Action::Quarantine { kind, .. } => (None, false, Some(*kind)),
            Action::Unschedule { .. } => (None, false, None),
        };
        if rescheduled {
            stats.rescheduled += 1;
        }
        let lateness = (time::unix_seconds(committed) - job.score).max(0.0);
        self.emit(Event::HandedOff {
            job: &job.id,
            queue,
            outcome,
            rescheduled,
            quarantine: quarantine.filter(|_| outcome == Outcome::Quarantined),
            lateness: Duration::try_from_secs_f64(lateness).unwrap_or(Duration::MAX),
        });
        match (outcome, queue) {
            (Outcome::Vanished, _) => warn!(
                job_id = %job.id,
                "job hash disappeared before its hand-off: removed from the schedule"
            ),
            (Outcome::Quarantined, _) => {
                let (kind, reason) = match &handoff.action {
                    Action::Quarantine { kind, reason, .. } => (*kind, reason.as_str()),
                    _ => (
                        QuarantineKind::WrongType,
                        "one of its keys has the wrong type (details in the quarantine)",
                    ),
                };
                let origin = job.hash.as_ref().and_then(rqs_core::JobHash::origin);
                let queue = queue
                    .or(origin.as_ref())
                    .map_or_else(String::new, |q| Escaped(q).to_string());
                warn!(
                    job_id = %job.id,
                    queue = %queue,
                    kind = kind.as_str(),
                    reason = %Escaped(reason),
                    "quarantined a job"
                );
            }
            (_, Some(queue)) => {
                debug!(job_id = %job.id, queue = %queue, outcome = %outcome, "hand-off")
            }
            (_, None) => debug!(job_id = %job.id, outcome = %outcome, "hand-off"),
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

    /// The wait before the next try during an outage: the retry period plus up to half of
    /// it at random.
    fn retry_wait(&self, outage: &mut Outage) -> Duration {
        let every = self.config.retry_every;
        every + every.mul_f64(outage.jitter() / 2.0)
    }

    /// Notes a transient error: the first one of an outage is logged and reported, the
    /// rest only at debug level.
    fn unavailable(&self, outage: &mut Outage, e: &Error) {
        if outage.since.is_some() {
            debug!(error = %Escaped(e), "backend still unavailable; retrying");
            return;
        }
        outage.since = Some(Instant::now());
        self.emit(Event::BackendDown { error: e });
        warn!(
            error = %Escaped(e),
            retry_every = ?self.config.retry_every,
            "backend unavailable; retrying until it answers"
        );
    }

    /// Ends an outage, if one was under way, with one log line saying how long it was.
    fn recovered(&self, outage: &mut Outage) {
        let Some(since) = outage.since.take() else {
            return;
        };
        let length = since.elapsed();
        self.emit(Event::BackendBack { outage: length });
        info!(outage = ?length, outage_seconds = length.as_secs_f64(), "backend answers again");
    }

    /// Gives up a lease that ran out without being renewed (during an outage), without
    /// asking the backend anything: it may not answer.
    fn lapse_if_expired(&self, state: &mut State) {
        if !state.holding || !state.lease_left(self.config.lease).is_zero() {
            return;
        }
        state.holding = false;
        state.leased_at = None;
        self.emit(Event::SteppedDown {
            reason: StepDown::LeaseExpired,
        });
        warn!("the lease ran out while the backend did not answer; standing by until it does");
    }

    /// Releases the lock and registers death, logging (not returning) errors: the process
    /// is ending either way, and the lock and record expire on their own.
    async fn shut_down(&self, state: &mut State, owns_record: bool) {
        if state.holding {
            match self.lock.release(&state.token).await {
                Ok(true) => self.step_down(state, StepDown::Shutdown).await,
                Ok(false) => warn!("the scheduler lock was no longer ours at shutdown"),
                Err(e) => {
                    warn!(error = %Escaped(&e), "could not release the scheduler lock; it expires on its own")
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
            warn!(error = %Escaped(&e), "could not register death; the record expires on its own");
        } else {
            info!(name = %self.config.name, "registered death");
        }
    }
}

/// Why a renew failed: our lease had run out (a pause), or another instance took it.
fn lost(state: &State, lease: Duration) -> StepDown {
    if state.lease_left(lease).is_zero() {
        StepDown::LeaseExpired
    } else {
        StepDown::LostLock
    }
}

/// A name clash is the same fatal error at re-birth (after an outage) as at first birth.
fn birth_error(e: rqs_lifecycle::Error) -> Error {
    match e {
        rqs_lifecycle::Error::AlreadyActive(n) => Error::AlreadyActive(n),
        other => Error::Lifecycle(other),
    }
}

/// A time in the log's own format (`2026-12-04T07:35:24.760473Z`, as the log lines'
/// timestamps), so every time in a line reads and sorts the same way.
pub(crate) fn log_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
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

//! The scheduler loop.

mod config;
mod fast;
mod instructions;
mod lease;
mod outage;
mod pass;
mod state;
mod stats;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rqs_core::{Escaped, time};
use rqs_lifecycle::LifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_sink::FastLaneSink;
use rqs_sink::QueueSink;
use rqs_store::{FastLaneStore, JobStore};
use tokio::time::Instant;
use tracing::{error, info, warn};

use crate::Error;
use crate::clock::{Clock, SystemClock};
use crate::control::{Control, NoControl};
use crate::observer::{Event, NoObserver, Observer, StepDown};
use crate::stop::Stop;

pub use config::SchedulerConfig;
use fast::FastEnd;
use lease::lost;
use outage::Outage;
use pass::PassEnd;
use state::State;
pub use stats::Stats;

/// How long a birth refused for a name clash is tried again before the clash is taken
/// as real: long enough for a crashed instance's heartbeat to go stale.
const NAME_WAIT: Duration = rqs_lifecycle::STALE_AFTER.saturating_add(Duration::from_secs(2));
const NAME_RETRY: Duration = Duration::from_millis(500);

/// The scheduler: moves due jobs from a [`JobStore`] into queues described by a
/// [`QueueSink`], while holding a [`LockProvider`] lease and announcing itself in a
/// [`LifecycleRegistry`]. It names no backend type, and reports what it does to an
/// [`Observer`].
#[derive(Debug)]
pub struct Scheduler<S, Q, L, R> {
    store: Arc<S>,
    sink: Arc<Q>,
    lock: L,
    lifecycle: R,
    config: SchedulerConfig,
    clock: Arc<dyn Clock>,
    observer: Arc<dyn Observer>,
    fast: Option<Arc<dyn fast::Fusion>>,
    control: Arc<dyn Control>,
}

impl<S, Q, L, R> Scheduler<S, Q, L, R>
where
    S: FastLaneStore + 'static,
    Q: FastLaneSink + 'static,
    L: LockProvider,
    R: LifecycleRegistry,
{
    /// Runs the fast lane ([`rqs_core::fast`]): due jobs that need no decision are handed
    /// over by the store in the same step as their read, with the sink's
    /// [`plain_enqueue`](FastLaneSink::plain_enqueue), and reported to the sink's
    /// [`handed_plain`](FastLaneSink::handed_plain) and the observer. Only a composition
    /// whose store and sink both offer their half has this method; every other job
    /// still takes the ordinary path through `due`, `prepare` and `commit`. Each window
    /// runs as a Tokio task of its own, the next one sent while the last is reported.
    pub fn with_fast_lane(mut self) -> Self {
        self.fast = Some(Arc::new(fast::Fused {
            store: Arc::clone(&self.store),
            sink: Arc::clone(&self.sink),
        }));
        self
    }
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
            store: Arc::new(store),
            sink: Arc::new(sink),
            lock,
            lifecycle,
            config,
            clock: Arc::new(SystemClock),
            observer: Arc::new(NoObserver),
            fast: None,
            control: Arc::new(NoControl),
        }
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reads operators' instructions (pauses) through `control`, once a turn.
    pub fn with_control(mut self, control: Arc<dyn Control>) -> Self {
        self.control = control;
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
    /// registers its death. Transient backend errors are retried every
    /// [`retry_every`](SchedulerConfig::retry_every) (plus jitter), with one log line when
    /// an outage starts and one when it ends; other errors are logged and retried with a
    /// growing backoff, and in burst mode they end the run.
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
            instructions: crate::Instructions::default(),
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
        self.follow_instructions(state).await;
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

        let nap = self
            .config
            .peek_interval
            .min(self.config.interval)
            .min(self.config.heartbeat_period());
        if state.instructions.all_paused() {
            // Nothing may move: no reads at all until a resume (the store's scripts check
            // the pause too, for a window already on its way).
            if self.config.burst {
                info!("every queue is paused; burst done, quitting");
                return Ok(None);
            }
            return Ok(Some(self.clock.now() + to_chrono(nap)));
        }
        let end = self.pass(state, stop, total).await?;
        let (stuck, moved) = match end {
            PassEnd::SteppedDown => return Ok(Some(self.clock.now())),
            PassEnd::Stopped => return Ok(None),
            // A burst waits for jobs it could not move yet, until they move or reach
            // the quarantine (after `stuck_limit` passes).
            PassEnd::Drained { stuck, paused, .. }
                if self.config.burst
                    && (stuck == 0 || state.burst_retries > self.config.stuck_limit) =>
            {
                if stuck > 0 {
                    warn!(stuck, "burst done, leaving jobs that could not be moved");
                } else if paused > 0 {
                    info!(paused, "burst done, leaving the due jobs of paused queues");
                } else {
                    info!("burst done, quitting");
                }
                return Ok(None);
            }
            // Paused jobs are due and stay so: like stuck ones, they must not make the
            // loop wake at once.
            PassEnd::Drained {
                stuck,
                paused,
                moved,
            } => {
                state.burst_retries += 1;
                (stuck + paused, moved)
            }
        };
        let now = self.clock.now();
        // The heartbeat must not go stale while the instance sleeps (`nap`).
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

    async fn sleep_until<F: Future<Output = ()>>(&self, wake: DateTime<Utc>, stop: &mut Stop<F>) {
        let wait = (wake - self.clock.now()).to_std().unwrap_or_default();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = stop.wait() => {}
        }
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

/// A name clash is the same fatal error at re-birth (after an outage) as at first birth.
fn birth_error(e: rqs_lifecycle::BackendError) -> Error {
    match e {
        rqs_lifecycle::BackendError::AlreadyActive(n) => Error::AlreadyActive(n),
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

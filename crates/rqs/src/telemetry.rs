//! Metrics, readiness and liveness, hung on the scheduler's observer seam:
//! [`MetricsObserver`] turns each [`Event`] into Prometheus metrics and into [`Health`],
//! and [`poll`] keeps the gauges the loop cannot know (the whole schedule, the backlog,
//! the quarantine) and the readiness of the process up to date. Only the binary knows
//! about metrics; the orchestrator only reports events.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::connection::Connection;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rqs_core::{Outcome, QuarantineKind};
use rqs_orchestrator::{Event, Observer, StepDown};
use rqs_redis::RedisJobStore;
use rqs_store::JobStore;
use tracing::debug;

/// Metric names, as docs/metrics.md lists them.
pub(crate) mod names {
    pub(crate) const ENQUEUED: &str = "rqs_jobs_enqueued_total";
    pub(crate) const RESCHEDULED: &str = "rqs_jobs_rescheduled_total";
    pub(crate) const QUARANTINED: &str = "rqs_jobs_quarantined_total";
    pub(crate) const ERRORS: &str = "rqs_errors_total";
    pub(crate) const LOCK_ACQUIRED: &str = "rqs_lock_acquired_total";
    pub(crate) const LOCK_LOST: &str = "rqs_lock_lost_total";
    pub(crate) const SCHEDULED: &str = "rqs_scheduled_jobs";
    pub(crate) const DUE: &str = "rqs_due_jobs";
    pub(crate) const QUARANTINE_SIZE: &str = "rqs_quarantined_jobs";
    pub(crate) const LEADER: &str = "rqs_is_leader";
    pub(crate) const REDIS_UP: &str = "rqs_redis_up";
    pub(crate) const NEXT_DUE: &str = "rqs_next_due_timestamp_seconds";
    /// The name of [`NEXT_DUE`] before 0.2, kept for one release.
    pub(crate) const NEXT_DUE_OLD: &str = "rqs_next_due_seconds";
    pub(crate) const LAST_HANDOFF: &str = "rqs_last_handoff_timestamp_seconds";
    pub(crate) const BUILD_INFO: &str = "rqs_build_info";
    pub(crate) const LATENESS: &str = "rqs_lateness_seconds";
    pub(crate) const BATCH_DURATION: &str = "rqs_batch_duration_seconds";
    pub(crate) const HISTORY_DROPPED: &str = "rqs_history_dropped_total";
}

/// From a due second to the hand-off: 1 ms to 60 s.
pub(crate) const LATENESS_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// One atomic batch, read to commit: 0.5 ms to 10 s.
pub(crate) const BATCH_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often [`poll`] reads the schedule's size and checks the connection.
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(2);

/// The longest a readiness probe waits for Redis.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long the scheduler loop may go without a turn before `/healthz` fails, unless
/// three response timeouts are longer: the loop turns at least every second, and a
/// single Redis call is bounded by the response timeout.
pub(crate) const STALL_AFTER: Duration = Duration::from_secs(60);

/// The exporter with real histogram buckets (not the default summaries).
pub(crate) fn builder() -> PrometheusBuilder {
    let with = |b: PrometheusBuilder, name: &str, buckets: &[f64]| {
        b.set_buckets_for_metric(Matcher::Full(name.to_owned()), buckets)
            .unwrap_or_else(|_| unreachable!("bucket lists are not empty"))
    };
    let b = with(PrometheusBuilder::new(), names::LATENESS, &LATENESS_BUCKETS);
    with(b, names::BATCH_DURATION, &BATCH_BUCKETS)
}

/// Installs the global recorder, describes every metric and sets the ones that exist
/// before any event (so a scrape right after start already lists them).
pub(crate) fn install(instance: &str) -> anyhow::Result<PrometheusHandle> {
    let handle = builder().install_recorder()?;
    describe();
    initialise(instance);
    Ok(handle)
}

pub(crate) fn describe() {
    use names::*;
    describe_counter!(
        ENQUEUED,
        "Jobs handed over to their RQ queue (pushed, or deferred behind a dependency); queues past the first 100 count as queue=\"other\""
    );
    describe_counter!(RESCHEDULED, "Periodic jobs re-armed for their next run");
    describe_counter!(
        QUARANTINED,
        "Jobs moved to the quarantine, by kind of problem"
    );
    describe_counter!(
        ERRORS,
        "Backend errors the scheduler retried or gave up on, by kind"
    );
    describe_counter!(LOCK_ACQUIRED, "Times this instance took the scheduler lock");
    describe_counter!(
        HISTORY_DROPPED,
        "Hand-offs left out of the page's history rq:rqs:history (its writer behind, or a failed write)"
    );
    describe_counter!(
        LOCK_LOST,
        "Times this instance lost the lock before releasing it (taken by another, or run out)"
    );
    describe_gauge!(SCHEDULED, "Jobs in the schedule");
    describe_gauge!(DUE, "Jobs in the schedule that are due now (the backlog)");
    describe_gauge!(
        QUARANTINE_SIZE,
        "Jobs in the quarantine (rq:rqs:quarantine)"
    );
    describe_gauge!(
        LEADER,
        "1 while this instance holds a lease it is sure of and acts, else 0"
    );
    describe_gauge!(
        REDIS_UP,
        "1 while Redis answers this instance (last probe, and no connection error since)"
    );
    describe_gauge!(
        NEXT_DUE,
        "Due time of the earliest scheduled job, in Unix seconds (NaN when none)"
    );
    describe_gauge!(
        NEXT_DUE_OLD,
        "Deprecated name of rqs_next_due_timestamp_seconds, removed in the next release"
    );
    describe_gauge!(
        LAST_HANDOFF,
        "When this instance last handed a job over, in Unix seconds (0 before the first)"
    );
    describe_gauge!(
        BUILD_INFO,
        "Always 1; the version and the instance name as labels"
    );
    describe_histogram!(
        LATENESS,
        metrics::Unit::Seconds,
        "From a job's due time to its hand-off"
    );
    describe_histogram!(
        BATCH_DURATION,
        metrics::Unit::Seconds,
        "One atomic hand-off batch, from the read to the end of the commit"
    );
}

/// Every series that must exist before its first event: an alert on `increase()` sees
/// the first error or quarantine only if the counter was already there at zero.
pub(crate) fn initialise(instance: &str) {
    use names::*;
    counter!(RESCHEDULED).absolute(0);
    counter!(LOCK_ACQUIRED).absolute(0);
    counter!(LOCK_LOST).absolute(0);
    counter!(HISTORY_DROPPED).absolute(0);
    for kind in rqs_orchestrator::Error::KINDS {
        counter!(ERRORS, "kind" => kind).absolute(0);
    }
    for reason in QuarantineKind::ALL {
        counter!(QUARANTINED, "reason" => reason.as_str()).absolute(0);
    }
    gauge!(LEADER).set(0.0);
    gauge!(LAST_HANDOFF).set(0.0);
    gauge!(
        BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "name" => instance.to_owned()
    )
    .set(1.0);
}

/// What the HTTP endpoints know of this process.
#[derive(Debug)]
pub(crate) struct Health {
    /// Redis answered the last probe, and the scheduler saw no connection error since.
    ready: AtomicBool,
    /// Until when this instance's lease is sure; `None` without one.
    lease_until: Mutex<Option<Instant>>,
    /// The loop's last sign of life.
    last_turn: Mutex<Instant>,
    /// How long the loop may be silent before `/healthz` fails.
    stall_after: Duration,
}

impl Default for Health {
    fn default() -> Self {
        Self::new(STALL_AFTER)
    }
}

impl Health {
    pub(crate) fn new(stall_after: Duration) -> Self {
        Self {
            ready: AtomicBool::new(false),
            lease_until: Mutex::new(None),
            last_turn: Mutex::new(Instant::now()),
            stall_after,
        }
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    /// Whether this instance acts: it holds a lease that has not run out. Judged when
    /// asked, so a loop stuck in a call cannot leave it saying yes.
    pub(crate) fn is_leader(&self) -> bool {
        self.is_leader_at(Instant::now())
    }

    fn is_leader_at(&self, now: Instant) -> bool {
        lock(&self.lease_until).is_some_and(|until| now < until)
    }

    fn lease(&self, until: Option<Instant>) {
        *lock(&self.lease_until) = until;
    }

    fn turned(&self, at: Instant) {
        *lock(&self.last_turn) = at;
    }

    /// Whether the scheduler loop turned within the bound.
    pub(crate) fn loop_is_alive(&self) -> bool {
        self.loop_is_alive_at(Instant::now())
    }

    fn loop_is_alive_at(&self, now: Instant) -> bool {
        now.saturating_duration_since(*lock(&self.last_turn)) <= self.stall_after
    }

    /// How long ago the loop last turned.
    pub(crate) fn since_last_turn(&self) -> Duration {
        lock(&self.last_turn).elapsed()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The metrics text, with the gauges that are judged at scrape time brought up to date.
pub(crate) fn render(handle: &PrometheusHandle, health: &Health) -> String {
    gauge!(names::LEADER).set(f64::from(u8::from(health.is_leader())));
    gauge!(names::REDIS_UP).set(f64::from(u8::from(health.is_ready())));
    handle.render()
}

/// Queue names with a series of their own in `rqs_jobs_enqueued_total`: the first ones
/// seen. Queue names are client data, so without a cap every new name would be one more
/// series for ever (10k queues: 1.5 MB per scrape).
pub(crate) const MAX_QUEUE_SERIES: usize = 100;

/// The `queue` label of every queue past [`MAX_QUEUE_SERIES`].
pub(crate) const OTHER_QUEUE: &str = "other";

/// Which queue names have a series of their own.
#[derive(Debug, Default)]
struct QueueLabels {
    seen: Mutex<std::collections::HashSet<String>>,
}

impl QueueLabels {
    fn label(&self, queue: String) -> String {
        let mut seen = lock(&self.seen);
        if seen.contains(&queue) {
            queue
        } else if seen.len() < MAX_QUEUE_SERIES {
            seen.insert(queue.clone());
            queue
        } else {
            OTHER_QUEUE.to_owned()
        }
    }
}

/// Turns scheduler events into metrics, readiness and liveness.
#[derive(Debug, Clone)]
pub(crate) struct MetricsObserver {
    health: Arc<Health>,
    queues: Arc<QueueLabels>,
}

impl MetricsObserver {
    pub(crate) fn new(health: Arc<Health>) -> Self {
        Self {
            health,
            queues: Arc::default(),
        }
    }
}

fn next_due(score: Option<f64>) {
    let value = score.unwrap_or(f64::NAN);
    gauge!(names::NEXT_DUE).set(value);
    gauge!(names::NEXT_DUE_OLD).set(value);
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl Observer for MetricsObserver {
    fn observe(&self, event: &Event<'_>) {
        // Any event is the loop at work (a long pass reports batches, not turns).
        self.health.turned(Instant::now());
        match event {
            Event::Born { .. } | Event::Stopped { .. } => self.health.lease(None),
            Event::LeaseRenewed { left } => self.health.lease(Some(Instant::now() + *left)),
            Event::Active {
                scheduled,
                next_due: next,
            } => {
                counter!(names::LOCK_ACQUIRED).increment(1);
                if let Some(n) = scheduled {
                    gauge!(names::SCHEDULED).set(*n as f64);
                }
                next_due(*next);
            }
            Event::SteppedDown { reason } => {
                if matches!(reason, StepDown::LostLock | StepDown::LeaseExpired) {
                    counter!(names::LOCK_LOST).increment(1);
                }
                self.health.lease(None);
            }
            Event::HandedOff {
                queue,
                outcome,
                rescheduled,
                quarantine,
                lateness,
                ..
            } => {
                match outcome {
                    Outcome::Pushed | Outcome::Deferred => {
                        let queue =
                            queue.map_or_else(String::new, |q| rqs_core::escaped(q.as_bytes()));
                        let queue = self.queues.label(queue);
                        counter!(names::ENQUEUED, "queue" => queue).increment(1);
                        histogram!(names::LATENESS).record(lateness.as_secs_f64());
                        gauge!(names::LAST_HANDOFF).set(unix_now());
                    }
                    Outcome::Quarantined => {
                        let reason = quarantine.map_or("unknown", |k| k.as_str());
                        counter!(names::QUARANTINED, "reason" => reason).increment(1);
                    }
                    _ => {}
                }
                if *rescheduled {
                    counter!(names::RESCHEDULED).increment(1);
                }
            }
            Event::Batch { duration, .. } => {
                self.health.set_ready(true);
                histogram!(names::BATCH_DURATION).record(duration.as_secs_f64());
            }
            Event::Idle { next_due: next } => {
                self.health.set_ready(true);
                next_due(*next);
            }
            Event::Error { error } => {
                counter!(names::ERRORS, "kind" => error.kind()).increment(1);
                if error.is_transient() {
                    self.health.set_ready(false);
                }
            }
            Event::BackendDown { .. } => self.health.set_ready(false),
            Event::BackendBack { .. } => self.health.set_ready(true),
            _ => {}
        }
    }
}

/// Every [`POLL_EVERY`]: reads the schedule's size, backlog and head (cheap `ZCOUNT`s),
/// which also tells whether Redis answers, and the quarantine's size, and runs the
/// exporter's upkeep. Runs until the process ends.
pub(crate) async fn poll(
    store: RedisJobStore<Connection>,
    health: Arc<Health>,
    handle: PrometheusHandle,
) {
    let mut tick = tokio::time::interval(POLL_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let probe = tokio::time::timeout(PROBE_TIMEOUT, async {
            let now = crate::output::now().floor();
            Ok::<_, rqs_core::BackendError>((
                store.count(None).await?,
                store.count(Some(now)).await?,
                store.next_due().await?,
            ))
        })
        .await;
        match probe {
            Ok(Ok((scheduled, due, next))) => {
                gauge!(names::SCHEDULED).set(scheduled as f64);
                gauge!(names::DUE).set(due as f64);
                next_due(next);
                health.set_ready(true);
            }
            Ok(Err(e)) => {
                debug!(error = %e, "readiness probe failed");
                health.set_ready(false);
            }
            Err(_) => {
                debug!("readiness probe timed out");
                health.set_ready(false);
            }
        }
        // Apart from the probe: a quarantine key of the wrong type is not Redis down.
        match tokio::time::timeout(PROBE_TIMEOUT, store.quarantine_len()).await {
            Ok(Ok(n)) => gauge!(names::QUARANTINE_SIZE).set(n as f64),
            Ok(Err(e)) => {
                debug!(error = %e, "cannot read the quarantine's size");
                gauge!(names::QUARANTINE_SIZE).set(f64::NAN);
            }
            Err(_) => gauge!(names::QUARANTINE_SIZE).set(f64::NAN),
        }
        handle.run_upkeep();
    }
}

#[cfg(test)]
mod tests {
    use rqs_core::{JobId, QuarantineKind, QueueName};

    use super::*;

    fn render(events: &[Event<'_>], health: &Arc<Health>) -> String {
        let recorder = builder().build_recorder();
        let handle = recorder.handle();
        let observer = MetricsObserver::new(health.clone());
        metrics::with_local_recorder(&recorder, || {
            describe();
            initialise("test-1");
            for e in events {
                observer.observe(e);
            }
            super::render(&handle, health)
        })
    }

    fn value(text: &str, series: &str) -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {series} in\n{text}"))
    }

    #[test]
    fn events_become_metrics() {
        let health = Arc::new(Health::default());
        let job = JobId::from("j");
        let queue = QueueName::from("reports");
        let handed = |outcome, rescheduled, quarantine| Event::HandedOff {
            job: &job,
            queue: Some(&queue),
            outcome,
            rescheduled,
            quarantine,
            lateness: Duration::from_millis(3),
        };
        let lost = rqs_orchestrator::Error::Lock(rqs_core::BackendError::Unavailable(
            "connection refused".into(),
        ));
        let text = render(
            &[
                Event::LeaseRenewed {
                    left: Duration::from_secs(5),
                },
                Event::Active {
                    scheduled: Some(7),
                    next_due: Some(1_800_000_000.0),
                },
                handed(Outcome::Pushed, true, None),
                handed(Outcome::Deferred, false, None),
                handed(
                    Outcome::Quarantined,
                    false,
                    Some(QuarantineKind::InvalidCron),
                ),
                handed(Outcome::Stale, false, None),
                Event::Error { error: &lost },
            ],
            &health,
        );
        assert_eq!(
            value(&text, "rqs_jobs_enqueued_total{queue=\"reports\"}"),
            2.0
        );
        assert_eq!(value(&text, "rqs_jobs_rescheduled_total"), 1.0);
        assert_eq!(
            value(&text, "rqs_jobs_quarantined_total{reason=\"invalid_cron\"}"),
            1.0
        );
        assert_eq!(value(&text, "rqs_errors_total{kind=\"unavailable\"}"), 1.0);
        assert_eq!(value(&text, "rqs_lock_acquired_total"), 1.0);
        assert_eq!(value(&text, "rqs_lock_lost_total"), 0.0);
        assert_eq!(value(&text, "rqs_is_leader"), 1.0);
        assert_eq!(value(&text, "rqs_scheduled_jobs"), 7.0);
        assert_eq!(
            value(&text, "rqs_next_due_timestamp_seconds"),
            1_800_000_000.0
        );
        // The old name, kept for one release.
        assert_eq!(value(&text, "rqs_next_due_seconds"), 1_800_000_000.0);
        assert!(value(&text, "rqs_last_handoff_timestamp_seconds") > 1_700_000_000.0);
        // A real histogram with the 1 ms .. 60 s buckets, not a summary.
        assert_eq!(
            value(&text, "rqs_lateness_seconds_bucket{le=\"0.001\"}"),
            0.0
        );
        assert_eq!(
            value(&text, "rqs_lateness_seconds_bucket{le=\"0.005\"}"),
            2.0
        );
        assert_eq!(value(&text, "rqs_lateness_seconds_bucket{le=\"60\"}"), 2.0);
        assert_eq!(value(&text, "rqs_lateness_seconds_count"), 2.0);
        assert!(
            text.contains("# TYPE rqs_lateness_seconds histogram"),
            "{text}"
        );
        assert!(health.is_leader());
        assert!(
            !health.is_ready(),
            "a connection error makes the process unready"
        );
    }

    #[test]
    fn queues_past_the_cap_share_one_series() {
        let health = Arc::new(Health::default());
        let job = JobId::from("j");
        let queues: Vec<QueueName> = (0..MAX_QUEUE_SERIES + 20)
            .map(|i| QueueName::from(format!("q{i}").as_str()))
            .collect();
        let mut events: Vec<Event<'_>> = queues
            .iter()
            .map(|queue| Event::HandedOff {
                job: &job,
                queue: Some(queue),
                outcome: Outcome::Pushed,
                rescheduled: false,
                quarantine: None,
                lateness: Duration::ZERO,
            })
            .collect();
        // A queue with a series of its own keeps it once the cap is reached.
        events.push(Event::HandedOff {
            job: &job,
            queue: Some(&queues[0]),
            outcome: Outcome::Pushed,
            rescheduled: false,
            quarantine: None,
            lateness: Duration::ZERO,
        });
        let text = render(&events, &health);
        let series = text
            .lines()
            .filter(|l| l.starts_with("rqs_jobs_enqueued_total{"))
            .count();
        assert_eq!(series, MAX_QUEUE_SERIES + 1, "{text}");
        assert_eq!(value(&text, "rqs_jobs_enqueued_total{queue=\"q0\"}"), 2.0);
        assert_eq!(
            value(&text, "rqs_jobs_enqueued_total{queue=\"other\"}"),
            20.0
        );
    }

    #[test]
    fn losing_the_lock_counts_and_clears_the_leader_gauge() {
        let health = Arc::new(Health::default());
        let text = render(
            &[
                Event::LeaseRenewed {
                    left: Duration::from_secs(5),
                },
                Event::Active {
                    scheduled: None,
                    next_due: None,
                },
                Event::SteppedDown {
                    reason: StepDown::LostLock,
                },
                Event::Idle { next_due: None },
            ],
            &health,
        );
        assert_eq!(value(&text, "rqs_lock_lost_total"), 1.0);
        assert_eq!(value(&text, "rqs_is_leader"), 0.0);
        assert!(value(&text, "rqs_next_due_timestamp_seconds").is_nan());
        assert!(!health.is_leader());
        assert!(health.is_ready());
    }

    #[test]
    fn every_counter_and_the_build_info_exist_from_the_start() {
        let text = render(&[], &Arc::new(Health::default()));
        for kind in rqs_orchestrator::Error::KINDS {
            let series = format!("rqs_errors_total{{kind=\"{kind}\"}}");
            assert_eq!(value(&text, &series), 0.0, "{series}");
        }
        for reason in QuarantineKind::ALL {
            let series = format!(
                "rqs_jobs_quarantined_total{{reason=\"{}\"}}",
                reason.as_str()
            );
            assert_eq!(value(&text, &series), 0.0, "{series}");
        }
        let info = format!(
            "rqs_build_info{{version=\"{}\",name=\"test-1\"}}",
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(value(&text, &info), 1.0, "{text}");
        assert_eq!(value(&text, "rqs_last_handoff_timestamp_seconds"), 0.0);
        assert_eq!(value(&text, "rqs_is_leader"), 0.0);
        assert_eq!(value(&text, "rqs_redis_up"), 0.0);
    }

    #[test]
    fn the_leader_gauge_is_the_lease_and_redis_up_the_readiness() {
        let health = Arc::new(Health::default());
        // A lease already run out (a renewal that came back too late) is no lease.
        let text = render(
            &[
                Event::LeaseRenewed {
                    left: Duration::ZERO,
                },
                Event::BackendBack {
                    outage: Duration::from_secs(3),
                },
            ],
            &health,
        );
        assert_eq!(value(&text, "rqs_is_leader"), 0.0);
        assert_eq!(value(&text, "rqs_redis_up"), 1.0);
        // A lease of 5 s is sure now, and no longer 6 s later, whatever the loop does.
        health.lease(Some(Instant::now() + Duration::from_secs(5)));
        assert!(health.is_leader());
        assert!(!health.is_leader_at(Instant::now() + Duration::from_secs(6)));
        let lost = rqs_orchestrator::Error::Lock(rqs_core::BackendError::Unavailable(
            "connection refused".into(),
        ));
        let text = render(&[Event::BackendDown { error: &lost }], &health);
        assert_eq!(value(&text, "rqs_redis_up"), 0.0);
    }

    #[test]
    fn a_loop_that_stops_turning_is_not_alive() {
        let health = Arc::new(Health::new(Duration::from_secs(60)));
        let now = Instant::now();
        health.turned(now);
        assert!(health.loop_is_alive_at(now + Duration::from_secs(59)));
        assert!(!health.loop_is_alive_at(now + Duration::from_secs(61)));
        // Silent for two minutes, then any event is a turn again.
        let Some(long_ago) = now.checked_sub(Duration::from_secs(120)) else {
            panic!("the machine's monotonic clock starts less than 2 minutes ago");
        };
        health.turned(long_ago);
        assert!(!health.loop_is_alive());
        MetricsObserver::new(health.clone()).observe(&Event::Tick);
        assert!(health.loop_is_alive());
    }
}

//! Metrics and readiness, hung on the scheduler's observer seam: [`MetricsObserver`] turns
//! each [`Event`] into Prometheus metrics, and [`poll`] keeps the gauges the loop cannot
//! know (the whole schedule, the backlog) and the readiness of the process up to date.
//! Only the binary knows about metrics; the orchestrator only reports events.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::connection::Connection;
use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use rqs_core::Outcome;
use rqs_orchestrator::{Event, Observer, StepDown};
use rqs_redis::RedisJobStore;
use rqs_store::JobStore;
use tracing::debug;

/// Metric names, as the README lists them.
pub(crate) mod names {
    pub(crate) const ENQUEUED: &str = "rqs_jobs_enqueued_total";
    pub(crate) const RESCHEDULED: &str = "rqs_jobs_rescheduled_total";
    pub(crate) const QUARANTINED: &str = "rqs_jobs_quarantined_total";
    pub(crate) const ERRORS: &str = "rqs_errors_total";
    pub(crate) const LOCK_ACQUIRED: &str = "rqs_lock_acquired_total";
    pub(crate) const LOCK_LOST: &str = "rqs_lock_lost_total";
    pub(crate) const SCHEDULED: &str = "rqs_scheduled_jobs";
    pub(crate) const DUE: &str = "rqs_due_jobs";
    pub(crate) const LEADER: &str = "rqs_is_leader";
    pub(crate) const NEXT_DUE: &str = "rqs_next_due_seconds";
    pub(crate) const LATENESS: &str = "rqs_lateness_seconds";
    pub(crate) const BATCH_DURATION: &str = "rqs_batch_duration_seconds";
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
pub(crate) fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = builder().install_recorder()?;
    describe();
    initialise();
    Ok(handle)
}

pub(crate) fn describe() {
    use names::*;
    describe_counter!(
        ENQUEUED,
        "Jobs handed over to their RQ queue (pushed, or deferred behind a dependency)"
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
        LOCK_LOST,
        "Times this instance lost the lock before releasing it"
    );
    describe_gauge!(SCHEDULED, "Jobs in the schedule");
    describe_gauge!(DUE, "Jobs in the schedule that are due now (the backlog)");
    describe_gauge!(
        LEADER,
        "1 while this instance holds the lock and acts, else 0"
    );
    describe_gauge!(
        NEXT_DUE,
        "Due time of the earliest scheduled job, in Unix seconds (NaN when none)"
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

pub(crate) fn initialise() {
    use names::*;
    counter!(RESCHEDULED).absolute(0);
    counter!(LOCK_ACQUIRED).absolute(0);
    counter!(LOCK_LOST).absolute(0);
    gauge!(LEADER).set(0.0);
}

/// What the HTTP endpoints know of this process.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Redis answered the last probe, and the scheduler saw no connection error since.
    ready: AtomicBool,
    /// This instance holds the lock.
    active: AtomicBool,
}

impl Health {
    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }
}

/// Turns scheduler events into metrics and readiness.
#[derive(Debug, Clone)]
pub(crate) struct MetricsObserver {
    health: Arc<Health>,
}

impl MetricsObserver {
    pub(crate) fn new(health: Arc<Health>) -> Self {
        Self { health }
    }

    fn leader(&self, active: bool) {
        self.health.active.store(active, Ordering::Relaxed);
        gauge!(names::LEADER).set(if active { 1.0 } else { 0.0 });
    }
}

fn next_due(score: Option<f64>) {
    gauge!(names::NEXT_DUE).set(score.unwrap_or(f64::NAN));
}

impl Observer for MetricsObserver {
    fn observe(&self, event: &Event<'_>) {
        match event {
            Event::Born { .. } => self.leader(false),
            Event::Active {
                scheduled,
                next_due: next,
            } => {
                counter!(names::LOCK_ACQUIRED).increment(1);
                self.leader(true);
                if let Some(n) = scheduled {
                    gauge!(names::SCHEDULED).set(*n as f64);
                }
                next_due(*next);
            }
            Event::SteppedDown { reason } => {
                if matches!(reason, StepDown::LostLock | StepDown::LeaseExpired) {
                    counter!(names::LOCK_LOST).increment(1);
                }
                self.leader(false);
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
                        counter!(names::ENQUEUED, "queue" => queue).increment(1);
                        histogram!(names::LATENESS).record(lateness.as_secs_f64());
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
            Event::Stopped { .. } => self.leader(false),
            _ => {}
        }
    }
}

/// Every [`POLL_EVERY`]: reads the schedule's size, backlog and head (cheap `ZCOUNT`s),
/// which also tells whether Redis answers, and runs the exporter's upkeep. Runs until
/// the process ends.
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
            initialise();
            for e in events {
                observer.observe(e);
            }
        });
        handle.render()
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
        assert_eq!(value(&text, "rqs_next_due_seconds"), 1_800_000_000.0);
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
        assert!(health.is_active());
        assert!(
            !health.is_ready(),
            "a connection error makes the process unready"
        );
    }

    #[test]
    fn losing_the_lock_counts_and_clears_the_leader_gauge() {
        let health = Arc::new(Health::default());
        let text = render(
            &[
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
        assert!(value(&text, "rqs_next_due_seconds").is_nan());
        assert!(!health.is_active());
        assert!(health.is_ready());
    }
}

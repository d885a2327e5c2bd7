//! Outages: a short retry cadence however long the outage, one event at each end, every turn and lease reported.

use crate::{Error, Event, Observer, SchedulerConfig};
use mockall::Sequence;
use rqs_core::BackendError;
use rqs_lock::MockLockProvider;
use rqs_store::MockJobStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use super::*;

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_with_backoff() {
    let mut store = MockJobStore::new();
    let mut seq = Sequence::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(None));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Err(BackendError::Unavailable("connection reset".into())));
    let started = Instant::now();
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(move |_, _, _| {
            // The retry period (250 ms) plus at most half of it.
            let waited = started.elapsed();
            assert!(
                (Duration::from_millis(250)..=Duration::from_millis(375)).contains(&waited),
                "{waited:?}"
            );
            Ok(vec![job("a", 1.0)])
        });
    store
        .expect_commit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![]));
    let recorder = Arc::new(Recorder::default());
    let stats = scheduler(
        store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(stats.pushed, 1);
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .contains(&"error unavailable".to_owned())
    );
}

/// Runs a daemon through an outage of `outage` that starts 3 s in: every call of the
/// store, the lock and the lifecycle fails as unavailable meanwhile. Returns the events
/// seen (Ticks and lease renewals left out, as by [`Recorder`]), when the first pass after
/// the outage read the schedule (from the outage's end), and how many calls of `due`
/// failed.
async fn through_an_outage(outage: Duration) -> (Vec<String>, Duration, usize) {
    let started = Instant::now();
    let down_from = started + Duration::from_secs(3);
    let down_until = down_from + outage;
    let down = move || {
        let now = Instant::now();
        now >= down_from && now < down_until
    };
    let unavailable = || BackendError::Unavailable("connection refused".into());
    let failed = Arc::new(Mutex::new(0usize));
    let first_after = Arc::new(Mutex::new(None));
    let mut store = MockJobStore::new();
    let (f, a) = (failed.clone(), first_after.clone());
    store.expect_due().returning(move |_, _, _| {
        if down() {
            *f.lock().unwrap() += 1;
            return Err(unavailable());
        }
        let now = Instant::now();
        if now >= down_until {
            a.lock().unwrap().get_or_insert(now - down_until);
        }
        Ok(vec![])
    });
    store
        .expect_count()
        .returning(move |_| if down() { Err(unavailable()) } else { Ok(0) });
    store
        .expect_next_due()
        .returning(move || if down() { Err(unavailable()) } else { Ok(None) });
    let mut lock = MockLockProvider::new();
    lock.expect_acquire()
        .returning(move |_, _| if down() { Err(unavailable()) } else { Ok(true) });
    lock.expect_renew()
        .returning(move |_, _| if down() { Err(unavailable()) } else { Ok(true) });
    lock.expect_holder().returning(|| Ok(None));
    lock.expect_release().returning(|_| Ok(true));
    let mut lifecycle = lifecycle();
    lifecycle.checkpoint();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .returning(|_, _, _| Ok(()));
    lifecycle
        .expect_heartbeat()
        .returning(move |_, _, _| if down() { Err(unavailable()) } else { Ok(true) });
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let recorder = Arc::new(Recorder::default());
    scheduler(store, lock, lifecycle, SchedulerConfig::new("n"))
        .with_observer(recorder.clone())
        .run(tokio::time::sleep(
            Duration::from_secs(3) + outage + Duration::from_secs(3),
        ))
        .await
        .unwrap();
    let events = recorder.0.lock().unwrap().clone();
    let first = first_after
        .lock()
        .unwrap()
        .expect("a pass after the outage");
    let failed = *failed.lock().unwrap();
    (events, first, failed)
}

#[tokio::test(start_paused = true)]
async fn outages_short_and_long_are_retried_on_a_short_cadence() {
    for secs in [3, 20, 120] {
        let outage = Duration::from_secs(secs);
        let (events, first, _) = through_an_outage(outage).await;
        // The retry period plus its jitter: never a backoff that grew with the outage.
        assert!(
            first <= Duration::from_millis(375),
            "{secs} s outage: first pass {first:?} after it ended"
        );
        let outages = events.iter().filter(|e| e.starts_with("outage")).count();
        let backs = events.iter().filter(|e| *e == "back").count();
        assert_eq!((outages, backs), (1, 1), "{secs} s: {events:?}");
        // The lease (5 s) could not be renewed: given up while the backend was away,
        // and taken again once it answered.
        let down = events
            .iter()
            .position(|e| e == "down LeaseExpired")
            .unwrap_or_else(|| panic!("{secs} s: no step-down in {events:?}"));
        // The turn that found the backend again ends the outage (its first success is
        // that turn's lock, so "active" comes first).
        let back = events.iter().position(|e| e == "back").unwrap();
        let active_again = events
            .iter()
            .rposition(|e| e.starts_with("active"))
            .unwrap();
        assert!(
            down < active_again && active_again < back,
            "{secs} s: {events:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn every_turn_and_every_lease_is_reported() {
    #[derive(Debug, Default)]
    struct Count(Mutex<(usize, Vec<Duration>)>);
    impl Observer for Count {
        fn observe(&self, event: &Event<'_>) {
            let mut c = self.0.lock().unwrap();
            match event {
                Event::Tick => c.0 += 1,
                Event::LeaseRenewed { left } => c.1.push(*left),
                _ => {}
            }
        }
    }
    let count = Arc::new(Count::default());
    let script = scripted(vec![], None);
    scheduler(
        script.store,
        free_lock(),
        lifecycle(),
        SchedulerConfig::new("n"),
    )
    .with_observer(count.clone())
    .run(tokio::time::sleep(Duration::from_millis(10_500)))
    .await
    .unwrap();
    let (ticks, leases) = count.0.lock().unwrap().clone();
    // One at birth, one at 0 s and one at every wake-up (1 s .. 10 s).
    assert_eq!(ticks, 12);
    // Taken at start, renewed when half of it is gone; each time for the whole lease
    // (paused time: no time passes during a call).
    assert!(leases.len() >= 3, "{leases:?}");
    assert!(
        leases.iter().all(|l| *l == Duration::from_secs(5)),
        "{leases:?}"
    );
}

#[test]
fn every_error_kind_is_listed() {
    let backend = [
        BackendError::Unavailable("x".into()),
        BackendError::ReadOnly("x".into()),
        BackendError::PermissionDenied("x".into()),
        BackendError::Rejected("x".into()),
        BackendError::Protocol("x".into()),
        BackendError::NotScheduled("j".into()),
        BackendError::NotQuarantined("j".into()),
        BackendError::AlreadyActive("n".into()),
        BackendError::Other("x".into()),
    ];
    let mut errors: Vec<Error> = backend.into_iter().map(Error::Store).collect();
    errors.push(Error::InvalidConfig("x".into()));
    errors.push(Error::AlreadyActive("n".into()));
    errors.push(Error::ForeignScheduler(vec![]));
    for e in &errors {
        assert!(
            Error::KINDS.contains(&e.kind()),
            "{} is not listed",
            e.kind()
        );
    }
}

//! Birth, heartbeats and names: a clash waited out or refused, a Python scheduler warned about, re-birth after an outage.

use crate::{Error, SchedulerConfig};
use mockall::Sequence;
use rqs_core::BackendError;
use rqs_lifecycle::{InstanceRecord, MockLifecycleRegistry};
use rqs_lock::MockLockProvider;
use rqs_store::MockJobStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use super::*;

#[tokio::test(start_paused = true)]
async fn refuses_to_start_when_the_name_stays_alive() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    let tries = Arc::new(Mutex::new(0));
    let t = tries.clone();
    lifecycle.expect_register_birth().returning(move |n, _, _| {
        *t.lock().unwrap() += 1;
        Err(BackendError::AlreadyActive(n.to_owned()))
    });
    // No lock, store or death expectations: touching them fails the test.
    let s = scheduler(
        MockJobStore::new(),
        MockLockProvider::new(),
        lifecycle,
        SchedulerConfig::new("busy"),
    );
    let started = Instant::now();
    let err = s.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(err, Error::AlreadyActive(ref n) if n == "busy"),
        "{err:?}"
    );
    // Tried every half second for as long as a crashed instance's heartbeat takes to
    // go stale (and a margin), then refused: the holder kept beating.
    let waited = started.elapsed();
    let stale = rqs_lifecycle::STALE_AFTER;
    assert!(
        waited >= stale && waited <= stale + Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(*tries.lock().unwrap() >= 10, "{}", tries.lock().unwrap());
}

#[tokio::test(start_paused = true)]
async fn a_crashed_instance_of_the_same_name_is_waited_out_not_refused() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    let mut seq = Sequence::new();
    // The record of the crashed instance goes stale after three refusals.
    lifecycle
        .expect_register_birth()
        .times(3)
        .in_sequence(&mut seq)
        .returning(|n, _, _| Err(BackendError::AlreadyActive(n.to_owned())));
    lifecycle
        .expect_register_birth()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let recorder = Arc::new(Recorder::default());
    let started = Instant::now();
    scheduler(
        script.store,
        free_lock(),
        lifecycle,
        SchedulerConfig::new("again").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(1_500));
    assert_eq!(recorder.0.lock().unwrap()[0], "born again");
}

#[tokio::test(start_paused = true)]
async fn a_birth_while_redis_is_unavailable_is_retried() {
    let mut lifecycle = MockLifecycleRegistry::new();
    let mut seq = Sequence::new();
    lifecycle
        .expect_instances()
        .times(2)
        .in_sequence(&mut seq)
        .returning(|| Err(BackendError::Unavailable("loading".into())));
    lifecycle
        .expect_instances()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(()));
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let started = Instant::now();
    let recorder = Arc::new(Recorder::default());
    scheduler(
        script.store,
        free_lock(),
        lifecycle,
        SchedulerConfig::new("n").burst(true),
    )
    .with_observer(recorder.clone())
    .run(std::future::pending())
    .await
    .unwrap();
    // Two waits of the retry period plus up to half of it, not a growing backoff.
    let waited = started.elapsed();
    assert!(
        (Duration::from_millis(500)..=Duration::from_millis(750)).contains(&waited),
        "{waited:?}"
    );
    let events = recorder.0.lock().unwrap();
    assert_eq!(
        events[..5],
        [
            "error unavailable",
            "outage unavailable",
            "error unavailable",
            "back",
            "born n"
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_bad_name_is_refused_before_any_call() {
    for name in ["", "has space", "new\nline", &"n".repeat(65)] {
        let s = scheduler(
            MockJobStore::new(),
            MockLockProvider::new(),
            MockLifecycleRegistry::new(),
            SchedulerConfig::new(name),
        );
        let err = s.run(std::future::pending()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidConfig(_)), "{name:?}: {err:?}");
    }
}

fn python_instance() -> Vec<(String, InstanceRecord)> {
    let mut record = InstanceRecord::default();
    record.birth = Some("1795804227.8".into());
    vec![("python-one".to_owned(), record)]
}

#[tokio::test(start_paused = true)]
async fn a_live_python_scheduler_is_refused_in_exclusive_mode() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle
        .expect_instances()
        .times(1)
        .returning(|| Ok(python_instance()));
    let s = scheduler(
        MockJobStore::new(),
        MockLockProvider::new(),
        lifecycle,
        SchedulerConfig::new("n").exclusive(true),
    );
    let err = s.run(std::future::pending()).await.unwrap_err();
    assert!(
        matches!(&err, Error::ForeignScheduler(names) if names == &["python-one"]),
        "{err:?}"
    );
    // Without --exclusive it is only a warning.
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle
        .expect_instances()
        .returning(|| Ok(python_instance()));
    lifecycle
        .expect_register_birth()
        .returning(|_, _, _| Ok(()));
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    scheduler(
        script.store,
        free_lock(),
        lifecycle,
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_sleep_releases_the_lock_and_registers_death() {
    let script = scripted(vec![], None);
    let mut lock = MockLockProvider::new();
    lock.expect_acquire().times(1).returning(|_, _| Ok(true));
    // Woken every second for 10 s; the 5 s lease is renewed once half of it is gone.
    lock.expect_renew().times(3..=4).returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .times(1)
        .returning(|_, _, _| Ok(()));
    // A heartbeat every second (so that a crash is seen within seconds): the wake-ups
    // at 1 s .. 10 s.
    lifecycle
        .expect_heartbeat()
        .times(10)
        .returning(|_, _, _| Ok(true));
    lifecycle
        .expect_register_death()
        .times(1)
        .returning(|_, _| Ok(()));
    let started = Instant::now();
    scheduler(script.store, lock, lifecycle, SchedulerConfig::new("n"))
        .run(tokio::time::sleep(Duration::from_millis(10_500)))
        .await
        .unwrap();
    assert_eq!(
        started.elapsed(),
        Duration::from_millis(10_500),
        "stops at once"
    );
    assert_eq!(script.calls.lock().unwrap().len(), 11, "one read a second");
}

#[tokio::test(start_paused = true)]
async fn heartbeats_come_every_second_and_keep_the_record_alive() {
    let beats = Arc::new(Mutex::new(Vec::new()));
    let b = beats.clone();
    let started = Instant::now();
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .returning(|_, _, _| Ok(()));
    lifecycle
        .expect_heartbeat()
        .withf(|_, _, ttl| *ttl == Duration::from_secs(11))
        .returning(move |_, _, _| {
            b.lock().unwrap().push(started.elapsed().as_secs());
            Ok(true)
        });
    lifecycle.expect_register_death().returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let config = SchedulerConfig::new("n").interval(Duration::from_secs(1));
    scheduler(script.store, free_lock(), lifecycle, config)
        .run(tokio::time::sleep(Duration::from_millis(12_500)))
        .await
        .unwrap();
    assert_eq!(*beats.lock().unwrap(), (1..=12).collect::<Vec<_>>());
}

#[tokio::test(start_paused = true)]
async fn an_expired_instance_record_is_registered_again() {
    let mut lifecycle = MockLifecycleRegistry::new();
    lifecycle.expect_instances().returning(|| Ok(vec![]));
    lifecycle
        .expect_register_birth()
        .times(2)
        .returning(|_, _, _| Ok(()));
    // The record is gone at the first heartbeat (an outage outlived it), then kept.
    let mut first = true;
    lifecycle
        .expect_heartbeat()
        .times(1..)
        .returning(move |_, _, _| Ok(!std::mem::take(&mut first)));
    lifecycle
        .expect_register_death()
        .times(1)
        .returning(|_, _| Ok(()));
    let script = scripted(vec![], None);
    let config = SchedulerConfig::new("n").interval(Duration::from_secs(1));
    scheduler(script.store, free_lock(), lifecycle, config)
        .run(tokio::time::sleep(Duration::from_millis(4_500)))
        .await
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_name_clash_at_re_birth_ends_the_run_as_at_first_birth() {
    for burst in [true, false] {
        let mut seq = Sequence::new();
        let mut lifecycle = MockLifecycleRegistry::new();
        lifecycle.expect_instances().returning(|| Ok(vec![]));
        lifecycle
            .expect_register_birth()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(()));
        lifecycle
            .expect_heartbeat()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _, _| Ok(false));
        lifecycle
            .expect_register_birth()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|name, _, _| Err(BackendError::AlreadyActive(name.to_owned())));
        // The record now belongs to the other instance: no death is written over it.
        lifecycle.expect_register_death().times(0);
        let script = scripted(vec![], None);
        // A one-second interval: the first heartbeat falls due after four seconds.
        let config = SchedulerConfig::new("twin")
            .burst(burst)
            .interval(Duration::from_secs(1));
        let mut lock = MockLockProvider::new();
        lock.expect_acquire().returning(|_, _| Ok(false));
        lock.expect_holder()
            .returning(|| Ok(Some("other@1.0".into())));
        let err = scheduler(script.store, lock, lifecycle, config)
            .run(std::future::pending())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::AlreadyActive(ref n) if n == "twin"),
            "burst={burst}: {err:?}"
        );
    }
}

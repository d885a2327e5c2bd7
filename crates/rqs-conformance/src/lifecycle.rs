//! Conformance cases of `LifecycleRegistry`.

use std::time::Duration;

use chrono::{TimeZone, Utc};
use rqs_lifecycle::{BackendError, LifecycleRegistry};

const TTL: Duration = Duration::from_secs(70);

/// A live name cannot be born again; another name can.
pub async fn birth_refuses_a_live_name(registry: &impl LifecycleRegistry, _: &()) {
    let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    registry.register_birth("one", at, TTL).await.unwrap();
    let err = registry.register_birth("one", at, TTL).await.unwrap_err();
    assert!(
        matches!(err, BackendError::AlreadyActive(ref n) if n == "one"),
        "{err:?}"
    );
    registry.register_birth("two", at, TTL).await.unwrap();
    let record = registry.record("one").await.unwrap().unwrap();
    assert_eq!(record.birth.as_deref(), Some("1800000000.0"));
    assert_eq!(record.death, None);
}

/// After a death the name is free again, and the new birth clears the death.
pub async fn death_allows_a_new_birth(registry: &impl LifecycleRegistry, _: &()) {
    let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    registry.register_birth("one", at, TTL).await.unwrap();
    registry.register_death("one", at).await.unwrap();
    registry.register_death("one", at).await.unwrap();
    assert!(
        registry
            .record("one")
            .await
            .unwrap()
            .unwrap()
            .death
            .is_some()
    );
    registry.register_birth("one", at, TTL).await.unwrap();
    assert_eq!(registry.record("one").await.unwrap().unwrap().death, None);
}

/// A heartbeat keeps a record alive and reports one that has expired.
///
/// The first heartbeat must arrive within the first record lifetime; a round where the
/// machine stalled longer proves nothing and is repeated (a few times at most).
pub async fn heartbeat_reports_an_expired_record(registry: &impl LifecycleRegistry, _: &()) {
    let at = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
    let first = Duration::from_secs(1);
    let short = Duration::from_millis(300);
    for round in 1..=5 {
        let started = tokio::time::Instant::now();
        registry.register_birth("short", at, first).await.unwrap();
        if !registry.heartbeat("short", at, short).await.unwrap() {
            assert!(
                started.elapsed() >= first,
                "heartbeat missed a live record (round {round})"
            );
            continue;
        }
        tokio::time::sleep(short * 2).await;
        assert!(!registry.heartbeat("short", at, TTL).await.unwrap());
        assert_eq!(registry.record("short").await.unwrap(), None);
        registry.register_birth("short", at, TTL).await.unwrap();
        return;
    }
    panic!("five rounds in a row took over a second between birth and heartbeat");
}

/// Birth and death are stored as Python's `repr(time.time())` prints them.
pub async fn times_are_python_float_reprs(registry: &impl LifecycleRegistry, _: &()) {
    let born = Utc.timestamp_opt(1_795_804_227, 848_194_600).unwrap();
    let died = Utc.timestamp_opt(1_795_804_300, 500_000_000).unwrap();
    registry.register_birth("n", born, TTL).await.unwrap();
    registry.register_death("n", died).await.unwrap();
    let record = registry.record("n").await.unwrap().unwrap();
    assert_eq!(record.birth.as_deref(), Some("1795804227.8481946"));
    assert_eq!(record.death.as_deref(), Some("1795804300.5"));
}

/// `instances` lists every record by name, rqs's marked with its version and last
/// heartbeat, dead ones with their death.
pub async fn instances_lists_every_record(registry: &impl LifecycleRegistry, _: &()) {
    let born = Utc.timestamp_opt(1_795_804_227, 0).unwrap();
    let beat = Utc.timestamp_opt(1_795_804_230, 500_000_000).unwrap();
    registry.register_birth("b-alive", born, TTL).await.unwrap();
    assert!(registry.heartbeat("b-alive", beat, TTL).await.unwrap());
    registry.register_birth("a-dead", born, TTL).await.unwrap();
    registry.register_death("a-dead", beat).await.unwrap();
    let all = registry.instances().await.unwrap();
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["a-dead", "b-alive"]);
    let alive = &all[1].1;
    assert!(alive.is_alive() && alive.is_rqs());
    assert_eq!(alive.birth.as_deref(), Some("1795804227.0"));
    // `at`, or the backend's own clock where it has one: a number of Unix seconds.
    let heartbeat = alive
        .heartbeat
        .as_deref()
        .expect("rqs records carry a heartbeat");
    assert!(heartbeat.parse::<f64>().is_ok(), "{heartbeat}");
    assert!(!all[0].1.is_alive());
    assert_eq!(all[0].1.death.as_deref(), Some("1795804230.5"));
}

/// A record whose heartbeat stopped more than `STALE_AFTER` ago is a crashed instance's:
/// a birth under its name takes it over. One with a fresh heartbeat is refused.
///
/// Times are real (now, and a real wait): a backend may stamp heartbeats with its own
/// clock. A round where the machine stalled past `STALE_AFTER` between the birth and the
/// second one proves nothing and is repeated (a few times at most).
pub async fn birth_takes_over_a_stale_record(registry: &impl LifecycleRegistry, _: &()) {
    use rqs_lifecycle::STALE_AFTER;
    for round in 1..=5 {
        let name = format!("crashed-{round}");
        let started = tokio::time::Instant::now();
        registry
            .register_birth(&name, Utc::now(), TTL)
            .await
            .unwrap();
        assert!(registry.heartbeat(&name, Utc::now(), TTL).await.unwrap());
        let refused = registry.register_birth(&name, Utc::now(), TTL).await;
        if started.elapsed() >= STALE_AFTER {
            continue;
        }
        assert!(
            matches!(refused, Err(BackendError::AlreadyActive(_))),
            "a fresh heartbeat must keep the name: {refused:?}"
        );
        tokio::time::sleep(STALE_AFTER + Duration::from_millis(300)).await;
        let reborn = Utc::now();
        registry.register_birth(&name, reborn, TTL).await.unwrap();
        let record = registry.record(&name).await.unwrap().unwrap();
        assert_eq!(record.birth, Some(rqs_lifecycle::stamp(reborn)));
        assert!(record.is_alive_at(rqs_core::time::unix_seconds(reborn)));
        return;
    }
    panic!("five rounds in a row stalled past STALE_AFTER between two calls");
}

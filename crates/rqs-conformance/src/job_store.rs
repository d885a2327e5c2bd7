//! Conformance cases of `JobStore`.

use chrono::{TimeZone, Utc};
use rqs_core::{
    Action, Enqueue, EnqueueOptions, HandOff, JobHash, MetaGuard, MetaUpdate, Outcome,
    QuarantineKind, ScheduledJob,
};
use rqs_store::JobStore;

use super::{client_job, client_job_with};
use crate::Probe;

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 123_456_000).unwrap()
}

async fn read(store: &impl JobStore, probe: &impl Probe, id: &str) -> ScheduledJob {
    let score = probe.score(id).await.expect("job is scheduled");
    let due = store.due(score, 0, 10_000).await.unwrap();
    due.into_iter()
        .find(|j| j.id == id)
        .expect("job is due at its own score")
}

fn enqueue(job: &ScheduledJob, next: Option<f64>) -> HandOff {
    HandOff {
        job_id: job.id.clone(),
        read_score: job.score,
        action: Action::Enqueue {
            enqueue: Box::new(Enqueue::for_job(job, now(), &EnqueueOptions::default()).unwrap()),
            meta: None,
            next,
        },
    }
}

/// Schedules `hash` as `id` (due at 1.0), reads it back and commits its enqueue as
/// RQ's own sink describes it; the outcome.
async fn hand_over(store: &impl JobStore, probe: &impl Probe, id: &str, hash: JobHash) -> Outcome {
    probe.schedule(id, &hash, 1.0).await;
    let job = read(store, probe, id).await;
    let outcomes = store.commit(&[enqueue(&job, None)]).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    outcomes[0]
}

/// `due` returns jobs with scores in `[0, until]` ordered by score, then id, with hashes.
pub async fn due_orders_by_score_then_id(store: &impl JobStore, probe: &impl Probe) {
    let hash = client_job("default");
    for (id, score) in [
        ("b", 5.0),
        ("a", 5.0),
        ("c", 1.0),
        ("d", 100.0),
        ("neg", -1.0),
    ] {
        probe.schedule(id, &hash, score).await;
    }
    let due = store.due(10.0, 0, 10).await.unwrap();
    let ids: Vec<_> = due
        .iter()
        .map(|j| (j.id.to_str().unwrap(), j.score))
        .collect();
    assert_eq!(ids, [("c", 1.0), ("a", 5.0), ("b", 5.0)]);
    assert_eq!(due[0].hash.as_ref(), Some(&hash.projection()));
    assert_eq!(due[0].hash.as_ref().unwrap().get("data"), Some(&b""[..]));
    let first_two: Vec<_> = store
        .due(10.0, 0, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(first_two, ["c", "a"]);
    assert_eq!(store.next_due().await.unwrap(), Some(1.0));
    assert!(store.due(0.5, 0, 10).await.unwrap().is_empty());
}

/// A scheduled id without a hash is due with `hash: None`.
pub async fn due_reports_missing_hashes(store: &impl JobStore, probe: &impl Probe) {
    probe.schedule("ghost", &JobHash::new(), 3.0).await;
    probe.schedule("real", &client_job("q"), 4.0).await;
    let due = store.due(10.0, 0, 10).await.unwrap();
    assert_eq!(due[0].id, "ghost");
    assert_eq!(due[0].hash, None);
    assert!(due[1].hash.is_some());
    // A hash without `data` or any hand-off field still exists.
    probe.write_job("bare", &[("description", b"x")]).await;
    probe.schedule("bare", &JobHash::new(), 3.5).await;
    let due = store.due(10.0, 0, 10).await.unwrap();
    assert_eq!(due[1].id, "bare");
    assert_eq!(due[1].hash, Some(JobHash::new()));
    assert_eq!(probe.job("ghost").await, None);
}

/// A one-off job is pushed and leaves the schedule in the same step.
pub async fn commit_pushes_and_unschedules_a_one_off_job(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    probe.schedule("a", &client_job("default"), 10.0).await;
    let job = read(store, probe, "a").await;
    let outcomes = store.commit(&[enqueue(&job, None)]).await.unwrap();
    assert_eq!(outcomes, [Outcome::Pushed]);
    assert_eq!(probe.queue("default").await, ["a"]);
    assert_eq!(probe.score("a").await, None);
    let hash = probe.job("a").await.unwrap();
    assert_eq!(hash.get("status"), Some(&b"queued"[..]));
    assert_eq!(
        hash.get("enqueued_at"),
        Some(&b"2027-01-15T08:00:00.123456Z"[..])
    );
    assert_eq!(hash.get("timeout"), Some(&b"180"[..]));
    assert_eq!(
        hash.get("description"),
        Some(&b"tasks.ok()"[..]),
        "other fields stay"
    );
    assert_eq!(probe.known_queues().await, ["default"]);
}

/// A periodic job is pushed and re-armed at its next score in the same step.
pub async fn commit_rearms_a_periodic_job(store: &impl JobStore, probe: &impl Probe) {
    probe.schedule("p", &client_job("default"), 10.0).await;
    let job = read(store, probe, "p").await;
    assert_eq!(
        store.commit(&[enqueue(&job, Some(500.0))]).await.unwrap(),
        [Outcome::Pushed]
    );
    assert_eq!(probe.score("p").await, Some(500.0));
    assert_eq!(probe.queue("default").await, ["p"]);
}

/// A job whose score changed since it was read (cancelled or moved) is left alone.
pub async fn commit_is_guarded_by_the_read_score(store: &impl JobStore, probe: &impl Probe) {
    probe.schedule("moved", &client_job("default"), 10.0).await;
    probe.schedule("gone", &client_job("default"), 11.0).await;
    let moved = read(store, probe, "moved").await;
    let gone = read(store, probe, "gone").await;
    probe.set_score("moved", 20.0).await;
    probe.unschedule("gone").await;
    let outcomes = store
        .commit(&[enqueue(&moved, None), enqueue(&gone, Some(99.0))])
        .await
        .unwrap();
    assert_eq!(outcomes, [Outcome::Stale, Outcome::Stale]);
    assert!(probe.queue("default").await.is_empty());
    assert_eq!(probe.score("moved").await, Some(20.0));
    assert_eq!(probe.score("gone").await, None);
    assert_eq!(
        probe.job("moved").await.unwrap().get("status"),
        Some(&b"scheduled"[..])
    );
}

/// Committing a batch again (a retry after a timeout) changes nothing.
pub async fn commit_twice_changes_nothing_the_second_time(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    probe.schedule("a", &client_job("default"), 10.0).await;
    probe.schedule("p", &client_job("default"), 10.0).await;
    let batch = [
        enqueue(&read(store, probe, "a").await, None),
        enqueue(&read(store, probe, "p").await, Some(70.0)),
    ];
    assert_eq!(
        store.commit(&batch).await.unwrap(),
        [Outcome::Pushed, Outcome::Pushed]
    );
    assert_eq!(
        store.commit(&batch).await.unwrap(),
        [Outcome::Stale, Outcome::Stale]
    );
    assert_eq!(probe.queue("default").await, ["a", "p"]);
    assert_eq!(probe.score("p").await, Some(70.0));
}

/// Unschedule removes the id only; quarantine records it with its score and reason.
pub async fn commit_unschedules_and_quarantines(store: &impl JobStore, probe: &impl Probe) {
    probe.schedule("ghost", &JobHash::new(), 5.0).await;
    probe.schedule("bad", &client_job("q"), 6.0).await;
    let batch = [
        HandOff {
            job_id: "ghost".into(),
            read_score: 5.0,
            action: Action::Unschedule {
                reason: "job hash is missing".into(),
            },
        },
        HandOff {
            job_id: "bad".into(),
            read_score: 6.0,
            action: Action::Quarantine {
                kind: QuarantineKind::InvalidCron,
                reason: "invalid cron string \"61 * * * *\"".into(),
                at: 1_800_000_000,
            },
        },
    ];
    assert_eq!(
        store.commit(&batch).await.unwrap(),
        [Outcome::Unscheduled, Outcome::Quarantined]
    );
    assert_eq!(store.count(None).await.unwrap(), 0);
    let quarantined = probe.quarantined().await;
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].job_id, "bad");
    assert_eq!(quarantined[0].score, 6.0);
    assert_eq!(quarantined[0].reason, "invalid cron string \"61 * * * *\"");
    assert_eq!(quarantined[0].at, 1_800_000_000);
    assert_eq!(quarantined[0].kind, Some(QuarantineKind::InvalidCron));
    assert!(
        probe.job("bad").await.is_some(),
        "quarantine keeps the hash"
    );
    assert!(probe.queue("q").await.is_empty());
}

/// A hash that disappeared between read and commit is unscheduled, never half-written.
pub async fn commit_of_a_vanished_hash_unschedules_it(store: &impl JobStore, probe: &impl Probe) {
    probe.schedule("a", &client_job("default"), 10.0).await;
    let job = read(store, probe, "a").await;
    probe.delete_job("a").await;
    assert_eq!(
        store.commit(&[enqueue(&job, Some(100.0))]).await.unwrap(),
        [Outcome::Vanished]
    );
    assert_eq!(probe.score("a").await, None);
    assert!(probe.queue("default").await.is_empty());
    assert_eq!(probe.job("a").await, None, "no partial hash is created");
}

/// A meta update applies only over the meta it was computed from.
pub async fn commit_guards_and_replaces_meta(store: &impl JobStore, probe: &impl Probe) {
    probe
        .schedule("a", &client_job_with("default", &[("meta", b"old")]), 10.0)
        .await;
    let job = read(store, probe, "a").await;
    let with_meta = |expected: &[u8]| {
        let mut h = enqueue(&job, Some(50.0));
        if let Action::Enqueue { meta, .. } = &mut h.action {
            *meta = Some(MetaUpdate {
                expected: MetaGuard::of(Some(expected)),
                new: b"new".to_vec(),
            });
        }
        h
    };
    assert_eq!(
        store.commit(&[with_meta(b"other")]).await.unwrap(),
        [Outcome::MetaChanged]
    );
    assert_eq!(probe.job("a").await.unwrap().get("meta"), Some(&b"old"[..]));
    assert!(probe.queue("default").await.is_empty());
    assert_eq!(probe.score("a").await, Some(10.0));
    assert_eq!(
        store.commit(&[with_meta(b"old")]).await.unwrap(),
        [Outcome::Pushed]
    );
    assert_eq!(probe.job("a").await.unwrap().get("meta"), Some(&b"new"[..]));
    assert_eq!(probe.score("a").await, Some(50.0));
}

/// The commit applies RQ's dependency rule: an unfinished dependency defers the job.
pub async fn commit_defers_behind_an_unfinished_dependency(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    probe
        .write_job("dep", &[("status", b"started"), ("data", b"x")])
        .await;
    probe
        .schedule(
            "a",
            &client_job_with("q", &[("dependency_ids", br#"["dep"]"#)]),
            10.0,
        )
        .await;
    let job = read(store, probe, "a").await;
    assert_eq!(
        store.commit(&[enqueue(&job, None)]).await.unwrap(),
        [Outcome::Deferred]
    );
    assert!(probe.queue("q").await.is_empty());
    assert_eq!(
        probe.job("a").await.unwrap().get("status"),
        Some(&b"deferred"[..])
    );
    assert!(probe.deferred("q").await.contains_key("a"));
    assert_eq!(probe.score("a").await, None);
}

/// Outcomes come back in batch order, and each hand-off is judged on its own.
pub async fn commit_keeps_batch_order(store: &impl JobStore, probe: &impl Probe) {
    for (id, score) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
        probe.schedule(id, &client_job("default"), score).await;
    }
    let (a, b, c) = (
        read(store, probe, "a").await,
        read(store, probe, "b").await,
        read(store, probe, "c").await,
    );
    probe.unschedule("b").await;
    let outcomes = store
        .commit(&[enqueue(&c, None), enqueue(&b, None), enqueue(&a, None)])
        .await
        .unwrap();
    assert_eq!(outcomes, [Outcome::Pushed, Outcome::Stale, Outcome::Pushed]);
    assert_eq!(probe.queue("default").await, ["c", "a"]);
}

/// The same job twice in one batch is handed off once.
pub async fn commit_handles_a_repeated_id_once(store: &impl JobStore, probe: &impl Probe) {
    probe.schedule("a", &client_job("default"), 10.0).await;
    probe.schedule("p", &client_job("default"), 10.0).await;
    let (a, p) = (read(store, probe, "a").await, read(store, probe, "p").await);
    let batch = [
        enqueue(&a, None),
        enqueue(&p, Some(99.0)),
        enqueue(&a, None),
        enqueue(&p, Some(99.0)),
    ];
    assert_eq!(
        store.commit(&batch).await.unwrap(),
        [
            Outcome::Pushed,
            Outcome::Pushed,
            Outcome::Stale,
            Outcome::Stale
        ]
    );
    assert_eq!(probe.queue("default").await, ["a", "p"]);
}

/// Pushes at the head and the tail of several queues keep RQ's order.
pub async fn commit_keeps_push_order_per_queue(store: &impl JobStore, probe: &impl Probe) {
    let front: &[(&str, &[u8])] = &[("enqueue_at_front", b"1")];
    let jobs = [
        ("b1", "q1", false),
        ("f1", "q1", true),
        ("b2", "q2", false),
        ("b3", "q1", false),
        ("f2", "q1", true),
        ("f3", "q2", true),
    ];
    for (n, (id, queue, at_front)) in jobs.iter().enumerate() {
        let hash = if *at_front {
            client_job_with(queue, front)
        } else {
            client_job(queue)
        };
        probe.schedule(id, &hash, n as f64).await;
    }
    let mut batch = Vec::new();
    for (id, _, _) in jobs {
        batch.push(enqueue(&read(store, probe, id).await, None));
    }
    store.commit(&batch).await.unwrap();
    assert_eq!(probe.queue("q1").await, ["f2", "f1", "b1", "b3"]);
    assert_eq!(probe.queue("q2").await, ["f3", "b2"]);
    assert_eq!(probe.known_queues().await, ["q1", "q2"]);
}

/// `offset` skips jobs at the head (the ones a pass could not move), `count` counts like
/// `Scheduler.count`.
pub async fn due_skips_offset_and_count_matches_rq_scheduler(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    let hash = client_job("default");
    for (id, score) in [
        ("a", 10.0),
        ("b", 20.0),
        ("c", 30.0),
        ("d", 40.0),
        ("neg", -5.0),
    ] {
        probe.schedule(id, &hash, score).await;
    }
    let ids = |jobs: Vec<ScheduledJob>| -> Vec<String> {
        jobs.into_iter()
            .map(|j| j.id.to_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(store.due(35.0, 1, 10).await.unwrap()), ["b", "c"]);
    assert_eq!(ids(store.due(35.0, 2, 1).await.unwrap()), ["c"]);
    assert!(store.due(35.0, 3, 10).await.unwrap().is_empty());
    assert_eq!(store.count(None).await.unwrap(), 4);
    assert_eq!(store.count(Some(30.0)).await.unwrap(), 3);
    assert_eq!(store.count(Some(9.0)).await.unwrap(), 0);
    assert_eq!(store.next_due().await.unwrap(), Some(10.0));
}

/// A meta update over a large meta is guarded like one over a small meta.
pub async fn commit_guards_a_large_meta(store: &impl JobStore, probe: &impl Probe) {
    let big = vec![b'm'; 300_000];
    probe
        .schedule("a", &client_job_with("default", &[("meta", &big)]), 10.0)
        .await;
    let job = read(store, probe, "a").await;
    assert_eq!(job.hash.as_ref().unwrap().get("meta"), Some(big.as_slice()));
    let with_guard = |guard: MetaGuard| {
        let mut h = enqueue(&job, Some(50.0));
        if let Action::Enqueue { meta, .. } = &mut h.action {
            *meta = Some(MetaUpdate {
                expected: guard,
                new: b"new".to_vec(),
            });
        }
        h
    };
    let mut other = big.clone();
    other[7] = b'x';
    assert_eq!(
        store
            .commit(&[with_guard(MetaGuard::of(Some(&other)))])
            .await
            .unwrap(),
        [Outcome::MetaChanged]
    );
    assert_eq!(
        store
            .commit(&[with_guard(MetaGuard::Absent)])
            .await
            .unwrap(),
        [Outcome::MetaChanged]
    );
    assert_eq!(
        store
            .commit(&[with_guard(MetaGuard::of(Some(&big)))])
            .await
            .unwrap(),
        [Outcome::Pushed]
    );
    assert_eq!(probe.job("a").await.unwrap().get("meta"), Some(&b"new"[..]));
    assert_eq!(probe.score("a").await, Some(50.0));
}

/// A job is pushed at the tail and its queue registered in `rq:queues`.
pub async fn commit_pushes_at_the_tail_and_registers_the_queue(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    assert_eq!(
        hand_over(store, probe, "a", client_job("default")).await,
        Outcome::Pushed
    );
    assert_eq!(
        hand_over(store, probe, "b", client_job("default")).await,
        Outcome::Pushed
    );
    assert_eq!(
        hand_over(store, probe, "c", client_job("brandnew")).await,
        Outcome::Pushed
    );
    assert_eq!(probe.queue("default").await, ["a", "b"]);
    assert_eq!(probe.queue("brandnew").await, ["c"]);
    assert_eq!(probe.known_queues().await, ["brandnew", "default"]);
    let hash = probe.job("a").await.unwrap();
    assert_eq!(hash.get("status"), Some(&b"queued"[..]));
    assert_eq!(hash.get("timeout"), Some(&b"180"[..]));
    assert_eq!(probe.job_ttl("a").await, None);
}

/// `enqueue_at_front=1` pushes at the head, so several end up in reverse order.
pub async fn commit_at_front_pushes_at_the_head(store: &impl JobStore, probe: &impl Probe) {
    hand_over(store, probe, "back", client_job("q")).await;
    for id in ["f1", "f2"] {
        hand_over(
            store,
            probe,
            id,
            client_job_with("q", &[("enqueue_at_front", b"1")]),
        )
        .await;
    }
    hand_over(
        store,
        probe,
        "zero",
        client_job_with("q", &[("enqueue_at_front", b"0")]),
    )
    .await;
    assert_eq!(probe.queue("q").await, ["f2", "f1", "back", "zero"]);
}

/// A job with a timeout keeps it; only an absent or empty one becomes 180.
pub async fn commit_keeps_an_existing_timeout(store: &impl JobStore, probe: &impl Probe) {
    hand_over(
        store,
        probe,
        "t",
        client_job_with("q", &[("timeout", b"30")]),
    )
    .await;
    hand_over(store, probe, "e", client_job_with("q", &[("timeout", b"")])).await;
    assert_eq!(
        probe.job("t").await.unwrap().get("timeout"),
        Some(&b"30"[..])
    );
    assert_eq!(
        probe.job("e").await.unwrap().get("timeout"),
        Some(&b"180"[..])
    );
}

/// A positive `ttl` field expires the job hash at the hand-off.
pub async fn commit_expires_a_job_with_ttl(store: &impl JobStore, probe: &impl Probe) {
    hand_over(store, probe, "t", client_job_with("q", &[("ttl", b"600")])).await;
    let ttl = probe.job_ttl("t").await.expect("hash has a ttl");
    // Up to 40 s for a stalled machine between the hand-off and the read.
    assert!((560..=600).contains(&ttl), "{ttl}");
    hand_over(store, probe, "n", client_job_with("q", &[("ttl", b"-1")])).await;
    assert_eq!(probe.job_ttl("n").await, None);
}

/// An existing dependency that is not finished defers the job, as RQ does.
pub async fn commit_records_a_deferral_like_rq(store: &impl JobStore, probe: &impl Probe) {
    probe
        .write_job("d1", &[("status", b"finished"), ("data", b"x")])
        .await;
    probe
        .write_job("d2", &[("status", b"queued"), ("data", b"x")])
        .await;
    let hash = client_job_with(
        "q",
        &[
            ("dependency_ids", br#"["d1", "d2"]"#),
            ("dependency_id", b"d1"),
            ("ttl", b"300"),
        ],
    );
    assert_eq!(hand_over(store, probe, "a", hash).await, Outcome::Deferred);
    assert!(probe.queue("q").await.is_empty());
    assert_eq!(probe.known_queues().await, ["q"]);
    let stored = probe.job("a").await.unwrap();
    assert_eq!(stored.get("status"), Some(&b"deferred"[..]));
    assert_eq!(
        stored.get("enqueued_at"),
        None,
        "a deferred job is not enqueued yet"
    );
    assert_eq!(probe.deferred("q").await.get("a"), Some(&1_800_000_000));
    assert!(probe.dependents("d1").await.contains("a"));
    assert!(probe.dependents("d2").await.contains("a"));
    assert_eq!(
        probe
            .dependencies("a")
            .await
            .into_iter()
            .collect::<Vec<_>>(),
        ["d1", "d2"]
    );
    assert!(probe.job_ttl("a").await.is_some());
}

/// Finished and missing dependencies count as met.
pub async fn commit_pushes_when_dependencies_are_finished_or_gone(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    probe
        .write_job("done", &[("status", b"finished"), ("data", b"x")])
        .await;
    let hash = client_job_with("q", &[("dependency_ids", br#"["done", "never-existed"]"#)]);
    assert_eq!(hand_over(store, probe, "a", hash).await, Outcome::Pushed);
    assert_eq!(probe.queue("q").await, ["a"]);
    assert!(probe.deferred("q").await.is_empty());
}

/// A job stored as `deferred` whose dependencies are now met leaves the registry.
pub async fn commit_leaves_the_deferred_registry_when_pushed(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    probe
        .write_job("dep", &[("status", b"started"), ("data", b"x")])
        .await;
    let hash = client_job_with("q", &[("dependency_ids", br#"["dep"]"#)]);
    assert_eq!(hand_over(store, probe, "a", hash).await, Outcome::Deferred);
    probe.write_job("dep", &[("status", b"finished")]).await;
    let again = probe.job("a").await.unwrap();
    assert_eq!(again.status(), Some("deferred"));
    assert_eq!(hand_over(store, probe, "a", again).await, Outcome::Pushed);
    assert!(probe.deferred("q").await.is_empty());
    assert_eq!(probe.queue("q").await, ["a"]);
}

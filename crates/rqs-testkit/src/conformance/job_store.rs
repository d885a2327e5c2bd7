//! Conformance cases of `JobStore`.

use chrono::{TimeZone, Utc};
use rqs_core::{
    Action, Enqueue, EnqueueOptions, HandOff, JobHash, MetaUpdate, Outcome, ScheduledJob,
};
use rqs_store::{Error, JobStore, Page};

use super::{client_job, client_job_with};
use crate::Probe;

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 123_456_000).unwrap()
}

async fn read(store: &impl JobStore, id: &str) -> ScheduledJob {
    let score = store.score(id).await.unwrap().expect("job is scheduled");
    let due = store.due(score, 10_000).await.unwrap();
    due.into_iter()
        .find(|j| j.id == id)
        .expect("job is due at its own score")
}

fn enqueue(job: &ScheduledJob, next: Option<i64>) -> HandOff {
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

/// `due` returns jobs with scores in `[0, until]` ordered by score, then id, with hashes.
pub async fn due_orders_by_score_then_id(store: &impl JobStore, _probe: &impl Probe) {
    let hash = client_job("default");
    for (id, score) in [
        ("b", 5.0),
        ("a", 5.0),
        ("c", 1.0),
        ("d", 100.0),
        ("neg", -1.0),
    ] {
        store.schedule(id, &hash, score).await.unwrap();
    }
    let due = store.due(10.0, 10).await.unwrap();
    let ids: Vec<_> = due.iter().map(|j| (j.id.as_str(), j.score)).collect();
    assert_eq!(ids, [("c", 1.0), ("a", 5.0), ("b", 5.0)]);
    assert_eq!(due[0].hash.as_ref(), Some(&hash.projection()));
    assert_eq!(due[0].hash.as_ref().unwrap().get("data"), Some(&b""[..]));
    let first_two: Vec<_> = store
        .due(10.0, 2)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(first_two, ["c", "a"]);
    assert_eq!(store.next_due().await.unwrap(), Some(1.0));
    assert!(store.due(0.5, 10).await.unwrap().is_empty());
}

/// A scheduled id without a hash is due with `hash: None`.
pub async fn due_reports_missing_hashes(store: &impl JobStore, probe: &impl Probe) {
    store.schedule("ghost", &JobHash::new(), 3.0).await.unwrap();
    store.schedule("real", &client_job("q"), 4.0).await.unwrap();
    let due = store.due(10.0, 10).await.unwrap();
    assert_eq!(due[0].id, "ghost");
    assert_eq!(due[0].hash, None);
    assert!(due[1].hash.is_some());
    // A hash without `data` or any hand-off field still exists.
    probe.write_job("bare", &[("description", b"x")]).await;
    store.schedule("bare", &JobHash::new(), 3.5).await.unwrap();
    let due = store.due(10.0, 10).await.unwrap();
    assert_eq!(due[1].id, "bare");
    assert_eq!(due[1].hash, Some(JobHash::new()));
    assert_eq!(probe.job("ghost").await, None);
}

/// `count` and `list` behave like `Scheduler.count` and `Scheduler.get_jobs`.
pub async fn count_and_list_match_rq_scheduler(store: &impl JobStore, _probe: &impl Probe) {
    let hash = client_job("default");
    for (id, score) in [
        ("a", 10.0),
        ("b", 20.0),
        ("c", 30.0),
        ("d", 40.0),
        ("neg", -5.0),
    ] {
        store.schedule(id, &hash, score).await.unwrap();
    }
    assert_eq!(store.count(None).await.unwrap(), 4);
    assert_eq!(store.count(Some(30.0)).await.unwrap(), 3);
    assert_eq!(store.count(Some(9.0)).await.unwrap(), 0);
    let all = store.list(None, None).await.unwrap();
    assert_eq!(
        all,
        [
            ("a".into(), 10.0),
            ("b".into(), 20.0),
            ("c".into(), 30.0),
            ("d".into(), 40.0)
        ]
    );
    let page = store
        .list(
            Some(35.0),
            Some(Page {
                offset: 1,
                length: 5,
            }),
        )
        .await
        .unwrap();
    assert_eq!(page, [("b".into(), 20.0), ("c".into(), 30.0)]);
    assert_eq!(store.score("c").await.unwrap(), Some(30.0));
    assert_eq!(store.score("zz").await.unwrap(), None);
}

/// `cancel` unschedules, keeps the hash, and is harmless twice.
pub async fn cancel_keeps_the_hash_and_is_idempotent(store: &impl JobStore, probe: &impl Probe) {
    store.schedule("a", &client_job("q"), 10.0).await.unwrap();
    assert!(store.cancel("a").await.unwrap());
    assert!(!store.cancel("a").await.unwrap());
    assert_eq!(store.score("a").await.unwrap(), None);
    assert!(
        probe.job("a").await.is_some(),
        "cancel leaves the hash, as rq-scheduler does"
    );
}

/// `change_execution_time` moves a scheduled job and refuses an unscheduled one.
pub async fn change_execution_time_moves_only_scheduled_jobs(
    store: &impl JobStore,
    _probe: &impl Probe,
) {
    store.schedule("a", &client_job("q"), 10.0).await.unwrap();
    store.change_execution_time("a", 99.0).await.unwrap();
    assert_eq!(store.score("a").await.unwrap(), Some(99.0));
    let err = store.change_execution_time("b", 5.0).await.unwrap_err();
    assert!(
        matches!(err, Error::NotScheduled(ref id) if id == "b"),
        "{err:?}"
    );
    assert_eq!(
        store.score("b").await.unwrap(),
        None,
        "must not schedule it"
    );
}

/// A one-off job is pushed and leaves the schedule in the same step.
pub async fn commit_pushes_and_unschedules_a_one_off_job(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    store
        .schedule("a", &client_job("default"), 10.0)
        .await
        .unwrap();
    let job = read(store, "a").await;
    let outcomes = store.commit(&[enqueue(&job, None)]).await.unwrap();
    assert_eq!(outcomes, [Outcome::Pushed]);
    assert_eq!(probe.queue("default").await, ["a"]);
    assert_eq!(store.score("a").await.unwrap(), None);
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
    store
        .schedule("p", &client_job("default"), 10.0)
        .await
        .unwrap();
    let job = read(store, "p").await;
    assert_eq!(
        store.commit(&[enqueue(&job, Some(500))]).await.unwrap(),
        [Outcome::Pushed]
    );
    assert_eq!(store.score("p").await.unwrap(), Some(500.0));
    assert_eq!(probe.queue("default").await, ["p"]);
}

/// A job whose score changed since it was read (cancelled or moved) is left alone.
pub async fn commit_is_guarded_by_the_read_score(store: &impl JobStore, probe: &impl Probe) {
    store
        .schedule("moved", &client_job("default"), 10.0)
        .await
        .unwrap();
    store
        .schedule("gone", &client_job("default"), 11.0)
        .await
        .unwrap();
    let moved = read(store, "moved").await;
    let gone = read(store, "gone").await;
    store.change_execution_time("moved", 20.0).await.unwrap();
    store.cancel("gone").await.unwrap();
    let outcomes = store
        .commit(&[enqueue(&moved, None), enqueue(&gone, Some(99))])
        .await
        .unwrap();
    assert_eq!(outcomes, [Outcome::Stale, Outcome::Stale]);
    assert!(probe.queue("default").await.is_empty());
    assert_eq!(store.score("moved").await.unwrap(), Some(20.0));
    assert_eq!(store.score("gone").await.unwrap(), None);
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
    store
        .schedule("a", &client_job("default"), 10.0)
        .await
        .unwrap();
    store
        .schedule("p", &client_job("default"), 10.0)
        .await
        .unwrap();
    let batch = [
        enqueue(&read(store, "a").await, None),
        enqueue(&read(store, "p").await, Some(70)),
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
    assert_eq!(store.score("p").await.unwrap(), Some(70.0));
}

/// Unschedule removes the id only; quarantine records it with its score and reason.
pub async fn commit_unschedules_and_quarantines(store: &impl JobStore, probe: &impl Probe) {
    store.schedule("ghost", &JobHash::new(), 5.0).await.unwrap();
    store.schedule("bad", &client_job("q"), 6.0).await.unwrap();
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
    let quarantined = store.quarantined().await.unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(quarantined[0].job_id, "bad");
    assert_eq!(quarantined[0].score, 6.0);
    assert_eq!(quarantined[0].reason, "invalid cron string \"61 * * * *\"");
    assert_eq!(quarantined[0].at, 1_800_000_000);
    assert!(
        probe.job("bad").await.is_some(),
        "quarantine keeps the hash"
    );
    assert!(probe.queue("q").await.is_empty());
}

/// A hash that disappeared between read and commit is unscheduled, never half-written.
pub async fn commit_of_a_vanished_hash_unschedules_it(store: &impl JobStore, probe: &impl Probe) {
    store
        .schedule("a", &client_job("default"), 10.0)
        .await
        .unwrap();
    let job = read(store, "a").await;
    probe.delete_job("a").await;
    assert_eq!(
        store.commit(&[enqueue(&job, Some(100))]).await.unwrap(),
        [Outcome::Vanished]
    );
    assert_eq!(store.score("a").await.unwrap(), None);
    assert!(probe.queue("default").await.is_empty());
    assert_eq!(probe.job("a").await, None, "no partial hash is created");
}

/// A meta update applies only over the meta it was computed from.
pub async fn commit_guards_and_replaces_meta(store: &impl JobStore, probe: &impl Probe) {
    store
        .schedule("a", &client_job_with("default", &[("meta", b"old")]), 10.0)
        .await
        .unwrap();
    let job = read(store, "a").await;
    let with_meta = |expected: &[u8]| {
        let mut h = enqueue(&job, Some(50));
        if let Action::Enqueue { meta, .. } = &mut h.action {
            *meta = Some(MetaUpdate {
                expected: Some(expected.to_vec()),
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
    assert_eq!(store.score("a").await.unwrap(), Some(10.0));
    assert_eq!(
        store.commit(&[with_meta(b"old")]).await.unwrap(),
        [Outcome::Pushed]
    );
    assert_eq!(probe.job("a").await.unwrap().get("meta"), Some(&b"new"[..]));
    assert_eq!(store.score("a").await.unwrap(), Some(50.0));
}

/// The commit applies RQ's dependency rule: an unfinished dependency defers the job.
pub async fn commit_defers_behind_an_unfinished_dependency(
    store: &impl JobStore,
    probe: &impl Probe,
) {
    probe
        .write_job("dep", &[("status", b"started"), ("data", b"x")])
        .await;
    store
        .schedule(
            "a",
            &client_job_with("q", &[("dependency_ids", br#"["dep"]"#)]),
            10.0,
        )
        .await
        .unwrap();
    let job = read(store, "a").await;
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
    assert_eq!(store.score("a").await.unwrap(), None);
}

/// Outcomes come back in batch order, and each hand-off is judged on its own.
pub async fn commit_keeps_batch_order(store: &impl JobStore, probe: &impl Probe) {
    for (id, score) in [("a", 1.0), ("b", 2.0), ("c", 3.0)] {
        store
            .schedule(id, &client_job("default"), score)
            .await
            .unwrap();
    }
    let (a, b, c) = (
        read(store, "a").await,
        read(store, "b").await,
        read(store, "c").await,
    );
    store.cancel("b").await.unwrap();
    let outcomes = store
        .commit(&[enqueue(&c, None), enqueue(&b, None), enqueue(&a, None)])
        .await
        .unwrap();
    assert_eq!(outcomes, [Outcome::Pushed, Outcome::Stale, Outcome::Pushed]);
    assert_eq!(probe.queue("default").await, ["c", "a"]);
}

/// The same job twice in one batch is handed off once.
pub async fn commit_handles_a_repeated_id_once(store: &impl JobStore, probe: &impl Probe) {
    store
        .schedule("a", &client_job("default"), 10.0)
        .await
        .unwrap();
    store
        .schedule("p", &client_job("default"), 10.0)
        .await
        .unwrap();
    let (a, p) = (read(store, "a").await, read(store, "p").await);
    let batch = [
        enqueue(&a, None),
        enqueue(&p, Some(99)),
        enqueue(&a, None),
        enqueue(&p, Some(99)),
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
        store.schedule(id, &hash, n as f64).await.unwrap();
    }
    let mut batch = Vec::new();
    for (id, _, _) in jobs {
        batch.push(enqueue(&read(store, id).await, None));
    }
    store.commit(&batch).await.unwrap();
    assert_eq!(probe.queue("q1").await, ["f2", "f1", "b1", "b3"]);
    assert_eq!(probe.queue("q2").await, ["f3", "b2"]);
    assert_eq!(probe.known_queues().await, ["q1", "q2"]);
}

//! Conformance cases of `JobAdmin`: what tools need beyond the scheduler loop.

use rqs_core::{Action, HandOff, JobId, Outcome, QuarantineKind};
use rqs_store::{BackendError, JobAdmin, Page};

use super::{client_job, client_job_with};
use crate::Probe;

fn id(text: &str) -> JobId {
    JobId::from(text)
}

/// `count` and `list` behave like `Scheduler.count` and `Scheduler.get_jobs`.
pub async fn count_and_list_match_rq_scheduler(store: &impl JobAdmin, _probe: &impl Probe) {
    let hash = client_job("default");
    for (name, score) in [
        ("a", 10.0),
        ("b", 20.0),
        ("c", 30.0),
        ("d", 40.0),
        ("neg", -5.0),
    ] {
        store.schedule(&id(name), &hash, score).await.unwrap();
    }
    assert_eq!(store.count(None).await.unwrap(), 4);
    assert_eq!(store.count(Some(30.0)).await.unwrap(), 3);
    assert_eq!(store.count(Some(9.0)).await.unwrap(), 0);
    let all = store.list(None, None).await.unwrap();
    assert_eq!(
        all,
        [
            (id("a"), 10.0),
            (id("b"), 20.0),
            (id("c"), 30.0),
            (id("d"), 40.0)
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
    assert_eq!(page, [(id("b"), 20.0), (id("c"), 30.0)]);
    assert_eq!(store.score(&id("c")).await.unwrap(), Some(30.0));
    assert_eq!(store.score(&id("zz")).await.unwrap(), None);
}

/// `cancel` unschedules, keeps the hash, and is harmless twice.
pub async fn cancel_keeps_the_hash_and_is_idempotent(store: &impl JobAdmin, probe: &impl Probe) {
    store
        .schedule(&id("a"), &client_job("q"), 10.0)
        .await
        .unwrap();
    assert!(store.cancel(&id("a")).await.unwrap());
    assert!(!store.cancel(&id("a")).await.unwrap());
    assert_eq!(store.score(&id("a")).await.unwrap(), None);
    assert!(
        probe.job("a").await.is_some(),
        "cancel leaves the hash, as rq-scheduler does"
    );
}

/// `change_execution_time` moves a scheduled job and refuses an unscheduled one.
pub async fn change_execution_time_moves_only_scheduled_jobs(
    store: &impl JobAdmin,
    _probe: &impl Probe,
) {
    store
        .schedule(&id("a"), &client_job("q"), 10.0)
        .await
        .unwrap();
    store.change_execution_time(&id("a"), 99.0).await.unwrap();
    assert_eq!(store.score(&id("a")).await.unwrap(), Some(99.0));
    let err = store
        .change_execution_time(&id("b"), 5.0)
        .await
        .unwrap_err();
    assert!(
        matches!(err, BackendError::NotScheduled(ref j) if *j == "b"),
        "{err:?}"
    );
    assert_eq!(
        store.score(&id("b")).await.unwrap(),
        None,
        "must not schedule it"
    );
}

/// `job` reads every field of a hash; a missing hash or a key of another type is `None`.
pub async fn job_reads_the_whole_hash(store: &impl JobAdmin, probe: &impl Probe) {
    let hash = client_job_with("q", &[("result_ttl", b"-1")]);
    store.schedule(&id("a"), &hash, 1.0).await.unwrap();
    assert_eq!(store.job(&id("a")).await.unwrap(), Some(hash));
    assert_eq!(store.job(&id("nope")).await.unwrap(), None);
    probe.delete_job("a").await;
    assert_eq!(store.job(&id("a")).await.unwrap(), None);
}

/// `release` puts a quarantined job back at its old score or a new one, once.
pub async fn release_puts_a_quarantined_job_back(store: &impl JobAdmin, probe: &impl Probe) {
    for (name, score) in [("x", 7.0), ("y", 8.0)] {
        store
            .schedule(&id(name), &client_job("q"), score)
            .await
            .unwrap();
        let quarantine = HandOff {
            job_id: id(name),
            read_score: score,
            action: Action::Quarantine {
                kind: QuarantineKind::WrongType,
                reason: "test".into(),
                at: 1,
            },
        };
        assert_eq!(
            store.commit(&[quarantine]).await.unwrap(),
            [Outcome::Quarantined]
        );
    }
    assert_eq!(store.score(&id("x")).await.unwrap(), None);
    assert_eq!(store.release(&id("x"), None).await.unwrap(), 7.0);
    assert_eq!(store.score(&id("x")).await.unwrap(), Some(7.0));
    assert_eq!(store.release(&id("y"), Some(99.5)).await.unwrap(), 99.5);
    assert_eq!(store.score(&id("y")).await.unwrap(), Some(99.5));
    assert!(store.quarantined().await.unwrap().is_empty());
    assert!(probe.quarantined().await.is_empty());
    let err = store.release(&id("x"), None).await.unwrap_err();
    assert!(
        matches!(err, BackendError::NotQuarantined(ref j) if *j == "x"),
        "{err:?}"
    );
}

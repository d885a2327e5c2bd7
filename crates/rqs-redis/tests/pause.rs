//! Pauses are checked inside the hand-off scripts: a paused queue's jobs stay in the
//! schedule, untouched, whatever the scheduler knew when it sent the batch or window.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use rqs_core::fast::{FastLane, FastPass, PlainEnqueue};
use rqs_core::{Action, Enqueue, EnqueueOptions, HandOff, Outcome, QueueName, ScheduledJob, keys};
use rqs_lifecycle::InMemoryLifecycleRegistry;
use rqs_lock::InMemoryLockProvider;
use rqs_orchestrator::{Control, PauseScope, Scheduler, SchedulerConfig};
use rqs_redis::redis::{self, aio::ConnectionManager};
use rqs_redis::{RedisControl, RedisJobStore};
use rqs_sink::RqQueueSink;
use rqs_store::{FastLaneStore, JobAdmin, JobStore, Result, async_trait};
use rqs_testkit::{RedisServer, client_job};
use tokio::sync::Notify;

fn queue(name: &str) -> PauseScope {
    PauseScope::Queue(QueueName::new(name.as_bytes().to_vec()))
}

/// A fast-lane window now, from due position `offset`, with RQ's default rule.
fn window(offset: usize) -> FastLane {
    FastLane::at(
        Utc::now(),
        offset,
        10,
        PlainEnqueue {
            default_timeout: 180,
        },
    )
}

async fn list(conn: &ConnectionManager, name: &str) -> Vec<String> {
    redis::cmd("LRANGE")
        .arg(keys::queue_key(name))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn.clone())
        .await
        .unwrap()
}

async fn handoffs(store: &RedisJobStore<ConnectionManager>, ids: &[&str]) -> Vec<HandOff> {
    let due = store.due(1e10, 0, 100).await.unwrap();
    let now = Utc::now();
    ids.iter()
        .map(|id| {
            let job: &ScheduledJob = due.iter().find(|j| j.id == *id).unwrap();
            HandOff {
                job_id: job.id.clone(),
                read_score: job.score,
                action: Action::Enqueue {
                    enqueue: Box::new(
                        Enqueue::for_job(job, now, &EnqueueOptions::default()).unwrap(),
                    ),
                    meta: None,
                    next: None,
                },
            }
        })
        .collect()
}

#[tokio::test]
async fn a_commit_leaves_a_paused_queues_jobs_untouched_and_moves_the_others() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    let control = RedisControl::new(conn.clone());
    for (id, q) in [("a", "held"), ("b", "free"), ("c", "held")] {
        store
            .schedule(&id.into(), &client_job(q), 1.0)
            .await
            .unwrap();
    }
    let before = store.job(&"a".into()).await.unwrap();
    control
        .pause(&queue("held"), None, "deploy", "ops@host", Utc::now())
        .await
        .unwrap();
    let batch = handoffs(&store, &["a", "b", "c"]).await;
    let outcomes = store.commit(&batch).await.unwrap();
    assert_eq!(
        outcomes,
        [Outcome::Paused, Outcome::Pushed, Outcome::Paused]
    );
    assert_eq!(store.score(&"a".into()).await.unwrap(), Some(1.0));
    assert_eq!(
        store.job(&"a".into()).await.unwrap(),
        before,
        "hash untouched"
    );
    assert!(list(&conn, "held").await.is_empty());
    assert_eq!(list(&conn, "free").await, ["b"]);

    // A pause of every queue holds the rest; a resume of one queue does not end it.
    store
        .schedule(&"d".into(), &client_job("free"), 2.0)
        .await
        .unwrap();
    control
        .pause(&PauseScope::All, None, "", "", Utc::now())
        .await
        .unwrap();
    assert!(control.resume(&queue("held"), Utc::now()).await.unwrap());
    let batch = handoffs(&store, &["a", "d"]).await;
    assert_eq!(
        store.commit(&batch).await.unwrap(),
        [Outcome::Paused, Outcome::Paused]
    );
    assert!(control.resume(&PauseScope::All, Utc::now()).await.unwrap());
    let batch = handoffs(&store, &["a", "c", "d"]).await;
    assert_eq!(store.commit(&batch).await.unwrap(), [Outcome::Pushed; 3]);
    assert_eq!(list(&conn, "held").await, ["a", "c"]);
    assert_eq!(list(&conn, "free").await, ["b", "d"]);
}

#[tokio::test]
async fn a_pause_whose_end_has_passed_holds_nothing() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    let control = RedisControl::new(conn.clone());
    store
        .schedule(&"a".into(), &client_job("q"), 1.0)
        .await
        .unwrap();
    let past = Utc.timestamp_opt(1_000_000_000, 0).unwrap();
    control
        .pause(&PauseScope::All, Some(1_000_000_060.0), "", "", past)
        .await
        .unwrap();
    assert!(
        control
            .instructions(Utc::now())
            .await
            .unwrap()
            .pauses
            .is_empty()
    );
    let batch = handoffs(&store, &["a"]).await;
    assert_eq!(store.commit(&batch).await.unwrap(), [Outcome::Pushed]);
    let lane = window(0);
    store
        .schedule(&"b".into(), &client_job("q"), 1.0)
        .await
        .unwrap();
    assert_eq!(store.fast_pass(&lane).await.unwrap().handed.len(), 1);
}

#[tokio::test]
async fn the_fast_lane_stops_at_a_paused_queues_job_and_hands_nothing_over_when_all_are() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    let control = RedisControl::new(conn.clone());
    for (id, q, score) in [("a", "free", 1.0), ("b", "held", 2.0), ("c", "free", 3.0)] {
        store
            .schedule(&id.into(), &client_job(q), score)
            .await
            .unwrap();
    }
    control
        .pause(&queue("held"), None, "", "", Utc::now())
        .await
        .unwrap();
    let lane = window(0);
    let pass = store.fast_pass(&lane).await.unwrap();
    assert_eq!(pass.handed.len(), 1);
    assert_eq!(pass.handed[0].job_id, "a");
    assert!(pass.stopped, "b needs the ordinary path, which leaves it");
    control
        .pause(&PauseScope::All, None, "", "", Utc::now())
        .await
        .unwrap();
    let lane = window(1);
    let pass = store.fast_pass(&lane).await.unwrap();
    assert!(pass.handed.is_empty() && pass.stopped);
    assert_eq!(store.score(&"c".into()).await.unwrap(), Some(3.0));
}

/// Holds each fast-lane window until the test says go, so a pause can land while a
/// window is on its way.
struct Gate {
    inner: RedisJobStore<ConnectionManager>,
    sent: Notify,
    go: Notify,
}

#[async_trait]
impl JobStore for Gate {
    async fn due(&self, until: f64, offset: usize, limit: usize) -> Result<Vec<ScheduledJob>> {
        self.inner.due(until, offset, limit).await
    }
    async fn next_due(&self) -> Result<Option<f64>> {
        self.inner.next_due().await
    }
    async fn count(&self, until: Option<f64>) -> Result<u64> {
        self.inner.count(until).await
    }
    async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
        self.inner.commit(batch).await
    }
}

#[async_trait]
impl FastLaneStore for Gate {
    async fn fast_pass(&self, lane: &FastLane) -> Result<FastPass> {
        self.sent.notify_one();
        self.go.notified().await;
        self.inner.fast_pass(lane).await
    }
}

#[tokio::test]
async fn a_window_on_its_way_when_the_pause_lands_hands_nothing_over() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    for n in 0..50 {
        let id = format!("job-{n:02}");
        store
            .schedule(&id.as_str().into(), &client_job("q"), 1.0 + f64::from(n))
            .await
            .unwrap();
    }
    let gate = Arc::new(Gate {
        inner: store.clone(),
        sent: Notify::new(),
        go: Notify::new(),
    });
    let scheduler = Scheduler::new(
        gate.clone(),
        RqQueueSink::new(),
        InMemoryLockProvider::new(),
        InMemoryLifecycleRegistry::new(),
        SchedulerConfig::new("gated").burst(true),
    )
    .with_fast_lane();
    let run = tokio::spawn(async move { scheduler.run(std::future::pending()).await });
    // The scheduler read no pause (there was none) and sent its first window: pause now,
    // then let the window reach Redis.
    gate.sent.notified().await;
    RedisControl::new(conn.clone())
        .pause(&PauseScope::All, None, "in flight", "test", Utc::now())
        .await
        .unwrap();
    gate.go.notify_one();
    // Later windows, if any, go through at once.
    let opener = {
        let gate = gate.clone();
        tokio::spawn(async move {
            loop {
                gate.sent.notified().await;
                gate.go.notify_one();
            }
        })
    };
    let stats = run.await.unwrap().unwrap();
    opener.abort();
    assert_eq!(stats.pushed, 0, "{stats:?}");
    assert!(list(&conn, "q").await.is_empty());
    assert_eq!(
        store.count(None).await.unwrap(),
        50,
        "every job still scheduled"
    );
}

//! Races made to happen, not hoped for: the real scheduler on a private Redis, with a
//! store wrapper that holds each commit until the test has acted. Every hand-off of these
//! tests meets a client or another instance inside its read-to-commit window.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rqs_core::{HandOff, JobId, Outcome, ScheduledJob};
use rqs_lifecycle::InMemoryLifecycleRegistry;
use rqs_lock::InMemoryLockProvider;
use rqs_orchestrator::{Scheduler, SchedulerConfig};
use rqs_redis::RedisJobStore;
use rqs_redis::redis::aio::ConnectionManager;
use rqs_sink::RqQueueSink;
use rqs_store::{JobStore, Result, async_trait};
use rqs_testkit::RedisServer;
use rqs_testkit::client_job;
use tokio::sync::{Barrier, mpsc, oneshot};

use crate::support::{Jobs, now_secs};

const T: Duration = Duration::from_secs(60);

/// A job store whose commits wait: before each one it sends the batch's ids to the test
/// and waits for the go-ahead.
struct HeldCommits<S> {
    inner: S,
    held: mpsc::UnboundedSender<(Vec<JobId>, oneshot::Sender<()>)>,
}

#[async_trait]
impl<S: JobStore> JobStore for HeldCommits<S> {
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
        let (go, wait) = oneshot::channel();
        let ids = batch.iter().map(|h| h.job_id.clone()).collect();
        self.held.send((ids, go)).expect("the test listens");
        wait.await.expect("the test lets the commit go");
        self.inner.commit(batch).await
    }
}

async fn seed(jobs: &Jobs, n: usize, prefix: &str) -> Vec<String> {
    let past = (now_secs() - 60) as f64;
    let mut ids = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}-{i:04}");
        jobs.schedule(&id, &client_job("default"), past)
            .await
            .unwrap();
        ids.push(id);
    }
    ids
}

async fn pushes(conn: &ConnectionManager) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for id in crate::support::queue(conn, "default").await {
        *counts.entry(id).or_insert(0) += 1;
    }
    counts
}

/// What the client did to a job, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Client {
    /// Cancelled between the read and the commit: must never be pushed.
    CancelledInWindow,
    /// Moved to the future between the read and the commit: must stay there, unpushed.
    MovedInWindow,
    /// Cancelled after the commit: too late, the job was pushed once.
    CancelledTooLate,
    /// Left alone: pushed once.
    Untouched,
}

/// A client's cancel or reschedule that lands between the scheduler's read and its
/// commit always wins; one that lands after the commit finds the job gone. Every batch
/// is held open while the client acts on a quarter of its jobs, so the race happens on
/// every batch, on every run.
#[tokio::test]
async fn a_client_acting_inside_the_hand_off_window_always_wins() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let ids = seed(&jobs, 200, "race").await;
    let (held, mut commits) = mpsc::unbounded_channel();
    let store = HeldCommits {
        inner: RedisJobStore::new(conn.clone()),
        held,
    };
    let scheduler = Scheduler::new(
        store,
        RqQueueSink::new(),
        InMemoryLockProvider::new(),
        InMemoryLifecycleRegistry::new(),
        SchedulerConfig::new("racer").burst(true).batch_size(20),
    );
    let run = tokio::spawn(async move { scheduler.run(std::future::pending()).await });

    let future = (now_secs() + 3600) as f64;
    let mut what: HashMap<String, Client> = HashMap::new();
    let mut after_commit: Vec<String> = Vec::new();
    let mut batches = 0;
    while let Some((batch, go)) = tokio::time::timeout(T, commits.recv())
        .await
        .expect("a commit within a minute")
    {
        // The previous batch is committed by now: a cancel is too late.
        for id in after_commit.drain(..) {
            assert!(!jobs.cancel(&id).await.unwrap(), "{id} was still scheduled");
        }
        for (i, id) in batch.iter().enumerate() {
            let id = id.to_str().unwrap().to_owned();
            if what.contains_key(&id) {
                continue;
            }
            let client = match i % 4 {
                0 => {
                    assert!(jobs.cancel(&id).await.unwrap(), "{id}: in the window");
                    Client::CancelledInWindow
                }
                1 => {
                    jobs.change_execution_time(&id, future).await.unwrap();
                    Client::MovedInWindow
                }
                2 => {
                    after_commit.push(id.clone());
                    Client::CancelledTooLate
                }
                _ => Client::Untouched,
            };
            what.insert(id, client);
        }
        batches += 1;
        go.send(()).unwrap();
    }
    let stats = run.await.unwrap().unwrap();
    for id in after_commit {
        assert!(!jobs.cancel(&id).await.unwrap());
    }
    assert!(
        batches >= 10,
        "200 jobs in batches of 20: {batches} batches"
    );
    let pushed = pushes(&conn).await;
    for id in &ids {
        let times = pushed.get(id).copied().unwrap_or(0);
        match what[id] {
            Client::CancelledInWindow => {
                assert_eq!(times, 0, "{id} was cancelled but pushed");
                assert_eq!(jobs.score(id).await.unwrap(), None);
            }
            Client::MovedInWindow => {
                assert_eq!(times, 0, "{id} was rescheduled but pushed");
                assert_eq!(jobs.score(id).await.unwrap(), Some(future));
            }
            Client::CancelledTooLate | Client::Untouched => {
                assert_eq!(times, 1, "{id} pushed {times} times");
            }
        }
    }
    assert_eq!(stats.pushed, 100);
    assert_eq!(
        stats.skipped, 100,
        "every in-window change was seen as stale"
    );
}

/// Three instances that all believe they hold the lock (each has a lock of its own) read
/// the same first batch before any of them commits, then race to commit it: every job
/// is pushed exactly once. This is the guarantee that makes the lock an efficiency
/// device rather than the last line of defence.
#[tokio::test]
async fn instances_that_all_think_they_are_active_never_duplicate() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let ids = seed(&jobs, 300, "multi").await;
    let barrier = Arc::new(Barrier::new(3));
    let mut runs = Vec::new();
    for n in 0..3 {
        let (held, mut commits) = mpsc::unbounded_channel();
        let store = HeldCommits {
            inner: RedisJobStore::new(conn.clone()),
            held,
        };
        let scheduler = Scheduler::new(
            store,
            RqQueueSink::new(),
            InMemoryLockProvider::new(),
            InMemoryLifecycleRegistry::new(),
            SchedulerConfig::new(format!("instance-{n}"))
                .burst(true)
                .batch_size(25),
        );
        // Each instance's first commit waits until all three have read their first
        // batch, which is then the same one; later commits go at once.
        let barrier = barrier.clone();
        let gate = tokio::spawn(async move {
            let mut first = None;
            while let Some((batch, go)) = commits.recv().await {
                if first.is_none() {
                    first = Some(batch);
                    barrier.wait().await;
                }
                go.send(()).unwrap();
            }
            first
        });
        runs.push((
            tokio::spawn(async move { scheduler.run(std::future::pending()).await }),
            gate,
        ));
    }
    let mut total_pushed = 0;
    let mut total_stale = 0;
    let mut firsts = Vec::new();
    for (run, gate) in runs {
        let stats = tokio::time::timeout(T, run)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        total_pushed += stats.pushed;
        total_stale += stats.skipped;
        firsts.push(
            gate.await
                .unwrap()
                .expect("each instance committed a batch"),
        );
    }
    assert!(
        firsts.windows(2).all(|w| w[0] == w[1]),
        "the three instances raced on the same first batch"
    );
    assert!(
        total_stale >= 2 * 25,
        "two of three commits of the first batch lost: {total_stale} stale"
    );
    assert_eq!(total_pushed, 300);
    let pushed = pushes(&conn).await;
    for id in &ids {
        assert_eq!(pushed.get(id), Some(&1), "{id}");
    }
    assert_eq!(pushed.len(), ids.len());
}

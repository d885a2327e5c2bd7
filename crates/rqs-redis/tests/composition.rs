//! Every hand-off passes every component a user composes, with the fast lane on: a
//! recording sink and a counting store wrapper, written as the `rqs-sink` and
//! `rqs-store` docs show, each see all N of N hand-offs, once each, and the sink is never
//! asked about a job that is not being handed over.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rqs_core::{JobHash, JobId};
use rqs_lifecycle::InMemoryLifecycleRegistry;
use rqs_lock::InMemoryLockProvider;
use rqs_orchestrator::{Scheduler, SchedulerConfig};
use rqs_redis::RedisJobStore;
use rqs_redis::redis::{self, aio::ConnectionManager};
use rqs_sink::{
    DateTime, Enqueue, FastHandOff, FastLaneSink, JobError, PlainEnqueue, QueueSink, RqQueueSink,
    ScheduledJob, Utc,
};
use rqs_store::{
    FastLane, FastLaneStore, FastPass, HandOff, JobAdmin, JobStore, Outcome, Result, async_trait,
};
use rqs_testkit::meta::{PyValue, pickled_dict};
use rqs_testkit::{RedisServer, client_job, client_job_with};

/// Records every job it is asked about (`prepare`) or told of (`handed_plain`).
#[derive(Default)]
struct Recording {
    inner: RqQueueSink,
    prepared: Mutex<Vec<String>>,
    fast: Mutex<Vec<String>>,
}

fn text(id: &JobId) -> String {
    String::from_utf8_lossy(id.as_bytes()).into_owned()
}

impl QueueSink for Recording {
    fn prepare(
        &self,
        job: &ScheduledJob,
        now: DateTime<Utc>,
    ) -> std::result::Result<Enqueue, JobError> {
        self.prepared.lock().unwrap().push(text(&job.id));
        self.inner.prepare(job, now)
    }
}

impl FastLaneSink for Recording {
    fn plain_enqueue(&self) -> PlainEnqueue {
        self.inner.plain_enqueue()
    }
    fn handed_plain(&self, jobs: &[FastHandOff]) {
        let mut fast = self.fast.lock().unwrap();
        fast.extend(jobs.iter().map(|j| text(&j.job_id)));
        self.inner.handed_plain(jobs);
    }
}

/// Counts the jobs the store hands over, by path.
struct Counting {
    inner: RedisJobStore<ConnectionManager>,
    committed: Mutex<Vec<String>>,
    fast: AtomicUsize,
    fast_ids: Mutex<Vec<String>>,
}

#[async_trait]
impl JobStore for Counting {
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
        let outcomes = self.inner.commit(batch).await?;
        let mut committed = self.committed.lock().unwrap();
        for (handoff, outcome) in batch.iter().zip(&outcomes) {
            if matches!(outcome, Outcome::Pushed | Outcome::Deferred) {
                committed.push(text(&handoff.job_id));
            }
        }
        Ok(outcomes)
    }
}

#[async_trait]
impl FastLaneStore for Counting {
    async fn fast_pass(&self, lane: &FastLane) -> Result<FastPass> {
        let pass = self.inner.fast_pass(lane).await?;
        self.fast.fetch_add(pass.handed.len(), Ordering::Relaxed);
        let mut ids = self.fast_ids.lock().unwrap();
        ids.extend(pass.handed.iter().map(|j| text(&j.job_id)));
        Ok(pass)
    }
}

/// 345 due jobs of every kind that is handed over: plain one-offs on three queues,
/// periodic jobs sharing two metas, jobs behind finished and unfinished dependencies,
/// jobs pushed at the front, jobs with a time to live.
async fn seed(conn: &ConnectionManager) -> BTreeSet<String> {
    let store = RedisJobStore::new(conn.clone());
    let every_minute = pickled_dict(&[("interval", PyValue::Int(60))]);
    let three_runs = pickled_dict(&[
        ("interval", PyValue::Int(3600)),
        ("repeat", PyValue::Int(3)),
    ]);
    let () = redis::pipe()
        .hset("rq:job:done", "status", "finished")
        .ignore()
        .hset("rq:job:running", "status", "started")
        .ignore()
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    let mut ids = BTreeSet::new();
    for n in 0..345u32 {
        let queue = ["default", "reports", "mail"][n as usize % 3];
        let hash: JobHash = match n {
            0..200 => client_job(queue),
            200..230 => client_job_with(queue, &[("meta", &every_minute)]),
            230..260 => client_job_with(queue, &[("meta", &three_runs)]),
            260..275 => client_job_with(queue, &[("dependency_ids", br#"["done"]"#)]),
            275..290 => client_job_with(queue, &[("dependency_ids", br#"["running"]"#)]),
            290..315 => client_job_with(queue, &[("enqueue_at_front", b"1")]),
            _ => client_job_with(queue, &[("ttl", b"600")]),
        };
        // Kinds interleaved in the schedule, so the fast lane stops and starts again.
        let score = f64::from(1 + (n * 7919) % 345);
        let id = format!("job-{n:03}");
        store
            .schedule(&id.as_str().into(), &hash, score)
            .await
            .unwrap();
        ids.insert(id);
    }
    ids
}

fn once_each(ids: &[String]) -> BTreeMap<&str, usize> {
    let mut seen = BTreeMap::new();
    for id in ids {
        *seen.entry(id.as_str()).or_default() += 1;
    }
    seen.retain(|_, n| *n > 1);
    seen
}

#[tokio::test]
#[allow(clippy::print_stderr)] // How the hand-offs split, for the test log.
async fn a_recording_sink_and_a_counting_store_see_every_hand_off_with_the_fast_lane_on() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let all = seed(&conn).await;
    let sink = std::sync::Arc::new(Recording::default());
    let store = std::sync::Arc::new(Counting {
        inner: RedisJobStore::new(conn.clone()),
        committed: Mutex::default(),
        fast: AtomicUsize::new(0),
        fast_ids: Mutex::default(),
    });
    let stats = Scheduler::new(
        store.clone(),
        sink.clone(),
        InMemoryLockProvider::new(),
        InMemoryLifecycleRegistry::new(),
        SchedulerConfig::new("composed").burst(true).batch_size(20),
    )
    .with_fast_lane()
    .run(std::future::pending())
    .await
    .unwrap();

    let fast = store.fast.load(Ordering::Relaxed);
    let committed = store.committed.lock().unwrap().clone();
    let fast_ids = store.fast_ids.lock().unwrap().clone();
    eprintln!(
        "{} hand-offs: {fast} in the fast lane, {} committed on the ordinary path",
        all.len(),
        committed.len()
    );
    assert!(fast > 0, "the fast lane was used");
    assert!(!committed.is_empty(), "the ordinary path was used");
    assert_eq!(stats.pushed + stats.deferred, 345, "{stats:?}");

    // The store wrapper: N of N, once each.
    let mut store_saw = committed.clone();
    store_saw.extend(fast_ids.iter().cloned());
    assert_eq!(store_saw.len(), 345);
    assert_eq!(once_each(&store_saw), BTreeMap::new());
    assert_eq!(store_saw.iter().cloned().collect::<BTreeSet<_>>(), all);

    // The sink: asked about each ordinary hand-off, told of each fast one; nothing else.
    let prepared = sink.prepared.lock().unwrap().clone();
    let told = sink.fast.lock().unwrap().clone();
    assert_eq!(
        told, fast_ids,
        "told of exactly what the fast lane handed over"
    );
    let mut sink_saw = prepared.clone();
    sink_saw.extend(told);
    assert_eq!(sink_saw.len(), 345, "asked about nothing but hand-offs");
    assert_eq!(once_each(&sink_saw), BTreeMap::new());
    assert_eq!(sink_saw.into_iter().collect::<BTreeSet<_>>(), all);

    // And RQ's keys agree: 330 pushed on the three queues, 15 deferred.
    let mut queued = 0;
    for queue in ["default", "reports", "mail"] {
        let len: usize = redis::cmd("LLEN")
            .arg(format!("rq:queue:{queue}"))
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        queued += len;
    }
    assert_eq!(queued, 330);
}

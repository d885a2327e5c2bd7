//! The fast lane duplicates one rule of `rqs_core::plan::decide` in Lua: which jobs need
//! no decision. This differential test generates schedules of jobs with every field that
//! matters (present, absent, empty, odd; keys of the wrong type; known and unknown
//! metas), runs the scheduler on twin databases with and without the fast lane at the
//! same instant, and requires the two end states to be identical: every key, every
//! field in order, every list in order, every score. (How many jobs took the fast lane
//! is printed; `plain_and_periodic_jobs_take_the_fast_lane` makes sure it is used.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use rqs_core::fast::{FastLane, FastPass, PlainEnqueue};
use rqs_core::{JobHash, JobId};
use rqs_lifecycle::InMemoryLifecycleRegistry;
use rqs_lock::InMemoryLockProvider;
use rqs_orchestrator::{Clock, Scheduler, SchedulerConfig};
use rqs_redis::redis::aio::ConnectionManager;
use rqs_redis::{RedisJobStore, redis};
use rqs_sink::RqQueueSink;
use rqs_store::{FastLaneStore, HandOff, JobAdmin, JobStore, Outcome, ScheduledJob, async_trait};
use rqs_testkit::RedisServer;
use rqs_testkit::meta::{PyValue, pickled_dict};

fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 250_000_000).unwrap()
}

#[derive(Debug)]
struct Fixed;

impl Clock for Fixed {
    fn now(&self) -> DateTime<Utc> {
        now()
    }
}

/// Counts what the fast lane handed over, so the test knows it was exercised, and checks
/// that each job is reported with the score it had in the schedule (the script reads a
/// score once per run of equal ones, not once per job).
#[derive(Debug)]
struct Counting {
    inner: RedisJobStore<ConnectionManager>,
    conn: ConnectionManager,
    handed: Arc<AtomicUsize>,
    wrong_scores: Arc<Mutex<Vec<String>>>,
}

impl Counting {
    fn new(conn: &ConnectionManager, handed: Arc<AtomicUsize>) -> Self {
        Self {
            inner: RedisJobStore::new(conn.clone()),
            conn: conn.clone(),
            handed,
            wrong_scores: Arc::default(),
        }
    }
}

#[async_trait]
impl JobStore for Counting {
    async fn due(
        &self,
        until: f64,
        offset: usize,
        limit: usize,
    ) -> rqs_store::Result<Vec<ScheduledJob>> {
        self.inner.due(until, offset, limit).await
    }
    async fn next_due(&self) -> rqs_store::Result<Option<f64>> {
        self.inner.next_due().await
    }
    async fn count(&self, until: Option<f64>) -> rqs_store::Result<u64> {
        self.inner.count(until).await
    }
    async fn commit(&self, batch: &[HandOff]) -> rqs_store::Result<Vec<Outcome>> {
        self.inner.commit(batch).await
    }
}

#[async_trait]
impl FastLaneStore for Counting {
    async fn fast_pass(&self, lane: &FastLane) -> rqs_store::Result<FastPass> {
        let before: Vec<(Vec<u8>, f64)> = redis::cmd("ZRANGE")
            .arg(rqs_core::keys::SCHEDULED_JOBS)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(&mut self.conn.clone())
            .await
            .unwrap();
        let before: HashMap<Vec<u8>, f64> = before.into_iter().collect();
        let window = self.inner.fast_pass(lane).await?;
        for job in &window.handed {
            let read = before.get(job.job_id.as_bytes()).copied();
            if read != Some(job.score) {
                self.wrong_scores.lock().unwrap().push(format!(
                    "{} reported at {}, scheduled at {read:?}",
                    job.job_id, job.score
                ));
            }
        }
        self.handed
            .fetch_add(window.handed.len(), Ordering::Relaxed);
        Ok(window)
    }
}

/// One generated job: `None` for a field means absent.
#[derive(Debug, Clone)]
struct Job {
    kind: u8,
    score: u8,
    data: bool,
    origin: Option<&'static str>,
    status: Option<&'static str>,
    timeout: Option<&'static str>,
    ttl: Option<&'static str>,
    front: Option<&'static str>,
    dependency_ids: Option<&'static str>,
    dependency_id: Option<&'static str>,
    meta: u8,
}

fn opt<T: Clone + std::fmt::Debug + 'static>(
    values: &'static [T],
) -> impl Strategy<Value = Option<T>> {
    prop_oneof![
        10 => Just(None),
        1 => proptest::sample::select(values).prop_map(Some),
    ]
}

fn job() -> impl Strategy<Value = Job> {
    (
        (0u8..40, 1u8..4, prop::bool::weighted(0.97)),
        (
            prop_oneof![12 => Just(Some("default")), 3 => Just(Some("other")), 1 => Just(Some("")), 1 => Just(None)],
            prop_oneof![8 => Just(Some("scheduled")), 1 => opt(&["deferred", "queued", ""])],
            opt(&["", "30"]),
            opt(&["", "0", "60", "soon"]),
        ),
        (
            opt(&["0", "1"]),
            opt(&["", "[\"dep\"]", "[]", "oops"]),
            opt(&["", "dep"]),
            0u8..24,
        ),
    )
        .prop_map(
            |((kind, score, data), (origin, status, timeout, ttl), (front, ids, id, meta))| Job {
                kind,
                score,
                data,
                origin,
                status,
                timeout,
                ttl,
                front,
                dependency_ids: ids,
                dependency_id: id,
                meta,
            },
        )
}

fn metas() -> Vec<Vec<u8>> {
    vec![
        pickled_dict(&[("interval", PyValue::Int(60))]),
        pickled_dict(&[("interval", PyValue::Int(60)), ("repeat", PyValue::Int(3))]),
        pickled_dict(&[("cron_string", PyValue::Str("*/5 * * * *"))]),
        pickled_dict(&[("interval", PyValue::Float(0.5))]),
        pickled_dict(&[("cron_string", PyValue::Str("0 0 1 1 * 2020"))]),
        pickled_dict(&[("owner", PyValue::Str("alice"))]),
        b"\x80\x05garbage".to_vec(),
        b"{\"interval\": 60}".to_vec(),
    ]
}

async fn seed(conn: &ConnectionManager, jobs: &[Job], dep_finished: bool, odd_queue: bool) {
    let store = RedisJobStore::new(conn.clone());
    let metas = metas();
    let mut pipe = redis::pipe();
    pipe.cmd("FLUSHDB").ignore();
    pipe.hset_multiple(
        "rq:job:dep",
        &[("status", if dep_finished { "finished" } else { "started" })],
    )
    .ignore();
    if odd_queue {
        pipe.set("rq:queue:other", "not a list").ignore();
    }
    let () = pipe.query_async(&mut conn.clone()).await.unwrap();
    for (n, job) in jobs.iter().enumerate() {
        let id = JobId::from(format!("job-{n:02}"));
        let key = rqs_core::keys::job_key(&id);
        let score = f64::from(job.score);
        match job.kind {
            // A key of another type.
            0 => {
                let () = redis::cmd("SET")
                    .arg(&key)
                    .arg("x")
                    .query_async(&mut conn.clone())
                    .await
                    .unwrap();
                let _: i64 = redis::cmd("ZADD")
                    .arg(rqs_core::keys::SCHEDULED_JOBS)
                    .arg(score)
                    .arg(id.as_bytes())
                    .query_async(&mut conn.clone())
                    .await
                    .unwrap();
                continue;
            }
            // No hash at all.
            1 => {
                store.schedule(&id, &JobHash::new(), score).await.unwrap();
                continue;
            }
            _ => {}
        }
        let mut hash = JobHash::from_pairs([
            ("created_at", "2026-11-27T18:30:00.000000Z"),
            ("description", "tasks.f()"),
        ]);
        if job.data {
            hash.set("data", "x\u{9c}payload");
        }
        let fields = [
            ("origin", job.origin),
            ("status", job.status),
            ("timeout", job.timeout),
            ("ttl", job.ttl),
            ("enqueue_at_front", job.front),
            ("dependency_ids", job.dependency_ids),
            ("dependency_id", job.dependency_id),
        ];
        for (field, value) in fields {
            if let Some(v) = value {
                hash.set(field, v);
            }
        }
        if let Some(meta) = metas.get(usize::from(job.meta)) {
            hash.set("meta", meta.clone());
        }
        store.schedule(&id, &hash, score).await.unwrap();
    }
}

/// Runs a burst; with `fast`, through the fast lane, returning the jobs it reported
/// with a wrong score.
async fn run(conn: &ConnectionManager, fast: Option<Arc<AtomicUsize>>) -> Vec<String> {
    let config = SchedulerConfig::new("diff").burst(true).batch_size(3);
    let Some(handed) = fast else {
        Scheduler::new(
            RedisJobStore::new(conn.clone()),
            RqQueueSink::new(),
            InMemoryLockProvider::new(),
            InMemoryLifecycleRegistry::new(),
            config,
        )
        .with_clock(Arc::new(Fixed))
        .run(std::future::pending())
        .await
        .unwrap();
        return Vec::new();
    };
    let counting = Counting::new(conn, handed);
    let wrong = counting.wrong_scores.clone();
    Scheduler::new(
        counting,
        RqQueueSink::new(),
        InMemoryLockProvider::new(),
        InMemoryLifecycleRegistry::new(),
        config,
    )
    .with_clock(Arc::new(Fixed))
    .with_fast_lane()
    .run(std::future::pending())
    .await
    .unwrap();
    std::mem::take(&mut *wrong.lock().unwrap())
}

/// Every key of a database, as comparable text: type, value (hash fields in stored
/// order, lists in order, sets sorted, sorted sets with scores) and whether it expires.
async fn dump(conn: &ConnectionManager) -> Vec<String> {
    let mut keys: Vec<Vec<u8>> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    keys.sort();
    let mut out = Vec::new();
    for key in keys {
        let q = |cmd: &mut redis::Cmd| {
            let cmd = cmd.clone();
            let mut conn = conn.clone();
            async move { cmd.query_async::<redis::Value>(&mut conn).await.unwrap() }
        };
        let kind = q(redis::cmd("TYPE").arg(&key)).await;
        let value = match &kind {
            redis::Value::SimpleString(t) if t == "hash" => {
                q(redis::cmd("HGETALL").arg(&key)).await
            }
            redis::Value::SimpleString(t) if t == "list" => {
                q(redis::cmd("LRANGE").arg(&key).arg(0).arg(-1)).await
            }
            redis::Value::SimpleString(t) if t == "set" => {
                q(redis::cmd("SORT").arg(&key).arg("ALPHA")).await
            }
            redis::Value::SimpleString(t) if t == "zset" => {
                q(redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES"))
                .await
            }
            _ => q(redis::cmd("GET").arg(&key)).await,
        };
        let ttl: redis::Value = q(redis::cmd("TTL").arg(&key)).await;
        let expires = !matches!(ttl, redis::Value::Int(-1));
        out.push(format!(
            "{} {kind:?} expires={expires} {value:?}",
            String::from_utf8_lossy(&key)
        ));
    }
    out
}

async fn server_seconds(conn: &ConnectionManager) -> i64 {
    let (secs, _micros): (i64, i64) = redis::cmd("TIME")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    secs
}

/// A wrong-type quarantine record is stamped by the script that finds the problem, with
/// the server's clock, so the twin runs' stamps differ by the time between the runs.
/// Checks that each stamp falls within `from..=to`, then sets it to 0 so the twins
/// compare; returns the records whose stamp fell outside.
async fn blank_server_stamps(conn: &ConnectionManager, from: i64, to: i64) -> Vec<String> {
    let script = redis::Script::new(
        r#"
local outside = {}
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  local record = fields[i + 1]
  if string.find(record, '"kind":"wrong_type"', 1, true) then
    local at = tonumber(string.match(record, '"at":(%d+)'))
    if not at or at < tonumber(ARGV[1]) or at > tonumber(ARGV[2]) then
      table.insert(outside, record)
    end
    redis.call('HSET', KEYS[1], fields[i], (string.gsub(record, '"at":%d+', '"at":0')))
  end
end
return outside
"#,
    );
    script
        .key(rqs_core::keys::QUARANTINE)
        .arg(from)
        .arg(to)
        .invoke_async(&mut conn.clone())
        .await
        .unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One server for every generated case (twin databases 1 and 2, flushed by `seed`),
/// dropped with the test.
#[test]
fn the_fast_lane_hands_over_exactly_as_decide_does() {
    use proptest::test_runner::{Config, TestRunner};

    let server = RedisServer::start();
    let rt = runtime();
    let (fast_conn, slow_conn) =
        rt.block_on(async { (server.connection_db(1).await, server.connection_db(2).await) });
    let exercised = AtomicUsize::new(0);
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(64);
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(job(), 1..40),
        any::<bool>(),
        prop::bool::weighted(0.2),
    );
    let result = runner.run(&strategy, |(jobs, dep_finished, odd_queue)| {
        let handed = Arc::new(AtomicUsize::new(0));
        let with = rt.block_on(async {
            seed(&fast_conn, &jobs, dep_finished, odd_queue).await;
            seed(&slow_conn, &jobs, dep_finished, odd_queue).await;
            let from = server_seconds(&fast_conn).await;
            let wrong = run(&fast_conn, Some(handed.clone())).await;
            run(&slow_conn, None).await;
            let to = server_seconds(&fast_conn).await;
            let mut outside = blank_server_stamps(&fast_conn, from, to).await;
            outside.extend(blank_server_stamps(&slow_conn, from, to).await);
            (
                dump(&fast_conn).await,
                dump(&slow_conn).await,
                outside,
                wrong,
            )
        });
        prop_assert!(with.2.is_empty(), "stamps outside the runs: {:?}", with.2);
        prop_assert!(with.3.is_empty(), "wrong scores: {:?}", with.3);
        let (with, without) = (with.0, with.1);
        prop_assert_eq!(with, without);
        exercised.fetch_add(handed.load(Ordering::Relaxed), Ordering::Relaxed);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    #[allow(clippy::print_stderr)] // How much the fast lane was exercised, for the log.
    {
        eprintln!(
            "fast lane: {} jobs over {cases} cases",
            exercised.load(Ordering::Relaxed)
        );
    }
}

/// A job the fast lane takes (data, queue `default`, status `scheduled`, nothing that
/// needs a decision), with `metas()[meta]` as its meta (none when out of range).
fn plain(score: u8, meta: u8) -> Job {
    Job {
        kind: 5,
        score,
        data: true,
        origin: Some("default"),
        status: Some("scheduled"),
        timeout: None,
        ttl: None,
        front: None,
        dependency_ids: None,
        dependency_id: None,
        meta,
    }
}

/// The generator above must exercise the fast lane, not only the ordinary path: a
/// schedule of plain and periodic jobs goes mostly through it.
#[test]
fn plain_and_periodic_jobs_take_the_fast_lane() {
    let rt = runtime();
    let server = RedisServer::start();
    let handed = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<Job> = (0..40)
        .map(|n| plain(1 + (n / 7 % 3) as u8, if n % 4 == 0 { 0 } else { 99 }))
        .collect();
    let (with, without) = rt.block_on(async {
        let (a, b) = (server.connection_db(1).await, server.connection_db(2).await);
        seed(&a, &jobs, true, false).await;
        seed(&b, &jobs, true, false).await;
        let wrong = run(&a, Some(handed.clone())).await;
        assert!(wrong.is_empty(), "wrong scores: {wrong:?}");
        run(&b, None).await;
        (dump(&a).await, dump(&b).await)
    });
    assert_eq!(with, without);
    // The first periodic job goes the ordinary way (its meta is not known yet); after
    // that, nearly everything takes the fast lane.
    assert!(
        handed.load(Ordering::Relaxed) >= 30,
        "{} of 40 through the fast lane",
        handed.load(Ordering::Relaxed)
    );
}

/// A window that skips jobs (the ones a pass could not move) and spans several scores
/// reports each job with its own score.
#[test]
fn a_window_after_skipped_jobs_reports_each_score() {
    let rt = runtime();
    let server = RedisServer::start();
    let scores = [1u8, 1, 2, 2, 2, 3, 3, 4, 4, 4];
    let jobs: Vec<Job> = scores.iter().map(|&score| plain(score, 99)).collect();
    let handed = rt.block_on(async {
        let conn = server.connection().await;
        seed(&conn, &jobs, true, false).await;
        let lane = FastLane::at(
            now(),
            2,
            5,
            PlainEnqueue {
                default_timeout: 180,
            },
        );
        RedisJobStore::new(conn).fast_pass(&lane).await.unwrap()
    });
    let got: Vec<(String, f64)> = handed
        .handed
        .iter()
        .map(|h| (h.job_id.to_string(), h.score))
        .collect();
    let want: Vec<(String, f64)> = (2..7)
        .map(|n| (format!("job-{n:02}"), f64::from(scores[n])))
        .collect();
    assert_eq!(got, want);
    assert!(!handed.stopped);
}

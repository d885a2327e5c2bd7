//! Data no implementation but Redis can hold: keys of the wrong type, ids that are not
//! UTF-8, huge fields. Bad data must be quarantined or skipped without any partial write,
//! and the rest of the batch must go on.

use chrono::{TimeZone, Utc};
use rqs_conformance::Probe;
use rqs_core::plan::{LocalZone, decide};
use rqs_core::{
    Action, BackendError, Enqueue, EnqueueOptions, HandOff, JobId, Outcome, QuarantineKind,
};
use rqs_redis::redis::aio::ConnectionManager;
use rqs_redis::{RedisJobStore, redis};
use rqs_store::{JobAdmin, JobStore};
use rqs_testkit::{RedisProbe, RedisServer};
use rqs_testkit::{client_job, client_job_with};

async fn setup() -> (
    RedisJobStore<ConnectionManager>,
    RedisProbe,
    ConnectionManager,
    RedisServer,
) {
    let server = RedisServer::start();
    let conn = server.connection().await;
    (
        RedisJobStore::new(conn.clone()),
        RedisProbe::new(conn.clone()),
        conn,
        server,
    )
}

async fn cmd<T: redis::FromRedisValue>(conn: &ConnectionManager, cmd: &mut redis::Cmd) -> T {
    cmd.query_async(&mut conn.clone()).await.unwrap()
}

async fn set(conn: &ConnectionManager, key: &str, value: &str) {
    let () = cmd(conn, redis::cmd("SET").arg(key).arg(value)).await;
}

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 0).unwrap()
}

async fn batch(store: &RedisJobStore<ConnectionManager>) -> Vec<HandOff> {
    store
        .due(now().timestamp() as f64, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|j| {
            decide(j, now(), &LocalZone::System, |j| {
                Enqueue::for_job(j, now(), &EnqueueOptions::default())
            })
            .0
        })
        .collect()
}

#[tokio::test]
async fn a_job_key_that_is_not_a_hash_is_unscheduled_untouched() {
    let (store, probe, conn, _s) = setup().await;
    set(&conn, "rq:job:odd", "a string").await;
    probe.set_score("odd", 1.0).await;
    let handoffs = batch(&store).await;
    assert!(
        matches!(&handoffs[0].action, Action::Unschedule { reason } if reason == "job key is a string, not a hash"),
        "{:?}",
        handoffs[0]
    );
    assert_eq!(
        store.commit(&handoffs).await.unwrap(),
        [Outcome::Unscheduled]
    );
    let kept: String = cmd(&conn, redis::cmd("GET").arg("rq:job:odd")).await;
    assert_eq!(kept, "a string");
}

#[tokio::test]
async fn wrong_typed_queue_or_dependency_quarantines_that_job_only() {
    let (store, probe, conn, _s) = setup().await;
    set(&conn, "rq:queue:broken", "not a list").await;
    set(&conn, "rq:job:dep-odd", "not a hash").await;
    probe.schedule("a", &client_job("default"), 1.0).await;
    probe.schedule("b", &client_job("broken"), 2.0).await;
    let dependent = client_job_with("default", &[("dependency_ids", br#"["dep-odd"]"#)]);
    probe.schedule("c", &dependent, 3.0).await;
    probe.schedule("d", &client_job("default"), 4.0).await;
    let outcomes = store.commit(&batch(&store).await).await.unwrap();
    assert_eq!(
        outcomes,
        [
            Outcome::Pushed,
            Outcome::Quarantined,
            Outcome::Quarantined,
            Outcome::Pushed
        ]
    );
    assert_eq!(probe.queue("default").await, ["a", "d"]);
    for id in ["b", "c"] {
        let hash = probe.job(id).await.unwrap();
        assert_eq!(
            hash.status(),
            Some("scheduled"),
            "{id} was not half-written"
        );
        assert_eq!(hash.get("enqueued_at"), None);
    }
    let quarantined = store.quarantined().await.unwrap();
    assert!(
        quarantined[0]
            .reason
            .contains("rq:queue:broken is a string"),
        "{:?}",
        quarantined[0]
    );
    assert_eq!(quarantined[0].kind, Some(QuarantineKind::WrongType));
    assert!(
        quarantined[1].reason.contains("rq:job:dep-odd is a string"),
        "{:?}",
        quarantined[1]
    );
    assert_eq!((quarantined[0].score, quarantined[1].score), (2.0, 3.0));
    assert_eq!(store.count(None).await.unwrap(), 0);
}

#[tokio::test]
async fn a_wrong_typed_shared_key_rejects_the_batch_before_any_write() {
    let (store, probe, conn, _s) = setup().await;
    probe.schedule("a", &client_job("default"), 1.0).await;
    let handoffs = batch(&store).await;
    set(&conn, "rq:queues", "not a set").await;
    let err = store.commit(&handoffs).await.unwrap_err();
    assert!(
        matches!(&err, BackendError::Rejected(m) if m.contains("rq:queues")),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(probe.score("a").await, Some(1.0));
    assert_eq!(probe.job("a").await.unwrap().status(), Some("scheduled"));
}

/// A quarantine key of the wrong type (rqs's own `rq:rqs:quarantine`, set to a string)
/// stops only the jobs that need it: they are held, untouched in the schedule, and the
/// good jobs of the same batch move.
#[tokio::test]
async fn a_wrong_typed_quarantine_holds_only_the_jobs_that_need_it() {
    let (store, probe, conn, _s) = setup().await;
    probe.schedule("good-1", &client_job("default"), 1.0).await;
    probe
        .schedule(
            "bad-meta",
            &client_job_with("default", &[("meta", b"not a pickle")]),
            2.0,
        )
        .await;
    probe.schedule("good-2", &client_job("default"), 3.0).await;
    set(&conn, rqs_core::keys::QUARANTINE, "not a hash").await;
    let handoffs = batch(&store).await;
    assert_eq!(
        store.commit(&handoffs).await.unwrap(),
        [Outcome::Pushed, Outcome::Held, Outcome::Pushed]
    );
    assert_eq!(probe.score("bad-meta").await, Some(2.0));
    assert_eq!(
        probe.job("bad-meta").await.unwrap().status(),
        Some("scheduled")
    );
    let queue: Vec<String> = cmd(
        &conn,
        redis::cmd("LRANGE").arg("rq:queue:default").arg(0).arg(-1),
    )
    .await;
    assert_eq!(queue, ["good-1", "good-2"]);
    let untouched: String = cmd(&conn, redis::cmd("GET").arg(rqs_core::keys::QUARANTINE)).await;
    assert_eq!(untouched, "not a hash");
}

#[tokio::test]
async fn ids_that_are_not_utf8_are_handed_over_as_the_bytes_they_are() {
    let (store, probe, conn, _s) = setup().await;
    let bad = JobId::new(b"\xffbad00001".to_vec());
    store
        .schedule(&bad, &client_job("default"), 1.0)
        .await
        .unwrap();
    probe.schedule("good", &client_job("default"), 2.0).await;
    let handoffs = batch(&store).await;
    assert_eq!(handoffs[0].job_id, bad);
    assert_eq!(
        store.commit(&handoffs).await.unwrap(),
        [Outcome::Pushed, Outcome::Pushed]
    );
    let queue: Vec<Vec<u8>> = cmd(
        &conn,
        redis::cmd("LRANGE").arg("rq:queue:default").arg(0).arg(-1),
    )
    .await;
    assert_eq!(queue, [bad.as_bytes(), b"good"]);
    let status: String = cmd(
        &conn,
        redis::cmd("HGET")
            .arg(rqs_core::keys::job_key(&bad))
            .arg("status"),
    )
    .await;
    assert_eq!(status, "queued");
    assert_eq!(store.count(None).await.unwrap(), 0);
}

/// A queue name that is not UTF-8 is a queue like any other: the job goes to exactly the
/// queue its `origin` names, and the queue is registered under its own bytes.
#[tokio::test]
async fn queue_names_that_are_not_utf8_are_used_as_the_bytes_they_are() {
    let (store, _probe, conn, _s) = setup().await;
    let origin: &[u8] = b"q\xfe\xc0";
    store
        .schedule(
            &JobId::from("odd-queue"),
            &client_job_with("ignored", &[("origin", origin)]),
            1.0,
        )
        .await
        .unwrap();
    let handoffs = batch(&store).await;
    assert_eq!(store.commit(&handoffs).await.unwrap(), [Outcome::Pushed]);
    let queue_key = [&b"rq:queue:"[..], origin].concat();
    let queue: Vec<Vec<u8>> = cmd(&conn, redis::cmd("LRANGE").arg(&queue_key).arg(0).arg(-1)).await;
    assert_eq!(queue, [b"odd-queue".to_vec()]);
    let registered: bool = cmd(
        &conn,
        redis::cmd("SISMEMBER").arg("rq:queues").arg(&queue_key),
    )
    .await;
    assert!(registered, "the queue is registered under its own bytes");
    let lossy: bool = cmd(
        &conn,
        redis::cmd("EXISTS").arg("rq:queue:q\u{fffd}\u{fffd}"),
    )
    .await;
    assert!(!lossy, "no queue under a lossy name");
}

/// Two ids that a lossy conversion would merge (`x\xc0` and `x\u{fffd}`) stay two jobs:
/// each goes to its own queue exactly once.
#[tokio::test]
async fn look_alike_ids_are_two_jobs() {
    let (store, _probe, conn, _s) = setup().await;
    let raw = JobId::new(b"x\xc0".to_vec());
    let replaced = JobId::from("x\u{fffd}");
    store
        .schedule(&raw, &client_job("attacker_q"), 5.0)
        .await
        .unwrap();
    store
        .schedule(&replaced, &client_job("default"), 5.0)
        .await
        .unwrap();
    let outcomes = store.commit(&batch(&store).await).await.unwrap();
    assert_eq!(outcomes, [Outcome::Pushed, Outcome::Pushed]);
    let attacker: Vec<Vec<u8>> = cmd(
        &conn,
        redis::cmd("LRANGE")
            .arg("rq:queue:attacker_q")
            .arg(0)
            .arg(-1),
    )
    .await;
    let default: Vec<Vec<u8>> = cmd(
        &conn,
        redis::cmd("LRANGE").arg("rq:queue:default").arg(0).arg(-1),
    )
    .await;
    assert_eq!(attacker, [raw.as_bytes()]);
    assert_eq!(default, [replaced.as_bytes()]);
}

/// A batch read stops at its byte budget (always holding one job), and a job whose fields
/// are over the per-job limit comes without them, marked, for the quarantine.
#[tokio::test]
async fn batch_reads_are_bounded_by_bytes() {
    let (store, probe, _conn, _s) = setup().await;
    let store = store.with_byte_budget(300_000);
    let meta = vec![b'm'; 100_000];
    for i in 0..10 {
        let hash = client_job_with("default", &[("meta", &meta)]);
        probe
            .schedule(&format!("big-{i}"), &hash, i as f64 + 1.0)
            .await;
    }
    let first = store.due(100.0, 0, 500).await.unwrap();
    assert_eq!(
        first.len(),
        2,
        "two 1 MB metas fit in 3 MB, a third does not"
    );
    let tiny = store.clone().with_byte_budget(1);
    assert_eq!(tiny.due(100.0, 0, 500).await.unwrap().len(), 1);
    let huge = vec![b'h'; (rqs_core::plan::MAX_META_BYTES + 1) as usize];
    probe
        .schedule("huge", &client_job_with("default", &[("meta", &huge)]), 0.5)
        .await;
    let head = store.due(100.0, 0, 1).await.unwrap();
    assert_eq!(head[0].id, "huge");
    assert!(head[0].oversized.unwrap() > rqs_core::plan::MAX_META_BYTES);
    assert_eq!(head[0].hash.as_ref().unwrap().get("meta"), None);
    assert!(head[0].hash.as_ref().unwrap().has_data());
}

#[tokio::test]
async fn the_quarantine_of_older_releases_moves_under_rq_once() {
    let (store, _probe, conn, _s) = setup().await;
    let old = r#"{"score":3.0,"reason":"old","at":1}"#;
    let () = cmd(
        &conn,
        redis::cmd("HSET")
            .arg("rqs:quarantine")
            .arg("legacy")
            .arg(old),
    )
    .await;
    assert_eq!(store.migrate_legacy_quarantine().await.unwrap(), 1);
    assert_eq!(store.migrate_legacy_quarantine().await.unwrap(), 0);
    let exists: i64 = cmd(&conn, redis::cmd("EXISTS").arg("rqs:quarantine")).await;
    assert_eq!(exists, 0);
    let records = store.quarantined().await.unwrap();
    assert_eq!(records[0].job_id, "legacy");
    assert_eq!(records[0].reason, "old");
    assert_eq!(records[0].kind, None);
    assert_eq!(
        store.release(&JobId::from("legacy"), None).await.unwrap(),
        3.0
    );
}

#[tokio::test]
async fn an_unreadable_quarantine_record_does_not_hide_the_others() {
    let (store, _probe, conn, _s) = setup().await;
    let () = cmd(
        &conn,
        redis::cmd("HSET")
            .arg(rqs_core::keys::QUARANTINE)
            .arg("hand-written")
            .arg(&b"not json \xff"[..])
            .arg("fine")
            .arg(r#"{"score":1.0,"kind":"stuck","reason":"r","at":2}"#),
    )
    .await;
    let records = store.quarantined().await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(records[1].reason.starts_with("unreadable record"));
    assert_eq!(records[0].kind, Some(QuarantineKind::Stuck));
}

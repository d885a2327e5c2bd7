//! RQ's own registries (`--rq-scheduled`) against a real Redis: RQ's per-queue locks as
//! RQ takes them (a worker's respected, a gone rqs instance's taken over by the active
//! one), the move fenced by the lock, and what RQ's scheduler would stop on set aside in
//! the quarantine with its reason. The end state against RQ's own scheduler is the
//! interop suites' (tests/interop/rq_scheduled.rs).

use rqs_redis::redis::{self, aio::ConnectionManager};
use rqs_redis::{RedisJobStore, RqRegistries};
use rqs_store::JobAdmin;
use rqs_testkit::RedisServer;

async fn q<T: redis::FromRedisValue>(conn: &ConnectionManager, cmd: &mut redis::Cmd) -> T {
    cmd.query_async(&mut conn.clone()).await.unwrap()
}

/// A job as RQ's `enqueue_at` leaves it, due at `score`.
async fn scheduled(
    conn: &ConnectionManager,
    queue: &str,
    id: &str,
    score: i64,
    extra: &[(&str, &str)],
) {
    let mut hset = redis::cmd("HSET");
    hset.arg(format!("rq:job:{id}"))
        .arg("data")
        .arg("x")
        .arg("status")
        .arg("scheduled")
        .arg("origin")
        .arg(queue);
    for (k, v) in extra {
        hset.arg(*k).arg(*v);
    }
    let () = q(conn, &mut hset).await;
    let () = q(
        conn,
        redis::cmd("ZADD")
            .arg(format!("rq:scheduled:{queue}"))
            .arg(score)
            .arg(id),
    )
    .await;
}

#[tokio::test]
async fn locks_are_taken_like_rq_and_a_workers_is_respected() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let one = RqRegistries::new(conn.clone(), "one");
    let two = RqRegistries::new(conn.clone(), "two");
    let queues = vec!["a".to_owned(), "b".to_owned()];
    // A worker's scheduler holds b (its token is a uuid).
    let () = q(
        &conn,
        redis::cmd("SET")
            .arg("rq:scheduler-lock:b")
            .arg("0123abcd")
            .arg("EX")
            .arg(61),
    )
    .await;
    assert_eq!(one.hold(&queues, 61, true).await.unwrap(), ["a"]);
    let ttl: i64 = q(&conn, redis::cmd("TTL").arg("rq:scheduler-lock:a")).await;
    assert!((60..=61).contains(&ttl), "{ttl}");
    // Another rqs instance without take-over (a burst run) leaves a held lock alone...
    assert!(two.hold(&queues, 61, false).await.unwrap().is_empty());
    // ...the one that became active takes rqs's, never the worker's.
    assert_eq!(two.hold(&queues, 61, true).await.unwrap(), ["a"]);
    let holder: String = q(&conn, redis::cmd("GET").arg("rq:scheduler-lock:a")).await;
    assert_eq!(holder, "rqs:two");
    // The old holder's move is refused: the lock is checked inside the script.
    scheduled(&conn, "a", "j", 100, &[]).await;
    let moved = one
        .move_due("a", 200, "2026-12-07T00:00:00.000000Z", 10)
        .await
        .unwrap();
    assert!(moved.lost_lock);
    let waiting: i64 = q(&conn, redis::cmd("ZCARD").arg("rq:scheduled:a")).await;
    assert_eq!(waiting, 1);
    // Release frees only one's own locks.
    one.release(&queues).await.unwrap();
    let still: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler-lock:a")).await;
    assert_eq!(still.as_deref(), Some("rqs:two"));
    two.release(&queues).await.unwrap();
    let gone: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler-lock:a")).await;
    assert_eq!(gone, None);
    let worker: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler-lock:b")).await;
    assert_eq!(worker.as_deref(), Some("0123abcd"));
}

#[tokio::test]
async fn what_rqs_scheduler_would_stop_on_is_quarantined_with_its_reason_and_released_back() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let rq = RqRegistries::new(conn.clone(), "one");
    let queues = vec!["a".to_owned()];
    assert_eq!(rq.hold(&queues, 61, true).await.unwrap(), queues);
    scheduled(
        &conn,
        "a",
        "fine",
        100,
        &[("enqueue_at_front", "1"), ("ttl", "50")],
    )
    .await;
    scheduled(
        &conn,
        "a",
        "limited",
        100,
        &[("rate_limit_key", "api"), ("rate_limit_concurrency", "2")],
    )
    .await;
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:job:nodata")
            .arg("status")
            .arg("scheduled"),
    )
    .await;
    let () = q(&conn, redis::cmd("SET").arg("rq:job:string").arg("x")).await;
    let () = q(
        &conn,
        redis::cmd("ZADD")
            .arg("rq:scheduled:a")
            .arg(100)
            .arg("nodata")
            .arg(100)
            .arg("string")
            .arg(100)
            .arg("ghost")
            .arg(300)
            .arg("later"),
    )
    .await;
    let moved = rq
        .move_due("a", 200, "2026-12-07T00:00:00.000000Z", 100)
        .await
        .unwrap();
    assert_eq!(
        (moved.pushed, moved.missing, moved.quarantined, moved.more),
        (1, 1, 3, false)
    );
    let queue: Vec<String> = q(&conn, redis::cmd("LRANGE").arg("rq:queue:a").arg(0).arg(-1)).await;
    assert_eq!(queue, ["fine"]);
    let fields: Vec<Option<String>> = q(
        &conn,
        redis::cmd("HMGET")
            .arg("rq:job:fine")
            .arg("status")
            .arg("enqueued_at")
            .arg("timeout")
            .arg("origin"),
    )
    .await;
    assert_eq!(
        fields,
        [
            Some("queued".into()),
            Some("2026-12-07T00:00:00.000000Z".into()),
            Some("180".into()),
            Some("a".into())
        ]
    );
    let ttl: i64 = q(&conn, redis::cmd("TTL").arg("rq:job:fine")).await;
    assert!((49..=50).contains(&ttl), "{ttl}");
    let left: Vec<String> = q(
        &conn,
        redis::cmd("ZRANGE").arg("rq:scheduled:a").arg(0).arg(-1),
    )
    .await;
    assert_eq!(left, ["later"]);
    let store = RedisJobStore::new(conn.clone());
    let quarantined = store.quarantined().await.unwrap();
    let reasons: Vec<(String, String)> = quarantined
        .iter()
        .map(|j| {
            (
                String::from_utf8_lossy(j.job_id.as_bytes()).into_owned(),
                j.reason.clone(),
            )
        })
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(
        reasons
            .iter()
            .any(|(id, r)| id == "limited" && r.contains("rate limit")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(id, r)| id == "nodata" && r.contains("no data")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(id, r)| id == "string" && r.contains("not a hash")),
        "{reasons:?}"
    );
    // Released, a job goes back to the registry it came from.
    let back = store.release(&"limited".into(), None).await.unwrap();
    assert_eq!(back, 100.0);
    let score: Option<f64> = q(
        &conn,
        redis::cmd("ZSCORE").arg("rq:scheduled:a").arg("limited"),
    )
    .await;
    assert_eq!(score, Some(100.0));
}

#[tokio::test]
async fn a_backlog_moves_a_batch_at_a_time_and_every_queue_is_found() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let rq = RqRegistries::new(conn.clone(), "one");
    for i in 0..25 {
        scheduled(&conn, "bulk", &format!("b{i:02}"), 100 + i, &[]).await;
    }
    let () = q(
        &conn,
        redis::cmd("SADD").arg("rq:queues").arg("rq:queue:known"),
    )
    .await;
    assert!(
        rq.views(&[], 0.0).await.unwrap().is_empty(),
        "no queue, no pipeline"
    );
    assert_eq!(rq.known_queues().await.unwrap(), ["known"]);
    assert_eq!(rq.walk_registries().await.unwrap(), ["bulk"]);
    assert_eq!(
        rq.next_due(&["bulk".to_owned(), "known".to_owned()])
            .await
            .unwrap(),
        Some(100.0)
    );
    rq.hold(&["bulk".to_owned()], 61, true).await.unwrap();
    let mut batches = 0;
    loop {
        let moved = rq.move_due("bulk", 1000, "t", 10).await.unwrap();
        batches += 1;
        if !moved.more {
            break;
        }
    }
    assert_eq!(batches, 3);
    let queue: Vec<String> = q(
        &conn,
        redis::cmd("LRANGE").arg("rq:queue:bulk").arg(0).arg(-1),
    )
    .await;
    assert_eq!(
        queue,
        (0..25).map(|i| format!("b{i:02}")).collect::<Vec<_>>(),
        "in due order"
    );
}

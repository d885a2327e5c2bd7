//! Faults of Redis and of the network while the real daemon moves a stream of jobs: a
//! stalled server, a flushed script cache, a full memory, a network partition. Each test
//! checks that nothing was lost or duplicated and that rqs resumed by itself, and prints
//! how late the jobs around the fault were handed over.

use std::time::Duration;

use rqs_testkit::netns::NetNamespace;
use rqs_testkit::{RedisServer, ServerOptions};

use crate::stream::{Stream, last_moved, now, worst};
use crate::support::{Daemon, eventually, q};

const T: Duration = Duration::from_secs(120);

async fn all_moved(conn: &redis::aio::ConnectionManager, stream: &Stream) {
    let last = stream.last_due();
    eventually(T, "every job of the stream moved", || async {
        let left: u64 = q(
            conn,
            redis::cmd("ZCOUNT")
                .arg("rq:scheduler:scheduled_jobs")
                .arg(0)
                .arg(last),
        )
        .await;
        (left == 0).then_some(())
    })
    .await;
}

async fn sleep_until(at: f64) {
    let wait = at - now();
    if wait > 0.0 {
        tokio::time::sleep(Duration::from_secs_f64(wait)).await;
    }
}

/// Redis stops answering for longer than the response timeout (`socket_timeout=1`):
/// first every client is paused (`CLIENT PAUSE`), then the server sleeps
/// (`DEBUG SLEEP`). Calls time out, possibly after their write landed; the score guard
/// makes a repeated hand-off change nothing.
#[tokio::test]
async fn a_stalled_redis_loses_and_duplicates_nothing() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let url = format!("{}?socket_timeout=1", server.url());
    let mut d = Daemon::start(&["-u", &url]);
    let start = now() + 1.0;
    let stream = Stream::schedule(&conn, "stall", start, Duration::from_millis(100), 150).await;
    let stalls = [(start + 3.0, 3.0), (start + 9.0, 3.0)];

    sleep_until(stalls[0].0).await;
    let () = q(
        &conn,
        redis::cmd("CLIENT").arg("PAUSE").arg(3000).arg("ALL"),
    )
    .await;
    sleep_until(stalls[1].0).await;
    // DEBUG SLEEP blocks the whole server, this connection's reply included.
    let () = q(&conn, redis::cmd("DEBUG").arg("SLEEP").arg(3)).await;

    all_moved(&conn, &stream).await;
    let lateness = stream.assert_each_once(&conn).await;
    d.assert_running();
    let log = d.log();
    assert!(log.contains("retrying"), "the stall was noticed: {log}");
    for (i, (at, length)) in stalls.iter().enumerate() {
        let (during, n) = worst(&stream, &lateness, *at, at + length);
        let back = last_moved(&stream, &lateness, *at, at + length) - (at + length);
        let (after, m) = worst(&stream, &lateness, at + length, at + length + 2.0);
        eprintln!(
            "stall {} ({length} s): {n} jobs due during it, all moved {back:.2} s after it ended (worst lateness {during:.2} s); {m} due in the 2 s after, worst lateness {after:.2} s",
            i + 1
        );
    }
}

/// The script cache is flushed again and again while the daemon works: each script is
/// loaded again on `NOSCRIPT`, without an error surfacing.
#[tokio::test]
async fn a_flushed_script_cache_is_reloaded_without_a_hitch() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let mut d = Daemon::start(&["-u", &server.url()]);
    let start = now() + 1.0;
    let stream = Stream::schedule(&conn, "flush", start, Duration::from_millis(100), 60).await;
    while now() < stream.last_due() + 1.0 {
        let () = q(&conn, redis::cmd("SCRIPT").arg("FLUSH")).await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    all_moved(&conn, &stream).await;
    let lateness = stream.assert_each_once(&conn).await;
    d.assert_running();
    let log = d.log();
    assert!(!log.contains("backend error"), "{log}");
    let (w, n) = worst(&stream, &lateness, 0.0, f64::MAX);
    eprintln!("SCRIPT FLUSH every 150 ms: {n} jobs, worst lateness {w:.2} s");
}

async fn used_memory(conn: &redis::aio::ConnectionManager) -> u64 {
    let info: String = q(conn, redis::cmd("INFO").arg("memory")).await;
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}

/// Every job is in exactly one place, whole: still scheduled and untouched, or in its
/// queue with the fields of a hand-off. A batch that failed half-way would leave a job
/// marked queued but still scheduled, or pushed without its fields.
async fn each_job_whole(conn: &redis::aio::ConnectionManager, ids: &[String]) -> (usize, usize) {
    // One read-only script: a batch that the daemon commits meanwhile lands wholly before
    // or wholly after this read, never in the middle of it. (MULTI would be refused while
    // Redis is over its memory limit; a script flagged no-writes is not.)
    let script = redis::Script::new(
        r#"#!lua flags=no-writes
local out = { redis.call('LRANGE', KEYS[1], 0, -1) }
for _, id in ipairs(ARGV) do
  local key = 'rq:job:' .. id
  out[#out + 1] = {
    redis.call('HGET', key, 'status'),
    redis.call('HEXISTS', key, 'enqueued_at'),
    redis.call('ZSCORE', KEYS[2], id),
  }
end
return out
"#,
    );
    let mut invocation = script.key("rq:queue:default");
    invocation.key("rq:scheduler:scheduled_jobs").arg(ids);
    let mut replies: Vec<redis::Value> = invocation.invoke_async(&mut conn.clone()).await.unwrap();
    let jobs = replies.split_off(1);
    let pushed: Vec<String> = redis::FromRedisValue::from_redis_value(replies.remove(0)).unwrap();
    let (mut waiting, mut moved) = (0, 0);
    for (id, job) in ids.iter().zip(jobs) {
        let (status, enqueued, score): (Option<String>, bool, Option<f64>) =
            redis::FromRedisValue::from_redis_value(job).unwrap();
        let in_queue = pushed.iter().filter(|p| *p == id).count();
        match (score, in_queue) {
            (Some(_), 0) => {
                assert_eq!(status.as_deref(), Some("scheduled"), "{id}");
                assert!(!enqueued, "{id}: enqueued_at written, job not pushed");
                waiting += 1;
            }
            (None, 1) => {
                assert_eq!(status.as_deref(), Some("queued"), "{id}");
                assert!(enqueued, "{id}");
                moved += 1;
            }
            other => panic!("{id} is half handed over: (score, times pushed) = {other:?}"),
        }
    }
    (waiting, moved)
}

/// Redis reaches `maxmemory` with `noeviction` while batches commit: a batch applies
/// whole or not at all (a script's first write is refused, and none after it), checked
/// job by job; when memory is available again the daemon carries on by itself.
#[tokio::test]
async fn a_full_redis_refuses_whole_batches_and_the_daemon_carries_on() {
    let server = RedisServer::start_with(
        ServerOptions::default().args(&["--maxmemory-policy", "noeviction"]),
    );
    let conn = server.connection().await;
    let mut d = Daemon::start(&["-u", &server.url(), "--batch-size", "10"]);
    let start = now() + 1.0;
    let stream = Stream::schedule(&conn, "oom", start, Duration::from_millis(50), 400).await;
    let ids: Vec<String> = stream.jobs.iter().map(|(id, _)| id.clone()).collect();
    // Full in the middle of the stream: the next batch meets it.
    sleep_until(start + 5.0).await;
    let used = used_memory(&conn).await;
    let () = q(
        &conn,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(used.saturating_sub(1)),
    )
    .await;
    eventually(T, "a refused write", || async {
        d.log().contains("OOM").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (waiting, moved) = each_job_whole(&conn, &ids).await;
    eprintln!("memory full: {moved} jobs moved before, {waiting} waiting, every one whole");
    assert!(moved > 0 && waiting > 0, "{moved} moved, {waiting} waiting");

    let () = q(
        &conn,
        redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(0),
    )
    .await;
    let freed = now();
    all_moved(&conn, &stream).await;
    let done = now();
    let (waiting, moved) = each_job_whole(&conn, &ids).await;
    assert_eq!((waiting, moved), (0, ids.len()));
    let lateness = stream.assert_each_once(&conn).await;
    let back = last_moved(&stream, &lateness, 0.0, freed) - freed;
    eprintln!(
        "memory freed: the jobs due meanwhile moved {back:.2} s later (all {:.2} s)",
        done - freed
    );
    d.assert_running();
    for line in d.log().lines().filter(|l| l.contains("OOM")).take(3) {
        eprintln!("rqs: {line}");
    }
}

/// Redis runs in a network namespace behind a veth link that the test cuts and restores
/// while the daemon (outside) moves jobs: first for 3 s, shorter than the response
/// timeout, then for 15 s, longer than it. Packets are dropped silently, as across a real
/// partition. Needs root; fails with the `ip` error otherwise.
#[tokio::test]
async fn a_network_partition_loses_and_duplicates_nothing() {
    let ns = NetNamespace::create()
        .unwrap_or_else(|e| panic!("this test needs network namespaces (root, iproute2): {e}"));
    let server = RedisServer::start_with(ServerOptions::default().in_netns(ns.name(), ns.ip()));
    let conn = server.connection().await;
    let mut d = Daemon::start(&["-u", &server.url()]);
    let start = now() + 1.0;
    let stream = Stream::schedule(&conn, "partition", start, Duration::from_millis(200), 200).await;
    let cuts = [(start + 4.0, 3.0), (start + 12.0, 15.0)];
    for (at, length) in cuts {
        sleep_until(at).await;
        ns.cut().unwrap();
        sleep_until(at + length).await;
        ns.restore().unwrap();
    }
    // The test's own connection lived through the cuts too: a fresh one.
    let conn = server.connection().await;
    all_moved(&conn, &stream).await;
    let lateness = stream.assert_each_once(&conn).await;
    d.assert_running();
    for (i, (at, length)) in cuts.iter().enumerate() {
        let (during, n) = worst(&stream, &lateness, *at, at + length);
        let back = last_moved(&stream, &lateness, *at, at + length) - (at + length);
        let (after, m) = worst(&stream, &lateness, at + length, at + length + 3.0);
        eprintln!(
            "cut {} ({length} s): {n} jobs due during it, all moved {back:.2} s after the link came back (worst lateness {during:.2} s); {m} due in the 3 s after, worst lateness {after:.2} s",
            i + 1,
        );
    }
}

//! Redis Sentinel: rqs finds the master through the sentinels and follows it through a
//! graceful failover (`SENTINEL FAILOVER`) and a hard one (kill -9 of the master), while
//! jobs fall due every 100 ms. On the final master every job is in its queue exactly
//! once; the worst lateness after each failover is printed.

use std::time::Duration;

use redis::aio::ConnectionManager;
use rqs_testkit::{RedisSentinel, RedisServer, ServerOptions};

use crate::stream::{Stream, last_moved, now, worst};
use crate::support::{Daemon, eventually, q};

const T: Duration = Duration::from_secs(120);
const MASTER: &str = "mymaster";

async fn sentinel_conn(s: &RedisSentinel) -> ConnectionManager {
    rqs_redis::connect(s.url(), &Default::default())
        .await
        .unwrap()
}

async fn named_master(s: &ConnectionManager) -> Option<u16> {
    let reply: Option<(String, u16)> = q(
        s,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER),
    )
    .await;
    reply.map(|(_, port)| port)
}

/// Waits until every sentinel names `master`, sees `replica` as a healthy replica, and
/// knows the other sentinels: a failover can only pick a replica the sentinels trust.
async fn settled(sentinels: &[ConnectionManager], master: u16, replica: u16) {
    for s in sentinels {
        eventually(
            T,
            "the sentinels agreeing on master and replica",
            || async {
                if named_master(s).await != Some(master) {
                    return None;
                }
                let replicas: Vec<Vec<String>> =
                    q(s, redis::cmd("SENTINEL").arg("replicas").arg(MASTER)).await;
                let healthy = replicas.iter().any(|fields| {
                    let get = |name: &str| {
                        fields
                            .iter()
                            .position(|f| f == name)
                            .and_then(|i| fields.get(i + 1))
                            .cloned()
                            .unwrap_or_default()
                    };
                    get("port") == replica.to_string()
                        && get("flags") == "slave"
                        && get("master-link-status") == "ok"
                });
                let others: Vec<Vec<String>> =
                    q(s, redis::cmd("SENTINEL").arg("sentinels").arg(MASTER)).await;
                (healthy && others.len() == 2).then_some(())
            },
        )
        .await;
    }
}

/// Waits until `replica` replicates; its clients are dropped when it is demoted, so
/// errors only mean "not yet".
async fn replica_in_sync(replica: &RedisServer) {
    let conn = replica.connection().await;
    eventually(T, "the replica in sync", || async {
        let info: Option<String> = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut conn.clone())
            .await
            .ok();
        info.filter(|i| i.contains("role:slave") && i.contains("master_link_status:up"))
            .map(|_| ())
    })
    .await;
}

#[tokio::test]
async fn rqs_follows_the_master_through_a_graceful_and_a_hard_failover() {
    let first = RedisServer::start();
    let second = RedisServer::start_with(ServerOptions::default().replica_of(first.port()));
    let down_after = Duration::from_millis(1000);
    let sentinels: Vec<RedisSentinel> = (0..3)
        .map(|_| RedisSentinel::start(MASTER, first.port(), 2, down_after))
        .collect();
    let watch: Vec<ConnectionManager> = connect_all(&sentinels).await;
    replica_in_sync(&second).await;
    settled(&watch, first.port(), second.port()).await;

    // Through the environment, as a container would get it.
    let addrs: Vec<String> = sentinels.iter().map(RedisSentinel::addr).collect();
    let addrs = addrs.join(",");
    let mut d = Daemon::start_env(
        &["--name", "follower"],
        &[
            ("RQ_REDIS_SENTINELS", addrs.as_str()),
            ("RQ_REDIS_SENTINEL_MASTER", MASTER),
        ],
    );
    let conn = first.connection().await;
    eventually(T, "rqs holding the lock", || async {
        let lock: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
        lock
    })
    .await;

    // Far enough ahead that no job falls due while the stream is being written.
    let start = now() + 3.0;
    let stream = Stream::schedule(&conn, "failover", start, Duration::from_millis(100), 600).await;
    // Every job on the replica before anything fails.
    eventually(T, "the replica has every job", || async {
        let acked: i64 = q(&conn, redis::cmd("WAIT").arg(1).arg(5000)).await;
        (acked == 1).then_some(())
    })
    .await;

    // Graceful: the replica is promoted, the old master demoted.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let graceful = now();
    let () = q(
        &watch[0],
        redis::cmd("SENTINEL").arg("FAILOVER").arg(MASTER),
    )
    .await;
    eventually(T, "the graceful failover", || async {
        (named_master(&watch[0]).await == Some(second.port())).then_some(())
    })
    .await;
    eprintln!(
        "graceful failover: the sentinels named the new master after {:.2} s",
        now() - graceful
    );

    // Hard: once the old master follows the new one, the new one is killed.
    replica_in_sync(&first).await;
    settled(&watch, second.port(), first.port()).await;
    let mut second = second;
    let hard = now();
    second.kill();
    eventually(T, "the hard failover", || async {
        (named_master(&watch[0]).await == Some(first.port())).then_some(())
    })
    .await;
    eprintln!(
        "hard failover: the sentinels named the new master after {:.2} s",
        now() - hard
    );

    let conn = first.connection().await;
    let last = stream.last_due();
    eventually(T, "every job moved on the final master", || async {
        let left: u64 = q(
            &conn,
            redis::cmd("ZCOUNT")
                .arg("rq:scheduler:scheduled_jobs")
                .arg(0)
                .arg(last),
        )
        .await;
        (left == 0 && now() > last + 1.0).then_some(())
    })
    .await;
    let lateness = stream.assert_each_once(&conn).await;
    d.assert_running();
    let log = d.log();
    for line in log.lines().filter(|l| !l.contains("handed over a batch")) {
        eprintln!("rqs: {line}");
    }
    let moves = log.matches("the Redis master moved: following it").count();
    assert!(moves >= 2, "followed both failovers: {log}");

    let (before, n) = worst(&stream, &lateness, start, graceful - 1.0);
    eprintln!("before the failovers: {n} jobs, worst lateness {before:.2} s");
    for (name, at) in [("graceful", graceful), ("hard", hard)] {
        let (w, n) = worst(&stream, &lateness, at - 1.0, at + 10.0);
        let back = last_moved(&stream, &lateness, at - 1.0, at + 1.0) - at;
        eprintln!(
            "{name} failover: {n} jobs due from 1 s before to 10 s after it, worst lateness {w:.2} s; jobs due around it all moved {back:.2} s after it began"
        );
    }
}

async fn connect_all(sentinels: &[RedisSentinel]) -> Vec<ConnectionManager> {
    let mut out = Vec::new();
    for s in sentinels {
        out.push(sentinel_conn(s).await);
    }
    out
}

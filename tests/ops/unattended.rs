//! Running unattended: rqs is back within a second of Redis answering after outages of
//! any length, a full Redis and a rotated password, its leader gauge says 0 while it
//! cannot be sure of its lease, and a restart under the same name right after a crash
//! takes over instead of exiting.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use redis::aio::ConnectionManager;
use rqs_testkit::client_job;
use rqs_testkit::{RedisServer, ServerOptions};

use crate::common::{Served, T, rqs};
use crate::support::{Daemon, Jobs, eventually, q};

/// The contract: hand-offs resume within this of Redis answering again.
const RESUME: f64 = 1.0;

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// When rqs handed the job over: its `enqueued_at`, once it is there.
async fn handed_at(conn: &ConnectionManager, id: &str) -> f64 {
    eventually(T, &format!("job {id} handed over"), || async move {
        let at: Option<String> = q(
            conn,
            redis::cmd("HGET")
                .arg(format!("rq:job:{id}"))
                .arg("enqueued_at"),
        )
        .await;
        let at = rqs_core::time::parse_rq_timestamp(&at?)?;
        Some(rqs_core::time::unix_seconds(at))
    })
    .await
}

/// How many lines of the log contain `text`.
fn lines_with(log: &str, text: &str) -> usize {
    log.lines().filter(|l| l.contains(text)).count()
}

/// Kills Redis for `secs`, with a job falling due during the outage; returns how long
/// after Redis was started again the job was handed over. Checks the leader and Redis
/// gauges during an outage longer than the lease.
async fn outage_round(secs: u64, name: &str) -> f64 {
    let mut server = RedisServer::start_with(ServerOptions::persistent());
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let mut served = Served::start(&url, &["-i", "1", "--name", name]).await;
    served.metric_reaches("rqs_is_leader", 1.0).await;
    let id = format!("due-in-outage-{secs}");
    let due = unix_now().floor() + 2.0;
    jobs.schedule(&id, &client_job("default"), due)
        .await
        .unwrap();

    server.kill();
    let killed = Instant::now();
    if secs > 6 {
        // Past the 5 s lease: no longer sure of it, so no longer the leader.
        served.metric_reaches("rqs_is_leader", 0.0).await;
        let m = served.metrics();
        assert_eq!(m["rqs_redis_up"], 0.0, "{m:?}");
        assert!(
            killed.elapsed() < Duration::from_secs(secs),
            "the check outlasted the outage"
        );
    }
    tokio::time::sleep(Duration::from_secs(secs).saturating_sub(killed.elapsed())).await;
    // Started again: the time before the start counts against rqs, not for it.
    let back = unix_now();
    server.restart();
    let conn = server.connection().await;
    let resumed = handed_at(&conn, &id).await - back;
    served.metric_reaches("rqs_is_leader", 1.0).await;
    served.metric_reaches("rqs_redis_up", 1.0).await;
    // The line is written when the loop's turn that reached Redis ends, which may come
    // after the metrics (read on another connection) say Redis is back.
    let log = eventually(T, "the end of the outage logged", || {
        let log = served.daemon.log();
        async move { log.contains("backend answers again").then_some(log) }
    })
    .await;
    // One line when the outage starts, one when it ends; nothing per retry.
    assert_eq!(lines_with(&log, "backend unavailable"), 1, "{log}");
    assert_eq!(lines_with(&log, "backend answers again"), 1, "{log}");
    assert!(lines_with(&log, "retrying") <= 1, "{log}");
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{log}");
    eprintln!("{secs} s outage: handed over {resumed:.3} s after Redis was started again");
    resumed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_offs_resume_within_a_second_of_a_3_s_outage() {
    let resumed = outage_round(3, "outage-3").await;
    assert!(resumed <= RESUME, "{resumed:.3} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_offs_resume_within_a_second_of_a_20_s_outage() {
    let resumed = outage_round(20, "outage-20").await;
    assert!(resumed <= RESUME, "{resumed:.3} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_offs_resume_within_a_second_of_a_120_s_outage() {
    let resumed = outage_round(120, "outage-120").await;
    assert!(resumed <= RESUME, "{resumed:.3} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hand_offs_resume_within_a_second_of_a_60_s_full_redis() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let mut served = Served::start(&url, &["-i", "1", "--name", "full-60"]).await;
    served.metric_reaches("rqs_is_leader", 1.0).await;
    let used: String = q(&conn, redis::cmd("INFO").arg("memory")).await;
    let used: u64 = used
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO");
    // Schedule first: once full, nothing can be written, the test's writes included.
    let id = "due-while-full";
    let due = unix_now().floor() + 2.0;
    jobs.schedule(id, &client_job("default"), due)
        .await
        .unwrap();
    let () = q(
        &conn,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory-policy")
            .arg("noeviction"),
    )
    .await;
    let () = q(
        &conn,
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("maxmemory")
            .arg(used / 2),
    )
    .await;
    let full = Instant::now();
    // The lease cannot be renewed (a write): not the leader while Redis is full.
    served.metric_reaches("rqs_is_leader", 0.0).await;
    let waiting: Option<f64> = q(
        &conn,
        redis::cmd("ZSCORE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(id),
    )
    .await;
    assert_eq!(waiting, Some(due), "nothing moves while Redis is full");
    tokio::time::sleep(Duration::from_secs(60).saturating_sub(full.elapsed())).await;
    let freed = unix_now();
    let () = q(
        &conn,
        redis::cmd("CONFIG").arg("SET").arg("maxmemory").arg(0),
    )
    .await;
    let resumed = handed_at(&conn, id).await - freed;
    eprintln!("60 s of a full Redis: handed over {resumed:.3} s after memory was freed");
    assert!(resumed <= RESUME, "{resumed:.3} s\n{}", served.daemon.log());
    served.metric_reaches("rqs_is_leader", 1.0).await;
    let log = served.daemon.log();
    assert_eq!(lines_with(&log, "backend unavailable"), 1, "{log}");
    assert!(log.contains("OOM"), "{log}");
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{log}");
}

/// The default user's password changes in Redis and every client is cut off: rqs is
/// refused (WRONGPASS) until the password file says the new one, or until Redis has the
/// old one back; each time it recovers by itself, reading the file again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_password_is_picked_up_from_the_file_without_a_restart() {
    let server = RedisServer::start();
    let admin_conn = server.connection().await;
    let acl = |args: &[&str]| {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER").arg(args);
        cmd
    };
    let () = q(
        &admin_conn,
        &mut acl(&["admin", "on", ">adminpw", "~*", "&*", "+@all"]),
    )
    .await;
    let () = q(&admin_conn, &mut acl(&["default", "resetpass", ">first"])).await;
    // From here on, the test speaks as `admin`, whose password never changes.
    let admin = rqs_redis::connect(
        format!("redis://admin:adminpw@127.0.0.1:{}/0", server.port()),
        &rqs_redis::ConnectOptions::default(),
    )
    .await
    .unwrap();
    let jobs = Jobs::new(admin.clone());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("password");
    std::fs::write(&file, "first\n").unwrap();
    let url = format!("redis://127.0.0.1:{}/0", server.port());
    let file_arg = file.to_str().unwrap();
    let mut served = Served::start(
        &url,
        // Debug level: each refused retry is logged there (at info, only the outage's
        // start and end are), and no password may show even then.
        &[
            "-i",
            "1",
            "--name",
            "rotated",
            "--password-file",
            file_arg,
            "-v",
        ],
    )
    .await;
    served.metric_reaches("rqs_is_leader", 1.0).await;

    let rotate = |to: &'static str| {
        let admin = admin.clone();
        async move {
            let () = q(
                &admin,
                &mut acl(&["default", "resetpass", &format!(">{to}")]),
            )
            .await;
            let _: i64 = q(
                &admin,
                redis::cmd("CLIENT").arg("KILL").arg("USER").arg("default"),
            )
            .await;
        }
    };
    // 1. Redis first, then the file.
    let id = "after-rotation";
    jobs.schedule(id, &client_job("default"), unix_now().floor() + 1.0)
        .await
        .unwrap();
    rotate("second").await;
    eventually(T, "the password refused", || {
        let log = served.daemon.log();
        async move { log.contains("WRONGPASS").then_some(()) }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    std::fs::write(&file, "second\n").unwrap();
    let fixed = unix_now();
    let resumed = handed_at(&admin, id).await - fixed;
    eprintln!("password file updated: handed over {resumed:.3} s later");
    assert!(resumed <= RESUME, "{resumed:.3} s\n{}", served.daemon.log());

    // 2. Redis changes, then is set back to what the file says.
    let id = "after-restore";
    jobs.schedule(id, &client_job("default"), unix_now().floor() + 1.0)
        .await
        .unwrap();
    rotate("third").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    rotate("second").await;
    let restored = unix_now();
    let resumed = handed_at(&admin, id).await - restored;
    eprintln!("password restored in Redis: handed over {resumed:.3} s later");
    assert!(resumed <= RESUME, "{resumed:.3} s\n{}", served.daemon.log());

    let log = served.daemon.log();
    assert!(!log.contains("first") && !log.contains("third"), "{log}");
    assert_eq!(served.get("/healthz").0, 200);
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{log}");
}

/// A kill -9, then the same `--name` again at once: the new instance waits until the
/// dead one's heartbeat is stale, takes the name over and hands over within 10 s of the
/// kill, without exiting. `rqs status` shows the dead one dead within seconds. A name
/// held by a live instance is still refused with exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_under_the_same_name_after_a_crash_takes_over() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let mut first = Daemon::start(&["run", "-u", &url, "--name", "same", "-i", "60"]);
    eventually(T, "the first instance active", || {
        let log = first.log();
        async move { log.contains("became the active instance").then_some(()) }
    })
    .await;

    // A live holder: a second instance of the name gives up with exit 3.
    let mut clash = Daemon::start(&["run", "-u", &url, "--name", "same"]);
    assert_eq!(clash.exit_code(T), 3, "{}", clash.log());
    first.assert_running();

    first.kill9();
    let killed = unix_now();
    let mut second = Daemon::start(&["run", "-u", &url, "--name", "same", "-i", "60"]);
    let id = "after-restart";
    jobs.schedule(id, &client_job("default"), killed.floor())
        .await
        .unwrap();
    let gap = handed_at(&conn, id).await - killed;
    eprintln!("same-name restart after kill -9: handed over {gap:.2} s after the kill");
    assert!(gap <= 10.0, "{gap:.2} s\n{}", second.log());
    second.assert_running();
    assert!(
        second.log().contains("registered birth"),
        "{}",
        second.log()
    );

    // `rqs status` tells a crashed instance from a live one within seconds (its
    // heartbeat stops), not once its record expires (70 s here).
    let alive = |url: String| async move {
        let json = rqs(&url, &["status", "--json"]).expect(0).json();
        let same = json["instances"]
            .as_array()
            .and_then(|all| all.iter().find(|i| i["name"] == "same").cloned());
        same.map(|i| i["alive"] == true)
    };
    eventually(T, "the instance seen alive", || {
        let url = url.clone();
        async move { alive(url).await.filter(|a| *a) }
    })
    .await;
    second.kill9();
    let killed = unix_now();
    eventually(T, "the crashed instance shown dead", || {
        let url = url.clone();
        async move { alive(url).await.filter(|a| !*a) }
    })
    .await;
    let shown = unix_now() - killed;
    eprintln!("rqs status showed the crashed instance dead {shown:.2} s after the kill");
    let bound = rqs_lifecycle::STALE_AFTER.as_secs_f64() + 3.0;
    assert!(shown <= bound, "{shown:.2} s");
}

/// `Type=notify`: READY=1 once the instance is registered, WATCHDOG=1 from the loop,
/// STOPPING=1 at a signal, as datagrams on the socket `NOTIFY_SOCKET` names (here one of
/// the test's own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_watchdog_and_stopping() {
    use std::os::unix::net::UnixDatagram;
    let server = RedisServer::start();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut d = Daemon::start_env(
        &["run", "-u", &url, "--name", "notified"],
        &[
            ("NOTIFY_SOCKET", path.to_str().unwrap()),
            ("WATCHDOG_USEC", "2000000"),
        ],
    );
    let mut received = Vec::new();
    let mut next = |what: &str| -> String {
        let mut buf = [0u8; 4096];
        loop {
            let n = socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("no {what} ({e}); got {received:?}\n{}", d.log()));
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            received.push(text.clone());
            if text.lines().any(|l| l == what) {
                return text;
            }
        }
    };
    let ready = next("READY=1");
    let conn = server.connection().await;
    let registered: bool = q(
        &conn,
        redis::cmd("EXISTS").arg("rq:scheduler_instance:notified"),
    )
    .await;
    assert!(registered, "READY before the birth: {ready}");
    // Fed from the loop: at least twice, a second apart (half the watchdog period).
    next("WATCHDOG=1");
    next("WATCHDOG=1");
    d.signal(Signal::SIGTERM);
    next("STOPPING=1");
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
}

/// `--log-format json` for log searches: the batch line carries its counts, the queues'
/// and the instance name as fields, a quarantine warning its job, queue and reason, and
/// every time in every line has the one format of the lines' own timestamps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_searchable_fields_and_one_time_format() {
    use rqs_testkit::client_job_with;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let past = unix_now().floor() - 5.0;
    jobs.schedule("plain-1", &client_job("reports"), past)
        .await
        .unwrap();
    jobs.schedule("plain-2", &client_job("reports"), past)
        .await
        .unwrap();
    jobs.schedule(
        "bad-meta",
        &client_job_with("default", &[("meta", b"not a pickle")]),
        past,
    )
    .await
    .unwrap();
    jobs.schedule("later", &client_job("reports"), past + 86_400.0)
        .await
        .unwrap();
    let mut d = Daemon::start(&[
        "run",
        "-u",
        &url,
        "--name",
        "json-1",
        "--log-format",
        "json",
    ]);
    let lines = eventually(T, "a batch line and a quarantine line", || {
        let log = d.log();
        async move {
            let lines: Vec<serde_json::Value> = log
                .lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect();
            let has = |m: &str| lines.iter().any(|l| l["message"] == m);
            (has("handed over a batch") && has("quarantined a job")).then_some(lines)
        }
    })
    .await;
    let batch = lines
        .iter()
        .find(|l| l["message"] == "handed over a batch" && l["pushed"] == 2)
        .unwrap_or_else(|| panic!("no batch of two: {lines:?}"));
    assert_eq!(batch["instance"], "json-1", "{batch}");
    assert_eq!(batch["queues"], "reports=2", "{batch}");
    for field in [
        "deferred",
        "rescheduled",
        "unscheduled",
        "quarantined",
        "skipped",
    ] {
        assert!(batch[field].is_u64(), "{field} in {batch}");
    }
    let quarantine = lines
        .iter()
        .find(|l| l["message"] == "quarantined a job")
        .unwrap();
    assert_eq!(quarantine["job_id"], "bad-meta", "{quarantine}");
    assert_eq!(quarantine["queue"], "default", "{quarantine}");
    assert_eq!(quarantine["kind"], "unreadable_meta", "{quarantine}");
    assert!(quarantine["reason"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(quarantine["level"], "WARN");
    // Every time: the timestamps of the lines and any time a field holds.
    let shape = |text: &str| {
        let b = text.as_bytes();
        text.len() == 27
            && b[4] == b'-'
            && b[10] == b'T'
            && b[19] == b'.'
            && b[26] == b'Z'
            && text[20..26].bytes().all(|c| c.is_ascii_digit())
    };
    let mut times = 0;
    for line in &lines {
        for (field, value) in line.as_object().unwrap() {
            let Some(text) = value.as_str() else { continue };
            let looks_like_time = text.len() >= 19
                && text.as_bytes()[4] == b'-'
                && text.as_bytes()[10] == b'T'
                && text[..4].bytes().all(|c| c.is_ascii_digit());
            if looks_like_time {
                times += 1;
                assert!(shape(text), "{field} = {text} in {line}");
            }
        }
    }
    let next_due = lines
        .iter()
        .find_map(|l| (l["message"] == "became the active instance").then(|| l["next_due"].clone()))
        .unwrap();
    assert!(next_due.as_str().is_some_and(shape), "{next_due}");
    assert!(
        times > lines.len(),
        "{times} times in {} lines",
        lines.len()
    );
    d.signal(Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
}

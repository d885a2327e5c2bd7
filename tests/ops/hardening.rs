//! The metrics port probed as an attacker would (issue 19): page loads that must not
//! delay a hand-off nor cost the lease, jobs too large to show, half-sent requests, and a
//! keyspace too large to walk at every load.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use redis::aio::ConnectionManager;
use rqs_client::PyValue;
use rqs_core::JobHash;
use rqs_testkit::RedisServer;
use rqs_testkit::client_job;

use crate::common::{Served, T, http_get, rqs};
use crate::support::{Daemon, Jobs, eventually, q, rqs_bin};

#[allow(dead_code)]
#[path = "../e2e/stream.rs"]
mod stream;

use stream::{Stream, now};

/// The contract the outage tests use: a job is handed over within a second of its due
/// second (a job due at a fraction of a second waits for the next whole one).
const WITHIN: f64 = 1.0;

/// Starts `rqs run --metrics-addr 127.0.0.1:0 ARGS...` under the shell limit `limit`
/// (`ulimit -v 400000`, `ulimit -n 256`), and reads the address it serves on.
async fn served_under(limit: &str, url: &str, args: &[&str]) -> Served {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("{limit} && exec \"$0\" \"$@\""))
        .arg(rqs_bin())
        .args(["run", "-u", url, "--metrics-addr", "127.0.0.1:0"])
        .args(args)
        .env("TZ", "UTC");
    Served::serving(Daemon::spawn(cmd)).await
}

/// A job hash as rq-scheduler writes it, with `data` the call's zlib'd pickle, far in the
/// future so that it stays on the page.
fn job_with(data: Vec<u8>, description: String, meta: Option<Vec<u8>>) -> JobHash {
    let mut hash = client_job("default");
    hash.set("data", data);
    hash.set("description", description);
    if let Some(meta) = meta {
        hash.set("meta", meta);
    }
    hash
}

/// Bytes no compressor shrinks (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Schedules `n` copies of `hash` as `<prefix>-<i>`, due in a year.
async fn upcoming(conn: &ConnectionManager, prefix: &str, hash: &JobHash, n: usize) {
    let jobs = Jobs::new(conn.clone());
    let due = now().floor() + 365.0 * 86_400.0;
    for i in 0..n {
        jobs.schedule(&format!("{prefix}-{i:03}"), hash, due + i as f64)
            .await
            .unwrap();
    }
}

/// Jobs `<prefix>-<n>` on queue `default` due every `every` from `first`, each written
/// `lead` before it falls due, so that the schedule's head stays the jobs on the page.
async fn feed(
    conn: &ConnectionManager,
    prefix: &str,
    first: f64,
    every: Duration,
    n: usize,
    lead: f64,
) -> Stream {
    let jobs = Jobs::new(conn.clone());
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        let id = format!("{prefix}-{i:04}");
        let due = first + every.as_secs_f64() * i as f64;
        let wait = due - lead - now();
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(wait)).await;
        }
        jobs.schedule(&id, &client_job("default"), due)
            .await
            .unwrap();
        all.push((id, due));
    }
    Stream { jobs: all }
}

/// Waits until every job of `stream` left the schedule, then returns how long after its
/// due second each was handed over.
async fn past_the_due_second(conn: &ConnectionManager, stream: &Stream) -> Vec<f64> {
    let jobs = Jobs::new(conn.clone());
    eventually(T, "the stream handed over", || {
        let jobs = jobs.clone();
        let ids: Vec<String> = stream.jobs.iter().map(|(id, _)| id.clone()).collect();
        async move {
            for id in ids {
                if jobs.score(&id).await.unwrap().is_some() {
                    return None;
                }
            }
            Some(())
        }
    })
    .await;
    let lateness = stream.assert_each_once(conn).await;
    stream
        .jobs
        .iter()
        .zip(lateness)
        .map(|((_, due), late)| late - (due.ceil() - due))
        .collect()
}

fn summary(values: &[f64]) -> String {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let at = |p: f64| sorted[((sorted.len() - 1) as f64 * p).round() as usize];
    format!(
        "{} jobs, median {:.3} s, p95 {:.3} s, worst {:.3} s",
        sorted.len(),
        at(0.5),
        at(0.95),
        at(1.0)
    )
}

/// `clients` threads loading `/` from `addr` until `stop`; returns each load's status.
fn load_in_a_loop(
    addr: &str,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<u16>>> {
    (0..clients)
        .map(|_| {
            let addr = addr.to_owned();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    match http_get(&addr, "/") {
                        Ok((status, _)) => statuses.push(status),
                        Err(_) => statuses.push(0),
                    }
                }
                statuses
            })
        })
        .collect()
}

/// Item 1: a page whose 50 upcoming jobs each hold a zlib bomb (16 KB that inflate to
/// 16 MiB), a 1 MiB description and a 256 KiB meta, loaded by 4 clients in a loop, while
/// jobs fall due every 200 ms. The hand-offs stay within a second of their due second,
/// as without the load, and the lease is never lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_loads_in_a_loop_delay_no_hand_off_and_cost_no_lease() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let bomb =
        rqs_client::job_data("tasks.explode", &[PyValue::Bytes(vec![0; 16 << 20])], &[]).unwrap();
    assert!(bomb.len() < 32 * 1024, "{} bytes", bomb.len());
    let hash = job_with(bomb, "d".repeat(1 << 20), Some(noise(256 * 1024)));
    upcoming(&conn, "bomb", &hash, 50).await;

    let mut served = Served::start(&url, &["--name", "late-1"]).await;
    served.metric_reaches("rqs_is_leader", 1.0).await;
    let every = Duration::from_millis(200);
    let quiet = feed(&conn, "quiet", now() + 2.0, every, 75, 1.5).await;
    let quiet = past_the_due_second(&conn, &quiet).await;

    let stop = Arc::new(AtomicBool::new(false));
    let clients = load_in_a_loop(&served.addr, 4, &stop);
    let loaded = feed(&conn, "loaded", now() + 2.0, every, 75, 1.5).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    let statuses: Vec<u16> = clients
        .into_iter()
        .flat_map(|c| c.join().unwrap())
        .collect();
    let loaded = past_the_due_second(&conn, &loaded).await;

    eprintln!("without page loads: {}", summary(&quiet));
    eprintln!(
        "with 4 clients loading / in a loop ({} loads): {}",
        statuses.len(),
        summary(&loaded)
    );
    assert!(!statuses.is_empty());
    assert!(
        statuses.iter().all(|s| *s == 200),
        "every load is served: {statuses:?}"
    );
    let m = served.metrics();
    assert_eq!(m["rqs_lock_lost_total"], 0.0, "{}", served.daemon.log());
    assert_eq!(m["rqs_lock_acquired_total"], 1.0, "{}", served.daemon.log());
    assert!(
        !served.daemon.log().contains("lease ran out"),
        "{}",
        served.daemon.log()
    );
    for (name, lateness) in [("quiet", &quiet), ("loaded", &loaded)] {
        let worst = lateness.iter().copied().fold(0.0, f64::max);
        assert!(worst <= WITHIN, "{name}: {worst:.3} s past the due second");
    }
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

/// Item 1: 50 upcoming jobs whose call holds 4 MiB that do not compress, with a 4 MiB
/// description, loaded by 3 clients at once, again and again, under `ulimit -v 400000`:
/// every load is served and the daemon does not abort.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_loads_over_huge_jobs_fit_in_a_400_mb_address_space() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let data = rqs_client::job_data("tasks.big", &[PyValue::Bytes(noise(4 << 20))], &[]).unwrap();
    let hash = job_with(data, "x".repeat(4 << 20), None);
    upcoming(&conn, "huge", &hash, 50).await;

    let mut served = served_under("ulimit -v 400000", &url, &["--name", "huge-1"]).await;
    served.metric_reaches("rqs_is_leader", 1.0).await;
    for _ in 0..5 {
        let loads: Vec<_> = (0..3)
            .map(|_| {
                let addr = served.addr.clone();
                std::thread::spawn(move || http_get(&addr, "/"))
            })
            .collect();
        for load in loads {
            let (status, page) = load
                .join()
                .unwrap()
                .unwrap_or_else(|e| panic!("{e}\n{}", served.daemon.log()));
            assert_eq!(status, 200, "{page}");
            assert!(page.contains("huge-049"), "{page}");
        }
        // A fresh read each round, not the page kept from the round before.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    served.daemon.assert_running();
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

/// Whether the server closed `stream` by `deadline`: a read gives end of file or an
/// error other than a timeout.
fn closed_by(stream: &mut TcpStream, deadline: Instant) -> bool {
    let mut buf = [0u8; 256];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// Item 2 (slowloris): with 256 descriptors (systemd's default of 1,024, scaled down), 300
/// connections that each send half a request head and then nothing must neither keep
/// `/healthz`, `/readyz` and `/metrics` from answering nor stay open for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_cut_off_and_the_health_checks_still_answer() {
    let server = RedisServer::start();
    let url = server.url();
    let mut served = served_under("ulimit -n 256", &url, &["--name", "loris-1"]).await;
    served.metric_reaches("rqs_is_leader", 1.0).await;

    let mut half_sent: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(&served.addr).unwrap();
            s.write_all(b"GET /metrics HTTP/1.1\r\nHost: rqs\r\nX-Slow: ")
                .unwrap();
            s
        })
        .collect();
    for path in ["/healthz", "/readyz", "/metrics"] {
        let (status, body) = http_get(&served.addr, path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", served.daemon.log()));
        assert_eq!(status, 200, "{path}: {body}");
    }
    // The header timeout is 10 s: every one of them is closed well within a minute.
    let deadline = Instant::now() + T;
    let mut open = 0;
    for s in &mut half_sent {
        if !closed_by(s, deadline) {
            open += 1;
        }
    }
    assert_eq!(open, 0, "half-sent connections still open after {T:?}");
    assert_eq!(served.get("/healthz").0, 200);
    served.daemon.assert_running();
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

/// `SCAN` calls Redis has answered since its statistics were last reset.
async fn scan_calls(conn: &ConnectionManager) -> u64 {
    let info: String = q(conn, redis::cmd("INFO").arg("commandstats")).await;
    info.lines()
        .find_map(|l| l.strip_prefix("cmdstat_scan:calls="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Item 3: with 100,000 other keys, the page and `rqs status` find the instances
/// without walking the keyspace at each load: over five page loads (each a fresh read)
/// and three `rqs status` runs, Redis answers at most one walk's worth of `SCAN` calls
/// (the daemon's own refresh, at most once a minute), and both still show every instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_status_find_instances_without_walking_the_keyspace() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let () = q(
        &conn,
        redis::cmd("EVAL")
            .arg("for i = 1, 100000 do redis.call('SET', 'filler:' .. i, 'x') end")
            .arg(0),
    )
    .await;
    // An instance that is not this rqs (Python's rqscheduler writes only `birth`).
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:scheduler_instance:python-1")
            .arg("birth")
            .arg(now().to_string()),
    )
    .await;
    let mut served = Served::start(&url, &["--name", "index-1"]).await;
    served.metric_reaches("rqs_is_leader", 1.0).await;
    let (status, page) = served.get("/");
    assert_eq!(status, 200, "{page}");

    // What one walk costs, the way rqs walks (SCAN ... COUNT 1000).
    let mut walk = 0u64;
    let mut cursor = 0u64;
    loop {
        let (next, _): (u64, Vec<Vec<u8>>) = q(
            &conn,
            redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("rq:scheduler_instance:*")
                .arg("COUNT")
                .arg(1000),
        )
        .await;
        walk += 1;
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert!(walk >= 50, "one walk is {walk} calls");

    let () = q(&conn, redis::cmd("CONFIG").arg("RESETSTAT")).await;
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let (status, page) = served.get("/");
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("<td class=\"id\">index-1</td>"), "{page}");
        assert!(page.contains("<td class=\"id\">python-1</td>"), "{page}");
    }
    for _ in 0..3 {
        let out = rqs(&url, &["status"]).expect(0);
        assert!(
            out.stdout.contains("index-1") && out.stdout.contains("python-1"),
            "{}",
            out.stdout
        );
    }
    let calls = scan_calls(&conn).await;
    eprintln!("one walk: {walk} SCAN calls; 5 page loads and 3 status runs: {calls}");
    assert!(
        calls <= walk,
        "{calls} SCAN calls for 5 page loads and 3 status runs (one walk is {walk})"
    );
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

/// `rqs status` with no daemon keeping the instance index still finds every instance,
/// by walking the keyspace as before.
#[tokio::test]
async fn status_without_a_daemon_still_finds_the_instances() {
    let server = RedisServer::start();
    let url = server.url();
    let mut burst = Daemon::start(&["run", "--burst", "-u", &url, "--name", "gone-1"]);
    assert_eq!(burst.exit_code(T), 0, "{}", burst.log());
    let out = rqs(&url, &["status"]).expect(0);
    assert!(out.stdout.contains("gone-1"), "{}", out.stdout);
    let status = rqs(&url, &["status", "--json"]).expect(0).json();
    assert_eq!(status["instances"][0]["name"], "gone-1", "{status}");
}

/// Every rqs daemon notes its own name in the instance index at birth and at each
/// heartbeat, with or without `--metrics-addr`; `rqs status` beside such a daemon, with
/// no walker running, still walks once, so that a Python scheduler's record (which no
/// heartbeat notes) is found too.
#[tokio::test]
async fn every_daemon_notes_itself_and_status_still_finds_python_instances() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:scheduler_instance:python-1")
            .arg("birth")
            .arg("1800000000.0"),
    )
    .await;
    let mut d = Daemon::start(&["run", "-u", &url, "--name", "plain-1"]);
    eventually(T, "plain-1 in the index", || async {
        let score: Option<f64> = q(
            &conn,
            redis::cmd("ZSCORE").arg("rq:rqs:instances").arg("plain-1"),
        )
        .await;
        score
    })
    .await;
    let status = rqs(&url, &["status", "--json"]).expect(0).json();
    let names: Vec<&str> = status["instances"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["name"].as_str())
        .collect();
    assert!(
        names.contains(&"plain-1") && names.contains(&"python-1"),
        "{status}"
    );
    // A wrong-typed index never stops a heartbeat: the daemon keeps its record alive.
    let () = q(&conn, redis::cmd("DEL").arg("rq:rqs:instances")).await;
    let () = q(&conn, redis::cmd("SET").arg("rq:rqs:instances").arg("oops")).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    d.assert_running();
    assert!(!d.log().contains("backend unavailable"), "{}", d.log());
    d.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
}

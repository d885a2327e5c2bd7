//! `--rq-scheduled` beside RQ's own workers: a worker started with `--with-scheduler`
//! and rqs never both move a queue's jobs (whoever holds RQ's per-queue lock moves
//! them), rqs releases the locks when it stops, and a standby rqs takes RQ's jobs over
//! within seconds of a kill -9 of the active one.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;
use rqs_testkit::RedisServer;
use rqs_testkit::python::PythonEnv;

use crate::common::{T, python_env};
use crate::support::{Daemon, eventually, q, root};

fn py_path() -> String {
    root().join("tests/ops/py").display().to_string()
}

fn side(env: &PythonEnv, args: &[&str]) -> String {
    let out = Command::new(env.python())
        .arg(root().join("tests/ops/py/rq_side.py"))
        .args(args)
        .env("PYTHONPATH", py_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `rq worker` on `queues`, killed on drop.
struct Worker(Child);

impl Worker {
    fn start(env: &PythonEnv, url: &str, with_scheduler: bool, queues: &[&str]) -> Self {
        let mut cmd = Command::new(env.bin("rq"));
        cmd.args(["worker", "-u", url]);
        if with_scheduler {
            cmd.arg("--with-scheduler");
        }
        let child = cmd
            .args(queues)
            .current_dir(root().join("tests/ops/py"))
            .env("PYTHONPATH", py_path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self(child)
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn runs(env: &PythonEnv, url: &str, n: usize) -> HashMap<String, u64> {
    let env = env.clone();
    eventually(T, &format!("{n} runs"), move || {
        let counts: HashMap<String, u64> =
            serde_json::from_str(&side(&env, &["runs", url])).unwrap_or_default();
        async move { (counts.len() >= n).then_some(counts) }
    })
    .await
}

async fn lock_holder(conn: &ConnectionManager, queue: &str) -> Option<String> {
    q(
        conn,
        redis::cmd("GET").arg(format!("rq:scheduler-lock:{queue}")),
    )
    .await
}

#[tokio::test]
async fn a_worker_with_scheduler_and_rqs_never_both_move_a_queue() {
    let env = python_env().await;
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    // rqs first: it takes the locks of the queues it knows; a worker's scheduler that
    // starts later finds them taken.
    side(&env, &["enqueue", &url, "alpha", "1", "3600000"]);
    let mut rqs = Daemon::start(&["run", "-u", &url, "--name", "one", "--rq-scheduled", "all"]);
    eventually(T, "rqs holds alpha's lock", || {
        let conn = conn.clone();
        async move { (lock_holder(&conn, "alpha").await.as_deref() == Some("rqs:one")).then_some(()) }
    })
    .await;
    let _worker = Worker::start(&env, &url, true, &["alpha"]);
    side(&env, &["enqueue", &url, "alpha", "200", "1500"]);
    let counts = runs(&env, &url, 200).await;
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "jobs run more than once: {twice:?}");
    assert_eq!(
        lock_holder(&conn, "alpha").await.as_deref(),
        Some("rqs:one")
    );
    // A clean stop releases the queue locks with the scheduler lock.
    rqs.signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(rqs.exit_code(T), 0, "{}", rqs.log());
    assert_eq!(lock_holder(&conn, "alpha").await, None, "{}", rqs.log());
}

#[tokio::test]
async fn rqs_leaves_a_queue_whose_lock_a_worker_holds() {
    let env = python_env().await;
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    side(&env, &["enqueue", &url, "beta", "1", "3600000"]);
    let _worker = Worker::start(&env, &url, true, &["beta"]);
    let held_by_worker = eventually(T, "the worker's scheduler holds beta's lock", || {
        let conn = conn.clone();
        async move { lock_holder(&conn, "beta").await }
    })
    .await;
    let rqs = Daemon::start(&["run", "-u", &url, "--name", "two", "--rq-scheduled", "all"]);
    eventually(T, "rqs says beta is left to RQ's scheduler", || {
        let log = rqs.log();
        async move {
            log.contains("left to the RQ scheduler that holds their locks")
                .then_some(())
        }
    })
    .await;
    side(&env, &["enqueue", &url, "beta", "100", "500"]);
    let counts = runs(&env, &url, 100).await;
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    assert_eq!(lock_holder(&conn, "beta").await, Some(held_by_worker));
}

#[tokio::test]
async fn a_standby_takes_rqs_jobs_over_within_seconds_of_a_kill_9() {
    let env = python_env().await;
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    side(&env, &["enqueue", &url, "gamma", "1", "3600000"]);
    let mut one = Daemon::start(&[
        "run",
        "-u",
        &url,
        "--name",
        "one",
        "--rq-scheduled",
        "gamma",
    ]);
    eventually(T, "one holds gamma", || {
        let conn = conn.clone();
        async move { (lock_holder(&conn, "gamma").await.as_deref() == Some("rqs:one")).then_some(()) }
    })
    .await;
    let _two = Daemon::start(&[
        "run",
        "-u",
        &url,
        "--name",
        "two",
        "--rq-scheduled",
        "gamma",
    ]);
    let _worker = Worker::start(&env, &url, false, &["gamma"]);
    one.kill9();
    let killed = Instant::now();
    // Due one second after the kill: moved by two, once it has both locks.
    side(&env, &["enqueue", &url, "gamma", "50", "1000"]);
    let counts = runs(&env, &url, 50).await;
    let took = killed.elapsed();
    assert!(counts.values().all(|n| *n == 1), "{counts:?}");
    assert_eq!(
        lock_holder(&conn, "gamma").await.as_deref(),
        Some("rqs:two")
    );
    eprintln!("RQ's jobs moved again {took:?} after the kill -9 of the active instance");
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[tokio::test]
async fn status_shows_rqs_registries_and_who_moves_them() {
    let env = python_env().await;
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    side(&env, &["enqueue", &url, "delta", "3", "3600000"]);
    side(&env, &["enqueue", &url, "epsilon", "2", "3600000"]);
    let () = q(
        &conn,
        redis::cmd("SET")
            .arg("rq:scheduler-lock:epsilon")
            .arg("0123abcd"),
    )
    .await;
    let out = crate::common::rqs(&url, &["status"]).expect(0);
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("rq:scheduled:"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", out.stdout);
    assert!(out.stdout.contains("RQ REGISTRY"), "{}", out.stdout);
    assert!(
        rows[0].starts_with("rq:scheduled:delta") && rows[0].contains("nobody (no lock)"),
        "{rows:?}"
    );
    assert!(rows[1].contains("RQ scheduler 0123abcd"), "{rows:?}");
    let json = crate::common::rqs(&url, &["status", "--json"])
        .expect(0)
        .json();
    let registries = json["rq_registries"].as_array().unwrap();
    assert_eq!(registries[0]["scheduled"], 3);
    assert_eq!(registries[0]["due"], 0);
    assert_eq!(registries[1]["lock"], "0123abcd");
    // `rqs show` says where one of RQ's jobs waits.
    let shown = crate::common::rqs(&url, &["show", "delta-0001"]).expect(0);
    assert!(
        shown
            .stdout
            .contains("in RQ registry  rq:scheduled:delta, due "),
        "{}",
        shown.stdout
    );
    let shown = crate::common::rqs(&url, &["show", "--json", "delta-0001"])
        .expect(0)
        .json();
    assert_eq!(shown["rq_registry"]["key"], "rq:scheduled:delta");
}

//! rqs as the scheduler of RQ's own registries (`--rq-scheduled`), against RQ's
//! `RQScheduler` on twin databases: jobs put in `rq:scheduled:<queue>` by RQ's client
//! (`enqueue_at`, `enqueue_in`, at_front, ttl, timeout, rich meta, a dependency, a
//! deferred status, a missing hash, a backlog of 1,500 in one queue) and by a real worker
//! (a `Retry` after a failure, a `Repeat` after a success); the database is copied,
//! `RQScheduler.enqueue_scheduled_jobs` runs pass after pass on one copy and `rqs --burst
//! --rq-scheduled all` on the other, and every key must then be equal, byte for byte
//! (`enqueued_at` apart, a time each chose); then `rq worker --burst` runs what rqs moved.

use std::process::Output;

use rqs_testkit::RedisServer;
use rqs_testkit::python::{self, PythonEnv, Stack};
use serde_json::Value;

use crate::support::Daemon;
use crate::twin::{copy_db, rq_worker, run_python};

const RQS_DB: u8 = 8;
const PYTHON_DB: u8 = 9;
const QUEUES: [&str; 5] = ["default", "other", "bulk", "retry", "repeat"];

fn python(env: &PythonEnv, args: &[&str]) -> Output {
    run_python(env, "rq_scheduled.py", args)
}

/// Keys only rqs writes, whoever moves RQ's jobs: its instance record and index.
fn rqs_only(key: &str) -> bool {
    key.starts_with("rq:scheduler_instance:") || key == rqs_core::keys::INSTANCE_INDEX
}

pub(crate) async fn run(stack: Stack) {
    let env = tokio::task::spawn_blocking(move || python::ensure(stack))
        .await
        .unwrap();
    let server = RedisServer::start();
    let (ours, theirs) = (server.url_db(RQS_DB), server.url_db(PYTHON_DB));
    python(&env, &["populate", &ours]);
    copy_db(&server, RQS_DB, PYTHON_DB).await;

    python(&env, &["rqscheduler", &theirs]);
    let mut rqs = Daemon::start_env(
        &["--burst", "--rq-scheduled", "all", "-u", &ours],
        &[("TZ", "UTC")],
    );
    assert_eq!(
        rqs.exit_code(std::time::Duration::from_secs(60)),
        0,
        "{}",
        rqs.log()
    );

    let dump = |url: &str| -> serde_json::Map<String, Value> {
        let out = python(&env, &["dump", url]);
        let all: Value = serde_json::from_slice(&out.stdout).expect("dump is JSON");
        all.as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| !rqs_only(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    let (a, b) = (dump(&ours), dump(&theirs));
    let differences: Vec<String> = a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}:\n  rqs:          {:?}\n  RQScheduler:  {:?}",
                a.get(k),
                b.get(k)
            )
        })
        .collect();
    assert!(
        differences.is_empty(),
        "{stack:?}: rqs and RQScheduler disagree on {} key(s):\n{}",
        differences.len(),
        differences
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // What the comparison covers: every due job moved, the backlog past RQ's 1,000 a pass,
    // the ghost gone, the later job kept.
    let bulk = a["rq:queue:bulk"]["value"].as_array().unwrap().len();
    assert_eq!(bulk, 1500);
    let default: Vec<&str> = a["rq:queue:default"]["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(default.first(), Some(&"front"), "{default:?}");
    let kept = a["rq:scheduled:default"]["value"].as_array().unwrap();
    assert_eq!(
        kept.len(),
        1,
        "only the job due in two hours stays: {kept:?}"
    );
    assert!(
        !a.contains_key("rq:scheduled:other"),
        "the ghost left with the rest"
    );
    // The Retry after a failure and the Repeat after a success, both made by a worker.
    assert_eq!(a["rq:queue:retry"]["value"], serde_json::json!(["retried"]));
    assert_eq!(
        a["rq:queue:repeat"]["value"],
        serde_json::json!(["repeated"])
    );
    let locks: Vec<&String> = a
        .keys()
        .filter(|k| k.starts_with("rq:scheduler-lock:"))
        .collect();
    assert!(locks.is_empty(), "rqs released the queue locks: {locks:?}");
    eprintln!("{stack:?}: {} keys equal", a.len());

    rq_worker(&env, &ours, &QUEUES, "rqs");
    let verified = python(&env, &["verify", &ours]);
    eprintln!(
        "{stack:?}: {}",
        String::from_utf8_lossy(&verified.stdout).trim()
    );
}

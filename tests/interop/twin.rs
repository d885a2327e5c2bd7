//! One twin run: populate, copy, run both daemons, compare, run a worker, verify.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use rqs_testkit::RedisServer;
use rqs_testkit::python::{self, PythonEnv, Stack};
use serde_json::Value;

use crate::support::{Daemon, q, root};

/// Databases: rqs works on one, rqscheduler on the other.
const RQS_DB: u8 = 1;
const PYTHON_DB: u8 = 2;
const QUEUES: [&str; 6] = ["default", "reports", "brandnew", "alpha", "beta", "gamma"];

pub(crate) fn py_dir() -> PathBuf {
    root().join("tests/interop/py")
}

fn python(env: &PythonEnv, args: &[&str]) -> Output {
    run_python(env, "scenario.py", args)
}

/// A command's stdout and stderr, for a failure message.
pub(crate) fn output_text(out: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `python tests/interop/py/SCRIPT ARGS...` with the venv of `env`, required to succeed.
pub(crate) fn run_python(env: &PythonEnv, script: &str, args: &[&str]) -> Output {
    let out = Command::new(env.python())
        .arg(py_dir().join(script))
        .args(args)
        .env("PYTHONPATH", py_dir())
        .env("TZ", "UTC")
        .output()
        .expect("cannot run python");
    assert!(
        out.status.success(),
        "{script} {args:?} failed:\n{}",
        output_text(&out)
    );
    out
}

/// `rq worker --burst` on `queues` of `url`, required to succeed (`who` names it in the
/// failure).
pub(crate) fn rq_worker(env: &PythonEnv, url: &str, queues: &[&str], who: &str) {
    let worker = Command::new(env.bin("rq"))
        .args(["worker", "--burst", "-u", url])
        .args(queues)
        .current_dir(py_dir())
        .env("PYTHONPATH", py_dir())
        .env("TZ", "UTC")
        .output()
        .expect("cannot run rq worker");
    assert!(
        worker.status.success(),
        "rq worker ({who}):\n{}",
        output_text(&worker)
    );
}

/// Copies every key of database `from` with its TTL into `to`, byte for byte (DUMP/RESTORE
/// rather than COPY, which needs Redis 6.2).
pub(crate) async fn copy_db(server: &RedisServer, from: u8, to: u8) {
    let source = server.connection_db(from).await;
    let twin = server.connection_db(to).await;
    let keys: Vec<Vec<u8>> = q(&source, redis::cmd("KEYS").arg("*")).await;
    for key in &keys {
        let dump: Vec<u8> = q(&source, redis::cmd("DUMP").arg(key)).await;
        let pttl: i64 = q(&source, redis::cmd("PTTL").arg(key)).await;
        let () = q(
            &twin,
            redis::cmd("RESTORE").arg(key).arg(pttl.max(0)).arg(dump),
        )
        .await;
    }
}

/// Waits until the current minute has at least 15 s left, so both daemons compute cron
/// times in the same minute.
pub(crate) async fn away_from_a_minute_boundary() {
    loop {
        let second = chrono::Utc::now().timestamp() % 60;
        if (1..=44).contains(&second) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub(crate) async fn run(stack: Stack, suite: &str) {
    let env = tokio::task::spawn_blocking(move || python::ensure(stack))
        .await
        .unwrap();
    // Cron times are compared minute by minute: a run that crossed a minute boundary
    // (a very slow machine) proves nothing and is repeated on a fresh server.
    for attempt in 1..=3 {
        if attempt_twin(&env, stack, suite).await {
            return;
        }
        eprintln!("{stack:?}/{suite}: attempt {attempt} crossed a minute boundary; again");
    }
    panic!("{stack:?}/{suite}: three attempts in a row crossed a minute boundary");
}

/// What [`both_daemons`] saw.
pub(crate) struct TwinRun {
    /// Unix seconds when they started.
    pub(crate) since: i64,
    /// How far apart the times they chose can be: the span both ran in.
    pub(crate) slack: f64,
    /// rqs, exited, with its log.
    pub(crate) ours: Daemon,
}

/// `rqs --burst` on one database and `rqscheduler --burst` on its twin, at the same
/// moment, both required to succeed; `None` when they did not finish in the minute they
/// started (cron times would then differ for no fault of either).
pub(crate) async fn both_daemons(env: &PythonEnv, rqs_url: &str, py_url: &str) -> Option<TwinRun> {
    away_from_a_minute_boundary().await;
    let since = chrono::Utc::now().timestamp();
    let started = std::time::Instant::now();
    let mut ours = Daemon::start_env(&["--burst", "-u", rqs_url], &[("TZ", "UTC")]);
    let theirs = Command::new(env.bin("rqscheduler"))
        .args(["--burst", "-u", py_url])
        .env("PYTHONPATH", py_dir())
        .env("TZ", "UTC")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start rqscheduler");
    let theirs = tokio::task::spawn_blocking(move || theirs.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        ours.exit_code(Duration::from_secs(60)),
        0,
        "rqs:\n{}",
        ours.log()
    );
    assert!(
        theirs.status.success(),
        "rqscheduler failed:\n{}",
        String::from_utf8_lossy(&theirs.stderr)
    );
    if chrono::Utc::now().timestamp() / 60 != since / 60 {
        return None;
    }
    Some(TwinRun {
        since,
        slack: started.elapsed().as_secs_f64().ceil() + 1.0,
        ours,
    })
}

/// One twin run; `false` when the daemons did not both finish in the minute they started.
async fn attempt_twin(env: &PythonEnv, stack: Stack, suite: &str) -> bool {
    let env = env.clone();
    let server = RedisServer::start();
    let (rqs_url, py_url) = (server.url_db(RQS_DB), server.url_db(PYTHON_DB));
    python(&env, &["populate", &rqs_url, suite]);

    copy_db(&server, RQS_DB, PYTHON_DB).await;

    let Some(TwinRun { since, slack, ours }) = both_daemons(&env, &rqs_url, &py_url).await else {
        return false;
    };
    let since = since.to_string();
    if suite == "oneoff" {
        assert!(
            ours.log().contains("job_id=missing-hash")
                && ours.log().contains("job hash is missing"),
            "rqs logs the missing hash:\n{}",
            ours.log()
        );
    }

    let dump = |url: &str| -> Value {
        let out = python(&env, &["dump", url, &since]);
        serde_json::from_slice(&out.stdout).expect("dump is JSON")
    };
    let (a, b) = (dump(&rqs_url), dump(&py_url));
    let differences = compare(&a["keys"], &b["keys"], slack);
    assert!(
        differences.is_empty(),
        "{stack:?}/{suite}: rqs and rqscheduler disagree on {} point(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
    // rqs marks its instance record (how it tells itself from a Python scheduler);
    // rqscheduler's has only birth and death.
    let extra = |dump: &Value| dump["keys"]["rq:scheduler_instance:<name>"]["extra_fields"].clone();
    assert_eq!(extra(&a), serde_json::json!(["heartbeat", "rqs"]));
    assert_eq!(extra(&b), serde_json::json!([]));
    let metas = a["meta_bytes"].as_object().unwrap();
    let identical = metas
        .iter()
        .filter(|(k, v)| b["meta_bytes"].get(k.as_str()) == Some(v))
        .count();
    eprintln!(
        "{stack:?}/{suite}: {} keys equal; {identical} of {} metas byte-identical to Python's re-pickle",
        a["keys"].as_object().unwrap().len(),
        metas.len()
    );

    rq_worker(&env, &rqs_url, &QUEUES, "rqs");
    let verified = python(&env, &["verify", &rqs_url]);
    eprintln!(
        "{stack:?}/{suite}: {}",
        String::from_utf8_lossy(&verified.stdout).trim()
    );
    true
}

/// Keys only rqs writes: the instance index every rqs birth and heartbeat keeps.
const RQS_ONLY: [&str; 1] = [rqs_core::keys::INSTANCE_INDEX];

/// Differences between two dumps, one line each. TTLs and sorted-set scores are compared
/// with `slack` seconds of tolerance: the two daemons ran at nearly, not exactly, the same
/// moment.
pub(crate) fn compare(ours: &Value, theirs: &Value, slack: f64) -> Vec<String> {
    let (ours, theirs) = (ours.as_object().unwrap(), theirs.as_object().unwrap());
    let mut out = Vec::new();
    // rqs's own keys, which rq-scheduler has no counterpart of: rqs must write them,
    // rqscheduler never does.
    for key in RQS_ONLY.map(str::to_owned) {
        match (ours.get(&key), theirs.contains_key(&key)) {
            (Some(a), false) if a["type"] == "zset" => {}
            (a, b) => out.push(format!(
                "{key}: rqs's own index, expected a zset written by rqs only (rqs: {}, rqscheduler: {b})",
                a.map_or(Value::Null, |a| a["type"].clone())
            )),
        }
    }
    for key in ours
        .keys()
        .chain(theirs.keys().filter(|k| !ours.contains_key(*k)))
        .filter(|k| !RQS_ONLY.contains(&k.as_str()))
    {
        let (Some(a), Some(b)) = (ours.get(key), theirs.get(key)) else {
            let who = if ours.contains_key(key) {
                "only rqs"
            } else {
                "only rqscheduler"
            };
            out.push(format!("{key}: {who} has it"));
            continue;
        };
        if a["type"] != b["type"] {
            out.push(format!("{key}: type {} vs {}", a["type"], b["type"]));
            continue;
        }
        let (ta, tb) = (a["ttl"].as_i64().unwrap(), b["ttl"].as_i64().unwrap());
        if ((ta < 0 || tb < 0) && ta != tb) || (ta - tb).abs() as f64 > slack {
            out.push(format!("{key}: ttl {ta} vs {tb}"));
        }
        if a["type"] == "zset" {
            compare_zset(key, &a["value"], &b["value"], slack, &mut out);
        } else if a["type"] == "hash" {
            let (ha, hb) = (
                a["value"].as_object().unwrap(),
                b["value"].as_object().unwrap(),
            );
            for field in ha.keys().chain(hb.keys().filter(|f| !ha.contains_key(*f))) {
                if ha.get(field) != hb.get(field) {
                    out.push(format!(
                        "{key} field {field}: rqs {} vs rqscheduler {}",
                        ha.get(field).unwrap_or(&Value::Null),
                        hb.get(field).unwrap_or(&Value::Null)
                    ));
                }
            }
        } else if a["value"] != b["value"] {
            out.push(format!(
                "{key}: rqs {} vs rqscheduler {}",
                a["value"], b["value"]
            ));
        }
    }
    out
}

fn compare_zset(key: &str, a: &Value, b: &Value, slack: f64, out: &mut Vec<String>) {
    let entries = |v: &Value| -> Vec<(String, f64)> {
        let mut e: Vec<(String, f64)> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p[0].as_str().unwrap().to_owned(), p[1].as_f64().unwrap()))
            .collect();
        e.sort_by(|x, y| x.0.cmp(&y.0));
        e
    };
    let (ea, eb) = (entries(a), entries(b));
    let members = |e: &[(String, f64)]| e.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>();
    if members(&ea) != members(&eb) {
        out.push(format!(
            "{key}: members {:?} vs {:?}",
            members(&ea),
            members(&eb)
        ));
        return;
    }
    for ((m, sa), (_, sb)) in ea.iter().zip(&eb) {
        if (sa - sb).abs() > slack {
            out.push(format!("{key} member {m}: score {sa} vs {sb}"));
        }
    }
}

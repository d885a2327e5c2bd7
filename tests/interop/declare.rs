//! Jobs declared in a schedule file and written by `rqs apply` (schedules as code),
//! checked against the real Python packages:
//!
//! 1. `rqs apply` writes rq-scheduler's keys and nothing else but the set's two `rq:rqs:`
//!    records; applying the same file again writes nothing, byte for byte;
//! 2. rq_scheduler's client sees every job as declared (`count`, `get_jobs` with times,
//!    `Job.fetch`: function, args, kwargs, meta, queue, options, description), and its own
//!    client, writing the same jobs, writes the same keys and the same hash fields;
//! 3. the database is copied; `rqs --burst` moves one copy and Python's
//!    `rqscheduler --burst` the other: the copies must be equal key by key, every due job
//!    pushed (a team going back to rqscheduler finds jobs it runs as its own);
//! 4. `rq worker --burst` runs both copies: every due job ends with its status and result.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use redis::aio::ConnectionManager;
use rqs_testkit::RedisServer;
use rqs_testkit::python::{self, PythonEnv, Stack};
use serde_json::{Value, json};

use crate::support::{q, rqs_bin};
use crate::twin::{TwinRun, both_daemons, compare, copy_db, output_text, rq_worker, run_python};

const RQS_DB: u8 = 5;
const PYTHON_DB: u8 = 6;
/// rq_scheduler's own client writes the same jobs here, to compare hashes with.
const REFERENCE_DB: u8 = 7;
const QUEUES: [&str; 2] = ["reports", "default"];
const SET: &str = "interop";

/// The schedule file: one-offs (past, so due at once, and far future), interval and cron
/// jobs, every kind of value. Table keys are written in sorted order: a TOML table has
/// none, and rqs writes kwargs and meta sorted.
const FILE: &str = r#"
[defaults]
queue = "reports"
timeout = "10m"
meta = { team = "data" }

[[job]]
id = "once-values"
func = "declare_jobs.capture"
at = 2020-01-01T12:00:00Z
args = [
  1, -2, 2.5, -0.0, 1e300, 3.0, 2147483648, 9223372036854775807, -9223372036854775808,
  "text", "", "é✓😀 'quoted' \"twice\"",
  "The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.",
  true, false, { "$none" = true },
  { "$bytes" = "00ff27" }, { "$bytes" = "" },
  { "$tuple" = [1, "x", { "$tuple" = [{ "$none" = true }] }] }, { "$tuple" = [] },
  [1, [2, [3]], { k = { "$tuple" = [4, 5] } }],
  { a = 1, b = [true, 0.5], c = { "$none" = true } },
]
kwargs = { alpha = { "$bytes" = "010203" }, flag = false, nested = { x = [{ "$tuple" = [] }], y = { z = -1 } }, nothing = { "$none" = true }, zeta = "v" }

[[job]]
id = "once-options"
func = "declare_jobs.capture"
at = "2020-06-01T02:00:00+02:00"
args = ["options"]
queue = "default"
timeout = 30
result_ttl = 600
ttl = 300
description = "declared with every option ✓"
meta = { blob = { "$bytes" = "0102" }, n = 5, nested = { deep = { "$tuple" = [1, { "$none" = true }] } }, owner = "ops", ratio = 0.25, tags = ["a", "b"] }

[[job]]
id = "once-add"
func = "rqs_interop_jobs.add"
at = 1577836800
args = [20, 22]
queue = "default"

[[job]]
id = "once-fails"
func = "rqs_interop_jobs.fail"
at = 2020-01-01T12:00:00Z
args = ["boom"]

[[job]]
id = "far-future"
func = "rqs_interop_jobs.echo"
at = 2099-01-01T00:00:00Z
args = ["later"]

[[job]]
id = "every-second"
func = "rqs_interop_jobs.echo"
interval = 1
repeat = 3
args = ["tick"]
meta = { owner = "ops" }

[[job]]
id = "hourly"
func = "rqs_interop_jobs.echo"
interval = "1h"
args = ["hourly"]
queue = "default"
result_ttl = 3600

[[job]]
id = "every-minute"
func = "declare_jobs.capture"
cron = "* * * * *"
args = ["cron"]
kwargs = { n = 1 }

[[job]]
id = "nightly"
func = "rqs_interop_jobs.echo"
cron = "30 2 * * *"
use_local_timezone = true
repeat = 2
args = ["nightly"]
queue = "default"
description = "nightly, local time"
"#;

/// Due one second after the apply: the test waits for it.
const EVERY_SECOND: &str = "every-second";

/// When a declared job runs.
enum Timing {
    At(i64),
    Interval(i64),
    /// `matches` says whether a minute (UTC: the test runs everything with TZ=UTC) is one
    /// of the expression's.
    Cron {
        expr: &'static str,
        local: bool,
        matches: fn(DateTime<Utc>) -> bool,
    },
}

/// What one declared job must look like to Python, and what must become of it. Values
/// are Python literals.
struct Spec {
    id: &'static str,
    func: &'static str,
    args: &'static str,
    kwargs: &'static str,
    /// The meta the file gives (with the defaults').
    user_meta: &'static str,
    /// The meta as rq_scheduler writes it: the user's, then its own keys.
    meta: &'static str,
    origin: &'static str,
    timeout: Option<i64>,
    result_ttl: Option<i64>,
    ttl: Option<i64>,
    description: Option<&'static str>,
    timing: Timing,
    repeat: Option<i64>,
    /// Once run by the worker: `finished` or `failed`.
    status: &'static str,
    result: Option<String>,
}

impl Spec {
    /// A job with the file's defaults.
    fn new(id: &'static str, func: &'static str, args: &'static str, timing: Timing) -> Self {
        Spec {
            id,
            func,
            args,
            kwargs: "{}",
            user_meta: "{'team': 'data'}",
            meta: "{'team': 'data'}",
            origin: "reports",
            timeout: Some(600),
            result_ttl: timing_result_ttl(&timing),
            ttl: None,
            description: None,
            timing,
            repeat: None,
            status: "finished",
            result: None,
        }
    }

    /// `capture(*args, **kwargs)` returns `(args, kwargs)`.
    fn captured(mut self) -> Self {
        self.result = Some(format!("({}, {})", self.args, self.kwargs));
        self
    }

    /// Where the apply may have put it, when it ran between the Unix seconds `before`
    /// and `after`.
    fn scores(&self, before: i64, after: i64) -> (i64, i64) {
        match self.timing {
            Timing::At(unix) => (unix, unix),
            Timing::Interval(seconds) => (before + seconds, after + seconds),
            Timing::Cron { matches, .. } => {
                (next_match(before, matches), next_match(after, matches))
            }
        }
    }

    fn json(&self, scores: (i64, i64), due: Option<bool>) -> Value {
        let timing = match self.timing {
            Timing::At(unix) => json!({"at": unix}),
            Timing::Interval(seconds) => json!({"interval": seconds}),
            Timing::Cron { expr, local, .. } => json!({"cron": expr, "local": local}),
        };
        json!({
            "func": self.func,
            "args": self.args,
            "kwargs": self.kwargs,
            "user_meta": self.user_meta,
            "meta": self.meta,
            "origin": self.origin,
            "timeout": self.timeout,
            "result_ttl": self.result_ttl,
            "ttl": self.ttl,
            "description": self.description,
            "timing": timing,
            "repeat": self.repeat,
            "score": [scores.0, scores.1],
            "due": due,
            "status": self.status,
            "result": self.result,
        })
    }
}

/// rq_scheduler keeps the results of periodic jobs forever unless told otherwise.
fn timing_result_ttl(timing: &Timing) -> Option<i64> {
    match timing {
        Timing::At(_) => None,
        Timing::Interval(_) | Timing::Cron { .. } => Some(-1),
    }
}

/// The first minute after `unix` that `matches`, as croniter finds it.
fn next_match(unix: i64, matches: fn(DateTime<Utc>) -> bool) -> i64 {
    let mut minute = unix.div_euclid(60) * 60 + 60;
    while !matches(DateTime::from_timestamp(minute, 0).unwrap()) {
        minute += 60;
    }
    minute
}

/// The jobs of [`FILE`], as Python must see them.
fn specs() -> Vec<Spec> {
    let past = 1_577_880_000; // 2020-01-01T12:00:00Z
    let mut specs = Vec::new();

    let mut s = Spec::new(
        "once-values",
        "declare_jobs.capture",
        r#"(1, -2, 2.5, -0.0, 1e300, 3.0, 2147483648, 9223372036854775807, -9223372036854775808, 'text', '', 'é✓😀 \'quoted\' "twice"', 'The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog.', True, False, None, b"\x00\xff'", b'', (1, 'x', (None,)), (), [1, [2, [3]], {'k': (4, 5)}], {'a': 1, 'b': [True, 0.5], 'c': None})"#,
        Timing::At(past),
    );
    s.kwargs = r"{'alpha': b'\x01\x02\x03', 'flag': False, 'nested': {'x': [()], 'y': {'z': -1}}, 'nothing': None, 'zeta': 'v'}";
    specs.push(s.captured());

    let mut s = Spec::new(
        "once-options",
        "declare_jobs.capture",
        "('options',)",
        Timing::At(1_590_969_600), // 2020-06-01T00:00:00Z
    );
    s.origin = "default";
    (s.timeout, s.result_ttl, s.ttl) = (Some(30), Some(600), Some(300));
    s.description = Some("declared with every option ✓");
    let meta = r"{'blob': b'\x01\x02', 'n': 5, 'nested': {'deep': (1, None)}, 'owner': 'ops', 'ratio': 0.25, 'tags': ['a', 'b'], 'team': 'data'}";
    (s.user_meta, s.meta) = (meta, meta);
    specs.push(s.captured());

    let mut s = Spec::new(
        "once-add",
        "rqs_interop_jobs.add",
        "(20, 22)",
        Timing::At(1_577_836_800), // 2020-01-01T00:00:00Z
    );
    s.origin = "default";
    s.result = Some("42".into());
    specs.push(s);

    let mut s = Spec::new(
        "once-fails",
        "rqs_interop_jobs.fail",
        "('boom',)",
        Timing::At(past),
    );
    s.status = "failed";
    specs.push(s);

    let mut s = Spec::new(
        "far-future",
        "rqs_interop_jobs.echo",
        "('later',)",
        Timing::At(4_070_908_800), // 2099-01-01T00:00:00Z
    );
    s.result = Some("'later'".into());
    specs.push(s);

    let mut s = Spec::new(
        EVERY_SECOND,
        "rqs_interop_jobs.echo",
        "('tick',)",
        Timing::Interval(1),
    );
    s.repeat = Some(3);
    s.user_meta = "{'owner': 'ops', 'team': 'data'}";
    s.meta = "{'owner': 'ops', 'team': 'data', 'interval': 1, 'repeat': 3}";
    s.result = Some("'tick'".into());
    specs.push(s);

    let mut s = Spec::new(
        "hourly",
        "rqs_interop_jobs.echo",
        "('hourly',)",
        Timing::Interval(3600),
    );
    s.origin = "default";
    s.result_ttl = Some(3600);
    s.meta = "{'team': 'data', 'interval': 3600}";
    s.result = Some("'hourly'".into());
    specs.push(s);

    let mut s = Spec::new(
        "every-minute",
        "declare_jobs.capture",
        "('cron',)",
        Timing::Cron {
            expr: "* * * * *",
            local: false,
            matches: |_| true,
        },
    );
    s.kwargs = "{'n': 1}";
    s.meta = "{'team': 'data', 'cron_string': '* * * * *', 'use_local_timezone': False}";
    specs.push(s.captured());

    let mut s = Spec::new(
        "nightly",
        "rqs_interop_jobs.echo",
        "('nightly',)",
        Timing::Cron {
            expr: "30 2 * * *",
            local: true,
            matches: |t| (t.hour(), t.minute()) == (2, 30),
        },
    );
    s.origin = "default";
    s.repeat = Some(2);
    s.description = Some("nightly, local time");
    s.meta =
        "{'team': 'data', 'cron_string': '30 2 * * *', 'use_local_timezone': True, 'repeat': 2}";
    s.result = Some("'nightly'".into());
    specs.push(s);
    specs
}

/// `rqs apply FILE --set SET -u URL`, required to succeed; returns its output.
fn rqs_apply(url: &str, file: &Path) -> String {
    let mut cmd = Command::new(rqs_bin());
    cmd.arg("apply")
        .arg(file)
        .args(["--set", SET, "-u", url])
        .env("TZ", "UTC");
    // The caller's own Redis settings must not reach this rqs.
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RQ_REDIS_") {
            cmd.env_remove(var);
        }
    }
    let out = cmd.output().expect("cannot run rqs apply");
    assert!(out.status.success(), "rqs apply:\n{}", output_text(&out));
    String::from_utf8(out.stdout).expect("rqs apply prints UTF-8")
}

/// Every key of a database: its type, its content (hash fields and set members sorted:
/// DUMP is no use, a large hash's order changes as Redis rehashes it on reads) and
/// whether it expires.
async fn snapshot(conn: &ConnectionManager) -> BTreeMap<Vec<u8>, (String, Vec<Vec<u8>>, bool)> {
    let keys: Vec<Vec<u8>> = q(conn, redis::cmd("KEYS").arg("*")).await;
    let mut out = BTreeMap::new();
    for key in keys {
        let kind: String = q(conn, redis::cmd("TYPE").arg(&key)).await;
        let mut cmd = match kind.as_str() {
            "hash" => redis::cmd("HGETALL"),
            "zset" => redis::cmd("ZRANGE"),
            "list" => redis::cmd("LRANGE"),
            "set" => redis::cmd("SMEMBERS"),
            _ => redis::cmd("DUMP"),
        };
        cmd.arg(&key);
        if kind == "zset" {
            cmd.arg(0).arg(-1).arg("WITHSCORES");
        } else if kind == "list" {
            cmd.arg(0).arg(-1);
        }
        let mut content: Vec<Vec<u8>> = match kind.as_str() {
            "hash" => {
                let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = q(conn, &mut cmd).await;
                pairs.sort();
                pairs.into_iter().flat_map(|(k, v)| [k, v]).collect()
            }
            "zset" | "list" | "set" => q(conn, &mut cmd).await,
            _ => vec![q(conn, &mut cmd).await],
        };
        if kind == "set" {
            content.sort();
        }
        let pttl: i64 = q(conn, redis::cmd("PTTL").arg(&key)).await;
        out.insert(key, (kind, content, pttl >= 0));
    }
    out
}

/// Writes since the server started, whatever they changed (Redis counts an HSET of the
/// same value too).
async fn changes(conn: &ConnectionManager) -> u64 {
    let info: String = q(conn, redis::cmd("INFO").arg("persistence")).await;
    info.lines()
        .find_map(|l| l.strip_prefix("rdb_changes_since_last_save:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("INFO persistence has rdb_changes_since_last_save")
}

pub(crate) async fn run(stack: Stack) {
    let env = tokio::task::spawn_blocking(move || python::ensure(stack))
        .await
        .unwrap();
    // Cron jobs are re-armed minute by minute: a run that crossed a minute boundary
    // (a very slow machine) proves nothing and is repeated on a fresh server.
    for attempt in 1..=3 {
        if attempt_once(&env, stack).await {
            return;
        }
        eprintln!("{stack:?}/declare: attempt {attempt} crossed a minute boundary; again");
    }
    panic!("{stack:?}/declare: three attempts in a row crossed a minute boundary");
}

async fn attempt_once(env: &PythonEnv, stack: Stack) -> bool {
    let server = RedisServer::start();
    let (rqs_url, py_url) = (server.url_db(RQS_DB), server.url_db(PYTHON_DB));
    let conn = server.connection_db(RQS_DB).await;
    let file = tempfile::Builder::new()
        .prefix("schedule-")
        .suffix(".toml")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), FILE).unwrap();
    let name = file.path().display().to_string();
    let specs = specs();
    let n = specs.len();

    // 1. rqs apply: rq-scheduler's keys, and the set's record.
    let before = Utc::now().timestamp();
    let out = rqs_apply(&rqs_url, file.path());
    let after = Utc::now().timestamp();
    let summary = |added: usize, unchanged: usize| {
        format!(
            "Applied for set \"{SET}\" from {name}: {added} added, 0 changed, 0 adopted, \
             0 removed, {unchanged} unchanged"
        )
    };
    assert_eq!(out.lines().last(), Some(summary(n, 0).as_str()), "{out}");
    let keys: Vec<String> = q(&conn, redis::cmd("KEYS").arg("*")).await;
    let mut want: Vec<String> = specs.iter().map(|s| format!("rq:job:{}", s.id)).collect();
    want.extend([
        "rq:scheduler:scheduled_jobs".to_owned(),
        format!("rq:rqs:schedule-set:{SET}"),
        "rq:rqs:schedule-owners".to_owned(),
    ]);
    assert_eq!(sorted(keys), sorted(want), "the keys rqs apply wrote");
    let owners: BTreeMap<String, String> =
        q(&conn, redis::cmd("HGETALL").arg("rq:rqs:schedule-owners")).await;
    let ids: Vec<String> = specs.iter().map(|s| s.id.to_owned()).collect();
    assert_eq!(
        owners,
        ids.iter().map(|id| (id.clone(), SET.to_owned())).collect(),
        "every job is the set's"
    );
    let recorded: Vec<String> = q(
        &conn,
        redis::cmd("HKEYS").arg(format!("rq:rqs:schedule-set:{SET}")),
    )
    .await;
    assert_eq!(sorted(recorded), sorted(ids), "the set's record");

    // The same file again: nothing to do, and nothing written.
    let (keys_before, writes_before) = (snapshot(&conn).await, changes(&conn).await);
    let again = rqs_apply(&rqs_url, file.path());
    assert_eq!(again, format!("{}\n", summary(0, n)), "a second apply");
    assert_eq!(changes(&conn).await, writes_before, "a second apply wrote");
    let keys_after = snapshot(&conn).await;
    let changed: Vec<String> = keys_before
        .keys()
        .chain(keys_after.keys())
        .filter(|k| keys_before.get(*k) != keys_after.get(*k))
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .collect();
    assert!(changed.is_empty(), "a second apply changed {changed:?}");

    // 2. The Python client's view, and its own writes of the same jobs.
    let scores: Vec<(i64, i64)> = specs.iter().map(|s| s.scores(before, after)).collect();
    let expected = tempfile::NamedTempFile::new().unwrap();
    let path = expected.path().to_str().unwrap().to_owned();
    let write_expected = |due: &dyn Fn(&Spec) -> Option<bool>| {
        let jobs: serde_json::Map<String, Value> = specs
            .iter()
            .zip(&scores)
            .map(|(s, sc)| (s.id.to_owned(), s.json(*sc, due(s))))
            .collect();
        let text = json!({"queues": QUEUES, "jobs": jobs}).to_string();
        std::fs::write(expected.path(), text).unwrap();
    };
    write_expected(&|_| None);
    let reference = server.url_db(REFERENCE_DB);
    let view = run_python(
        env,
        "declare_check.py",
        &["view", &rqs_url, &reference, &path],
    );
    eprintln!(
        "{stack:?}/declare: {}",
        String::from_utf8_lossy(&view.stdout).trim()
    );

    // 3. Both daemons, one copy each, at the same moment, once the interval job is due.
    let every_second = scores[specs.iter().position(|s| s.id == EVERY_SECOND).unwrap()].1;
    while Utc::now().timestamp() <= every_second {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let found: Vec<(String, f64)> = q(
        &conn,
        redis::cmd("ZRANGE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES"),
    )
    .await;
    let found: BTreeMap<String, f64> = found.into_iter().collect();
    copy_db(&server, RQS_DB, PYTHON_DB).await;
    let Some(TwinRun { since, slack, .. }) = both_daemons(env, &rqs_url, &py_url).await else {
        return false;
    };
    // Due when its time had come as the daemons started (whole seconds, both): the
    // one-offs are years off that second, the interval job was waited for, and a cron
    // time is on a minute, which the daemons never start within 15 s of.
    write_expected(&|s| Some(found[s.id] <= since as f64));
    let dump = |url: &str| -> Value {
        let out = run_python(env, "scenario.py", &["dump", url, &since.to_string()]);
        serde_json::from_slice(&out.stdout).expect("dump is JSON")
    };
    let differences = compare(&dump(&rqs_url)["keys"], &dump(&py_url)["keys"], slack);
    assert!(
        differences.is_empty(),
        "{stack:?}/declare: rqs and rqscheduler disagree on {} point(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
    for (who, url) in [("rqs", &rqs_url), ("rqscheduler", &py_url)] {
        let out = run_python(env, "declare_check.py", &["moved", url, &path]);
        eprintln!(
            "{stack:?}/declare/{who}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }

    // 4. The worker runs what each daemon enqueued.
    for (who, url) in [("rqs", &rqs_url), ("rqscheduler", &py_url)] {
        rq_worker(env, url, &QUEUES, who);
        let out = run_python(env, "declare_check.py", &["verify", url, &path]);
        eprintln!(
            "{stack:?}/declare/{who}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    true
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

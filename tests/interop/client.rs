//! Jobs written by the Rust client (`rqs-client`) and by `rqs schedule`, checked against
//! the real Python packages:
//!
//! 1. rq_scheduler's client sees them as written (`count`, `get_jobs` with times and
//!    pages, `in`, `Job.fetch`: function, args, kwargs, meta, options, RQ's call string);
//! 2. the database is copied; `rqs --burst` moves one copy and Python's
//!    `rqscheduler --burst` the other, and the two copies must then be equal key by key
//!    (a cancel and two reschedules made by the Rust client included), with every job
//!    pushed, kept or re-armed as expected;
//! 3. `rq worker --burst` runs both copies: every job ends with the expected status and
//!    result (positional args, kwargs, nested values, big ints, bytes, tuples) and the
//!    callbacks run.

use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rqs_client::{Client, ClientOptions, CronOptions, Job, Periodic, PyInt, PyValue, RqFormat};
use rqs_testkit::RedisServer;
use rqs_testkit::python::{self, PythonEnv, Stack};
use serde_json::{Value, json};

use crate::support::{q, rqs_bin};
use crate::twin::{TwinRun, both_daemons, compare, copy_db, output_text, rq_worker, run_python};

const RQS_DB: u8 = 3;
const PYTHON_DB: u8 = 4;
const QUEUES: [&str; 2] = ["default", "reports"];

fn past() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2020, 1, 1, 12, 0, 0).unwrap()
}

fn future() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap()
}

/// A value as client_check.py rebuilds it: tagged, so bytes, tuples and big ints survive
/// JSON.
fn typed(v: &PyValue) -> Value {
    let items = |items: &[PyValue]| Value::Array(items.iter().map(typed).collect());
    match v {
        PyValue::None => json!({"t": "none"}),
        PyValue::Bool(b) => json!({"t": "bool", "v": b}),
        PyValue::Int(i) => json!({"t": "int", "v": i.to_string()}),
        PyValue::Float(f) => json!({"t": "float", "v": format!("{:016x}", f.to_bits())}),
        PyValue::Str(s) => json!({"t": "str", "v": s}),
        PyValue::Bytes(b) => {
            json!({"t": "bytes", "v": b.iter().map(|x| format!("{x:02x}")).collect::<String>()})
        }
        PyValue::List(l) => json!({"t": "list", "v": items(l)}),
        PyValue::Tuple(t) => json!({"t": "tuple", "v": items(t)}),
        PyValue::Dict(d) => {
            json!({"t": "dict", "v": d.iter().map(|(k, v)| json!([typed(k), typed(v)])).collect::<Vec<_>>()})
        }
        other => panic!("not generated: {other:?}"),
    }
}

fn big(text: &str) -> PyValue {
    PyValue::Int(text.parse::<PyInt>().unwrap())
}

/// What one job must look like to Python, and what must become of it.
struct Spec {
    id: &'static str,
    func: &'static str,
    args: Vec<PyValue>,
    kwargs: Vec<(&'static str, PyValue)>,
    meta: Option<PyValue>,
    origin: &'static str,
    description: Option<&'static str>,
    timeout: Option<i64>,
    result_ttl: Option<i64>,
    ttl: Option<i64>,
    at_front: bool,
    on_success: Option<&'static str>,
    on_failure: Option<&'static str>,
    depends_on: Vec<&'static str>,
    /// Score once written (`None`: cancelled).
    score: Option<i64>,
    /// Pushed by a daemon's burst.
    queued: bool,
    /// Still (or again) in the schedule after the burst.
    scheduled_after: bool,
    /// After the worker: `finished` / `failed`, or `None` when it does not run.
    status: Option<&'static str>,
    /// Written in rq-scheduler 0.13's format (no `status`, no `group_id`).
    rq1_format: bool,
    result: Option<PyValue>,
}

impl Spec {
    /// A job due in the past, run once with the default options.
    fn due(id: &'static str, func: &'static str, args: Vec<PyValue>) -> Self {
        Spec {
            id,
            func,
            args,
            kwargs: Vec::new(),
            meta: None,
            origin: "default",
            description: None,
            timeout: None,
            result_ttl: None,
            ttl: None,
            at_front: false,
            on_success: None,
            on_failure: None,
            depends_on: Vec::new(),
            score: Some(past().timestamp()),
            queued: true,
            scheduled_after: false,
            status: Some("finished"),
            rq1_format: false,
            result: None,
        }
    }

    /// `capture(*args, **kwargs)` returns `(args, kwargs)`.
    fn captured(mut self) -> Self {
        let kwargs = PyValue::Dict(
            self.kwargs
                .iter()
                .map(|(k, v)| (PyValue::from(*k), v.clone()))
                .collect(),
        );
        self.result = Some(PyValue::tuple([PyValue::Tuple(self.args.clone()), kwargs]));
        self
    }

    fn json(&self) -> Value {
        json!({
            "func": self.func,
            "args": self.args.iter().map(typed).collect::<Vec<_>>(),
            "kwargs": self.kwargs.iter().map(|(k, v)| json!([k, typed(v)])).collect::<Vec<_>>(),
            "meta": self.meta.as_ref().map(typed),
            "origin": self.origin,
            "description": self.description,
            "timeout": self.timeout,
            "result_ttl": self.result_ttl,
            "ttl": self.ttl,
            "at_front": self.at_front,
            "on_success": self.on_success,
            "on_failure": self.on_failure,
            "depends_on": self.depends_on,
            "score": self.score,
            "queued": self.queued,
            "scheduled_after": self.scheduled_after,
            "status": self.status,
            "status_field": if self.rq1_format { None } else { Some("scheduled") },
            "result": self.result.as_ref().map(typed),
        })
    }

    /// The Rust client's job for this spec (function, arguments, options).
    fn job(&self) -> Job {
        let mut job = Job::new(self.func)
            .args(self.args.iter().cloned())
            .id(self.id)
            .queue(self.origin)
            .at_front(self.at_front);
        for (k, v) in &self.kwargs {
            job = job.kwarg(*k, v.clone());
        }
        if let Some(PyValue::Dict(pairs)) = &self.meta {
            for (k, v) in pairs {
                let PyValue::Str(key) = k else {
                    panic!("str meta keys")
                };
                // The scheduler's own keys are the client's to add.
                if !["interval", "repeat", "cron_string", "use_local_timezone"]
                    .contains(&key.as_str())
                {
                    job = job.meta(key.as_str(), v.clone());
                }
            }
        }
        if let Some(d) = self.description {
            job = job.description(d);
        }
        if let Some(t) = self.timeout {
            job = job.timeout(t);
        }
        // -1 is what interval and cron jobs get by default.
        if let Some(t) = self.result_ttl.filter(|t| *t != -1) {
            job = job.result_ttl(t);
        }
        if let Some(t) = self.ttl {
            job = job.ttl(t);
        }
        if let Some(f) = self.on_success {
            job = job.on_success(f);
        }
        if let Some(f) = self.on_failure {
            job = job.on_failure(f);
        }
        for dep in &self.depends_on {
            job = job.depends_on(*dep);
        }
        job
    }
}

fn meta(pairs: Vec<(&str, PyValue)>) -> Option<PyValue> {
    Some(PyValue::Dict(
        pairs
            .into_iter()
            .map(|(k, v)| (PyValue::from(k), v))
            .collect(),
    ))
}

/// `rqs schedule ARGS -u URL`; returns the printed id.
fn rqs_schedule(url: &str, args: &[&str]) -> String {
    let out = Command::new(rqs_bin())
        .arg("schedule")
        .args(args)
        .args(["-u", url])
        .env("TZ", "UTC")
        .env_remove("RQ_REDIS_URL")
        .output()
        .expect("cannot run rqs schedule");
    assert!(
        out.status.success(),
        "rqs schedule {args:?}:\n{}",
        output_text(&out)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Writes every job, through the Rust client and through `rqs schedule`; returns their
/// specs.
async fn populate(url: &str, format: RqFormat) -> Vec<Spec> {
    let now = Utc::now();
    let conn = rqs_redis::connect(url, &rqs_redis::ConnectOptions::default())
        .await
        .expect("connect");
    let client = Client::with_options(
        rqs_redis::RedisJobStore::new(conn),
        ClientOptions::default().format(format),
    )
    .with_clock(move || now);
    let mut specs = Vec::new();
    let ok = |r: rqs_client::Result<rqs_client::JobId>, id: &str| {
        assert_eq!(r.unwrap_or_else(|e| panic!("{id}: {e}")), id);
    };

    // Every kind of value, positional and by keyword.
    let mut s = Spec::due(
        "r-args",
        "client_jobs.capture",
        vec![
            PyValue::from(1),
            PyValue::from(-2),
            PyValue::from(2.5),
            PyValue::from(-0.0),
            PyValue::from("text"),
            PyValue::from(""),
            PyValue::from("é✓😀 'quoted' \"twice\""),
            PyValue::None,
            PyValue::from(true),
            PyValue::from(false),
            big("1267650600228229401496703205376"),
            big("-1180591620717411303424"),
            PyValue::from(u64::MAX),
            PyValue::bytes(b"\x00\xff'\"".to_vec()),
            PyValue::bytes(Vec::new()),
            PyValue::tuple([
                PyValue::from(1),
                PyValue::from("x"),
                PyValue::tuple([PyValue::None]),
            ]),
            PyValue::list([
                PyValue::from(1),
                PyValue::list([PyValue::from(2), PyValue::list([3])]),
                PyValue::dict([("k", PyValue::tuple([4, 5]))]),
            ]),
            PyValue::dict([
                (PyValue::from("a"), PyValue::from(1)),
                (PyValue::from(2), PyValue::from("b")),
                (PyValue::tuple([1, 2]), PyValue::bytes(b"t".to_vec())),
            ]),
        ],
    );
    s.kwargs = vec![
        ("k", PyValue::from("v")),
        ("big", big("1208925819614629174706176")),
        ("raw", PyValue::bytes(b"\x01\x02\x03".to_vec())),
        (
            "nested",
            PyValue::dict([("x", PyValue::list([PyValue::tuple::<[i32; 0], i32>([])]))]),
        ),
    ];
    let s = s.captured();
    ok(client.enqueue_at(past(), &s.job()).await, s.id);
    specs.push(s);

    let mut s = Spec::due("r-in", "client_jobs.add", vec![2.into(), 3.into()]);
    s.score = Some(now.timestamp() - 30);
    s.result = Some(5.into());
    ok(
        client.enqueue_in(TimeDelta::seconds(-30), &s.job()).await,
        s.id,
    );
    specs.push(s);

    let mut s = Spec::due("r-options", "client_jobs.capture", vec!["o".into()]);
    s.origin = "reports";
    s.timeout = Some(30);
    s.result_ttl = Some(100);
    s.ttl = Some(600);
    s.description = Some("custom text");
    s.meta = meta(vec![
        ("owner", "alice".into()),
        ("tags", PyValue::list(["a", "b"])),
        ("blob", PyValue::bytes(b"\x01\x02".to_vec())),
        ("big", big("1180591620717411303424")),
    ]);
    s.at_front = true;
    s.on_success = Some("client_jobs.record_success");
    let s = s.captured();
    ok(client.enqueue_at(past(), &s.job()).await, s.id);
    specs.push(s);

    let mut s = Spec::due("r-failure", "client_jobs.fail", vec!["boom".into()]);
    s.on_failure = Some("client_jobs.record_failure");
    s.status = Some("failed");
    ok(client.enqueue_at(past(), &s.job()).await, s.id);
    specs.push(s);

    let mut s = Spec::due("r-interval", "client_jobs.capture", vec!["i".into()]);
    s.meta = meta(vec![("interval", 600.into())]);
    s.result_ttl = Some(-1);
    s.scheduled_after = true;
    let s = s.captured();
    ok(
        client
            .schedule(past(), &s.job(), Periodic::every(Duration::from_secs(600)))
            .await,
        s.id,
    );
    specs.push(s);

    let mut s = Spec::due("r-repeat", "client_jobs.add", vec![2.into(), 2.into()]);
    s.meta = meta(vec![("interval", 60.into()), ("repeat", 3.into())]);
    s.result_ttl = Some(-1);
    s.scheduled_after = true;
    s.result = Some(4.into());
    ok(
        client
            .schedule(
                past(),
                &s.job(),
                Periodic::every(Duration::from_secs(60)).repeat(3),
            )
            .await,
        s.id,
    );
    specs.push(s);

    let mut s = Spec::due("r-last", "client_jobs.add", vec![3.into(), 3.into()]);
    s.meta = meta(vec![("interval", 60.into()), ("repeat", 1.into())]);
    s.result_ttl = Some(-1);
    s.result = Some(6.into());
    ok(
        client
            .schedule(
                past(),
                &s.job(),
                Periodic::every(Duration::from_secs(60)).repeat(1),
            )
            .await,
        s.id,
    );
    specs.push(s);

    for (id, expr, local, repeat) in [
        ("r-cron", "*/5 * * * *", false, Some(2)),
        ("r-cron-local", "*/10 * * * *", true, None),
    ] {
        let mut s = Spec::due(id, "client_jobs.capture", vec![id.into()]);
        let mut pairs = vec![
            ("cron_string", PyValue::from(expr)),
            ("use_local_timezone", local.into()),
        ];
        let mut options = CronOptions::new().use_local_timezone(local);
        if let Some(n) = repeat {
            pairs.push(("repeat", n.into()));
            options = options.repeat(n);
        }
        s.meta = meta(pairs);
        s.result_ttl = Some(-1);
        s.scheduled_after = true;
        let s = s.captured();
        ok(client.cron(expr, &s.job(), options).await, s.id);
        // Made due now, as a cron job is at its time.
        client
            .change_execution_time(&id.into(), past())
            .await
            .unwrap();
        specs.push(s);
    }

    // A dependency that has finished (marked so after the client check), and a job
    // waiting for it.
    let mut s = Spec::due("dep-done", "client_jobs.capture", vec!["dep".into()]);
    (s.score, s.queued, s.status) = (None, false, None);
    ok(client.enqueue_at(future(), &s.job()).await, s.id);
    assert!(client.cancel(&"dep-done".into()).await.unwrap());
    specs.push(s);
    let mut s = Spec::due("r-dep", "client_jobs.add", vec![4.into(), 4.into()]);
    s.depends_on = vec!["dep-done"];
    s.result = Some(8.into());
    ok(client.enqueue_at(past(), &s.job()).await, s.id);
    specs.push(s);

    // Cancelled and rescheduled by the Rust client before the daemons run.
    let mut s = Spec::due("r-cancelled", "client_jobs.add", vec![0.into(), 1.into()]);
    (s.score, s.queued, s.status) = (None, false, None);
    ok(client.enqueue_at(past(), &s.job()).await, s.id);
    assert!(client.cancel(&"r-cancelled".into()).await.unwrap());
    specs.push(s);
    let mut s = Spec::due("r-later", "client_jobs.add", vec![1.into(), 1.into()]);
    (s.score, s.queued, s.scheduled_after, s.status) =
        (Some(future().timestamp()), false, true, None);
    ok(client.enqueue_at(past(), &s.job()).await, s.id);
    client
        .change_execution_time(&"r-later".into(), future())
        .await
        .unwrap();
    specs.push(s);
    let mut s = Spec::due("r-sooner", "client_jobs.add", vec![5.into(), 5.into()]);
    s.result = Some(10.into());
    ok(client.enqueue_at(future(), &s.job()).await, s.id);
    client
        .change_execution_time(&"r-sooner".into(), past())
        .await
        .unwrap();
    specs.push(s);
    let mut s = Spec::due("r-future", "client_jobs.add", vec![6.into(), 6.into()]);
    (s.score, s.queued, s.scheduled_after, s.status) =
        (Some(future().timestamp()), false, true, None);
    ok(client.enqueue_at(future(), &s.job()).await, s.id);
    specs.push(s);

    for spec in &mut specs {
        spec.rq1_format = format == RqFormat::Rq1;
    }

    // The same through `rqs schedule`, which writes the default format whatever the
    // stack: rq 1.16 must read it too.
    {
        let at = "2020-01-01T12:00:00Z";
        let mut s = Spec::due(
            "c-args",
            "client_jobs.capture",
            vec![
                1.into(),
                (-2).into(),
                2.5.into(),
                "word".into(),
                "quoted".into(),
                PyValue::None,
                true.into(),
                PyValue::list([PyValue::from(1), PyValue::dict([("a", PyValue::None)])]),
                PyValue::bytes(vec![0x00, 0xff]),
                PyValue::tuple([PyValue::from(1), PyValue::from("x")]),
                big("123456789012345678901234567890"),
            ],
        );
        s.kwargs = vec![
            ("k", "v".into()),
            ("big", big("-98765432109876543210")),
            ("raw", PyValue::bytes(Vec::new())),
        ];
        let s = s.captured();
        let id = rqs_schedule(
            url,
            &[
                "client_jobs.capture",
                "1",
                "-2",
                "2.5",
                "word",
                "\"quoted\"",
                "null",
                "true",
                r#"[1, {"a": null}]"#,
                r#"{"$bytes": "00ff"}"#,
                r#"{"$tuple": [1, "x"]}"#,
                "123456789012345678901234567890",
                "--kwarg",
                "k=\"v\"",
                "--kwarg",
                "big=-98765432109876543210",
                "--kwarg",
                r#"raw={"$bytes": ""}"#,
                "--at",
                at,
                "--id",
                "c-args",
            ],
        );
        assert_eq!(id, s.id);
        specs.push(s);

        let mut s = Spec::due("c-interval", "client_jobs.add", vec![7.into(), 8.into()]);
        s.meta = meta(vec![("interval", 600.into())]);
        s.result_ttl = Some(-1);
        s.scheduled_after = true;
        s.at_front = true;
        s.result = Some(15.into());
        let id = rqs_schedule(
            url,
            &[
                "client_jobs.add",
                "7",
                "8",
                "--at",
                at,
                "--interval",
                "600",
                "--at-front",
                "--id",
                "c-interval",
            ],
        );
        assert_eq!(id, s.id);
        specs.push(s);

        let mut s = Spec::due("c-cron", "client_jobs.capture", vec!["cron".into()]);
        s.meta = meta(vec![
            ("cron_string", "*/10 * * * *".into()),
            ("use_local_timezone", false.into()),
            ("repeat", 3.into()),
        ]);
        s.result_ttl = Some(-1);
        s.scheduled_after = true;
        let s = s.captured();
        let id = rqs_schedule(
            url,
            &[
                "client_jobs.capture",
                "cron",
                "--cron",
                "*/10 * * * *",
                "--repeat",
                "3",
                "--id",
                "c-cron",
            ],
        );
        assert_eq!(id, s.id);
        client
            .change_execution_time(&"c-cron".into(), past())
            .await
            .unwrap();
        specs.push(s);

        let mut s = Spec::due("c-options", "client_jobs.capture", vec!["opts".into()]);
        s.origin = "reports";
        s.timeout = Some(60);
        s.result_ttl = Some(100);
        s.ttl = Some(600);
        s.description = Some("from the shell");
        s.meta = meta(vec![("owner", "cli".into()), ("n", 5.into())]);
        s.depends_on = vec!["dep-done"];
        s.on_failure = Some("client_jobs.record_failure");
        let s = s.captured();
        let id = rqs_schedule(
            url,
            &[
                "client_jobs.capture",
                "opts",
                "--at",
                at,
                "--queue",
                "reports",
                "--timeout",
                "1m",
                "--result-ttl",
                "100",
                "--ttl",
                "600",
                "--description",
                "from the shell",
                "--meta",
                "owner=\"cli\"",
                "--meta",
                "n=5",
                "--depends-on",
                "dep-done",
                "--on-failure",
                "client_jobs.record_failure",
                "--id",
                "c-options",
            ],
        );
        assert_eq!(id, s.id);
        specs.push(s);
    }
    specs
}

fn expected_json(specs: &[Spec], now: i64) -> Value {
    let jobs: serde_json::Map<String, Value> =
        specs.iter().map(|s| (s.id.to_owned(), s.json())).collect();
    let mut callbacks = Vec::new();
    for s in specs {
        match (s.status, s.on_success, s.on_failure) {
            (Some("finished"), Some(_), _) => callbacks.push(format!("success:{}", s.id)),
            (Some("failed"), _, Some(_)) => callbacks.push(format!("failure:{}", s.id)),
            _ => {}
        }
    }
    json!({
        "now": now,
        "jobs": jobs,
        "queues": QUEUES,
        "callbacks": callbacks,
    })
}

pub(crate) async fn run(stack: Stack, format: RqFormat) {
    let env = tokio::task::spawn_blocking(move || python::ensure(stack))
        .await
        .unwrap();
    // Cron jobs are re-armed minute by minute: a run that crossed a minute boundary
    // (a very slow machine) proves nothing and is repeated on a fresh server.
    for attempt in 1..=3 {
        if attempt_once(&env, stack, format).await {
            return;
        }
        eprintln!("{stack:?}/client: attempt {attempt} crossed a minute boundary; again");
    }
    panic!("{stack:?}/client: three attempts in a row crossed a minute boundary");
}

async fn attempt_once(env: &PythonEnv, stack: Stack, format: RqFormat) -> bool {
    let server = RedisServer::start();
    let (rqs_url, py_url) = (server.url_db(RQS_DB), server.url_db(PYTHON_DB));
    let specs = populate(&rqs_url, format).await;
    let expected = tempfile::NamedTempFile::new().unwrap();
    let text = expected_json(&specs, Utc::now().timestamp()).to_string();
    std::fs::write(expected.path(), text).unwrap();
    let path = expected.path().to_str().unwrap().to_owned();

    // 1. The Python client's view.
    let view = run_python(env, "client_check.py", &["view", &rqs_url, &path]);
    eprintln!(
        "{stack:?}/client: {}",
        String::from_utf8_lossy(&view.stdout).trim()
    );

    // The dependency has run meanwhile.
    let conn = server.connection_db(RQS_DB).await;
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:job:dep-done")
            .arg("status")
            .arg("finished"),
    )
    .await;

    // 2. Both daemons, one copy each, at the same moment.
    copy_db(&server, RQS_DB, PYTHON_DB).await;
    let Some(TwinRun { since, slack, .. }) = both_daemons(env, &rqs_url, &py_url).await else {
        return false;
    };
    let dump = |url: &str| -> Value {
        let out = run_python(env, "scenario.py", &["dump", url, &since.to_string()]);
        serde_json::from_slice(&out.stdout).expect("dump is JSON")
    };
    let differences = compare(&dump(&rqs_url)["keys"], &dump(&py_url)["keys"], slack);
    assert!(
        differences.is_empty(),
        "{stack:?}/client: rqs and rqscheduler disagree on {} point(s):\n{}",
        differences.len(),
        differences.join("\n")
    );
    for (who, url) in [("rqs", &rqs_url), ("rqscheduler", &py_url)] {
        let out = run_python(env, "client_check.py", &["moved", url, &path]);
        eprintln!(
            "{stack:?}/client/{who}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }

    // 3. The worker runs what each daemon enqueued.
    for (who, url) in [("rqs", &rqs_url), ("rqscheduler", &py_url)] {
        rq_worker(env, url, &QUEUES, who);
        let out = run_python(env, "client_check.py", &["verify", url, &path]);
        eprintln!(
            "{stack:?}/client/{who}: {}",
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    true
}

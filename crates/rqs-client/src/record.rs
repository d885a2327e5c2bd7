//! The job hash, built as rq-scheduler's `_create_job` and RQ's `Job.create` + `to_dict`
//! build it. Pure functions of the job, the schedule kind and the time.

use std::io::Write as _;

use chrono::{DateTime, Utc};
use rqs_core::{JobHash, JobId, time};
use rqs_pickle::{PyValue, dumps};

use crate::error::Invalid;
use crate::job::{Job, ResultTtl, assign};

/// Which RQ / rq-scheduler generation the written job hash follows.
///
/// The two differ only in two fields; every RQ worker tested (1.16, 2.12, 3.0) reads both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum RqFormat {
    /// What rq-scheduler 0.14 writes with rq 2.x and 3.x (the two write the same fields):
    /// `status=scheduled` and an empty `group_id`. The default.
    #[default]
    Rq2,
    /// What rq-scheduler 0.13 writes with rq 1.x: no `status`, no `group_id`.
    Rq1,
}

/// How a job repeats.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// `enqueue_at` / `enqueue_in`.
    Once,
    /// `schedule(interval=…, repeat=…)`; both optional.
    Periodic {
        interval: Option<i64>,
        repeat: Option<i64>,
    },
    /// `cron(cron_string, repeat=…, use_local_timezone=…)`.
    Cron {
        expr: String,
        local: bool,
        repeat: Option<i64>,
    },
}

/// Python's `str.isidentifier()` for the characters RQ's import of a path can meet.
fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Checks a function path the way RQ's worker resolves it (`import_attribute`): dotted
/// identifiers, the last naming the function; a single name is a builtin.
pub(crate) fn check_function_path(path: &str) -> Result<(), Invalid> {
    let bad = |reason| {
        Err(Invalid::FunctionPath {
            path: path.to_owned(),
            reason,
        })
    };
    if path.is_empty() {
        return bad("it is empty");
    }
    if path.trim() != path {
        return bad("it has surrounding spaces");
    }
    if path.split('.').any(str::is_empty) {
        return bad("it has an empty part (a leading, trailing or doubled dot)");
    }
    if !path.split('.').all(is_identifier) {
        return bad("each dot-separated part must be a Python identifier");
    }
    Ok(())
}

/// RQ's `JOB_ID_PATTERN` (`[A-Za-z0-9_-]+`), enforced since rq 2.8.
pub(crate) fn check_job_id(id: &JobId) -> Result<(), Invalid> {
    let ok = !id.is_empty()
        && id
            .as_bytes()
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Invalid::JobId { id: id.to_string() })
    }
}

/// The schedule score of `at`: whole Unix seconds, rounded down (rq-scheduler's
/// `to_unix`).
pub(crate) fn score(at: DateTime<Utc>) -> Result<f64, Invalid> {
    let seconds = time::floor_seconds(at);
    if seconds < 0 {
        return Err(Invalid::BeforeEpoch(at));
    }
    Ok(seconds as f64)
}

/// RQ's `truncate_long_string(repr(value), 75)`: 75 characters and `...`.
fn short_repr(value: &PyValue) -> String {
    let repr = value.repr();
    match repr.char_indices().nth(75) {
        Some((cut, _)) => format!("{}...", &repr[..cut]),
        None => repr,
    }
}

/// RQ's `get_call_string(func_name, args, kwargs, max_length=75)`, the default
/// description: `module.func(1, 'two', k='v')` with the keyword arguments sorted.
pub fn call_string(func: &str, args: &[PyValue], kwargs: &[(String, PyValue)]) -> String {
    let mut parts: Vec<String> = args.iter().map(short_repr).collect();
    let mut named: Vec<String> = kwargs
        .iter()
        .map(|(k, v)| format!("{k}={}", short_repr(v)))
        .collect();
    named.sort();
    parts.extend(named);
    format!("{func}({})", parts.join(", "))
}

/// RQ's job `data`: `zlib.compress(pickle.dumps((func_name, None, args, kwargs), 5))`,
/// the pickle byte for byte RQ's `Job.data` (args as a tuple, as `enqueue_at` passes
/// them).
///
/// # Errors
/// [`Invalid::Value`] when the arguments cannot be pickled.
pub fn job_data(
    func: &str,
    args: &[PyValue],
    kwargs: &[(String, PyValue)],
) -> Result<Vec<u8>, Invalid> {
    // Each part alone first, so an error names the part at fault.
    let args = PyValue::Tuple(args.to_vec());
    let kwargs = PyValue::Dict(
        kwargs
            .iter()
            .map(|(k, v)| (PyValue::Str(k.clone()), v.clone()))
            .collect(),
    );
    for (what, value) in [("args", &args), ("kwargs", &kwargs)] {
        dumps(value).map_err(|source| Invalid::Value { what, source })?;
    }
    let call = PyValue::Tuple(vec![PyValue::from(func), PyValue::None, args, kwargs]);
    let pickle = dumps(&call).map_err(|source| Invalid::Value {
        what: "args",
        source,
    })?;
    Ok(zlib(&pickle))
}

/// `zlib.compress(data)` at Python's default level (6), with zlib itself, so the bytes are
/// Python's. (Another deflate encoder would do for RQ, but Python's `rqscheduler`
/// re-compresses `data` at every hand-off, so the field would change under it.)
fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(data.len() / 2 + 16),
        flate2::Compression::new(6),
    );
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// The JSON list RQ stores in `dependency_ids` (`json.dumps(ids)`); the ids are checked
/// ASCII, so no escaping is needed.
fn json_ids(ids: &[JobId]) -> String {
    let quoted: Vec<String> = ids
        .iter()
        .map(|id| format!("\"{}\"", String::from_utf8_lossy(id.as_bytes())))
        .collect();
    format!("[{}]", quoted.join(", "))
}

/// The id and hash of a new job; nothing here talks to the store.
pub(crate) fn build(
    job: &Job,
    kind: &Kind,
    now: DateTime<Utc>,
    default_queue: &str,
    format: RqFormat,
) -> Result<(JobId, JobHash), Invalid> {
    check_function_path(&job.func)?;
    for callback in job.on_success.iter().chain(&job.on_failure) {
        check_function_path(&callback.path)?;
        if callback.timeout < 1 {
            return Err(Invalid::CallbackTimeout(callback.timeout));
        }
    }
    let id = match &job.id {
        Some(id) => {
            check_job_id(id)?;
            id.clone()
        }
        None => JobId::from(uuid::Uuid::new_v4().to_string()),
    };
    for dep in &job.depends_on {
        check_job_id(dep)?;
    }
    if let Some(ttl) = job.ttl
        && !(1..=rqs_core::handoff::MAX_TTL as i64).contains(&ttl)
    {
        return Err(Invalid::Ttl(ttl));
    }

    let mut meta = job.meta.clone();
    let periodic = match kind {
        Kind::Once => false,
        Kind::Periodic { interval, repeat } => {
            if let Some(seconds) = interval {
                assign(&mut meta, "interval".into(), PyValue::from(*seconds));
            }
            if let Some(n) = repeat {
                assign(&mut meta, "repeat".into(), PyValue::from(*n));
            }
            if repeat.is_some_and(|n| n != 0) && interval.is_none() {
                return Err(Invalid::RepeatWithoutInterval(repeat.unwrap_or_default()));
            }
            interval.is_some()
        }
        Kind::Cron {
            expr,
            local,
            repeat,
        } => {
            assign(
                &mut meta,
                "cron_string".into(),
                PyValue::from(expr.as_str()),
            );
            assign(
                &mut meta,
                "use_local_timezone".into(),
                PyValue::Bool(*local),
            );
            if let Some(n) = repeat {
                assign(&mut meta, "repeat".into(), PyValue::from(*n));
            }
            true
        }
    };
    let meta_bytes = if meta.is_empty() {
        None
    } else {
        let dict = PyValue::Dict(
            meta.into_iter()
                .map(|(k, v)| (PyValue::Str(k), v))
                .collect(),
        );
        Some(dumps(&dict).map_err(|source| Invalid::Value {
            what: "meta",
            source,
        })?)
    };
    let data = job_data(&job.func, &job.args, &job.kwargs)?;

    let mut hash = JobHash::new();
    let mut set = |field: &str, value: Vec<u8>| hash.set(field, value);
    set("created_at", time::rq_timestamp(now).into_bytes());
    set("data", data);
    let callback_name = |c: &Option<crate::job::Callback>| {
        c.as_ref()
            .map(|c| c.path.clone())
            .unwrap_or_default()
            .into_bytes()
    };
    set("success_callback_name", callback_name(&job.on_success));
    set("failure_callback_name", callback_name(&job.on_failure));
    for empty in [
        "stopped_callback_name",
        "started_at",
        "ended_at",
        "last_heartbeat",
        "worker_name",
    ] {
        set(empty, Vec::new());
    }
    if format == RqFormat::Rq2 {
        set("group_id", Vec::new());
    }
    let origin = job
        .queue
        .as_deref()
        .filter(|q| !q.is_empty())
        .unwrap_or(default_queue);
    set("origin", origin.as_bytes().to_vec());
    let description = job
        .description
        .clone()
        .filter(|d| !d.is_empty())
        .unwrap_or_else(|| call_string(&job.func, &job.args, &job.kwargs));
    set("description", description.into_bytes());
    if let Some(t) = job.timeout {
        set("timeout", t.to_string().into_bytes());
    }
    if let Some(c) = &job.on_success {
        set(
            "success_callback_timeout",
            c.timeout.to_string().into_bytes(),
        );
    }
    if let Some(c) = &job.on_failure {
        set(
            "failure_callback_timeout",
            c.timeout.to_string().into_bytes(),
        );
    }
    let result_ttl = match job.result_ttl {
        ResultTtl::Seconds(s) => Some(s),
        ResultTtl::Default if periodic => Some(-1),
        ResultTtl::Default | ResultTtl::Worker => None,
    };
    if let Some(s) = result_ttl {
        set("result_ttl", s.to_string().into_bytes());
    }
    if format == RqFormat::Rq2 {
        set("status", b"scheduled".to_vec());
    }
    if let Some(first) = job.depends_on.first() {
        set("dependency_id", first.as_bytes().to_vec());
        set("dependency_ids", json_ids(&job.depends_on).into_bytes());
    }
    if let Some(meta) = meta_bytes {
        set("meta", meta);
    }
    if let Some(ttl) = job.ttl {
        set("ttl", ttl.to_string().into_bytes());
    }
    if job.at_front {
        set("enqueue_at_front", b"1".to_vec());
    }
    Ok((id, hash))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_804_534, 475_366_000).unwrap()
    }

    fn unzip(data: &[u8]) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(data)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    fn fields(hash: &JobHash) -> Vec<&str> {
        hash.iter().map(|(k, _)| k).collect()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// `enqueue_at(dt, 'drive.task_ok', 1, 'two', k='v')` from traces/01_client_api.txt.
    #[test]
    fn a_plain_job_has_the_fields_of_the_trace() {
        let job = Job::new("drive.task_ok").arg(1).arg("two").kwarg("k", "v");
        let (id, hash) = build(&job, &Kind::Once, now(), "default", RqFormat::Rq2).unwrap();
        assert_eq!(id.as_bytes().len(), 36, "a uuid4");
        let mut want = vec![
            "created_at",
            "data",
            "success_callback_name",
            "failure_callback_name",
            "stopped_callback_name",
            "started_at",
            "ended_at",
            "last_heartbeat",
            "worker_name",
            "group_id",
            "origin",
            "description",
            "status",
        ];
        want.sort_unstable();
        assert_eq!(fields(&hash), want);
        assert_eq!(
            hash.get_str("created_at"),
            Some("2026-11-27T18:35:34.475366Z")
        );
        assert_eq!(hash.get_str("origin"), Some("default"));
        assert_eq!(
            hash.get_str("description"),
            Some("drive.task_ok(1, 'two', k='v')")
        );
        assert_eq!(hash.get_str("status"), Some("scheduled"));
        assert_eq!(hash.get_str("success_callback_name"), Some(""));
        let data = hash.get("data").unwrap();
        // Byte for byte the `data` of the trace: zlib as CPython runs it.
        assert_eq!(
            hex(data),
            "789c6b609daac500011a3dbc29459965a97a2589c5d9f1f9d953fcbc197b984bcaf3a7b44da99dd2c3980dc465538a4ba6e8010097c511dc"
        );
        assert_eq!(
            hex(&unzip(data)),
            "8005952a00000000000000288c0d64726976652e7461736b5f6f6b944e4b018c0374776f9486947d948c016b948c0176947374942e"
        );
        assert_eq!(hash.meta(), None);
    }

    /// `enqueue_at` with every option, from the same trace (rq 2.12 and 3.0 alike).
    #[test]
    fn every_option_is_written_as_python_writes_it() {
        let job = Job::new("drive.task_ok")
            .queue("other")
            .id("at-options")
            .timeout(30)
            .ttl(600)
            .result_ttl(120)
            .description("custom description")
            .meta("owner", "alice")
            .meta("n", 1)
            .on_success("drive.on_ok")
            .on_failure("drive.on_fail")
            .depends_on("dep-a")
            .depends_on("dep-b")
            .at_front(true);
        let (id, hash) = build(&job, &Kind::Once, now(), "default", RqFormat::Rq2).unwrap();
        assert_eq!(id, "at-options");
        for (field, value) in [
            ("origin", "other"),
            ("description", "custom description"),
            ("timeout", "30"),
            ("ttl", "600"),
            ("result_ttl", "120"),
            ("success_callback_name", "drive.on_ok"),
            ("failure_callback_name", "drive.on_fail"),
            ("success_callback_timeout", "60"),
            ("failure_callback_timeout", "60"),
            ("dependency_id", "dep-a"),
            ("dependency_ids", r#"["dep-a", "dep-b"]"#),
            ("enqueue_at_front", "1"),
        ] {
            assert_eq!(hash.get_str(field), Some(value), "{field}");
        }
        assert_eq!(
            hash.meta().unwrap(),
            b"\x80\x05\x95\x1b\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x05owner\x94\x8c\x05alice\x94\x8c\x01n\x94K\x01u."
        );
    }

    #[test]
    fn periodic_and_cron_metas_match_the_trace() {
        // schedule(interval=30, repeat=3, meta={'owner': 'bob'}, ...)
        let job = Job::new("drive.task_ok").meta("owner", "bob");
        let kind = Kind::Periodic {
            interval: Some(30),
            repeat: Some(3),
        };
        let (_, hash) = build(&job, &kind, now(), "default", RqFormat::Rq2).unwrap();
        assert_eq!(
            hash.meta().unwrap(),
            b"\x80\x05\x95+\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x05owner\x94\x8c\x03bob\x94\x8c\x08interval\x94K\x1e\x8c\x06repeat\x94K\x03u."
        );
        assert_eq!(hash.get_str("result_ttl"), Some("-1"));
        // cron("0 3 * * *", repeat=2)
        let kind = Kind::Cron {
            expr: "0 3 * * *".into(),
            local: false,
            repeat: Some(2),
        };
        let (_, hash) =
            build(&Job::new("drive.task_ok"), &kind, now(), "q", RqFormat::Rq2).unwrap();
        assert_eq!(
            hash.meta().unwrap(),
            b"\x80\x05\x95@\x00\x00\x00\x00\x00\x00\x00}\x94(\x8c\x0bcron_string\x94\x8c\t0 3 * * *\x94\x8c\x12use_local_timezone\x94\x89\x8c\x06repeat\x94K\x02u."
        );
        assert_eq!(hash.get_str("result_ttl"), Some("-1"));
        assert_eq!(hash.get_str("origin"), Some("q"));
        // cron(..., result_ttl=None) writes none; repeat=0 without interval is accepted.
        let (_, hash) = build(
            &Job::new("f").worker_result_ttl(),
            &kind,
            now(),
            "q",
            RqFormat::Rq2,
        )
        .unwrap();
        assert_eq!(hash.get("result_ttl"), None);
        let zero = Kind::Periodic {
            interval: None,
            repeat: Some(0),
        };
        let (_, hash) = build(&Job::new("f"), &zero, now(), "q", RqFormat::Rq2).unwrap();
        assert_eq!(
            hash.meta().unwrap(),
            b"\x80\x05\x95\x0f\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x06repeat\x94K\x00s."
        );
        assert_eq!(hash.get("result_ttl"), None);
    }

    #[test]
    fn user_meta_keeps_its_place_when_the_scheduler_overwrites_it() {
        let job = Job::new("f").meta("repeat", "mine").meta("x", 1);
        let kind = Kind::Periodic {
            interval: Some(60),
            repeat: Some(2),
        };
        let (_, hash) = build(&job, &kind, now(), "q", RqFormat::Rq2).unwrap();
        let meta = rqs_pickle::Meta::parse(hash.meta().unwrap()).unwrap();
        assert_eq!(meta.keys().collect::<Vec<_>>(), ["repeat", "x", "interval"]);
        assert_eq!(meta.get("repeat"), Some(&rqs_pickle::Value::Int(2)));
    }

    #[test]
    fn the_rq1_format_leaves_out_status_and_group_id() {
        let (_, hash) = build(&Job::new("f"), &Kind::Once, now(), "q", RqFormat::Rq1).unwrap();
        assert_eq!(hash.get("status"), None);
        assert_eq!(hash.get("group_id"), None);
        assert_eq!(hash.get_str("worker_name"), Some(""));
    }

    #[test]
    fn the_call_string_is_rqs() {
        let long = "x".repeat(100);
        let s = call_string(
            "m.f",
            &[
                PyValue::from(long.as_str()),
                PyValue::bytes(b"\x00".to_vec()),
            ],
            &[
                ("zeta".into(), PyValue::None),
                ("alpha".into(), PyValue::tuple([1])),
            ],
        );
        assert_eq!(
            s,
            format!(
                "m.f('{}..., b'\\x00', alpha=(1,), zeta=None)",
                "x".repeat(74)
            )
        );
    }

    #[test]
    fn invalid_jobs_are_refused() {
        let once = |job: Job| build(&job, &Kind::Once, now(), "q", RqFormat::Rq2).map(|_| ());
        for path in [
            "",
            "a..b",
            ".a",
            "a.",
            "a b",
            "1mod.f",
            "mod.f-g",
            " mod.f",
            "mod.<locals>.f",
        ] {
            assert!(
                matches!(once(Job::new(path)), Err(Invalid::FunctionPath { .. })),
                "{path:?}"
            );
        }
        for path in ["print", "mod.f", "pkg.mod.Class.method", "_p.é_f2"] {
            assert_eq!(once(Job::new(path)), Ok(()), "{path:?}");
        }
        assert!(matches!(
            once(Job::new("f").id("a:b")),
            Err(Invalid::JobId { .. })
        ));
        assert!(matches!(
            once(Job::new("f").id("")),
            Err(Invalid::JobId { .. })
        ));
        assert!(matches!(
            once(Job::new("f").depends_on("x y")),
            Err(Invalid::JobId { .. })
        ));
        assert_eq!(once(Job::new("f").ttl(0)), Err(Invalid::Ttl(0)));
        assert!(matches!(
            once(Job::new("f").on_success("bad path")),
            Err(Invalid::FunctionPath { .. })
        ));
        assert_eq!(
            once(Job::new("f").on_failure(crate::Callback::new("m.g").timeout(0))),
            Err(Invalid::CallbackTimeout(0))
        );
        let unhashable = PyValue::dict([(PyValue::list([1]), PyValue::None)]);
        assert!(matches!(
            once(Job::new("f").arg(unhashable.clone())),
            Err(Invalid::Value { what: "args", .. })
        ));
        assert!(matches!(
            once(Job::new("f").meta("m", unhashable)),
            Err(Invalid::Value { what: "meta", .. })
        ));
        let repeat = Kind::Periodic {
            interval: None,
            repeat: Some(3),
        };
        assert_eq!(
            build(&Job::new("f"), &repeat, now(), "q", RqFormat::Rq2).map(|_| ()),
            Err(Invalid::RepeatWithoutInterval(3))
        );
        assert!(matches!(
            score(Utc.timestamp_opt(-1, 0).unwrap()),
            Err(Invalid::BeforeEpoch(_))
        ));
        assert_eq!(score(Utc.timestamp_opt(5, 999_000_000).unwrap()), Ok(5.0));
    }
}

//! `rqs schedule FUNC [ARG...] (--at TIME | --in DURATION | --cron EXPR)`: writes one job
//! as rq-scheduler's Python client does (through `rqs-client`) and prints its id.
//!
//! Everything is checked before Redis is contacted, so bad input exits 2 and writes
//! nothing.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use clap::{ArgGroup, Args};
use rqs_client::{Client, CronOptions, Job, Periodic, PyValue, When};
use rqs_core::plan::{self, LocalZone};
use rqs_redis::RedisJobStore;

use crate::cli::ConnectionArgs;
use crate::exit::Failure;
use crate::output;

/// Schedule a job, as rq-scheduler's Python client does, and print its id.
#[derive(Debug, Args, Clone, PartialEq, Eq)]
#[command(group(ArgGroup::new("when").required(true).args(["at", "in_", "cron"])))]
pub(crate) struct ScheduleArgs {
    /// Dotted path of the function the worker runs (package.module.function)
    #[arg(value_name = "FUNC")]
    pub(crate) func: String,

    /// Positional arguments, each a JSON value (1, 2.5, "text", [1, 2], {"k": null});
    /// a word that is not JSON is taken as a string. {"$bytes": "<hex>"} is a bytes
    /// value and {"$tuple": [...]} a tuple
    #[arg(value_name = "ARG", allow_negative_numbers = true)]
    pub(crate) args: Vec<String>,

    /// When: an RFC 3339 time, e.g. 2030-01-01T09:00:00Z, Unix seconds, now, or +30s,
    /// +5m, +2h, +1d from now (a past time is due at once)
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub(crate) at: Option<String>,

    /// When: this long from now, e.g. 90s, 5m, 2h or 1d
    #[arg(long = "in", value_name = "DURATION")]
    pub(crate) in_: Option<String>,

    /// When: every match of a cron string (Python crontab's grammar), in UTC
    #[arg(long, value_name = "EXPR")]
    pub(crate) cron: Option<String>,

    /// With --at or --in: run again every SECONDS after each hand-off
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub(crate) interval: Option<i64>,

    /// Number of runs in all (0: once; negative: forever); needs --interval or --cron
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub(crate) repeat: Option<i64>,

    /// Queue the job goes to (default: "default")
    #[arg(long, value_name = "Q")]
    pub(crate) queue: Option<String>,

    /// Job id (letters, digits, _ and -; default: a random uuid4)
    #[arg(long, value_name = "ID")]
    pub(crate) id: Option<String>,

    /// The worker's time limit: seconds, or RQ's 10m / 2h / 1d forms; -1 for none
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub(crate) timeout: Option<String>,

    /// Seconds the worker keeps the result (-1: forever; interval and cron jobs default
    /// to -1)
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub(crate) result_ttl: Option<i64>,

    /// Seconds the job may wait in its queue once enqueued
    #[arg(long, value_name = "S", allow_negative_numbers = true)]
    pub(crate) ttl: Option<i64>,

    /// Description shown by RQ's tools (default: the call, e.g. tasks.add(1, 2))
    #[arg(long, value_name = "TEXT")]
    pub(crate) description: Option<String>,

    /// A meta entry; repeatable
    #[arg(long, value_name = "KEY=JSON")]
    pub(crate) meta: Vec<String>,

    /// A keyword argument; repeatable
    #[arg(long, value_name = "KEY=JSON")]
    pub(crate) kwarg: Vec<String>,

    /// Run only after this job has finished; repeatable
    #[arg(long, value_name = "ID")]
    pub(crate) depends_on: Vec<String>,

    /// Push the job at the front of its queue when it is due
    #[arg(long)]
    pub(crate) at_front: bool,

    /// Function the worker calls after the job succeeds
    #[arg(long, value_name = "FUNC")]
    pub(crate) on_success: Option<String>,

    /// Function the worker calls after the job fails
    #[arg(long, value_name = "FUNC")]
    pub(crate) on_failure: Option<String>,

    /// With --cron: evaluate the cron string in the local time zone (TZ) instead of UTC
    #[arg(long)]
    pub(crate) local_timezone: bool,
}

/// Parses one ARG, --kwarg or --meta value: JSON, else a plain word as a string.
pub(crate) fn parse_value(what: &str, text: &str) -> Result<PyValue, String> {
    match PyValue::from_json(text) {
        Ok(value) => untag(value).map_err(|e| format!("{what} {text:?}: {e}")),
        // Text that starts like JSON was meant as JSON: a typo should not silently turn
        // into a string.
        Err(e) if text.trim_start().starts_with(['{', '[', '"']) => {
            Err(format!("{what} {text:?} is not valid JSON: {e}"))
        }
        Err(_) => Ok(PyValue::Str(text.to_owned())),
    }
}

/// Turns `{"$bytes": "<hex>"}` into bytes and `{"$tuple": [...]}` into a tuple, anywhere
/// in the value.
fn untag(value: PyValue) -> Result<PyValue, String> {
    Ok(match value {
        PyValue::Dict(pairs) => {
            if let [(PyValue::Str(tag), inner)] = &pairs[..] {
                match (tag.as_str(), inner) {
                    ("$bytes", PyValue::Str(hex)) => return decode_hex(hex).map(PyValue::Bytes),
                    ("$bytes", _) => return Err("$bytes takes a string of hex digits".into()),
                    ("$tuple", PyValue::List(items)) => {
                        return items
                            .clone()
                            .into_iter()
                            .map(untag)
                            .collect::<Result<_, _>>()
                            .map(PyValue::Tuple);
                    }
                    ("$tuple", _) => return Err("$tuple takes a JSON array".into()),
                    _ => {}
                }
            }
            PyValue::Dict(
                pairs
                    .into_iter()
                    .map(|(k, v)| Ok((k, untag(v)?)))
                    .collect::<Result<_, String>>()?,
            )
        }
        PyValue::List(items) => {
            PyValue::List(items.into_iter().map(untag).collect::<Result<_, _>>()?)
        }
        other => other,
    })
}

fn decode_hex(hex: &str) -> Result<Vec<u8>, String> {
    if !hex.len().is_multiple_of(2) {
        return Err(format!("$bytes {hex:?} has an odd number of hex digits"));
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or_else(|| format!("$bytes {hex:?} is not hex"))
        })
        .collect()
}

/// `KEY=JSON` of --kwarg and --meta.
fn key_value(flag: &str, text: &str) -> Result<(String, PyValue), String> {
    let (key, value) = text
        .split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{flag} {text:?} must look like KEY=JSON"))?;
    Ok((
        key.to_owned(),
        parse_value(&format!("{flag} {key}"), value)?,
    ))
}

/// `90s`, `5m`, `2h`, `1d`, or bare seconds.
pub(crate) fn parse_duration(text: &str) -> Result<TimeDelta, String> {
    let bad = || format!("--in {text:?} is not a duration like 90s, 5m, 2h or 1d");
    let (digits, unit) = match text.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&text[..i], c),
        _ => (text, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let seconds = match unit {
        's' => Some(n),
        'm' => n.checked_mul(60),
        'h' => n.checked_mul(3600),
        'd' => n.checked_mul(86_400),
        _ => None,
    };
    seconds.and_then(TimeDelta::try_seconds).ok_or_else(bad)
}

/// RQ's `parse_timeout`: an integer, or digits and one of d, h, m, s.
pub(crate) fn parse_timeout(text: &str) -> Result<i64, String> {
    if let Ok(n) = text.parse::<i64>() {
        return Ok(n);
    }
    let bad = || format!("--timeout {text:?} is not seconds or a duration like 10m, 2h or 1d");
    let (digits, unit) = text.split_at(text.len().saturating_sub(1));
    let n: i64 = digits.parse().map_err(|_| bad())?;
    let factor = match unit.to_ascii_lowercase().as_str() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    n.checked_mul(factor).ok_or_else(bad)
}

impl ScheduleArgs {
    /// The job and its schedule, every flag checked.
    pub(crate) fn job(&self) -> Result<(Job, When), String> {
        let mut job = Job::new(&self.func);
        for (i, arg) in self.args.iter().enumerate() {
            job = job.arg(parse_value(&format!("argument {}", i + 1), arg)?);
        }
        for kwarg in &self.kwarg {
            let (k, v) = key_value("--kwarg", kwarg)?;
            job = job.kwarg(k, v);
        }
        for meta in &self.meta {
            let (k, v) = key_value("--meta", meta)?;
            job = job.meta(k, v);
        }
        if let Some(q) = &self.queue {
            job = job.queue(q);
        }
        if let Some(id) = &self.id {
            job = job.id(id.as_str());
        }
        if let Some(t) = &self.timeout {
            job = job.timeout(parse_timeout(t)?);
        }
        if let Some(s) = self.result_ttl {
            job = job.result_ttl(s);
        }
        if let Some(s) = self.ttl {
            job = job.ttl(s);
        }
        if let Some(d) = &self.description {
            job = job.description(d);
        }
        for dep in &self.depends_on {
            job = job.depends_on(dep.as_str());
        }
        if let Some(f) = &self.on_success {
            job = job.on_success(f.as_str());
        }
        if let Some(f) = &self.on_failure {
            job = job.on_failure(f.as_str());
        }
        job = job.at_front(self.at_front);
        Ok((job, self.when()?))
    }

    fn when(&self) -> Result<When, String> {
        if let Some(expr) = &self.cron {
            if self.interval.is_some() {
                return Err("--interval goes with --at or --in, not --cron".into());
            }
            let mut options = CronOptions::new().use_local_timezone(self.local_timezone);
            if let Some(n) = self.repeat {
                options = options.repeat(n);
            }
            return Ok(When::Cron(expr.clone(), options));
        }
        if self.local_timezone {
            return Err("--local-timezone goes with --cron".into());
        }
        let at = match (&self.at, &self.in_) {
            (Some(at), _) => {
                let unix = output::parse_time(at).map_err(|e| format!("--at {e}"))?;
                output::instant(unix).ok_or_else(|| format!("--at {at:?} is not a time"))?
            }
            (None, Some(text)) => {
                let delay = parse_duration(text)?;
                let at = Utc::now()
                    .checked_add_signed(delay)
                    .filter(|at| output::in_range(at.timestamp() as f64))
                    .ok_or_else(|| {
                        format!("--in {text:?} is out of range: it ends after 9999-12-31T23:59:59Z")
                    })?;
                if self.interval.is_none() && self.repeat.is_none() {
                    return Ok(When::In(delay));
                }
                at
            }
            (None, None) => return Err("one of --at, --in or --cron is required".into()),
        };
        let mut periodic = match self.interval {
            None => Periodic::once(),
            Some(s) if s < 0 => return Err(format!("--interval {s} is negative")),
            Some(0) => return Err("--interval must be at least 1 second".into()),
            Some(s) => Periodic::every(Duration::from_secs(s.unsigned_abs())),
        };
        if let Some(n) = self.repeat {
            periodic = periodic.repeat(n);
        }
        if self.interval.is_none() && self.repeat.is_none() {
            return Ok(When::At(at));
        }
        Ok(When::Periodic(at, periodic))
    }
}

impl ScheduleArgs {
    /// The job as it will be written, checked as the scheduler will read it: a `--meta`
    /// entry can set `interval`, `cron_string` or `repeat` to something it would
    /// quarantine the job for.
    pub(crate) fn prepare(
        &self,
        options: &rqs_client::ClientOptions,
        now: DateTime<Utc>,
    ) -> Result<rqs_client::Prepared, String> {
        let (job, when) = self.job()?;
        let prepared = rqs_client::prepare(&job, &when, options, now).map_err(|e| e.to_string())?;
        plan::plan_schedule(prepared.hash.meta(), now, &LocalZone::System).map_err(|e| {
            format!(
                "the scheduler would quarantine this job, its meta (see --meta) is unusable: {e}"
            )
        })?;
        Ok(prepared)
    }
}

/// Checks everything, then connects and writes the job; prints its id.
pub(crate) async fn run(args: &ScheduleArgs, connection: &ConnectionArgs) -> Result<(), Failure> {
    let options = rqs_client::ClientOptions::default();
    let prepared = args.prepare(&options, Utc::now()).map_err(Failure::Usage)?;
    let conn = connection.connect().await?;
    let client = Client::with_options(RedisJobStore::new(conn), options);
    let id = client.submit(&prepared).await?;
    #[allow(clippy::print_stdout)] // The command's output.
    {
        println!("{id}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command;
    use crate::cli::tests::parse;

    fn args(cli: &[&str]) -> ScheduleArgs {
        match parse(cli).unwrap().command {
            Some(Command::Schedule(a)) => *a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn values_are_json_or_words() {
        assert_eq!(parse_value("a", "42").unwrap(), PyValue::from(42));
        assert_eq!(parse_value("a", "-1.5").unwrap(), PyValue::Float(-1.5));
        assert_eq!(parse_value("a", "hello").unwrap(), PyValue::from("hello"));
        assert_eq!(parse_value("a", "1.2.3").unwrap(), PyValue::from("1.2.3"));
        assert_eq!(
            parse_value("a", r#""quoted""#).unwrap(),
            PyValue::from("quoted")
        );
        assert_eq!(parse_value("a", "null").unwrap(), PyValue::None);
        assert_eq!(
            parse_value(
                "a",
                r#"{"k": [1, {"$bytes": "00ff"}, {"$tuple": [1, "x"]}]}"#
            )
            .unwrap(),
            PyValue::dict([(
                "k",
                PyValue::list([
                    PyValue::from(1),
                    PyValue::bytes(vec![0, 255]),
                    PyValue::tuple([PyValue::from(1), PyValue::from("x")]),
                ])
            )])
        );
        assert_eq!(
            parse_value("a", "123456789012345678901234567890")
                .unwrap()
                .repr(),
            "123456789012345678901234567890"
        );
        for bad in [
            "[1, 2",
            "{\"a\" 1}",
            "\"open",
            r#"{"$bytes": "0g"}"#,
            r#"{"$tuple": 1}"#,
        ] {
            assert!(parse_value("argument 1", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_and_timeouts() {
        assert_eq!(parse_duration("90s").unwrap(), TimeDelta::seconds(90));
        assert_eq!(parse_duration("5m").unwrap(), TimeDelta::minutes(5));
        assert_eq!(parse_duration("2h").unwrap(), TimeDelta::hours(2));
        assert_eq!(parse_duration("1d").unwrap(), TimeDelta::days(1));
        assert_eq!(parse_duration("30").unwrap(), TimeDelta::seconds(30));
        for bad in ["", "s", "-5s", "5x", "1.5h", "5 m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_timeout("-1"), Ok(-1));
        assert_eq!(parse_timeout("10m"), Ok(600));
        assert_eq!(parse_timeout("2H"), Ok(7200));
        assert!(parse_timeout("soon").is_err());
    }

    #[test]
    fn every_flag_reaches_the_job() {
        let a = args(&[
            "schedule",
            "tasks.add",
            "1",
            "-2",
            "word",
            "--at",
            "2030-01-01T09:00:00+01:00",
            "--interval",
            "60",
            "--repeat",
            "3",
            "--queue",
            "q",
            "--id",
            "j1",
            "--timeout",
            "5m",
            "--result-ttl",
            "-1",
            "--ttl",
            "100",
            "--description",
            "d",
            "--meta",
            "owner=\"me\"",
            "--kwarg",
            "k=[1]",
            "--depends-on",
            "d1",
            "--depends-on",
            "d2",
            "--at-front",
            "--on-success",
            "m.ok",
            "--on-failure",
            "m.ko",
            "-u",
            "redis://h:1/2",
        ]);
        let (job, when) = a.job().unwrap();
        let at = DateTime::parse_from_rfc3339("2030-01-01T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            when,
            When::Periodic(at, Periodic::every(Duration::from_secs(60)).repeat(3))
        );
        let p = rqs_client::prepare(&job, &when, &Default::default(), Utc::now()).unwrap();
        for (field, value) in [
            ("origin", "q"),
            ("timeout", "300"),
            ("result_ttl", "-1"),
            ("ttl", "100"),
            ("description", "d"),
            ("dependency_ids", r#"["d1", "d2"]"#),
            ("enqueue_at_front", "1"),
            ("success_callback_name", "m.ok"),
            ("failure_callback_name", "m.ko"),
        ] {
            assert_eq!(p.hash.get_str(field), Some(value), "{field}");
        }
        assert_eq!(p.id, "j1");
        assert_eq!(p.score, at.timestamp() as f64);
        assert_eq!(
            rqs_client::call_string(
                job.func(),
                &[PyValue::from(1), PyValue::from(-2), "word".into()],
                &[("k".into(), PyValue::list([1]))]
            ),
            "tasks.add(1, -2, 'word', k=[1])"
        );
    }

    /// A meta entry that sets the schedule is checked as the scheduler reads it:
    /// `rqs check` would otherwise find the job quarantined right after it was written.
    #[test]
    fn a_meta_the_scheduler_would_quarantine_is_refused() {
        let prepare = |extra: &[&str]| {
            let mut cli = vec!["schedule", "m.f", "--in", "5m"];
            cli.extend(extra);
            args(&cli).prepare(&Default::default(), Utc::now())
        };
        for (meta, culprit) in [
            ("interval=-1", "interval"),
            ("cron_string=\"61 * * * *\"", "61 * * * *"),
            ("repeat=\"x\"", "repeat"),
            ("interval=\"soon\"", "interval"),
        ] {
            let err = prepare(&["--meta", meta]).map(drop).unwrap_err();
            assert!(
                err.contains("would quarantine") && err.contains(culprit),
                "{meta}: {err}"
            );
        }
        // Entries the scheduler can use are kept as they are.
        let p = prepare(&["--meta", "interval=60", "--meta", "owner=\"ops\""]).unwrap();
        let meta = rqs_pickle::Meta::parse(p.hash.meta().unwrap()).unwrap();
        assert_eq!(meta.get("interval"), Some(&rqs_pickle::Value::Int(60)));
    }

    #[test]
    fn a_delay_past_the_year_9999_is_out_of_range() {
        for far in ["99999999999d", "3000000d"] {
            let err = args(&["schedule", "m.f", "--in", far]).when().unwrap_err();
            assert!(err.contains("out of range"), "{far}: {err}");
        }
        assert!(
            args(&["schedule", "m.f", "--in", "2000000d"])
                .when()
                .is_ok()
        );
    }

    #[test]
    fn the_schedule_flags_combine_as_documented() {
        let when = |cli: &[&str]| args(cli).when();
        assert!(matches!(
            when(&["schedule", "f", "--in", "5m"]),
            Ok(When::In(_))
        ));
        assert!(matches!(
            when(&["schedule", "f", "--in", "5m", "--interval", "10"]),
            Ok(When::Periodic(..))
        ));
        assert!(matches!(
            when(&[
                "schedule",
                "f",
                "--cron",
                "* * * * *",
                "--repeat",
                "2",
                "--local-timezone"
            ]),
            Ok(When::Cron(..))
        ));
        assert!(when(&["schedule", "f", "--cron", "* * * * *", "--interval", "5"]).is_err());
        assert_eq!(
            when(&[
                "schedule",
                "f",
                "--at",
                "2030-01-01T00:00:00Z",
                "--interval",
                "-5"
            ]),
            Err("--interval -5 is negative".into())
        );
        assert!(when(&["schedule", "f", "--at", "tomorrow"]).is_err());
        assert!(when(&["schedule", "f", "--in", "5m", "--local-timezone"]).is_err());
        // Exactly one of --at, --in and --cron.
        for bad in [
            &["schedule", "f"][..],
            &[
                "schedule",
                "f",
                "--at",
                "2030-01-01T00:00:00Z",
                "--in",
                "5m",
            ],
            &["schedule", "f", "--cron", "* * * * *", "--in", "5m"],
        ] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad:?}");
        }
    }
}

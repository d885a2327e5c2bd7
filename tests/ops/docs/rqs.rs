//! Running `rqs`: where a command line connects, the binary run to its end or in the
//! check-only mode, and the schedule the inspection examples show.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{TimeDelta, TimeZone, Utc};
use rqs_client::{Client, CronOptions, Job, Periodic};
use rqs_testkit::RedisServer;
use rqs_testkit::meta::{PyValue, pickled_dict};

use super::checkers::{Checked, fail};
use crate::common::T;
use crate::support::{q, rqs_bin};

/// Where an `rqs` command names its Redis.
#[derive(Debug, Clone, Copy)]
pub(super) enum UrlAt {
    /// `-u URL`: the argument at this index.
    Arg(usize),
    /// `--url=URL`, at this index.
    Inline(usize),
    /// `RQ_REDIS_URL=URL`, the assignment at this index.
    Env(usize),
}

/// What an `rqs` command line says about where it connects.
#[derive(Debug, Default)]
pub(super) struct RqsFlags {
    pub(super) subcommand: Option<String>,
    pub(super) burst: bool,
    pub(super) url_at: Option<UrlAt>,
    url: Option<String>,
    host: Option<String>,
    sentinel: bool,
    password: bool,
    password_file: Option<String>,
}

/// Flags that take a value, so their value is not taken for a subcommand.
const VALUE_FLAGS: &str = "-H --host -p --port -d --db -P --password -u --url --username \
    --password-file --sentinel --sentinel-master --sentinel-password --log-format -i \
    --interval --path --pid -j --job-class -q --queue-class --name --batch-size \
    --peek-interval --metrics-addr --http-auth-file --set --schedule -o --output --rq-scheduled";

pub(super) const SUBCOMMANDS: &str = "run schedule status list show cancel reschedule run-now pause resume quarantine check \
     plan apply export";

impl RqsFlags {
    pub(super) fn read(env: &[(String, String)], args: &[&str]) -> Self {
        let mut flags = Self::default();
        for (i, (name, value)) in env.iter().enumerate() {
            match name.as_str() {
                "RQ_REDIS_URL" => {
                    flags.url_at = Some(UrlAt::Env(i));
                    flags.url = Some(value.clone());
                }
                "RQ_REDIS_HOST" => flags.host = Some(value.clone()),
                "RQ_REDIS_SENTINELS" | "RQ_REDIS_SENTINEL_MASTER" => flags.sentinel = true,
                "RQ_REDIS_PASSWORD" => flags.password = true,
                "RQ_REDIS_PASSWORD_FILE" => flags.password_file = Some(value.clone()),
                _ => {}
            }
        }
        let mut i = 0;
        while i < args.len() {
            let arg = args[i];
            let value = args.get(i + 1).map(|v| (*v).to_owned());
            match arg {
                "-u" | "--url" => {
                    flags.url_at = Some(UrlAt::Arg(i + 1));
                    flags.url = value;
                }
                "-H" | "--host" => flags.host = value,
                "-P" | "--password" => flags.password = true,
                "--password-file" => flags.password_file = value,
                "--sentinel" | "--sentinel-master" => flags.sentinel = true,
                "-b" | "--burst" => flags.burst = true,
                a if a.starts_with("--url=") => {
                    flags.url_at = Some(UrlAt::Inline(i));
                    flags.url = Some(a["--url=".len()..].to_owned());
                }
                a if flags.subcommand.is_none() && SUBCOMMANDS.split(' ').any(|s| s == a) => {
                    flags.subcommand = Some(a.to_owned());
                }
                _ => {}
            }
            let takes_value = VALUE_FLAGS.split_whitespace().any(|f| f == arg);
            i += if takes_value { 2 } else { 1 };
        }
        flags
    }

    /// TLS to another host, Sentinels, a password this Redis does not have, a password
    /// file that is not here: what a test cannot give the command.
    pub(super) fn needs_what_a_test_lacks(&self) -> bool {
        let local = |host: &str| host == "127.0.0.1" || host == "localhost";
        let url_elsewhere = self.url.as_deref().is_some_and(|url| {
            let Some(rest) = url.strip_prefix("redis://") else {
                return true;
            };
            let netloc = rest.split(['/', '?']).next().unwrap_or("");
            let (userinfo, host_port) = netloc.rsplit_once('@').unwrap_or(("", netloc));
            let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
            userinfo.contains(':') || !local(host)
        });
        url_elsewhere
            || self.host.as_deref().is_some_and(|h| !local(h))
            || self.sentinel
            || self.password
            || self
                .password_file
                .as_deref()
                .is_some_and(|f| !Path::new(f).exists())
    }
}

/// An rqs command that ran to its end.
pub(super) struct Ran {
    pub(super) code: i32,
    pub(super) stdout: String,
    pub(super) stderr: String,
}

/// `rqs ARGS` with the documented environment (and none of the caller's `RQ_REDIS_*`),
/// killed after [`T`].
pub(super) fn run_rqs(env: &[(String, String)], args: &[String]) -> Result<Ran, String> {
    let stdout = tempfile::NamedTempFile::new().unwrap();
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut cmd = Command::new(rqs_bin());
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RQ_REDIS_") || var == "RQS_CHECK_ONLY" {
            cmd.env_remove(var);
        }
    }
    let mut child = cmd
        .args(args)
        .env_remove("RUST_LOG")
        .env("TZ", "UTC")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout.reopen().unwrap())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .map_err(|e| format!("cannot run rqs: {e}"))?;
    let deadline = Instant::now() + T;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return fail(format!("still running after {T:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Ok(Ran {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(stdout.path()).unwrap(),
        stderr: std::fs::read_to_string(stderr.path()).unwrap(),
    })
}

/// `RQS_CHECK_ONLY=1 rqs ARGS`: the settings must pass as a start reads them.
pub(super) fn check_only(env: &[(String, String)], args: &[&str]) -> Checked {
    let mut env = env.to_vec();
    env.push(("RQS_CHECK_ONLY".into(), "1".into()));
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let ran = run_rqs(&env, &args)?;
    if ran.code == 0 {
        Ok(())
    } else {
        fail(format!(
            "RQS_CHECK_ONLY=1: exit {}:\n{}{}",
            ran.code, ran.stdout, ran.stderr
        ))
    }
}

/// The output shown and the output printed have the same shape: a table's header, or
/// JSON.
pub(super) fn same_shape(shown: &[String], printed: &str) -> Checked {
    let Some(first) = shown.first().map(|l| l.trim()) else {
        return Ok(());
    };
    if first.starts_with('[') || first.starts_with('{') {
        return serde_json::from_str::<serde_json::Value>(printed)
            .map(drop)
            .map_err(|e| format!("shown as JSON, printed {printed:?}: {e}"));
    }
    let header: Vec<&str> = first.split_whitespace().collect();
    let is_header = header.len() > 1
        && header
            .iter()
            .all(|w| w.chars().all(|c| c.is_ascii_uppercase()));
    let printed_header: Vec<&str> = printed
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if is_header && header != printed_header {
        return fail(format!(
            "shown with the header {header:?}, printed {printed_header:?}"
        ));
    }
    Ok(())
}

/// A short reply shown (`(integer) 1`) is the reply printed (without redis-cli's type
/// annotations, which it prints only to a terminal).
pub(super) fn same_output(shown: &[String], printed: &str) -> Checked {
    let Some(first) = shown.first() else {
        return Ok(());
    };
    let shown = first.rsplit(") ").next().unwrap_or(first).trim();
    if shown == printed.trim() {
        Ok(())
    } else {
        fail(format!("shown {shown:?}, printed {:?}", printed.trim()))
    }
}

/// The schedule of the inspection examples (docs/inspecting.md): what
/// tests/ops/py/ops_scenario.py writes with rq-scheduler, written here with rqs-client
/// and a few raw writes for what no client would write.
pub(super) async fn seed(server: &RedisServer) {
    let client = Client::connect(&server.url()).await.unwrap();
    let conn = server.connection().await;
    let soon = Utc.timestamp_opt(Utc::now().timestamp() + 3600, 0).unwrap();
    let add = |id: &str| Job::new("rqs_interop_jobs.add").args([1, 2]).id(id);
    let echo = |id: &str, arg: &str| Job::new("rqs_interop_jobs.echo").arg(arg).id(id);
    let every_10_min = Periodic::every(Duration::from_secs(600)).repeat(3);
    client
        .schedule(soon, &add("every-10-min"), every_10_min)
        .await
        .unwrap();
    let yearly = echo("report-yearly", "yearly")
        .queue("reports")
        .description("Yearly report");
    client
        .cron("0 3 1 1 *", &yearly, CronOptions::new())
        .await
        .unwrap();
    let xss = "<img src=x onerror=\"document.title='PWNED'\"> & <b>bold</b>";
    let later = echo("once-later", "later")
        .queue("reports")
        .description(xss);
    client
        .enqueue_at(soon + TimeDelta::hours(1), &later)
        .await
        .unwrap();
    let custom =
        echo("custom-queue-class", "q").meta("queue_class_name", "rqs_interop_jobs.CustomQueue");
    client
        .enqueue_at(soon + TimeDelta::hours(2), &custom)
        .await
        .unwrap();
    client
        .enqueue_at(soon + TimeDelta::hours(2), &echo("ttl-zero", "t"))
        .await
        .unwrap();
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:job:ttl-zero")
            .arg("ttl")
            .arg("0"),
    )
    .await;
    client
        .cron("0 4 1 1 *", &echo("bad-cron", "x"), CronOptions::new())
        .await
        .unwrap();
    let bad_cron = pickled_dict(&[("cron_string", PyValue::Str("61 * * * *"))]);
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:job:bad-cron")
            .arg("meta")
            .arg(bad_cron),
    )
    .await;
    let gone = (soon + TimeDelta::hours(3)).timestamp();
    let () = q(
        &conn,
        redis::cmd("ZADD")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(gone)
            .arg("gone"),
    )
    .await;
    let past = Utc.with_ymd_and_hms(2020, 1, 1, 12, 0, 0).unwrap();
    client
        .enqueue_at(past, &echo("bad-due", "bad"))
        .await
        .unwrap();
    // What RQ's JSONSerializer would write: rqs reads pickled meta only.
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:job:bad-due")
            .arg("meta")
            .arg("{\"interval\": 60}"),
    )
    .await;
}

//! Every inspection subcommand, as a table and as `--json`, on a schedule written by the
//! real Python client.

use rqs_testkit::RedisServer;
use serde_json::Value;

use crate::common::{T, python_env, rqs, scenario, snapshot};
use crate::support::{Daemon, q};

/// The JSON entry of `id` in a list of objects with an `id` field.
fn entry<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .find(|e| e["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {list:#}"))
}

/// The line of a table that starts with (or holds) `needle`.
fn line<'a>(table: &'a str, needle: &str) -> &'a str {
    table
        .lines()
        .find(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in\n{table}"))
}

/// A populated server, after one burst that handed over the due job and quarantined the
/// unreadable one.
async fn populated() -> (RedisServer, String) {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    scenario(&env, &["populate", &url]);
    scenario(&env, &["due", &url, "due-now", "default"]);
    scenario(&env, &["bad-due", &url, "bad-due"]);
    let mut burst = Daemon::start(&["run", "--burst", "-u", &url, "--name", "burst-1"]);
    assert_eq!(burst.exit_code(T), 0, "{}", burst.log());
    (server, url)
}

#[tokio::test]
async fn check_reports_what_rqs_would_do_and_changes_nothing() {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    scenario(&env, &["populate", &url]);
    scenario(&env, &["bad-due", &url, "bad-due"]);
    let before = snapshot(&conn).await;

    let table = rqs(&url, &["check"]).expect(1);
    for (id, verdict, detail) in [
        ("every-10-min", "ok", "runs at"),
        ("report-yearly", "ok", "runs at"),
        ("once-later", "ok", "runs at"),
        (
            "bad-cron",
            "quarantine",
            "invalid cron string \"61 * * * *\"",
        ),
        ("bad-due", "quarantine", "meta is JSON"),
        ("gone", "unschedule", "job hash is missing"),
        ("ttl-zero", "differs", "ttl is 0"),
        (
            "custom-queue-class",
            "differs",
            "rqs_interop_jobs.CustomQueue",
        ),
    ] {
        let l = line(&table.stdout, id);
        assert!(l.contains(verdict) && l.contains(detail), "{id}: {l}");
    }
    assert!(
        table.stdout.contains(
            "checked 8 scheduled jobs: 3 ok, 2 handled differently than by rqscheduler, \
             1 would be unscheduled, 2 would be quarantined"
        ),
        "{}",
        table.stdout
    );
    assert!(
        table.stderr.contains("5 of 8 scheduled jobs"),
        "{}",
        table.stderr
    );

    let report = rqs(&url, &["check", "--json", "--runs", "5"])
        .expect(1)
        .json();
    assert_eq!(report["clean"], false);
    assert_eq!(
        (
            report["checked"].as_u64(),
            report["ok"].as_u64(),
            report["quarantine"].as_u64()
        ),
        (Some(8), Some(3), Some(2))
    );
    let jobs = &report["jobs"];
    let bad = entry(jobs, "bad-cron");
    assert_eq!(bad["verdict"], "quarantine");
    assert_eq!(bad["quarantine_kind"], "invalid_cron");
    assert_eq!(entry(jobs, "gone")["verdict"], "unschedule");
    assert_eq!(entry(jobs, "ttl-zero")["verdict"], "differs");
    // repeat=3: three runs, ten minutes apart, then none.
    let every = entry(jobs, "every-10-min");
    assert_eq!(
        (every["kind"].as_str(), every["seconds"].as_f64()),
        (Some("interval"), Some(600.0))
    );
    let runs: Vec<f64> = every["next_runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unix"].as_f64().unwrap())
        .collect();
    assert_eq!(runs.len(), 3, "{every:#}");
    assert_eq!((runs[1] - runs[0], runs[2] - runs[1]), (600.0, 600.0));
    let yearly = entry(jobs, "report-yearly");
    assert_eq!(yearly["cron"], "0 3 1 1 *");
    assert_eq!(yearly["next_runs"].as_array().unwrap().len(), 5);
    assert!(
        yearly["next_runs"][1]["utc"]
            .as_str()
            .unwrap()
            .ends_with("-01-01T03:00:00Z"),
        "{yearly:#}"
    );

    let problems = rqs(&url, &["check", "--problems", "--json"])
        .expect(1)
        .json();
    assert_eq!(problems["jobs"].as_array().unwrap().len(), 5);

    // A dry run: not one key, value or expiry changed.
    assert!(
        before == snapshot(&conn).await,
        "rqs check changed the database"
    );

    // A clean schedule passes.
    let clean = RedisServer::start();
    scenario(&env, &["due", &clean.url(), "fine", "default"]);
    let out = rqs(&clean.url(), &["check"]).expect(0);
    assert!(
        out.stdout.contains("checked 1 scheduled jobs: 1 ok"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn check_finds_the_other_differences_and_wrong_types() {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    scenario(&env, &["populate", &url]);
    // A job still marked deferred though its dependency finished: rqscheduler would drop
    // the run.
    for (key, field, value) in [
        ("rq:job:dep-done", "status", "finished"),
        ("rq:job:once-later", "status", "deferred"),
        ("rq:job:once-later", "dependency_ids", "[\"dep-done\"]"),
    ] {
        q::<()>(&conn, redis::cmd("HSET").arg(key).arg(field).arg(value)).await;
    }
    // Something else under the name of a queue: the hand-off would quarantine the job.
    q::<()>(
        &conn,
        redis::cmd("SET").arg("rq:queue:reports").arg("not a list"),
    )
    .await;
    let report = rqs(&url, &["check", "--json"]).expect(1).json();
    let yearly = entry(&report["jobs"], "report-yearly");
    assert_eq!(yearly["verdict"], "quarantine", "{yearly:#}");
    assert_eq!(yearly["quarantine_kind"], "wrong_type");
    assert!(
        yearly["reason"]
            .as_str()
            .unwrap()
            .contains("rq:queue:reports is a string")
    );
    q::<()>(&conn, redis::cmd("DEL").arg("rq:queue:reports")).await;

    let report = rqs(&url, &["check", "--json"]).expect(1).json();
    let deferred = entry(&report["jobs"], "once-later");
    assert_eq!(deferred["verdict"], "differs", "{deferred:#}");
    assert!(
        deferred["differences"][0]
            .as_str()
            .unwrap()
            .contains("still marked deferred")
    );
    // UTC host: the yearly cron job runs alike in both.
    assert_eq!(entry(&report["jobs"], "report-yearly")["verdict"], "ok");

    // On a host in another zone, rqscheduler would run a use_local_timezone=False cron
    // string in local time, rqs in UTC.
    let mut cmd = std::process::Command::new(crate::support::rqs_bin());
    let out = cmd
        .args(["-u", &url, "check", "--json"])
        .env("TZ", "Europe/Berlin")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let yearly = entry(&report["jobs"], "report-yearly");
    assert_eq!(yearly["verdict"], "differs", "{yearly:#}");
    let why = yearly["differences"][0].as_str().unwrap();
    assert!(
        why.contains("in UTC (next ")
            && why.contains("-01-01T03:00:00Z")
            && why.contains("-01-01T02:00:00Z"),
        "{why}"
    );
}

#[tokio::test]
async fn status_shows_instances_lock_counts_and_next_due() {
    let (server, url) = populated().await;
    let conn = server.connection().await;
    let table = rqs(&url, &["status"]).expect(0);
    for (key, value) in [
        ("Scheduled jobs", "7"),
        ("Due now", "0"),
        ("Quarantined", "1"),
        ("Lock holder", "nobody"),
    ] {
        let l = line(&table.stdout, key);
        assert!(l.ends_with(value), "{l}");
    }
    let l = line(&table.stdout, "burst-1");
    assert!(l.contains("rqs 0.1.0") && l.contains("dead"), "{l}");

    // A Python rqscheduler holding the lock is named as such.
    q::<()>(
        &conn,
        redis::cmd("SET")
            .arg("rq:scheduler_lock")
            .arg("1796378400.25"),
    )
    .await;
    let status = rqs(&url, &["status", "--json"]).expect(0).json();
    assert_eq!(status["scheduled"], 7);
    assert_eq!(status["due"], 0);
    assert_eq!(status["quarantined"], 1);
    let head: Vec<(String, f64)> = q(
        &conn,
        redis::cmd("ZRANGE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(0)
            .arg(0)
            .arg("WITHSCORES"),
    )
    .await;
    assert_eq!(status["next_due"]["unix"].as_f64(), Some(head[0].1));
    let burst = &status["instances"][0];
    assert_eq!(
        (&burst["name"], &burst["alive"], &burst["holds_lock"]),
        (
            &Value::from("burst-1"),
            &Value::from(false),
            &Value::from(false)
        )
    );
    assert!(burst["death"]["unix"].as_f64().is_some());
    assert_eq!(status["lock"]["value"], "1796378400.25");
    assert_eq!(status["lock"]["holder"], Value::Null);
    let table = rqs(&url, &["status"]).expect(0);
    assert!(
        line(&table.stdout, "Lock holder")
            .contains("not rqs (rqscheduler's lock, taken at 2026-12-04T10:00:00Z)"),
        "{}",
        table.stdout
    );
}

#[tokio::test]
async fn list_filters_by_time_queue_and_count() {
    let (_server, url) = populated().await;
    let all = rqs(&url, &["list"]).expect(0);
    let header = all.stdout.lines().next().unwrap();
    for column in [
        "NEXT RUN",
        "ID",
        "QUEUE",
        "FUNCTION",
        "KIND",
        "REPEATS LEFT",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let l = line(&all.stdout, "every-10-min");
    for cell in ["default", "rqs_interop_jobs.add", "every 600s", " 3"] {
        assert!(l.contains(cell), "{cell:?} in {l}");
    }
    let l = line(&all.stdout, "report-yearly");
    for cell in ["reports", "rqs_interop_jobs.echo", "cron 0 3 1 1 *", "∞"] {
        assert!(l.contains(cell), "{cell:?} in {l}");
    }
    assert!(line(&all.stdout, "gone").contains("missing hash"));

    let jobs = rqs(&url, &["list", "--json"]).expect(0).json();
    let mut ids: Vec<&str> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "bad-cron",
            "custom-queue-class",
            "every-10-min",
            "gone",
            "once-later",
            "report-yearly",
            "ttl-zero"
        ]
    );
    let every = entry(&jobs, "every-10-min");
    assert_eq!(every["function"], "rqs_interop_jobs.add");
    assert_eq!(every["queue"], "default");
    assert_eq!(every["repeats_left"], 3);
    assert_eq!(entry(&jobs, "report-yearly")["repeats_left"], Value::Null);
    assert_eq!(entry(&jobs, "gone")["missing"], true);
    // Due order.
    let dues: Vec<f64> = jobs
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["due"]["unix"].as_f64().unwrap())
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "{dues:?}");

    let reports = rqs(&url, &["list", "--queue", "reports", "--json"])
        .expect(0)
        .json();
    let ids: Vec<&str> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["once-later", "report-yearly"]);
    let one = rqs(&url, &["list", "--limit", "1", "--json"])
        .expect(0)
        .json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    let until = format!("{}", dues[1]);
    let early = rqs(&url, &["list", "--until", &until, "--json"])
        .expect(0)
        .json();
    assert_eq!(early.as_array().unwrap().len(), 2);
    let none = rqs(&url, &["list", "--until", "2000-01-01T00:00:00Z"]).expect(0);
    assert_eq!(none.stdout, "No scheduled job matches.\n");
    let bad = rqs(&url, &["list", "--until", "soon"]).expect(2);
    assert!(bad.stderr.contains("RFC 3339"), "{}", bad.stderr);
}

#[tokio::test]
async fn show_decodes_a_job() {
    let (_server, url) = populated().await;
    let text = rqs(&url, &["show", "every-10-min"]).expect(0).stdout;
    for (key, value) in [
        ("function", "rqs_interop_jobs.add"),
        ("args", "(1, 2)"),
        ("kwargs", "{}"),
        ("meta", "{'interval': 600, 'repeat': 3}"),
        ("kind", "every 600s"),
        ("repeats left", "3"),
        ("queue", "default"),
        ("status", "scheduled"),
        ("result ttl", "-1"),
    ] {
        let l = line(&text, &format!("{key}  "));
        assert!(l.ends_with(value), "{key}: {l}");
    }
    let runs = text
        .lines()
        .skip_while(|l| !l.starts_with("next runs"))
        .count();
    assert_eq!(runs, 3, "repeat=3: three runs\n{text}");

    let job = rqs(&url, &["show", "once-later", "--json"])
        .expect(0)
        .json();
    assert_eq!(job["function"], "rqs_interop_jobs.echo");
    assert_eq!(job["args"], serde_json::json!(["later"]));
    assert_eq!(job["kwargs"], serde_json::json!({}));
    assert_eq!(job["instance"], Value::Null);
    assert_eq!(job["kind"], "once");
    assert_eq!(job["queue"], "reports");
    assert!(
        job["description"]
            .as_str()
            .unwrap()
            .starts_with("<img src=x")
    );
    assert_eq!(job["next_runs"].as_array().unwrap().len(), 1);

    let yearly = rqs(&url, &["show", "report-yearly", "--json"])
        .expect(0)
        .json();
    assert_eq!(yearly["cron"], "0 3 1 1 *");
    assert_eq!(yearly["next_runs"].as_array().unwrap().len(), 5);
    assert_eq!(yearly["repeats_left"], Value::Null);

    // A quarantined job: its record, and its unreadable meta shown as such.
    let bad = rqs(&url, &["show", "bad-due"]).expect(0).stdout;
    assert!(line(&bad, "scheduled").ends_with("no"), "{bad}");
    assert!(line(&bad, "quarantined").contains("meta is JSON"), "{bad}");
    assert!(line(&bad, "meta  ").contains("unreadable"), "{bad}");

    let missing = rqs(&url, &["show", "no-such-job"]).expect(1);
    assert!(
        missing.stderr.contains("no job no-such-job"),
        "{}",
        missing.stderr
    );
}

#[tokio::test]
async fn cancel_and_reschedule_change_one_job() {
    let (server, url) = populated().await;
    let conn = server.connection().await;
    let score = |id: &'static str| scheduled_score(conn.clone(), id);
    let out = rqs(&url, &["cancel", "once-later"]).expect(0);
    assert!(
        out.stdout.starts_with("cancelled once-later"),
        "{}",
        out.stdout
    );
    assert_eq!(score("once-later").await, None);
    let hash: bool = q(&conn, redis::cmd("EXISTS").arg("rq:job:once-later")).await;
    assert!(hash, "cancel keeps the job hash, as rq-scheduler's does");
    let again = rqs(&url, &["cancel", "once-later"]).expect(1);
    assert!(
        again.stderr.contains("job once-later is not scheduled"),
        "{}",
        again.stderr
    );

    let json = rqs(&url, &["cancel", "ttl-zero", "--json"])
        .expect(0)
        .json();
    assert_eq!(json["cancelled"], true);

    let out = rqs(
        &url,
        &["reschedule", "every-10-min", "2030-01-01T00:00:00Z"],
    )
    .expect(0);
    assert!(
        out.stdout.contains("now due at 2030-01-01T00:00:00Z"),
        "{}",
        out.stdout
    );
    assert_eq!(score("every-10-min").await, Some(1_893_456_000.0));
    let json = rqs(
        &url,
        &[
            "reschedule",
            "every-10-min",
            "2030-01-01T01:00:00+01:00",
            "--json",
        ],
    )
    .expect(0)
    .json();
    assert_eq!(json["due"]["unix"], 1_893_456_000.0);
    assert_eq!(json["was_due"]["unix"], 1_893_456_000.0);
    let unknown = rqs(&url, &["reschedule", "no-such-job", "2030-01-01T00:00:00Z"]).expect(1);
    assert!(
        unknown.stderr.contains("job no-such-job is not scheduled"),
        "{}",
        unknown.stderr
    );
    assert_eq!(
        score("no-such-job").await,
        None,
        "an unknown id is not added"
    );
    let bad_time = rqs(&url, &["reschedule", "every-10-min", "next week"]).expect(2);
    assert!(
        bad_time.stderr.contains("not an RFC 3339 time"),
        "{}",
        bad_time.stderr
    );
}

#[tokio::test]
async fn quarantine_lists_reasons_and_releases() {
    let (server, url) = populated().await;
    let conn = server.connection().await;
    let table = rqs(&url, &["quarantine", "list"]).expect(0).stdout;
    let l = line(&table, "bad-due");
    assert!(
        l.contains("unreadable_meta") && l.contains("meta is JSON"),
        "{l}"
    );
    let list = rqs(&url, &["quarantine", "list", "--json"])
        .expect(0)
        .json();
    let bad = entry(&list, "bad-due");
    assert_eq!(bad["kind"], "unreadable_meta");
    assert_eq!(bad["score"]["unix"], 1_577_880_000.0);

    // Fixed: without its JSON meta it is a plain one-off job.
    q::<()>(&conn, redis::cmd("HDEL").arg("rq:job:bad-due").arg("meta")).await;
    let out = rqs(
        &url,
        &[
            "quarantine",
            "release",
            "bad-due",
            "--at",
            "2031-01-01T00:00:00Z",
        ],
    )
    .expect(0);
    assert!(
        out.stdout.contains("due at 2031-01-01T00:00:00Z"),
        "{}",
        out.stdout
    );
    let score: Option<f64> = q(
        &conn,
        redis::cmd("ZSCORE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg("bad-due"),
    )
    .await;
    assert_eq!(score, Some(1_924_992_000.0));
    assert_eq!(
        rqs(&url, &["quarantine", "list"]).expect(0).stdout,
        "The quarantine is empty.\n"
    );
    let again = rqs(&url, &["quarantine", "release", "bad-due"]).expect(1);
    assert!(
        again.stderr.contains("job bad-due is not quarantined"),
        "{}",
        again.stderr
    );

    // Without --at, back at the score it had.
    rqs(&url, &["reschedule", "bad-cron", "2020-01-01T00:00:00Z"]).expect(0);
    let mut burst = Daemon::start(&["run", "--burst", "-u", &url, "--name", "burst-2"]);
    assert_eq!(burst.exit_code(T), 0, "{}", burst.log());
    // Its cron string is still invalid: only --force releases it.
    let json = rqs(
        &url,
        &["quarantine", "release", "bad-cron", "--json", "--force"],
    )
    .expect(0)
    .json();
    assert_eq!(json["due"]["unix"], 1_577_836_800.0);
    assert!(
        json["warning"]
            .as_str()
            .unwrap()
            .contains("invalid cron string"),
        "{json:#}"
    );
}

#[tokio::test]
async fn read_commands_work_for_a_read_only_user() {
    let (server, _) = populated().await;
    let conn = server.connection().await;
    // Reads, and read-only scripts (EVALSHA runs each command of a script under the
    // user's rights): any write would fail with NOPERM.
    q::<()>(
        &conn,
        redis::cmd("ACL")
            .arg("SETUSER")
            .arg("reader")
            .arg("on")
            .arg(">secret")
            .arg("~*")
            .arg("&*")
            .arg("+@read")
            .arg("+@connection")
            .arg("+evalsha")
            .arg("+eval")
            .arg("+script|load"),
    )
    .await;
    let reader = format!("redis://reader:secret@127.0.0.1:{}/0", server.port());
    let before = snapshot(&conn).await;
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["list"],
        &["list", "--json"],
        &["show", "every-10-min"],
        &["show", "every-10-min", "--json"],
        &["quarantine", "list"],
        &["quarantine", "list", "--json"],
    ] {
        rqs(&reader, args).expect(0);
    }
    let check = rqs(&reader, &["check"]).expect(1);
    assert!(
        check.stdout.contains("checked 7 scheduled jobs"),
        "{}",
        check.stdout
    );
    assert!(
        before == snapshot(&conn).await,
        "a read command changed the database"
    );
    // The user really cannot write: a cancel is refused.
    let refused = rqs(&reader, &["cancel", "every-10-min"]).expect(1);
    assert!(
        refused.stderr.contains("permission denied"),
        "{}",
        refused.stderr
    );
}

/// The keys that appear twice in one object of a JSON text. A JSON parser keeps only
/// one of them, so this reads the raw text.
fn duplicate_keys(raw: &str) -> Vec<String> {
    // One entry per open container: the keys seen, or `None` for an array.
    let mut open: Vec<Option<Vec<String>>> = Vec::new();
    let mut dups = Vec::new();
    let mut chars = raw.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            '{' => open.push(Some(Vec::new())),
            '[' => open.push(None),
            '}' | ']' => {
                open.pop();
            }
            '"' => {
                let mut end = start;
                while let Some((i, c)) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => {
                            end = i;
                            break;
                        }
                        _ => {}
                    }
                }
                let is_key = raw[end + 1..].trim_start().starts_with(':');
                if let (true, Some(Some(keys))) = (is_key, open.last_mut()) {
                    let key = raw[start + 1..end].to_owned();
                    if keys.contains(&key) {
                        dups.push(key);
                    } else {
                        keys.push(key);
                    }
                }
            }
            _ => {}
        }
    }
    dups
}

#[tokio::test]
async fn check_json_names_each_key_once() {
    assert_eq!(
        duplicate_keys(r#"{"a": {"a": 1}, "b": ["a", "b"]}"#),
        Vec::<String>::new()
    );
    assert_eq!(duplicate_keys(r#"{"a": "x\"", "a": 2}"#), ["a"]);
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    scenario(&env, &["populate", &url]);
    scenario(&env, &["bad-due", &url, "bad-due"]);
    let out = rqs(&url, &["check", "--json"]).expect(1);
    // bad-cron and bad-due have an invalid kind and a quarantine verdict: both said why.
    let report = out.json();
    assert_eq!(entry(&report["jobs"], "bad-cron")["verdict"], "quarantine");
    assert_eq!(entry(&report["jobs"], "bad-due")["verdict"], "quarantine");
    assert!(
        entry(&report["jobs"], "bad-due")["reason"]
            .as_str()
            .unwrap()
            .contains("meta is JSON")
    );
    assert_eq!(
        duplicate_keys(&out.stdout),
        Vec::<String>::new(),
        "a key twice in one object of\n{}",
        out.stdout
    );
}

#[tokio::test]
async fn show_tells_a_quarantined_job_apart() {
    let (_server, url) = populated().await;
    let text = rqs(&url, &["show", "bad-due"]).expect(0).stdout;
    let status = line(&text, "status  ");
    assert!(status.contains("quarantined"), "{text}");
    let q = line(&text, "quarantined  ");
    for part in ["since 20", "unreadable_meta", "meta is JSON"] {
        assert!(q.contains(part), "{part:?} in {q}");
    }
    assert!(
        line(&text, "was due  ").contains("2020-01-01T12:00:00Z"),
        "{text}"
    );

    let job = rqs(&url, &["show", "bad-due", "--json"]).expect(0).json();
    assert_eq!(job["status"], "quarantined", "{job:#}");
    assert_eq!(job["scheduled"], Value::Null);
    let record = &job["quarantine"];
    assert_eq!(record["kind"], "unreadable_meta");
    assert!(record["reason"].as_str().unwrap().contains("meta is JSON"));
    assert_eq!(record["score"]["unix"], 1_577_880_000.0);
    assert!(record["since"]["unix"].as_f64().is_some(), "{job:#}");

    // A scheduled job is still shown with the status its hash holds.
    let every = rqs(&url, &["show", "every-10-min", "--json"])
        .expect(0)
        .json();
    assert_eq!(every["status"], "scheduled");
    assert_eq!(every["quarantine"], Value::Null);
}

#[tokio::test]
async fn release_refuses_a_job_that_would_be_quarantined_again() {
    let (server, url) = populated().await;
    let conn = server.connection().await;
    let score = |id: &'static str| scheduled_score(conn.clone(), id);
    let quarantined = |url: &str| {
        let list = rqs(url, &["quarantine", "list", "--json"]).expect(0).json();
        let mut ids: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    };

    // Its meta is still JSON: the scheduler would quarantine it again at once.
    let refused = rqs(&url, &["quarantine", "release", "bad-due"]).expect(1);
    for part in ["bad-due", "unreadable_meta", "meta is JSON", "--force"] {
        assert!(
            refused.stderr.contains(part),
            "{part:?} in {}",
            refused.stderr
        );
    }
    assert_eq!(refused.stdout, "");
    assert_eq!(score("bad-due").await, None);
    assert_eq!(quarantined(&url), ["bad-due"]);

    // A queue key of the wrong type, still there, then fixed.
    rqs(&url, &["reschedule", "once-later", "2020-01-01T00:00:00Z"]).expect(0);
    q::<()>(
        &conn,
        redis::cmd("SET").arg("rq:queue:reports").arg("not a list"),
    )
    .await;
    let mut burst = Daemon::start(&["run", "--burst", "-u", &url, "--name", "burst-2"]);
    assert_eq!(burst.exit_code(T), 0, "{}", burst.log());
    assert_eq!(quarantined(&url), ["bad-due", "once-later"]);
    let refused = rqs(&url, &["quarantine", "release", "once-later", "--json"]).expect(1);
    assert!(
        refused.stderr.contains("rq:queue:reports is a string"),
        "{}",
        refused.stderr
    );
    assert_eq!(score("once-later").await, None);
    q::<()>(&conn, redis::cmd("DEL").arg("rq:queue:reports")).await;
    let out = rqs(&url, &["quarantine", "release", "once-later"]).expect(0);
    assert!(
        out.stdout.starts_with("released once-later"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "", "a fixed job releases without a warning");
    assert_eq!(score("once-later").await, Some(1_577_836_800.0));

    // --force releases it anyway, with a warning.
    let forced = rqs(&url, &["quarantine", "release", "bad-due", "--force"]).expect(0);
    assert!(
        forced.stdout.starts_with("released bad-due"),
        "{}",
        forced.stdout
    );
    for part in ["WARN", "meta is JSON", "likely"] {
        assert!(
            forced.stderr.contains(part),
            "{part:?} in {}",
            forced.stderr
        );
    }
    assert_eq!(score("bad-due").await, Some(1_577_880_000.0));
    assert!(quarantined(&url).is_empty());
}

#[tokio::test]
async fn commands_write_nothing_to_stderr_on_success() {
    let (_server, url) = populated().await;
    for args in [&["status"][..], &["list", "--json"]] {
        let out = rqs(&url, args).expect(0);
        assert!(!out.stdout.is_empty(), "{args:?}");
        assert_eq!(out.stderr, "", "{args:?} wrote to stderr");
    }
    // The connection is still logged, at debug level.
    let verbose = rqs(&url, &["-v", "status"]).expect(0);
    assert!(
        verbose.stderr.contains("connecting to Redis"),
        "{}",
        verbose.stderr
    );
}

/// A job's score in the schedule, `None` when it is not scheduled.
pub(crate) async fn scheduled_score(conn: redis::aio::ConnectionManager, id: &str) -> Option<f64> {
    q(
        &conn,
        redis::cmd("ZSCORE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(id),
    )
    .await
}

//! `rqs list` filters, limits and streams, and the relative times (`now`, `+5m`) every
//! time argument takes, on jobs written by the real Python client; and `rqs list` on
//! 100,000 jobs, timed but not judged by the clock.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Instant;

use rqs_testkit::RedisServer;
use rqs_testkit::python::PythonEnv;
use serde_json::Value;

use crate::commands::scheduled_score;
use crate::common::{T, python_env, rqs, scenario};
use crate::support::{Daemon, now_secs, q, root, rqs_bin};

/// Runs `tests/ops/py/list_jobs.py COMMAND URL` with the interop job functions importable.
fn list_jobs(env: &PythonEnv, command: &str, url: &str) {
    let py = root().join("tests");
    let output = Command::new(env.python())
        .arg(py.join("ops/py/list_jobs.py"))
        .args([command, url])
        .env("PYTHONPATH", py.join("interop/py"))
        .env("TZ", "UTC")
        .output()
        .expect("cannot run python");
    assert!(
        output.status.success(),
        "list_jobs.py {command} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The twelve jobs of `list_jobs.py populate`.
const ALL: [&str; 12] = [
    "report-1",
    "welcome-1",
    "add-1",
    "report-2",
    "add-2",
    "digest-1",
    "welcome-2",
    "add-3",
    "report-3",
    "add-4",
    "every-hour",
    "yearly",
];

async fn populated() -> (RedisServer, String) {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    list_jobs(&env, "populate", &url);
    (server, url)
}

/// The ids `rqs list ARGS --json` prints, in its order.
fn ids(url: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    rqs(url, &all)
        .expect(0)
        .json()
        .as_array()
        .expect("a JSON list")
        .iter()
        .map(|job| job["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// The rows of a table (the lines between the header and the blank line).
fn rows(table: &str) -> Vec<&str> {
    table
        .lines()
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect()
}

#[tokio::test]
async fn list_filters_on_the_function_the_id_and_the_queue() {
    let (_server, url) = populated().await;
    let reports = ["report-1", "report-2", "report-3"];
    let mail = ["welcome-1", "digest-1", "welcome-2"];
    let adds = ["add-1", "add-2", "add-3", "add-4"];
    // (flags, the ids listed, in due order)
    let cases: &[(&[&str], &[&str])] = &[
        (&["--function", "reports.daily.*"], &reports),
        (
            &["--function", "*.send_report"],
            &["report-1", "report-2", "report-3", "yearly"],
        ),
        (&["--function", "tasks.mail.send_*"], &mail),
        (&["--function", "tasks.*", "--queue", "reports"], &[]),
        (
            &["--function", "*.send_welcome", "--queue", "mail"],
            &["welcome-1", "welcome-2"],
        ),
        (&["--function", "rqs_interop_jobs.ad?"], &adds),
        (&["--function", "rqs_interop_jobs.[!a]*"], &["every-hour"]),
        (&["--function", "reports.daily.send_report"], &reports),
        (&["--function", "reports"], &[]),
        (&["--id", "add-[1-2]"], &["add-1", "add-2"]),
        (
            &["--id", "*-1"],
            &["report-1", "welcome-1", "add-1", "digest-1"],
        ),
        (&["--id", "report-*", "--function", "tasks.*"], &[]),
        (&["--id", "??????-?", "--queue", "mail"], &["digest-1"]),
        (&["--queue", "mail"], &mail),
    ];
    for (flags, want) in cases {
        assert_eq!(ids(&url, flags), *want, "{flags:?}");
    }
    let table = rqs(
        &url,
        &["list", "--function", "*.send_report", "--queue", "reports"],
    )
    .expect(0)
    .stdout;
    assert_eq!(rows(&table).len(), 4, "{table}");
    assert!(
        rows(&table).iter().all(|l| l.contains(".send_report")),
        "{table}"
    );
    assert!(!table.contains("showing"), "nothing was cut:\n{table}");
    let none = rqs(&url, &["list", "--id", "report-*", "--function", "tasks.*"]).expect(0);
    assert_eq!(none.stdout, "No scheduled job matches.\n");

    // A pattern that is not one is refused before connecting.
    for (flag, bad, says) in [
        ("--function", "tasks.[a-", "a [ is not closed"),
        ("--id", "[z-a]*", "the range z-a is backwards"),
    ] {
        let out = rqs(&url, &["list", flag, bad]).expect(2);
        assert!(out.stderr.contains(says), "{bad}: {}", out.stderr);
    }
}

#[tokio::test]
async fn list_says_what_it_cut_and_limit_0_lists_all() {
    let (_server, url) = populated().await;
    let full = rqs(&url, &["list"]).expect(0).stdout;
    assert_eq!(rows(&full).len(), ALL.len(), "{full}");
    assert!(
        !full.contains("showing"),
        "the default limit cut nothing:\n{full}"
    );
    // (flags, rows printed, the last line: None when nothing was cut)
    let cases: &[(&[&str], usize, Option<&str>)] = &[
        (&["--limit", "3"], 3, Some("showing 3 of 12")),
        (&["--limit", "11"], 11, Some("showing 11 of 12")),
        (&["--limit", "12"], 12, None),
        (&["--limit", "0"], 12, None),
        // The hashes of every page read: the whole schedule fits in one.
        (
            &["--function", "tasks.*", "--limit", "2"],
            2,
            Some("showing 2 of 3"),
        ),
        (&["--function", "tasks.*", "--limit", "3"], 3, None),
        (
            &["--queue", "default", "--limit", "1"],
            1,
            Some("showing 1 of 5"),
        ),
        (&["--id", "*-1", "--limit", "2"], 2, Some("showing 2 of 4")),
        (&["--id", "*-1", "--limit", "0"], 4, None),
        (&["--until", "+90m", "--limit", "1"], 1, None),
        (
            &["--until", "+150m", "--limit", "1"],
            1,
            Some("showing 1 of 2"),
        ),
    ];
    for (flags, printed, last) in cases {
        let mut args = vec!["list"];
        args.extend_from_slice(flags);
        let table = rqs(&url, &args).expect(0).stdout;
        assert_eq!(rows(&table).len(), *printed, "{flags:?}:\n{table}");
        let cut = table.lines().skip(1).find(|l| l.starts_with("showing"));
        assert_eq!(cut, *last, "{flags:?}:\n{table}");
        if let Some(line) = last {
            assert!(
                table.ends_with(&format!("\n\n{line}\n")),
                "{flags:?}:\n{table}"
            );
        }
    }
    assert_eq!(ids(&url, &["--limit", "0"]), ALL);
    assert_eq!(ids(&url, &["--limit", "2"]), ALL[..2]);
    assert_eq!(rqs(&url, &["list", "--limit", "-1"]).expect(2).code, 2);
}

#[tokio::test]
async fn jsonl_prints_the_jobs_of_json_one_object_per_line() {
    let (_server, url) = populated().await;
    for flags in [
        &["--limit", "0"][..],
        &["--limit", "5"],
        &["--function", "tasks.*"],
        &["--id", "add-*", "--limit", "2"],
        &["--id", "no-such-*"],
    ] {
        let mut json_args = vec!["list", "--json"];
        json_args.extend_from_slice(flags);
        let json = rqs(&url, &json_args).expect(0).json();
        let mut lines_args = vec!["list", "--jsonl"];
        lines_args.extend_from_slice(flags);
        let out = rqs(&url, &lines_args).expect(0);
        let lines: Vec<Value> = out
            .stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l)
                    .unwrap_or_else(|e| panic!("{flags:?}: not one JSON value ({e}): {l:?}"));
                assert!(v.is_object(), "{flags:?}: {l}");
                v
            })
            .collect();
        assert_eq!(Value::Array(lines), json, "{flags:?}");
        assert!(out.stderr.is_empty(), "{}", out.stderr);
    }
    let both = rqs(&url, &["list", "--json", "--jsonl"]).expect(2);
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
}

/// Every time argument takes `now` and `+N` (s, m, h, d), counted from the second the
/// command reads it: the score lands between the seconds read before and after it.
#[tokio::test]
async fn every_time_argument_takes_now_and_times_from_now() {
    let env = python_env().await;
    let (server, url) = populated().await;
    let conn = server.connection().await;
    let score = async |id: &'static str| scheduled_score(conn.clone(), id).await.unwrap();
    // A due job whose meta rqs cannot read: one burst quarantines it.
    scenario(&env, &["bad-due", &url, "bad-due"]);
    let mut burst = Daemon::start(&["run", "--burst", "-u", &url, "--name", "burst-1"]);
    assert_eq!(burst.exit_code(T), 0, "{}", burst.log());
    q::<()>(&conn, redis::cmd("HDEL").arg("rq:job:bad-due").arg("meta")).await;

    // (command, the id whose score it sets, seconds from now)
    let cases: &[(&[&str], &'static str, i64)] = &[
        (&["reschedule", "add-1", "now"], "add-1", 0),
        (&["reschedule", "add-2", "+5m"], "add-2", 300),
        (&["reschedule", "add-3", "+30s", "--json"], "add-3", 30),
        (&["reschedule", "add-4", "+2h"], "add-4", 7_200),
        (&["reschedule", "every-hour", "+1d"], "every-hour", 86_400),
        (
            &[
                "schedule",
                "rqs_interop_jobs.add",
                "1",
                "2",
                "--at",
                "now",
                "--id",
                "at-now",
            ],
            "at-now",
            0,
        ),
        (
            &[
                "schedule",
                "rqs_interop_jobs.add",
                "3",
                "--at",
                "+5m",
                "--id",
                "at-5m",
            ],
            "at-5m",
            300,
        ),
        (
            &["quarantine", "release", "bad-due", "--at", "+1h"],
            "bad-due",
            3_600,
        ),
    ];
    for (args, id, ahead) in cases {
        let before = now_secs();
        rqs(&url, args).expect(0);
        let after = now_secs();
        let got = score(id).await;
        assert!(
            ((before + ahead) as f64..=(after + ahead) as f64).contains(&got),
            "{args:?}: {id} at {got}, not within {ahead} s of [{before}, {after}]"
        );
    }
    // `--until` counts the same way: the jobs due by now, by five minutes from now.
    let due_by = |until| {
        ids(&url, &["--until", until])
            .into_iter()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(due_by("now"), set(&["add-1", "at-now"]));
    assert_eq!(
        due_by("+5m"),
        set(&["add-1", "at-now", "add-3", "add-2", "at-5m"])
    );
}

#[tokio::test]
async fn a_bad_time_from_now_is_refused_with_what_is_wrong() {
    let (server, url) = populated().await;
    let conn = server.connection().await;
    let before = scheduled_score(conn.clone(), "add-1").await;
    // (the time, what the message says)
    let bad = [
        ("+", "a number and a unit must follow the +"),
        ("+5x", "'x' is not a unit (s, m, h or d)"),
        ("+30", "the number needs a unit (s, m, h or d)"),
        ("+1.5h", "a whole number and a unit"),
        ("-5m", "a relative time counts forward from now (+5m)"),
        ("+99999999999999d", "is out of range"),
        ("+3000000d", "is out of range"),
        ("soon", "is not an RFC 3339 time"),
    ];
    for (time, says) in bad {
        for args in [
            vec!["reschedule", "add-1", time],
            vec!["list", "--until", time],
            vec![
                "schedule",
                "rqs_interop_jobs.add",
                "--at",
                time,
                "--id",
                "never",
            ],
            vec!["quarantine", "release", "add-1", "--at", time],
        ] {
            let out = rqs(&url, &args).expect(2);
            assert!(
                out.stderr.contains(&format!("{time:?}")) && out.stderr.contains(says),
                "{args:?}: {}",
                out.stderr
            );
        }
    }
    assert_eq!(scheduled_score(conn.clone(), "add-1").await, before);
    assert_eq!(scheduled_score(conn.clone(), "never").await, None);
}

/// 100,000 scheduled jobs, each a copy of one the Python client wrote: `rqs list` reads
/// one page of them. The wall times are printed, for the record; none is asserted.
#[tokio::test]
async fn list_reads_one_page_of_100000_jobs() {
    const JOBS: usize = 100_000;
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    list_jobs(&env, "template", &url);
    let template: Vec<(Vec<u8>, Vec<u8>)> =
        q(&conn, redis::cmd("HGETALL").arg("rq:job:template")).await;
    let first = now_secs() + 86_400;
    for chunk in (0..JOBS).collect::<Vec<_>>().chunks(5_000) {
        let mut pipe = redis::pipe();
        for &i in chunk {
            let id = format!("bulk-{i:06}");
            pipe.cmd("HSET")
                .arg(format!("rq:job:{id}"))
                .arg(&template)
                .ignore();
            pipe.cmd("ZADD")
                .arg("rq:scheduler:scheduled_jobs")
                .arg(first + i as i64)
                .arg(&id)
                .ignore();
        }
        let () = pipe.query_async(&mut conn.clone()).await.unwrap();
    }
    q::<()>(
        &conn,
        redis::cmd("ZREM")
            .arg("rq:scheduler:scheduled_jobs")
            .arg("template"),
    )
    .await;

    // Built (or found up to date) before the clock starts.
    rqs_bin();
    let timed = |args: &[&str]| {
        let start = Instant::now();
        let out = rqs(&url, args).expect(0);
        eprintln!(
            "rqs {}: {:?} on {JOBS} jobs",
            args.join(" "),
            start.elapsed()
        );
        out.stdout
    };
    let page = timed(&["list"]);
    assert_eq!(rows(&page).len(), 100);
    assert!(rows(&page)[0].contains("bulk-000000"), "{page}");
    assert!(page.ends_with("\n\nshowing 100 of 100000\n"), "{page}");
    // A function filter stops at the page where the limit is reached, and says so.
    let function = timed(&["list", "--function", "rqs_interop_jobs.add", "--limit", "5"]);
    let at_least: u64 = function
        .split_once("\n\nshowing 5 of at least ")
        .and_then(|(_, n)| n.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("{function}"));
    assert!((5..=JOBS as u64).contains(&at_least), "{function}");
    // An id filter walks every id (no hash) to count.
    let id = timed(&["list", "--id", "bulk-09*", "--limit", "5"]);
    assert!(rows(&id)[0].contains(" bulk-090000 "), "{id}");
    assert!(id.ends_with("\n\nshowing 5 of 10000\n"), "{id}");
    // Every job once, in due order, a line each.
    let lines = timed(&["list", "--limit", "0", "--jsonl"]);
    let listed: Vec<String> = lines
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    let want: Vec<String> = (0..JOBS).map(|i| format!("bulk-{i:06}")).collect();
    assert!(
        listed == want,
        "{} lines, not the {JOBS} jobs in order",
        listed.len()
    );
}

//! `rqs schedule`: the job it writes, its output, and its refusals.

use std::process::{Command, Output};

use rqs_testkit::RedisServer;

use crate::support::{Jobs, now_secs, q, rqs_bin};

/// Runs `rqs` to completion with `args`, without the caller's `RQ_REDIS_*` settings.
fn rqs(args: &[&str]) -> Output {
    let mut cmd = Command::new(rqs_bin());
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RQ_REDIS_") {
            cmd.env_remove(var);
        }
    }
    cmd.args(args)
        .env_remove("RUST_LOG")
        .env("TZ", "UTC")
        .output()
        .expect("cannot run rqs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn it_writes_the_job_and_prints_its_id() {
    let server = RedisServer::start();
    let url = server.url();
    let out = rqs(&[
        "schedule",
        "tasks.add",
        "1",
        "{\"nested\": [true, null, 2.5]}",
        "word",
        "--at",
        "2030-01-01T09:00:00Z",
        "--interval",
        "90",
        "--repeat",
        "4",
        "--queue",
        "reports",
        "--id",
        "cli-job",
        "--timeout",
        "2m",
        "--ttl",
        "3600",
        "--meta",
        "owner=\"ops\"",
        "--kwarg",
        "big=123456789012345678901234567890",
        "--depends-on",
        "parent",
        "-u",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "cli-job\n");

    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    assert_eq!(jobs.score("cli-job").await.unwrap(), Some(1_893_488_400.0));
    let field = |name: &'static str| {
        let conn = conn.clone();
        async move {
            let v: Option<String> =
                q(&conn, redis::cmd("HGET").arg("rq:job:cli-job").arg(name)).await;
            v
        }
    };
    assert_eq!(field("origin").await.as_deref(), Some("reports"));
    assert_eq!(field("timeout").await.as_deref(), Some("120"));
    assert_eq!(field("ttl").await.as_deref(), Some("3600"));
    assert_eq!(field("result_ttl").await.as_deref(), Some("-1"));
    assert_eq!(field("status").await.as_deref(), Some("scheduled"));
    assert_eq!(
        field("dependency_ids").await.as_deref(),
        Some(r#"["parent"]"#)
    );
    assert_eq!(
        field("description").await.as_deref(),
        Some(
            "tasks.add(1, {'nested': [True, None, 2.5]}, 'word', big=123456789012345678901234567890)"
        )
    );

    // Without --id: a uuid4, due at once for a time in the past.
    let out = rqs(&[
        "schedule",
        "tasks.ping",
        "--at",
        "2020-01-01T00:00:00Z",
        "-u",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = text(&out.stdout).trim().to_owned();
    assert_eq!(id.len(), 36, "{id}");
    assert_eq!(jobs.score(&id).await.unwrap(), Some(1_577_836_800.0));

    // --in counts from now; --cron starts at the next match.
    let before = now_secs();
    let out = rqs(&[
        "schedule",
        "tasks.ping",
        "--in",
        "5m",
        "--id",
        "in5",
        "-u",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let score = jobs.score("in5").await.unwrap().unwrap() as i64;
    assert!(
        (before + 300..=now_secs() + 300).contains(&score),
        "{score}"
    );
    let out = rqs(&[
        "schedule",
        "tasks.ping",
        "--cron",
        "0 0 1 1 *",
        "--id",
        "yearly",
        "-u",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let score = jobs.score("yearly").await.unwrap().unwrap() as i64;
    assert!(score > now_secs() && score % 86_400 == 0, "{score}");
    assert_eq!(jobs.count(None).await.unwrap(), 4);
}

#[tokio::test]
async fn bad_input_exits_2_and_writes_nothing() {
    let server = RedisServer::start();
    let url = server.url();
    for (args, message) in [
        (
            &["schedule", "not a path", "--in", "5m"][..],
            "invalid function path",
        ),
        (
            &["schedule", "m.f", "[1, 2", "--in", "5m"],
            "argument 1 \"[1, 2\" is not valid JSON",
        ),
        (
            &["schedule", "m.f", "--kwarg", "k={", "--in", "5m"],
            "--kwarg k \"{\" is not valid JSON",
        ),
        (
            &["schedule", "m.f", "--meta", "novalue", "--in", "5m"],
            "must look like KEY=JSON",
        ),
        (
            &["schedule", "m.f", "--cron", "0 24 * * *"],
            "invalid cron string",
        ),
        (
            &["schedule", "m.f", "--in", "5m", "--interval", "-10"],
            "--interval -10 is negative",
        ),
        (
            &[
                "schedule",
                "m.f",
                "--at",
                "2030-01-01T00:00:00Z",
                "--repeat",
                "3",
            ],
            "needs an interval",
        ),
        (
            &["schedule", "m.f", "--at", "next week"],
            "not an RFC 3339 time",
        ),
        (&["schedule", "m.f", "--in", "5 minutes"], "not a duration"),
        (
            &["schedule", "m.f", "--in", "5m", "--id", "a:b"],
            "invalid job id",
        ),
        (
            &["schedule", "m.f", "--in", "5m", "--ttl", "0"],
            "job ttl must be from 1",
        ),
        (&["schedule", "m.f"], "--at"),
        // A meta entry the scheduler would quarantine the job for, as `rqs check` says.
        (
            &["schedule", "m.f", "--in", "5m", "--meta", "interval=-1"],
            "interval -1 is negative",
        ),
        (
            &[
                "schedule",
                "m.f",
                "--in",
                "5m",
                "--meta",
                "cron_string=\"61 * * * *\"",
            ],
            "invalid cron string \"61 * * * *\"",
        ),
        (
            &["schedule", "m.f", "--in", "5m", "--meta", "repeat=\"x\""],
            "would quarantine this job",
        ),
        (
            &["schedule", "m.f", "--in", "99999999999d"],
            "--in \"99999999999d\" is out of range",
        ),
    ] {
        let mut full = args.to_vec();
        full.extend(["-u", &url]);
        let out = rqs(&full);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(message),
            "{args:?}: expected {message:?} in {}",
            text(&out.stderr)
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed {}",
            text(&out.stdout)
        );
    }
    let conn = server.connection().await;
    let size: i64 = q(&conn, &mut redis::cmd("DBSIZE")).await;
    assert_eq!(size, 0, "nothing was written");
}

#[test]
fn an_unreachable_redis_exits_1() {
    // Port 1: never a test server's (bind(0) hands out ephemeral ports only).
    let port = "1";
    let out = rqs(&[
        "schedule",
        "m.f",
        "--in",
        "5m",
        "-H",
        "127.0.0.1",
        "-p",
        port,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot reach Redis"),
        "{}",
        text(&out.stderr)
    );
}

//! Schedules as code against a private Redis: `rqs plan`, `apply` and `export` (exit
//! codes, idempotence byte for byte, the three kinds of change, removal, conflicts and
//! `--adopt`, the migration recipe), a kill -9 at every stage of a 10,000-job apply, and
//! two daemons applying the same file with `--schedule`.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use redis::aio::ConnectionManager;
use rqs_testkit::RedisServer;

use crate::common::{T, rqs, snapshot};
use crate::support::{Daemon, eventually, q, rqs_bin};

const SCHEDULE: &str = "rq:scheduler:scheduled_jobs";

const FILE: &str = r#"# What the reports team runs.
[defaults]
queue = "reports"
timeout = "10m"

[[job]]
id = "daily-report"
func = "tasks.daily_report"
cron = "0 6 * * *"
args = ["eu", 3]
kwargs = { dry_run = false }

[[job]]
id = "cleanup"
func = "tasks.cleanup"
interval = "5m"
repeat = 10
meta = { owner = "ops" }

[[job]]
id = "launch"
func = "tasks.launch"
at = 2030-01-01T09:00:00Z
"#;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn score(conn: &ConnectionManager, id: &str) -> Option<f64> {
    q(conn, redis::cmd("ZSCORE").arg(SCHEDULE).arg(id)).await
}

async fn field(conn: &ConnectionManager, id: &str, name: &str) -> Option<String> {
    q(
        conn,
        redis::cmd("HGET").arg(format!("rq:job:{id}")).arg(name),
    )
    .await
}

#[tokio::test]
async fn plan_and_apply_add_change_and_remove_and_a_second_apply_changes_nothing() {
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "schedule.toml", FILE);

    let before = snapshot(&conn).await;
    let planned = rqs(&url, &["plan", &file]).expect(4);
    assert!(
        planned.stdout.contains("+ daily-report"),
        "{}",
        planned.stdout
    );
    assert!(
        planned
            .stdout
            .ends_with("3 to add, 0 to change, 0 to adopt, 0 to remove, 0 unchanged\n"),
        "{}",
        planned.stdout
    );
    assert_eq!(snapshot(&conn).await, before, "plan writes nothing");

    let applied = rqs(&url, &["apply", &file]).expect(0);
    assert!(
        applied.stdout.contains("3 added, 0 changed"),
        "{}",
        applied.stdout
    );
    let owners: Vec<(String, String)> =
        q(&conn, redis::cmd("HGETALL").arg("rq:rqs:schedule-owners")).await;
    assert_eq!(owners.len(), 3);
    assert!(owners.iter().all(|(_, set)| set == "default"));
    // rq-scheduler's fields: the meta holds only what rq-scheduler puts there.
    assert_eq!(
        field(&conn, "launch", "origin").await.as_deref(),
        Some("reports")
    );
    assert_eq!(
        field(&conn, "cleanup", "timeout").await.as_deref(),
        Some("600")
    );
    let listed = rqs(&url, &["list", "--json"]).expect(0).json();
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");

    // Twice: nothing changes, byte for byte, however much later.
    let once = snapshot(&conn).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let again = rqs(&url, &["apply", &file]).expect(0);
    assert!(
        again
            .stdout
            .ends_with("0 added, 0 changed, 0 adopted, 0 removed, 3 unchanged\n"),
        "{}",
        again.stdout
    );
    assert_eq!(snapshot(&conn).await, once, "a second apply writes nothing");
    rqs(&url, &["plan", &file]).expect(0);

    // The three kinds of change, and a removal.
    let (daily, cleanup) = (
        score(&conn, "daily-report").await,
        score(&conn, "cleanup").await,
    );
    let edited = FILE
        .replace("args = [\"eu\", 3]", "args = [\"us\", 3]")
        .replace("interval = \"5m\"", "interval = \"1h\"")
        .replace(
            "[[job]]\nid = \"launch\"\nfunc = \"tasks.launch\"\nat = 2030-01-01T09:00:00Z\n",
            "",
        );
    let edited = write(&dir, "edited.toml", &edited);
    let plan = rqs(&url, &["plan", "--json", &edited]).expect(4).json();
    assert_eq!(plan["summary"]["change"], 2, "{plan}");
    assert_eq!(plan["summary"]["remove"], 1, "{plan}");
    let change = |id: &str| {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        change("daily-report")["fields"]["args"]["new"],
        serde_json::json!(["us", 3])
    );
    assert_eq!(change("cleanup")["fields"]["interval"]["old"], 300);
    assert_eq!(change("launch")["action"], "remove");
    let applied = rqs(&url, &["apply", &edited]).expect(0);
    assert!(
        applied
            .stdout
            .contains("~ daily-report\n    args: [\"eu\",3] -> [\"us\",3]"),
        "{}",
        applied.stdout
    );
    // Arguments only: the next run stays; a new interval: the next run moves.
    assert_eq!(score(&conn, "daily-report").await, daily);
    let moved = score(&conn, "cleanup").await.unwrap();
    assert!(moved > cleanup.unwrap() + 3000.0, "{moved} vs {cleanup:?}");
    assert_eq!(score(&conn, "launch").await, None);
    // Removed from the schedule and the set; its hash stays, as rq-scheduler's cancel
    // leaves it.
    let kept: bool = q(&conn, redis::cmd("EXISTS").arg("rq:job:launch")).await;
    assert!(kept);
    let set: Vec<String> = q(
        &conn,
        redis::cmd("HKEYS").arg("rq:rqs:schedule-set:default"),
    )
    .await;
    assert_eq!(set.len(), 2);
}

#[tokio::test]
async fn declared_ids_scheduled_elsewhere_are_refused_until_adopted_and_export_then_apply_is_a_no_op()
 {
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    let dir = tempfile::tempdir().unwrap();
    // What application code registered at start-up, as rq-scheduler's client writes it.
    rqs(
        &url,
        &[
            "schedule",
            "tasks.daily_report",
            "eu",
            "3",
            "--kwarg",
            "dry_run=false",
            "--cron",
            "0 6 * * *",
            "--id",
            "daily-report",
            "--queue",
            "reports",
            "--timeout",
            "600",
        ],
    )
    .expect(0);
    rqs(
        &url,
        &[
            "schedule",
            "tasks.sync",
            "--at",
            "+1h",
            "--interval",
            "60",
            "--id",
            "sync",
        ],
    )
    .expect(0);
    let app_daily = score(&conn, "daily-report").await.unwrap();
    let file = write(&dir, "schedule.toml", FILE);

    let before = snapshot(&conn).await;
    let refused = rqs(&url, &["apply", &file]).expect(5);
    assert!(
        refused.stdout.contains("! daily-report"),
        "{}",
        refused.stdout
    );
    assert!(
        refused.stderr.contains("--adopt takes them over"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        snapshot(&conn).await,
        before,
        "a refused apply writes nothing"
    );
    rqs(&url, &["plan", &file]).expect(5);

    // The migration recipe: export everything, apply it with --adopt.
    let exported = rqs(&url, &["export", "--all"]).expect(0).stdout;
    assert!(exported.contains("id = \"sync\""), "{exported}");
    let everything = write(&dir, "everything.toml", &exported);
    let adopted = rqs(&url, &["apply", "--adopt", &everything]).expect(0);
    assert!(
        adopted.stdout.contains("0 added, 0 changed, 2 adopted"),
        "{}",
        adopted.stdout
    );
    // Adopted on the schedule it already had: the next run stays.
    assert_eq!(score(&conn, "daily-report").await, Some(app_daily));
    rqs(&url, &["plan", &everything]).expect(0);
    let exported_again = rqs(&url, &["export"]).expect(0).stdout;
    let again = write(&dir, "again.toml", &exported_again);
    let same = snapshot(&conn).await;
    rqs(&url, &["apply", &again]).expect(0);
    assert_eq!(
        snapshot(&conn).await,
        same,
        "export then apply changes nothing"
    );

    // Another set may not take the jobs without --adopt either.
    let other = rqs(&url, &["plan", "--set", "other", &file]).expect(5);
    assert!(
        other
            .stdout
            .contains("already scheduled by set \"default\""),
        "{}",
        other.stdout
    );
    rqs(&url, &["apply", "--set", "other", "--adopt", &file]).expect(0);
    let owner: String = q(
        &conn,
        redis::cmd("HGET")
            .arg("rq:rqs:schedule-owners")
            .arg("daily-report"),
    )
    .await;
    assert_eq!(owner, "other");
    let left: Vec<String> = q(
        &conn,
        redis::cmd("HKEYS").arg("rq:rqs:schedule-set:default"),
    )
    .await;
    assert_eq!(left, ["sync"]);
    // --set that disagrees with the file's own set is a usage error.
    let named = write(&dir, "named.toml", &format!("set = \"billing\"\n{FILE}"));
    let bad = rqs(&url, &["plan", "--set", "other", &named]).expect(2);
    assert!(bad.stderr.contains("disagrees"), "{}", bad.stderr);
}

#[tokio::test]
async fn an_invalid_file_is_refused_with_its_lines_and_writes_nothing() {
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "{FILE}\n[[job]]\nid = \"broken\"\nfunc = \"tasks.x\"\ncron = \"61 * * * *\"\n\n[[job]]\nid = \"cleanup\"\nfunc = \"tasks.y\"\ninterval = 5\n"
    );
    let file = write(&dir, "bad.toml", &text);
    for command in ["plan", "apply"] {
        let out = rqs(&url, &[command, &file]).expect(2);
        assert!(
            out.stderr
                .contains("bad.toml:28:8: job \"broken\": invalid cron string \"61 * * * *\""),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr
                .contains("bad.toml:31:6: job \"cleanup\" is declared twice (first on line 13)"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("2 problems; nothing was written"),
            "{}",
            out.stderr
        );
    }
    let keys: Vec<String> = q(&conn, redis::cmd("KEYS").arg("*")).await;
    assert!(keys.is_empty(), "{keys:?}");
    let daemon_out = Command::new(rqs_bin())
        .args(["run", "-u", &url, "--schedule", &file])
        .output()
        .unwrap();
    assert_eq!(
        daemon_out.status.code(),
        Some(2),
        "the daemon refuses it at start too"
    );
}

/// 10,000 jobs, one in three of each kind.
fn big_file() -> String {
    let mut out = String::from("[defaults]\nqueue = \"bulk\"\n");
    for i in 0..10_000 {
        let when = match i % 3 {
            0 => format!("cron = \"{} * * * *\"", i % 60),
            1 => format!("interval = {}", 60 + i),
            _ => "at = 2031-01-01T00:00:00Z".to_owned(),
        };
        out.push_str(&format!(
            "\n[[job]]\nid = \"job-{i:05}\"\nfunc = \"tasks.work\"\nargs = [{i}]\n{when}\n"
        ));
    }
    out
}

/// How much of a 10,000-job apply Redis holds: (set record, schedule, job hashes).
async fn applied_parts(conn: &ConnectionManager) -> (usize, usize, usize) {
    let record: usize = q(conn, redis::cmd("HLEN").arg("rq:rqs:schedule-set:default")).await;
    let scheduled: usize = q(conn, redis::cmd("ZCARD").arg(SCHEDULE)).await;
    let hashes: Vec<String> = q(conn, redis::cmd("KEYS").arg("rq:job:*")).await;
    (record, scheduled, hashes.len())
}

#[tokio::test]
async fn a_kill_9_at_any_point_of_a_10k_job_apply_leaves_all_of_it_or_none() {
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "big.toml", &big_file());
    let start = |drain: bool| {
        let mut child = Command::new(rqs_bin())
            .args(["apply", &file, "-u", &url])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if drain {
            let mut out = child.stdout.take().unwrap();
            std::thread::spawn(move || {
                let mut sink = Vec::new();
                let _ = out.read_to_end(&mut sink);
            });
        }
        child
    };
    // How long a whole apply takes here.
    let began = std::time::Instant::now();
    assert!(start(true).wait().unwrap().success());
    let whole = began.elapsed();
    assert_eq!(applied_parts(&conn).await, (10_000, 10_000, 10_000));

    // Kills spread over the apply and past it. The plan goes to stdout only after the
    // write, and nobody reads this pipe: a late kill finds the process blocked on it,
    // its write done. So both outcomes are met, and a half-written plan would be seen.
    let (mut none, mut all) = (0, 0);
    for step in 0..=12u32 {
        let () = q(&conn, &mut redis::cmd("FLUSHDB")).await;
        let mut child = start(false);
        tokio::time::sleep(whole * step / 8).await;
        let running = child.try_wait().unwrap().is_none();
        let _ = child.kill();
        let _ = child.wait();
        let parts = applied_parts(&conn).await;
        match parts {
            (0, 0, 0) => none += 1,
            (10_000, 10_000, 10_000) => all += 1,
            half => panic!(
                "a kill -9 at {}/8 of the apply left {half:?} (record, schedule, hashes)",
                step
            ),
        }
        eprintln!("kill at {step}/8 of {whole:?}: running {running}, {parts:?}");
    }
    assert!(
        none > 0 && all > 0,
        "both sides of the write were met: {none} none, {all} all"
    );
}

#[tokio::test]
async fn two_daemons_with_the_same_schedule_apply_it_once_each_activation_and_never_duplicate() {
    let server = RedisServer::start();
    let (url, conn) = (server.url(), server.connection().await);
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "schedule.toml", FILE);
    let start = |name: &str| {
        Daemon::start(&[
            "run",
            "-u",
            &url,
            "--name",
            name,
            "--interval",
            "1",
            "--schedule",
            &file,
        ])
    };
    let mut one = start("one");
    let applied = |d: &Daemon| d.log().matches("applied the schedule file").count();
    eventually(T, "one applies its file", || {
        let n = applied(&one);
        async move { (n == 1).then_some(()) }
    })
    .await;
    assert!(
        one.log()
            .contains("3 added, 0 changed, 0 adopted, 0 removed, 0 unchanged"),
        "{}",
        one.log()
    );
    let two = start("two");
    let scores = |conn: ConnectionManager| async move {
        let s: Vec<(String, f64)> = q(
            &conn,
            redis::cmd("ZRANGE")
                .arg(SCHEDULE)
                .arg(0)
                .arg(-1)
                .arg("WITHSCORES"),
        )
        .await;
        s
    };
    let before = scores(conn.clone()).await;
    assert_eq!(before.len(), 3);
    // The standby writes nothing while one is active: two heartbeats of its own later,
    // it has still applied nothing.
    eventually(T, "two registered and beating", || {
        let conn = conn.clone();
        async move {
            let beat: Option<String> = q(
                &conn,
                redis::cmd("HGET")
                    .arg("rq:scheduler_instance:two")
                    .arg("heartbeat"),
            )
            .await;
            beat.is_some().then_some(())
        }
    })
    .await;
    assert_eq!(applied(&two), 0, "{}", two.log());
    one.kill9();
    eventually(T, "two takes over and applies the file", || {
        let n = applied(&two);
        async move { (n == 1).then_some(()) }
    })
    .await;
    assert!(
        two.log()
            .contains("0 added, 0 changed, 0 adopted, 0 removed, 3 unchanged"),
        "{}",
        two.log()
    );
    assert_eq!(
        scores(conn.clone()).await,
        before,
        "no job twice, no next run moved"
    );
}

//! Hostile and careless input against the real binary: ids that are not UTF-8, ids that
//! forge log lines, huge metas under a memory limit, odd intervals, pid files, a Python
//! scheduler on the same data, keys of the wrong type.

use std::time::Duration;

use nix::sys::signal::Signal;
use redis::aio::ConnectionManager;
use rqs_core::JobId;
use rqs_store::JobAdmin;
use rqs_testkit::RedisServer;
use rqs_testkit::meta::{PyValue, pickled_dict};
use rqs_testkit::{client_job, client_job_with};

use crate::support::{Daemon, Jobs, eventually, instance_field, now_secs, q};

const T: Duration = Duration::from_secs(60);

async fn raw_queue(conn: &ConnectionManager, name: &str) -> Vec<Vec<u8>> {
    q(
        conn,
        redis::cmd("LRANGE")
            .arg(format!("rq:queue:{name}"))
            .arg(0)
            .arg(-1),
    )
    .await
}

/// 500 ids that are not UTF-8 at the head of the schedule used to stay "stale" for ever
/// and block every job behind them. They are jobs like any other: handed over as the
/// bytes they are, and the valid jobs behind them too.
#[tokio::test]
async fn ids_that_are_not_utf8_are_handed_over_and_block_nothing() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    for i in 0..500 {
        let id = JobId::new([b"\xffbad".as_slice(), format!("{i:05}").as_bytes()].concat());
        jobs.0
            .schedule(&id, &client_job("default"), 1.0)
            .await
            .unwrap();
    }
    for i in 0..20 {
        jobs.schedule(&format!("valid-{i:02}"), &client_job("default"), 2.0)
            .await
            .unwrap();
    }
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let queue = raw_queue(&conn, "default").await;
    assert_eq!(queue.len(), 520);
    assert_eq!(queue[0], b"\xffbad00000");
    assert_eq!(queue[519], b"valid-19");
    assert_eq!(jobs.count(None).await.unwrap(), 0);
    assert!(
        d.log().contains("scheduler stopped pushed=520"),
        "{}",
        d.log()
    );
}

/// `x\xc0` (an interval job for `attacker_q`) and `x\u{fffd}` (a one-off job for
/// `default`) at the same score used to collapse into one id: the second job went to the
/// attacker's queue, and again to its own later. Each now goes to its own queue, once.
#[tokio::test]
async fn look_alike_ids_each_reach_their_own_queue_once() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let raw = JobId::new(b"x\xc0".to_vec());
    let replaced = JobId::from("x\u{fffd}");
    let interval = pickled_dict(&[("interval", PyValue::Int(5))]);
    jobs.0
        .schedule(
            &raw,
            &client_job_with("attacker_q", &[("meta", &interval)]),
            5.0,
        )
        .await
        .unwrap();
    jobs.0
        .schedule(&replaced, &client_job("default"), 5.0)
        .await
        .unwrap();
    let before = now_secs();
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert_eq!(raw_queue(&conn, "attacker_q").await, [raw.as_bytes()]);
    assert_eq!(raw_queue(&conn, "default").await, [replaced.as_bytes()]);
    assert_eq!(jobs.0.score(&replaced).await.unwrap(), None);
    let next = jobs.0.score(&raw).await.unwrap().expect("re-armed");
    // Re-armed one interval (5 s) after the hand-off, which came after `before`.
    assert!(next >= (before + 5) as f64, "{next}");
}

/// A job id with a newline or an escape sequence cannot forge a log line or colour the
/// terminal: every logged id is escaped.
#[tokio::test]
async fn ids_cannot_forge_log_lines() {
    let server = RedisServer::start();
    let jobs = Jobs::new(server.connection().await);
    let forged = "evil\n2026-12-04T00:00:00.000000Z ERROR forged line";
    let coloured = "paint\x1b[31mred";
    for (n, id) in [forged, coloured].into_iter().enumerate() {
        // A corrupt ttl: the job is quarantined, with its id in a warning.
        let hash = client_job_with("default", &[("ttl", b"soon")]);
        jobs.schedule(id, &hash, n as f64 + 1.0).await.unwrap();
    }
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let log = d.log();
    assert!(log.contains("evil\\n2026-12-04"), "{log}");
    assert!(log.contains("paint\\u{1b}[31mred"), "{log}");
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2026-12-04T00:00:00.000000Z ERROR")),
        "{log}"
    );
    assert!(!log.contains('\x1b'), "no raw escape byte: {log}");
}

/// Ten jobs with 5 MB metas used to cost over 650 MB inside one batch, and aborted under
/// a 400 MB address-space limit. Such metas are now quarantined without being read, and
/// jobs with large metas under the limit (ten of 200 KB) are moved and patched in
/// batches bounded by bytes, all within the limit.
#[tokio::test]
async fn ten_jobs_with_5_mb_metas_fit_in_a_400_mb_address_space() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let huge = "m".repeat(5 * 1024 * 1024);
    let large = "l".repeat(200 * 1024);
    for (prefix, blob) in [("huge", &huge), ("large", &large)] {
        let meta = pickled_dict(&[
            ("interval", PyValue::Int(600)),
            ("repeat", PyValue::Int(3)),
            ("blob", PyValue::Str(blob)),
        ]);
        for i in 0..10 {
            let hash = client_job_with("default", &[("meta", &meta)]);
            jobs.schedule(&format!("{prefix}-{i}"), &hash, 1.0)
                .await
                .unwrap();
        }
    }
    let mut d = Daemon::start_limited(&["--burst", "-u", &server.url()], 400_000);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let queue = crate::support::queue(&conn, "default").await;
    assert_eq!(queue.len(), 10, "{queue:?}");
    assert!(queue.iter().all(|id| id.starts_with("large-")));
    let quarantined = jobs.quarantined().await.unwrap();
    assert_eq!(quarantined.len(), 10);
    assert!(
        quarantined
            .iter()
            .all(|q| q.job_id.to_str().unwrap().starts_with("huge-")
                && q.reason.contains("limit of one hand-off"))
    );
    let patched: Vec<u8> = q(&conn, redis::cmd("HGET").arg("rq:job:large-9").arg("meta")).await;
    let parsed = rqs_pickle::Meta::parse(&patched).unwrap();
    assert_eq!(parsed.get("repeat"), Some(&rqs_pickle::Value::Int(2)));
    assert_eq!(
        &patched[patched.len() - large.len() - 2..patched.len() - 2],
        large.as_bytes(),
        "the rest of the meta is kept byte for byte"
    );
}

/// A meta beyond the per-job limit is quarantined with its size, never read into memory.
#[tokio::test]
async fn a_meta_beyond_the_limit_is_quarantined_not_read() {
    let server = RedisServer::start();
    let jobs = Jobs::new(server.connection().await);
    let blob = "h".repeat(600 * 1024);
    let meta = pickled_dict(&[("blob", PyValue::Str(&blob))]);
    jobs.schedule("huge", &client_job_with("default", &[("meta", &meta)]), 1.0)
        .await
        .unwrap();
    jobs.schedule("small", &client_job("default"), 2.0)
        .await
        .unwrap();
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let quarantined = jobs.quarantined().await.unwrap();
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0]
            .reason
            .contains("more than the 524288-byte limit"),
        "{:?}",
        quarantined[0]
    );
    assert_eq!(jobs.count(None).await.unwrap(), 0);
}

/// rq-scheduler re-arms an interval under one second at every poll; rqs used to push it
/// once and drop it. It keeps Python's score and is handed over once a second at most.
#[tokio::test]
async fn a_sub_second_interval_is_rearmed_not_dropped() {
    let server = RedisServer::start();
    let jobs = Jobs::new(server.connection().await);
    let meta = pickled_dict(&[("interval", PyValue::Float(0.5))]);
    jobs.schedule("fast", &client_job_with("default", &[("meta", &meta)]), 1.0)
        .await
        .unwrap();
    let before = now_secs();
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let score = jobs.score("fast").await.unwrap().expect("still scheduled");
    assert_eq!(score.fract(), 0.5, "{score}");
    assert!(score > before as f64, "{score}");
}

/// A second signal ends the process at once, even while a Redis call hangs. The daemon
/// must be inside the hung call when the signals come: a round where it was still
/// asleep (it then stops cleanly, exit 0) proves nothing and is repeated, five times at
/// most.
#[tokio::test]
async fn a_second_signal_exits_at_once_while_redis_hangs() {
    for round in 1..=5 {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let mut d = Daemon::start(&["-u", &server.url(), "--name", "hung"]);
        eventually(T, "the birth", || async {
            instance_field(&conn, "hung", "birth").await
        })
        .await;
        // Block the server; the daemon's next call (within a second) hangs on it.
        let sleeper = {
            let mut conn = server.connection().await;
            tokio::spawn(async move {
                let _: redis::RedisResult<()> = redis::cmd("DEBUG")
                    .arg("SLEEP")
                    .arg(60)
                    .query_async(&mut conn)
                    .await;
            })
        };
        tokio::time::sleep(Duration::from_secs(3)).await;
        d.signal(Signal::SIGTERM);
        // Two signals sent back to back can merge into one: send the second only once
        // the first was seen.
        eventually(T, "the first signal seen", || async {
            d.log().contains("shutting down").then_some(())
        })
        .await;
        d.signal(Signal::SIGTERM);
        let code = d.exit_code(T);
        let still_asleep = !sleeper.is_finished();
        sleeper.abort();
        if code == 0 {
            eprintln!("round {round}: the daemon was not in a Redis call yet; again");
            continue;
        }
        assert_eq!(code, 130, "{}", d.log());
        assert!(still_asleep, "rqs exited only once Redis woke up");
        return;
    }
    panic!("five rounds without the daemon inside the hung call");
}

/// A second instance never touches a live instance's pid file, whatever it fails on, and
/// a pid file path that is a symlink is refused (the link's target is left intact).
#[tokio::test]
async fn pid_files_are_never_stolen_nor_followed() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let dir = tempfile::tempdir().unwrap();
    let pid = dir.path().join("rqs.pid");
    let pid_arg = pid.to_str().unwrap();
    let url = server.url();
    let first = Daemon::start(&["-u", &url, "--name", "one", "--pid", pid_arg]);
    eventually(T, "the first pid file", || async {
        std::fs::read_to_string(&pid)
            .ok()
            .filter(|t| *t == first.pid().to_string())
    })
    .await;
    eventually(T, "the first birth", || async {
        instance_field(&conn, "one", "birth").await
    })
    .await;
    // Same name and same pid file: refused, and the first one's file stays.
    let mut second = Daemon::start(&["-u", &url, "--name", "one", "--pid", pid_arg, "-b"]);
    assert_ne!(second.exit_code(T), 0);
    assert!(
        second.log().contains("belongs to the running process"),
        "{}",
        second.log()
    );
    assert_eq!(
        std::fs::read_to_string(&pid).unwrap(),
        first.pid().to_string()
    );
    // A symlink planted as the pid file: refused, the victim untouched.
    let victim = dir.path().join("victim.conf");
    std::fs::write(&victim, "precious").unwrap();
    let link = dir.path().join("link.pid");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let mut third = Daemon::start(&["-u", &url, "-b", "--pid", link.to_str().unwrap()]);
    assert_eq!(third.exit_code(T), 1, "{}", third.log());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    drop(first);
}

/// A live Python `rqscheduler` on the same Redis is warned about at start-up, and refused
/// with `--exclusive`: the two cannot safely share a schedule.
#[tokio::test]
async fn a_live_python_scheduler_is_warned_about_and_refused_with_exclusive() {
    use rqs_testkit::python::{self, Stack};
    let env = tokio::task::spawn_blocking(|| python::ensure(Stack::Rq2))
        .await
        .unwrap();
    let server = RedisServer::start();
    let conn = server.connection().await;
    let mut python = std::process::Command::new(env.bin("rqscheduler"))
        .args(["-u", &server.url(), "-i", "60"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("cannot start rqscheduler");
    // Python registers its instance record (birth only, no rqs marker) at start-up.
    eventually(T, "rqscheduler's birth", || async {
        let keys: Vec<String> = q(&conn, redis::cmd("KEYS").arg("rq:scheduler_instance:*")).await;
        (!keys.is_empty()).then_some(())
    })
    .await;
    let mut warned = Daemon::start(&["--burst", "-u", &server.url(), "-i", "1"]);
    eventually(T, "the warning", || async {
        warned
            .log()
            .contains("a scheduler that is not rqs")
            .then_some(())
    })
    .await;
    warned.signal(Signal::SIGTERM);
    warned.exit_code(T);
    let mut refused = Daemon::start(&["--burst", "--exclusive", "-u", &server.url()]);
    assert_eq!(refused.exit_code(T), 1, "{}", refused.log());
    assert!(
        refused
            .log()
            .contains("a scheduler that is not rqs is running"),
        "{}",
        refused.log()
    );
    let _ = python.kill();
    let _ = python.wait();
}

/// A queue key of the wrong type quarantines the periodic job that goes there; once the
/// key is fixed, `rqs quarantine release` or the redis-cli steps of docs/operating.md
/// bring the job back with its schedule intact: handed over at its next run and re-armed.
#[tokio::test]
async fn a_released_periodic_job_comes_back_with_its_schedule() {
    for by_subcommand in [true, false] {
        a_released_periodic_job_comes_back(by_subcommand).await;
    }
}

async fn a_released_periodic_job_comes_back(by_subcommand: bool) {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let meta = pickled_dict(&[("interval", PyValue::Int(60)), ("repeat", PyValue::Int(5))]);
    jobs.schedule(
        "every",
        &client_job_with("default", &[("meta", &meta)]),
        1.0,
    )
    .await
    .unwrap();
    let () = q(&conn, redis::cmd("SET").arg("rq:queue:default").arg("oops")).await;
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let quarantined = jobs.quarantined().await.unwrap();
    assert_eq!(quarantined.len(), 1, "{quarantined:?}");
    assert_eq!(quarantined[0].score, 1.0);
    assert_eq!(jobs.score("every").await.unwrap(), None);
    // The operator fixes the key, then releases the job.
    let _: i64 = q(&conn, redis::cmd("DEL").arg("rq:queue:default")).await;
    if by_subcommand {
        let mut release = Daemon::start(&["quarantine", "release", "every", "-u", &server.url()]);
        assert_eq!(release.exit_code(T), 0, "{}", release.log());
    } else {
        // The redis-cli steps of docs/operating.md: ZADD back, HDEL the record.
        let _: i64 = q(
            &conn,
            redis::cmd("ZADD")
                .arg("rq:scheduler:scheduled_jobs")
                .arg(quarantined[0].score)
                .arg("every"),
        )
        .await;
        let _: i64 = q(
            &conn,
            redis::cmd("HDEL")
                .arg(rqs_core::keys::QUARANTINE)
                .arg("every"),
        )
        .await;
    }
    let before = now_secs();
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert_eq!(crate::support::queue(&conn, "default").await, ["every"]);
    let next = jobs.score("every").await.unwrap().expect("re-armed") as i64;
    assert!((before + 60..=now_secs() + 60).contains(&next), "{next}");
    let patched: Vec<u8> = q(&conn, redis::cmd("HGET").arg("rq:job:every").arg("meta")).await;
    let parsed = rqs_pickle::Meta::parse(&patched).unwrap();
    assert_eq!(parsed.get("repeat"), Some(&rqs_pickle::Value::Int(4)));
    assert!(jobs.quarantined().await.unwrap().is_empty());
}

/// Runs `rqs -u URL ARGS...` to completion, under an address-space limit when `kib` is
/// given (`ulimit -v`), without the caller's `RQ_REDIS_*` settings.
fn rqs_run(url: &str, args: &[&str], kib: Option<u64>) -> std::process::Output {
    let mut cmd = std::process::Command::new("sh");
    let limit = kib.map_or_else(String::new, |k| format!("ulimit -v {k} && "));
    cmd.arg("-c")
        .arg(format!("{limit}exec \"$0\" \"$@\""))
        .arg(crate::support::rqs_bin())
        .arg("-u")
        .arg(url)
        .args(args)
        .env_remove("RUST_LOG");
    for (var, _) in std::env::vars_os() {
        if var.to_string_lossy().starts_with("RQ_REDIS_") {
            cmd.env_remove(var);
        }
    }
    cmd.output().expect("cannot run rqs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A 100 MB meta and description made `rqs show` take 7 s and 1.3 GB, print 288 MB and
/// abort under a 400 MB address-space limit; `rqs list` peaked at 416 MB. Each field is
/// now read only within a bound (the meta within the scheduler's own) and each value
/// printed within 1000 characters, with a note; `--full` gives the whole value.
#[tokio::test]
async fn show_and_list_bound_what_they_read_and_print() {
    let server = RedisServer::start();
    let url = server.url();
    let jobs = Jobs::new(server.connection().await);
    let huge = vec![b'm'; 100 * 1024 * 1024];
    let hash = client_job_with("default", &[("meta", &huge), ("description", &huge)]);
    jobs.schedule("huge", &hash, 1_800_000_000.0).await.unwrap();
    drop((hash, huge));
    let long = "d".repeat(20_000);
    let hash = client_job_with("default", &[("description", long.as_bytes())]);
    jobs.schedule("long", &hash, 1_800_000_001.0).await.unwrap();

    for args in [
        &["show", "huge"][..],
        &["show", "huge", "--json"],
        &["list"],
    ] {
        let out = rqs_run(&url, args, Some(400_000));
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(
            stdout.len() < 10_000,
            "{args:?} printed {} bytes",
            stdout.len()
        );
        assert!(stdout.contains("huge"), "{args:?}: {stdout}");
    }
    let out = rqs_run(&url, &["show", "huge"], Some(400_000));
    let shown = text(&out.stdout);
    // The meta is too large for the scheduler too: the job would be quarantined.
    assert!(shown.contains("not read: 104857600 bytes"), "{shown}");
    assert!(shown.contains("invalid: job fields"), "{shown}");
    assert!(shown.contains("--full"), "{shown}");
    let json: serde_json::Value =
        serde_json::from_slice(&rqs_run(&url, &["show", "huge", "--json"], None).stdout).unwrap();
    assert_eq!(json["truncated"], true, "{json:#}");
    assert_eq!(json["kind"], "invalid", "{json:#}");

    // Read, but cut when printed; whole with --full.
    let out = rqs_run(&url, &["show", "long"], None);
    let shown = text(&out.stdout);
    assert!(shown.len() < 5_000, "{shown}");
    assert!(
        shown.contains("(19000 more characters; --full shows them)"),
        "{shown}"
    );
    let out = rqs_run(&url, &["show", "long", "--full"], None);
    assert!(text(&out.stdout).contains(&long));
    let json: serde_json::Value =
        serde_json::from_slice(&rqs_run(&url, &["show", "long", "--json", "--full"], None).stdout)
            .unwrap();
    assert_eq!(json["description"], long.as_str());
    assert_eq!(json["truncated"], false);
}

/// The ids `rqs list` prints escaped (`\xff\xfe`, `nul\u{0}byte`) used to be unusable as
/// input: every command read its argument as raw text. They are read back now, and an
/// error names them escaped once (it printed `\\xff\\xfe`).
#[tokio::test]
async fn ids_as_list_prints_them_are_accepted_back() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let raw: [&[u8]; 4] = [
        b"\xff\xfe",
        b"nul\0byte",
        b"back\\slash\\x41",
        "rtl\u{202e}line\u{2028}end".as_bytes(),
    ];
    for (i, id) in raw.iter().enumerate() {
        jobs.0
            .schedule(
                &JobId::new(id.to_vec()),
                &client_job("default"),
                1_800_000_000.0 + i as f64,
            )
            .await
            .unwrap();
    }
    let listed = rqs_run(&url, &["list", "--json"], None);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let printed: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        printed,
        [
            "\\xff\\xfe",
            "nul\\u{0}byte",
            "back\\\\slash\\\\x41",
            "rtl\\u{202e}line\\u{2028}end"
        ]
    );
    for (id, shown) in raw.iter().zip(&printed) {
        let id = JobId::new(id.to_vec());
        let out = rqs_run(&url, &["show", shown, "--json"], None);
        assert!(out.status.success(), "show {shown}: {}", text(&out.stderr));
        let detail: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(detail["id"], shown.as_str());
        assert!(detail["scheduled"]["unix"].as_f64().is_some(), "{detail:#}");
        let out = rqs_run(&url, &["reschedule", shown, "1900000000"], None);
        assert!(
            out.status.success(),
            "reschedule {shown}: {}",
            text(&out.stderr)
        );
        assert_eq!(jobs.0.score(&id).await.unwrap(), Some(1_900_000_000.0));
        let out = rqs_run(&url, &["cancel", shown], None);
        assert!(
            out.status.success(),
            "cancel {shown}: {}",
            text(&out.stderr)
        );
        assert_eq!(jobs.0.score(&id).await.unwrap(), None);
    }
    // An error names the id as it was given, escaped once.
    let out = rqs_run(&url, &["cancel", "\\xff\\xfe"], None);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("job \\xff\\xfe is not scheduled"),
        "{stderr}"
    );
    // A quarantined one is released by its printed id too.
    let record = r#"{"score": 1800000000, "kind": "invalid_field", "reason": "test", "at": 1}"#;
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg(rqs_core::keys::QUARANTINE)
            .arg(&b"\xff\xfe"[..])
            .arg(record),
    )
    .await;
    let out = rqs_run(&url, &["quarantine", "release", "\\xff\\xfe"], None);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id = JobId::new(b"\xff\xfe".to_vec());
    assert_eq!(jobs.0.score(&id).await.unwrap(), Some(1_800_000_000.0));
    // A backslash that escapes nothing is a usage error, not another id.
    let out = rqs_run(&url, &["show", "bad\\q"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("invalid job id"),
        "{}",
        text(&out.stderr)
    );
}

/// U+2028 (a line separator) and U+202E (right-to-left override) in an id used to reach
/// text logs and `rqs list`/`show` raw: one fakes a new line, the other reverses what
/// follows on screen. They are escaped like the other controls.
#[tokio::test]
async fn line_and_direction_controls_are_escaped_in_logs_and_output() {
    let server = RedisServer::start();
    let url = server.url();
    let jobs = Jobs::new(server.connection().await);
    let id = "gpj.\u{202e}exe\u{2028}2026-12-04 ERROR forged\u{2066}x\u{200f}";
    let escaped = "gpj.\\u{202e}exe\\u{2028}2026-12-04 ERROR forged\\u{2066}x\\u{200f}";
    let later = client_job("default");
    jobs.schedule(id, &later, 1_800_000_000.0).await.unwrap();
    let raw = ['\u{202e}', '\u{2028}', '\u{2066}', '\u{200f}'];
    for args in [&["list"][..], &["show", escaped]] {
        let out = rqs_run(&url, args, None);
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        assert!(stdout.contains(escaped), "{args:?}: {stdout}");
        assert!(!stdout.contains(raw), "{args:?}: raw control in {stdout}");
    }
    // A corrupt ttl gets it quarantined now, with its id in a warning of the text log.
    let bad = client_job_with("default", &[("ttl", b"soon")]);
    jobs.schedule(id, &bad, 1.0).await.unwrap();
    let mut d = Daemon::start(&["--burst", "-u", &url]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let log = d.log();
    assert!(log.contains(escaped), "{log}");
    assert!(!log.contains(raw), "raw control in {log}");
}

/// A quarantine record whose score is 1e300 was released to a 120-digit time, and one
/// whose score is not a number failed with a raw Lua error. Both are refused with what to
/// do, and `--at` releases them.
#[tokio::test]
async fn a_quarantine_record_without_a_usable_time_is_not_released() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    for (id, score) in [("far", "1e300"), ("nan", "\"soon\"")] {
        let record =
            format!(r#"{{"score": {score}, "kind": "invalid_field", "reason": "test", "at": 1}}"#);
        let () = q(
            &conn,
            redis::cmd("HSET")
                .arg(rqs_core::keys::QUARANTINE)
                .arg(id)
                .arg(record),
        )
        .await;
        let () = q(
            &conn,
            redis::cmd("HSET")
                .arg(format!("rq:job:{id}"))
                .arg("origin")
                .arg("default")
                .arg("data")
                .arg("x"),
        )
        .await;
    }
    for (id, says) in [("far", "out of range"), ("nan", "no readable due time")] {
        let out = rqs_run(&url, &["quarantine", "release", id], None);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{id}: {stderr}");
        assert!(
            stderr.contains(says) && stderr.contains("--at"),
            "{id}: {stderr}"
        );
        assert!(!stderr.contains("script"), "{id}: {stderr}");
        assert!(stderr.len() < 400, "{id}: {stderr}");
        assert_eq!(jobs.score(id).await.unwrap(), None, "{id} stays out");
        let out = rqs_run(
            &url,
            &["quarantine", "release", id, "--at", "2030-01-01T00:00:00Z"],
            None,
        );
        assert!(out.status.success(), "{id}: {}", text(&out.stderr));
        assert_eq!(jobs.score(id).await.unwrap(), Some(1_893_456_000.0));
    }
    // Nor can a time out of range come from the command line.
    let out = rqs_run(&url, &["reschedule", "far", "1e300"], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("out of range"),
        "{}",
        text(&out.stderr)
    );
}

//! The daemon's main job: burst runs, the loop, shutdown.

use std::time::Duration;

use nix::sys::signal::Signal;
use rqs_core::JobHash;
use rqs_testkit::RedisServer;
use rqs_testkit::{client_job, client_job_with};

use crate::support::{Daemon, Jobs, eventually, instance_field, now_secs, q, queue};

const T: Duration = Duration::from_secs(30);

#[tokio::test]
async fn burst_moves_due_jobs_in_order_and_leaves_the_rest() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    let now = now_secs() as f64;
    store
        .schedule("late", &client_job("default"), now - 5.0)
        .await
        .unwrap();
    store
        .schedule("b-tie", &client_job("default"), now - 100.0)
        .await
        .unwrap();
    store
        .schedule("a-tie", &client_job("default"), now - 100.0)
        .await
        .unwrap();
    store
        .schedule("other", &client_job("other"), now - 1.0)
        .await
        .unwrap();
    store
        .schedule("future", &client_job("default"), now + 3600.0)
        .await
        .unwrap();
    store
        .schedule("ghost", &JobHash::new(), now - 1.0)
        .await
        .unwrap();

    let mut d = Daemon::start(&["--burst", "-u", &server.url(), "--name", "b1"]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());

    let default: Vec<String> = queue(&conn, "default").await;
    assert_eq!(default, ["a-tie", "b-tie", "late"]);
    let other: Vec<String> = queue(&conn, "other").await;
    assert_eq!(other, ["other"]);
    let left = store.list().await.unwrap();
    assert_eq!(left, [("future".to_owned(), now + 3600.0)]);
    let lock: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
    assert_eq!(lock, None, "the lock is released");
    let death: Option<String> = instance_field(&conn, "b1", "death").await;
    assert!(death.is_some(), "death is registered");
    let ttl: i64 = q(&conn, redis::cmd("TTL").arg("rq:scheduler_instance:b1")).await;
    assert!(
        // 60 s after death (the live record would have 70): a wide margin, since the
        // machine may stall between the exit and this read.
        (30..=60).contains(&ttl),
        "death record lives 60 s, ttl={ttl}"
    );
    assert!(d.log().contains("job hash is missing"), "{}", d.log());
}

#[tokio::test]
async fn burst_waits_for_a_lock_held_by_someone_else() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    store
        .schedule("j", &client_job("default"), 1.0)
        .await
        .unwrap();
    // Python's rqscheduler holds the lock with a timestamp value.
    let () = q(
        &conn,
        redis::cmd("SET")
            .arg("rq:scheduler_lock")
            .arg("1795804932.2265215")
            .arg("EX")
            .arg(60),
    )
    .await;
    // -v: a standby's tries are logged at debug level only.
    let mut d = Daemon::start(&["--burst", "-u", &server.url(), "-i", "0.2", "-v"]);
    eventually(T, "rqs finding the lock taken", || async {
        d.log().contains("lock already taken").then_some(())
    })
    .await;
    assert!(
        d.wait(Duration::ZERO).is_none(),
        "waits while the lock is taken"
    );
    let len: i64 = q(&conn, redis::cmd("LLEN").arg("rq:queue:default")).await;
    assert_eq!(len, 0, "moves nothing without the lock");
    let _: i64 = q(&conn, redis::cmd("DEL").arg("rq:scheduler_lock")).await;
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let len: i64 = q(&conn, redis::cmd("LLEN").arg("rq:queue:default")).await;
    assert_eq!(len, 1);
}

#[tokio::test]
async fn a_job_scheduled_while_running_is_handed_over_without_waiting_an_interval() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    let pid_file = tempfile::NamedTempFile::new().unwrap().into_temp_path();
    let pid_path = pid_file.to_str().unwrap().to_owned();
    // A one-hour interval: only the peek and the exact wake-up can deliver in time.
    let mut d = Daemon::start(&["-u", &server.url(), "-i", "3600", "--pid", &pid_path]);
    eventually(T, "the lock", || async {
        let lock: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
        lock
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(&pid_path).unwrap(),
        d.pid().to_string()
    );
    let due = now_secs() + 2;
    store
        .schedule("soon", &client_job("default"), due as f64)
        .await
        .unwrap();
    let popped: (String, String) =
        q(&conn, redis::cmd("BLPOP").arg("rq:queue:default").arg(60)).await;
    assert_eq!(popped.1, "soon");
    let enqueued_at: String = q(
        &conn,
        redis::cmd("HGET").arg("rq:job:soon").arg("enqueued_at"),
    )
    .await;
    let at = rqs_core::time::parse_rq_timestamp(&enqueued_at).unwrap();
    assert!(
        at.timestamp() >= due,
        "never early: {enqueued_at} before {due}"
    );

    d.signal(Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert!(
        !std::path::Path::new(&pid_path).exists(),
        "the pid file is removed"
    );
}

#[tokio::test]
async fn sigterm_sigint_and_sighup_release_the_lock_and_register_death() {
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let mut d = Daemon::start(&["-u", &server.url(), "--name", "s1", "-i", "5"]);
        let token: String = eventually(T, "the lock", || async {
            let lock: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
            lock
        })
        .await;
        assert!(token.starts_with("s1@"), "{token}");
        let ttl: i64 = q(&conn, redis::cmd("PTTL").arg("rq:scheduler_lock")).await;
        // -2: a machine stalled for longer than the lease between the GET and the PTTL.
        assert!(
            ttl == -2 || (1..=5_000).contains(&ttl),
            "the lease lasts 5 s, renewed as it goes: {ttl} ms left"
        );
        d.signal(signal);
        assert_eq!(d.exit_code(T), 0, "{signal}: {}", d.log());
        let lock: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
        assert_eq!(lock, None, "{signal}");
        let death: Option<String> = instance_field(&conn, "s1", "death").await;
        assert!(death.is_some(), "{signal}");
    }
}

#[tokio::test]
async fn bad_jobs_are_quarantined_and_the_rest_still_move() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    let bad: [(&str, &[u8]); 4] = [
        ("meta", b"\x80\x05garbage"),
        ("ttl", b"a week"),
        ("meta", b"{\"interval\": 60}"),
        ("dependency_ids", b"not json"),
    ];
    for (i, (field, value)) in bad.iter().enumerate() {
        let id = format!("bad{i}");
        store
            .schedule(
                &id,
                &client_job_with("default", &[(field, value)]),
                10.0 + i as f64,
            )
            .await
            .unwrap();
    }
    store
        .schedule("good", &client_job("default"), 20.0)
        .await
        .unwrap();
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let queue: Vec<String> = queue(&conn, "default").await;
    assert_eq!(queue, ["good"]);
    let quarantined = store.quarantined().await.unwrap();
    let ids: Vec<_> = quarantined
        .iter()
        .map(|x| x.job_id.to_str().unwrap())
        .collect();
    assert_eq!(ids, ["bad0", "bad1", "bad2", "bad3"]);
    assert!(
        quarantined[0].reason.contains("pickle"),
        "{:?}",
        quarantined[0]
    );
    assert!(
        quarantined[1].reason.contains("ttl"),
        "{:?}",
        quarantined[1]
    );
    assert!(
        quarantined[2].reason.contains("JSON"),
        "{:?}",
        quarantined[2]
    );
    assert!(
        quarantined[3].reason.contains("dependency_ids"),
        "{:?}",
        quarantined[3]
    );
    assert_eq!(store.count(None).await.unwrap(), 0);
    let log = d.log();
    assert!(log.contains("bad0") && log.contains("quarantined"), "{log}");
}

#[tokio::test]
async fn use_local_timezone_follows_the_daemons_tz() {
    use chrono_tz::Europe::Berlin;
    use rqs_testkit::meta::{PyValue, pickled_dict};

    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    for (id, local) in [("berlin", true), ("utc", false)] {
        let meta = pickled_dict(&[
            ("cron_string", PyValue::Str("0 9 * * *")),
            ("use_local_timezone", PyValue::Bool(local)),
        ]);
        store
            .schedule(id, &client_job_with("default", &[("meta", &meta)]), 1.0)
            .await
            .unwrap();
    }
    let expr = rqs_cron::CronExpr::parse("0 9 * * *").unwrap();
    let before = chrono::Utc::now();
    let mut d = Daemon::start_env(
        &["--burst", "-u", &server.url()],
        &[("TZ", "Europe/Berlin")],
    );
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let after = chrono::Utc::now();
    let score = |id: &'static str| {
        let store = store.clone();
        async move { store.score(id).await.unwrap().unwrap() as i64 }
    };
    let one_of = |a: chrono::DateTime<chrono::Utc>, b: chrono::DateTime<chrono::Utc>| {
        [a.timestamp(), b.timestamp()]
    };
    let berlin = one_of(
        expr.next_in(before, &Berlin).unwrap(),
        expr.next_in(after, &Berlin).unwrap(),
    );
    let utc = one_of(
        expr.next_in(before, &chrono::Utc).unwrap(),
        expr.next_in(after, &chrono::Utc).unwrap(),
    );
    assert!(berlin.contains(&score("berlin").await), "{berlin:?}");
    assert!(utc.contains(&score("utc").await), "{utc:?}");
    assert_ne!(berlin, utc, "Berlin is never at UTC's offset");
}

#[tokio::test]
async fn cron_jobs_that_cannot_run_again_leave_cleanly() {
    use rqs_testkit::meta::{PyValue, pickled_dict};

    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    let jobs = [
        // Python rejects minute 61; rqs quarantines the job instead of crashing.
        ("bad-cron", "61 * * * *"),
        // A past year: no future match. Python pushes, then crashes; rqs pushes this run
        // and leaves the schedule.
        ("past-year", "0 0 1 1 * 2020"),
        ("hourly", "0 * * * *"),
    ];
    for (score, (id, expr)) in jobs.into_iter().enumerate() {
        let meta = pickled_dict(&[("cron_string", PyValue::Str(expr))]);
        let hash = client_job_with("default", &[("meta", &meta)]);
        store.schedule(id, &hash, score as f64 + 1.0).await.unwrap();
    }
    let before = now_secs();
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let queue: Vec<String> = queue(&conn, "default").await;
    assert_eq!(queue, ["past-year", "hourly"]);
    assert_eq!(store.score("past-year").await.unwrap(), None);
    let next = store.score("hourly").await.unwrap().unwrap() as i64;
    assert!(
        next > before && next % 3600 == 0,
        "re-armed at the next hour: {next}"
    );
    let quarantined = store.quarantined().await.unwrap();
    assert_eq!(quarantined.len(), 1);
    assert!(
        quarantined[0]
            .reason
            .contains("invalid cron string \"61 * * * *\""),
        "{:?}",
        quarantined[0]
    );
    let log = d.log();
    assert!(
        log.contains("job_id=past-year")
            && log.contains("cron \"0 0 1 1 * 2020\" has no future match")
            && !log.contains("CronExpr"),
        "{log}"
    );
    assert!(
        log.contains("job_id=bad-cron") && log.contains("quarantined"),
        "{log}"
    );
}

/// Redis commands served so far, other than the test's own `INFO`.
async fn commands_served(conn: &redis::aio::ConnectionManager) -> u64 {
    let info: String = q(conn, redis::cmd("INFO").arg("commandstats")).await;
    info.lines()
        .filter(|l| l.starts_with("cmdstat_") && !l.starts_with("cmdstat_info:"))
        .filter_map(|l| {
            l.split("calls=")
                .nth(1)?
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

/// The log is for people: nothing per idle poll, one info line per batch, one debug line
/// per job (with `-v`), and `RUST_LOG` filters it.
#[tokio::test]
async fn the_log_has_a_line_per_batch_a_line_per_job_at_debug_and_none_per_idle_poll() {
    for (flag, rust_log) in [(None, None), (Some("-v"), None), (None, Some("warn"))] {
        // A machine stalled past the 5 s lease logs the lost lease and the retaking:
        // lines this test cannot tell from chatter. Such a round is run again.
        let mut round = 1;
        while !log_round(flag, rust_log).await {
            assert!(round < 5, "five rounds in a row stalled past the lease");
            round += 1;
        }
    }
}

/// One round of the log test; `false` when the daemon lost its lease to a stall.
async fn log_round(flag: Option<&str>, rust_log: Option<&str>) -> bool {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let store = Jobs::new(conn.clone());
    let url = server.url();
    let mut args = vec!["-u", &url, "--name", "quiet", "-i", "0.05"];
    args.extend(["--peek-interval", "0.05"]);
    args.extend(flag);
    let env: Vec<(&str, &str)> = rust_log.map(|f| ("RUST_LOG", f)).into_iter().collect();
    let d = Daemon::start_env(&args, &env);
    eventually(T, "the lock", || async {
        let lock: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
        lock
    })
    .await;
    // The lock is set before the line that says so is written: wait for the line,
    // then for a few polls, so that everything the activation logs is in.
    if rust_log.is_none() {
        eventually(T, "the active line", || async {
            d.log().contains("became the active instance").then_some(())
        })
        .await;
    }
    let active = commands_served(&conn).await;
    eventually(T, "5 polls", || async {
        (commands_served(&conn).await >= active + 5).then_some(())
    })
    .await;
    // Idle: wait until the daemon has polled Redis many times, then read the log.
    let idle_log = d.log();
    let before = commands_served(&conn).await;
    eventually(T, "40 idle polls", || async {
        (commands_served(&conn).await >= before + 40).then_some(())
    })
    .await;
    let after_idle = d.log();
    if after_idle.contains("standing by") {
        return false;
    }
    assert_eq!(
        after_idle[idle_log.len()..].lines().count(),
        0,
        "nothing is logged per idle poll: {after_idle}"
    );
    // Three jobs fall due at once: one ZADD moves them from the far future to now.
    for id in ["log-a", "log-b", "log-c"] {
        store
            .schedule(id, &client_job("default"), 4e9)
            .await
            .unwrap();
    }
    let now = (now_secs() - 1) as f64;
    let _: i64 = q(
        &conn,
        redis::cmd("ZADD")
            .arg("rq:scheduler:scheduled_jobs")
            .arg("XX")
            .arg(now)
            .arg("log-a")
            .arg(now)
            .arg("log-b")
            .arg(now)
            .arg("log-c"),
    )
    .await;
    eventually(T, "three jobs handed over", || async {
        (queue(&conn, "default").await.len() == 3).then_some(())
    })
    .await;
    let per_job = |log: &str| {
        ["log-a", "log-b", "log-c"]
            .iter()
            .filter(|id| {
                log.lines()
                    .any(|l| l.contains("hand-off") && l.contains(*id))
            })
            .count()
    };
    // Lines are written just after the commit that the queue shows: wait for them.
    let log = eventually(T, "the batch line", || async {
        let log = d.log();
        let batch = rust_log.is_some() || log.contains("handed over a batch");
        let jobs = flag.is_none() || per_job(&log) == 3;
        (batch && jobs).then_some(log)
    })
    .await;
    if log.contains("standing by") {
        return false;
    }
    let count = |what: &str| log.lines().filter(|l| l.contains(what)).count();
    let per_job = per_job(&log);
    match (flag, rust_log) {
        (None, None) => {
            assert_eq!(count("became the active instance"), 1, "{log}");
            assert_eq!(count("handed over a batch"), 1, "{log}");
            assert_eq!(count("hand-off"), 0, "no per-job lines at info: {log}");
        }
        (Some(_), _) => {
            assert_eq!(count("handed over a batch"), 1, "{log}");
            assert_eq!(per_job, 3, "one debug line per job: {log}");
        }
        (None, Some(_)) => {
            assert_eq!(count("became the active instance"), 0, "{log}");
            assert_eq!(count("handed over a batch"), 0, "{log}");
        }
    }
    true
}

/// A sub-second interval (only a hand-written meta holds one) runs at most once a second:
/// handed over late in a second, it is not handed over again at the next whole second.
/// Each hand-off is seen by its `enqueued_at`; the queue's length proves none was missed
/// between two samples.
#[tokio::test]
async fn a_sub_second_interval_runs_at_most_once_a_second() {
    use rqs_testkit::meta::{PyValue, pickled_dict};
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let meta = pickled_dict(&[("interval", PyValue::Float(0.5))]);
    jobs.schedule("half", &client_job_with("default", &[("meta", &meta)]), 1.5)
        .await
        .unwrap();
    let mut d = Daemon::start(&["-u", &server.url(), "--name", "half-1"]);
    let mut seen: Vec<String> = Vec::new();
    let until = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < until {
        let at: Option<String> = q(
            &conn,
            redis::cmd("HGET").arg("rq:job:half").arg("enqueued_at"),
        )
        .await;
        if let Some(at) = at
            && seen.last() != Some(&at)
        {
            seen.push(at);
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    d.signal(Signal::SIGTERM);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    let pushed = queue(&conn, "default").await.len();
    assert_eq!(
        pushed,
        seen.len(),
        "a hand-off fell between two samples: {seen:?}"
    );
    let times: Vec<f64> = seen
        .iter()
        .map(|t| rqs_core::time::unix_seconds(rqs_core::time::parse_rq_timestamp(t).unwrap()))
        .collect();
    // About once a second: never less than a second apart, but for the slack that lets
    // a hand-off a few milliseconds into its second keep the next one.
    let least = 1.0 - rqs_core::plan::SUB_SECOND_SLACK;
    for pair in times.windows(2) {
        assert!(pair[1] - pair[0] >= least, "{seen:?}");
    }
    // And not every other second either: four seconds hold at least three hand-offs.
    assert!(seen.len() >= 4, "{seen:?}");
}

/// rqs's own quarantine key with the wrong type (a string) must not stall the schedule:
/// the 50 good jobs move, the one that needs the quarantine stays where it was, with one
/// error line that says why, and the burst ends normally.
#[tokio::test]
async fn a_wrong_typed_quarantine_key_stops_only_the_job_that_needs_it() {
    let server = RedisServer::start();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    for i in 0..50 {
        jobs.schedule(&format!("good-{i:02}"), &client_job("default"), 1.0)
            .await
            .unwrap();
    }
    let bad = client_job_with("default", &[("meta", b"not a pickle")]);
    jobs.schedule("bad-meta", &bad, 1.0).await.unwrap();
    q::<()>(
        &conn,
        redis::cmd("SET").arg("rq:rqs:quarantine").arg("oops"),
    )
    .await;
    let mut d = Daemon::start(&["--burst", "-u", &server.url()]);
    assert_eq!(d.exit_code(T), 0, "{}", d.log());
    assert_eq!(queue(&conn, "default").await.len(), 50);
    assert_eq!(jobs.score("bad-meta").await.unwrap(), Some(1.0));
    let log = d.log();
    assert_eq!(
        log.matches("cannot quarantine this job").count(),
        1,
        "{log}"
    );
    assert!(log.contains("job_id=bad-meta"), "{log}");
    assert!(!log.contains("quarantined a job"), "{log}");
}

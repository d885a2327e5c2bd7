//! Operator controls against real daemons and jobs the Python client wrote: `rqs pause`
//! and `rqs resume` honoured by two instances, a pause that ends by itself, `rqs run-now`
//! for one-off and periodic jobs, and `run-now` racing the daemon.

use redis::aio::ConnectionManager;
use rqs_testkit::{RedisServer, client_job};

use crate::common::{Served, T, python_env, rqs, scenario};
use crate::support::{Daemon, Jobs, eventually, instance_field, q, queue};

async fn score(conn: &ConnectionManager, id: &str) -> Option<f64> {
    q(
        conn,
        redis::cmd("ZSCORE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(id),
    )
    .await
}

/// Waits until instance `name` has written two more heartbeats: it has taken at least
/// one whole turn (and so a pass, if it holds the lock) since this was called.
async fn two_turns(conn: &ConnectionManager, name: &str) {
    let deadline = std::time::Instant::now() + T;
    let mut last = instance_field(conn, name, "heartbeat").await;
    let mut beats = 0;
    while beats < 2 {
        assert!(std::time::Instant::now() < deadline, "two turns of {name}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        let beat = instance_field(conn, name, "heartbeat").await;
        if beat != last {
            beats += 1;
            last = beat;
        }
    }
}

#[tokio::test]
async fn pause_and_resume_hold_and_release_due_jobs_on_two_instances() {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let out = rqs(&url, &["pause", "--queue", "held", "--reason", "deploy 42"]).expect(0);
    assert!(
        out.stdout
            .contains("paused queue held until `rqs resume` (deploy 42)"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("Python rqscheduler"), "{}", out.stdout);
    for (id, queue) in [("a", "held"), ("b", "free"), ("c", "held")] {
        scenario(&env, &["due", &url, id, queue]);
    }
    let one = Served::start(&url, &["--name", "one"]).await;
    let two = Served::start(&url, &["--name", "two"]).await;
    eventually(T, "b handed over", || {
        let conn = conn.clone();
        async move { (queue(&conn, "free").await == ["b"]).then_some(()) }
    })
    .await;
    for served in [&one, &two] {
        served
            .metric_reaches("rqs_paused{queue=\"held\"}", 1.0)
            .await;
        // The series of a pause of every queue exists from start-up, at 0.
        assert_eq!(served.metrics().get("rqs_paused{queue=\"*\"}"), Some(&0.0));
    }
    // Two whole turns of both after b moved: a and c would have moved by now.
    two_turns(&conn, "one").await;
    two_turns(&conn, "two").await;
    assert!(queue(&conn, "held").await.is_empty());
    assert!(score(&conn, "a").await.is_some() && score(&conn, "c").await.is_some());
    // One line when the pause started, however many turns it has lasted.
    for served in [&one, &two] {
        let log = served.daemon.log();
        let lines = log.matches("paused: due jobs of queue held wait").count();
        assert_eq!(lines, 1, "{log}");
    }
    let status = rqs(&url, &["status"]).expect(0);
    assert!(
        status
            .stdout
            .starts_with("PAUSED: queue held until `rqs resume`"),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains(": deploy 42"), "{}", status.stdout);
    let json = rqs(&url, &["status", "--json"]).expect(0).json();
    assert_eq!(json["pauses"][0]["queue"], "held");
    assert_eq!(json["pauses"][0]["reason"], "deploy 42");

    // Every queue, for an hour: a job of the free queue waits too.
    rqs(&url, &["pause", "--for", "1h", "--reason", "maintenance"]).expect(0);
    for served in [&one, &two] {
        served.metric_reaches("rqs_paused{queue=\"*\"}", 1.0).await;
    }
    scenario(&env, &["due", &url, "d", "free"]);
    two_turns(&conn, "one").await;
    two_turns(&conn, "two").await;
    assert_eq!(queue(&conn, "free").await, ["b"]);

    // Resuming one queue leaves the pause of every queue in force, and says so.
    let out = rqs(&url, &["resume", "--queue", "held"]).expect(0);
    assert!(out.stdout.contains("resumed queue held"), "{}", out.stdout);
    assert!(
        out.stdout.contains("every queue is still paused"),
        "{}",
        out.stdout
    );
    two_turns(&conn, "one").await;
    assert!(queue(&conn, "held").await.is_empty());
    let out = rqs(&url, &["resume"]).expect(0);
    assert!(out.stdout.contains("resumed every queue"), "{}", out.stdout);
    eventually(T, "every held job handed over", || {
        let conn = conn.clone();
        async move {
            (queue(&conn, "held").await == ["a", "c"] && queue(&conn, "free").await == ["b", "d"])
                .then_some(())
        }
    })
    .await;
    for served in [&one, &two] {
        served.metric_reaches("rqs_paused{queue=\"*\"}", 0.0).await;
        served
            .metric_reaches("rqs_paused{queue=\"held\"}", 0.0)
            .await;
        let log = served.daemon.log();
        let lines = log
            .matches("resumed: due jobs of every queue move again")
            .count();
        assert_eq!(lines, 1, "{log}");
    }
    // Each job once, over both instances.
    let all: Vec<String> = [queue(&conn, "held").await, queue(&conn, "free").await].concat();
    assert_eq!(all.len(), 4, "{all:?}");
}

#[tokio::test]
async fn a_pause_for_a_while_ends_by_itself() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    rqs(&url, &["pause", "--for", "3s"]).expect(0);
    jobs.schedule("waits", &client_job("q"), 1.0).await.unwrap();
    let mut daemon = Daemon::start(&["run", "-u", &url, "--name", "timed"]);
    eventually(T, "the job handed over once the pause ran out", || {
        let conn = conn.clone();
        async move { (queue(&conn, "q").await == ["waits"]).then_some(()) }
    })
    .await;
    let log = daemon.log();
    let paused = log.find("paused:").expect("the pause was logged");
    let resumed = log.find("resumed:").expect("its end was logged");
    assert!(paused < resumed, "{log}");
    daemon.assert_running();
    // The pause is over: rqs status no longer shows it.
    let status = rqs(&url, &["status"]).expect(0);
    assert!(!status.stdout.contains("PAUSED"), "{}", status.stdout);
}

#[tokio::test]
async fn bad_pause_arguments_are_refused() {
    let server = RedisServer::start();
    let url = server.url();
    for (args, message) in [
        (&["pause", "--for", "0s"][..], "longer than zero"),
        (&["pause", "--for", "soon"], "not a duration"),
    ] {
        let out = rqs(&url, args).expect(2);
        assert!(out.stderr.contains(message), "{args:?}: {}", out.stderr);
    }
    let out = rqs(&url, &["resume", "--queue", "never"]).expect(0);
    assert!(
        out.stdout.contains("queue never was not paused"),
        "{}",
        out.stdout
    );
}

#[tokio::test]
async fn run_now_hands_a_one_off_over_once_and_a_periodic_job_keeps_its_next_run() {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    scenario(&env, &["populate", &url]);
    let meta: Vec<u8> = q(
        &conn,
        redis::cmd("HGET").arg("rq:job:every-10-min").arg("meta"),
    )
    .await;
    let next = score(&conn, "every-10-min").await.unwrap();

    let out = rqs(&url, &["run-now", "every-10-min"]).expect(0);
    assert!(
        out.stdout
            .contains("pushed every-10-min on queue default now"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("next scheduled run stays"),
        "{}",
        out.stdout
    );
    assert_eq!(queue(&conn, "default").await, ["every-10-min"]);
    assert_eq!(
        score(&conn, "every-10-min").await,
        Some(next),
        "next run kept"
    );
    let after: Vec<u8> = q(
        &conn,
        redis::cmd("HGET").arg("rq:job:every-10-min").arg("meta"),
    )
    .await;
    assert_eq!(after, meta, "repeat count kept");
    let status: String = q(
        &conn,
        redis::cmd("HGET").arg("rq:job:every-10-min").arg("status"),
    )
    .await;
    assert_eq!(status, "queued");

    let json = rqs(&url, &["run-now", "once-later", "--json"])
        .expect(0)
        .json();
    assert_eq!(json["outcome"], "pushed");
    assert_eq!(json["queue"], "reports");
    assert!(json["next_run"].is_null());
    assert_eq!(
        score(&conn, "once-later").await,
        None,
        "a one-off leaves the schedule"
    );
    assert_eq!(queue(&conn, "reports").await, ["once-later"]);
    let again = rqs(&url, &["run-now", "once-later"]).expect(1);
    assert!(again.stderr.contains("not scheduled"), "{}", again.stderr);

    // A paused queue's job waits, and the command says how to go on.
    rqs(&url, &["pause", "--queue", "default"]).expect(0);
    let held = rqs(&url, &["run-now", "every-10-min"]).expect(1);
    assert!(
        held.stderr.contains("queue default is paused"),
        "{}",
        held.stderr
    );
    assert_eq!(queue(&conn, "default").await, ["every-10-min"]);
}

/// `run-now` and the daemon reach for the same due jobs at once; every job is handed
/// over exactly once, whoever wins. Repeated so that both sides win some.
#[tokio::test]
async fn run_now_racing_the_daemon_hands_each_job_over_once() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let jobs = Jobs::new(conn.clone());
    let _daemon = Daemon::start(&["run", "-u", &url, "--name", "racer"]);
    eventually(T, "the daemon active", || {
        let conn = conn.clone();
        async move {
            let holder: Option<String> = q(&conn, redis::cmd("GET").arg("rq:scheduler_lock")).await;
            holder.filter(|h| h.starts_with("racer@")).map(|_| ())
        }
    })
    .await;
    let (mut ours, mut theirs) = (0, 0);
    for n in 0..20 {
        let id = format!("race-{n:02}");
        // Due at the next whole second, when the daemon wakes for it; run-now starts
        // around that instant, a little before or after by turns.
        let due = crate::support::now_secs() + 1;
        jobs.schedule(&id, &client_job("raced"), due as f64)
            .await
            .unwrap();
        let at = std::time::UNIX_EPOCH
            + std::time::Duration::from_secs(due as u64)
            + std::time::Duration::from_millis(20 * (n % 5));
        let wait = at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default()
            .saturating_sub(std::time::Duration::from_millis(40));
        tokio::time::sleep(wait).await;
        let out = rqs(&url, &["run-now", &id]);
        match out.code {
            0 => ours += 1,
            1 if out.stderr.contains("not scheduled") => theirs += 1,
            _ => panic!("run-now {id}: {out:?}"),
        }
        eventually(T, &format!("{id} in its queue"), || {
            let conn = conn.clone();
            let id = id.clone();
            async move { queue(&conn, "raced").await.contains(&id).then_some(()) }
        })
        .await;
    }
    let queued = queue(&conn, "raced").await;
    assert_eq!(queued.len(), 20, "each job once: {queued:?}");
    let mut unique = queued.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 20, "{queued:?}");
    eprintln!("run-now handed over {ours}, the daemon {theirs}");
}

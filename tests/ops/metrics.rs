//! `--metrics-addr`: Prometheus metrics scraped over HTTP while jobs move, and the health
//! endpoints while Redis goes away and comes back.

use nix::sys::signal::Signal;
use rqs_testkit::{RedisServer, ServerOptions};

use crate::common::{Served, T, python_env, scenario};
use crate::support::{eventually, q};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_move_as_jobs_are_handed_over() {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    scenario(&env, &["populate", &url]);
    scenario(&env, &["due", &url, "due-1", "default"]);
    scenario(&env, &["bad-due", &url, "bad-1"]);

    let mut served = Served::start(&url, &["-i", "1", "--name", "metrics-1"]).await;
    let (status, body) = served.get("/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    served
        .metric_reaches("rqs_jobs_enqueued_total{queue=\"default\"}", 1.0)
        .await;
    served
        .metric_reaches(
            "rqs_jobs_quarantined_total{reason=\"unreadable_meta\"}",
            1.0,
        )
        .await;
    let m = served.metrics();
    assert_eq!(m["rqs_is_leader"], 1.0);
    // Taken once; a machine stalled past the lease loses it and takes it again, and both
    // are counted.
    assert_eq!(
        m["rqs_lock_acquired_total"],
        m["rqs_lock_lost_total"] + 1.0,
        "{m:?}"
    );
    assert_eq!(m["rqs_jobs_rescheduled_total"], 0.0);
    assert!(m["rqs_batch_duration_seconds_count"] >= 1.0);

    // The gauges follow the schedule: polled with ZCOUNT while metrics are on.
    let scheduled: u64 = q(
        &conn,
        redis::cmd("ZCARD").arg("rq:scheduler:scheduled_jobs"),
    )
    .await;
    served
        .metric_reaches("rqs_scheduled_jobs", scheduled as f64)
        .await;
    served.metric_reaches("rqs_due_jobs", 0.0).await;
    let head: Vec<(String, f64)> = q(
        &conn,
        redis::cmd("ZRANGE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(0)
            .arg(0)
            .arg("WITHSCORES"),
    )
    .await;
    served
        .metric_reaches("rqs_next_due_seconds", head[0].1)
        .await;

    // Another queue, and a periodic job re-armed: the counters move by exactly these.
    scenario(&env, &["due", &url, "due-2", "reports"]);
    served
        .metric_reaches("rqs_jobs_enqueued_total{queue=\"reports\"}", 1.0)
        .await;
    q::<()>(
        &conn,
        redis::cmd("ZADD")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(1_577_880_000)
            .arg("every-10-min"),
    )
    .await;
    served
        .metric_reaches("rqs_jobs_rescheduled_total", 1.0)
        .await;
    let m = served.metrics();
    assert_eq!(m["rqs_jobs_enqueued_total{queue=\"default\"}"], 2.0);
    assert_eq!(m["rqs_jobs_enqueued_total{queue=\"reports\"}"], 1.0);

    // Real histograms: the documented buckets, cumulative, +Inf equal to the count.
    for (name, first, last, buckets) in [
        ("rqs_lateness_seconds", "0.001", "60", 15),
        ("rqs_batch_duration_seconds", "0.0005", "10", 14),
    ] {
        let mut les: Vec<(f64, f64)> = m
            .iter()
            .filter_map(|(k, v)| {
                let le = k.strip_prefix(&format!("{name}_bucket{{le=\""))?;
                let le = le.strip_suffix("\"}")?;
                Some((
                    if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    },
                    *v,
                ))
            })
            .collect();
        les.sort_by(|a, b| a.0.total_cmp(&b.0));
        assert_eq!(les.len(), buckets + 1, "{name}: {les:?}");
        assert_eq!(les[0].0, first.parse::<f64>().unwrap());
        assert_eq!(les[buckets - 1].0, last.parse::<f64>().unwrap());
        assert!(
            les.windows(2).all(|w| w[0].1 <= w[1].1),
            "{name} not cumulative: {les:?}"
        );
        assert_eq!(les[buckets].1, m[&format!("{name}_count")], "{name}");
        assert!(m.contains_key(&format!("{name}_sum")));
    }
    assert_eq!(
        m["rqs_lateness_seconds_count"], 3.0,
        "one per job handed over"
    );

    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_503_while_redis_is_down() {
    let env = python_env().await;
    let mut server = RedisServer::start_with(ServerOptions::persistent());
    let url = server.url();
    scenario(&env, &["populate", &url]);
    let mut served = Served::start(&url, &["-i", "1", "--name", "health-1"]).await;
    let ready = |want: u16| {
        let served = &served;
        async move {
            eventually(T, &format!("/readyz answering {want}"), || {
                let (status, _) = served.get("/readyz");
                async move { (status == want).then_some(()) }
            })
            .await;
        }
    };
    ready(200).await;
    // Redis must go away after start-up: a birth that fails ends the process (exit 1).
    served.metric_reaches("rqs_is_leader", 1.0).await;

    server.kill();
    ready(503).await;
    // The process still runs and still serves its metrics; the failures are counted.
    assert_eq!(served.get("/healthz").0, 200);
    eventually(T, "an unavailable error counted", || {
        let m = served.metrics();
        async move { (m.get("rqs_errors_total{kind=\"unavailable\"}") >= Some(&1.0)).then_some(()) }
    })
    .await;
    let (status, page) = served.get("/");
    assert_eq!(status, 503, "{page}");
    assert!(page.contains("Cannot read Redis"), "{page}");

    server.restart();
    ready(200).await;
    assert_eq!(served.get("/").0, 200);

    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

#[tokio::test]
async fn a_bad_metrics_address_is_refused() {
    let server = RedisServer::start();
    let url = server.url();
    let mut d = crate::support::Daemon::start(&["run", "-u", &url, "--metrics-addr", "nowhere"]);
    assert_eq!(d.exit_code(T), 2, "{}", d.log());
    assert!(d.log().contains("is not HOST:PORT"), "{}", d.log());
    // A port that is taken: a runtime failure, before anything is registered.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let mut d = crate::support::Daemon::start(&[
        "run",
        "-u",
        &url,
        "--name",
        "taken-1",
        "--metrics-addr",
        &addr,
    ]);
    assert_eq!(d.exit_code(T), 1, "{}", d.log());
    assert!(
        d.log()
            .contains(&format!("cannot listen on --metrics-addr {addr}")),
        "{}",
        d.log()
    );
}

/// Item 12: one series per queue name, up to 100 of them; jobs for any further queue count
/// under `queue="other"`, so 150 queues make 101 series, and no job goes uncounted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_series_are_capped_and_the_rest_count_as_other() {
    let server = RedisServer::start();
    let url = server.url();
    let jobs = crate::support::Jobs::new(server.connection().await);
    for i in 0..150 {
        jobs.schedule(
            &format!("job-{i:03}"),
            &rqs_testkit::client_job(&format!("queue-{i:03}")),
            1.0 + i as f64,
        )
        .await
        .unwrap();
    }
    let mut served = Served::start(&url, &["--name", "queues-1"]).await;
    let total = |m: &std::collections::HashMap<String, f64>| {
        m.iter()
            .filter(|(k, _)| k.starts_with("rqs_jobs_enqueued_total{"))
            .map(|(_, v)| *v)
            .sum::<f64>()
    };
    let m = eventually(T, "150 jobs counted", || {
        let m = served.metrics();
        async move { (total(&m) == 150.0).then_some(m) }
    })
    .await;
    let own = m
        .keys()
        .filter(|k| k.starts_with("rqs_jobs_enqueued_total{queue=\"queue-"))
        .count();
    assert_eq!(own, 100, "series of their own");
    assert_eq!(m["rqs_jobs_enqueued_total{queue=\"other\"}"], 50.0);
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

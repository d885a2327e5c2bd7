//! The client against a private redis-server (and the same calls against the in-memory
//! store): what it writes, what it reads back, and that invalid input writes nothing.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use rqs_client::{Client, CronOptions, Error, Invalid, Job, JobId, JobQuery, Periodic, PyValue};
use rqs_redis::redis;
use rqs_store::{InMemoryJobStore, JobAdmin};
use rqs_testkit::RedisServer;

/// 2026-11-27T18:35:34.475366Z, the time of the Python client trace.
fn now() -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_804_534, 475_366_000).unwrap()
}

async fn redis_client(
    server: &RedisServer,
) -> Client<rqs_redis::RedisJobStore<redis::aio::ConnectionManager>> {
    Client::connect(&server.url())
        .await
        .expect("connect")
        .with_clock(now)
}

async fn keys(server: &RedisServer) -> Vec<String> {
    let mut conn = server.connection().await;
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query_async(&mut conn)
        .await
        .unwrap();
    keys.sort();
    keys
}

#[tokio::test]
async fn each_call_writes_and_reads_the_schedule_as_python_does() {
    let server = RedisServer::start();
    let client = redis_client(&server).await;
    let past = Utc.with_ymd_and_hms(2020, 1, 1, 12, 0, 0).unwrap();
    let future = Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap();

    let at = client
        .enqueue_at(past, &Job::new("tasks.add").args([1, 2]).id("at"))
        .await
        .unwrap();
    assert_eq!(at, "at");
    let random = client
        .enqueue_in(TimeDelta::minutes(10), &Job::new("tasks.add"))
        .await
        .unwrap();
    let periodic = client
        .schedule(
            future,
            &Job::new("tasks.tick").id("tick"),
            Periodic::every(Duration::from_secs(60)).repeat(3),
        )
        .await
        .unwrap();
    let cron = client
        .cron(
            "*/5 * * * *",
            &Job::new("tasks.cron").id("cron"),
            CronOptions::new().repeat(2),
        )
        .await
        .unwrap();

    // Scores: whole seconds, enqueue_in from the clock, cron at the next match.
    let store = client.store();
    assert_eq!(store.score(&at).await.unwrap(), Some(1_577_880_000.0));
    assert_eq!(store.score(&random).await.unwrap(), Some(1_795_805_134.0));
    assert_eq!(store.score(&periodic).await.unwrap(), Some(1_893_456_000.0));
    assert_eq!(store.score(&cron).await.unwrap(), Some(1_795_804_800.0));

    assert_eq!(client.count(None).await.unwrap(), 4);
    assert_eq!(client.count(Some(now())).await.unwrap(), 1);
    assert!(client.contains(&cron).await.unwrap());
    assert!(!client.contains(&JobId::from("nope")).await.unwrap());

    let all = client.get_jobs(JobQuery::all()).await.unwrap();
    let ids: Vec<&JobId> = all.iter().map(|e| &e.id).collect();
    assert_eq!(ids, [&at, &cron, &random, &periodic]);
    assert_eq!(all[1].at, Utc.timestamp_opt(1_795_804_800, 0).unwrap());
    let meta = all[3].meta().unwrap();
    assert_eq!(meta.get("interval"), Some(&rqs_pickle::Value::Int(60)));
    assert_eq!(meta.get("repeat"), Some(&rqs_pickle::Value::Int(3)));
    assert_eq!(all[3].hash.get_str("result_ttl"), Some("-1"));
    let page = client.get_jobs(JobQuery::all().page(1, 2)).await.unwrap();
    assert_eq!(
        page.iter().map(|e| &e.id).collect::<Vec<_>>(),
        [&cron, &random]
    );
    let due = client.get_jobs(JobQuery::all().until(now())).await.unwrap();
    assert_eq!(due.len(), 1);

    // A dangling id is dropped from the schedule by get_jobs, as in Python.
    let mut conn = server.connection().await;
    let () = redis::cmd("ZADD")
        .arg("rq:scheduler:scheduled_jobs")
        .arg(1)
        .arg("ghost")
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(client.get_jobs(JobQuery::all()).await.unwrap().len(), 4);
    assert!(!client.contains(&JobId::from("ghost")).await.unwrap());

    // Reschedule and cancel.
    client.change_execution_time(&periodic, past).await.unwrap();
    assert_eq!(store.score(&periodic).await.unwrap(), Some(1_577_880_000.0));
    assert!(client.cancel(&at).await.unwrap());
    assert!(!client.cancel(&at).await.unwrap());
    assert!(
        store.job(&at).await.unwrap().is_some(),
        "cancel keeps the hash"
    );
    match client.change_execution_time(&at, future).await {
        Err(Error::NotScheduled(id)) => assert_eq!(id, at),
        other => panic!("expected NotScheduled, got {other:?}"),
    }
    assert_eq!(client.count(None).await.unwrap(), 3);
}

#[tokio::test]
async fn invalid_input_writes_nothing() {
    let server = RedisServer::start();
    let client = redis_client(&server).await;
    let at = now();
    let cases: Vec<(&str, Result<JobId, Error>)> = vec![
        (
            "bad path",
            client.enqueue_at(at, &Job::new("not a path")).await,
        ),
        (
            "bad id",
            client.enqueue_at(at, &Job::new("m.f").id("a:b")).await,
        ),
        (
            "bad cron",
            client
                .cron("61 * * * *", &Job::new("m.f"), CronOptions::new())
                .await,
        ),
        (
            "past cron",
            client
                .cron("0 0 1 1 * 2020", &Job::new("m.f"), CronOptions::new())
                .await,
        ),
        (
            "zero interval",
            client
                .schedule(
                    at,
                    &Job::new("m.f"),
                    Periodic::every(Duration::from_millis(500)),
                )
                .await,
        ),
        (
            "repeat without interval",
            client
                .schedule(at, &Job::new("m.f"), Periodic::once().repeat(2))
                .await,
        ),
        (
            "before 1970",
            client
                .enqueue_at(Utc.timestamp_opt(-10, 0).unwrap(), &Job::new("m.f"))
                .await,
        ),
        (
            "unhashable key",
            client
                .enqueue_at(
                    at,
                    &Job::new("m.f").kwarg("d", PyValue::dict([(PyValue::list([1]), 1)])),
                )
                .await,
        ),
        (
            "bad ttl",
            client.enqueue_at(at, &Job::new("m.f").ttl(-5)).await,
        ),
    ];
    for (what, result) in cases {
        assert!(
            matches!(result, Err(Error::Invalid(_))),
            "{what}: expected an invalid-job error, got {result:?}"
        );
    }
    assert_eq!(
        keys(&server).await,
        Vec::<String>::new(),
        "nothing was written"
    );
    match client
        .cron("* * * *", &Job::new("m.f"), CronOptions::new())
        .await
    {
        Err(Error::Invalid(Invalid::Cron { expr, .. })) => assert_eq!(expr, "* * * *"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_time_in_the_past_is_due_at_once() {
    let server = RedisServer::start();
    let client = redis_client(&server).await;
    let id = client
        .enqueue_in(TimeDelta::seconds(-30), &Job::new("m.f"))
        .await
        .unwrap();
    assert_eq!(
        client.store().score(&id).await.unwrap(),
        Some((now().timestamp() - 30) as f64)
    );
    assert_eq!(client.count(Some(now())).await.unwrap(), 1);
}

/// The client is generic over the store: the same calls work on the in-memory one.
#[tokio::test]
async fn the_in_memory_store_serves_the_same_client() {
    let client = Client::new(InMemoryJobStore::default()).with_clock(now);
    let id = client
        .schedule(
            now(),
            &Job::new("m.f").meta("owner", "alice").id("mem"),
            Periodic::every(Duration::from_secs(90)),
        )
        .await
        .unwrap();
    let jobs = client.get_jobs(JobQuery::all()).await.unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].id, id);
    assert_eq!(
        jobs[0].hash.get_str("created_at"),
        Some("2026-11-27T18:35:34.475366Z")
    );
    let meta = jobs[0].meta().unwrap();
    assert_eq!(meta.keys().collect::<Vec<_>>(), ["owner", "interval"]);
    assert!(client.cancel(&id).await.unwrap());
    assert_eq!(client.count(None).await.unwrap(), 0);
}

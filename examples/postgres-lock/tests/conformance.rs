//! The lock conformance suite against PostgreSQL (a private server per test, started by
//! the testkit: nothing needs to run on the machine beforehand), and a scheduler run end
//! to end with Redis for the data and PostgreSQL for the lock.

use rqs_postgres_lock::PgAdvisoryLock;
use rqs_testkit::PostgresServer;

/// Two handles (two sessions) on one lock of a private server, kept alive with them.
fn handles() -> (PgAdvisoryLock, PgAdvisoryLock, PostgresServer) {
    let server = PostgresServer::start();
    let name = format!("conformance-{}", uuid::Uuid::new_v4());
    (
        PgAdvisoryLock::new(server.conninfo(), &name),
        PgAdvisoryLock::new(server.conninfo(), &name),
        server,
    )
}

mod postgres {
    rqs_conformance::lock_provider_conformance!(async { super::handles() });
}

/// Redis holds the schedule and the queues, PostgreSQL the lock: two schedulers, one of
/// which finds the lock taken, move every job once.
#[tokio::test]
async fn a_scheduler_runs_with_redis_data_and_a_postgres_lock() {
    use rqs_core::JobId;
    use rqs_lock::LockProvider;
    use rqs_orchestrator::{Scheduler, SchedulerConfig};
    use rqs_redis::{RedisJobStore, RedisLifecycleRegistry};
    use rqs_sink::RqQueueSink;
    use rqs_store::JobAdmin;
    use rqs_testkit::RedisServer;
    use rqs_testkit::client_job;

    let server = RedisServer::start();
    let postgres = PostgresServer::start();
    let conninfo = || postgres.conninfo();
    let conn = server.connection().await;
    let store = RedisJobStore::new(conn.clone());
    for i in 0..50 {
        let id = JobId::from(format!("pg-{i:02}"));
        store
            .schedule(&id, &client_job("default"), 1.0)
            .await
            .unwrap();
    }
    let name = format!("e2e-{}", uuid::Uuid::new_v4());
    // Another instance holds the lock first: the scheduler waits for it.
    let other = PgAdvisoryLock::new(conninfo(), &name);
    assert!(
        other
            .acquire("other@1.0", std::time::Duration::from_secs(30))
            .await
            .unwrap()
    );
    let scheduler = Scheduler::new(
        store.clone(),
        RqQueueSink::new(),
        PgAdvisoryLock::new(conninfo(), &name),
        RedisLifecycleRegistry::new(conn.clone()),
        SchedulerConfig::new("pg-e2e").burst(true),
    );
    let run = tokio::spawn(async move { scheduler.run(std::future::pending()).await });
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    assert_eq!(
        rqs_store::JobStore::count(&store, None).await.unwrap(),
        50,
        "nothing moves while the other instance holds the lock"
    );
    assert!(other.release("other@1.0").await.unwrap());
    let stats = run.await.unwrap().unwrap();
    assert_eq!(stats.pushed, 50);
    let queued: i64 = rqs_redis::redis::cmd("LLEN")
        .arg("rq:queue:default")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    assert_eq!(queued, 50);
    assert_eq!(other.holder().await.unwrap(), None, "released at the end");
}

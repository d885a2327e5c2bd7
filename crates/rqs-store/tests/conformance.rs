//! The JobStore conformance suite against every implementation in this crate.

mod redis {
    use rqs_store::RedisJobStore;
    use rqs_testkit::{RedisProbe, RedisServer};

    rqs_testkit::job_store_conformance!(async {
        let server = RedisServer::start();
        let conn = server.connection().await;
        (
            RedisJobStore::new(conn.clone()),
            RedisProbe::new(conn),
            server,
        )
    });
}

mod in_memory {
    use rqs_store::InMemoryJobStore;
    use rqs_testkit::ModelProbe;

    rqs_testkit::job_store_conformance!(async {
        let store = InMemoryJobStore::default();
        let probe = ModelProbe::new(store.model().clone());
        (store, probe, ())
    });
}

/// The blanket impls forward every method: run the suite through `Arc<dyn JobStore>`.
mod through_arc_dyn {
    use std::sync::Arc;

    use rqs_store::{JobStore, RedisJobStore};
    use rqs_testkit::{RedisProbe, RedisServer};

    rqs_testkit::job_store_conformance!(async {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let store: Arc<dyn JobStore> = Arc::new(RedisJobStore::new(conn.clone()));
        (store, RedisProbe::new(conn), server)
    });
}

/// Data no implementation but Redis can hold: keys of the wrong type, odd members.
/// Bad data must be quarantined or skipped without any partial write, and the rest of the
/// batch must go on.
mod redis_poison {
    use chrono::{TimeZone, Utc};
    use redis::aio::ConnectionManager;
    use rqs_core::plan::{LocalZone, decide};
    use rqs_core::{Action, Enqueue, EnqueueOptions, HandOff, Outcome};
    use rqs_store::{Error, JobStore, RedisJobStore};
    use rqs_testkit::conformance::{client_job, client_job_with};
    use rqs_testkit::{Probe, RedisProbe, RedisServer};

    async fn setup() -> (
        RedisJobStore<ConnectionManager>,
        RedisProbe,
        ConnectionManager,
        RedisServer,
    ) {
        let server = RedisServer::start();
        let conn = server.connection().await;
        (
            RedisJobStore::new(conn.clone()),
            RedisProbe::new(conn.clone()),
            conn,
            server,
        )
    }

    async fn set(conn: &ConnectionManager, key: &str, value: &str) {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(value)
            .query_async(&mut conn.clone())
            .await
            .unwrap();
    }

    async fn batch(store: &RedisJobStore<ConnectionManager>) -> Vec<HandOff> {
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        store
            .due(now.timestamp() as f64, 100)
            .await
            .unwrap()
            .iter()
            .map(|j| {
                decide(j, now, &LocalZone::System, |j| {
                    Enqueue::for_job(j, now, &EnqueueOptions::default())
                })
                .0
            })
            .collect()
    }

    #[tokio::test]
    async fn a_job_key_that_is_not_a_hash_is_unscheduled_untouched() {
        let (store, _probe, conn, _s) = setup().await;
        set(&conn, "rq:job:odd", "a string").await;
        store
            .schedule("odd", &rqs_core::JobHash::new(), 1.0)
            .await
            .unwrap();
        let handoffs = batch(&store).await;
        assert!(matches!(handoffs[0].action, Action::Unschedule { .. }));
        assert_eq!(
            store.commit(&handoffs).await.unwrap(),
            [Outcome::Unscheduled]
        );
        let kept: String = redis::cmd("GET")
            .arg("rq:job:odd")
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        assert_eq!(kept, "a string");
    }

    #[tokio::test]
    async fn wrong_typed_queue_or_dependency_quarantines_that_job_only() {
        let (store, probe, conn, _s) = setup().await;
        set(&conn, "rq:queue:broken", "not a list").await;
        set(&conn, "rq:job:dep-odd", "not a hash").await;
        store
            .schedule("a", &client_job("default"), 1.0)
            .await
            .unwrap();
        store
            .schedule("b", &client_job("broken"), 2.0)
            .await
            .unwrap();
        store
            .schedule(
                "c",
                &client_job_with("default", &[("dependency_ids", br#"["dep-odd"]"#)]),
                3.0,
            )
            .await
            .unwrap();
        store
            .schedule("d", &client_job("default"), 4.0)
            .await
            .unwrap();
        let outcomes = store.commit(&batch(&store).await).await.unwrap();
        assert_eq!(
            outcomes,
            [
                Outcome::Pushed,
                Outcome::Quarantined,
                Outcome::Quarantined,
                Outcome::Pushed
            ]
        );
        assert_eq!(probe.queue("default").await, ["a", "d"]);
        for id in ["b", "c"] {
            let hash = probe.job(id).await.unwrap();
            assert_eq!(
                hash.status(),
                Some("scheduled"),
                "{id} was not half-written"
            );
            assert_eq!(hash.get("enqueued_at"), None);
        }
        let quarantined = store.quarantined().await.unwrap();
        assert!(
            quarantined[0]
                .reason
                .contains("rq:queue:broken is a string"),
            "{:?}",
            quarantined[0]
        );
        assert!(
            quarantined[1].reason.contains("rq:job:dep-odd is a string"),
            "{:?}",
            quarantined[1]
        );
        assert_eq!((quarantined[0].score, quarantined[1].score), (2.0, 3.0));
        assert_eq!(store.count(None).await.unwrap(), 0);
    }

    #[tokio::test]
    async fn a_wrong_typed_shared_key_rejects_the_batch_before_any_write() {
        let (store, probe, conn, _s) = setup().await;
        store
            .schedule("a", &client_job("default"), 1.0)
            .await
            .unwrap();
        let handoffs = batch(&store).await;
        set(&conn, "rq:queues", "not a set").await;
        let err = store.commit(&handoffs).await.unwrap_err();
        assert!(
            matches!(&err, Error::Rejected(m) if m.contains("rq:queues")),
            "{err:?}"
        );
        assert!(!err.is_transient());
        assert_eq!(store.score("a").await.unwrap(), Some(1.0));
        assert_eq!(probe.job("a").await.unwrap().status(), Some("scheduled"));
    }

    #[tokio::test]
    async fn an_id_that_is_not_utf8_does_not_hide_the_others() {
        let (store, _probe, conn, _s) = setup().await;
        let () = redis::cmd("ZADD")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(1)
            .arg(&b"bad-\xff"[..])
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        store
            .schedule("good", &client_job("default"), 2.0)
            .await
            .unwrap();
        let due = store.due(10.0, 10).await.unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[1].id, "good");
    }
}

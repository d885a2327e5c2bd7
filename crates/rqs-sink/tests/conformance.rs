//! The QueueSink conformance suite against every implementation in this crate.

mod redis {
    use rqs_sink::RedisQueueSink;
    use rqs_testkit::{RedisProbe, RedisServer};

    rqs_testkit::queue_sink_conformance!(async {
        let server = RedisServer::start();
        let conn = server.connection().await;
        (
            RedisQueueSink::new(conn.clone()),
            RedisProbe::new(conn),
            server,
        )
    });
}

mod in_memory {
    use std::sync::{Arc, Mutex};

    use rqs_core::memory::RqModel;
    use rqs_sink::InMemoryQueueSink;
    use rqs_testkit::ModelProbe;

    rqs_testkit::queue_sink_conformance!(async {
        let model = Arc::new(Mutex::new(RqModel::new()));
        (
            InMemoryQueueSink::new(model.clone()),
            ModelProbe::new(model),
            (),
        )
    });
}

mod through_box_dyn {
    use rqs_sink::{QueueSink, RedisQueueSink};
    use rqs_testkit::{RedisProbe, RedisServer};

    rqs_testkit::queue_sink_conformance!(async {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let sink: Box<dyn QueueSink> = Box::new(RedisQueueSink::new(conn.clone()));
        (sink, RedisProbe::new(conn), server)
    });
}

/// A queue key of the wrong type makes Redis refuse the enqueue before any write.
mod redis_poison {
    use chrono::{TimeZone, Utc};
    use rqs_core::ScheduledJob;
    use rqs_sink::{Error, QueueSink, RedisQueueSink};
    use rqs_testkit::conformance::client_job;
    use rqs_testkit::{Probe, RedisProbe, RedisServer};

    #[tokio::test]
    async fn a_wrong_typed_queue_is_rejected_without_writes() {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let (sink, probe) = (
            RedisQueueSink::new(conn.clone()),
            RedisProbe::new(conn.clone()),
        );
        let () = redis::cmd("SET")
            .arg("rq:queue:broken")
            .arg("x")
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        let hash = client_job("broken");
        let fields: Vec<(&str, &[u8])> = hash.iter().collect();
        probe.write_job("j", &fields).await;
        let job = ScheduledJob {
            id: "j".into(),
            score: 1.0,
            hash: Some(hash.projection()),
        };
        let now = Utc.timestamp_opt(1_800_000_000, 0).unwrap();
        let err = sink
            .enqueue(&sink.prepare(&job, now).unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Rejected(m) if m.contains("rq:queue:broken is a string")),
            "{err:?}"
        );
        assert_eq!(probe.job("j").await.unwrap().status(), Some("scheduled"));
        assert!(probe.known_queues().await.is_empty());
    }
}

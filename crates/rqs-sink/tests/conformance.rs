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

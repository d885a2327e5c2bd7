//! The QueueSink conformance suite against the in-memory sink, directly and through
//! `Box<dyn QueueSink>` (the Redis sink runs it in `rqs-redis`).

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
    use std::sync::{Arc, Mutex};

    use rqs_core::memory::RqModel;
    use rqs_sink::{InMemoryQueueSink, QueueSink};
    use rqs_testkit::ModelProbe;

    rqs_testkit::queue_sink_conformance!(async {
        let model = Arc::new(Mutex::new(RqModel::new()));
        let sink: Box<dyn QueueSink> = Box::new(InMemoryQueueSink::new(model.clone()));
        (sink, ModelProbe::new(model), ())
    });
}

//! The LifecycleRegistry conformance suite against every implementation in this crate.

mod redis {
    use rqs_lifecycle::RedisLifecycleRegistry;
    use rqs_testkit::RedisServer;

    rqs_testkit::lifecycle_conformance!(async {
        let server = RedisServer::start();
        (
            RedisLifecycleRegistry::new(server.connection().await),
            (),
            server,
        )
    });
}

mod in_memory {
    use rqs_lifecycle::InMemoryLifecycleRegistry;

    rqs_testkit::lifecycle_conformance!(paused: async { (InMemoryLifecycleRegistry::new(), (), ()) });
}

//! The LockProvider conformance suite against every implementation in this crate.

mod redis {
    use rqs_lock::RedisLockProvider;
    use rqs_testkit::RedisServer;

    rqs_testkit::lock_provider_conformance!(async {
        let server = RedisServer::start();
        (
            RedisLockProvider::new(server.connection().await),
            (),
            server,
        )
    });
}

mod in_memory {
    use rqs_lock::InMemoryLockProvider;

    rqs_testkit::lock_provider_conformance!(paused: async { (InMemoryLockProvider::new(), (), ()) });
}

mod through_arc {
    use std::sync::Arc;

    use rqs_lock::RedisLockProvider;
    use rqs_testkit::RedisServer;

    rqs_testkit::lock_provider_conformance!(async {
        let server = RedisServer::start();
        (
            Arc::new(RedisLockProvider::new(server.connection().await)),
            (),
            server,
        )
    });
}

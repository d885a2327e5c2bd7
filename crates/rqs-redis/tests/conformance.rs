//! Every conformance suite against the Redis implementations, each case on a private
//! `redis-server`, plus cases only Redis can hold (keys of the wrong type, ids that are
//! not UTF-8).

use rqs_redis::redis::aio::ConnectionManager;
use rqs_redis::{RedisJobStore, RedisLifecycleRegistry, RedisLockProvider, RedisQueueSink};
use rqs_testkit::{RedisProbe, RedisServer};

async fn store() -> (RedisJobStore<ConnectionManager>, RedisProbe, RedisServer) {
    let server = RedisServer::start();
    let conn = server.connection().await;
    (
        RedisJobStore::new(conn.clone()),
        RedisProbe::new(conn),
        server,
    )
}

mod job_store {
    rqs_testkit::job_store_conformance!(super::store());
}

mod job_admin {
    rqs_testkit::job_admin_conformance!(super::store());
}

/// The blanket impls forward every method: the suite through `Arc<dyn JobAdmin>`.
mod job_store_through_arc_dyn {
    use std::sync::Arc;

    use rqs_store::JobAdmin;

    rqs_testkit::job_store_conformance!(async {
        let (store, probe, server) = super::store().await;
        let store: Arc<dyn JobAdmin> = Arc::new(store);
        (store, probe, server)
    });
}

mod queue_sink {
    use super::*;

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

mod queue_sink_through_box_dyn {
    use rqs_sink::QueueSink;

    use super::*;

    rqs_testkit::queue_sink_conformance!(async {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let sink: Box<dyn QueueSink> = Box::new(RedisQueueSink::new(conn.clone()));
        (sink, RedisProbe::new(conn), server)
    });
}

/// The second handle has a connection of its own, as another process would.
mod lock {
    use super::*;

    rqs_testkit::lock_provider_conformance!(async {
        let server = RedisServer::start();
        (
            RedisLockProvider::new(server.connection().await),
            RedisLockProvider::new(server.connection().await),
            server,
        )
    });
}

mod lock_through_arc {
    use std::sync::Arc;

    use super::*;

    rqs_testkit::lock_provider_conformance!(async {
        let server = RedisServer::start();
        (
            Arc::new(RedisLockProvider::new(server.connection().await)),
            RedisLockProvider::new(server.connection().await),
            server,
        )
    });
}

mod lifecycle {
    use super::*;

    rqs_testkit::lifecycle_conformance!(async {
        let server = RedisServer::start();
        (
            RedisLifecycleRegistry::new(server.connection().await),
            (),
            server,
        )
    });
}

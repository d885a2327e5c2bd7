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

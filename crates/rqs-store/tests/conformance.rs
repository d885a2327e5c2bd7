//! The JobStore and JobAdmin conformance suites against the in-memory store, directly and
//! through `Arc<dyn JobAdmin>` (the Redis store runs them in `rqs-redis`).

mod in_memory {
    use rqs_conformance::ModelProbe;
    use rqs_store::InMemoryJobStore;

    async fn setup() -> (InMemoryJobStore, ModelProbe, ()) {
        let store = InMemoryJobStore::default();
        let probe = ModelProbe::new(store.model().clone());
        (store, probe, ())
    }

    rqs_conformance::job_store_conformance!(setup());

    mod admin {
        rqs_conformance::job_admin_conformance!(super::setup());
    }
}

/// The blanket impls forward every method: run the suites through `Arc<dyn JobAdmin>`.
mod through_arc_dyn {
    use std::sync::Arc;

    use rqs_conformance::ModelProbe;
    use rqs_store::{InMemoryJobStore, JobAdmin};

    async fn setup() -> (Arc<dyn JobAdmin>, ModelProbe, ()) {
        let store = InMemoryJobStore::default();
        let probe = ModelProbe::new(store.model().clone());
        (Arc::new(store), probe, ())
    }

    rqs_conformance::job_store_conformance!(setup());

    mod admin {
        rqs_conformance::job_admin_conformance!(super::setup());
    }
}

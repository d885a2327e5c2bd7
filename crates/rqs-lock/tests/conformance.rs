//! The LockProvider conformance suite against the in-memory lock, on paused time; clones
//! are the second handle (the Redis lock runs the suite in `rqs-redis`).

mod in_memory {
    use rqs_lock::InMemoryLockProvider;

    rqs_conformance::lock_provider_conformance!(paused: async {
        let lock = InMemoryLockProvider::new();
        (lock.clone(), lock, ())
    });
}

mod through_arc_dyn {
    use std::sync::Arc;

    use rqs_lock::{InMemoryLockProvider, LockProvider};

    rqs_conformance::lock_provider_conformance!(paused: async {
        let lock = InMemoryLockProvider::new();
        let first: Arc<dyn LockProvider> = Arc::new(lock.clone());
        (first, lock, ())
    });
}

/// The suite with a declared lease granularity of whole seconds, as a backend that keeps
/// `expires_at` in seconds would run it: the short leases become a second long.
mod whole_seconds {
    use std::time::Duration;

    use rqs_lock::InMemoryLockProvider;

    rqs_conformance::lock_provider_conformance!(paused: granularity = Duration::from_secs(1), async {
        let lock = InMemoryLockProvider::new();
        (lock.clone(), lock, ())
    });
}

//! The LifecycleRegistry conformance suite against the in-memory registry, on paused time
//! (the Redis registry runs it in `rqs-redis`).

mod in_memory {
    use rqs_lifecycle::InMemoryLifecycleRegistry;

    rqs_conformance::lifecycle_conformance!(paused: async { (InMemoryLifecycleRegistry::new(), (), ()) });
}

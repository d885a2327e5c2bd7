//! Every conformance suite against the Redis implementations, each case on a private
//! `redis-server`, plus cases only Redis can hold (keys of the wrong type, ids that are
//! not UTF-8).

use rqs_redis::redis::aio::ConnectionManager;
use rqs_redis::{RedisJobStore, RedisLifecycleRegistry, RedisLockProvider};
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
    rqs_conformance::job_store_conformance!(super::store());
}

mod job_admin {
    rqs_conformance::job_admin_conformance!(super::store());
}

/// The blanket impls forward every method: the suite through `Arc<dyn JobAdmin>`.
mod job_store_through_arc_dyn {
    use std::sync::Arc;

    use rqs_store::JobAdmin;

    rqs_conformance::job_store_conformance!(async {
        let (store, probe, server) = super::store().await;
        let store: Arc<dyn JobAdmin> = Arc::new(store);
        (store, probe, server)
    });
}

mod fast_lane {
    rqs_conformance::fast_lane_conformance!(super::store());
}

mod fast_lane_through_box_dyn {
    use rqs_store::FastLaneStore;

    rqs_conformance::fast_lane_conformance!(async {
        let (store, probe, server) = super::store().await;
        let store: Box<dyn FastLaneStore> = Box::new(store);
        (store, probe, server)
    });
}

/// A wrapper written as `rqs-store`'s docs show, forwarding both the ordinary path and
/// the fast lane.
mod fast_lane_through_a_forwarding_wrapper {
    use rqs_store::{
        FastLane, FastLaneStore, FastPass, HandOff, JobStore, Outcome, Result, ScheduledJob,
        async_trait,
    };

    struct Forwarding<S>(S);

    #[async_trait]
    impl<S: JobStore> JobStore for Forwarding<S> {
        async fn due(&self, until: f64, offset: usize, limit: usize) -> Result<Vec<ScheduledJob>> {
            self.0.due(until, offset, limit).await
        }
        async fn next_due(&self) -> Result<Option<f64>> {
            self.0.next_due().await
        }
        async fn count(&self, until: Option<f64>) -> Result<u64> {
            self.0.count(until).await
        }
        async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
            self.0.commit(batch).await
        }
    }

    #[async_trait]
    impl<S: FastLaneStore> FastLaneStore for Forwarding<S> {
        async fn fast_pass(&self, lane: &FastLane) -> Result<FastPass> {
            self.0.fast_pass(lane).await
        }
    }

    rqs_conformance::fast_lane_conformance!(async {
        let (store, probe, server) = super::store().await;
        (Forwarding(store), probe, server)
    });
    rqs_conformance::job_store_conformance!(async {
        let (store, probe, server) = super::store().await;
        (Forwarding(store), probe, server)
    });
}

/// The second handle has a connection of its own, as another process would.
mod lock {
    use super::*;

    rqs_conformance::lock_provider_conformance!(async {
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

    rqs_conformance::lock_provider_conformance!(async {
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

    rqs_conformance::lifecycle_conformance!(async {
        let server = RedisServer::start();
        (
            RedisLifecycleRegistry::new(server.connection().await),
            (),
            server,
        )
    });
}

//! The composition the `rqs` binary runs, as one public function: the README shows it and
//! the binary calls it, so the two cannot drift apart.

use rqs_orchestrator::{Scheduler, SchedulerConfig};
use rqs_sink::RqQueueSink;

use std::sync::Arc;

use crate::{Conn, RedisControl, RedisJobStore, RedisLifecycleRegistry, RedisLockProvider};

/// A scheduler over Redis with RQ's own enqueue.
pub type RedisScheduler<C> =
    Scheduler<RedisJobStore<C>, RqQueueSink, RedisLockProvider<C>, RedisLifecycleRegistry<C>>;

/// The scheduler the `rqs` binary runs: rq-scheduler's keys for the schedule, the lock
/// and the instance records, all on `conn`; RQ's own enqueue; the fast lane on; the
/// pauses of `rqs pause` read through [`RedisControl`]. Add an observer or a clock with
/// the [`Scheduler`] builder methods.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use rqs_orchestrator::SchedulerConfig;
/// use rqs_redis::{ConnectOptions, connect};
///
/// let conn = connect("redis://127.0.0.1:6379/0", &ConnectOptions::default()).await?;
/// let scheduler = rqs_redis::scheduler(conn, SchedulerConfig::new("reports-1"));
/// let stats = scheduler.run(std::future::pending::<()>()).await?;
/// # Ok(()) }
/// ```
pub fn scheduler<C: Conn + 'static>(conn: C, config: SchedulerConfig) -> RedisScheduler<C> {
    Scheduler::new(
        RedisJobStore::new(conn.clone()),
        RqQueueSink::new(),
        RedisLockProvider::new(conn.clone()),
        RedisLifecycleRegistry::new(conn.clone()),
        config,
    )
    .with_fast_lane()
    .with_control(Arc::new(RedisControl::new(conn)))
}

//! The Redis implementations of the rqs component traits, and the plumbing they share.
//!
//! - [`RedisJobStore`] ([`rqs_store::JobStore`] and [`rqs_store::JobAdmin`]):
//!   rq-scheduler's sorted set `rq:scheduler:scheduled_jobs`, the RQ job hashes and the
//!   quarantine hash `rq:rqs:quarantine`; the atomic hand-off is one Lua script per batch;
//! - [`RedisQueueSink`] ([`rqs_sink::QueueSink`]): RQ's `Queue.enqueue_job` as Lua;
//! - [`RedisLockProvider`] ([`rqs_lock::LockProvider`]): `rq:scheduler_lock`, shared with
//!   Python's `rqscheduler`;
//! - [`RedisLifecycleRegistry`] ([`rqs_lifecycle::LifecycleRegistry`]): the
//!   `rq:scheduler_instance:<name>` records;
//! - [`RedisConfig`]: where Redis is, read from a redis-py URL (`redis://`, `rediss://`,
//!   `unix://`) or built field by field, with TLS, ACL user, password and Sentinel;
//!   [`RedisConnection`]: the connection it describes, which reconnects after timeouts and
//!   follows a Sentinel failover; [`connect`]: a plain reconnecting connection;
//!   [`Conn`]: the connection bound the implementations are generic over;
//!   [`backend_error`]: Redis errors as the shared [`rqs_core::BackendError`].
//!
//! Every multi-key step is a Lua script under `src/lua/`, run with `EVALSHA` and loaded
//! again on `NOSCRIPT`. The sink's enqueue script and the store's commit script start
//! with the same fragment (`lua/enqueue.lua`), so the two can never disagree.
//!
//! This crate uses the [`redis`] crate 1.x, re-exported here: build connections with
//! `rqs_redis::redis`, not with another version of the crate, or the types will not
//! match (`E0277 … multiple different versions of crate redis`).

mod config;
mod connection;
mod error;
mod lifecycle;
mod lock;
mod script;
mod sink;
mod store;

pub use config::{
    Address, CertReqs, FromUrl, RedisConfig, Secret, SentinelOptions, TlsOptions, UrlError,
};
pub use connection::{
    Conn, ConnectError, ConnectOptions, RedisConnection, connect, install_tls_provider,
};
pub use error::{REJECTED, backend_error, is_transient};
pub use lifecycle::RedisLifecycleRegistry;
pub use lock::RedisLockProvider;
pub use redis;
pub use sink::RedisQueueSink;
pub use store::{DEFAULT_BYTE_BUDGET, RedisJobStore, parse_quarantine};

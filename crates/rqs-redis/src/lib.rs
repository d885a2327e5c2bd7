//! The Redis implementations of the rqs component traits, and the plumbing they share.
//!
//! - [`RedisJobStore`] ([`rqs_store::JobStore`] and [`rqs_store::JobAdmin`]):
//!   rq-scheduler's sorted set `rq:scheduler:scheduled_jobs`, the RQ job hashes and the
//!   quarantine hash `rq:rqs:quarantine`; the atomic hand-off is one Lua script per batch;
//!   it also runs the fast lane ([`rqs_store::FastLaneStore`]);
//! - [`RedisLockProvider`] ([`rqs_lock::LockProvider`]): `rq:scheduler_lock`, shared with
//!   Python's `rqscheduler`;
//! - [`RedisControl`] ([`rqs_orchestrator::Control`]): the pauses `rqs pause` writes in
//!   `rq:rqs:paused`, which the hand-off scripts also check;
//! - [`RedisLifecycleRegistry`] ([`rqs_lifecycle::LifecycleRegistry`]): the
//!   `rq:scheduler_instance:<name>` records;
//! - [`RedisConfig`]: where Redis is, read from a redis-py URL (`redis://`, `rediss://`,
//!   `unix://`) or built field by field, with TLS, ACL user, password and Sentinel;
//!   [`RedisConnection`]: the connection it describes, which reconnects after timeouts and
//!   follows a Sentinel failover; [`connect`]: a plain reconnecting connection;
//!   [`Conn`]: the connection bound the implementations are generic over;
//!   [`backend_error`]: Redis errors as the shared [`rqs_core::BackendError`].
//!
//! - [`scheduler`]: the whole composition the `rqs` binary runs (these components, RQ's
//!   own sink [`rqs_sink::RqQueueSink`], the fast lane on).
//!
//! Every multi-key step is a Lua script under `src/lua/`, run with `EVALSHA` and loaded
//! again on `NOSCRIPT`. The commit script and the fast-lane script start with the same
//! fragment (`lua/enqueue.lua`), RQ's enqueue, so the two paths can never disagree.
//!
//! This crate uses the [`redis`] crate 1.x, re-exported here: build connections with
//! `rqs_redis::redis`, not with another version of the crate, or the types will not
//! match (`E0277 … multiple different versions of crate redis`).

mod compose;
mod config;
mod connect_error;
mod connection;
mod control;
mod declared;
mod error;
mod lifecycle;
mod lock;
mod rq_registry;
mod script;
mod sentinel;
mod store;
mod tls;
mod url;

pub use compose::{RedisScheduler, scheduler};
pub use config::{Address, ConnectOptions, RedisConfig, Secret, SentinelOptions};
pub use connect_error::ConnectError;
pub use connection::{Conn, RedisConnection, connect};
pub use control::RedisControl;
pub use declared::{ApplyError, DeclaredOp, DeclaredState, RedisDeclared, Seen};
pub use error::{REJECTED, backend_error, is_transient};
pub use lifecycle::RedisLifecycleRegistry;
pub use lock::RedisLockProvider;
pub use redis;
pub use rq_registry::{Moved, RQ_DEFAULT_TIMEOUT, RQS_TOKEN_PREFIX, RegistryView, RqRegistries};
pub use store::{DEFAULT_BYTE_BUDGET, RedisJobStore, parse_quarantine};
pub use tls::{CertReqs, TlsOptions, install_tls_provider};
pub use url::{FromUrl, UrlError};

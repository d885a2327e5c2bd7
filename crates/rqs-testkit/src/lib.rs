//! Test support for rqs.
//!
//! - [`RedisServer`]: a private `redis-server` per test on a free loopback port, killed on
//!   drop; tests never share state and never touch a Redis they did not start; with a
//!   TLS port ([`tls`] makes the certificates), as a replica, or inside a network
//!   namespace ([`netns`]) whose link the test cuts;
//! - [`RedisSentinel`]: a private Redis Sentinel watching such a server;
//! - [`PostgresServer`]: a private PostgreSQL server per test (its own `initdb` cluster on a
//!   free loopback port), for backends of the component traits that live in PostgreSQL;
//! - [`Probe`], [`RedisProbe`], [`ModelProbe`]: look at RQ state whatever the backend;
//! - [`conformance`]: one suite per component trait and the macros that run them;
//! - [`python`]: pinned Python environments (rq, rq-scheduler) cached under `target/`;
//! - [`meta`]: pickled meta dicts for tests.
//!
//! The `redis` feature adds what talks to Redis (connections to a [`RedisServer`],
//! `RedisProbe`); without it the crate needs no Redis client, so the trait crates can run
//! the conformance suites against their in-memory implementations without one.
//!
//! The conformance macros expand into `#[tokio::test]` functions: the crate that uses
//! them needs `tokio` with the `macros` and `rt` features among its dev-dependencies
//! (and `test-util` for the `paused:` variants).
//!
//! This crate is test support, not a stable API.

pub mod conformance;
pub mod meta;
pub mod netns;
mod postgres;
mod probe;
pub mod python;
mod sentinel;
mod server;
pub mod tls;

pub use postgres::PostgresServer;
#[cfg(feature = "redis")]
pub use probe::RedisProbe;
pub use probe::{ModelProbe, Probe};
pub use sentinel::RedisSentinel;
pub use server::{RedisServer, ServerOptions, TlsServer};

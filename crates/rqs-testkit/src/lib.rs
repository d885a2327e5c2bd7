//! Test support for rqs.
//!
//! - [`RedisServer`]: a private `redis-server` per test on a free loopback port, killed on
//!   drop; tests never share state and never touch a Redis they did not start; with a
//!   TLS port ([`tls`] makes the certificates), as a replica, or inside a network
//!   namespace ([`netns`]) whose link the test cuts;
//! - [`RedisSentinel`]: a private Redis Sentinel watching such a server;
//! - [`PostgresServer`]: a private PostgreSQL server per test (its own `initdb` cluster on a
//!   free loopback port), for backends of the component traits that live in PostgreSQL;
//! - [`RedisProbe`]: the conformance suites' [`Probe`](rqs_conformance::Probe) over Redis
//!   (the suites themselves are in `rqs-conformance`);
//! - [`client_job`], [`client_job_with`]: job hashes as rq-scheduler's client writes them;
//! - [`python`]: pinned Python environments (rq, rq-scheduler) cached under `target/`;
//! - [`meta`]: pickled meta dicts for tests.
//!
//! The `redis` feature adds what talks to Redis (connections to a [`RedisServer`],
//! `RedisProbe`); without it the crate needs no Redis client.
//!
//! This crate is rqs's own test support, not a stable API; the conformance suites, which
//! other implementations run, are in `rqs-conformance`.

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
pub use rqs_conformance::{client_job, client_job_with};
pub use sentinel::RedisSentinel;
pub use server::{RedisServer, ServerOptions, TlsServer};

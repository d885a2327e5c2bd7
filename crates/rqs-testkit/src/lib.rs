//! Test support for rqs.
//!
//! - [`RedisServer`]: a private `redis-server` per test on a free loopback port, killed on
//!   drop; tests never share state and never touch a Redis they did not start;
//! - [`Probe`], [`RedisProbe`], [`ModelProbe`]: look at RQ state whatever the backend;
//! - [`conformance`]: one suite per component trait and the macros that run them;
//! - [`python`]: pinned Python environments (rq, rq-scheduler) cached under `target/`;
//! - [`meta`]: pickled meta dicts for tests.
//!
//! This crate is test support, not a stable API.

pub mod conformance;
pub mod meta;
mod probe;
pub mod python;
mod server;

pub use probe::{ModelProbe, Probe, RedisProbe};
pub use server::{RedisServer, ServerOptions};

//! End-to-end tests: the real `rqs` binary against a private `redis-server`.

#![allow(clippy::print_stderr)]

#[path = "../support/mod.rs"]
mod support;

mod cli;
mod connecting;
mod daemon;
mod faults;
mod hostile;
mod races;
mod resilience;
mod schedule;
mod sentinel;
mod stream;
mod takeover;

//! Operations tests: the real `rqs` binary against a private `redis-server` populated by
//! the real Python client (rq-scheduler): Prometheus metrics and health endpoints over
//! HTTP, every inspection subcommand, and the status page in headless Chromium.

#![allow(clippy::print_stderr)]

#[path = "../support/mod.rs"]
mod support;

mod commands;
mod common;
mod deploy;
mod hardening;
mod image;
mod metrics;
mod page;
mod unattended;

//! Operations tests: the real `rqs` binary against a private `redis-server` populated by
//! the real Python client (rq-scheduler): Prometheus metrics and health endpoints over
//! HTTP, every inspection subcommand, the status page in headless Chromium, and every
//! command the docs show.

#![allow(clippy::print_stderr)]

#[path = "../support/mod.rs"]
mod support;

mod commands;
mod common;
mod controls;
mod deploy;
mod docs;
mod hardening;
mod image;
mod list;
mod metrics;
mod page;
mod page_controls;
mod rq_scheduled;
mod schedules;
mod unattended;

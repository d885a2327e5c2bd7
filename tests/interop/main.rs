//! Interop tests against the real Python packages.
//!
//! For each suite and each stack of the matrix: the Python client schedules jobs into one
//! database, which is copied to a twin; `rqs --burst` runs on one and Python's
//! `rqscheduler --burst` on the other, at the same moment; the two databases must then be
//! equal key by key and field by field (values only the daemons choose, such as
//! timestamps and instance names, normalised). Finally `rq worker --burst` runs what rqs
//! enqueued and every job must end with the right status and result.

#![allow(clippy::print_stderr)]

#[path = "../support/mod.rs"]
mod support;

mod client;
mod declare;
mod rq_scheduled;
mod twin;

use rqs_client::RqFormat;
use rqs_testkit::python::Stack;

macro_rules! suite {
    ($($test:ident: $stack:expr, $suite:literal;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            twin::run($stack, $suite).await;
        }
    )*};
}

suite! {
    oneoff_rq2: Stack::Rq2, "oneoff";
    periodic_rq2: Stack::Rq2, "periodic";
    mixed_rq2: Stack::Rq2, "mixed";
    oneoff_rq3: Stack::Rq3, "oneoff";
    periodic_rq3: Stack::Rq3, "periodic";
    mixed_rq3: Stack::Rq3, "mixed";
    oneoff_rq1: Stack::Rq1, "oneoff";
    periodic_rq1: Stack::Rq1, "periodic";
    mixed_rq1: Stack::Rq1, "mixed";
}

macro_rules! client_suite {
    ($($test:ident: $stack:expr, $format:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            client::run($stack, $format).await;
        }
    )*};
}

// Jobs written by the Rust client and `rqs schedule` (tests/interop/client.rs).
client_suite! {
    client_jobs_rq2: Stack::Rq2, RqFormat::Rq2;
    client_jobs_rq3: Stack::Rq3, RqFormat::Rq2;
    client_jobs_rq1: Stack::Rq1, RqFormat::Rq1;
}

macro_rules! declare_suite {
    ($($test:ident: $stack:expr;)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $test() {
            declare::run($stack).await;
        }
    )*};
}

// Jobs declared in a schedule file and written by `rqs apply` (tests/interop/declare.rs).
declare_suite! {
    declared_jobs_rq2: Stack::Rq2;
    declared_jobs_rq3: Stack::Rq3;
}

// RQ's own registries moved by rqs and by RQScheduler (tests/interop/rq_scheduled.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rq_scheduled_jobs_rq2() {
    rq_scheduled::run(Stack::Rq2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rq_scheduled_jobs_rq3() {
    rq_scheduled::run(Stack::Rq3).await;
}

//! Conformance suites for rqs's component traits: one per trait, each a list of plain
//! async functions that turn a sentence of the trait's `# Contract` into assertions.
//!
//! Every implementation (Redis, in-memory, wrappers, your own) runs the same cases through
//! the macros [`job_store_conformance!`], [`job_admin_conformance!`],
//! [`fast_lane_conformance!`], [`queue_sink_conformance!`],
//! [`fast_lane_sink_conformance!`], [`lock_provider_conformance!`] and
//! [`lifecycle_conformance!`], which expand into one `#[tokio::test]` per case so a failure
//! names its case. Each case sees the state the implementation works on through a
//! [`Probe`] (a client's or an operator's view of RQ's keys): [`ModelProbe`] for the
//! in-memory model; `rqs-testkit` has one over Redis.
//!
//! # Using it
//! Add this crate and `tokio` with the `macros` and `rt` features to your
//! dev-dependencies; the `paused:` variants of the lock and lifecycle suites also need
//! tokio's `test-util` feature. Then, in a test file:
//!
//! ```
//! use rqs_lock::InMemoryLockProvider;
//!
//! // One `#[tokio::test]` per case. Each case gets a lock of its own (cases run in
//! // parallel), a second handle on it as another process would open it, and anything to
//! // keep alive during the case. `paused:` because this lock keeps Tokio's time.
//! rqs_conformance::lock_provider_conformance!(paused: async {
//!     let lock = InMemoryLockProvider::new();
//!     (lock.clone(), lock, ())
//! });
//! # fn main() {}
//! ```
//!
//! The API is the macros, [`Probe`] and the case functions' signatures; a new case may
//! be added in a minor release (it checks a sentence the contract already had).
//! This crate depends on the trait crates, `tokio`, `async-trait` and `chrono` only.

mod probe;

pub mod fast_lane;
pub mod job_admin;
pub mod job_store;
pub mod lifecycle;
pub mod lock;
pub mod queue_sink;

pub use probe::{ModelProbe, Probe};

use rqs_core::JobHash;

/// A job hash as rq-scheduler's client writes it for a one-off job on `queue`.
pub fn client_job(queue: &str) -> JobHash {
    JobHash::from_pairs([
        ("created_at", &b"2026-11-27T18:30:00.000000Z"[..]),
        // The scheduler never reads `data`; only its presence matters.
        ("data", b"x\x9c opaque payload"),
        ("success_callback_name", b""),
        ("failure_callback_name", b""),
        ("stopped_callback_name", b""),
        ("started_at", b""),
        ("ended_at", b""),
        ("last_heartbeat", b""),
        ("worker_name", b""),
        ("group_id", b""),
        ("origin", queue.as_bytes()),
        ("description", b"tasks.ok()"),
        ("status", b"scheduled"),
    ])
}

/// `client_job(queue)` with extra fields.
pub fn client_job_with(queue: &str, extra: &[(&str, &[u8])]) -> JobHash {
    let mut hash = client_job(queue);
    for (k, v) in extra {
        hash.set(*k, *v);
    }
    hash
}

/// Expands a conformance suite into one `#[tokio::test]` per case. With `paused`, each
/// case runs on paused Tokio time, for implementations whose clock is Tokio's.
#[doc(hidden)]
#[macro_export]
macro_rules! __conformance_cases {
    (paused $module:ident, $setup:expr; $($case:ident),* $(,)?) => {$(
        #[tokio::test(start_paused = true)]
        async fn $case() {
            let (subject, probe, _guard) = $setup.await;
            $crate::$module::$case(&subject, &probe).await;
        }
    )*};
    ($module:ident, $setup:expr; $($case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let (subject, probe, _guard) = $setup.await;
            $crate::$module::$case(&subject, &probe).await;
        }
    )*};
}

/// Runs the `JobStore` suite. `$setup` is an `async` block returning
/// `(store, probe, guard)`: the store under test, a [`Probe`](crate::Probe) on the same
/// state, and anything to keep alive during the case (such as a `RedisServer`).
///
/// Cases run in parallel, so each `$setup` must give its case a state of its own (a
/// private server, a fresh model, a key prefix of its own).
#[macro_export]
macro_rules! job_store_conformance {
    ($setup:expr) => {
        $crate::__conformance_cases!(job_store, $setup;
            due_orders_by_score_then_id,
            due_reports_missing_hashes,
            due_skips_offset_and_count_matches_rq_scheduler,
            commit_pushes_and_unschedules_a_one_off_job,
            commit_rearms_a_periodic_job,
            commit_is_guarded_by_the_read_score,
            commit_twice_changes_nothing_the_second_time,
            commit_unschedules_and_quarantines,
            commit_of_a_vanished_hash_unschedules_it,
            commit_guards_and_replaces_meta,
            commit_defers_behind_an_unfinished_dependency,
            commit_keeps_batch_order,
            commit_handles_a_repeated_id_once,
            commit_keeps_push_order_per_queue,
            commit_guards_a_large_meta,
            commit_pushes_at_the_tail_and_registers_the_queue,
            commit_at_front_pushes_at_the_head,
            commit_keeps_an_existing_timeout,
            commit_expires_a_job_with_ttl,
            commit_records_a_deferral_like_rq,
            commit_pushes_when_dependencies_are_finished_or_gone,
            commit_leaves_the_deferred_registry_when_pushed,
        );
    };
}

/// Runs the `JobAdmin` suite; `$setup` returns `(store, probe, guard)` as for
/// [`job_store_conformance!`](crate::job_store_conformance).
#[macro_export]
macro_rules! job_admin_conformance {
    ($setup:expr) => {
        $crate::__conformance_cases!(job_admin, $setup;
            count_and_list_match_rq_scheduler,
            cancel_keeps_the_hash_and_is_idempotent,
            change_execution_time_moves_only_scheduled_jobs,
            job_reads_the_whole_hash,
            release_puts_a_quarantined_job_back,
        );
    };
}

/// Runs the `FastLaneStore` suite; `$setup` returns `(store, probe, guard)` as for
/// [`job_store_conformance!`]. The cases use RQ's default plain enqueue (a 180 s timeout).
#[macro_export]
macro_rules! fast_lane_conformance {
    ($setup:expr) => {
        $crate::__conformance_cases!(fast_lane, $setup;
            a_window_hands_over_plain_jobs_like_commit,
            a_window_stops_at_a_job_that_needs_a_decision,
            a_window_skips_offset_and_honours_limit_and_until,
            a_window_rearms_jobs_by_their_meta_plan,
            two_windows_in_flight_hand_each_job_over_once,
        );
    };
}

/// Runs the `QueueSink` suite; `$setup` returns `(sink, probe, guard)`.
#[macro_export]
macro_rules! queue_sink_conformance {
    ($setup:expr) => {
        $crate::__conformance_cases!(queue_sink, $setup;
            prepare_describes_rqs_enqueue,
            prepare_rejects_missing_and_corrupt_jobs,
        );
    };
}

/// Runs the `FastLaneSink` suite (the `QueueSink` one, plus the fast lane's rule);
/// `$setup` returns `(sink, probe, guard)`.
#[macro_export]
macro_rules! fast_lane_sink_conformance {
    ($setup:expr) => {
        $crate::queue_sink_conformance!($setup);
        $crate::__conformance_cases!(queue_sink, $setup;
            plain_enqueue_is_what_prepare_describes,
        );
    };
}

/// Runs the `LockProvider` suite; `$setup` returns `(lock, other, guard)`: the handle
/// under test, a second handle on the same lock as another process would open it (its
/// own connection), and anything to keep alive during the case. Each case needs a lock
/// of its own: cases run in parallel.
///
/// Options, before the setup:
/// - `paused:` when the implementation keeps time with `tokio::time::Instant`: the cases
///   then run on paused time and never wait for real (needs tokio's `test-util`);
/// - `granularity = DURATION,` when the backend keeps leases coarser than a millisecond
///   (whole seconds for a SQL row with an `expires_at` in seconds, say): the short
///   leases the cases use are at least that long, and their waits past a lease are
///   longer by as much.
#[macro_export]
macro_rules! lock_provider_conformance {
    (@grain [$($paused:ident)?] granularity = $grain:expr, $setup:expr) => {
        $crate::__lock_cases!([$($paused)?] $grain, $setup);
    };
    (@grain [$($paused:ident)?] $setup:expr) => {
        $crate::__lock_cases!([$($paused)?] $crate::lock::FINE, $setup);
    };
    (paused: $($rest:tt)*) => {
        $crate::lock_provider_conformance!(@grain [paused] $($rest)*);
    };
    ($($rest:tt)*) => {
        $crate::lock_provider_conformance!(@grain [] $($rest)*);
    };
}

/// The lock cases, each with the lease granularity as a third argument.
#[doc(hidden)]
#[macro_export]
macro_rules! __lock_cases {
    ([$($paused:ident)?] $grain:expr, $setup:expr) => {
        $crate::__lock_cases!(@each [$($paused)?] $grain, $setup;
            only_one_owner_at_a_time,
            renew_and_release_only_by_the_owner,
            an_expired_lease_is_free_and_cannot_be_renewed,
            renew_extends_the_lease,
            two_handles_share_one_lease,
            a_silent_holder_loses_its_lease_to_another_handle,
            tokens_of_the_longest_name_are_kept_whole,
        );
    };
    (@each [paused] $grain:expr, $setup:expr; $($case:ident),* $(,)?) => {$(
        #[tokio::test(start_paused = true)]
        async fn $case() {
            let (subject, other, _guard) = $setup.await;
            $crate::lock::$case(&subject, &other, $grain).await;
        }
    )*};
    (@each [] $grain:expr, $setup:expr; $($case:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $case() {
            let (subject, other, _guard) = $setup.await;
            $crate::lock::$case(&subject, &other, $grain).await;
        }
    )*};
}

/// Runs the `LifecycleRegistry` suite; `$setup` returns `(registry, (), guard)`, with a
/// registry of its own for each case. Prefix
/// with `paused:` as for [`lock_provider_conformance!`](crate::lock_provider_conformance).
#[macro_export]
macro_rules! lifecycle_conformance {
    (paused: $setup:expr) => {
        $crate::lifecycle_conformance!(@cases [paused] $setup);
    };
    ($setup:expr) => {
        $crate::lifecycle_conformance!(@cases [] $setup);
    };
    (@cases [$($paused:ident)?] $setup:expr) => {
        $crate::__conformance_cases!($($paused)? lifecycle, $setup;
            birth_refuses_a_live_name,
            death_allows_a_new_birth,
            heartbeat_reports_an_expired_record,
            birth_takes_over_a_stale_record,
            times_are_python_float_reprs,
            instances_lists_every_record,
        );
    };
}

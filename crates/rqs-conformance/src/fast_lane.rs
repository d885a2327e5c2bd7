//! Conformance cases of `FastLaneStore`: every window hands over exactly the plain jobs
//! the ordinary path would, as it would, and nothing else.

use chrono::{TimeZone, Utc};
use rqs_core::fast::{FastLane, FastPass, MetaPlan, PlainEnqueue};
use rqs_core::{JobHash, time};
use rqs_store::FastLaneStore;

use super::{client_job, client_job_with};
use crate::Probe;

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 250_000_000).unwrap()
}

/// RQ's default rule.
const PLAIN: PlainEnqueue = PlainEnqueue {
    default_timeout: 180,
};

fn lane(offset: usize, limit: usize, plans: Vec<MetaPlan>) -> FastLane {
    let mut lane = FastLane::at(now(), offset, limit, PLAIN);
    lane.plans = plans;
    lane
}

fn ids(pass: &FastPass) -> Vec<String> {
    pass.handed
        .iter()
        .map(|h| String::from_utf8_lossy(h.job_id.as_bytes()).into_owned())
        .collect()
}

/// Plain jobs are handed over in schedule order, as the ordinary path would: pushed at
/// the tail, queued, enqueued at the window's time, the default timeout only where there
/// was none, unscheduled; the reply names each with its score and queue.
pub async fn a_window_hands_over_plain_jobs_like_commit(
    store: &impl FastLaneStore,
    probe: &impl Probe,
) {
    probe.schedule("b", &client_job("default"), 2.0).await;
    probe.schedule("a", &client_job("default"), 1.0).await;
    let timed = client_job_with("reports", &[("timeout", b"30")]);
    probe.schedule("c", &timed, 3.0).await;
    probe.schedule("later", &client_job("default"), 4e9).await;
    let pass = store.fast_pass(&lane(0, 100, Vec::new())).await.unwrap();
    assert_eq!(ids(&pass), ["a", "b", "c"]);
    assert!(!pass.stopped, "nothing needed a decision");
    let first = &pass.handed[0];
    assert_eq!(
        (first.score, first.queue.as_bytes()),
        (1.0, &b"default"[..])
    );
    assert!(!first.rescheduled);
    assert_eq!(pass.handed[2].queue, "reports");
    assert_eq!(probe.queue("default").await, ["a", "b"]);
    assert_eq!(probe.queue("reports").await, ["c"]);
    assert_eq!(probe.known_queues().await, ["default", "reports"]);
    let stamp = time::rq_timestamp(now());
    for (id, timeout) in [("a", &b"180"[..]), ("c", b"30")] {
        let hash = probe.job(id).await.unwrap();
        assert_eq!(hash.get("status"), Some(&b"queued"[..]), "{id}");
        assert_eq!(hash.get("enqueued_at"), Some(stamp.as_bytes()), "{id}");
        assert_eq!(hash.get("timeout"), Some(timeout), "{id}");
        assert_eq!(probe.score(id).await, None, "{id} left the schedule");
    }
    assert_eq!(
        probe.score("later").await,
        Some(4e9),
        "not due, not touched"
    );
}

/// A window stops before the first job that needs a decision and writes nothing for it
/// or for anything after it.
pub async fn a_window_stops_at_a_job_that_needs_a_decision(
    store: &impl FastLaneStore,
    probe: &impl Probe,
) {
    let kinds: [(&str, &str, &[u8]); 7] = [
        ("deferred", "status", b"deferred"),
        ("ttl", "ttl", b"60"),
        ("front", "enqueue_at_front", b"1"),
        ("deps", "dependency_ids", br#"["x"]"#),
        ("dep", "dependency_id", b"x"),
        ("meta", "meta", b"a meta no plan names"),
        ("no-origin", "origin", b""),
    ];
    // One round per kind, each on a queue of its own, one second later than the last.
    for (round, (kind, field, value)) in kinds.into_iter().enumerate() {
        let queue = format!("q-{kind}");
        let at = 10.0 * round as f64;
        let (plain, after) = (format!("plain-{kind}"), format!("after-{kind}"));
        let hash = client_job_with(&queue, &[(field, value)]);
        probe.schedule(&plain, &client_job(&queue), at + 1.0).await;
        probe.schedule(kind, &hash, at + 2.0).await;
        probe.schedule(&after, &client_job(&queue), at + 3.0).await;
        let pass = store.fast_pass(&lane(0, 100, Vec::new())).await.unwrap();
        assert_eq!(ids(&pass), std::slice::from_ref(&plain), "{kind}");
        assert!(pass.stopped, "{kind}");
        assert_eq!(
            probe.job(kind).await.as_ref(),
            Some(&hash),
            "{kind} untouched"
        );
        assert_eq!(probe.score(kind).await, Some(at + 2.0), "{kind}");
        assert_eq!(probe.score(&after).await, Some(at + 3.0), "{kind}");
        assert_eq!(probe.queue(&queue).await, [plain], "{kind}");
        // Out of the way of the next round, as the ordinary path would take it.
        probe.unschedule(kind).await;
        probe.unschedule(&after).await;
    }
    // A scheduled id whose hash is gone needs a decision too (unschedule it).
    probe.schedule("ghost", &JobHash::new(), 1.0).await;
    let pass = store.fast_pass(&lane(0, 100, Vec::new())).await.unwrap();
    assert!(pass.stopped && pass.handed.is_empty());
    assert_eq!(probe.score("ghost").await, Some(1.0));
}

/// `offset` skips that many due jobs first, `limit` caps the window, and only scores in
/// `[0, floor(now)]` are due.
pub async fn a_window_skips_offset_and_honours_limit_and_until(
    store: &impl FastLaneStore,
    probe: &impl Probe,
) {
    for (i, id) in ["j0", "j1", "j2", "j3", "j4"].iter().enumerate() {
        probe.schedule(id, &client_job("q"), 1.0 + i as f64).await;
    }
    probe.schedule("negative", &client_job("q"), -5.0).await;
    let until = time::floor_seconds(now()) as f64;
    probe.schedule("edge", &client_job("q"), until).await;
    probe
        .schedule("just-after", &client_job("q"), until + 0.5)
        .await;
    let pass = store.fast_pass(&lane(1, 2, Vec::new())).await.unwrap();
    assert_eq!(ids(&pass), ["j1", "j2"]);
    assert!(!pass.stopped);
    assert_eq!(probe.score("j0").await, Some(1.0), "skipped, still due");
    let pass = store.fast_pass(&lane(0, 100, Vec::new())).await.unwrap();
    assert_eq!(ids(&pass), ["j0", "j3", "j4", "edge"]);
    assert_eq!(probe.score("just-after").await, Some(until + 0.5));
    assert_eq!(probe.score("negative").await, Some(-5.0));
    assert_eq!(
        probe.queue("q").await,
        ["j1", "j2", "j0", "j3", "j4", "edge"]
    );
}

/// A job whose meta is one of the window's plans is re-armed at the plan's next score
/// with the plan's new meta; a plan with no next score leaves the schedule.
pub async fn a_window_rearms_jobs_by_their_meta_plan(
    store: &impl FastLaneStore,
    probe: &impl Probe,
) {
    let plans = vec![
        MetaPlan {
            meta: b"every minute".to_vec(),
            new_meta: None,
            next: Some(1_800_000_060.0),
        },
        MetaPlan {
            meta: b"twice more".to_vec(),
            new_meta: Some(b"once more".to_vec()),
            next: Some(1_800_000_120.0),
        },
        MetaPlan {
            meta: b"last run".to_vec(),
            new_meta: None,
            next: None,
        },
    ];
    probe
        .schedule(
            "minute",
            &client_job_with("q", &[("meta", b"every minute")]),
            1.0,
        )
        .await;
    probe
        .schedule(
            "twice",
            &client_job_with("q", &[("meta", b"twice more")]),
            2.0,
        )
        .await;
    probe
        .schedule("last", &client_job_with("q", &[("meta", b"last run")]), 3.0)
        .await;
    let pass = store.fast_pass(&lane(0, 100, plans)).await.unwrap();
    assert_eq!(ids(&pass), ["minute", "twice", "last"]);
    let rearmed: Vec<bool> = pass.handed.iter().map(|h| h.rescheduled).collect();
    assert_eq!(rearmed, [true, true, false]);
    assert_eq!(probe.score("minute").await, Some(1_800_000_060.0));
    assert_eq!(probe.score("twice").await, Some(1_800_000_120.0));
    assert_eq!(probe.score("last").await, None);
    let meta = |id: &'static str| async move {
        probe.job(id).await.unwrap().get("meta").map(<[u8]>::to_vec)
    };
    assert_eq!(meta("minute").await.as_deref(), Some(&b"every minute"[..]));
    assert_eq!(meta("twice").await.as_deref(), Some(&b"once more"[..]));
    assert_eq!(probe.queue("q").await, ["minute", "twice", "last"]);
}

/// Two windows in flight at once (the scheduler sends the next before the last one's
/// reply is in) hand every job over once, in schedule order.
pub async fn two_windows_in_flight_hand_each_job_over_once(
    store: &impl FastLaneStore,
    probe: &impl Probe,
) {
    let all: Vec<String> = (0..40).map(|i| format!("job-{i:02}")).collect();
    for (i, id) in all.iter().enumerate() {
        probe.schedule(id, &client_job("q"), 1.0 + i as f64).await;
    }
    let window = lane(0, 25, Vec::new());
    let (one, two) = tokio::join!(store.fast_pass(&window), store.fast_pass(&window));
    let mut handed = ids(&one.unwrap());
    handed.extend(ids(&two.unwrap()));
    handed.sort();
    assert_eq!(handed, all, "every job once");
    assert_eq!(probe.queue("q").await, all, "in schedule order");
    assert_eq!(probe.scheduled().await, 0);
}

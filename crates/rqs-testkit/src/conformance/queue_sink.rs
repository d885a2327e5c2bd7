//! Conformance cases of `QueueSink`.

use chrono::{TimeZone, Utc};
use rqs_core::{JobHash, Outcome, ScheduledJob};
use rqs_sink::QueueSink;

use super::{client_job, client_job_with};
use crate::Probe;

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 5_000).unwrap()
}

fn job(id: &str, hash: JobHash) -> ScheduledJob {
    ScheduledJob::new(id, 1.0, Some(hash))
}

/// Writes the job hash, prepares and enqueues it.
async fn run(sink: &impl QueueSink, probe: &impl Probe, id: &str, hash: JobHash) -> Outcome {
    let fields: Vec<(&str, &[u8])> = hash.iter().collect();
    probe.write_job(id, &fields).await;
    let e = sink.prepare(&job(id, hash.clone()), now()).unwrap();
    sink.enqueue(&e).await.unwrap()
}

/// `prepare` describes RQ's enqueue: status, `enqueued_at`, default timeout, queue.
pub async fn prepare_describes_rqs_enqueue(sink: &impl QueueSink, _probe: &impl Probe) {
    let e = sink
        .prepare(&job("a", client_job("reports")), now())
        .unwrap();
    assert_eq!(e.job_id, "a");
    assert_eq!(e.queue, "reports");
    assert!(!e.at_front);
    assert!(
        e.ready_fields
            .contains(&("status".into(), b"queued".to_vec()))
    );
    assert!(e.ready_fields.contains(&(
        "enqueued_at".into(),
        b"2027-01-15T08:00:00.000005Z".to_vec()
    )));
    assert!(
        e.ready_fields
            .contains(&("timeout".into(), b"180".to_vec()))
    );
    assert_eq!(
        e.deferred_fields,
        [("status".to_owned(), b"deferred".to_vec())]
    );
    assert_eq!(e.now, 1_800_000_000);
}

/// `prepare` refuses a missing job and unreadable fields instead of guessing.
pub async fn prepare_rejects_missing_and_corrupt_jobs(sink: &impl QueueSink, _probe: &impl Probe) {
    let missing = ScheduledJob::new("m", 1.0, None);
    assert!(sink.prepare(&missing, now()).is_err());
    let no_data = JobHash::from_pairs([("origin", "q")]);
    assert!(sink.prepare(&job("n", no_data), now()).is_err());
    for (field, value) in [
        ("ttl", &b"forever"[..]),
        ("enqueue_at_front", b"yes"),
        ("dependency_ids", b"[1, 2"),
        ("origin", b""),
    ] {
        let hash = client_job_with("q", &[(field, value)]);
        let err = sink.prepare(&job("c", hash), now()).unwrap_err();
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
}

/// A job is pushed at the tail and its queue registered in `rq:queues`.
pub async fn enqueue_pushes_at_the_tail_and_registers_the_queue(
    sink: &impl QueueSink,
    probe: &impl Probe,
) {
    assert_eq!(
        run(sink, probe, "a", client_job("default")).await,
        Outcome::Pushed
    );
    assert_eq!(
        run(sink, probe, "b", client_job("default")).await,
        Outcome::Pushed
    );
    assert_eq!(
        run(sink, probe, "c", client_job("brandnew")).await,
        Outcome::Pushed
    );
    assert_eq!(probe.queue("default").await, ["a", "b"]);
    assert_eq!(probe.queue("brandnew").await, ["c"]);
    assert_eq!(probe.known_queues().await, ["brandnew", "default"]);
    let hash = probe.job("a").await.unwrap();
    assert_eq!(hash.get("status"), Some(&b"queued"[..]));
    assert_eq!(hash.get("timeout"), Some(&b"180"[..]));
    assert_eq!(probe.job_ttl("a").await, None);
}

/// `enqueue_at_front=1` pushes at the head, so several end up in reverse order.
pub async fn enqueue_at_front_pushes_at_the_head(sink: &impl QueueSink, probe: &impl Probe) {
    run(sink, probe, "back", client_job("q")).await;
    for id in ["f1", "f2"] {
        run(
            sink,
            probe,
            id,
            client_job_with("q", &[("enqueue_at_front", b"1")]),
        )
        .await;
    }
    run(
        sink,
        probe,
        "zero",
        client_job_with("q", &[("enqueue_at_front", b"0")]),
    )
    .await;
    assert_eq!(probe.queue("q").await, ["f2", "f1", "back", "zero"]);
}

/// A job with a timeout keeps it; only an absent or empty one becomes 180.
pub async fn enqueue_keeps_an_existing_timeout(sink: &impl QueueSink, probe: &impl Probe) {
    run(
        sink,
        probe,
        "t",
        client_job_with("q", &[("timeout", b"30")]),
    )
    .await;
    run(sink, probe, "e", client_job_with("q", &[("timeout", b"")])).await;
    assert_eq!(
        probe.job("t").await.unwrap().get("timeout"),
        Some(&b"30"[..])
    );
    assert_eq!(
        probe.job("e").await.unwrap().get("timeout"),
        Some(&b"180"[..])
    );
}

/// A positive `ttl` field expires the job hash at the hand-off.
pub async fn enqueue_expires_a_job_with_ttl(sink: &impl QueueSink, probe: &impl Probe) {
    run(sink, probe, "t", client_job_with("q", &[("ttl", b"600")])).await;
    let ttl = probe.job_ttl("t").await.expect("hash has a ttl");
    // Up to 40 s for a stalled machine between the hand-off and the read.
    assert!((560..=600).contains(&ttl), "{ttl}");
    run(sink, probe, "n", client_job_with("q", &[("ttl", b"-1")])).await;
    assert_eq!(probe.job_ttl("n").await, None);
}

/// An existing dependency that is not finished defers the job, as RQ does.
pub async fn enqueue_defers_behind_an_unfinished_dependency(
    sink: &impl QueueSink,
    probe: &impl Probe,
) {
    probe
        .write_job("d1", &[("status", b"finished"), ("data", b"x")])
        .await;
    probe
        .write_job("d2", &[("status", b"queued"), ("data", b"x")])
        .await;
    let hash = client_job_with(
        "q",
        &[
            ("dependency_ids", br#"["d1", "d2"]"#),
            ("dependency_id", b"d1"),
            ("ttl", b"300"),
        ],
    );
    assert_eq!(run(sink, probe, "a", hash).await, Outcome::Deferred);
    assert!(probe.queue("q").await.is_empty());
    assert_eq!(probe.known_queues().await, ["q"]);
    let stored = probe.job("a").await.unwrap();
    assert_eq!(stored.get("status"), Some(&b"deferred"[..]));
    assert_eq!(
        stored.get("enqueued_at"),
        None,
        "a deferred job is not enqueued yet"
    );
    assert_eq!(probe.deferred("q").await.get("a"), Some(&1_800_000_000));
    assert!(probe.dependents("d1").await.contains("a"));
    assert!(probe.dependents("d2").await.contains("a"));
    assert_eq!(
        probe
            .dependencies("a")
            .await
            .into_iter()
            .collect::<Vec<_>>(),
        ["d1", "d2"]
    );
    assert!(probe.job_ttl("a").await.is_some());
}

/// Finished and missing dependencies count as met.
pub async fn enqueue_pushes_when_dependencies_are_finished_or_gone(
    sink: &impl QueueSink,
    probe: &impl Probe,
) {
    probe
        .write_job("done", &[("status", b"finished"), ("data", b"x")])
        .await;
    let hash = client_job_with("q", &[("dependency_ids", br#"["done", "never-existed"]"#)]);
    assert_eq!(run(sink, probe, "a", hash).await, Outcome::Pushed);
    assert_eq!(probe.queue("q").await, ["a"]);
    assert!(probe.deferred("q").await.is_empty());
}

/// A job stored as `deferred` whose dependencies are now met leaves the registry.
pub async fn enqueue_leaves_the_deferred_registry_when_pushed(
    sink: &impl QueueSink,
    probe: &impl Probe,
) {
    probe
        .write_job("dep", &[("status", b"started"), ("data", b"x")])
        .await;
    let hash = client_job_with("q", &[("dependency_ids", br#"["dep"]"#)]);
    assert_eq!(run(sink, probe, "a", hash).await, Outcome::Deferred);
    probe.write_job("dep", &[("status", b"finished")]).await;
    let again = probe.job("a").await.unwrap();
    assert_eq!(again.status(), Some("deferred"));
    assert_eq!(run(sink, probe, "a", again).await, Outcome::Pushed);
    assert!(probe.deferred("q").await.is_empty());
    assert_eq!(probe.queue("q").await, ["a"]);
}

//! Conformance cases of `QueueSink` and `FastLaneSink`.

use chrono::{TimeZone, Utc};
use rqs_core::{JobHash, ScheduledJob};
use rqs_sink::{FastLaneSink, QueueSink};

use super::{client_job, client_job_with};
use crate::Probe;

fn now() -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_800_000_000, 5_000).unwrap()
}

fn job(id: &str, hash: JobHash) -> ScheduledJob {
    ScheduledJob::new(id, 1.0, Some(hash))
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

/// A sink that offers the fast lane describes, for every plain job, exactly its plain
/// enqueue: queued, enqueued now, the rule's timeout when the job has none, at the tail,
/// no time to live. Whatever the store writes in the fast lane is what `prepare` says.
pub async fn plain_enqueue_is_what_prepare_describes(
    sink: &impl FastLaneSink,
    _probe: &impl Probe,
) {
    let rule = sink.plain_enqueue();
    let stamp = rqs_core::time::rq_timestamp(now()).into_bytes();
    for (hash, timeout) in [
        (
            client_job("reports"),
            rule.default_timeout.to_string().into_bytes(),
        ),
        (
            client_job_with("reports", &[("timeout", b"")]),
            rule.default_timeout.to_string().into_bytes(),
        ),
        (
            client_job_with("reports", &[("timeout", b"42")]),
            b"42".to_vec(),
        ),
        (
            client_job_with("reports", &[("ttl", b""), ("meta", b"")]),
            rule.default_timeout.to_string().into_bytes(),
        ),
    ] {
        let e = sink.prepare(&job("p", hash), now()).unwrap();
        assert_eq!(e.queue, "reports");
        assert!(!e.at_front, "a plain job goes at the tail");
        assert_eq!(e.ttl, None, "a plain job gets no time to live");
        assert!(e.dependencies.is_empty() && !e.was_deferred);
        let mut fields = e.ready_fields.clone();
        fields.sort();
        let mut want = vec![
            ("enqueued_at".to_owned(), stamp.clone()),
            ("status".to_owned(), b"queued".to_vec()),
        ];
        if timeout != b"42" {
            want.push(("timeout".to_owned(), timeout));
        }
        want.sort();
        assert_eq!(fields, want);
    }
}

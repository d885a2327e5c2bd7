//! The QueueSink and FastLaneSink conformance suites against RQ's own sink, directly,
//! through `Box<dyn …>` and `Arc`, and through a recording wrapper written as the crate
//! docs show.

mod rq {
    rqs_conformance::fast_lane_sink_conformance!(async {
        (
            rqs_sink::RqQueueSink::new(),
            rqs_conformance::ModelProbe::new(Default::default()),
            (),
        )
    });
}

mod rq_with_options {
    use rqs_sink::{EnqueueOptions, RqQueueSink};

    rqs_conformance::queue_sink_conformance!(async {
        let options = EnqueueOptions::default().met_statuses(["finished", "stopped"]);
        (
            RqQueueSink::with_options(options),
            rqs_conformance::ModelProbe::new(Default::default()),
            (),
        )
    });
}

mod through_box_dyn {
    use rqs_sink::{FastLaneSink, RqQueueSink};

    rqs_conformance::fast_lane_sink_conformance!(async {
        let sink: Box<dyn FastLaneSink> = Box::new(RqQueueSink::new());
        (
            sink,
            rqs_conformance::ModelProbe::new(Default::default()),
            (),
        )
    });
}

mod through_arc {
    use std::sync::Arc;

    rqs_conformance::fast_lane_sink_conformance!(async {
        (
            Arc::new(rqs_sink::RqQueueSink::new()),
            rqs_conformance::ModelProbe::new(Default::default()),
            (),
        )
    });
}

mod through_a_recording_wrapper {
    use std::sync::Mutex;

    use rqs_sink::{
        DateTime, Enqueue, FastHandOff, FastLaneSink, JobError, JobId, PlainEnqueue, QueueSink,
        RqQueueSink, ScheduledJob, Utc,
    };

    struct Recording<Q> {
        inner: Q,
        seen: Mutex<Vec<JobId>>,
    }

    impl<Q: QueueSink> QueueSink for Recording<Q> {
        fn prepare(&self, job: &ScheduledJob, now: DateTime<Utc>) -> Result<Enqueue, JobError> {
            self.seen.lock().unwrap().push(job.id.clone());
            self.inner.prepare(job, now)
        }
    }

    impl<Q: FastLaneSink> FastLaneSink for Recording<Q> {
        fn plain_enqueue(&self) -> PlainEnqueue {
            self.inner.plain_enqueue()
        }
        fn handed_plain(&self, jobs: &[FastHandOff]) {
            let mut seen = self.seen.lock().unwrap();
            seen.extend(jobs.iter().map(|j| j.job_id.clone()));
        }
    }

    rqs_conformance::fast_lane_sink_conformance!(async {
        let sink = Recording {
            inner: RqQueueSink::new(),
            seen: Mutex::default(),
        };
        (
            sink,
            rqs_conformance::ModelProbe::new(Default::default()),
            (),
        )
    });
}

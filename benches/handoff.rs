//! Hand-off throughput against a private redis-server: read a batch of due jobs, decide
//! each one, commit the batch atomically. Seeding happens outside the timed part.

use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rqs_benches::{INTERVAL_REPEAT_META, hex};
use rqs_core::JobHash;
use rqs_core::plan::{LocalZone, decide};
use rqs_redis::RedisJobStore;
use rqs_sink::QueueSink;
use rqs_sink::RqQueueSink;
use rqs_store::{JobAdmin, JobStore};
use rqs_testkit::RedisServer;
use rqs_testkit::{client_job, client_job_with};

const BATCH: usize = 500;

fn handoff(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = RedisServer::start();
    let conn = rt.block_on(server.connection());
    let store = RedisJobStore::new(conn.clone());
    let sink = RqQueueSink::new();
    let periodic = client_job_with("default", &[("meta", &hex(INTERVAL_REPEAT_META))]);
    let kinds: [(&str, JobHash); 2] = [
        ("one-off", client_job("default")),
        ("interval+repeat", periodic),
    ];

    let mut group = c.benchmark_group("handoff");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.sample_size(20);
    for (name, hash) in kinds {
        group.bench_function(format!("batch of {BATCH} {name} jobs"), |b| {
            b.to_async(&rt).iter_custom(|iters| {
                let (store, sink, hash, conn) = (&store, &sink, hash.clone(), conn.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let _: () = redis::cmd("FLUSHDB")
                            .query_async(&mut conn.clone())
                            .await
                            .unwrap();
                        for i in 0..BATCH {
                            let id = format!("job-{i:05}").into();
                            store.schedule(&id, &hash, 1.0).await.unwrap();
                        }
                        let start = Instant::now();
                        let now = Utc::now();
                        let due = store.due(now.timestamp() as f64, 0, BATCH).await.unwrap();
                        let batch: Vec<_> = due
                            .iter()
                            .map(|j| decide(j, now, &LocalZone::System, |j| sink.prepare(j, now)).0)
                            .collect();
                        let outcomes = store.commit(&batch).await.unwrap();
                        total += start.elapsed();
                        assert_eq!(outcomes.len(), BATCH);
                    }
                    total
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, handoff);
criterion_main!(benches);

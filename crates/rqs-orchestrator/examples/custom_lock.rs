//! Composing a scheduler from parts: in-memory store, sink and registry, and a lock
//! provider written here. The lock is the piece people swap most often (a database
//! advisory lock, a Kubernetes lease, or none at all when a deployment guarantees a single
//! instance); this one grants the lease to whoever asks first and counts the calls.
//!
//! Run with `cargo run -p rqs-orchestrator --example custom_lock`.

#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use rqs_core::JobHash;
use rqs_core::memory::RqModel;
use rqs_lifecycle::InMemoryLifecycleRegistry;
use rqs_lock::LockProvider;
use rqs_orchestrator::{Scheduler, SchedulerConfig};
use rqs_sink::InMemoryQueueSink;
use rqs_store::{InMemoryJobStore, JobStore};

/// A lease held by the first token that asks, until it releases; no expiry.
#[derive(Debug, Default)]
struct FirstComer {
    owner: Mutex<Option<String>>,
    calls: AtomicUsize,
}

#[async_trait]
impl LockProvider for FirstComer {
    async fn acquire(&self, token: &str, _ttl: Duration) -> rqs_lock::Result<bool> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut owner = self.owner.lock().unwrap();
        if owner.is_some() {
            return Ok(false);
        }
        *owner = Some(token.to_owned());
        Ok(true)
    }

    async fn renew(&self, token: &str, _ttl: Duration) -> rqs_lock::Result<bool> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        Ok(self.owner.lock().unwrap().as_deref() == Some(token))
    }

    async fn release(&self, token: &str) -> rqs_lock::Result<bool> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        let mut owner = self.owner.lock().unwrap();
        let mine = owner.as_deref() == Some(token);
        if mine {
            *owner = None;
        }
        Ok(mine)
    }

    async fn holder(&self) -> rqs_lock::Result<Option<String>> {
        Ok(self.owner.lock().unwrap().clone())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let model = Arc::new(Mutex::new(RqModel::new()));
    let store = InMemoryJobStore::new(model.clone());
    let job = JobHash::from_pairs([("data", "payload"), ("origin", "default")]);
    store.schedule("report", &job, 1.0).await.unwrap();

    let lock = Arc::new(FirstComer::default());
    let scheduler = Scheduler::new(
        store,
        InMemoryQueueSink::new(model.clone()),
        lock.clone(),
        InMemoryLifecycleRegistry::new(),
        SchedulerConfig::new("example").burst(true),
    );
    let stats = scheduler.run(std::future::pending()).await.unwrap();

    let queue = model.lock().unwrap().queue("default");
    println!(
        "pushed {} job(s); rq:queue:default = {queue:?}; lock calls: {}",
        stats.pushed,
        lock.calls.load(Ordering::Relaxed)
    );
    assert_eq!(queue, ["report"]);
}

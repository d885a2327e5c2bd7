//! Composing a scheduler from parts: the in-memory store, sink and registry, and a lock
//! provider written here.
//!
//! The lock is the piece people swap most often (a database, a coordination service such
//! as etcd or Consul, a Kubernetes lease). This one sits on a key-value service with
//! compare-and-set and expiring keys, the primitives such services offer; `KvService`
//! plays that service in-process. What makes it a correct provider is that the *service*
//! expires a lease, so a holder that crashed or froze loses it without saying anything.
//! Its tests run the same conformance suite as the built-in providers
//! (`cargo test -p rqs-orchestrator --example custom_lock`). `examples/postgres-lock` in
//! the repository is the same idea on PostgreSQL.
//!
//! Run with `cargo run -p rqs-orchestrator --example custom_lock`.

#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rqs_core::JobHash;
use rqs_lock::{LockProvider, async_trait};
use rqs_orchestrator::SchedulerConfig;
use rqs_orchestrator::memory::InMemory;
use rqs_store::JobAdmin;
use tokio::time::Instant;

/// A key-value service with compare-and-set and keys that expire on the service's clock.
#[derive(Debug, Default)]
struct KvService {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl KvService {
    /// Runs `f` on the live value of `key` (expired values read as absent).
    fn with<R>(&self, key: &str, f: impl FnOnce(&mut Option<(String, Instant)>) -> R) -> R {
        let mut entries = self.entries.lock().unwrap();
        let mut entry = entries
            .remove(key)
            .filter(|(_, expires)| *expires > Instant::now());
        let result = f(&mut entry);
        if let Some(live) = entry {
            entries.insert(key.to_owned(), live);
        }
        result
    }
}

/// The scheduler lock as one key of the service. Every handle (one per process) talks to
/// the same service.
#[derive(Debug, Clone)]
struct KvLock {
    service: Arc<KvService>,
    key: String,
}

#[async_trait]
impl LockProvider for KvLock {
    async fn acquire(&self, token: &str, ttl: Duration) -> rqs_lock::Result<bool> {
        Ok(self.service.with(&self.key, |entry| {
            if entry.is_some() {
                return false;
            }
            *entry = Some((token.to_owned(), Instant::now() + ttl));
            true
        }))
    }

    async fn renew(&self, token: &str, ttl: Duration) -> rqs_lock::Result<bool> {
        Ok(self.service.with(&self.key, |entry| match entry {
            Some((owner, expires)) if owner == token => {
                *expires = Instant::now() + ttl;
                true
            }
            _ => false,
        }))
    }

    async fn release(&self, token: &str) -> rqs_lock::Result<bool> {
        Ok(self.service.with(&self.key, |entry| {
            let mine = entry.as_ref().is_some_and(|(owner, _)| owner == token);
            if mine {
                *entry = None;
            }
            mine
        }))
    }

    async fn holder(&self) -> rqs_lock::Result<Option<String>> {
        Ok(self.service.with(&self.key, |entry| {
            entry.as_ref().map(|(owner, _)| owner.clone())
        }))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let parts = InMemory::new();
    let job = JobHash::from_pairs([("data", "payload"), ("origin", "default")]);
    parts
        .store
        .schedule(&"report".into(), &job, 1.0)
        .await
        .unwrap();

    let lock = KvLock {
        service: Arc::new(KvService::default()),
        key: "rq:scheduler_lock".into(),
    };
    let scheduler = rqs_orchestrator::Scheduler::new(
        parts.store.clone(),
        parts.sink.clone(),
        lock.clone(),
        parts.lifecycle.clone(),
        SchedulerConfig::new("example").burst(true),
    );
    let stats = scheduler.run(std::future::pending()).await.unwrap();

    let queue = parts.queue("default");
    println!(
        "pushed {} job(s); rq:queue:default = {queue:?}; lock holder after the run: {:?}",
        stats.pushed,
        lock.holder().await.unwrap()
    );
    assert_eq!(queue, ["report"]);
}

#[cfg(test)]
mod conformance {
    use super::*;

    rqs_conformance::lock_provider_conformance!(paused: async {
        let service = Arc::new(KvService::default());
        let handle = |service: &Arc<KvService>| KvLock {
            service: service.clone(),
            key: "rq:scheduler_lock".into(),
        };
        (handle(&service), handle(&service), ())
    });
}

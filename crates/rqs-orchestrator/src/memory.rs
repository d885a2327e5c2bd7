//! Every component in memory, over one shared model: for tests, examples, and trying a
//! custom component against the others without a Redis.

use std::sync::{Arc, Mutex};

use rqs_core::memory::RqModel;
use rqs_lifecycle::InMemoryLifecycleRegistry;
use rqs_lock::InMemoryLockProvider;
use rqs_sink::RqQueueSink;
use rqs_store::InMemoryJobStore;

use crate::{Scheduler, SchedulerConfig};

/// An in-memory store, lock and registry, with RQ's enqueue as the sink; the store
/// writes to [`model`](InMemory::model), so what it hands off shows up in its queues.
/// Clones share everything.
#[derive(Debug, Clone, Default)]
pub struct InMemory {
    /// The RQ keys, as plain collections.
    pub model: Arc<Mutex<RqModel>>,
    /// The job store.
    pub store: InMemoryJobStore,
    /// The queue sink (RQ's enqueue, a description the store applies).
    pub sink: RqQueueSink,
    /// The lock.
    pub lock: InMemoryLockProvider,
    /// The lifecycle registry.
    pub lifecycle: InMemoryLifecycleRegistry,
}

/// A scheduler over the in-memory components.
pub type InMemoryScheduler =
    Scheduler<InMemoryJobStore, RqQueueSink, InMemoryLockProvider, InMemoryLifecycleRegistry>;

impl InMemory {
    /// Fresh components over an empty model.
    pub fn new() -> Self {
        let model = Arc::new(Mutex::new(RqModel::new()));
        Self {
            store: InMemoryJobStore::new(model.clone()),
            sink: RqQueueSink::new(),
            lock: InMemoryLockProvider::new(),
            lifecycle: InMemoryLifecycleRegistry::new(),
            model,
        }
    }

    /// A scheduler over clones of these components.
    pub fn scheduler(&self, config: SchedulerConfig) -> InMemoryScheduler {
        Scheduler::new(
            self.store.clone(),
            self.sink.clone(),
            self.lock.clone(),
            self.lifecycle.clone(),
            config,
        )
    }

    /// The ids in a queue, head first, as text.
    pub fn queue(&self, name: &str) -> Vec<String> {
        self.model
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .queue(name)
            .iter()
            .map(|id| String::from_utf8_lossy(id.as_bytes()).into_owned())
            .collect()
    }
}

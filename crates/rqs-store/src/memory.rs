//! [`JobStore`] and [`JobAdmin`] over an in-memory [`RqModel`].

use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use rqs_core::memory::{Quarantined, RqModel};
use rqs_core::{HandOff, JobHash, JobId, Outcome, ScheduledJob};

use crate::{BackendError, JobAdmin, JobStore, Page, Result};

/// A job store kept in memory, in an [`RqModel`] that can be shared (a test reads the
/// queues this store hands jobs off to from the same model).
#[derive(Debug, Clone, Default)]
pub struct InMemoryJobStore {
    model: Arc<Mutex<RqModel>>,
}

impl InMemoryJobStore {
    /// A store on a shared model.
    pub fn new(model: Arc<Mutex<RqModel>>) -> Self {
        Self { model }
    }

    /// The shared model.
    pub fn model(&self) -> &Arc<Mutex<RqModel>> {
        &self.model
    }

    fn lock(&self) -> MutexGuard<'_, RqModel> {
        // A panic elsewhere cannot leave the model half-updated: every method below
        // finishes its change before returning, so a poisoned lock is still consistent.
        self.model.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl JobStore for InMemoryJobStore {
    async fn due(&self, until: f64, offset: usize, limit: usize) -> Result<Vec<ScheduledJob>> {
        Ok(self.lock().due(until, offset, limit))
    }

    async fn next_due(&self) -> Result<Option<f64>> {
        Ok(self.lock().next_due())
    }

    async fn count(&self, until: Option<f64>) -> Result<u64> {
        Ok(self.lock().count(until.unwrap_or(f64::INFINITY)))
    }

    async fn commit(&self, batch: &[HandOff]) -> Result<Vec<Outcome>> {
        Ok(self.lock().commit(batch))
    }
}

#[async_trait]
impl JobAdmin for InMemoryJobStore {
    async fn schedule(&self, id: &JobId, hash: &JobHash, score: f64) -> Result<()> {
        self.lock().schedule(id, hash, score);
        Ok(())
    }

    async fn list(&self, until: Option<f64>, page: Option<Page>) -> Result<Vec<(JobId, f64)>> {
        let until = until.unwrap_or(f64::INFINITY);
        Ok(match page {
            Some(p) => self.lock().range(until, p.offset, Some(p.length)),
            None => self.lock().range(until, 0, None),
        })
    }

    async fn score(&self, id: &JobId) -> Result<Option<f64>> {
        Ok(self.lock().score(id))
    }

    async fn job(&self, id: &JobId) -> Result<Option<JobHash>> {
        Ok(self.lock().job(id).cloned())
    }

    async fn cancel(&self, id: &JobId) -> Result<bool> {
        Ok(self.lock().unset_score(id))
    }

    async fn change_execution_time(&self, id: &JobId, score: f64) -> Result<()> {
        let mut model = self.lock();
        if model.score(id).is_none() {
            return Err(BackendError::NotScheduled(id.clone()));
        }
        model.set_score(id, score);
        Ok(())
    }

    async fn quarantined(&self) -> Result<Vec<Quarantined>> {
        Ok(self.lock().quarantine())
    }

    async fn release(&self, id: &JobId, score: Option<f64>) -> Result<f64> {
        self.lock()
            .release(id, score)
            .ok_or_else(|| BackendError::NotQuarantined(id.clone()))
    }
}

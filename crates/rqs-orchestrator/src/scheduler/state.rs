//! What the loop remembers between turns: the lease, stuck and held jobs, and the fast
//! lane's table of metas seen lately.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rqs_core::fast::MetaPlan;
use rqs_core::plan::LocalZone;
use rqs_core::{JobId, ScheduledJob, time};
use tokio::time::Instant;

/// What the loop remembers between turns.
pub(super) struct State {
    pub(super) token: String,
    pub(super) holding: bool,
    /// When the last successful acquire or renew was sent: the lease lasts from there.
    pub(super) leased_at: Option<Instant>,
    pub(super) last_heartbeat: Option<Instant>,
    /// Passes in a row each job came back stale or with a changed meta.
    pub(super) stuck: HashMap<JobId, u32>,
    /// Jobs held out of an unusable quarantine, each logged once while it lasts.
    pub(super) held: HashSet<JobId>,
    /// Passes a burst made after its first.
    pub(super) burst_retries: u32,
    /// Metas of periodic jobs handed over lately, newest first: the fast lane's table.
    pub(super) metas: Vec<Vec<u8>>,
    /// Their plans, for one second.
    pub(super) plans: Option<(i64, Vec<MetaPlan>)>,
    /// The backend refused the fast lane (an ACL): the ordinary path only.
    pub(super) fast_refused: bool,
    /// What operators asked, as last read through the control.
    pub(super) instructions: crate::Instructions,
}

/// How many metas the fast lane knows at most, and how long one may be: every window
/// carries the table, so it stays small.
const FAST_METAS: usize = 16;
const FAST_META_BYTES: usize = 512;

impl State {
    /// Remembers the meta of a job the ordinary path handed over, for the fast lane.
    pub(super) fn learn(&mut self, job: &ScheduledJob) {
        let Some(meta) = job.hash.as_ref().and_then(rqs_core::JobHash::meta) else {
            return;
        };
        if meta.len() > FAST_META_BYTES {
            return;
        }
        if let Some(at) = self.metas.iter().position(|m| m == meta) {
            if at == 0 {
                return;
            }
            self.metas.remove(at);
        }
        self.metas.insert(0, meta.to_vec());
        self.metas.truncate(FAST_METAS);
        self.plans = None;
    }

    /// The plans of the known metas at `now` (recomputed once a second: interval and
    /// cron times depend on it).
    pub(super) fn plans(&mut self, now: DateTime<Utc>, local: &LocalZone) -> Vec<MetaPlan> {
        let second = time::floor_seconds(now);
        match &self.plans {
            Some((at, plans)) if *at == second => plans.clone(),
            _ => {
                let plans: Vec<MetaPlan> = self
                    .metas
                    .iter()
                    .filter_map(|m| MetaPlan::for_meta(m, now, local))
                    .collect();
                self.plans = Some((second, plans.clone()));
                plans
            }
        }
    }

    pub(super) fn lease_left(&self, lease: Duration) -> Duration {
        self.leased_at
            .map_or(Duration::ZERO, |at| lease.saturating_sub(at.elapsed()))
    }
}

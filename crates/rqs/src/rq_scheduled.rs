//! `--rq-scheduled QUEUES`: rqs as the scheduler of RQ's own registries
//! (`rq:scheduled:<queue>`: `Queue.enqueue_at`, `enqueue_in`, `Retry`, `Repeat`), so plain
//! `rq worker`s need no `--with-scheduler` (docs/rq-scheduled.md).
//!
//! The active instance (and only it) takes RQ's per-queue locks as RQ's scheduler does,
//! so a worker started with `--with-scheduler` finds them taken and stays idle, and moves
//! due jobs a batch per script, each script checking the lock is still its own.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use rqs_orchestrator::{Event, Observer};
use rqs_redis::RqRegistries;
use tokio::sync::Notify;
use tracing::{debug, info, warn};

use crate::connection::Connection;

/// Which registries to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Selection {
    /// Every queue RQ knows (`rq:queues`) and every existing registry.
    All,
    /// These queues.
    Queues(Vec<String>),
}

/// Parses `--rq-scheduled`: `all`, or queue names separated by commas.
pub(crate) fn parse(text: &str) -> Result<Selection, String> {
    if text.trim() == "all" {
        return Ok(Selection::All);
    }
    let names: Vec<String> = text
        .split(',')
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    if names.is_empty() {
        return Err(format!(
            "--rq-scheduled {text:?}: name queues (a,b) or say all"
        ));
    }
    Ok(Selection::Queues(names))
}

/// The lock TTL RQ's scheduler uses (its 1 s interval + 60 s): a worker's scheduler that
/// finds the lock taken waits this long at most after rqs is gone.
const LOCK_TTL: Duration = Duration::from_secs(61);
/// How often the locks are refreshed and the queue list read again.
const REFRESH: Duration = Duration::from_secs(1);
/// How often `all` also walks `rq:scheduled:*` for registries of queues `rq:queues` lacks.
const WALK: Duration = Duration::from_secs(60);
/// Jobs per script.
const BATCH: usize = 1000;

/// Whether this instance is the active one, from the scheduler's events.
#[derive(Debug, Default)]
pub(crate) struct ActiveGate {
    active: AtomicBool,
    changed: Notify,
    let_go: Notify,
    /// The server holds queue locks.
    holding: AtomicBool,
}

/// The longest wait at exit for the queue locks' release.
pub(crate) const RELEASE_WAIT: Duration = Duration::from_secs(1);

impl ActiveGate {
    /// Waits until the server has released its locks after a step down, at most `limit`.
    pub(crate) async fn released(&self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.holding.load(Ordering::SeqCst) {
            if tokio::time::timeout_at(deadline, self.let_go.notified())
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

impl Observer for ActiveGate {
    fn observe(&self, event: &Event<'_>) {
        let now = match event {
            Event::Active { .. } => true,
            Event::SteppedDown { .. } => false,
            _ => return,
        };
        if self.active.swap(now, Ordering::SeqCst) != now {
            self.changed.notify_waiters();
        }
    }
}

/// Serves the registries while `gate` says active; on a step down, releases the locks.
pub(crate) async fn serve(
    conn: Connection,
    name: String,
    selection: Selection,
    gate: Arc<ActiveGate>,
) {
    let registries = RqRegistries::new(conn, &name);
    let mut server = Server::new(registries, selection);
    loop {
        if !gate.active.load(Ordering::SeqCst) {
            // Registered before the release, so a change in between is not missed.
            let changed = gate.changed.notified();
            server.let_go().await;
            gate.holding.store(false, Ordering::SeqCst);
            gate.let_go.notify_one();
            changed.await;
            continue;
        }
        let wait = server.turn(true).await;
        gate.holding
            .store(!server.held.is_empty(), Ordering::SeqCst);
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = gate.changed.notified() => {}
        }
    }
}

/// `--burst`: moves every due job of the selected registries once (locks taken as RQ's
/// burst worker takes them, and released), then returns.
pub(crate) async fn burst(conn: Connection, name: String, selection: Selection) {
    let mut server = Server::new(RqRegistries::new(conn, &name), selection);
    server.turn(false).await;
    server.let_go().await;
}

struct Server {
    registries: RqRegistries<Connection>,
    selection: Selection,
    queues: Vec<String>,
    walked: BTreeSet<String>,
    last_walk: Option<Instant>,
    held: Vec<String>,
    /// Queues whose lock another scheduler (a worker's) holds.
    others: Vec<String>,
    refreshed: Option<Instant>,
}

impl Server {
    fn new(registries: RqRegistries<Connection>, selection: Selection) -> Self {
        Self {
            registries,
            selection,
            queues: Vec::new(),
            walked: BTreeSet::new(),
            last_walk: None,
            held: Vec::new(),
            others: Vec::new(),
            refreshed: None,
        }
    }

    /// One turn: the queue list and the locks when due for a refresh, then every due job
    /// of every held queue. Returns how long to wait before the next turn.
    async fn turn(&mut self, take_over: bool) -> Duration {
        if self.refreshed.is_none_or(|t| t.elapsed() >= REFRESH) {
            if let Err(e) = self.refresh(take_over).await {
                warn!(error = %e, "cannot read or lock RQ's scheduled-job registries; again in a second");
                return REFRESH;
            }
            self.refreshed = Some(Instant::now());
        }
        for queue in self.held.clone() {
            self.drain(&queue).await;
        }
        let until_refresh = REFRESH.saturating_sub(self.refreshed.map_or(REFRESH, |t| t.elapsed()));
        match self.registries.next_due(&self.held).await {
            Ok(Some(score)) => {
                let now = Utc::now().timestamp_micros() as f64 / 1e6;
                let wait = Duration::from_secs_f64((score - now).max(0.0));
                wait.min(until_refresh)
            }
            Ok(None) => until_refresh,
            Err(e) => {
                debug!(error = %e, "cannot read the registries' next due times");
                until_refresh
            }
        }
    }

    async fn refresh(&mut self, take_over: bool) -> Result<(), rqs_core::BackendError> {
        let mut queues: BTreeSet<String> = match &self.selection {
            Selection::Queues(names) => names.iter().cloned().collect(),
            Selection::All => {
                if self.last_walk.is_none_or(|t| t.elapsed() >= WALK) {
                    self.walked = self
                        .registries
                        .walk_registries()
                        .await?
                        .into_iter()
                        .collect();
                    self.last_walk = Some(Instant::now());
                }
                let mut all = self.walked.clone();
                all.extend(self.registries.known_queues().await?);
                all
            }
        };
        queues.retain(|q| !q.is_empty());
        self.queues = queues.into_iter().collect();
        let held = self
            .registries
            .hold(&self.queues, LOCK_TTL.as_secs(), take_over)
            .await?;
        let lost: Vec<&String> = self.held.iter().filter(|q| !held.contains(q)).collect();
        let gained: Vec<&String> = held.iter().filter(|q| !self.held.contains(q)).collect();
        if !gained.is_empty() {
            info!(queues = ?gained, "serving RQ's scheduled jobs of these queues");
        }
        if !lost.is_empty() {
            warn!(queues = ?lost, "another scheduler holds these queues' locks now");
        }
        let others: Vec<String> = self
            .queues
            .iter()
            .filter(|q| !held.contains(q))
            .cloned()
            .collect();
        if !others.is_empty() && others != self.others {
            info!(queues = ?others, "left to the RQ scheduler that holds their locks");
        }
        self.others = others;
        self.held = held;
        Ok(())
    }

    /// Moves every due job of `queue`, a batch at a time.
    async fn drain(&mut self, queue: &str) {
        loop {
            let now = Utc::now();
            let enqueued_at = rqs_core::time::rq_timestamp(now);
            match self
                .registries
                .move_due(queue, now.timestamp(), &enqueued_at, BATCH)
                .await
            {
                Ok(moved) if moved.lost_lock => {
                    warn!(queue, "lost the lock of this queue to another scheduler");
                    self.held.retain(|q| q != queue);
                    return;
                }
                Ok(moved) => {
                    if moved.pushed + moved.missing + moved.quarantined > 0 {
                        debug!(
                            queue,
                            pushed = moved.pushed,
                            missing = moved.missing,
                            "moved RQ's scheduled jobs"
                        );
                    }
                    if moved.quarantined > 0 {
                        warn!(
                            queue,
                            jobs = moved.quarantined,
                            "set RQ scheduled jobs aside in the quarantine (see `rqs quarantine list`)"
                        );
                    }
                    if !moved.more {
                        return;
                    }
                }
                Err(e) => {
                    warn!(queue, error = %e, "cannot move RQ's scheduled jobs; again at the next turn");
                    return;
                }
            }
        }
    }

    /// Releases the locks held (a step down, a stop).
    async fn let_go(&mut self) {
        if self.held.is_empty() {
            return;
        }
        if let Err(e) = self.registries.release(&self.held).await {
            debug!(error = %e, "cannot release the RQ queue locks; they expire on their own");
        }
        self.held.clear();
        self.refreshed = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_selection_is_all_or_names() {
        assert_eq!(parse("all"), Ok(Selection::All));
        assert_eq!(
            parse("default, reports,,high"),
            Ok(Selection::Queues(vec![
                "default".into(),
                "reports".into(),
                "high".into()
            ]))
        );
        assert!(parse(" , ").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn the_gate_follows_the_scheduler() {
        let gate = ActiveGate::default();
        gate.observe(&Event::Active {
            scheduled: None,
            next_due: None,
        });
        assert!(gate.active.load(Ordering::SeqCst));
        gate.observe(&Event::SteppedDown {
            reason: rqs_orchestrator::StepDown::Shutdown,
        });
        assert!(!gate.active.load(Ordering::SeqCst));
    }
}

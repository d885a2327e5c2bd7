//! The lease: a standby retrying quietly, a lost lock or a pause stopping the writes, a lock under our own token.

use crate::{Scheduler, SchedulerConfig, TokioClock};
use mockall::Sequence;
use rqs_core::{Outcome, ScheduledJob};
use rqs_lock::MockLockProvider;
use rqs_store::MockJobStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;

#[tokio::test(start_paused = true)]
async fn a_standby_retries_the_lock_every_second_quietly() {
    let mut lock = MockLockProvider::new();
    let attempts = Arc::new(Mutex::new(0));
    let a = attempts.clone();
    lock.expect_acquire().returning(move |_, _| {
        let mut n = a.lock().unwrap();
        *n += 1;
        Ok(*n >= 3)
    });
    lock.expect_holder()
        .times(2)
        .returning(|| Ok(Some("1795804932.2265215".into())));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let script = scripted(vec![], None);
    let config = SchedulerConfig::new("n")
        .burst(true)
        .interval(Duration::from_secs(5));
    scheduler(script.store, lock, lifecycle(), config)
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(*attempts.lock().unwrap(), 3);
    assert_eq!(
        script.calls.lock().unwrap()[0].0,
        Duration::from_secs(2),
        "tried every second"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_lock_stops_the_pass_before_the_next_commit() {
    let mut store = MockJobStore::new();
    let mut seq = Sequence::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(None));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![job("a", 1.0), job("b", 1.0)]));
    store
        .expect_commit()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|b| Ok(pushed(b.len())));
    // The next batch is read after the lease is half gone: it must be renewed first,
    // and that fails, so this batch is never committed.
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![job("c", 1.0)]));
    store
        .expect_due()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, _| Ok(vec![]));
    let mut lock = MockLockProvider::new();
    let mut lseq = Sequence::new();
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut lseq)
        .returning(|_, _| Ok(true));
    lock.expect_renew()
        .times(1)
        .in_sequence(&mut lseq)
        .returning(|_, _| Ok(false));
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut lseq)
        .returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let recorder = Arc::new(Recorder::default());
    // A commit that takes 3 s of a 5 s lease.
    let slow = Slow {
        inner: store,
        read: Duration::ZERO,
        commit: Duration::from_secs(3),
    };
    let config = SchedulerConfig::new("n").burst(true).batch_size(2);
    let stats = Scheduler::new(slow, sink(), lock, lifecycle(), config)
        .with_clock(Arc::new(TokioClock::starting_at(origin())))
        .with_observer(recorder.clone())
        .run(std::future::pending())
        .await
        .unwrap();
    assert_eq!(stats.pushed, 2);
    assert!(
        recorder
            .0
            .lock()
            .unwrap()
            .contains(&"down LostLock".to_owned()),
        "{:?}",
        recorder.0.lock().unwrap()
    );
}

/// A store whose reads and commits take time (paused time: no real waiting).
#[derive(Debug)]
struct Slow {
    inner: MockJobStore,
    /// After each read: the process is paused right after it (SIGSTOP).
    read: Duration,
    /// Before each commit.
    commit: Duration,
}

#[async_trait::async_trait]
impl rqs_store::JobStore for Slow {
    async fn due(
        &self,
        until: f64,
        offset: usize,
        limit: usize,
    ) -> rqs_store::Result<Vec<ScheduledJob>> {
        let jobs = self.inner.due(until, offset, limit).await;
        tokio::time::sleep(self.read).await;
        jobs
    }
    async fn next_due(&self) -> rqs_store::Result<Option<f64>> {
        self.inner.next_due().await
    }
    async fn count(&self, until: Option<f64>) -> rqs_store::Result<u64> {
        self.inner.count(until).await
    }
    async fn commit(&self, batch: &[rqs_core::HandOff]) -> rqs_store::Result<Vec<Outcome>> {
        tokio::time::sleep(self.commit).await;
        self.inner.commit(batch).await
    }
}

/// A pause longer than the lease (SIGSTOP) between the read and the commit: the instance
/// notices before it writes, and steps down with one event.
#[tokio::test(start_paused = true)]
async fn a_pause_longer_than_the_lease_steps_down_without_writing() {
    let mut store = MockJobStore::new();
    store.expect_count().returning(|_| Ok(0));
    store.expect_next_due().returning(|| Ok(None));
    // The process is stopped right after this read (Slow's `read`).
    store
        .expect_due()
        .times(1)
        .returning(|_, _, _| Ok(vec![job("a", 1.0)]));
    store.expect_commit().times(0);
    let mut lock = MockLockProvider::new();
    lock.expect_acquire().times(1).returning(|_, _| Ok(true));
    lock.expect_renew().times(1).returning(|_, _| Ok(false));
    lock.expect_holder()
        .returning(|| Ok(Some("other@1.0".into())));
    lock.expect_acquire().returning(|_, _| Ok(false));
    let recorder = Arc::new(Recorder::default());
    let paused = Slow {
        inner: store,
        read: Duration::from_secs(8),
        commit: Duration::ZERO,
    };
    Scheduler::new(paused, sink(), lock, lifecycle(), SchedulerConfig::new("n"))
        .with_clock(Arc::new(TokioClock::starting_at(origin())))
        .with_observer(recorder.clone())
        .run(tokio::time::sleep(Duration::from_secs(10)))
        .await
        .unwrap();
    let events = recorder.0.lock().unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.starts_with("down LeaseExpired"))
            .count(),
        1,
        "{events:?}"
    );
    assert!(!events.iter().any(|e| e.starts_with("job ")), "{events:?}");
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_is_taken_again_at_once_when_free() {
    let mut lock = MockLockProvider::new();
    let mut seq = Sequence::new();
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    // The key vanished (say, Redis restarted without persistence): renew fails...
    lock.expect_renew()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(false));
    // ...and the instance takes it again in the same wake-up.
    lock.expect_acquire()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _| Ok(true));
    lock.expect_renew().returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let script = scripted(vec![], None);
    scheduler(script.store, lock, lifecycle(), SchedulerConfig::new("n"))
        .run(tokio::time::sleep(Duration::from_millis(3_500)))
        .await
        .unwrap();
    let reads: Vec<u64> = script
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|(at, _, _)| at.as_secs())
        .collect();
    assert_eq!(reads, [0, 1, 2, 3]);
}

#[tokio::test(start_paused = true)]
async fn a_lock_under_our_own_token_is_ours() {
    let token = Arc::new(Mutex::new(String::new()));
    let mut lock = MockLockProvider::new();
    let t = token.clone();
    // The SET NX went through but its reply was lost: the key carries our token.
    lock.expect_acquire().times(1).returning(move |tok, _| {
        *t.lock().unwrap() = tok.to_owned();
        Ok(false)
    });
    let t = token.clone();
    lock.expect_holder()
        .times(1)
        .returning(move || Ok(Some(t.lock().unwrap().clone())));
    lock.expect_renew().times(1).returning(|_, _| Ok(true));
    lock.expect_release().times(1).returning(|_| Ok(true));
    let mut script = scripted(vec![vec![job("a", 1.0)]], None);
    script
        .store
        .expect_commit()
        .times(1)
        .returning(|b| Ok(pushed(b.len())));
    let stats = scheduler(
        script.store,
        lock,
        lifecycle(),
        SchedulerConfig::new("n").burst(true),
    )
    .run(std::future::pending())
    .await
    .unwrap();
    assert_eq!(stats.pushed, 1);
}

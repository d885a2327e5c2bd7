//! Conformance cases of `LockProvider`.

use std::time::Duration;

use rqs_lock::LockProvider;

const LONG: Duration = Duration::from_secs(30);

/// Only one token holds the lock; the holder is reported.
pub async fn only_one_owner_at_a_time(lock: &impl LockProvider, _: &()) {
    assert_eq!(lock.holder().await.unwrap(), None);
    assert!(lock.acquire("a", LONG).await.unwrap());
    assert!(!lock.acquire("b", LONG).await.unwrap());
    assert!(
        !lock.acquire("a", LONG).await.unwrap(),
        "acquire is not renew"
    );
    assert_eq!(lock.holder().await.unwrap().as_deref(), Some("a"));
}

/// Renew and release work only for the owner; releasing twice is harmless.
pub async fn renew_and_release_only_by_the_owner(lock: &impl LockProvider, _: &()) {
    assert!(lock.acquire("a", LONG).await.unwrap());
    assert!(!lock.renew("b", LONG).await.unwrap());
    assert!(!lock.release("b").await.unwrap());
    assert_eq!(lock.holder().await.unwrap().as_deref(), Some("a"));
    assert!(lock.renew("a", LONG).await.unwrap());
    assert!(lock.release("a").await.unwrap());
    assert!(!lock.release("a").await.unwrap());
    assert_eq!(lock.holder().await.unwrap(), None);
    assert!(lock.acquire("b", LONG).await.unwrap());
}

/// An expired lease is free for others, and its old owner can neither renew nor release.
pub async fn an_expired_lease_is_free_and_cannot_be_renewed(lock: &impl LockProvider, _: &()) {
    assert!(lock.acquire("a", Duration::from_millis(100)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(lock.holder().await.unwrap(), None);
    assert!(!lock.renew("a", LONG).await.unwrap());
    assert!(lock.acquire("b", LONG).await.unwrap());
    assert!(!lock.release("a").await.unwrap());
    assert_eq!(lock.holder().await.unwrap().as_deref(), Some("b"));
}

/// Renewing pushes the expiry forward.
///
/// The renew must reach the lock before the short first lease ends. On a stalled machine
/// it may not; such a round proves nothing and is repeated (a few times at most).
pub async fn renew_extends_the_lease(lock: &impl LockProvider, _: &()) {
    let short = Duration::from_secs(1);
    for round in 1..=5 {
        let started = tokio::time::Instant::now();
        assert!(lock.acquire("a", short).await.unwrap(), "round {round}");
        let renewed = lock.renew("a", LONG).await.unwrap();
        if !renewed {
            assert!(
                started.elapsed() >= short,
                "renew refused within the first lease (round {round})"
            );
            continue;
        }
        tokio::time::sleep(short + Duration::from_millis(300)).await;
        assert_eq!(lock.holder().await.unwrap().as_deref(), Some("a"));
        return;
    }
    panic!("five rounds in a row took over a second between acquire and renew");
}

//! Conformance cases of `LockProvider`.

use std::time::Duration;

use rqs_lock::{LockProvider, MAX_NAME_LEN, MAX_TOKEN_LEN};

const LONG: Duration = Duration::from_secs(30);

/// The default lease granularity the suite assumes: a backend that expires leases to the
/// millisecond (Redis `PX`, Tokio's clock).
pub const FINE: Duration = Duration::from_millis(1);

/// A short lease the backend can represent: `wanted`, or one `grain` when that is
/// longer (a backend that keeps whole seconds cannot hold a 100 ms lease).
fn short(wanted: Duration, grain: Duration) -> Duration {
    wanted.max(grain)
}

/// Only one token holds the lock; the holder is reported.
pub async fn only_one_owner_at_a_time(
    lock: &impl LockProvider,
    _: &impl LockProvider,
    _grain: Duration,
) {
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
pub async fn renew_and_release_only_by_the_owner(
    lock: &impl LockProvider,
    _: &impl LockProvider,
    _grain: Duration,
) {
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
pub async fn an_expired_lease_is_free_and_cannot_be_renewed(
    lock: &impl LockProvider,
    _: &impl LockProvider,
    grain: Duration,
) {
    let lease = short(Duration::from_millis(100), grain);
    assert!(lock.acquire("a", lease).await.unwrap());
    // Past the lease, whichever way the backend rounds it.
    tokio::time::sleep(lease + grain.max(Duration::from_millis(150))).await;
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
pub async fn renew_extends_the_lease(
    lock: &impl LockProvider,
    _: &impl LockProvider,
    grain: Duration,
) {
    let first = short(Duration::from_secs(1), grain);
    for round in 1..=5 {
        let started = tokio::time::Instant::now();
        assert!(lock.acquire("a", first).await.unwrap(), "round {round}");
        let renewed = lock.renew("a", LONG).await.unwrap();
        if !renewed {
            assert!(
                started.elapsed() >= first,
                "renew refused within the first lease (round {round})"
            );
            continue;
        }
        tokio::time::sleep(first + grain.max(Duration::from_millis(300))).await;
        assert_eq!(lock.holder().await.unwrap().as_deref(), Some("a"));
        return;
    }
    panic!("five rounds in a row took over a second between acquire and renew");
}

/// Two handles (two processes) see one lease: only one can take it, both see the holder,
/// only the holder's token renews or releases it, from either handle.
pub async fn two_handles_share_one_lease(
    lock: &impl LockProvider,
    other: &impl LockProvider,
    _grain: Duration,
) {
    assert!(lock.acquire("one@1.5", LONG).await.unwrap());
    assert!(!other.acquire("two@2.5", LONG).await.unwrap());
    assert_eq!(other.holder().await.unwrap().as_deref(), Some("one@1.5"));
    assert!(!other.renew("two@2.5", LONG).await.unwrap());
    assert!(!other.release("two@2.5").await.unwrap());
    assert!(lock.renew("one@1.5", LONG).await.unwrap());
    assert!(lock.release("one@1.5").await.unwrap());
    assert!(other.acquire("two@2.5", LONG).await.unwrap());
    assert_eq!(lock.holder().await.unwrap().as_deref(), Some("two@2.5"));
    assert!(!lock.acquire("one@1.5", LONG).await.unwrap());
}

/// A holder that goes silent (crashed, paused) loses its lease when the backend expires
/// it, without any call from the holder: another handle then takes the lock, and the old
/// holder can neither renew nor release.
pub async fn a_silent_holder_loses_its_lease_to_another_handle(
    lock: &impl LockProvider,
    other: &impl LockProvider,
    grain: Duration,
) {
    let lease = short(Duration::from_millis(300), grain);
    let mut round = 1;
    loop {
        let started = tokio::time::Instant::now();
        assert!(lock.acquire("silent@1.0", lease).await.unwrap());
        if !other.acquire("standby@2.0", LONG).await.unwrap() {
            break;
        }
        // Only a stall past the lease between the two calls lets this happen: try again.
        assert!(
            started.elapsed() >= lease,
            "a live lease was taken (round {round})"
        );
        assert!(other.release("standby@2.0").await.unwrap());
        assert!(round < 5, "five rounds in a row stalled past the lease");
        round += 1;
    }
    tokio::time::sleep(lease).await;
    // The backend expires the lease on its own clock: give it time, boundedly.
    let mut waited = Duration::ZERO;
    while !other.acquire("standby@2.0", LONG).await.unwrap() {
        assert!(
            waited < Duration::from_secs(10) + 2 * grain,
            "the backend must expire a silent holder's lease on its own"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += Duration::from_millis(50);
    }
    assert!(!lock.renew("silent@1.0", LONG).await.unwrap());
    assert!(!lock.release("silent@1.0").await.unwrap());
    assert_eq!(lock.holder().await.unwrap().as_deref(), Some("standby@2.0"));
}

/// The scheduler's longest token (a name of the longest length, `@`, a birth time) is
/// stored and compared whole.
pub async fn tokens_of_the_longest_name_are_kept_whole(
    lock: &impl LockProvider,
    other: &impl LockProvider,
    _grain: Duration,
) {
    let name = "n".repeat(MAX_NAME_LEN);
    let token = format!("{name}@1795804227.8481946123456");
    assert!(token.len() <= MAX_TOKEN_LEN);
    let almost = format!("{name}@1795804227.8481946123457");
    assert!(lock.acquire(&token, LONG).await.unwrap());
    assert_eq!(other.holder().await.unwrap(), Some(token.clone()));
    assert!(!lock.renew(&almost, LONG).await.unwrap());
    assert!(!lock.release(&almost).await.unwrap());
    assert!(lock.renew(&token, LONG).await.unwrap());
    assert!(lock.release(&token).await.unwrap());
    assert_eq!(other.holder().await.unwrap(), None);
}

//! A [`LockProvider`] on PostgreSQL advisory locks: the way to run rqs with its
//! single-active-instance lock held by a database instead of Redis.
//!
//! Each handle owns one database session. Taking the lock is
//! `pg_try_advisory_lock(key)` on that session; the holder's token is kept in a small
//! table (`rqs_lock_holders`) so that every session can see who holds it; a row counts
//! only while `pg_locks` shows its session still holding the advisory lock.
//!
//! **The lease is enforced by the server.** An advisory lock lives as long as its
//! session, and a frozen holder's session can live for ever. So while it holds the lock,
//! a handle sets `idle_session_timeout` to the lease: if the holder sends nothing for
//! that long (crashed, paused, cut off), PostgreSQL ends the session and the advisory
//! lock with it. Renewing is a query on the session, which restarts that timer.
//!
//! **Migration caveat.** A Python `rqscheduler` only looks at Redis's
//! `rq:scheduler_lock`: it does not see a lock held here, so it must be stopped before
//! rqs runs with this provider.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use rqs_postgres_lock::PgAdvisoryLock;
//!
//! let lock = PgAdvisoryLock::new("host=127.0.0.1 user=postgres dbname=test", "rq:scheduler_lock");
//! // Hand it to `rqs_orchestrator::Scheduler::new` in place of the Redis lock.
//! # let _ = lock; Ok(()) }
//! ```

use std::hash::{DefaultHasher, Hash, Hasher};
use std::time::Duration;

use rqs_lock::{BackendError, LockProvider, Result, async_trait};
use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

/// Creates the holders table once; the advisory transaction lock keeps two sessions from
/// racing on `CREATE TABLE IF NOT EXISTS`, which can fail when run concurrently.
const SCHEMA: &str = "
BEGIN;
SELECT pg_advisory_xact_lock(7471002);
CREATE TABLE IF NOT EXISTS rqs_lock_holders (
    lock_key bigint PRIMARY KEY,
    token text NOT NULL,
    pid integer NOT NULL
);
COMMIT;";

/// The token under `key` whose session still holds the advisory lock.
const LIVE_HOLDER: &str = "
SELECT h.token, h.pid = pg_backend_pid()
FROM rqs_lock_holders h
JOIN pg_locks l
  ON l.locktype = 'advisory' AND l.granted AND l.pid = h.pid
 AND l.classid = 0 AND l.objid = h.lock_key::oid AND l.objsubid = 1
WHERE h.lock_key = $1";

/// A lock on a PostgreSQL advisory lock; one session per handle.
#[derive(Debug)]
pub struct PgAdvisoryLock {
    conninfo: String,
    key: i64,
    session: Mutex<Option<Client>>,
}

fn backend(e: tokio_postgres::Error) -> BackendError {
    // A closed session or a lost connection is worth retrying; the rest is not.
    if e.is_closed() || e.as_db_error().is_none() {
        BackendError::Unavailable(Box::new(e))
    } else {
        BackendError::Other(Box::new(e))
    }
}

fn millis(ttl: Duration) -> u128 {
    ttl.as_millis().max(1)
}

impl PgAdvisoryLock {
    /// A lock named `name` on the database at `conninfo` (libpq syntax). Names map to
    /// advisory lock keys by hashing; use a distinct name per scheduler deployment.
    pub fn new(conninfo: impl Into<String>, name: &str) -> Self {
        let mut hasher = DefaultHasher::new();
        name.hash(&mut hasher);
        Self {
            conninfo: conninfo.into(),
            // A positive 31-bit key reads back from pg_locks as (classid 0, objid key).
            key: i64::from((hasher.finish() & 0x7fff_ffff) as u32),
            session: Mutex::new(None),
        }
    }

    /// Runs `f` on this handle's session, opening it first when there is none (the
    /// server may have ended the last one).
    async fn with_session<T>(
        &self,
        f: impl AsyncFnOnce(&Client) -> std::result::Result<T, tokio_postgres::Error>,
    ) -> Result<T> {
        let mut session = self.session.lock().await;
        if session.as_ref().is_none_or(Client::is_closed) {
            let (client, connection) = tokio_postgres::connect(&self.conninfo, NoTls)
                .await
                .map_err(backend)?;
            tokio::spawn(async move {
                // Ends when the session does; the next call opens a new one.
                let _ = connection.await;
            });
            client.batch_execute(SCHEMA).await.map_err(backend)?;
            *session = Some(client);
        }
        let client = session.as_ref().expect("opened above");
        let result = f(client).await;
        if client.is_closed() {
            *session = None;
        }
        result.map_err(backend)
    }

    /// Whether this session holds the lock under `token`; `None` when the session is
    /// gone, which also means it holds nothing any more.
    async fn held_here(&self, token: &str) -> Result<Option<bool>> {
        let mut session = self.session.lock().await;
        let Some(client) = session.as_ref().filter(|c| !c.is_closed()) else {
            *session = None;
            return Ok(None);
        };
        match client.query_opt(LIVE_HOLDER, &[&self.key]).await {
            Ok(row) => Ok(Some(row.is_some_and(|r| {
                r.get::<_, String>(0) == token && r.get::<_, bool>(1)
            }))),
            // The server ended the session (the lease ran out): the lock went with it.
            Err(e) if e.is_closed() => {
                *session = None;
                Ok(None)
            }
            Err(e) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl LockProvider for PgAdvisoryLock {
    async fn acquire(&self, token: &str, ttl: Duration) -> Result<bool> {
        let key = self.key;
        let timeout = format!("SET idle_session_timeout = {}", millis(ttl));
        self.with_session(async |client| {
            // Advisory locks are re-entrant within a session; the contract is not: a lock
            // held by anyone, this session included, is not free.
            if client.query_opt(LIVE_HOLDER, &[&key]).await?.is_some() {
                return Ok(false);
            }
            let taken: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?
                .get(0);
            if !taken {
                return Ok(false);
            }
            client
                .execute(
                    "INSERT INTO rqs_lock_holders VALUES ($1, $2, pg_backend_pid())
                     ON CONFLICT (lock_key) DO UPDATE
                     SET token = EXCLUDED.token, pid = EXCLUDED.pid",
                    &[&key, &token],
                )
                .await?;
            client.batch_execute(&timeout).await?;
            Ok(true)
        })
        .await
    }

    async fn renew(&self, token: &str, ttl: Duration) -> Result<bool> {
        if self.held_here(token).await? != Some(true) {
            return Ok(false);
        }
        let timeout = format!("SET idle_session_timeout = {}", millis(ttl));
        self.with_session(async |client| client.batch_execute(&timeout).await.map(|()| true))
            .await
    }

    async fn release(&self, token: &str) -> Result<bool> {
        if self.held_here(token).await? != Some(true) {
            return Ok(false);
        }
        let key = self.key;
        self.with_session(async |client| {
            client
                .execute(
                    "DELETE FROM rqs_lock_holders WHERE lock_key = $1 AND pid = pg_backend_pid()",
                    &[&key],
                )
                .await?;
            client
                .query_one("SELECT pg_advisory_unlock($1)", &[&key])
                .await?;
            client.batch_execute("RESET idle_session_timeout").await?;
            Ok(true)
        })
        .await
    }

    async fn holder(&self) -> Result<Option<String>> {
        let key = self.key;
        self.with_session(async |client| {
            Ok(client
                .query_opt(LIVE_HOLDER, &[&key])
                .await?
                .map(|row| row.get(0)))
        })
        .await
    }
}

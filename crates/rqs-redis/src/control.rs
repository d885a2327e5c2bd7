//! [`Control`] on Redis: the pauses in `rq:rqs:paused` (read by the hand-off scripts too)
//! with the operators' notes in `rq:rqs:paused:notes`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rqs_core::{BackendError, QueueName, keys, time};
use rqs_orchestrator::{Control, Instructions, Pause, PauseScope};

use crate::Conn;
use crate::error::query;

/// Pauses, and later instructions, kept in Redis under `rq:rqs:`, so every instance
/// (active or standby) and every hand-off script sees the same ones.
#[derive(Clone)]
pub struct RedisControl<C> {
    conn: C,
}

impl<C> std::fmt::Debug for RedisControl<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisControl").finish_non_exhaustive()
    }
}

fn field(scope: &PauseScope) -> &[u8] {
    match scope {
        PauseScope::All => keys::PAUSE_ALL.as_bytes(),
        PauseScope::Queue(q) => q.as_bytes(),
    }
}

impl<C: Conn> RedisControl<C> {
    /// The control on `conn`.
    pub fn new(conn: C) -> Self {
        Self { conn }
    }

    /// Pauses `scope` until `until` (Unix seconds; `None` until [`resume`](Self::resume)),
    /// replacing a pause of the same scope. Both hashes are written in one step.
    ///
    /// # Errors
    /// The backend's.
    pub async fn pause(
        &self,
        scope: &PauseScope,
        until: Option<f64>,
        reason: &str,
        by: &str,
        now: DateTime<Utc>,
    ) -> Result<(), BackendError> {
        let note = serde_json::json!({
            "reason": reason,
            "by": by,
            "at": time::unix_seconds(now),
            "until": until,
        });
        let ends = until.map(|u| u.to_string()).unwrap_or_default();
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset(keys::PAUSED, field(scope), ends)
            .ignore()
            .hset(keys::PAUSE_NOTES, field(scope), note.to_string())
            .ignore();
        let () = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(crate::backend_error)?;
        Ok(())
    }

    /// Ends the pause of `scope`; whether one was in force.
    ///
    /// # Errors
    /// The backend's.
    pub async fn resume(
        &self,
        scope: &PauseScope,
        now: DateTime<Utc>,
    ) -> Result<bool, BackendError> {
        let was = self
            .instructions(now)
            .await?
            .pauses
            .iter()
            .any(|p| p.scope == *scope);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hdel(keys::PAUSED, field(scope))
            .ignore()
            .hdel(keys::PAUSE_NOTES, field(scope))
            .ignore();
        let () = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(crate::backend_error)?;
        Ok(was)
    }
}

#[async_trait]
impl<C: Conn> Control for RedisControl<C> {
    async fn instructions(&self, now: DateTime<Utc>) -> Result<Instructions, BackendError> {
        let mut conn = self.conn.clone();
        let paused: Vec<(Vec<u8>, String)> =
            query(&mut conn, redis::cmd("HGETALL").arg(keys::PAUSED)).await?;
        if paused.is_empty() {
            return Ok(Instructions::default());
        }
        let notes: Vec<(Vec<u8>, String)> =
            query(&mut conn, redis::cmd("HGETALL").arg(keys::PAUSE_NOTES)).await?;
        let now = time::unix_seconds(now);
        let mut pauses = Vec::new();
        for (name, ends) in paused {
            // The scripts' rule: empty = until resumed; a number in the past = over; an
            // unreadable end counts as over there too.
            let until = if ends.is_empty() {
                None
            } else {
                match ends.parse::<f64>() {
                    Ok(u) if u > now => Some(u),
                    _ => continue,
                }
            };
            let note: serde_json::Value = notes
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, text)| serde_json::from_str(text).ok())
                .unwrap_or_default();
            let scope = if name == keys::PAUSE_ALL.as_bytes() {
                PauseScope::All
            } else {
                PauseScope::Queue(QueueName::new(name))
            };
            pauses.push(Pause {
                scope,
                until,
                reason: note["reason"].as_str().unwrap_or_default().to_owned(),
                by: note["by"].as_str().unwrap_or_default().to_owned(),
                since: note["at"].as_f64(),
            });
        }
        pauses.sort_by(|a, b| a.scope.cmp(&b.scope));
        Ok(Instructions::with_pauses(pauses))
    }
}

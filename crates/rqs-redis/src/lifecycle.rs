//! [`LifecycleRegistry`] on rq-scheduler's `rq:scheduler_instance:<name>` records.

use std::collections::HashMap;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rqs_core::{BackendError as Error, keys};
use rqs_lifecycle::{DEATH_TTL, InstanceRecord, LifecycleRegistry, Result, STALE_AFTER, stamp};

use crate::Conn;
use crate::error::{RedisResultExt, explain_command, query};
use crate::lock::millis;
use crate::script::Lua;

static BIRTH: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/birth.lua")));
static HEARTBEAT: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/heartbeat.lua")));
/// How long a name not seen stays in [`keys::INSTANCE_INDEX`].
const INDEX_KEEP: Duration = Duration::from_secs(600);

static INSTANCES: LazyLock<Lua> = LazyLock::new(|| Lua::new(include_str!("lua/instances.lua")));

/// rq-scheduler's `rq:scheduler_instance:<name>` records, with rqs's `rqs` and
/// `heartbeat` fields added.
#[derive(Clone)]
pub struct RedisLifecycleRegistry<C> {
    conn: C,
}

impl<C> std::fmt::Debug for RedisLifecycleRegistry<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLifecycleRegistry")
            .finish_non_exhaustive()
    }
}

impl<C: Conn> RedisLifecycleRegistry<C> {
    /// A registry on `conn`.
    pub fn new(conn: C) -> Self {
        Self { conn }
    }
}

fn record(fields: &HashMap<String, String>) -> Option<InstanceRecord> {
    if fields.is_empty() {
        return None;
    }
    let mut record = InstanceRecord::default();
    record.birth = fields.get("birth").cloned();
    record.death = fields.get("death").cloned();
    record.rqs = fields.get("rqs").cloned();
    record.heartbeat = fields.get("heartbeat").cloned();
    Some(record)
}

#[async_trait]
impl<C: Conn> LifecycleRegistry for RedisLifecycleRegistry<C> {
    async fn register_birth(&self, name: &str, at: DateTime<Utc>, ttl: Duration) -> Result<()> {
        let mut cmd = BIRTH.cmd(&[keys::instance_key(name), keys::INSTANCE_INDEX.to_owned()]);
        cmd.arg(stamp(at))
            .arg(millis(ttl))
            .arg(env!("CARGO_PKG_VERSION"))
            .arg(millis(STALE_AFTER))
            .arg(name);
        let registered: i64 = BIRTH.run(&mut self.conn.clone(), &cmd).await.backend()?;
        if registered == 1 {
            Ok(())
        } else {
            Err(Error::AlreadyActive(name.to_owned()))
        }
    }

    async fn heartbeat(&self, name: &str, _at: DateTime<Utc>, ttl: Duration) -> Result<bool> {
        // The script stamps the server's time: see `STALE_AFTER`.
        let mut cmd = HEARTBEAT.cmd(&[keys::instance_key(name), keys::INSTANCE_INDEX.to_owned()]);
        cmd.arg(millis(ttl)).arg(name).arg(INDEX_KEEP.as_secs());
        let alive: i64 = HEARTBEAT
            .run(&mut self.conn.clone(), &cmd)
            .await
            .backend()?;
        Ok(alive == 1)
    }

    async fn register_death(&self, name: &str, at: DateTime<Utc>) -> Result<()> {
        let key = keys::instance_key(name);
        redis::pipe()
            .atomic()
            .hset(&key, "death", stamp(at))
            .ignore()
            .expire(&key, DEATH_TTL.as_secs() as i64)
            .ignore()
            .query_async::<()>(&mut self.conn.clone())
            .await
            .map_err(|e| explain_command(e, redis::cmd("HSET").arg(&key)))
            .backend()
    }

    async fn record(&self, name: &str) -> Result<Option<InstanceRecord>> {
        let fields: HashMap<String, String> = query(
            &mut self.conn.clone(),
            redis::cmd("HGETALL").arg(keys::instance_key(name)),
        )
        .await?;
        Ok(record(&fields))
    }

    async fn instances(&self) -> Result<Vec<(String, InstanceRecord)>> {
        let mut conn = self.conn.clone();
        let pattern = format!("{}*", keys::INSTANCE_PREFIX);
        let mut cursor = 0u64;
        let mut names = Vec::new();
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = query(
                &mut conn,
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000),
            )
            .await?;
            names.extend(batch);
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        names.sort();
        names.dedup();
        let all: Vec<HashMap<String, String>> = if names.is_empty() {
            Vec::new()
        } else {
            let cmd = INSTANCES.cmd(&names);
            INSTANCES.run(&mut conn, &cmd).await.backend()?
        };
        Ok(names
            .iter()
            .zip(all)
            .filter_map(|(key, fields)| {
                let name = String::from_utf8_lossy(&key[keys::INSTANCE_PREFIX.len()..]);
                record(&fields).map(|r| (name.into_owned(), r))
            })
            .collect())
    }
}

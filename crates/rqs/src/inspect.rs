//! The read side shared by the inspection commands and the status page: instances, the
//! lock, counts, upcoming jobs, the quarantine. Everything here only reads Redis.
//!
//! The page is loaded every few seconds, by any number of browsers, and shows jobs that
//! clients wrote: what it reads is bounded by count and by bytes ([`Inspector::jobs_page`],
//! [`Inspector::quarantine_page`]), and it finds the instances without walking the
//! keyspace ([`Discovery`]).

use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use crate::connection::Connection;
use futures_util::StreamExt;
use rqs_core::memory::Quarantined;
use rqs_core::{BackendError, JobHash, JobId, keys};
use rqs_lifecycle::{InstanceRecord, LifecycleRegistry};
use rqs_lock::LockProvider;
use rqs_redis::{RedisJobStore, RedisLifecycleRegistry, RedisLockProvider, backend_error};
use rqs_store::{JobAdmin, JobStore};
use serde::Serialize;
use tokio::sync::watch;

use crate::jobinfo::{self, Kind};
use crate::output;

/// Instance records read at once (they share one multiplexed connection).
const CONCURRENT_READS: usize = 16;

/// Instance names, each scored with the Unix time it was last seen alive or registered
/// ([`keys::INSTANCE_INDEX`]): every rqs daemon's heartbeat notes its own name, a daemon
/// serving `--metrics-addr` adds what a walk finds (`commands::run`); read by the page and
/// `rqs status`, so that neither walks the keyspace to find the instances.
pub(crate) const INSTANCE_INDEX: &str = keys::INSTANCE_INDEX;

/// Names seen within this are taken from [`INSTANCE_INDEX`]; a daemon refreshes its own
/// every second and a walk's at most every minute.
pub(crate) const INDEX_FRESH: Duration = Duration::from_secs(180);

/// Whoever holds it walks the instance records this round (`commands::run`); while it
/// exists, a walk happened within the minute and [`INSTANCE_INDEX`] holds what it found.
pub(crate) const WALK_LEASE: &str = "rq:rqs:instances:walk";

/// The most names read from [`INSTANCE_INDEX`].
const INDEX_LIMIT: usize = 1_000;

/// What the page reads of each job, and the most bytes of each: a longer value is
/// reported with its size, not read. `data` only names the function on the page.
const PAGE_FIELDS: [(&str, u64); 5] = [
    ("origin", 1024),
    ("status", 64),
    ("description", 8 * 1024),
    ("meta", 16 * 1024),
    ("data", 32 * 1024),
];

/// The longest id the page shows; a longer one is cut.
const PAGE_ID_BYTES: usize = 1024;

/// The most a job's `data` is inflated to on the page (a zlib bomb stops there).
const PAGE_INFLATE_BYTES: u64 = 64 * 1024;

/// `HSCAN` calls one quarantine page may take.
const QUARANTINE_SCANS: usize = 20;

/// A Unix time, serialised with its UTC date: `{"unix": 1796378400.0, "utc": "2026-…Z"}`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Stamp(pub(crate) f64);

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Stamp", 2)?;
        st.serialize_field("unix", &self.0)?;
        st.serialize_field("utc", &output::rfc3339_exact(self.0))?;
        st.end()
    }
}

fn stamp(text: Option<&str>) -> Option<Stamp> {
    text.and_then(|t| t.parse::<f64>().ok()).map(Stamp)
}

/// One scheduler instance record (rqs's or Python's).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Instance {
    pub(crate) name: String,
    /// `rqs 0.1.0`, or `not rqs` for Python's `rqscheduler`.
    pub(crate) software: String,
    pub(crate) alive: bool,
    pub(crate) birth: Option<Stamp>,
    pub(crate) heartbeat: Option<Stamp>,
    pub(crate) death: Option<Stamp>,
    pub(crate) holds_lock: bool,
}

/// The scheduler lock: its raw value, and the instance it names when rqs wrote it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Lock {
    pub(crate) value: String,
    pub(crate) holder: Option<String>,
}

impl Lock {
    /// `instance a1b2…`, or what the value tells of a Python holder.
    pub(crate) fn label(&self) -> String {
        match &self.holder {
            Some(name) => name.clone(),
            None => match self.value.parse::<f64>() {
                Ok(at) => format!(
                    "a scheduler that is not rqs (rqscheduler's lock, taken at {})",
                    output::rfc3339(at)
                ),
                Err(_) => format!("unknown holder {:?}", self.value),
            },
        }
    }
}

/// A key that could not be read as rqs expects (someone stored another type under an
/// RQ name, or the ACL refuses it): shown with the rest, which is still read.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Problem {
    pub(crate) key: String,
    pub(crate) error: String,
}

impl Problem {
    fn new(key: &str, error: &BackendError) -> Self {
        Self {
            key: key.to_owned(),
            error: error.to_string(),
        }
    }
}

/// What `rqs status` and the top of the status page show.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Overview {
    pub(crate) generated: Stamp,
    pub(crate) instances: Vec<Instance>,
    pub(crate) lock: Option<Lock>,
    pub(crate) scheduled: u64,
    pub(crate) due: u64,
    pub(crate) next_due: Option<Stamp>,
    /// `null` when the quarantine cannot be read (see `problems`).
    pub(crate) quarantined: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) problems: Vec<Problem>,
}

impl Overview {
    /// The problem with `key`, if any.
    pub(crate) fn problem(&self, key: &str) -> Option<&Problem> {
        self.problems.iter().find(|p| p.key == key)
    }
}

/// One scheduled job, as `rqs list` and the status page show it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct JobSummary {
    pub(crate) id: String,
    pub(crate) due: Stamp,
    /// The job hash is gone (rqs would unschedule the job).
    pub(crate) missing: bool,
    pub(crate) queue: Option<String>,
    pub(crate) function: Option<String>,
    #[serde(flatten)]
    pub(crate) kind: Kind,
    pub(crate) repeat: Option<i64>,
    /// Runs still to come, the next one included; `null`: no limit.
    pub(crate) repeats_left: Option<i64>,
    pub(crate) description: Option<String>,
    pub(crate) status: Option<String>,
    /// Fields left unread for their size (the page), with it.
    #[serde(skip)]
    pub(crate) unread: Vec<(&'static str, u64)>,
}

impl JobSummary {
    pub(crate) fn new(id: &JobId, score: f64, hash: Option<&JobHash>) -> Self {
        let hash = hash.filter(|h| !h.is_empty());
        Self::decoded(
            output::text(id.as_bytes()),
            score,
            hash,
            jobinfo::MAX_DATA_BYTES,
        )
    }

    /// A summary whose `data` is inflated to at most `inflate` bytes; `None`: no hash.
    fn decoded(id: String, score: f64, hash: Option<&JobHash>, inflate: u64) -> Self {
        let Some(hash) = hash else {
            return Self {
                id,
                due: Stamp(score),
                missing: true,
                queue: None,
                function: None,
                kind: Kind::Once,
                repeat: None,
                repeats_left: None,
                description: None,
                status: None,
                unread: Vec::new(),
            };
        };
        let (kind, repeat) = Kind::of(hash);
        let field = |name: &str| hash.get(name).map(output::text);
        Self {
            id,
            due: Stamp(score),
            missing: false,
            queue: field("origin"),
            function: Some(jobinfo::function_within(hash, inflate)),
            repeats_left: kind.runs_left(repeat),
            kind,
            repeat,
            description: field("description"),
            status: field("status"),
            unread: Vec::new(),
        }
    }

    /// The kind column: `once`, `every 600s`, `cron */5 * * * *`, `missing hash`.
    pub(crate) fn kind_label(&self) -> String {
        if self.missing {
            "missing hash".to_owned()
        } else {
            self.kind.label()
        }
    }

    /// The size of `field` when it was too large to read.
    pub(crate) fn unread(&self, field: &str) -> Option<u64> {
        self.unread
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, bytes)| *bytes)
    }
}

/// One quarantined job.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct QuarantineEntry {
    pub(crate) id: String,
    /// The stable kind (`invalid_cron`...), when the record names one.
    pub(crate) kind: Option<String>,
    pub(crate) reason: String,
    /// Where it was in the schedule.
    pub(crate) score: Option<Stamp>,
    /// When it was quarantined.
    pub(crate) since: Stamp,
}

impl From<Quarantined> for QuarantineEntry {
    fn from(q: Quarantined) -> Self {
        Self {
            id: output::text(q.job_id.as_bytes()),
            kind: q.kind.map(|k| k.as_str().to_owned()),
            reason: q.reason,
            score: q.score.is_finite().then_some(Stamp(q.score)),
            since: Stamp(q.at as f64),
        }
    }
}

/// A quarantine record, read as the store reads it.
fn quarantine_entry(id: &[u8], raw: &[u8]) -> QuarantineEntry {
    QuarantineEntry::from(rqs_redis::parse_quarantine(JobId::new(id.to_vec()), raw))
}

/// Instance names a walk of `rq:scheduler_instance:*` found, kept by the daemon between
/// page loads (so that the page has them even when [`INSTANCE_INDEX`] cannot be written).
#[derive(Debug)]
pub(crate) struct KnownInstances {
    names: Mutex<Vec<String>>,
    /// Turns true after the first walk (or the first try), which the first page load
    /// waits for.
    walked: watch::Sender<bool>,
}

impl Default for KnownInstances {
    fn default() -> Self {
        Self {
            names: Mutex::default(),
            walked: watch::Sender::new(false),
        }
    }
}

impl KnownInstances {
    pub(crate) fn names(&self) -> Vec<String> {
        self.names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// What a walk found (`None`: this round had no walk, or it failed).
    pub(crate) fn walked(&self, names: Option<Vec<String>>) {
        if let Some(names) = names {
            *self
                .names
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = names;
        }
        self.walked.send_replace(true);
    }

    /// Waits, at most `limit`, for the first walk.
    pub(crate) async fn first_walk(&self, limit: Duration) {
        let mut walked = self.walked.subscribe();
        let _ = tokio::time::timeout(limit, walked.wait_for(|done| *done)).await;
    }
}

/// Where [`Inspector::overview`] finds the instance names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Discovery<'a> {
    /// [`INSTANCE_INDEX`], or a walk of the keyspace when no daemon keeps it: `rqs status`,
    /// run once.
    IndexOrWalk,
    /// [`INSTANCE_INDEX`] and these names, never a walk: the page, loaded every few
    /// seconds by any number of browsers.
    Known(&'a [String]),
}

/// Reads everything the commands and the page show.
#[derive(Debug, Clone)]
pub(crate) struct Inspector {
    pub(crate) store: RedisJobStore<Connection>,
    lifecycle: RedisLifecycleRegistry<Connection>,
    lock: RedisLockProvider<Connection>,
    conn: Connection,
}

/// `Err` when `error` means Redis is away; else the problem is noted and `None` returned.
fn tolerate<T>(
    result: Result<T, BackendError>,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Result<Option<T>, BackendError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            problems.push(Problem::new(key, &e));
            Ok(None)
        }
    }
}

impl Inspector {
    pub(crate) fn new(conn: Connection) -> Self {
        Self {
            store: RedisJobStore::new(conn.clone()),
            lifecycle: RedisLifecycleRegistry::new(conn.clone()),
            lock: RedisLockProvider::new(conn.clone()),
            conn,
        }
    }

    /// Instances, lock, counts and the next due time. A lock or quarantine key of the
    /// wrong type is a [`Problem`], and the rest is still read.
    pub(crate) async fn overview(
        &self,
        discovery: Discovery<'_>,
    ) -> Result<Overview, BackendError> {
        let now = output::now();
        let mut problems = Vec::new();
        let lock = tolerate(
            self.lock.holder().await,
            keys::SCHEDULER_LOCK,
            &mut problems,
        )?
        .flatten();
        let holder_name = lock
            .as_deref()
            .and_then(|v| v.rsplit_once('@'))
            .map(|(name, _)| name.to_owned());
        let records = self
            .instance_records(now, discovery, holder_name.as_deref(), &mut problems)
            .await?;
        let holder = holder_name.filter(|name| records.iter().any(|(n, _)| n == name));
        let instances = records
            .iter()
            .map(|(name, r)| instance(name, r, holder.as_deref() == Some(name.as_str())))
            .collect();
        let quarantined = tolerate(
            self.store.quarantine_len().await,
            keys::QUARANTINE,
            &mut problems,
        )?;
        Ok(Overview {
            generated: Stamp(now),
            instances,
            lock: lock.map(|value| Lock { value, holder }),
            scheduled: self.store.count(None).await?,
            due: self.store.count(Some(now.floor())).await?,
            next_due: self.store.next_due().await?.map(Stamp),
            quarantined,
            problems,
        })
    }

    /// The names in [`INSTANCE_INDEX`] seen within [`INDEX_FRESH`] of `now`.
    async fn indexed_names(&self, now: f64) -> Result<Vec<String>, BackendError> {
        let names: Vec<Vec<u8>> = redis::cmd("ZRANGEBYSCORE")
            .arg(INSTANCE_INDEX)
            .arg(format!("({}", now - INDEX_FRESH.as_secs_f64()))
            .arg("+inf")
            .arg("LIMIT")
            .arg(0)
            .arg(INDEX_LIMIT)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(backend_error)?;
        Ok(names
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect())
    }

    /// Whether a daemon walked the instance records within the minute.
    async fn walked_lately(&self) -> bool {
        let exists: redis::RedisResult<bool> = redis::cmd("EXISTS")
            .arg(WALK_LEASE)
            .query_async(&mut self.conn.clone())
            .await;
        exists.unwrap_or(false)
    }

    /// The records of the instances `discovery` finds, and of the lock's holder, by name.
    async fn instance_records(
        &self,
        now: f64,
        discovery: Discovery<'_>,
        holder: Option<&str>,
        problems: &mut Vec<Problem>,
    ) -> Result<Vec<(String, InstanceRecord)>, BackendError> {
        let indexed =
            tolerate(self.indexed_names(now).await, INSTANCE_INDEX, problems)?.unwrap_or_default();
        let mut names: Vec<String> = match discovery {
            // Heartbeats note rqs's own names only: without a recent walk (no daemon
            // serving `--metrics-addr`), walk the keyspace once for this command, so that
            // Python's instances are found too.
            Discovery::IndexOrWalk if indexed.is_empty() || !self.walked_lately().await => {
                return self.lifecycle.instances().await;
            }
            Discovery::IndexOrWalk => indexed,
            Discovery::Known(known) => indexed.into_iter().chain(known.iter().cloned()).collect(),
        };
        names.extend(holder.map(str::to_owned));
        names.sort();
        names.dedup();
        // Owned names and registry: a stream over borrows is not `Send` for the server.
        let records: Vec<Result<Option<InstanceRecord>, BackendError>> =
            futures_util::stream::iter(names.clone())
                .map(|name| {
                    let lifecycle = self.lifecycle.clone();
                    async move { lifecycle.record(&name).await }
                })
                .buffered(CONCURRENT_READS)
                .collect()
                .await;
        let mut out = Vec::with_capacity(names.len());
        for (name, record) in names.into_iter().zip(records) {
            let key = keys::instance_key(&name);
            // `None`: the record expired since the name was indexed.
            if let Some(Some(record)) = tolerate(record, &key, problems)? {
                out.push((name, record));
            }
        }
        Ok(out)
    }

    /// The quarantine, by id.
    pub(crate) async fn quarantine(&self) -> Result<Vec<QuarantineEntry>, BackendError> {
        Ok(self
            .store
            .quarantined()
            .await?
            .into_iter()
            .map(QuarantineEntry::from)
            .collect())
    }

    /// About `limit` quarantined jobs (those a few `HSCAN` calls meet first), by id: the
    /// page shows the quarantine a page at a time, as it does the schedule.
    pub(crate) async fn quarantine_page(
        &self,
        limit: usize,
    ) -> Result<Vec<QuarantineEntry>, BackendError> {
        let mut conn = self.conn.clone();
        let mut found: Vec<Record> = Vec::new();
        let mut cursor = 0u64;
        for _ in 0..QUARANTINE_SCANS {
            let (next, pairs): (u64, Vec<Record>) = redis::cmd("HSCAN")
                .arg(keys::QUARANTINE)
                .arg(cursor)
                .arg("COUNT")
                .arg(limit)
                .query_async(&mut conn)
                .await
                .map_err(backend_error)?;
            found.extend(pairs);
            cursor = next;
            if cursor == 0 || found.len() >= limit {
                break;
            }
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        found.truncate(limit);
        Ok(found
            .iter()
            .map(|(id, raw)| quarantine_entry(id, raw))
            .collect())
    }
}

/// A quarantine record: the job id, the JSON.
type Record = (Vec<u8>, Vec<u8>);

/// One row of [`JOBS_AT`]'s reply.
fn job_row(row: redis::Value) -> Result<JobSummary, BackendError> {
    use redis::Value;
    let bad = || BackendError::Protocol("unexpected reply of the page's job read".into());
    let Value::Array(cells) = row else {
        return Err(bad());
    };
    let mut cells = cells.into_iter();
    let (
        Some(Value::BulkString(id)),
        Some(Value::Int(id_len)),
        Some(Value::BulkString(score)),
        Some(kind),
    ) = (cells.next(), cells.next(), cells.next(), cells.next())
    else {
        return Err(bad());
    };
    let score = std::str::from_utf8(&score)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(bad)?;
    let mut id_text = output::text(&id);
    if usize::try_from(id_len).is_ok_and(|n| n > id.len()) {
        id_text.push_str(&format!("… ({id_len} bytes)"));
    }
    let is_hash = matches!(&kind, Value::BulkString(k) if k == b"hash");
    let mut hash = JobHash::new();
    let mut unread = Vec::new();
    for ((field, _), cell) in PAGE_FIELDS.iter().zip(cells) {
        match cell {
            Value::BulkString(v) => hash.set(*field, v),
            Value::Int(bytes) => unread.push((*field, u64::try_from(bytes).unwrap_or(0))),
            _ => {}
        }
    }
    let mut summary =
        JobSummary::decoded(id_text, score, is_hash.then_some(&hash), PAGE_INFLATE_BYTES);
    if summary.missing {
        return Ok(summary);
    }
    if let Some(bytes) = unread.iter().find(|(f, _)| *f == "meta").map(|(_, n)| *n) {
        // Kind::of saw no meta: say nothing rather than "once".
        summary.kind = Kind::Invalid {
            reason: format!("meta of {bytes} bytes, not read for the page"),
        };
        summary.repeats_left = None;
        summary.repeat = None;
    }
    if unread.iter().any(|(f, _)| *f == "data") {
        summary.function = None;
    }
    summary.unread = unread;
    Ok(summary)
}

fn instance(name: &str, r: &InstanceRecord, holds_lock: bool) -> Instance {
    Instance {
        name: name.to_owned(),
        software: r
            .rqs
            .as_ref()
            .map_or_else(|| "not rqs".to_owned(), |v| format!("rqs {v}")),
        // A crashed rqs instance shows dead once its heartbeat is stale (seconds), not
        // once its record expires (a minute or more).
        alive: r.is_alive_at(crate::output::now()),
        birth: stamp(r.birth.as_deref()),
        heartbeat: stamp(r.heartbeat.as_deref()),
        death: stamp(r.death.as_deref()),
        holds_lock,
    }
}

// --- The status page's paging, search, history and pauses ---------------------------

/// Jobs one search reads at most, whatever it finds: a search walks the schedule in
/// chunks and stops here, saying so, instead of reading the whole schedule.
pub(crate) const SEARCH_READS: u64 = 2_000;

/// Jobs read per script call of a search: each call holds Redis for a bounded time.
const SEARCH_CHUNK: usize = 100;

/// The largest history entry the page reads (rqs writes about 100 bytes).
const HISTORY_ENTRY_BYTES: u64 = 4096;

/// The most pauses the page reads; the longest queue name, pause end and note read.
const PAUSES_READ: usize = 50;
const PAUSE_FIELD_BYTES: u64 = 1024;
const PAUSE_VALUE_BYTES: u64 = 64;
const PAUSE_NOTE_BYTES: u64 = 8 * 1024;

/// A page of the schedule by position (rank among the scores from 0 up, as the counts
/// are), each field read only when it is small (`HSTRLEN` first), so one page load reads
/// a bounded number of bytes whatever the jobs hold. By rank, so a far page costs
/// `O(log n)`, not a walk to its offset.
static JOBS_AT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
-- KEYS[1]: the schedule. ARGV[1]: the first position (0: the first job due, counting
-- scores from 0 up); ARGV[2]: how many; ARGV[3]: the job key prefix; ARGV[4]: the
-- longest id returned; ARGV[5], ARGV[6]...: field name, most bytes read of it.
-- Returns {{id cut to ARGV[4] bytes, id length, score, key type, field...}...}: each
-- field its value, its size when over its bound, or false when absent.
local start = redis.call('ZCOUNT', KEYS[1], '-inf', '(0') + tonumber(ARGV[1])
local page = redis.call('ZRANGE', KEYS[1], start, start + tonumber(ARGV[2]) - 1, 'WITHSCORES')
local longest = tonumber(ARGV[4])
local out = {}
for k = 1, #page, 2 do
  local key = ARGV[3] .. page[k]
  local kind = redis.call('TYPE', key)['ok']
  local row = {string.sub(page[k], 1, longest), #page[k], page[k + 1], kind}
  if kind == 'hash' then
    for f = 5, #ARGV, 2 do
      local size = redis.call('HSTRLEN', key, ARGV[f])
      if size > tonumber(ARGV[f + 1]) then
        row[#row + 1] = size
      else
        row[#row + 1] = redis.call('HGET', key, ARGV[f])
      end
    end
  end
  out[#out + 1] = row
end
return out
",
    )
});

/// The newest history entries, each returned only when small.
static HISTORY_READ: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
-- KEYS[1]: the history list. ARGV[1]: how many entries; ARGV[2]: the most bytes of one.
-- Returns {list length, entry or its size when larger...}, newest first.
local out = {redis.call('LLEN', KEYS[1])}
for _, e in ipairs(redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)) do
  if #e > tonumber(ARGV[2]) then out[#out + 1] = #e else out[#out + 1] = e end
end
return out
",
    )
});

/// The pauses and their notes, bounded in count and bytes.
static PAUSES: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
-- KEYS[1]: the pauses (field: a queue or '*'; value: end time or ''); KEYS[2]: their
-- notes. ARGV[1]: the most pauses; ARGV[2]: the longest field returned; ARGV[3]: the
-- longest value read; ARGV[4]: the longest note read.
-- Returns {total, {field cut, field length, value or its size, note or its size or
-- false}...}, '*' first when present.
local most = tonumber(ARGV[1])
local total = redis.call('HLEN', KEYS[1])
local names = {}
if redis.call('HEXISTS', KEYS[1], '*') == 1 then names[1] = '*' end
local found
if total <= most then
  found = redis.call('HKEYS', KEYS[1])
else
  found = {}
  local scanned = redis.call('HSCAN', KEYS[1], '0', 'COUNT', most)[2]
  for i = 1, #scanned, 2 do found[#found + 1] = scanned[i] end
end
table.sort(found)
for _, name in ipairs(found) do
  if name ~= '*' and #names < most then names[#names + 1] = name end
end
local function bounded(key, field, most)
  local size = redis.call('HSTRLEN', key, field)
  if size > most then return size end
  return redis.call('HGET', key, field)
end
local notes = redis.call('EXISTS', KEYS[2]) == 1 and redis.call('TYPE', KEYS[2])['ok'] == 'hash'
local out = {total}
for _, name in ipairs(names) do
  local note = false
  if notes then note = bounded(KEYS[2], name, tonumber(ARGV[4])) end
  out[#out + 1] = {string.sub(name, 1, tonumber(ARGV[2])), #name,
    bounded(KEYS[1], name, tonumber(ARGV[3])), note}
end
return out
",
    )
});

/// One job of a page, with where it stands in the schedule.
#[derive(Debug, Clone)]
pub(crate) struct PageJob {
    pub(crate) job: JobSummary,
    /// Its position in the schedule (0: the first due).
    pub(crate) position: u64,
    /// Its id was too long to show whole (so no command can name it).
    pub(crate) cut: bool,
}

impl PageJob {
    fn new(job: JobSummary, position: u64) -> Self {
        // An id cut short is longer than the cut, its note included; an escaped id
        // longer than that may be whole, and only loses its commands.
        let cut = job.id.len() > PAGE_ID_BYTES;
        Self { job, position, cut }
    }
}

/// The jobs table of one page load.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobsPage {
    pub(crate) rows: Vec<PageJob>,
    /// Where it started reading.
    pub(crate) offset: u64,
    /// Jobs read.
    pub(crate) read: u64,
    /// Where the next page starts; `None`: the schedule ends within this one.
    pub(crate) next: Option<u64>,
    /// A search that stopped at [`SEARCH_READS`] before it found a page of matches.
    pub(crate) capped: bool,
}

/// A bulk string, or the size a script returned instead of a value too large to read.
fn bounded_value(v: &redis::Value) -> Result<Option<&[u8]>, u64> {
    match v {
        redis::Value::BulkString(b) => Ok(Some(b)),
        redis::Value::Int(size) => Err(u64::try_from(*size).unwrap_or(0)),
        _ => Ok(None),
    }
}

impl Inspector {
    /// `limit` jobs from position `offset`, for the page.
    async fn jobs_at(&self, offset: u64, limit: usize) -> Result<Vec<PageJob>, BackendError> {
        let mut call = JOBS_AT.key(keys::SCHEDULED_JOBS);
        call.arg(offset)
            .arg(limit)
            .arg(keys::JOB_PREFIX)
            .arg(PAGE_ID_BYTES);
        for (field, most) in PAGE_FIELDS {
            call.arg(field).arg(most);
        }
        let rows: Vec<redis::Value> = call
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend_error)?;
        rows.into_iter()
            .zip(offset..)
            .map(|(row, position)| Ok(PageJob::new(job_row(row)?, position)))
            .collect()
    }

    /// The page's jobs table: `limit` jobs from position `offset`.
    pub(crate) async fn jobs_page(
        &self,
        offset: u64,
        limit: usize,
        scheduled: u64,
    ) -> Result<JobsPage, BackendError> {
        let rows = self.jobs_at(offset, limit).await?;
        let read = rows.len() as u64;
        Ok(JobsPage {
            rows,
            offset,
            read,
            next: (offset + read < scheduled && read > 0).then_some(offset + read),
            capped: false,
        })
    }

    /// Up to `limit` jobs from position `offset` on whose id, function or queue holds
    /// `needle`, reading at most [`SEARCH_READS`] jobs, [`SEARCH_CHUNK`] per call.
    pub(crate) async fn search(
        &self,
        needle: &crate::page_query::Needle,
        offset: u64,
        limit: usize,
    ) -> Result<JobsPage, BackendError> {
        let mut page = JobsPage {
            offset,
            ..JobsPage::default()
        };
        let mut at = offset;
        loop {
            let chunk = SEARCH_CHUNK.min((SEARCH_READS - page.read) as usize);
            let jobs = self.jobs_at(at, chunk).await?;
            let got = jobs.len() as u64;
            for j in jobs {
                page.read += 1;
                at = j.position + 1;
                let job = &j.job;
                if needle.matches([
                    Some(job.id.as_str()),
                    job.function.as_deref(),
                    job.queue.as_deref(),
                ]) {
                    page.rows.push(j);
                    if page.rows.len() == limit {
                        page.next = Some(at);
                        return Ok(page);
                    }
                }
            }
            if got < chunk as u64 {
                // The end of the schedule.
                return Ok(page);
            }
            if page.read >= SEARCH_READS {
                page.capped = true;
                page.next = Some(at);
                return Ok(page);
            }
        }
    }

    /// The newest `limit` entries of the hand-off history, and its length.
    pub(crate) async fn history(
        &self,
        limit: usize,
    ) -> Result<(u64, Vec<crate::history::Entry>), BackendError> {
        let reply: Vec<redis::Value> = HISTORY_READ
            .key(crate::history::KEY)
            .arg(limit)
            .arg(HISTORY_ENTRY_BYTES)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend_error)?;
        let mut reply = reply.into_iter();
        let length = match reply.next() {
            Some(redis::Value::Int(n)) => u64::try_from(n).unwrap_or(0),
            _ => {
                return Err(BackendError::Protocol(
                    "unexpected reply of the history read".into(),
                ));
            }
        };
        let entries = reply
            .map(|v| crate::history::Entry::parse(bounded_value(&v).map(Option::unwrap_or_default)))
            .collect();
        Ok((length, entries))
    }

    /// The pauses (`rq:rqs:paused`) with their notes, at most [`PAUSES_READ`].
    pub(crate) async fn pauses(&self) -> Result<crate::pause_banner::Pauses, BackendError> {
        use redis::Value;
        let reply: Vec<Value> = PAUSES
            .key(keys::PAUSED)
            .key(keys::PAUSE_NOTES)
            .arg(PAUSES_READ)
            .arg(PAUSE_FIELD_BYTES)
            .arg(PAUSE_VALUE_BYTES)
            .arg(PAUSE_NOTE_BYTES)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(backend_error)?;
        let bad = || BackendError::Protocol("unexpected reply of the pauses read".into());
        let mut reply = reply.into_iter();
        let Some(Value::Int(total)) = reply.next() else {
            return Err(bad());
        };
        let mut read = Vec::new();
        for row in reply {
            let Value::Array(cells) = row else {
                return Err(bad());
            };
            let [Value::BulkString(field), Value::Int(field_len), value, note] = cells.as_slice()
            else {
                return Err(bad());
            };
            read.push(crate::pause_banner::Pause::new(
                field,
                u64::try_from(*field_len).unwrap_or(0),
                bounded_value(value),
                bounded_value(note),
            ));
        }
        Ok(crate::pause_banner::Pauses {
            total: u64::try_from(total).unwrap_or(0),
            read,
        })
    }
}

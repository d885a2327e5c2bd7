//! A scheduled job as read from the store: id, score and the raw job hash.

use std::collections::BTreeMap;

use crate::{JobError, JobId, QueueName};

/// The job hash fields a hand-off reads. Stores return only these from
/// `JobStore::due`; `data` comes back empty when present, because the scheduler only needs
/// to know it exists and it can be large (the pickled call arguments).
pub const HANDOFF_FIELDS: [&str; 9] = [
    "data",
    "origin",
    "status",
    "timeout",
    "meta",
    "ttl",
    "enqueue_at_front",
    "dependency_ids",
    "dependency_id",
];

/// The raw fields of an RQ job hash (`rq:job:<id>`), values as stored bytes.
///
/// Only the fields the scheduler needs have typed accessors; everything else is carried
/// untouched, because the hand-off rewrites only what RQ's enqueue changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobHash {
    fields: BTreeMap<String, Vec<u8>>,
}

impl JobHash {
    /// An empty hash.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a hash from field/value pairs.
    pub fn from_pairs<K, V, I>(pairs: I) -> Self
    where
        K: Into<String>,
        V: Into<Vec<u8>>,
        I: IntoIterator<Item = (K, V)>,
    {
        Self {
            fields: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The raw value of `field`.
    pub fn get(&self, field: &str) -> Option<&[u8]> {
        self.fields.get(field).map(Vec::as_slice)
    }

    /// The value of `field` when it is valid UTF-8.
    pub fn get_str(&self, field: &str) -> Option<&str> {
        self.get(field).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Sets `field` to `value`.
    pub fn set(&mut self, field: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.fields.insert(field.into(), value.into());
    }

    /// Whether the hash has no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// All fields in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v.as_slice()))
    }

    /// The [`HANDOFF_FIELDS`] of this hash, `data` emptied: what a store's `due` returns.
    pub fn projection(&self) -> JobHash {
        self.fields
            .iter()
            .filter(|(k, _)| HANDOFF_FIELDS.contains(&k.as_str()))
            .map(|(k, v)| {
                let value = if k == "data" { Vec::new() } else { v.clone() };
                (k.clone(), value)
            })
            .collect()
    }

    /// The fields as a map.
    pub fn as_map(&self) -> &BTreeMap<String, Vec<u8>> {
        &self.fields
    }

    /// Whether the hash has RQ's mandatory `data` field. RQ treats a hash without it as a
    /// missing job.
    pub fn has_data(&self) -> bool {
        self.fields.contains_key("data")
    }

    /// The queue name the job goes to (`origin`), when present and non-empty.
    pub fn origin(&self) -> Option<QueueName> {
        self.get("origin")
            .filter(|s| !s.is_empty())
            .map(QueueName::from)
    }

    /// The job's `status` field.
    pub fn status(&self) -> Option<&str> {
        self.get_str("status")
    }

    /// Whether RQ would consider the timeout unset (absent or empty) and fill in its default.
    pub fn timeout_unset(&self) -> bool {
        self.get("timeout").is_none_or(<[u8]>::is_empty)
    }

    /// The raw pickled `meta`, when present and non-empty (RQ reads an empty one as `{}`).
    pub fn meta(&self) -> Option<&[u8]> {
        self.get("meta").filter(|m| !m.is_empty())
    }

    /// The job's own time to live (`ttl` field), as RQ reads it.
    ///
    /// # Errors
    /// [`JobError::InvalidField`] when the field is not an integer.
    pub fn ttl(&self) -> Result<Option<i64>, JobError> {
        self.int_field("ttl")
    }

    /// Whether the job asks to be pushed at the front of its queue (`enqueue_at_front`).
    ///
    /// # Errors
    /// [`JobError::InvalidField`] when the field is present but not an integer.
    pub fn at_front(&self) -> Result<bool, JobError> {
        match self.get("enqueue_at_front") {
            None => Ok(false),
            Some(raw) => Ok(parse_python_int("enqueue_at_front", raw)? != 0),
        }
    }

    /// Ids of the jobs this one depends on, read as RQ does: `dependency_ids` (a JSON list)
    /// when set, else the legacy single `dependency_id`.
    ///
    /// # Errors
    /// [`JobError::InvalidField`] when `dependency_ids` is not a JSON list of strings.
    pub fn dependency_ids(&self) -> Result<Vec<JobId>, JobError> {
        if let Some(raw) = self.get("dependency_ids").filter(|v| !v.is_empty()) {
            return serde_json::from_slice::<Vec<String>>(raw)
                .map(|ids| ids.into_iter().map(JobId::from).collect())
                .map_err(|e| JobError::InvalidField {
                    field: "dependency_ids",
                    reason: format!("not a JSON list of job ids: {e}"),
                });
        }
        Ok(self
            .get("dependency_id")
            .filter(|s| !s.is_empty())
            .map(|s| vec![JobId::from(s)])
            .unwrap_or_default())
    }

    fn int_field(&self, field: &'static str) -> Result<Option<i64>, JobError> {
        match self.get(field).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(raw) => parse_python_int(field, raw).map(Some),
        }
    }
}

impl FromIterator<(String, Vec<u8>)> for JobHash {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(iter: I) -> Self {
        Self {
            fields: iter.into_iter().collect(),
        }
    }
}

/// Parses an integer the way Python's `int()` reads a decimal string (surrounding
/// whitespace and a sign allowed).
fn parse_python_int(field: &'static str, raw: &[u8]) -> Result<i64, JobError> {
    std::str::from_utf8(raw)
        .ok()
        .map(|s| s.trim().replace('_', ""))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| JobError::InvalidField {
            field,
            reason: format!("not an integer: {:?}", String::from_utf8_lossy(raw)),
        })
}

/// One member of the schedule, as read for a hand-off.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledJob {
    /// The job id (member of the sorted set), as stored.
    pub id: JobId,
    /// The score it was read with: the guard of its hand-off.
    pub score: f64,
    /// The job's [`HANDOFF_FIELDS`] (see [`JobHash::projection`]), `None` when the hash
    /// does not exist.
    pub hash: Option<JobHash>,
    /// Set when the store left out the job's hand-off fields (in practice its `meta`)
    /// because together they are this many bytes, more than one hand-off may hold in
    /// memory ([`crate::plan::MAX_META_BYTES`]); such a job is quarantined.
    pub oversized: Option<u64>,
    /// Set when the job's key exists but is not a hash: its Redis type (`string`,
    /// `list`...). The job is then read as a hash without fields.
    pub key_type: Option<String>,
}

impl ScheduledJob {
    /// A job as read, with nothing left out.
    pub fn new(id: impl Into<JobId>, score: f64, hash: Option<JobHash>) -> Self {
        Self {
            id: id.into(),
            score,
            hash,
            oversized: None,
            key_type: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_accessors_read_like_rq() {
        let hash = JobHash::from_pairs([
            ("data", &b"x"[..]),
            ("origin", b"default"),
            ("ttl", b" 30 "),
            ("enqueue_at_front", b"1"),
            ("dependency_ids", br#"["a","b"]"#),
            ("dependency_id", b"a"),
            ("timeout", b""),
            ("meta", b""),
        ]);
        assert!(hash.has_data());
        assert_eq!(hash.origin(), Some(QueueName::from("default")));
        assert_eq!(hash.ttl().unwrap(), Some(30));
        assert!(hash.at_front().unwrap());
        assert_eq!(
            hash.dependency_ids().unwrap(),
            [JobId::from("a"), JobId::from("b")]
        );
        assert!(hash.timeout_unset());
        assert_eq!(hash.meta(), None);
    }

    #[test]
    fn legacy_dependency_and_absent_fields() {
        let hash = JobHash::from_pairs([("dependency_id", "dep"), ("enqueue_at_front", "0")]);
        assert_eq!(hash.dependency_ids().unwrap(), [JobId::from("dep")]);
        assert!(!hash.at_front().unwrap());
        assert!(!hash.has_data());
        assert_eq!(hash.origin(), None);
        assert_eq!(hash.ttl().unwrap(), None);
        assert!(JobHash::new().dependency_ids().unwrap().is_empty());
    }

    #[test]
    fn projection_keeps_the_handoff_fields_and_empties_data() {
        let hash = JobHash::from_pairs([
            ("data", &b"big payload"[..]),
            ("origin", b"q"),
            ("description", b"f()"),
            ("meta", b"m"),
        ]);
        let p = hash.projection();
        assert_eq!(p.get("data"), Some(&b""[..]));
        assert!(p.has_data());
        assert_eq!(p.origin(), Some(QueueName::from("q")));
        assert_eq!(p.meta(), Some(&b"m"[..]));
        assert_eq!(p.get("description"), None);
    }

    #[test]
    fn corrupt_fields_are_errors() {
        let hash = JobHash::from_pairs([
            ("ttl", "soon"),
            ("enqueue_at_front", "yes"),
            ("dependency_ids", "{"),
        ]);
        assert!(matches!(
            hash.ttl(),
            Err(JobError::InvalidField { field: "ttl", .. })
        ));
        assert!(hash.at_front().is_err());
        assert!(hash.dependency_ids().is_err());
    }
}

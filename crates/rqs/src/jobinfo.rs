//! A job hash decoded for people: its function and arguments (from the zlib-compressed
//! pickle in `data`), how it repeats (from the pickled `meta`), and its next run times,
//! computed with the same pure functions the scheduler uses.

use std::io::Read;

use chrono::{DateTime, Utc};
use rqs_core::JobHash;
use rqs_core::plan::{self, LocalZone, Recurrence, ScheduleMeta};
use rqs_pickle::{Call, Meta, Value};
use serde::Serialize;

use crate::output;

/// The most `data` is inflated to for display; larger calls are reported, not decoded.
pub(crate) const MAX_DATA_BYTES: u64 = 16 * 1024 * 1024;

/// How a job repeats, for display.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Kind {
    /// Runs once.
    Once,
    /// Re-armed every `seconds`.
    Interval { seconds: f64 },
    /// Re-armed at the next match of `cron`.
    Cron { cron: String, local_timezone: bool },
    /// The meta cannot be used: the scheduler would quarantine the job.
    Invalid { reason: String },
}

impl Kind {
    /// Reads the schedule part of a job's meta.
    pub(crate) fn of(hash: &JobHash) -> (Kind, Option<i64>) {
        match ScheduleMeta::read(hash.meta()) {
            Ok(meta) => {
                let kind = match meta.recurrence {
                    Recurrence::Once => Kind::Once,
                    Recurrence::Interval { seconds } => Kind::Interval { seconds },
                    Recurrence::Cron { text, local, .. } => Kind::Cron {
                        cron: text,
                        local_timezone: local,
                    },
                };
                (kind, meta.repeat)
            }
            Err(e) => (
                Kind::Invalid {
                    reason: e.to_string(),
                },
                None,
            ),
        }
    }

    /// `once`, `every 600s`, `cron */5 * * * *`.
    pub(crate) fn label(&self) -> String {
        match self {
            Kind::Once => "once".to_owned(),
            Kind::Interval { seconds } => format!("every {seconds}s"),
            Kind::Cron {
                cron,
                local_timezone,
            } => {
                let zone = if *local_timezone { " (local time)" } else { "" };
                format!("cron {cron}{zone}")
            }
            Kind::Invalid { .. } => "invalid".to_owned(),
        }
    }

    /// Runs still to come, the next one included (`None`: no limit), as rq-scheduler
    /// counts them: `repeat=N` is N runs, 0 is one run, a negative value is no limit.
    pub(crate) fn runs_left(&self, repeat: Option<i64>) -> Option<i64> {
        match (self, repeat) {
            (Kind::Once, _) => Some(1),
            // Quarantined at its hand-off: no run.
            (Kind::Invalid { .. }, _) => Some(0),
            (_, Some(n)) if n > 0 => Some(n),
            (_, Some(0)) => Some(1),
            _ => None,
        }
    }
}

/// `∞` for no limit.
pub(crate) fn runs_label(runs: Option<i64>) -> String {
    runs.map_or_else(|| "∞".to_owned(), |n| n.to_string())
}

/// The call in a job's `data`, or why it cannot be read.
pub(crate) fn call(hash: &JobHash) -> Result<Call, String> {
    call_within(hash, MAX_DATA_BYTES)
}

/// The call in a job's `data`, inflated to at most `limit` bytes (a zlib bomb costs no
/// more than that), or why it cannot be read.
pub(crate) fn call_within(hash: &JobHash, limit: u64) -> Result<Call, String> {
    let raw = hash.get("data").ok_or("the job has no data")?;
    let mut inflated = Vec::new();
    let pickle = match flate2::read::ZlibDecoder::new(raw)
        .take(limit + 1)
        .read_to_end(&mut inflated)
    {
        Ok(_) if inflated.len() as u64 > limit => {
            return Err(format!("data is larger than {limit} bytes once inflated"));
        }
        Ok(_) => inflated.as_slice(),
        // Not compressed: very old RQ versions stored the pickle as it is.
        Err(_) => raw,
    };
    Call::parse(pickle).map_err(|e| format!("data is not a readable call: {e}"))
}

/// The function's dotted name, or a bracketed note when it cannot be read, with `data`
/// inflated to at most `limit` bytes.
pub(crate) fn function_within(hash: &JobHash, limit: u64) -> String {
    match call_within(hash, limit) {
        Ok(c) => match c.func_name() {
            Some(name) => name.to_owned(),
            None => format!("<{}>", python_repr(&c.func)),
        },
        Err(_) => "<unreadable>".to_owned(),
    }
}

/// A value as Python's `repr` would show it; containers and objects the reader does not
/// build are `<opaque>`.
pub(crate) fn python_repr(value: &Value) -> String {
    match value {
        Value::None => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(bytes) => format!("<int of {} bytes>", bytes.len()),
        Value::Float(f) => rqs_core::time::python_float_repr(*f),
        Value::Str(s) => quote(s),
        Value::Bytes(b) => bytes_repr(b),
        _ => "<opaque>".to_owned(),
    }
}

fn bytes_repr(bytes: &[u8]) -> String {
    let mut out = String::from("b'");
    for &b in bytes {
        match b {
            b'\'' => out.push_str("\\'"),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b' '..=b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('\'');
    out
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A value for JSON: primitives as themselves, anything else as `{"opaque": true}`.
pub(crate) fn json_value(value: &Value) -> serde_json::Value {
    use serde_json::json;
    match value {
        Value::None => json!(null),
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Str(s) => json!(s),
        Value::Bytes(b) => json!({ "bytes": output::text(b) }),
        Value::BigInt(b) => json!({ "big_int_bytes": b.len() }),
        _ => json!({ "opaque": true }),
    }
}

/// The meta's str-keyed entries, or why it cannot be read (`Ok(None)`: no meta).
pub(crate) fn meta_entries(hash: &JobHash) -> Result<Option<Vec<(String, Value)>>, String> {
    let Some(raw) = hash.meta() else {
        return Ok(None);
    };
    if raw.first() == Some(&b'{') {
        return Err("meta is JSON (RQ's JSONSerializer); rqs reads pickled meta only".into());
    }
    Meta::parse(raw)
        .map(|m| {
            Some(
                m.entries()
                    .map(|(k, v)| (k.to_owned(), v.clone()))
                    .collect(),
            )
        })
        .map_err(|e| format!("meta is not a readable pickle: {e}"))
}

/// The due times of a job's next `n` runs, starting with `score`, as rqs would hand it
/// over: each run at its due second (or `now`, when it is overdue), re-armed by
/// [`plan::plan_schedule`] with the meta as the previous hand-off left it.
pub(crate) fn next_runs(
    hash: &JobHash,
    score: f64,
    now: DateTime<Utc>,
    zone: &LocalZone,
    n: usize,
) -> Vec<f64> {
    let mut runs = vec![score];
    let mut meta = hash.meta().map(<[u8]>::to_vec);
    let mut due = score;
    while runs.len() < n {
        let Some(at) = output::instant(due.ceil()).map(|d| d.max(now)) else {
            break;
        };
        let Ok(step) = plan::plan_schedule(meta.as_deref(), at, zone) else {
            break;
        };
        if let Some(update) = step.meta {
            meta = Some(update.new);
        }
        match step.next {
            Some(next) => {
                runs.push(next);
                due = next;
            }
            None => break,
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use chrono::TimeZone;

    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    // pickle.dumps(('rqs_interop_jobs.add', None, (1, 2), {}), protocol=5)
    const ADD_1_2: &str = "8005952400000000000000288c147271735f696e7465726f705f6a6f62732e616464944e4b014b0286947d9474942e";
    // pickle.dumps({'interval': 60, 'repeat': 3}, protocol=5)
    const INTERVAL_60_REPEAT_3: &str =
        "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b03752e";

    #[test]
    fn data_is_inflated_and_read() {
        let hash = JobHash::from_pairs([("data", zlib(&hex(ADD_1_2)))]);
        assert_eq!(
            function_within(&hash, MAX_DATA_BYTES),
            "rqs_interop_jobs.add"
        );
        // A bomb stops at the limit: 1 MiB of zeros is not inflated past 1 KiB.
        let bomb = JobHash::from_pairs([("data", zlib(&vec![0u8; 1 << 20]))]);
        assert!(
            call_within(&bomb, 1024)
                .unwrap_err()
                .contains("larger than 1024 bytes")
        );
        let c = call(&hash).unwrap();
        let args: Vec<String> = c.args.unwrap().iter().map(python_repr).collect();
        assert_eq!(args, ["1", "2"]);
        let junk = JobHash::from_pairs([("data", "junk")]);
        assert_eq!(function_within(&junk, MAX_DATA_BYTES), "<unreadable>");
        assert!(call(&JobHash::new()).is_err());
    }

    #[test]
    fn values_print_like_python() {
        assert_eq!(python_repr(&Value::Str("it's\n".into())), "'it\\'s\\n'");
        assert_eq!(python_repr(&Value::Bytes(vec![0, b'a'])), "b'\\x00a'");
        assert_eq!(python_repr(&Value::Opaque), "<opaque>");
        assert_eq!(python_repr(&Value::Float(2.0)), "2.0");
        assert_eq!(
            json_value(&Value::Opaque),
            serde_json::json!({"opaque": true})
        );
    }

    #[test]
    fn interval_runs_stop_when_the_repeats_are_used_up() {
        let hash = JobHash::from_pairs([("meta", hex(INTERVAL_60_REPEAT_3))]);
        let (kind, repeat) = Kind::of(&hash);
        assert_eq!(kind, Kind::Interval { seconds: 60.0 });
        assert_eq!(kind.runs_left(repeat), Some(3));
        let now = Utc.timestamp_opt(1_000, 0).unwrap();
        let runs = next_runs(&hash, 2_000.0, now, &LocalZone::System, 5);
        assert_eq!(runs, [2_000.0, 2_060.0, 2_120.0]);
        // Overdue: the next hand-off is now, and the run after it counts from now.
        let late = Utc.timestamp_opt(5_000, 0).unwrap();
        let runs = next_runs(&hash, 2_000.0, late, &LocalZone::System, 5);
        assert_eq!(runs, [2_000.0, 5_060.0, 5_120.0]);
    }

    #[test]
    fn a_once_job_has_one_run() {
        let hash = JobHash::new();
        let (kind, repeat) = Kind::of(&hash);
        assert_eq!(
            (kind.label(), kind.runs_left(repeat)),
            ("once".into(), Some(1))
        );
        let now = Utc.timestamp_opt(0, 0).unwrap();
        assert_eq!(next_runs(&hash, 10.0, now, &LocalZone::System, 5), [10.0]);
        assert_eq!(runs_label(None), "∞");
    }
}

//! Pure decisions: what the hand-off of one due job does, and when it runs next.
//!
//! The rules are rq-scheduler 0.14's (`Scheduler.enqueue_job`):
//! - `repeat` is decremented when it is truthy, and the new value travels with the push;
//! - an `interval` job is re-armed at `floor(now) + interval`, a `cron_string` job at the
//!   next match strictly after now; `interval` wins when both are set. An interval below
//!   one second (only a hand-written meta can hold one: the client truncates to whole
//!   seconds) keeps the fraction of Python's score, moved a whole second on when Python's
//!   score would fall due less than 0.9 s after this hand-off; it never re-arms at or
//!   before `floor(now)`, so a job runs about once a second, never twice within 0.9 s;
//! - a periodic job whose `repeat` is now 0 is not re-armed, so `repeat=N` means N runs;
//!   `repeat=0` runs once and a negative value never reaches 0.
//!
//! Where Python crashes or silently corrupts data, these functions return an error that
//! the orchestrator turns into a quarantine.

use chrono::{DateTime, Utc};
use rqs_cron::CronExpr;
use rqs_pickle::{Meta, Value};

use crate::handoff::{Action, Enqueue, HandOff, MetaGuard, MetaUpdate};
use crate::{JobError, JobId, ScheduledJob, time};

/// The time zone that `use_local_timezone=True` cron jobs are evaluated in.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum LocalZone {
    /// The host's zone (`TZ`, else `/etc/localtime`), like Python's `datetime.now()`.
    #[default]
    System,
    /// A named IANA zone.
    Named(chrono_tz::Tz),
}

impl LocalZone {
    /// Next run of `expr` after `now` in this zone.
    pub fn next(&self, expr: &CronExpr, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            LocalZone::System => expr.next_in(now, &chrono::Local),
            LocalZone::Named(tz) => expr.next_in(now, tz),
        }
    }
}

/// How a job repeats, read from its meta.
#[derive(Debug, Clone, PartialEq)]
pub enum Recurrence {
    /// Runs once.
    Once,
    /// Re-armed `seconds` after each hand-off.
    Interval {
        /// Seconds between hand-offs (positive and finite).
        seconds: f64,
    },
    /// Re-armed at the next match of a cron expression.
    Cron {
        /// The parsed expression.
        expr: CronExpr,
        /// The cron string as stored.
        text: String,
        /// Evaluate in the local zone instead of UTC.
        local: bool,
    },
}

/// The schedule-related part of a job's meta.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleMeta {
    /// How the job repeats.
    pub recurrence: Recurrence,
    /// The `repeat` counter, when present.
    pub repeat: Option<i64>,
    /// `queue_class_name`, when the client set one.
    pub queue_class: Option<String>,
}

impl ScheduleMeta {
    /// Reads `interval`, `cron_string`, `use_local_timezone`, `repeat` and
    /// `queue_class_name` from a raw pickled meta (`None`: the job has no meta).
    ///
    /// # Errors
    /// [`JobError::MetaUnreadable`] for a meta that is not a pickled dict (JSON included),
    /// [`JobError::InvalidSchedule`] for values rq-scheduler could not use either, and
    /// [`JobError::Cron`] for an invalid cron string.
    pub fn read(meta: Option<&[u8]>) -> Result<Self, JobError> {
        let Some(bytes) = meta else {
            return Ok(Self {
                recurrence: Recurrence::Once,
                repeat: None,
                queue_class: None,
            });
        };
        if bytes.first() == Some(&b'{') {
            return Err(JobError::MetaUnreadable(
                "meta is JSON (RQ's JSONSerializer); rqs reads pickled meta only".to_owned(),
            ));
        }
        let meta = Meta::parse(bytes)
            .map_err(|e| JobError::MetaUnreadable(format!("meta is not a readable pickle: {e}")))?;

        let repeat = match meta.get("repeat") {
            None | Some(Value::None) => None,
            Some(v) => Some(int_like("repeat", v)?),
        };
        let interval = match meta.get("interval") {
            None | Some(Value::None) => 0.0,
            Some(v) => seconds_like("interval", v)?,
        };
        let recurrence = if interval != 0.0 {
            if interval < 0.0 {
                return Err(JobError::InvalidSchedule(format!(
                    "interval {interval} is negative: rq-scheduler would re-run it at every poll"
                )));
            }
            Recurrence::Interval { seconds: interval }
        } else {
            match meta.get("cron_string") {
                None | Some(Value::None) => Recurrence::Once,
                Some(Value::Str(s)) if s.is_empty() => Recurrence::Once,
                Some(Value::Str(s)) => {
                    let expr = CronExpr::parse(s).map_err(|source| JobError::Cron {
                        expr: s.clone(),
                        reason: source.to_string(),
                    })?;
                    let local = truthy("use_local_timezone", meta.get("use_local_timezone"))?;
                    Recurrence::Cron {
                        expr,
                        text: s.clone(),
                        local,
                    }
                }
                Some(other) => {
                    return Err(JobError::InvalidSchedule(format!(
                        "cron_string is not a string: {}",
                        shown(other)
                    )));
                }
            }
        };
        let queue_class = match meta.get("queue_class_name") {
            Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        };
        Ok(Self {
            recurrence,
            repeat,
            queue_class,
        })
    }
}

/// Reads a value the way Python's `int(value)` would for the types rq-scheduler writes.
/// A meta value in words for a reason a person reads: Python's spelling where rqs has
/// it, never a Rust type's debug text.
fn shown(value: &Value) -> String {
    match value {
        Value::None => "None".to_owned(),
        Value::Bool(true) => "True".to_owned(),
        Value::Bool(false) => "False".to_owned(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(bytes) => format!("an integer of {} bytes, too large", bytes.len()),
        Value::Float(f) => time::python_float_repr(*f),
        Value::Str(text) => format!("the str {text:?}"),
        Value::Bytes(bytes) => format!("a bytes value ({} bytes)", bytes.len()),
        _ => "an object rqs does not read (not a number, str, bool or None)".to_owned(),
    }
}

fn int_like(key: &str, value: &Value) -> Result<i64, JobError> {
    match value {
        Value::Int(i) => Ok(*i),
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Float(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(f.trunc() as i64),
        other => Err(JobError::InvalidSchedule(format!(
            "{key} is not an integer rqs can use: {}",
            shown(other)
        ))),
    }
}

/// Reads an interval as Python's arithmetic would use it: a finite number of seconds.
fn seconds_like(key: &str, value: &Value) -> Result<f64, JobError> {
    let seconds = match value {
        Value::Int(i) => *i as f64,
        Value::Bool(b) => f64::from(u8::from(*b)),
        Value::Float(f) => *f,
        other => {
            return Err(JobError::InvalidSchedule(format!(
                "{key} is not a number rqs can use: {}",
                shown(other)
            )));
        }
    };
    if seconds.is_finite() && seconds.abs() < 1e15 {
        Ok(seconds)
    } else {
        Err(JobError::InvalidSchedule(format!(
            "{key} {seconds} is not a usable number of seconds"
        )))
    }
}

/// Python truthiness of the simple values rq-scheduler writes.
fn truthy(key: &str, value: Option<&Value>) -> Result<bool, JobError> {
    Ok(match value {
        None | Some(Value::None) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Int(i)) => *i != 0,
        Some(Value::Float(f)) => *f != 0.0,
        Some(Value::Str(s)) => !s.is_empty(),
        Some(other) => {
            return Err(JobError::InvalidSchedule(format!(
                "{key} is not a boolean: {}",
                shown(other)
            )));
        }
    })
}

/// What a hand-off does to a job's schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulePlan {
    /// The new meta, when `repeat` changes.
    pub meta: Option<MetaUpdate>,
    /// The next due time (Unix seconds); `None` removes the job from the schedule.
    pub next: Option<f64>,
    /// Things worth a log line (an exhausted cron, an unsupported queue class).
    pub notes: Vec<String>,
}

/// Plans the schedule side of a hand-off at `now`.
///
/// # Errors
/// Whatever [`ScheduleMeta::read`] or the `repeat` patch reports; the job should then be
/// quarantined.
pub fn plan_schedule(
    meta: Option<&[u8]>,
    now: DateTime<Utc>,
    local: &LocalZone,
) -> Result<SchedulePlan, JobError> {
    let parsed = ScheduleMeta::read(meta)?;
    let mut notes = Vec::new();
    if let Some(class) = &parsed.queue_class
        && !matches!(class.as_str(), "rq.Queue" | "rq.queue.Queue")
    {
        notes.push(format!(
            "queue_class_name {class:?} is a Python class; rqs enqueues as rq.Queue does"
        ));
    }

    let mut remaining = parsed.repeat;
    let mut meta_update = None;
    if let (Some(count), Some(bytes)) = (parsed.repeat, meta)
        && count != 0
    {
        let new_count = count.checked_sub(1).ok_or_else(|| {
            JobError::InvalidSchedule(format!("repeat {count} cannot be decremented"))
        })?;
        let new = rqs_pickle::set_int(bytes, "repeat", new_count)
            .map_err(|e| JobError::MetaUnreadable(format!("cannot patch repeat: {e}")))?;
        meta_update = Some(MetaUpdate {
            expected: MetaGuard::of(Some(bytes)),
            new,
        });
        remaining = Some(new_count);
    }

    let exhausted = remaining == Some(0);
    let next = match &parsed.recurrence {
        Recurrence::Once => None,
        _ if exhausted => None,
        Recurrence::Interval { seconds } => {
            let base = time::floor_seconds(now) as f64;
            let mut next = base + seconds;
            // Never due again under the bound this hand-off was read with.
            if next <= base {
                next = base + 1.0;
            }
            // A sub-second interval runs about once a second: Python's score, a whole
            // second later when it would fall due much less than a second from now (a
            // hand-off late in its second). The slack lets a hand-off a few milliseconds
            // past its second keep the next second.
            if *seconds < 1.0 && next.ceil() < time::unix_seconds(now) + 1.0 - SUB_SECOND_SLACK {
                next += 1.0;
            }
            Some(next)
        }
        Recurrence::Cron {
            expr,
            text,
            local: true,
        } => next_cron(text, local.next(expr, now), &mut notes),
        Recurrence::Cron {
            expr,
            text,
            local: false,
        } => next_cron(text, expr.next_in(now, &Utc), &mut notes),
    };
    Ok(SchedulePlan {
        meta: meta_update,
        next,
        notes,
    })
}

fn next_cron(text: &str, next: Option<DateTime<Utc>>, notes: &mut Vec<String>) -> Option<f64> {
    match next {
        Some(at) => Some(time::floor_seconds(at) as f64),
        None => {
            notes.push(format!(
                "cron {text:?} has no future match: this run is the last, the job leaves the schedule"
            ));
            None
        }
    }
}

/// Something worth logging about one decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The job id.
    pub job_id: JobId,
    /// The message.
    pub message: String,
}

/// Decides the hand-off of one due job.
///
/// `prepare` is the queue sink's description of the enqueue. A missing hash (or one without
/// `data`) is unscheduled, as rq-scheduler does; anything unreadable is quarantined.
pub fn decide<F>(
    job: &ScheduledJob,
    now: DateTime<Utc>,
    local: &LocalZone,
    prepare: F,
) -> (HandOff, Vec<Note>)
where
    F: FnOnce(&ScheduledJob) -> Result<Enqueue, JobError>,
{
    let note = |message: String| Note {
        job_id: job.id.clone(),
        message,
    };
    let handoff = |action| HandOff {
        job_id: job.id.clone(),
        read_score: job.score,
        action,
    };
    let Some(hash) = job.hash.as_ref().filter(|h| h.has_data()) else {
        let reason = match (&job.hash, &job.key_type) {
            (_, Some(kind)) => format!("job key is a {kind}, not a hash"),
            (None, None) => "job hash is missing".to_owned(),
            (Some(_), None) => "job hash has no data field".to_owned(),
        };
        return (
            handoff(Action::Unschedule {
                reason: reason.clone(),
            }),
            vec![note(format!("{reason}: removed from the schedule"))],
        );
    };
    let planned = match job.oversized {
        Some(bytes) => Err(JobError::TooLarge {
            bytes,
            limit: MAX_META_BYTES,
        }),
        None => plan_schedule(hash.meta(), now, local).and_then(|plan| Ok((plan, prepare(job)?))),
    };
    match planned {
        Ok((plan, enqueue)) => {
            let notes = plan.notes.into_iter().map(note).collect();
            (
                handoff(Action::Enqueue {
                    enqueue: Box::new(enqueue),
                    meta: plan.meta,
                    next: plan.next,
                }),
                notes,
            )
        }
        Err(e) => {
            let reason = e.to_string();
            (
                handoff(Action::Quarantine {
                    kind: e.quarantine_kind(),
                    reason: reason.clone(),
                    at: time::floor_seconds(now),
                }),
                vec![note(format!("quarantined: {reason}"))],
            )
        }
    }
}

/// How much less than a second apart two hand-offs of a sub-second interval job may be:
/// hand-offs come a little after their due second, so a strict second would make the job
/// skip every other second.
pub const SUB_SECOND_SLACK: f64 = 0.1;

/// The largest hand-off fields (a meta, in practice) one job may have: 512 KiB. A store
/// leaves out larger ones ([`ScheduledJob::oversized`]) and the job is quarantined, so
/// that memory stays bounded by bytes, and no script holds Redis for long (moving
/// megabytes through a Lua script costs Redis milliseconds per megabyte).
pub const MAX_META_BYTES: u64 = 512 * 1024;

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::JobHash;
    use crate::QuarantineKind;
    use crate::handoff::EnqueueOptions;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // Metas exactly as rq-scheduler 0.14 pickles them (rq-wire-format.md §2d).
    const INTERVAL_60_REPEAT_5: &str =
        "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b05752e";
    const INTERVAL_60_REPEAT_4: &str =
        "8005951d000000000000007d94288c08696e74657276616c944b3c8c06726570656174944b04752e";
    const INTERVAL_600: &str = "80059512000000000000007d948c08696e74657276616c944d5802732e";
    const CRON_EVERY_5: &str = "80059537000000000000007d94288c0b63726f6e5f737472696e67948c0b2a2f35202a202a202a202a948c127573655f6c6f63616c5f74696d657a6f6e659489752e";
    const CRON_LOCAL_REPEAT_3: &str = "80059542000000000000007d94288c0b63726f6e5f737472696e67948c0b2a2f35202a202a202a202a948c127573655f6c6f63616c5f74696d657a6f6e6594888c06726570656174944b03752e";
    const USER_META: &str = "80059514000000000000007d948c056f776e6572948c05616c69636594732e";

    fn at(secs: i64, nanos: u32) -> DateTime<Utc> {
        Utc.timestamp_opt(secs, nanos).unwrap()
    }

    fn plan(meta: Option<&str>, now: DateTime<Utc>) -> Result<SchedulePlan, JobError> {
        let bytes = meta.map(hex);
        plan_schedule(bytes.as_deref(), now, &LocalZone::Named(chrono_tz::UTC))
    }

    /// A pickled dict written like CPython's protocol 2 for small ints and short strings.
    fn pickled(pairs: &[(&str, i64)]) -> Vec<u8> {
        let mut out = vec![0x80, 2, b'}', b'('];
        for (k, v) in pairs {
            out.push(b'X');
            out.extend((k.len() as u32).to_le_bytes());
            out.extend(k.as_bytes());
            out.push(b'J');
            out.extend((*v as i32).to_le_bytes());
        }
        out.extend([b'u', b'.']);
        out
    }

    /// A pickled dict of str values, written like CPython's protocol 2.
    fn pickled_strs(pairs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = vec![0x80, 2, b'}', b'('];
        for text in pairs.iter().flat_map(|(k, v)| [k, v]) {
            out.push(b'X');
            out.extend((text.len() as u32).to_le_bytes());
            out.extend(text.as_bytes());
        }
        out.extend([b'u', b'.']);
        out
    }

    #[test]
    fn one_off_jobs_leave_the_schedule_and_keep_their_meta() {
        let p = plan(None, at(100, 0)).unwrap();
        assert_eq!((p.meta, p.next), (None, None));
        let p = plan(Some(USER_META), at(100, 0)).unwrap();
        assert_eq!((p.meta, p.next), (None, None));
    }

    #[test]
    fn interval_is_rearmed_from_floor_now() {
        let p = plan(Some(INTERVAL_600), at(1_000, 999_000_000)).unwrap();
        assert_eq!(p.next, Some(1_600.0));
        assert_eq!(p.meta, None, "no repeat: the meta is not rewritten");
    }

    #[test]
    fn repeat_is_decremented_with_the_exact_python_bytes() {
        let p = plan(Some(INTERVAL_60_REPEAT_5), at(1_000, 0)).unwrap();
        let update = p.meta.unwrap();
        assert_eq!(update.expected, MetaGuard::Exact(hex(INTERVAL_60_REPEAT_5)));
        assert_eq!(update.new, hex(INTERVAL_60_REPEAT_4));
        assert_eq!(p.next, Some(1_060.0));
    }

    #[test]
    fn repeat_counts_runs_like_rq_scheduler() {
        // repeat=1: this is the last run.
        let last = pickled(&[("interval", 60), ("repeat", 1)]);
        let p = plan_schedule(Some(&last), at(10, 0), &LocalZone::System).unwrap();
        assert_eq!(p.next, None);
        let after = Meta::parse(&p.meta.unwrap().new).unwrap();
        assert_eq!(after.get("repeat"), Some(&Value::Int(0)));
        // repeat=0 from the start: runs once, never decremented.
        let zero = pickled(&[("interval", 60), ("repeat", 0)]);
        let p = plan_schedule(Some(&zero), at(10, 0), &LocalZone::System).unwrap();
        assert_eq!((p.meta, p.next), (None, None));
        // A negative repeat never reaches 0.
        let forever = pickled(&[("interval", 60), ("repeat", -1)]);
        let p = plan_schedule(Some(&forever), at(10, 0), &LocalZone::System).unwrap();
        assert_eq!(p.next, Some(70.0));
        let after = Meta::parse(&p.meta.unwrap().new).unwrap();
        assert_eq!(after.get("repeat"), Some(&Value::Int(-2)));
        // A truthy repeat without interval is decremented too, as Python does.
        let odd = pickled(&[("repeat", 3)]);
        let p = plan_schedule(Some(&odd), at(10, 0), &LocalZone::System).unwrap();
        assert_eq!(p.next, None);
        assert!(p.meta.is_some());
    }

    /// A pickled dict of float values, written like CPython's protocol 2.
    fn pickled_floats(pairs: &[(&str, f64)]) -> Vec<u8> {
        let mut out = vec![0x80, 2, b'}', b'('];
        for (k, v) in pairs {
            out.push(b'X');
            out.extend((k.len() as u32).to_le_bytes());
            out.extend(k.as_bytes());
            out.push(b'G');
            out.extend(v.to_be_bytes());
        }
        out.extend([b'u', b'.']);
        out
    }

    #[test]
    fn unusable_values_are_named_in_words_not_debug_text() {
        let now = at(1_800_000_000, 0);
        // {'interval': 2**100}: LONG1 with 13 bytes.
        let mut big = vec![0x80, 2, b'}', b'(', b'X'];
        big.extend(8u32.to_le_bytes());
        big.extend(b"interval");
        big.extend([0x8a, 13]);
        big.extend([0u8; 12]);
        big.push(16);
        big.extend([b'u', b'.']);
        let e = plan_schedule(Some(&big), now, &LocalZone::System).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("an integer of 13 bytes, too large"), "{text}");
        assert!(!text.contains("BigInt") && !text.contains('['), "{text}");
    }

    #[test]
    fn a_sub_second_interval_is_never_dropped_nor_due_again_at_once() {
        let now = at(1_800_000_000, 700_000_000);
        // Python re-arms at floor(now) + 0.5, due at the next whole second, 0.3 s from
        // now: rqs keeps the fraction a second later, so it runs about once a second.
        let half = pickled_floats(&[("interval", 0.5)]);
        let p = plan_schedule(Some(&half), now, &LocalZone::System).unwrap();
        assert_eq!(p.next, Some(1_800_000_001.5));
        // Handed over just after its second: Python's score, due at the next, is kept,
        // so the job runs every second.
        let on_time = at(1_800_000_000, 3_000_000);
        let p = plan_schedule(Some(&half), on_time, &LocalZone::System).unwrap();
        assert_eq!(p.next, Some(1_800_000_000.5));
        // Too small to move the score: the next whole second, and at least a second on.
        let tiny = pickled_floats(&[("interval", 1e-12)]);
        let p = plan_schedule(Some(&tiny), now, &LocalZone::System).unwrap();
        assert_eq!(p.next, Some(1_800_000_002.0));
        for millis in [0, 1, 250, 500, 999] {
            let now = at(1_800_000_000, millis * 1_000_000);
            for meta in [&half, &tiny] {
                let next = plan_schedule(Some(meta), now, &LocalZone::System)
                    .unwrap()
                    .next
                    .unwrap();
                let due = next.ceil();
                assert!(
                    due >= time::unix_seconds(now) + 1.0 - SUB_SECOND_SLACK,
                    "handed over at +{millis} ms, due again at {due}"
                );
            }
        }
        // Fractions are kept, as in Python.
        let odd = pickled_floats(&[("interval", 90.25)]);
        let p = plan_schedule(Some(&odd), now, &LocalZone::System).unwrap();
        assert_eq!(p.next, Some(1_800_000_090.25));
        for bad in [f64::NAN, f64::INFINITY, -0.5] {
            let meta = pickled_floats(&[("interval", bad)]);
            assert!(
                plan_schedule(Some(&meta), now, &LocalZone::System).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_oversized_job_is_quarantined_without_being_read() {
        let now = at(1_000, 0);
        let mut job = ScheduledJob::new(
            "big",
            990.0,
            Some(JobHash::from_pairs([("data", "x"), ("origin", "q")])),
        );
        job.oversized = Some(MAX_META_BYTES + 1);
        let (h, notes) = decide(&job, now, &LocalZone::System, |_| {
            panic!("an oversized job is not prepared")
        });
        assert!(
            matches!(&h.action, Action::Quarantine { kind: crate::QuarantineKind::TooLarge, reason, .. } if reason.contains(&format!("{} bytes", MAX_META_BYTES + 1))),
            "{:?}",
            h.action
        );
        assert!(notes[0].message.contains("quarantined"));
    }

    #[test]
    fn cron_is_rearmed_at_the_next_match_after_now() {
        let p = plan(Some(CRON_EVERY_5), at(1_800_000_000, 0)).unwrap();
        // 1_800_000_000 is 2027-01-15 08:00:00 UTC: strictly after it comes 08:05.
        assert_eq!(p.next, Some(1_800_000_300.0));
        assert_eq!(p.meta, None);
        let berlin = LocalZone::Named(chrono_tz::Europe::Berlin);
        let p = plan_schedule(
            Some(&hex(CRON_LOCAL_REPEAT_3)),
            at(1_800_000_000, 0),
            &berlin,
        )
        .unwrap();
        assert_eq!(
            p.next,
            Some(1_800_000_300.0),
            "*/5 is the same in every whole-hour zone"
        );
        assert!(p.meta.is_some());
    }

    #[test]
    fn an_exhausted_cron_runs_once_more_and_leaves() {
        let meta = pickled_strs(&[("cron_string", "0 0 1 1 * 2020")]);
        let p = plan_schedule(Some(&meta), at(1_800_000_000, 0), &LocalZone::System).unwrap();
        assert_eq!(p.next, None);
        assert!(p.notes[0].contains("no future match"), "{:?}", p.notes);
    }

    #[test]
    fn unusable_meta_is_an_error() {
        for (meta, needle) in [
            (b"{\"interval\": 60}".to_vec(), "JSON"),
            (b"\x80\x05not a pickle".to_vec(), "pickle"),
            (pickled(&[("interval", -5)]), "negative"),
        ] {
            let err = plan_schedule(Some(&meta), at(0, 0), &LocalZone::System).unwrap_err();
            assert!(err.to_string().contains(needle), "{err}");
        }
        let bad_cron = pickled_strs(&[("cron_string", "61 * * * *!")]);
        let err = plan_schedule(Some(&bad_cron), at(0, 0), &LocalZone::System).unwrap_err();
        assert!(matches!(err, JobError::Cron { .. }), "{err}");
    }

    #[test]
    fn decide_turns_each_job_into_one_guarded_handoff() {
        let now = at(1_000, 0);
        let prepare = |j: &ScheduledJob| Enqueue::for_job(j, now, &EnqueueOptions::default());
        let job = |hash: Option<JobHash>| ScheduledJob::new("j", 990.0, hash);
        let (h, notes) = decide(&job(None), now, &LocalZone::System, prepare);
        assert!(matches!(h.action, Action::Unschedule { .. }));
        assert_eq!(h.read_score, 990.0);
        assert!(notes[0].message.contains("missing"));

        let no_data = JobHash::from_pairs([("origin", "q")]);
        let (h, _) = decide(&job(Some(no_data)), now, &LocalZone::System, prepare);
        assert!(matches!(h.action, Action::Unschedule { .. }));

        let periodic = JobHash::from_pairs([
            ("data", b"x".to_vec()),
            ("origin", b"q".to_vec()),
            ("meta", hex(INTERVAL_60_REPEAT_5)),
        ]);
        let (h, notes) = decide(&job(Some(periodic)), now, &LocalZone::System, prepare);
        match h.action {
            Action::Enqueue {
                enqueue,
                meta,
                next,
            } => {
                assert_eq!(enqueue.queue, "q");
                assert_eq!(meta.unwrap().new, hex(INTERVAL_60_REPEAT_4));
                assert_eq!(next, Some(1_060.0));
            }
            other => panic!("{other:?}"),
        }
        assert!(notes.is_empty());

        let bad =
            JobHash::from_pairs([("data", "x"), ("origin", "q"), ("enqueue_at_front", "yes")]);
        let (h, notes) = decide(&job(Some(bad)), now, &LocalZone::System, prepare);
        assert!(
            matches!(&h.action, Action::Quarantine { reason, at: 1_000, kind: QuarantineKind::InvalidField } if reason.contains("enqueue_at_front"))
        );
        assert!(notes[0].message.starts_with("quarantined"));
    }

    #[test]
    fn a_python_queue_class_is_noted() {
        let meta = "80059528000000000000007d948c1071756575655f636c6173735f6e616d65948c0e72712e71756575652e517565756594732e";
        let p = plan(Some(meta), at(0, 0)).unwrap();
        assert!(p.notes.is_empty(), "rq.queue.Queue is what rqs does anyway");
        let custom = pickled_strs(&[("queue_class_name", "app.Queue")]);
        let p = plan_schedule(Some(&custom), at(0, 0), &LocalZone::System).unwrap();
        assert!(p.notes[0].contains("app.Queue"), "{:?}", p.notes);
    }
}

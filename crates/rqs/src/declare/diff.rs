//! Comparing a file with Redis: the plan `rqs plan` prints and `rqs apply` writes.
//!
//! Only the set's own record is compared, declaration against declaration: the jobs'
//! hashes change with every run (status, repeats left), and a plan must not flap with
//! them.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rqs_client::Prepared;
use rqs_redis::{DeclaredOp, DeclaredState, Seen};
use serde_json::Value as Json;

use super::file::ScheduleFile;
use super::{Declaration, FIELDS, Timing};

/// Fields a job's runs write (RQ's worker, the scheduler): a change of declaration
/// leaves them as they are.
const RUN_STATE: [&str; 8] = [
    "created_at",
    "status",
    "started_at",
    "ended_at",
    "last_heartbeat",
    "worker_name",
    "group_id",
    "stopped_callback_name",
];

/// Fields the client writes only for some jobs: a declaration without them deletes them.
const OPTIONAL: [&str; 9] = [
    "timeout",
    "success_callback_timeout",
    "failure_callback_timeout",
    "result_ttl",
    "dependency_id",
    "dependency_ids",
    "meta",
    "ttl",
    "enqueue_at_front",
];

/// Who a job belongs to, when it is not this set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Owner {
    /// Scheduled, but no set declared it: application code did.
    Nobody,
    /// Another set.
    Set(String),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Nobody => f.write_str("application code (no set)"),
            Owner::Set(s) => write!(f, "set {s:?}"),
        }
    }
}

/// What happens to a job's next run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Next {
    /// It stays where it is.
    Keeps(f64),
    /// It moves (or is set for the first time).
    Moves { from: Option<f64>, to: f64 },
    /// It has none and gets none (a one-off that ran).
    None,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FieldChange {
    pub(crate) name: &'static str,
    pub(crate) old: Option<Json>,
    pub(crate) new: Option<Json>,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Change {
    /// `+`: a new job (or a declared periodic job missing from the schedule).
    Add {
        id: String,
        decl: Declaration,
        next: Next,
        missing: bool,
    },
    /// `~`: a declared job whose declaration changed.
    Update {
        id: String,
        fields: Vec<FieldChange>,
        next: Next,
    },
    /// `~` with `--adopt`: a job scheduled outside the set, taken over.
    Adopt {
        id: String,
        from: Owner,
        decl: Declaration,
        next: Next,
    },
    /// `-`: a job the set declared and the file no longer does.
    Remove {
        id: String,
        decl: Option<Declaration>,
        next: Option<f64>,
    },
}

/// A declared id taken already, refused without `--adopt`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Conflict {
    pub(crate) id: String,
    pub(crate) line: usize,
    pub(crate) owner: Owner,
}

/// What `apply` would do.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) set: String,
    pub(crate) changes: Vec<Change>,
    pub(crate) ops: Vec<DeclaredOp>,
    pub(crate) conflicts: Vec<Conflict>,
    pub(crate) unchanged: usize,
}

/// Counts by kind, for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub(crate) struct Summary {
    pub(crate) add: usize,
    pub(crate) change: usize,
    pub(crate) adopt: usize,
    pub(crate) remove: usize,
    pub(crate) unchanged: usize,
    pub(crate) conflicts: usize,
}

impl Plan {
    pub(crate) fn summary(&self) -> Summary {
        let mut s = Summary {
            unchanged: self.unchanged,
            conflicts: self.conflicts.len(),
            ..Summary::default()
        };
        for c in &self.changes {
            match c {
                Change::Add { .. } => s.add += 1,
                Change::Update { .. } => s.change += 1,
                Change::Adopt { .. } => s.adopt += 1,
                Change::Remove { .. } => s.remove += 1,
            }
        }
        s
    }

    /// Whether applying it would write anything.
    pub(crate) fn has_changes(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// The plan that makes `set` in Redis match `file`, at `now`.
pub(crate) fn plan(
    file: &ScheduleFile,
    set: &str,
    state: &DeclaredState,
    now: DateTime<Utc>,
    adopt: bool,
) -> Result<Plan, String> {
    let mut plan = Plan {
        set: set.to_owned(),
        changes: Vec::new(),
        ops: Vec::new(),
        conflicts: Vec::new(),
        unchanged: 0,
    };
    let mut declared = HashSet::with_capacity(file.jobs.len());
    for job in &file.jobs {
        let id = job.id.as_str();
        declared.insert(id);
        let new = &job.decl;
        let score = state.scores.get(id).copied();
        let recorded = state.recorded.get(id);
        let owner = state.owners.get(id).cloned();
        let seen = Seen {
            record: recorded.cloned(),
            owner: owner.clone(),
            scheduled: score.is_some(),
            meta: None,
        };
        let forever = new.timing.periodic() && new.repeat.is_none();
        let prepare = || new.prepare(id, now).map_err(|e| format!("job {id:?}: {e}"));
        if let Some(text) = recorded {
            let old = Declaration::from_record(text);
            if old.as_ref() == Some(new) {
                if score.is_none() && forever {
                    // Cancelled by hand, or lost: a declared periodic job runs.
                    let prepared = prepare()?;
                    let next = Next::Moves {
                        from: None,
                        to: prepared.score,
                    };
                    plan.ops
                        .push(put(id, seen, new, &prepared, true, Some(prepared.score)));
                    plan.changes.push(Change::Add {
                        id: id.to_owned(),
                        decl: new.clone(),
                        next,
                        missing: true,
                    });
                } else {
                    plan.unchanged += 1;
                }
                continue;
            }
            let timing_changed = old.as_ref().is_none_or(|o| o.timing != new.timing);
            let repeat_changed = old.as_ref().is_none_or(|o| o.repeat != new.repeat);
            let mut prepared = prepare()?;
            let next = match score {
                Some(s) if !timing_changed => Next::Keeps(s),
                Some(s) => Next::Moves {
                    from: Some(s),
                    to: prepared.score,
                },
                None if timing_changed || forever => Next::Moves {
                    from: None,
                    to: prepared.score,
                },
                None => Next::None,
            };
            let mut seen = seen;
            // Runs left count down in the job's meta: a change that keeps the schedule
            // and the repeat keeps the count.
            if !timing_changed && !repeat_changed && new.repeat.is_some() && score.is_some() {
                let live = state.metas.get(id).cloned().flatten();
                if let (Some(left), Some(meta)) =
                    (live.as_deref().and_then(repeats_left), prepared.hash.meta())
                {
                    let kept = rqs_pickle::set_int(meta, "repeat", left)
                        .map_err(|e| format!("job {id:?}: {e}"))?;
                    prepared.hash.set("meta", kept);
                }
                seen.meta = Some(live);
            }
            let score_after = match next {
                Next::Moves { to, .. } => Some(to),
                Next::Keeps(_) | Next::None => None,
            };
            plan.ops
                .push(put(id, seen, new, &prepared, false, score_after));
            plan.changes.push(Change::Update {
                id: id.to_owned(),
                fields: field_changes(old.as_ref(), new),
                next,
            });
            continue;
        }
        let taken = match (&owner, score) {
            (Some(o), _) if o != set => Some(Owner::Set(o.clone())),
            (_, Some(_)) if owner.is_none() => Some(Owner::Nobody),
            _ => None,
        };
        let prepared = prepare()?;
        match taken {
            Some(from) if !adopt => plan.conflicts.push(Conflict {
                id: id.to_owned(),
                line: job.line,
                owner: from,
            }),
            Some(from) => {
                let live = state.metas.get(id).cloned().flatten();
                let next = match score {
                    Some(s) if same_timing(live.as_deref(), s, &new.timing) => Next::Keeps(s),
                    from_score => Next::Moves {
                        from: from_score,
                        to: prepared.score,
                    },
                };
                plan.ops.push(put(
                    id,
                    seen,
                    new,
                    &prepared,
                    false,
                    match next {
                        Next::Moves { to, .. } => Some(to),
                        _ => None,
                    },
                ));
                plan.changes.push(Change::Adopt {
                    id: id.to_owned(),
                    from,
                    decl: new.clone(),
                    next,
                });
            }
            None => {
                plan.ops
                    .push(put(id, seen, new, &prepared, true, Some(prepared.score)));
                plan.changes.push(Change::Add {
                    id: id.to_owned(),
                    decl: new.clone(),
                    next: Next::Moves {
                        from: None,
                        to: prepared.score,
                    },
                    missing: false,
                });
            }
        }
    }
    let mut gone: Vec<(&String, &String)> = state
        .recorded
        .iter()
        .filter(|(id, _)| !declared.contains(id.as_str()))
        .collect();
    gone.sort();
    for (id, text) in gone {
        plan.ops.push(DeclaredOp::Remove {
            id: id.clone(),
            seen: Seen {
                record: Some(text.clone()),
                owner: Some(set.to_owned()),
                scheduled: state.scores.contains_key(id),
                meta: None,
            },
        });
        plan.changes.push(Change::Remove {
            id: id.clone(),
            decl: Declaration::from_record(text),
            next: state.scores.get(id).copied(),
        });
    }
    Ok(plan)
}

/// The write for one job: every field for a new job, the declared ones for a job that
/// has run before.
fn put(
    id: &str,
    seen: Seen,
    decl: &Declaration,
    prepared: &Prepared,
    fresh: bool,
    score: Option<f64>,
) -> DeclaredOp {
    let fields: Vec<(String, Vec<u8>)> = prepared
        .hash
        .iter()
        .filter(|(k, _)| fresh || !RUN_STATE.contains(k))
        .map(|(k, v)| (k.to_owned(), v.to_vec()))
        .collect();
    let drop = OPTIONAL
        .iter()
        .filter(|k| prepared.hash.get(k).is_none())
        .map(|k| (*k).to_owned())
        .collect();
    DeclaredOp::Put {
        id: id.to_owned(),
        seen,
        record: decl.record(),
        fields,
        drop,
        score,
    }
}

fn repeats_left(meta: &[u8]) -> Option<i64> {
    rqs_core::plan::ScheduleMeta::read(Some(meta)).ok()?.repeat
}

/// Whether a scheduled job already runs on `timing` (an adopted job that does keeps its
/// next run).
fn same_timing(meta: Option<&[u8]>, score: f64, timing: &Timing) -> bool {
    use rqs_core::plan::{Recurrence, ScheduleMeta};
    let Ok(live) = ScheduleMeta::read(meta) else {
        return false;
    };
    match (&live.recurrence, timing) {
        (Recurrence::Cron { text, local, .. }, Timing::Cron { expr, local: l }) => {
            text == expr && local == l
        }
        (Recurrence::Interval { seconds: s }, Timing::Interval { seconds }) => {
            *s == *seconds as f64
        }
        (Recurrence::Once, Timing::At { unix }) => score == *unix as f64,
        _ => false,
    }
}

/// Field by field, in [`FIELDS`] order; every field when the old record is unreadable.
fn field_changes(old: Option<&Declaration>, new: &Declaration) -> Vec<FieldChange> {
    FIELDS
        .iter()
        .filter_map(|name| {
            let (o, n) = (old.and_then(|d| d.field(name)), new.field(name));
            (o != n || old.is_none()).then_some(FieldChange {
                name,
                old: o,
                new: n,
            })
        })
        .filter(|c| c.old.is_some() || c.new.is_some())
        .collect()
}

//! The file reader and the plan, without Redis (the commands' tests in tests/ops run
//! them against a private Redis).

use std::collections::HashMap;

use chrono::{DateTime, TimeZone, Utc};
use rqs_redis::{DeclaredOp, DeclaredState};
use serde_json::json;

use super::diff::{self, Change, Next, Owner};
use super::file::{self, ScheduleFile};
use super::{Declaration, Timing, export};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 7, 12, 0, 30).unwrap()
}

fn parse(text: &str) -> ScheduleFile {
    file::parse("s.toml", text, now()).unwrap_or_else(|e| panic!("{e}"))
}

fn errors(text: &str) -> Vec<String> {
    file::parse("s.toml", text, now()).unwrap_err().0
}

const FILE: &str = r#"
[defaults]
queue = "reports"
timeout = "10m"
meta = { team = "data" }

[[job]]
id = "daily"
func = "tasks.daily"
cron = "0 6 * * *"
args = ["eu", 3, 1.5, [1, { "$bytes" = "00ff" }], { "$tuple" = [1, "x"] }]
kwargs = { dry = false, none = { "$none" = true } }

[[job]]
id = "cleanup"
func = "tasks.cleanup"
interval = "5m"
repeat = 10
queue = "default"
meta = { owner = "ops" }

[[job]]
id = "launch"
func = "tasks.launch"
at = 2030-01-01T09:00:00Z
result_ttl = 600
ttl = 300
description = "the launch"
"#;

#[test]
fn a_file_reads_with_its_defaults() {
    let f = parse(FILE);
    assert_eq!(f.set, None);
    let ids: Vec<&str> = f.jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["daily", "cleanup", "launch"]);
    assert_eq!(
        f.jobs.iter().map(|j| j.line).collect::<Vec<_>>(),
        [7, 14, 22]
    );
    let daily = &f.jobs[0].decl;
    assert_eq!(daily.queue, "reports");
    assert_eq!(daily.timeout, Some(600));
    assert_eq!(daily.meta.get("team"), Some(&json!("data")));
    assert_eq!(
        daily.timing,
        Timing::Cron {
            expr: "0 6 * * *".into(),
            local: false
        }
    );
    assert_eq!(daily.args[3], json!([1, {"$bytes": "00ff"}]));
    assert_eq!(daily.kwargs.get("none"), Some(&json!(null)));
    let cleanup = &f.jobs[1].decl;
    assert_eq!(cleanup.queue, "default");
    assert_eq!(cleanup.timing, Timing::Interval { seconds: 300 });
    assert_eq!(cleanup.repeat, Some(10));
    // The job's meta is merged over the defaults'.
    assert_eq!(cleanup.meta.len(), 2);
    let launch = &f.jobs[2].decl;
    assert_eq!(
        launch.timing,
        Timing::At {
            unix: 1_893_488_400
        }
    );
    assert_eq!((launch.result_ttl, launch.ttl), (Some(600), Some(300)));
    // A record reads back as the same declaration.
    for j in &f.jobs {
        assert_eq!(
            Declaration::from_record(&j.decl.record()).as_ref(),
            Some(&j.decl)
        );
    }
}

#[test]
fn every_problem_is_reported_with_its_line_and_column() {
    let text = r#"[[job]]
id = "a"
func = "tasks.a"
cron = "61 * * * *"

[[job]]
id = "a"
func = "tasks.b"
interval = "5x"

[[job]]
id = "c"
func = "tasks.c"
cron = "* * * * *"
interval = 5

[[job]]
id = "d"
func = "tasks.d"
at = 2030-01-01T00:00:00

[[job]]
id = "e"
func = "tasks.e"
interval = 5
meta = { repeat = 1 }

[[job]]
id = "f"
func = "not a path"
at = 2030-01-01T00:00:00Z
repeat = 2
"#;
    let found = errors(text);
    let expected = [
        "s.toml:4:8: job \"a\": invalid cron string",
        "s.toml:7:6: job \"a\" is declared twice (first on line 1)",
        "s.toml:9:12: job \"a\": interval \"5x\" is not a duration",
        "s.toml:11:1: job \"c\": has cron and interval",
        "s.toml:20:6: job \"d\": at 2030-01-01T00:00:00 needs a date, a time and a UTC offset",
        "s.toml:26:8: job \"e\": meta key \"repeat\" is rq-scheduler's own",
        "s.toml:32:10: job \"f\": repeat goes with cron or interval",
    ];
    assert_eq!(found.len(), expected.len(), "{found:#?}");
    for (got, want) in found.iter().zip(expected) {
        assert!(
            got.starts_with(want),
            "{got:?} does not start with {want:?}"
        );
    }
    // Unknown keys and wrong types come from the TOML reader, placed the same way.
    let unknown = errors("[[job]]\nid = \"x\"\nfunc = \"a.b\"\ncrn = \"* * * * *\"\n");
    assert!(
        unknown[0].starts_with("s.toml:4:1: unknown field `crn`"),
        "{unknown:?}"
    );
    let typed = errors("[[job]]\nid = \"x\"\nfunc = \"a.b\"\ninterval = 5\nrepeat = \"3\"\n");
    assert!(
        typed[0].starts_with("s.toml:5:10: invalid type"),
        "{typed:?}"
    );
    let none =
        errors("[[job]]\nid = \"x\"\nfunc = \"a.b\"\ninterval = 5\nargs = [{ \"$none\" = 1 }]\n");
    assert!(
        none[0].starts_with("s.toml:5:8: job \"x\": args:"),
        "{none:?}"
    );
    assert!(errors("set = \"a b\"\n")[0].starts_with("s.toml:1:7: set name"));
    assert!(
        errors("[[job]]\nid = \"x\"\nfunc = \"a.b\"\n")[0]
            .contains("needs one of cron, interval or at")
    );
}

/// What Redis would hold after `plan` was applied, as a fresh state read would see it.
fn after(state: &DeclaredState, plan: &diff::Plan, set: &str) -> DeclaredState {
    let mut next = state.clone();
    for op in &plan.ops {
        match op {
            DeclaredOp::Put {
                id, record, score, ..
            } => {
                next.recorded.insert(id.clone(), record.clone());
                next.owners.insert(id.clone(), set.to_owned());
                if let Some(s) = score {
                    next.scores.insert(id.clone(), *s);
                }
            }
            DeclaredOp::Remove { id, .. } => {
                next.recorded.remove(id);
                next.owners.remove(id);
                next.scores.remove(id);
            }
        }
    }
    next
}

#[test]
fn applying_twice_changes_nothing_and_keeps_the_next_runs() {
    let f = parse(FILE);
    let empty = DeclaredState::default();
    let first = diff::plan(&f, "default", &empty, now(), false).unwrap();
    assert_eq!(first.summary().add, 3);
    assert!(
        first
            .changes
            .iter()
            .all(|c| matches!(c, Change::Add { missing: false, .. }))
    );
    let state = after(&empty, &first, "default");
    let second = diff::plan(
        &f,
        "default",
        &state,
        now() + chrono::TimeDelta::hours(1),
        false,
    )
    .unwrap();
    assert!(!second.has_changes(), "{:?}", second.changes);
    assert_eq!(second.unchanged, 3);
    assert!(second.ops.is_empty());
}

#[test]
fn the_three_kinds_of_change() {
    let f = parse(FILE);
    let state = after(
        &DeclaredState::default(),
        &diff::plan(&f, "default", &DeclaredState::default(), now(), false).unwrap(),
        "default",
    );
    let edited = FILE
        .replace("args = [\"eu\"", "args = [\"us\"")
        .replace("interval = \"5m\"", "interval = \"10m\"")
        .replace("ttl = 300\n", "");
    let plan = diff::plan(&parse(&edited), "default", &state, now(), false).unwrap();
    let by_id: HashMap<&str, &Change> = plan
        .changes
        .iter()
        .map(|c| match c {
            Change::Update { id, .. } => (id.as_str(), c),
            other => panic!("{other:?}"),
        })
        .collect();
    // Arguments only: the next run stays.
    let Change::Update { fields, next, .. } = by_id["daily"] else {
        unreachable!()
    };
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].name, "args");
    assert_eq!(*next, Next::Keeps(state.scores["daily"]));
    // The interval: the next run is computed from the new one.
    let Change::Update { fields, next, .. } = by_id["cleanup"] else {
        unreachable!()
    };
    assert_eq!(fields[0].name, "interval");
    assert_eq!(
        (fields[0].old.clone(), fields[0].new.clone()),
        (Some(json!(300)), Some(json!(600)))
    );
    assert_eq!(
        *next,
        Next::Moves {
            from: Some(state.scores["cleanup"]),
            to: (now().timestamp() + 600) as f64
        }
    );
    // An option removed: its field is deleted from the hash.
    let Change::Update { fields, .. } = by_id["launch"] else {
        unreachable!()
    };
    assert_eq!((fields[0].name, fields[0].new.clone()), ("ttl", None));
    let put = plan
        .ops
        .iter()
        .find_map(|op| match op {
            DeclaredOp::Put {
                id, drop, fields, ..
            } if id == "launch" => Some((drop, fields)),
            _ => None,
        })
        .unwrap();
    assert!(put.0.contains(&"ttl".to_owned()));
    // A changed job keeps what its runs wrote.
    assert!(
        put.1
            .iter()
            .all(|(k, _)| k != "status" && k != "created_at")
    );
}

#[test]
fn removal_conflicts_and_adoption() {
    let f = parse(FILE);
    let empty = DeclaredState::default();
    let state = after(
        &empty,
        &diff::plan(&f, "default", &empty, now(), false).unwrap(),
        "default",
    );
    let only_daily: String = FILE
        .split("[[job]]")
        .take(2)
        .collect::<Vec<_>>()
        .join("[[job]]");
    let plan = diff::plan(&parse(&only_daily), "default", &state, now(), false).unwrap();
    let removed: Vec<&str> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Remove { id, .. } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, ["cleanup", "launch"]);

    // The same ids in another set: every one is a conflict, without --adopt.
    let mut seen_by_other = state.clone();
    seen_by_other.recorded.clear();
    let other = diff::plan(&f, "other", &seen_by_other, now(), false).unwrap();
    assert_eq!(other.conflicts.len(), 3);
    assert!(other.ops.is_empty());
    assert_eq!(other.conflicts[0].owner, Owner::Set("default".into()));
    let adopted = diff::plan(&f, "other", &seen_by_other, now(), true).unwrap();
    assert_eq!(adopted.summary().adopt, 3);
    assert!(adopted.conflicts.is_empty());

    // A job application code scheduled (no owner): a conflict, and --adopt keeps its
    // next run when it already runs on the declared schedule.
    let app = ScheduleFile {
        jobs: vec![f.jobs[0].clone()],
        ..f.clone()
    };
    let prepared = app.jobs[0].decl.prepare("daily", now()).unwrap();
    let mut by_app = DeclaredState::default();
    by_app.scores.insert("daily".into(), 1_800_000_000.0);
    by_app
        .metas
        .insert("daily".into(), prepared.hash.meta().map(<[u8]>::to_vec));
    let refused = diff::plan(&app, "default", &by_app, now(), false).unwrap();
    assert_eq!(refused.conflicts[0].owner, Owner::Nobody);
    let taken = diff::plan(&app, "default", &by_app, now(), true).unwrap();
    assert!(
        matches!(taken.changes[0], Change::Adopt { next: Next::Keeps(s), .. } if s == 1_800_000_000.0)
    );
}

#[test]
fn a_declared_periodic_job_missing_from_the_schedule_is_added_again_a_one_off_that_ran_is_not() {
    let f = parse(FILE);
    let empty = DeclaredState::default();
    let mut state = after(
        &empty,
        &diff::plan(&f, "default", &empty, now(), false).unwrap(),
        "default",
    );
    state.scores.remove("daily");
    state.scores.remove("launch");
    state.scores.remove("cleanup");
    let plan = diff::plan(&f, "default", &state, now(), false).unwrap();
    let added: Vec<&str> = plan
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::Add {
                id, missing: true, ..
            } => Some(id.as_str()),
            _ => None,
        })
        .collect();
    // cleanup has a repeat count: its runs may be over.
    assert_eq!(added, ["daily"]);
    assert_eq!(plan.unchanged, 2);
}

#[test]
fn export_writes_a_file_that_reads_back_the_same() {
    let f = parse(FILE);
    let jobs: Vec<(String, Declaration)> = f
        .jobs
        .iter()
        .map(|j| (j.id.clone(), j.decl.clone()))
        .collect();
    let text = export::to_toml(
        "a header\nof two lines",
        Some("ops"),
        &jobs,
        &[("odd".into(), "it calls a method".into())],
    );
    let back = parse(&text);
    assert_eq!(back.set.as_deref(), Some("ops"));
    let again: Vec<(String, Declaration)> = back.jobs.into_iter().map(|j| (j.id, j.decl)).collect();
    assert_eq!(again, jobs);
    assert!(text.contains("# odd: it calls a method"));
    // And from the hash the client writes, as `export --all` reads it; containers are
    // beyond the pickle reader, and such a job is left out with the reason.
    for (id, decl) in &jobs {
        let prepared = decl.prepare(id, now()).unwrap();
        if id == "daily" {
            let why = export::from_hash(&prepared.hash, prepared.score).unwrap_err();
            assert!(
                why.contains("other than None, bool, int, float, str or bytes"),
                "{why}"
            );
            continue;
        }
        let read = export::from_hash(&prepared.hash, prepared.score).unwrap();
        let mut want = decl.clone();
        if let Timing::At { .. } = want.timing {
        } else {
            // A periodic job's result_ttl of -1 is rq-scheduler's default.
            want.result_ttl = want.result_ttl.filter(|t| *t != -1);
        }
        assert_eq!(&read, &want, "{id}");
    }
}

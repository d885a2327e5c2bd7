//! A plan for people (`+`, `~`, `-`, like a Terraform plan) and for pipelines (JSON).

use serde_json::{Value as Json, json};

use super::Declaration;
use super::diff::{Change, Next, Plan};
use crate::output::rfc3339;

/// What the summary line says was done or would be done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tense {
    /// `rqs plan`.
    Plan,
    /// `rqs apply`, after writing.
    Applied,
}

/// The plan as text, one job a block, then the summary line.
pub(crate) fn text(plan: &Plan, file: &str, tense: Tense) -> String {
    let mut out = String::new();
    for change in &plan.changes {
        match change {
            Change::Add {
                id,
                decl,
                next,
                missing,
            } => {
                let note = if *missing {
                    " (missing from the schedule)"
                } else {
                    ""
                };
                out.push_str(&format!("+ {id}{note}\n"));
                out.push_str(&format!("    {}\n", headline(decl)));
                out.push_str(&next_line(next));
            }
            Change::Update { id, fields, next } => {
                out.push_str(&format!("~ {id}\n"));
                for f in fields {
                    out.push_str(&format!(
                        "    {}: {} -> {}\n",
                        f.name,
                        shown(f.old.as_ref()),
                        shown(f.new.as_ref())
                    ));
                }
                out.push_str(&next_line(next));
            }
            Change::Adopt {
                id,
                from,
                decl,
                next,
            } => {
                out.push_str(&format!("~ {id} (adopted from {from})\n"));
                out.push_str(&format!("    {}\n", headline(decl)));
                out.push_str(&next_line(next));
            }
            Change::Remove { id, decl, next } => {
                out.push_str(&format!("- {id}\n"));
                if let Some(d) = decl {
                    out.push_str(&format!("    {}\n", headline(d)));
                }
                if let Some(s) = next {
                    out.push_str(&format!("    next run: {} -> none\n", rfc3339(*s)));
                }
            }
        }
    }
    for c in &plan.conflicts {
        out.push_str(&format!(
            "! {} ({file}, line {}): already scheduled by {}; --adopt takes it over\n",
            c.id, c.line, c.owner
        ));
    }
    let s = plan.summary();
    let (verb, add, change, adopt, remove) = match tense {
        Tense::Plan => ("Plan", "to add", "to change", "to adopt", "to remove"),
        Tense::Applied => ("Applied", "added", "changed", "adopted", "removed"),
    };
    out.push_str(&format!(
        "{verb} for set {:?} from {file}: {} {add}, {} {change}, {} {adopt}, {} {remove}, {} unchanged",
        plan.set, s.add, s.change, s.adopt, s.remove, s.unchanged
    ));
    if s.conflicts > 0 {
        out.push_str(&format!(", {} conflicting", s.conflicts));
    }
    out.push('\n');
    out
}

/// The plan's summary alone, for the daemon's log.
pub(crate) fn summary_line(plan: &Plan) -> String {
    let s = plan.summary();
    format!(
        "{} added, {} changed, {} adopted, {} removed, {} unchanged",
        s.add, s.change, s.adopt, s.remove, s.unchanged
    )
}

fn headline(d: &Declaration) -> String {
    let when = match (d.field("cron"), d.field("interval"), d.field("at")) {
        (Some(c), _, _) => format!("cron {}", shown(Some(&c))),
        (_, Some(i), _) => format!("every {}s", shown(Some(&i))),
        (_, _, Some(a)) => format!("at {}", a.as_str().unwrap_or_default()),
        _ => String::new(),
    };
    format!("{} on queue {}, {when}", d.func, d.queue)
}

fn next_line(next: &Next) -> String {
    match next {
        Next::Keeps(s) => format!("    next run: {} (kept)\n", rfc3339(*s)),
        Next::Moves { from: Some(f), to } => {
            format!("    next run: {} -> {}\n", rfc3339(*f), rfc3339(*to))
        }
        Next::Moves { from: None, to } => format!("    next run: {}\n", rfc3339(*to)),
        Next::None => "    next run: none (it has run)\n".to_owned(),
    }
}

fn shown(v: Option<&Json>) -> String {
    v.map_or_else(|| "(none)".to_owned(), Json::to_string)
}

/// The plan as one JSON object.
pub(crate) fn json(plan: &Plan, file: &str, applied: bool) -> Json {
    let next = |n: &Next| match n {
        Next::Keeps(s) => json!({"old": rfc3339(*s), "new": rfc3339(*s)}),
        Next::Moves { from, to } => json!({"old": from.map(rfc3339), "new": rfc3339(*to)}),
        Next::None => json!({"old": null, "new": null}),
    };
    let decl = |d: &Declaration| {
        Json::Object(
            super::FIELDS
                .iter()
                .filter_map(|f| Some(((*f).to_owned(), d.field(f)?)))
                .collect(),
        )
    };
    let changes: Vec<Json> = plan
        .changes
        .iter()
        .map(|c| match c {
            Change::Add { id, decl: d, next: n, missing } => json!({
                "action": "add", "id": id, "missing": missing, "job": decl(d), "next_run": next(n),
            }),
            Change::Update { id, fields, next: n } => json!({
                "action": "change", "id": id,
                "fields": fields.iter().map(|f| (f.name.to_owned(), json!({"old": f.old, "new": f.new}))).collect::<serde_json::Map<_, _>>(),
                "next_run": next(n),
            }),
            Change::Adopt { id, from, decl: d, next: n } => json!({
                "action": "adopt", "id": id, "from": from.to_string(), "job": decl(d), "next_run": next(n),
            }),
            Change::Remove { id, decl: d, next: n } => json!({
                "action": "remove", "id": id, "job": d.as_ref().map(decl),
                "next_run": {"old": n.map(rfc3339), "new": null},
            }),
        })
        .collect();
    let conflicts: Vec<Json> = plan
        .conflicts
        .iter()
        .map(|c| json!({"id": c.id, "line": c.line, "owner": c.owner.to_string()}))
        .collect();
    json!({
        "set": plan.set,
        "file": file,
        "applied": applied,
        "changes": changes,
        "conflicts": conflicts,
        "summary": plan.summary(),
    })
}

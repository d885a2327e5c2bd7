//! `rqs export`: what runs today, written as a schedule file that `rqs apply` takes back
//! unchanged.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rqs_core::JobHash;
use rqs_core::plan::{Recurrence, ScheduleMeta};
use rqs_pickle::Value;
use serde_json::{Value as Json, json};

use super::{Declaration, FIELDS, Timing};
use crate::jobinfo;

/// Reads a job as a file would declare it, or says why a file cannot (a method call, a
/// callback, a value that is not a plain one).
pub(crate) fn from_hash(hash: &JobHash, score: f64) -> Result<Declaration, String> {
    let call = jobinfo::call(hash)?;
    let func = call
        .func_name()
        .ok_or("its function is not named by a string")?
        .to_owned();
    if call.instance != Value::None {
        return Err("it calls a method of an object".into());
    }
    let args = call
        .args
        .as_ref()
        .ok_or("its arguments are not a plain tuple")?
        .iter()
        .map(plain)
        .collect::<Result<Vec<_>, _>>()?;
    let kwargs: BTreeMap<String, Json> = call
        .kwargs
        .as_ref()
        .ok_or("its keyword arguments are not a plain dict")?
        .iter()
        .map(|(k, v)| Ok((k.clone(), plain(v)?)))
        .collect::<Result<_, String>>()?;
    for (field, what) in [
        ("dependency_ids", "a dependency"),
        ("dependency_id", "a dependency"),
        ("enqueue_at_front", "enqueue_at_front"),
    ] {
        if hash.get(field).is_some_and(|v| !v.is_empty()) {
            return Err(format!(
                "it has {what}, which a schedule file cannot declare"
            ));
        }
    }
    for field in ["success_callback_name", "failure_callback_name"] {
        if hash.get(field).is_some_and(|v| !v.is_empty()) {
            return Err("it has a callback, which a schedule file cannot declare".into());
        }
    }
    let schedule = ScheduleMeta::read(hash.meta()).map_err(|e| e.to_string())?;
    let timing = match &schedule.recurrence {
        Recurrence::Cron { text, local, .. } => Timing::Cron {
            expr: text.clone(),
            local: *local,
        },
        Recurrence::Interval { seconds } if seconds.fract() == 0.0 && *seconds >= 1.0 => {
            Timing::Interval {
                seconds: *seconds as u64,
            }
        }
        Recurrence::Interval { seconds } => {
            return Err(format!(
                "its interval {seconds} is not a whole number of seconds"
            ));
        }
        Recurrence::Once => Timing::At {
            unix: score.floor() as i64,
        },
    };
    let mut meta = BTreeMap::new();
    if let Some(entries) = jobinfo::meta_entries(hash)? {
        for (k, v) in entries {
            if !["interval", "cron_string", "use_local_timezone", "repeat"].contains(&k.as_str()) {
                meta.insert(k, plain(&v)?);
            }
        }
    }
    let int = |field: &str| -> Result<Option<i64>, String> {
        hash.get_str(field)
            .filter(|t| !t.is_empty())
            .map(|t| {
                t.parse::<i64>()
                    .map_err(|_| format!("its {field} {t:?} is not whole seconds"))
            })
            .transpose()
    };
    let mut decl = Declaration {
        func,
        args,
        kwargs,
        queue: hash
            .origin()
            .map_or_else(|| "default".to_owned(), |q| q.to_string()),
        timing,
        repeat: schedule.repeat,
        timeout: int("timeout")?,
        result_ttl: int("result_ttl")?,
        ttl: int("ttl")?,
        description: hash.get_str("description").map(str::to_owned),
        meta,
    };
    // rq-scheduler's defaults are left out, so the file says only what was chosen.
    let args_py: Result<Vec<_>, _> = decl.args.iter().map(super::py_value).collect();
    let kwargs_py: Result<Vec<_>, String> = decl
        .kwargs
        .iter()
        .map(|(k, v)| Ok((k.clone(), super::py_value(v)?)))
        .collect();
    if let (Ok(a), Ok(k)) = (args_py, kwargs_py)
        && decl.description.as_deref() == Some(rqs_client::call_string(&decl.func, &a, &k).as_str())
    {
        decl.description = None;
    }
    if decl.timing.periodic() && decl.result_ttl == Some(-1) {
        decl.result_ttl = None;
    }
    Ok(decl)
}

/// A value read from a pickle in the JSON form a file takes.
fn plain(value: &Value) -> Result<Json, String> {
    Ok(match value {
        Value::None => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(Json::Number)
            .ok_or("it has a float JSON cannot hold")?,
        Value::Str(s) => Json::from(s.clone()),
        Value::Bytes(b) => {
            json!({"$bytes": b.iter().map(|x| format!("{x:02x}")).collect::<String>()})
        }
        Value::BigInt(_) => return Err("it has an int beyond 64 bits".into()),
        _ => return Err("it has a value other than None, bool, int, float, str or bytes".into()),
    })
}

/// The file: a header, then one `[[job]]` table per job, then the jobs left out, as
/// comments.
pub(crate) fn to_toml(
    header: &str,
    set: Option<&str>,
    jobs: &[(String, Declaration)],
    skipped: &[(String, String)],
) -> String {
    let mut out = String::new();
    for line in header.lines() {
        let _ = writeln!(out, "# {line}");
    }
    if let Some(set) = set {
        let _ = writeln!(out, "set = {}", string(set));
    }
    for (id, decl) in jobs {
        let _ = writeln!(out, "\n[[job]]\nid = {}", string(id));
        for name in FIELDS {
            if let Some(value) = decl.field(name) {
                let text = match (name, &decl.timing) {
                    // A TOML date-time, not a string.
                    ("at", Timing::At { unix }) => crate::output::rfc3339(*unix as f64),
                    _ => inline(&value),
                };
                let _ = writeln!(out, "{name} = {text}");
            }
        }
    }
    if !skipped.is_empty() {
        let _ = writeln!(
            out,
            "\n# Left out: a schedule file cannot declare these jobs as they are."
        );
        for (id, why) in skipped {
            let _ = writeln!(out, "# {id}: {why}");
        }
    }
    out
}

/// A JSON value as a TOML inline value; null as `{ "$none" = true }`.
fn inline(value: &Json) -> String {
    match value {
        Json::Null => "{ \"$none\" = true }".to_owned(),
        Json::Bool(b) => b.to_string(),
        Json::Number(n) => {
            let text = n.to_string();
            // TOML floats need a fraction or an exponent.
            if n.is_f64() && !text.contains(['.', 'e', 'E']) {
                format!("{text}.0")
            } else {
                text
            }
        }
        Json::String(s) => string(s),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(inline).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) if map.is_empty() => "{}".to_owned(),
        Json::Object(map) => format!(
            "{{ {} }}",
            map.iter()
                .map(|(k, v)| format!("{} = {}", string(k), inline(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// A TOML basic string: JSON's escapes are TOML's, apart from DEL, which TOML wants
/// escaped too.
fn string(s: &str) -> String {
    Json::from(s).to_string().replace('\u{7f}', "\\u007F")
}

//! What the inspection commands print: aligned tables for people, JSON for scripts, and
//! the time formats both use.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use rqs_core::JobId;
use serde::Serialize;

use crate::exit::Failure;

/// Writes `text` to stdout. A closed pipe (`rqs list | head`) is not an error.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::Runtime(
            anyhow::anyhow!("cannot write to stdout: {e}"),
        )),
        _ => Ok(()),
    }
}

/// Prints `value` as pretty JSON, one document.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print(&text)
}

/// A table of text cells, printed with aligned columns.
#[derive(Debug)]
pub(crate) struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = |s: &str| s.chars().count();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        let mut line = |cells: &mut dyn Iterator<Item = &str>| -> std::fmt::Result {
            let mut text = String::new();
            for (i, (cell, w)) in cells.zip(&widths).enumerate() {
                if i > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                text.extend(std::iter::repeat_n(' ', w.saturating_sub(width(cell))));
            }
            writeln!(f, "{}", text.trim_end())
        };
        line(&mut self.headers.iter().copied())?;
        for row in &self.rows {
            line(&mut row.iter().map(String::as_str))?;
        }
        Ok(())
    }
}

/// Aligned `key  value` lines.
pub(crate) fn pairs(rows: &[(&str, String)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (k, v) in rows {
        out.push_str(format!("{k:width$}  {v}").trim_end());
        out.push('\n');
    }
    out
}

/// A Redis value (a job id, a description...) safe to print on a terminal: control
/// characters and invalid UTF-8 escaped.
pub(crate) fn text(bytes: &[u8]) -> String {
    rqs_core::escaped(bytes)
}

/// Reads a job id as the commands print it (see [`text`]): `\xff`, `\u{0}`, `\\` and
/// the other escapes stand for the bytes they name, so an id copied from `rqs list`
/// works as it is.
pub(crate) fn parse_id(text: &str) -> Result<JobId, String> {
    JobId::from_escaped(text).map_err(|e| format!("invalid job id: {e}"))
}

/// The most characters of one value printed by default; `--full` prints them all.
pub(crate) const PRINT_LIMIT: usize = 1_000;

/// `text` cut to `limit` characters, with a note saying how much was left out; `None`
/// when it fits.
pub(crate) fn clip(text: &str, limit: usize) -> Option<String> {
    let (cut, _) = text.char_indices().nth(limit)?;
    let rest = text[cut..].chars().count();
    Some(format!(
        "{}… ({rest} more characters; --full shows them)",
        &text[..cut]
    ))
}

/// Cuts every string of a JSON value to `limit` characters and every array or object to
/// `limit` entries; `true` when anything was cut.
pub(crate) fn clip_json(value: &mut serde_json::Value, limit: usize) -> bool {
    use serde_json::Value;
    match value {
        Value::String(s) => match s.char_indices().nth(limit) {
            Some((cut, _)) => {
                s.truncate(cut);
                s.push('…');
                true
            }
            None => false,
        },
        Value::Array(items) => {
            let mut cut = items.len() > limit;
            items.truncate(limit);
            for item in items {
                cut |= clip_json(item, limit);
            }
            cut
        }
        Value::Object(map) => {
            let mut cut = map.len() > limit;
            if cut {
                let keep: Vec<String> = map.keys().take(limit).cloned().collect();
                map.retain(|k, _| keep.contains(k));
            }
            for item in map.values_mut() {
                cut |= clip_json(item, limit);
            }
            cut
        }
        _ => false,
    }
}

/// The last second RFC 3339 can write, 9999-12-31T23:59:59Z: later times are refused as
/// out of range.
pub(crate) const LAST_TIME: f64 = 253_402_300_799.0;

/// Whether `unix` is a time a command may schedule a job at: from 1970 to [`LAST_TIME`].
pub(crate) fn in_range(unix: f64) -> bool {
    (0.0..=LAST_TIME).contains(&unix)
}

/// A Unix time as a UTC instant; `None` for values no calendar holds (NaN, far future).
pub(crate) fn instant(unix: f64) -> Option<DateTime<Utc>> {
    if !unix.is_finite() {
        return None;
    }
    let secs = unix.floor();
    let nanos = ((unix - secs) * 1e9).round().min(999_999_999.0) as u32;
    DateTime::from_timestamp(secs as i64, nanos)
}

/// RFC 3339 in UTC to the second, for people: `2026-12-04T10:00:00Z`.
pub(crate) fn rfc3339(unix: f64) -> String {
    format_time(unix, SecondsFormat::Secs)
}

/// RFC 3339 in UTC with the fractions there are, for scripts.
pub(crate) fn rfc3339_exact(unix: f64) -> String {
    format_time(unix, SecondsFormat::AutoSi)
}

fn format_time(unix: f64, precision: SecondsFormat) -> String {
    instant(unix).map_or_else(
        // `{:e}`: 1e300 as it is, not as 301 digits.
        || format!("{unix:e} (not a date)"),
        |at| at.to_rfc3339_opts(precision, true),
    )
}

/// How far `unix` is from `now`: `in 4m 10s`, `12s ago`, `now`.
pub(crate) fn relative(unix: f64, now: f64) -> String {
    let delta = unix - now;
    if !delta.is_finite() {
        return String::new();
    }
    let secs = delta.abs().round() as u64;
    if secs == 0 {
        return "now".to_owned();
    }
    let (d, h, m, s) = (secs / 86_400, secs / 3_600 % 24, secs / 60 % 60, secs % 60);
    let span = match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    };
    if delta > 0.0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// `2026-12-04T10:00:00Z (in 4m 10s)`.
pub(crate) fn when(unix: f64, now: f64) -> String {
    if instant(unix).is_none() {
        return rfc3339(unix);
    }
    format!("{} ({})", rfc3339(unix), relative(unix, now))
}

/// Reads a time given on the command line: RFC 3339 (`2026-12-04T10:00:00Z`,
/// `2026-12-04T11:00:00+01:00`) or Unix seconds, from 1970 to 9999.
pub(crate) fn parse_time(text: &str) -> Result<f64, String> {
    let unix = match DateTime::parse_from_rfc3339(text.trim()) {
        Ok(at) => rqs_core::time::unix_seconds(at.with_timezone(&Utc)),
        Err(_) => text.trim().parse::<f64>().map_err(|_| {
            format!("{text:?} is not a time: use RFC 3339 (2026-12-04T10:00:00Z) or Unix seconds")
        })?,
    };
    if in_range(unix) {
        Ok(unix)
    } else {
        Err(format!(
            "{text:?} is out of range: a time goes from 1970-01-01T00:00:00Z to \
             9999-12-31T23:59:59Z"
        ))
    }
}

/// Unix seconds now.
pub(crate) fn now() -> f64 {
    rqs_core::time::unix_seconds(Utc::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_and_trim() {
        let mut t = Table::new(&["ID", "QUEUE"]);
        t.row(vec!["a".into(), "default".into()]);
        t.row(vec!["longer-id".into(), "q".into()]);
        assert_eq!(
            t.to_string(),
            "ID         QUEUE\na          default\nlonger-id  q\n"
        );
    }

    #[test]
    fn times_read_and_print() {
        assert_eq!(parse_time("2026-12-04T10:00:00Z"), Ok(1_796_378_400.0));
        assert_eq!(parse_time("2026-12-04T11:00:00+01:00"), Ok(1_796_378_400.0));
        assert_eq!(parse_time("1796378400"), Ok(1_796_378_400.0));
        assert!(parse_time("tomorrow").is_err());
        assert!(parse_time("-5").is_err());
        assert_eq!(parse_time("9999-12-31T23:59:59Z"), Ok(LAST_TIME));
        for far in [
            "1e300",
            "253402300800",
            "inf",
            "NaN",
            "1969-12-31T23:59:59Z",
        ] {
            let err = parse_time(far).unwrap_err();
            assert!(err.contains("out of range"), "{far}: {err}");
        }
        assert_eq!(rfc3339(1e300), "1e300 (not a date)");
        assert_eq!(when(1e300, 0.0), "1e300 (not a date)");
        assert_eq!(rfc3339(1_796_378_400.0), "2026-12-04T10:00:00Z");
        assert_eq!(rfc3339(1_796_378_400.5), "2026-12-04T10:00:00Z");
        assert_eq!(rfc3339_exact(1_796_378_400.5), "2026-12-04T10:00:00.500Z");
        assert_eq!(relative(130.0, 0.0), "in 2m 10s");
        assert_eq!(relative(0.0, 7_300.0), "2h 1m ago");
        assert_eq!(relative(5.2, 5.0), "now");
        assert_eq!(text(b"a\nb\xff"), "a\\nb\\xff");
    }

    #[test]
    fn ids_read_back_as_printed() {
        for raw in [
            &b"\xff\xfe"[..],
            b"nul\0byte",
            b"a\\b",
            "\u{202e}x".as_bytes(),
        ] {
            assert_eq!(parse_id(&text(raw)).unwrap().as_bytes(), raw);
        }
        let err = parse_id("bad\\q").unwrap_err();
        assert!(err.starts_with("invalid job id"), "{err}");
    }

    #[test]
    fn long_values_are_clipped_with_a_note() {
        assert_eq!(clip("short", 10), None);
        assert_eq!(
            clip(&"é".repeat(15), 10).unwrap(),
            format!("{}… (5 more characters; --full shows them)", "é".repeat(10))
        );
        let mut value = serde_json::json!({"s": "x".repeat(20), "a": [1, 2, 3], "n": 5});
        assert!(clip_json(&mut value, 10));
        assert_eq!(value["s"], format!("{}…", "x".repeat(10)));
        let mut small = serde_json::json!({"s": "abc", "a": [1, 2]});
        assert!(!clip_json(&mut small, 10));
    }
}

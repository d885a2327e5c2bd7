//! What the inspection commands print: aligned tables for people, JSON for scripts, and
//! the time formats both use.

use std::io::Write;

use chrono::{DateTime, SecondsFormat, Utc};
use rqs_core::JobId;
use serde::Serialize;

use crate::exit::Failure;

/// Writes `text` to stdout. A closed pipe (`rqs list | head`) is not an error.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    emit(text).map(drop)
}

/// Writes `text` to stdout now; `false` once the reader has closed the pipe, so that a
/// command streaming its output can stop reading Redis.
pub(crate) fn emit(text: &str) -> Result<bool, Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(Failure::Runtime(anyhow::anyhow!(
            "cannot write to stdout: {e}"
        ))),
    }
}

/// Prints `value` as pretty JSON, one document.
pub(crate) fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let mut text = serde_json::to_string_pretty(value)?;
    text.push('\n');
    print(&text)
}

/// JSON written one record at a time, so that no command holds all its records: a
/// pretty array byte for byte as [`print_json`] writes a `Vec` (`--json`), or one
/// compact object per line (`--jsonl`).
#[derive(Debug)]
pub(crate) enum JsonStream {
    /// A pretty array; `true` once its first element is written.
    Array(bool),
    /// One object per line.
    Lines,
}

impl JsonStream {
    /// Appends `value` to `out`.
    pub(crate) fn item<T: Serialize>(
        &mut self,
        value: &T,
        out: &mut String,
    ) -> Result<(), Failure> {
        match self {
            JsonStream::Lines => {
                out.push_str(&serde_json::to_string(value)?);
                out.push('\n');
            }
            JsonStream::Array(started) => {
                out.push_str(if *started { ",\n" } else { "[\n" });
                *started = true;
                // A JSON string holds no raw line break, so every line is indented.
                let text = serde_json::to_string_pretty(value)?;
                for (i, line) in text.lines().enumerate() {
                    if i > 0 {
                        out.push('\n');
                    }
                    out.push_str("  ");
                    out.push_str(line);
                }
            }
        }
        Ok(())
    }

    /// What ends the output.
    pub(crate) fn end(&self) -> &'static str {
        match self {
            JsonStream::Lines => "",
            JsonStream::Array(false) => "[]\n",
            JsonStream::Array(true) => "\n]\n",
        }
    }
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
/// `2026-12-04T11:00:00+01:00`), Unix seconds, `now`, or a whole number of seconds,
/// minutes, hours or days from now (`+30s`, `+5m`, `+2h`, `+1d`), from 1970 to 9999.
pub(crate) fn parse_time(text: &str) -> Result<f64, String> {
    parse_time_at(text, now())
}

/// [`parse_time`] with the clock read once by the caller: `now` and `+5m` count from
/// `now`, to the whole second (as rq-scheduler scores jobs).
pub(crate) fn parse_time_at(text: &str, now: f64) -> Result<f64, String> {
    let trimmed = text.trim();
    let unix = if trimmed == "now" {
        now.floor()
    } else if let Some(offset) = trimmed.strip_prefix('+') {
        now.floor() + offset_seconds(text, offset)?
    } else if let Ok(at) = DateTime::parse_from_rfc3339(trimmed) {
        rqs_core::time::unix_seconds(at.with_timezone(&Utc))
    } else if let Ok(unix) = trimmed.parse::<f64>() {
        unix
    } else if trimmed.starts_with('-') && trimmed.ends_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(format!(
            "{text:?} is not a time: a relative time counts forward from now (+5m); give a \
             past time as RFC 3339 or Unix seconds"
        ));
    } else {
        return Err(format!(
            "{text:?} is not an RFC 3339 time (2026-12-04T10:00:00Z), Unix seconds, now, \
             or +30s, +5m, +2h, +1d from now"
        ));
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

/// The seconds of `+N<unit>` (`offset` is what follows the `+` of `text`).
fn offset_seconds(text: &str, offset: &str) -> Result<f64, String> {
    let bad =
        |why: &str| format!("{text:?} is not a time from now: {why}, as in +30s, +5m, +2h or +1d");
    let Some(unit) = offset.chars().last() else {
        return Err(bad("a number and a unit must follow the +"));
    };
    let digits = &offset[..offset.len() - unit.len_utf8()];
    if unit.is_ascii_digit() && offset.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("the number needs a unit (s, m, h or d)"));
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad(
            "a whole number and a unit (s, m, h or d) must follow the +",
        ));
    }
    let factor = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3_600.0,
        'd' => 86_400.0,
        _ => return Err(bad(&format!("{unit:?} is not a unit (s, m, h or d)"))),
    };
    // Many digits parse to a huge float, which the range check then refuses.
    Ok(digits.parse::<f64>().map_err(|_| bad("not a number"))? * factor)
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
    fn relative_times_count_from_the_second_of_parsing() {
        let now = 1_796_378_400.75;
        let at = |text: &str| parse_time_at(text, now);
        assert_eq!(at("now"), Ok(1_796_378_400.0));
        assert_eq!(at(" now "), Ok(1_796_378_400.0));
        assert_eq!(at("+30s"), Ok(1_796_378_430.0));
        assert_eq!(at("+5m"), Ok(1_796_378_700.0));
        assert_eq!(at("+2h"), Ok(1_796_385_600.0));
        assert_eq!(at("+1d"), Ok(1_796_464_800.0));
        assert_eq!(at("+0s"), Ok(1_796_378_400.0));
        // The other forms do not depend on the clock.
        assert_eq!(at("1796378400.5"), Ok(1_796_378_400.5));
        assert_eq!(at("2026-12-04T10:00:00Z"), Ok(1_796_378_400.0));
        // (input, what the message says)
        for (bad, says) in [
            ("+", "a number and a unit must follow the +"),
            ("+5x", "'x' is not a unit (s, m, h or d)"),
            ("+5M", "'M' is not a unit"),
            ("+30", "the number needs a unit"),
            ("+m", "a whole number and a unit"),
            ("+1.5h", "a whole number and a unit"),
            ("+ 5m", "a whole number and a unit"),
            ("+-5m", "a whole number and a unit"),
            ("-5m", "a relative time counts forward from now (+5m)"),
            ("-1d", "counts forward"),
            ("+99999999999999999999d", "out of range"),
            ("+2920000d", "out of range"),
            ("tomorrow", "or +30s, +5m, +2h, +1d from now"),
            ("", "is not an RFC 3339 time"),
        ] {
            let err = at(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
            assert!(err.starts_with(&format!("{bad:?}")), "{bad:?}: {err}");
        }
        // The last second of 9999 from this clock is still in range; one more is not.
        let last = format!("+{}s", (LAST_TIME - 1_796_378_400.0) as u64);
        assert_eq!(at(&last), Ok(LAST_TIME));
        let past = format!("+{}s", (LAST_TIME - 1_796_378_400.0) as u64 + 1);
        assert!(at(&past).unwrap_err().contains("out of range"));
    }

    #[test]
    fn json_streams_as_the_whole_document_prints() {
        let items = vec![
            serde_json::json!({"id": "a", "due": {"unix": 1.0, "utc": "x"}, "list": [1, 2], "empty": []}),
            serde_json::json!({"id": "b\nc", "nested": {"deep": {"x": null}}}),
        ];
        for n in 0..=items.len() {
            let whole = serde_json::to_string_pretty(&items[..n]).unwrap() + "\n";
            let mut stream = JsonStream::Array(false);
            let mut out = String::new();
            for item in &items[..n] {
                stream.item(item, &mut out).unwrap();
            }
            out.push_str(stream.end());
            assert_eq!(out, whole);
        }
        let mut lines = JsonStream::Lines;
        let mut out = String::new();
        for item in &items {
            lines.item(item, &mut out).unwrap();
        }
        out.push_str(lines.end());
        let read: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(read, items);
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

//! The parser: Python `crontab` 1.0.5's `CronTab.__init__` / `_Matcher._parse_crontab`,
//! rewritten as a function from the string to per-field bitmasks.

use crate::error::{Error, Field};
use crate::pychar::{Num, decimal, is_py_space, py_int};
use crate::{CronExpr, YEAR_MAX, YEAR_MIN, Years};

/// Value bounds of a field: `min` and `max` are the span of `*`; `limit` is the largest value
/// an element may name. They differ only for day-of-week, where 7 (Sunday) may be written but
/// `*` and `a/n` stop at 6 (Saturday).
#[derive(Clone, Copy)]
struct Bounds {
    min: u32,
    max: u32,
    limit: u32,
}

fn bounds(field: Field) -> Bounds {
    let (min, max, limit) = match field {
        Field::Second | Field::Minute => (0, 59, 59),
        Field::Hour => (0, 23, 23),
        Field::DayOfMonth => (1, 31, 31),
        Field::Month => (1, 12, 12),
        Field::DayOfWeek => (0, 6, 7),
        Field::Year => (YEAR_MIN, YEAR_MAX, YEAR_MAX),
    };
    Bounds { min, max, limit }
}

const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// Day-of-month list elements whose meaning depends on the month's length.
#[derive(Debug, Clone, Copy)]
enum DaySpecial {
    /// `L`: the last day.
    Last,
    /// `Z<n>`: n days before the last day.
    ZDays(u32),
    /// `Z<a>-<b>`: a..=b days before the last day.
    ZRange(u32, u32),
}

/// Day-of-week list elements that only apply in the last seven days of a month.
#[derive(Debug, Clone, Copy)]
enum DowSpecial {
    /// `L<d>`: that weekday (already mapped: literal `7` is 0; any other spelling of 7,
    /// such as `07`, stays 7 and never matches).
    Day(u32),
    /// `L<a>-<b>`: weekdays a..=b, 7 also meaning Sunday.
    Range(u32, u32),
}

/// The result of parsing one field.
#[derive(Default)]
struct Parsed {
    /// The list contains a bare `*` or `?`.
    any: bool,
    /// Bit `v - min` for every value named by the plain elements.
    values: [u64; 3],
    day: Vec<DaySpecial>,
    dow: Vec<DowSpecial>,
}

impl Parsed {
    fn insert(&mut self, offset: u32) {
        let i = offset as usize;
        self.values[i / 64] |= 1 << (i % 64);
    }

    fn contains(&self, offset: u32) -> bool {
        let i = offset as usize;
        i < 192 && self.values[i / 64] & (1 << (i % 64)) != 0
    }

    /// The plain values as a mask over `0..64` (bit = value - min).
    fn mask64(&self, b: Bounds) -> u64 {
        if self.any {
            let n = b.max - b.min + 1;
            if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
        } else {
            self.values[0]
        }
    }
}

pub(crate) fn parse(s: &str) -> Result<CronExpr, Error> {
    // Aliases are looked up on the raw string, before splitting or lowercasing:
    // "@Daily" or " @daily" are not aliases (Python behaves the same).
    let text = match s {
        "@yearly" | "@annually" => "0 0 1 1 *",
        "@monthly" => "0 0 1 * *",
        "@weekly" => "0 0 * * 0",
        "@daily" => "0 0 * * *",
        "@hourly" => "0 * * * *",
        other => other,
    };
    let fields: Vec<&str> = text.split(is_py_space).filter(|f| !f.is_empty()).collect();
    // 5 fields: seconds = 0, year = *; 6 fields: the sixth is the YEAR; 7: seconds first.
    let (second, rest, year) = match fields.len() {
        5 => ("0", &fields[..], "*"),
        6 => ("0", &fields[..5], fields[5]),
        7 => (fields[0], &fields[1..6], fields[6]),
        1 if fields[0].starts_with('@') => {
            return Err(Error::UnknownAlias {
                alias: fields[0].to_owned(),
            });
        }
        n => return Err(Error::FieldCount { found: n }),
    };

    let second = parse_field(Field::Second, second)?;
    let minute = parse_field(Field::Minute, rest[0])?;
    let hour = parse_field(Field::Hour, rest[1])?;
    let dom = parse_field(Field::DayOfMonth, rest[2])?;
    let month = parse_field(Field::Month, rest[3])?;
    let dow = parse_field(Field::DayOfWeek, rest[4])?;
    let year = parse_field(Field::Year, year)?;

    let mut days = [0u32; 4];
    for (slot, eom) in days.iter_mut().zip(28u32..=31) {
        for v in 1..=eom {
            if day_matches(&dom, v, eom) {
                *slot |= 1 << v;
            }
        }
    }
    let mut weekdays = [0u8; 2];
    for (slot, last_week) in weekdays.iter_mut().zip([false, true]) {
        for v in 0..7 {
            if dow_matches(&dow, v, last_week) {
                *slot |= 1 << v;
            }
        }
    }
    let years = if year.any {
        Years::any()
    } else {
        Years {
            any: false,
            bits: year.values,
        }
    };

    Ok(CronExpr::from_fields(
        second.mask64(bounds(Field::Second)),
        minute.mask64(bounds(Field::Minute)),
        hour.mask64(bounds(Field::Hour)) as u32,
        days,
        // Stored with bit = month number.
        (month.mask64(bounds(Field::Month)) << 1) as u16,
        weekdays,
        years,
    ))
}

/// Python's `_Matcher.__call__` for the day-of-month field, for day `v` of a month with
/// `eom` days. The special elements are visited in list order.
///
/// Quirk reproduced: a `Z<n>` element *returns* its own verdict at once, so the elements
/// after it, the plain values and even `*` are ignored: `5,Z1` and `*,Z1` both mean only
/// "the day before the last day". `L` and `Z<a>-<b>` elements before it still count.
fn day_matches(p: &Parsed, v: u32, eom: u32) -> bool {
    for sp in &p.day {
        match *sp {
            DaySpecial::Last => {
                if v == eom {
                    return true;
                }
            }
            DaySpecial::ZDays(n) => return eom - n == v,
            DaySpecial::ZRange(a, b) => {
                if (a..=b).any(|i| eom - i == v) {
                    return true;
                }
            }
        }
    }
    p.any || p.contains(v - 1)
}

/// Python's `_Matcher.__call__` for the day-of-week field (`v`: 0 = Sunday). `last_week` is
/// whether the day is among the last seven of its month (the `L<d>` elements are skipped
/// otherwise).
fn dow_matches(p: &Parsed, v: u32, last_week: bool) -> bool {
    if last_week {
        for sp in &p.dow {
            match *sp {
                DowSpecial::Day(d) => {
                    if d == v {
                        return true;
                    }
                }
                DowSpecial::Range(a, b) => {
                    // 7 in the range also means Sunday; a reversed range is empty.
                    if (a..=b).contains(&v) || (v == 0 && (a..=b).contains(&7)) {
                        return true;
                    }
                }
            }
        }
    }
    p.any || p.contains(v)
}

fn parse_field(field: Field, raw: &str) -> Result<Parsed, Error> {
    // Python lowercases the whole field with str.lower(). Only ASCII letters can take part
    // in a valid element (the only non-ASCII characters whose lowercase is ASCII are U+0130
    // and U+212A, which still cannot form a valid element), so ASCII lowercasing decides
    // acceptance identically.
    let input = raw.to_ascii_lowercase();
    let mut out = Parsed::default();
    for item in input.split(',') {
        parse_item(field, item, &input, &mut out)?;
    }
    Ok(out)
}

fn parse_item(field: Field, item: &str, input: &str, out: &mut Parsed) -> Result<(), Error> {
    let is_day = field == Field::DayOfMonth;
    let is_dow = field == Field::DayOfWeek;
    match item {
        "*" => {
            out.any = true;
            return Ok(());
        }
        "?" => {
            if !(is_day || is_dow) {
                return Err(misplaced(
                    field,
                    item,
                    "'?' is only allowed in the day-of-month and day-of-week fields",
                ));
            }
            out.any = true;
            return Ok(());
        }
        "" => {
            return Err(Error::EmptyItem {
                field,
                input: input.to_owned(),
            });
        }
        "lw" if is_day => {
            return Err(unsupported(field, item, "'LW' (last weekday of the month)"));
        }
        "l" => {
            if !is_day {
                return Err(misplaced(
                    field,
                    item,
                    "a bare 'L' (last day of the month) is only allowed in the day-of-month field",
                ));
            }
            out.day.push(DaySpecial::Last);
            return Ok(());
        }
        _ => {}
    }
    if let Some(rest) = item.strip_prefix('z') {
        if !is_day {
            return Err(misplaced(
                field,
                item,
                "'Z<n>' is only allowed in the day-of-month field",
            ));
        }
        out.day.push(parse_z(field, item, rest)?);
        return Ok(());
    }
    if let Some(rest) = item.strip_prefix('l') {
        if !is_dow {
            return Err(misplaced(
                field,
                item,
                "'L<weekday>' is only allowed in the day-of-week field",
            ));
        }
        out.dow.push(parse_l(field, item, rest)?);
        return Ok(());
    }
    parse_plain(field, item, out)
}

const Z_RULE: &str = "expected Z<n> or Z<a>-<b> with n and a in 0..7, b in 1..7 and a <= b \
                      (compared as text)";
const L_RULE: &str = "expected L<d> or L<a>-<b> with d, a and b in 0..7";

/// `Z<n>` (n in 0..=7) or `Z<a>-<b>` (a in 0..=7, b in 1..=7).
///
/// Quirk reproduced: Python checks `a <= b` on the *strings*, so `Z07-1` is accepted (and,
/// being an empty range, matches nothing) while `Z5-07` is rejected.
fn parse_z(field: Field, item: &str, rest: &str) -> Result<DaySpecial, Error> {
    if let Num::Value(n @ 0..=7) = decimal(rest) {
        return Ok(DaySpecial::ZDays(n as u32));
    }
    if let Some((a_txt, b_txt)) = rest.split_once('-')
        && let (Num::Value(a @ 0..=7), Num::Value(b @ 1..=7)) = (decimal(a_txt), decimal(b_txt))
        && a_txt <= b_txt
    {
        return Ok(DaySpecial::ZRange(a as u32, b as u32));
    }
    Err(special_error(field, item, rest, Z_RULE))
}

/// `L<d>` or `L<a>-<b>` with every number in 0..=7 (a reversed range is accepted and empty).
///
/// Quirk reproduced: Python maps only the literal text `7` to Sunday; `L07` (or a 7 in another
/// script) keeps the value 7, which no weekday has, so it never matches.
fn parse_l(field: Field, item: &str, rest: &str) -> Result<DowSpecial, Error> {
    if let Num::Value(d @ 0..=7) = decimal(rest) {
        return Ok(DowSpecial::Day(if rest == "7" { 0 } else { d as u32 }));
    }
    if let Some((a_txt, b_txt)) = rest.split_once('-')
        && let (Num::Value(a @ 0..=7), Num::Value(b @ 0..=7)) = (decimal(a_txt), decimal(b_txt))
    {
        return Ok(DowSpecial::Range(a as u32, b as u32));
    }
    Err(special_error(field, item, rest, L_RULE))
}

fn special_error(field: Field, item: &str, rest: &str, rule: &'static str) -> Error {
    let too_long = rest
        .split('-')
        .any(|part| matches!(decimal(part), Num::TooLong));
    if too_long {
        Error::NumberTooLong {
            field,
            item: item.to_owned(),
        }
    } else {
        Error::InvalidSpecial {
            field,
            item: item.to_owned(),
            rule,
        }
    }
}

/// Numbers, names, ranges and steps: `v`, `a-b`, `*/n`, `a-b/n`, `a/n`.
fn parse_plain(field: Field, item: &str, out: &mut Parsed) -> Result<(), Error> {
    let b = bounds(field);
    let (range_txt, step) = match item.split_once('/') {
        None => (item, None),
        Some((range_txt, step_txt)) => (range_txt, Some(parse_step(field, item, step_txt, b)?)),
    };

    let (start, end) = if range_txt.contains('-') {
        let mut parts = range_txt.split('-');
        let (Some(a), Some(z), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::InvalidValue {
                field,
                item: item.to_owned(),
                token: range_txt.to_owned(),
                hint: "; a range has exactly one '-'",
            });
        };
        let start = value(field, item, a, b)?;
        let mut end = value(field, item, z, b)?;
        // "sat-sun": a range ending on Sunday written as 0 ends on 7 instead. Quirk
        // reproduced: this also turns `0-0` and `sun-sun` into "every day".
        if field == Field::DayOfWeek && end == 0 {
            end = 7;
        }
        (start, end)
    } else if range_txt == "*" {
        (b.min, b.max)
    } else {
        let start = value(field, item, range_txt, b)?;
        match step {
            None => {
                insert_value(field, out, start);
                return Ok(());
            }
            // `a/n` runs from a to the end of `*` (6 for day-of-week, not 7).
            Some(_) => (start, b.max),
        }
    };

    if start > end {
        return Err(Error::ReversedRange {
            field,
            item: item.to_owned(),
            start,
            end,
        });
    }
    if let Some(n) = step {
        // Python demands that the second value exists, for ranges too: `50/15` and
        // `5-10/55` are rejected (50 + 15 > 59, 5 + 55 > 59); `0-10/59` is fine.
        if u64::from(start) + n > u64::from(b.limit) {
            return Err(Error::InvalidStep {
                field,
                item: item.to_owned(),
                reason: format!(
                    "the second value {} ({} + {}) is past the maximum {}",
                    u64::from(start) + n,
                    start,
                    n,
                    b.limit
                ),
            });
        }
    }
    let step = step.unwrap_or(1) as usize;
    for v in (start..=end).step_by(step) {
        insert_value(field, out, v);
    }
    Ok(())
}

fn insert_value(field: Field, out: &mut Parsed, v: u32) {
    // Sunday may be written 7; store it as 0.
    let v = if field == Field::DayOfWeek && v == 7 {
        0
    } else {
        v
    };
    out.insert(v - bounds(field).min);
}

/// The text after `/`, read with Python's `int()` (so `+5`, `0_5` and other-script digits
/// are accepted, as in Python), then checked: positive and at most the field's maximum.
fn parse_step(field: Field, item: &str, text: &str, b: Bounds) -> Result<u64, Error> {
    let bad = |reason: String| Error::InvalidStep {
        field,
        item: item.to_owned(),
        reason,
    };
    if text.contains('/') {
        return Err(bad("more than one '/'".to_owned()));
    }
    match py_int(text) {
        (_, Num::Invalid) => Err(bad(format!("{text:?} is not an integer"))),
        (_, Num::TooLong) => Err(Error::NumberTooLong {
            field,
            item: item.to_owned(),
        }),
        (true, _) | (false, Num::Value(0)) => Err(bad("the step must be positive".to_owned())),
        (false, Num::Value(n)) if n > u64::from(b.limit) => Err(bad(format!(
            "the step {n} is larger than the maximum {}",
            b.limit
        ))),
        (false, Num::Value(n)) => Ok(n),
    }
}

/// One number or name (Python's `_fix`): a month or weekday name where allowed, otherwise
/// decimal digits, within `min..=limit`.
fn value(field: Field, item: &str, token: &str, b: Bounds) -> Result<u32, Error> {
    let names: &[&str] = match field {
        Field::Month => &MONTH_NAMES,
        Field::DayOfWeek => &DAY_NAMES,
        _ => &[],
    };
    if let Some(i) = names.iter().position(|n| *n == token) {
        // Months are 1-based, weekdays 0-based (sun = 0).
        return Ok(i as u32 + u32::from(field == Field::Month));
    }
    match decimal(token) {
        Num::Value(v) if v >= u64::from(b.min) && v <= u64::from(b.limit) => Ok(v as u32),
        Num::Value(v) => Err(Error::OutOfRange {
            field,
            item: item.to_owned(),
            value: v,
            min: b.min,
            max: b.limit,
        }),
        Num::TooLong => Err(Error::NumberTooLong {
            field,
            item: item.to_owned(),
        }),
        Num::Invalid => Err(invalid_token(field, item, token)),
    }
}

fn invalid_token(field: Field, item: &str, token: &str) -> Error {
    if token.is_empty() {
        return Error::EmptyItem {
            field,
            input: item.to_owned(),
        };
    }
    if token.contains('#') {
        return unsupported(field, item, "'#' (n-th weekday of the month)");
    }
    if token == "h" || token.starts_with("h(") {
        return unsupported(field, item, "'H' (hashed value)");
    }
    if let Some(head) = token.strip_suffix('w')
        && (matches!(decimal(head), Num::Value(_)) || head == "l")
    {
        return unsupported(field, item, "'W' (nearest weekday)");
    }
    let hint = match field {
        Field::Month => "; expected 1-12 or jan..dec",
        Field::DayOfWeek => "; expected 0-7 or sun..sat",
        _ => "; expected a number",
    };
    Error::InvalidValue {
        field,
        item: item.to_owned(),
        token: token.to_owned(),
        hint,
    }
}

fn misplaced(field: Field, item: &str, rule: &'static str) -> Error {
    Error::Misplaced {
        field,
        item: item.to_owned(),
        rule,
    }
}

fn unsupported(field: Field, item: &str, what: &'static str) -> Error {
    Error::Unsupported {
        field,
        item: item.to_owned(),
        what,
    }
}

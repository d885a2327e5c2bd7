//! One test per grammar rule and per rejection class, plus the vectors of
//! rq-wire-format.md section 4d with their documented answers.

use chrono::{NaiveDate, NaiveDateTime};
use rqs_cron::{CronExpr, Error, Field};

fn at(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f").unwrap()
}

/// The next run after `now` as text, or "None".
fn next(expr: &str, now: &str) -> String {
    let e = CronExpr::parse(expr).unwrap_or_else(|err| panic!("{expr:?} rejected: {err}"));
    match e.next_after(at(now)) {
        Some(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        None => "None".to_owned(),
    }
}

/// The next run after 2025-03-10 12:00:00 (a Monday).
fn nx(expr: &str) -> String {
    next(expr, "2025-03-10 12:00:00")
}

fn err(expr: &str) -> Error {
    match CronExpr::parse(expr) {
        Ok(e) => panic!("{expr:?} accepted as {e:?}"),
        Err(e) => e,
    }
}

fn same(a: &str, b: &str) {
    assert_eq!(
        CronExpr::parse(a).unwrap(),
        CronExpr::parse(b).unwrap(),
        "{a:?} vs {b:?}"
    );
}

#[test]
fn spec_section_4d_vectors() {
    let table = [
        ("* * * * *", "2025-03-10 12:00:00", "2025-03-10 12:01:00"),
        ("* * * * *", "2025-03-10 11:59:59.5", "2025-03-10 12:00:00"),
        ("*/15 * * * *", "2025-03-10 12:07:00", "2025-03-10 12:15:00"),
        (
            "5,35 */6 * * *",
            "2025-03-10 12:40:00",
            "2025-03-10 18:05:00",
        ),
        (
            "0 9-17/4 * * *",
            "2025-03-10 13:30:00",
            "2025-03-10 17:00:00",
        ),
        (
            "0 0 * * mon-fri",
            "2025-03-14 12:00:00",
            "2025-03-17 00:00:00",
        ),
        (
            "0 0 * * sat-sun",
            "2025-03-10 12:00:00",
            "2025-03-15 00:00:00",
        ),
        ("0 0 * * 7", "2025-03-10 12:00:00", "2025-03-16 00:00:00"),
        (
            "0 12 1 jan,jul *",
            "2025-03-10 12:00:00",
            "2025-07-01 12:00:00",
        ),
        ("0 0 13 * 5", "2025-03-10 12:00:00", "2025-06-13 00:00:00"),
        ("0 0 1 * 1", "2025-03-10 12:00:00", "2025-09-01 00:00:00"),
        ("0 0 L * *", "2025-02-10 12:00:00", "2025-02-28 00:00:00"),
        ("0 0 L * *", "2024-02-10 12:00:00", "2024-02-29 00:00:00"),
        ("0 18 * * L5", "2025-03-10 12:00:00", "2025-03-28 18:00:00"),
        ("0 0 Z1 * *", "2025-03-10 12:00:00", "2025-03-30 00:00:00"),
        ("0 0 29 2 *", "2025-03-10 12:00:00", "2028-02-29 00:00:00"),
        (
            "0 0 1 1 * 2027",
            "2025-03-10 12:00:00",
            "2027-01-01 00:00:00",
        ),
        (
            "30 0 0 1 1 * *",
            "2025-03-10 12:00:00",
            "2026-01-01 00:00:30",
        ),
        (
            "*/20 * * * * * *",
            "2025-03-10 12:00:05",
            "2025-03-10 12:00:20",
        ),
        ("@daily", "2025-03-10 12:00:00", "2025-03-11 00:00:00"),
        ("@weekly", "2025-03-10 12:00:00", "2025-03-16 00:00:00"),
        ("@monthly", "2025-03-10 12:00:00", "2025-04-01 00:00:00"),
        ("@yearly", "2025-03-10 12:00:00", "2026-01-01 00:00:00"),
        ("@hourly", "2025-03-10 12:00:00", "2025-03-10 13:00:00"),
        ("0 0 ? * 3", "2025-03-10 12:00:00", "2025-03-12 00:00:00"),
        ("0 0 * * */2", "2025-03-10 12:00:00", "2025-03-11 00:00:00"),
        ("0 0 * * 1/2", "2025-03-10 12:00:00", "2025-03-12 00:00:00"),
        (
            "0 0 1-5/2,L * *",
            "2025-03-10 12:00:00",
            "2025-03-31 00:00:00",
        ),
        (
            "59 23 31 12 *",
            "2025-12-31 23:59:00",
            "2026-12-31 23:59:00",
        ),
        ("0 0 30 2 *", "2025-03-10 12:00:00", "None"),
        ("0 0 1 1 * 2020", "2025-03-10 12:00:00", "None"),
        // traces/10_cron_vectors.txt, accepted strings
        (
            "0 0 * * mon-sun",
            "2025-03-10 12:00:00",
            "2025-03-11 00:00:00",
        ),
        ("0 0 * * FRI", "2025-03-10 12:00:00", "2025-03-14 00:00:00"),
        ("0 0 1 JAN *", "2025-03-10 12:00:00", "2026-01-01 00:00:00"),
        ("0 0 1,* * *", "2025-03-10 12:00:00", "2025-03-11 00:00:00"),
        ("0 0 * * L7", "2025-03-10 12:00:00", "2025-03-30 00:00:00"),
        ("0 0 Z0 * *", "2025-03-10 12:00:00", "2025-03-31 00:00:00"),
        ("5/20 * * * *", "2025-03-10 12:00:00", "2025-03-10 12:05:00"),
    ];
    for (expr, now, want) in table {
        assert_eq!(next(expr, now), want, "{expr:?} after {now}");
    }
    for bad in [
        "0 0 LW * *",
        "0 0 15W * *",
        "0 0 * * 5#3",
        "@reboot",
        "@Daily",
        "@midnight",
        "* * * *",
        "* * * * * * * *",
        "*/60 * * * *",
        "50/15 * * * *",
        "0 24 * * *",
        "0 0 0 * *",
        "0 0 * * 8",
        "H * * * *",
        "0 0 * * fri-mon",
        "0 22-2 * * *",
    ] {
        err(bad);
    }
}

#[test]
fn field_counts() {
    // 5 fields: second 0, any year.
    assert_eq!(nx("* * * * *"), "2025-03-10 12:01:00");
    // 6 fields: the sixth is the year.
    assert_eq!(nx("0 0 1 1 * 2030"), "2030-01-01 00:00:00");
    assert_eq!(nx("* * * * * 2024"), "None");
    // 7 fields: second first, year last.
    assert_eq!(nx("30 * * * * * *"), "2025-03-10 12:00:30");
    assert_eq!(nx("15 30 6 * * * 2026"), "2026-01-01 06:30:15");
    for (s, n) in [
        ("", 0),
        ("   ", 0),
        ("*", 1),
        ("* *", 2),
        ("* * * *", 4),
        ("* * * * * * * *", 8),
    ] {
        assert_eq!(err(s), Error::FieldCount { found: n }, "{s:?}");
    }
}

#[test]
fn python_whitespace_separates_fields() {
    for s in [
        "*\t*  *\n* *",
        "  * * * * *  ",
        "*\u{a0}*\u{3000}*\u{2003}*\u{85}*",
        "*\u{1c}*\u{1d}*\u{1e}*\u{1f}*",
        "*\u{b}*\u{c}*\r* *",
    ] {
        assert_eq!(nx(s), "2025-03-10 12:01:00", "{s:?}");
    }
    // Zero-width space is not whitespace in Python.
    assert!(matches!(
        err("*\u{200b}* * * *"),
        Error::FieldCount { found: 4 }
    ));
}

#[test]
fn aliases_exact_lowercase_only() {
    same("@yearly", "0 0 1 1 *");
    same("@annually", "0 0 1 1 *");
    same("@monthly", "0 0 1 * *");
    same("@weekly", "0 0 * * 0");
    same("@daily", "0 0 * * *");
    same("@hourly", "0 * * * *");
    for s in [
        "@Daily",
        "@DAILY",
        "@reboot",
        "@midnight",
        " @daily",
        "@daily ",
        "@",
        "@every",
    ] {
        assert!(matches!(err(s), Error::UnknownAlias { .. }), "{s:?}");
    }
    // Not a single word: a field-count error.
    assert!(matches!(err("@daily 5"), Error::FieldCount { found: 2 }));
    // '@' inside a field is just an invalid value.
    assert!(matches!(err("@daily * * * *"), Error::InvalidValue { .. }));
}

#[test]
fn ranges_lists_and_steps() {
    assert_eq!(nx("10-20 * * * *"), "2025-03-10 12:10:00");
    assert_eq!(nx("1,2,3,58 * * * *"), "2025-03-10 12:01:00");
    assert_eq!(nx("*/7 * * * *"), "2025-03-10 12:07:00");
    assert_eq!(nx("5-50/20 13 * * *"), "2025-03-10 13:05:00");
    // a/n runs to the field's maximum.
    same("5/20 * * * *", "5,25,45 * * * *");
    same("0 0 1 */5 *", "0 0 1 1,6,11 *");
    // Leading zeros are fine.
    same("05 007 * * *", "5 7 * * *");
    // A list containing * is *.
    same("0 0 1,* * *", "0 0 * * *");
    // Step limits: step <= max and start + step <= max, also for a-b/n.
    same("*/59 * * * *", "0,59 * * * *");
    same("0-10/59 * * * *", "0 * * * *");
    same("0 0 */30 * *", "0 0 1,31 * *");
    same("0 0 1 1 * */129", "0 0 1 1 * 1970,2099");
    same("0 0 * * */7", "0 0 * * 0");
}

#[test]
fn step_text_is_read_by_python_int() {
    same("*/+5 * * * *", "*/5 * * * *");
    same("*/0_5 * * * *", "*/5 * * * *");
    same("*/1_0 * * * *", "*/10 * * * *");
    for s in [
        "*/1__0 * * * *",
        "*/_1 * * * *",
        "*/1_ * * * *",
        "*/1.5 * * * *",
        "*/ * * * *",
        "*/x * * * *",
    ] {
        assert!(matches!(err(s), Error::InvalidStep { .. }), "{s:?}");
    }
}

#[test]
fn unicode_digits_count_as_digits() {
    same("\u{665} * * * *", "5 * * * *"); // Arabic-Indic five
    same("*/\u{ff11}\u{ff15} * * * *", "*/15 * * * *"); // fullwidth 15
    // Superscripts are not decimal digits.
    assert!(matches!(err("\u{b2} * * * *"), Error::InvalidValue { .. }));
    // More than 4300 digits is an error, however small the value.
    let ok = format!("0 0 {}5 * *", "0".repeat(4299));
    same(&ok, "0 0 5 * *");
    let too_long = format!("0 0 {}5 * *", "0".repeat(4300));
    assert!(matches!(
        err(&too_long),
        Error::NumberTooLong {
            field: Field::DayOfMonth,
            ..
        }
    ));
}

#[test]
fn names_any_case() {
    same("0 0 1 JAN,fEb,Dec *", "0 0 1 1,2,12 *");
    same("0 0 * * SUN,mOn,sat", "0 0 * * 0,1,6");
    same("0 0 * * mon-FRI", "0 0 * * 1-5");
    same("0 0 1 jun-aug *", "0 0 1 6-8 *");
    same("0 0 * * mon/2", "0 0 * * 1,3,5");
    // Names only where they belong, three letters only.
    for s in [
        "0 0 jan * *",
        "mon * * * *",
        "0 0 1 monday *",
        "0 0 1 january *",
        "0 0 1 sun *",
        "0 0 * * jan",
    ] {
        assert!(matches!(err(s), Error::InvalidValue { .. }), "{s:?}");
    }
}

#[test]
fn day_of_week_sunday_rules() {
    same("0 0 * * 7", "0 0 * * 0");
    same("0 0 * * sat-sun", "0 0 * * 0,6");
    same("0 0 * * 5-0", "0 0 * * 5,6,0");
    same("0 0 * * mon-sun", "0 0 * * *");
    // Quirk: a range ending in 0 ends in 7, so 0-0 is every day.
    same("0 0 * * 0-0", "0 0 * * *");
    same("0 0 * * sun-sun", "0 0 * * *");
    // */n and a/n stop at 6; a range reaching 7 includes Sunday.
    same("0 0 * * */2", "0 0 * * 0,2,4,6");
    same("0 0 * * 1/2", "0 0 * * 1,3,5");
    same("0 0 * * 1-7/2", "0 0 * * 1,3,5,0");
    same("0 0 * * 6/1", "0 0 * * 6");
    assert!(matches!(err("0 0 * * 7/1"), Error::ReversedRange { .. }));
}

#[test]
fn question_mark_only_in_day_fields() {
    same("0 0 ? * *", "0 0 * * *");
    same("0 0 * * ?", "0 0 * * *");
    same("0 0 ?,5 * *", "0 0 * * *");
    for s in [
        "? * * * *",
        "0 ? * * *",
        "0 0 1 ? *",
        "0 0 1 1 * ?",
        "? 0 0 1 1 * *",
    ] {
        assert!(matches!(err(s), Error::Misplaced { .. }), "{s:?}");
    }
    assert!(matches!(err("0 0 ?/2 * *"), Error::InvalidValue { .. }));
}

#[test]
fn last_day_of_month() {
    assert_eq!(
        next("0 0 L * *", "2025-01-31 00:00:00"),
        "2025-02-28 00:00:00"
    );
    assert_eq!(
        next("0 0 L * *", "2024-01-31 00:00:00"),
        "2024-02-29 00:00:00"
    );
    assert_eq!(
        next("0 0 L 4 *", "2025-03-10 00:00:00"),
        "2025-04-30 00:00:00"
    );
    assert_eq!(
        next("0 0 1,l * *", "2025-03-10 00:00:00"),
        "2025-03-31 00:00:00"
    );
    for s in ["0 L * * *", "0 0 * L *", "0 0 * * L", "0 0 1 1 * L"] {
        assert!(matches!(err(s), Error::Misplaced { .. }), "{s:?}");
    }
}

#[test]
fn z_days_before_last() {
    assert_eq!(nx("0 0 Z0 * *"), "2025-03-31 00:00:00");
    assert_eq!(nx("0 0 Z7 * *"), "2025-03-24 00:00:00");
    assert_eq!(
        next("0 0 Z1 2 *", "2024-01-01 00:00:00"),
        "2024-02-28 00:00:00"
    );
    assert_eq!(
        next("0 0 Z1 2 *", "2025-01-01 00:00:00"),
        "2025-02-27 00:00:00"
    );
    // Z<a>-<b>: a..b days before the last.
    assert_eq!(nx("0 0 Z2-3 * *"), "2025-03-28 00:00:00");
    assert_eq!(nx("0 0 Z0-7 * *"), "2025-03-24 00:00:00");
    for s in [
        "0 0 Z8 * *",
        "0 0 Z * *",
        "0 0 Z-1 * *",
        "0 0 Z1-8 * *",
        "0 0 Z0-0 * *",
        "0 0 Z3-2 * *",
        "0 0 Zx * *",
        "0 0 Z1/2 * *",
    ] {
        assert!(
            matches!(
                err(s),
                Error::InvalidSpecial {
                    field: Field::DayOfMonth,
                    ..
                }
            ),
            "{s:?}"
        );
    }
    for s in ["0 0 * * Z1", "0 0 1 Z1 *", "Z1 * * * *"] {
        assert!(matches!(err(s), Error::Misplaced { .. }), "{s:?}");
    }
}

#[test]
fn z_quirks() {
    // Z<n> decides alone: the 5th and * are ignored.
    same("0 0 5,Z1 * *", "0 0 Z1 * *");
    same("0 0 *,Z1 * *", "0 0 Z1 * *");
    same("0 0 Z1,Z2 * *", "0 0 Z1 * *");
    // ... but L and Z<a>-<b> before it still count.
    same("0 0 L,Z1 * *", "0 0 Z0-1 * *");
    same("0 0 Z2-3,Z1 * *", "0 0 Z1-3 * *");
    // a <= b is compared as text.
    assert_eq!(nx("0 0 Z07-1 * *"), "None");
    assert!(matches!(err("0 0 Z5-07 * *"), Error::InvalidSpecial { .. }));
    same("0 0 Z00-7 * *", "0 0 Z0-7 * *");
}

#[test]
fn last_weekday_of_month() {
    assert_eq!(nx("0 18 * * L5"), "2025-03-28 18:00:00");
    assert_eq!(nx("0 0 * * L7"), "2025-03-30 00:00:00");
    same("0 0 * * L7", "0 0 * * L0");
    assert_eq!(nx("0 0 * * L1-2"), "2025-03-25 00:00:00");
    assert_eq!(nx("0 0 * * L5-7"), "2025-03-28 00:00:00");
    // Combined with plain weekdays: either kind of element may match.
    assert_eq!(nx("0 0 * * 3,L5"), "2025-03-12 00:00:00");
    // Quirks: L07 never matches, a reversed L range is empty.
    assert_eq!(nx("0 0 * * L07"), "None");
    assert_eq!(nx("0 0 * * L5-1"), "None");
    for s in [
        "0 0 * * L8",
        "0 0 * * L1-8",
        "0 0 * * Lx",
        "0 0 * * L-",
        "0 0 * * L5/2",
        "0 0 * * L1-",
    ] {
        assert!(
            matches!(
                err(s),
                Error::InvalidSpecial {
                    field: Field::DayOfWeek,
                    ..
                }
            ),
            "{s:?}"
        );
    }
    assert!(matches!(err("0 0 L5 * *"), Error::Misplaced { .. }));
}

#[test]
fn day_of_month_and_weekday_are_anded() {
    assert_eq!(nx("0 0 13 * 5"), "2025-06-13 00:00:00");
    assert_eq!(nx("0 0 1 * 1"), "2025-09-01 00:00:00");
    assert_eq!(nx("0 0 1-7 * L5"), "None");
    assert_eq!(nx("0 0 L * L5"), "2025-10-31 00:00:00");
}

#[test]
fn years() {
    assert_eq!(nx("0 0 1 1 * 2027"), "2027-01-01 00:00:00");
    assert_eq!(nx("0 0 1 1 * 2020"), "None");
    assert_eq!(nx("0 0 29 2 * 2025-2027"), "None");
    assert_eq!(nx("0 0 29 2 * 2025-2028"), "2028-02-29 00:00:00");
    assert_eq!(nx("0 0 29 2 *"), "2028-02-29 00:00:00");
    assert_eq!(nx("0 0 30 2 *"), "None");
    // Quirk: with year *, the first candidate second is not bounded to 1970..2099.
    assert_eq!(
        next("0 0 1 1 *", "2099-12-31 23:59:59"),
        "2100-01-01 00:00:00"
    );
    assert_eq!(next("0 0 1 1 * 1970-2099", "2099-12-31 23:59:59"), "None");
    assert_eq!(
        next("* * * * *", "2099-12-31 23:59:59.9"),
        "2100-01-01 00:00:00"
    );
    assert_eq!(next("0 0 2 1 *", "2099-12-31 23:59:59"), "None");
    assert_eq!(
        next("0 0 1 1 *", "1960-03-01 00:00:00"),
        "1961-01-01 00:00:00"
    );
    assert_eq!(
        next("0 0 1 1 * 1970-2099", "1960-03-01 00:00:00"),
        "1970-01-01 00:00:00"
    );
    assert_eq!(
        next("0 0 1 1 * 1970,*", "1960-03-01 00:00:00"),
        "1961-01-01 00:00:00"
    );
    for s in [
        "0 0 1 1 * 1969",
        "0 0 1 1 * 2100",
        "0 0 1 1 * 2099/1",
        "0 0 1 1 * */130",
    ] {
        assert!(
            matches!(
                err(s),
                Error::OutOfRange {
                    field: Field::Year,
                    ..
                } | Error::InvalidStep {
                    field: Field::Year,
                    ..
                }
            ),
            "{s:?}"
        );
    }
}

#[test]
fn search_starts_one_second_after_now() {
    assert_eq!(
        next("* * * * * * *", "2025-03-10 12:00:00"),
        "2025-03-10 12:00:01"
    );
    assert_eq!(
        next("* * * * * * *", "2025-03-10 12:00:00.999999"),
        "2025-03-10 12:00:01"
    );
    assert_eq!(
        next("0 0 1 1 *", "2025-12-31 23:59:59"),
        "2026-01-01 00:00:00"
    );
    assert_eq!(
        next("0 0 1 1 *", "2026-01-01 00:00:00"),
        "2027-01-01 00:00:00"
    );
    assert_eq!(
        next("59 59 23 31 12 * *", "2025-12-31 23:59:58.5"),
        "2025-12-31 23:59:59"
    );
    assert_eq!(
        next("59 59 23 31 12 * *", "2025-12-31 23:59:59"),
        "2026-12-31 23:59:59"
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let e = CronExpr::parse("0 0 1 1 *").unwrap();
    assert_eq!(e.next_after(NaiveDateTime::MAX), None);
    let min = NaiveDateTime::MIN;
    let first = e.next_after(min).unwrap();
    assert!(first > min);
    let far = NaiveDate::from_ymd_opt(100_000, 6, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap();
    assert_eq!(e.next_after(far), None);
}

#[test]
fn out_of_range_values_name_the_field() {
    let cases = [
        ("60 * * * * * *", Field::Second, 60),
        ("60 * * * *", Field::Minute, 60),
        ("0 24 * * *", Field::Hour, 24),
        ("0 0 0 * *", Field::DayOfMonth, 0),
        ("0 0 32 * *", Field::DayOfMonth, 32),
        ("0 0 1 0 *", Field::Month, 0),
        ("0 0 1 13 *", Field::Month, 13),
        ("0 0 * * 8", Field::DayOfWeek, 8),
        ("0 0 1 1 * 1969", Field::Year, 1969),
        ("1-60 * * * *", Field::Minute, 60),
    ];
    for (s, field, value) in cases {
        match err(s) {
            Error::OutOfRange {
                field: f, value: v, ..
            } => {
                assert_eq!((f, v), (field, value), "{s:?}");
            }
            other => panic!("{s:?}: {other:?}"),
        }
    }
    let msg = err("0 24 * * *").to_string();
    assert_eq!(msg, "hour value 24 in \"24\" is out of range 0-23");
    assert!(matches!(
        err(&format!("{} * * * *", "9".repeat(30))),
        Error::OutOfRange {
            value: u64::MAX,
            ..
        }
    ));
}

#[test]
fn reversed_ranges_rejected() {
    for s in [
        "0 22-2 * * *",
        "0 0 * * fri-mon",
        "30-10 * * * *",
        "0 0 1 dec-jan *",
        "0 0 20-10 * *",
    ] {
        assert!(matches!(err(s), Error::ReversedRange { .. }), "{s:?}");
    }
    assert_eq!(
        err("0 22-2 * * *").to_string(),
        "hour range \"22-2\" is reversed: start 22 is after end 2 (wrap-around ranges are not \
         supported; use a list such as 22-23,0-2)"
    );
}

#[test]
fn bad_steps_rejected() {
    for s in [
        "*/0 * * * *",
        "*/60 * * * *",
        "50/15 * * * *",
        "5-10/55 * * * *",
        "*/-5 * * * *",
        "*/1/2 * * * *",
        "0 */24 * * *",
        "0 0 */31 * *",
        "0 0 1 */12 *",
        "0 0 * * */8",
    ] {
        assert!(matches!(err(s), Error::InvalidStep { .. }), "{s:?}");
    }
    assert_eq!(
        err("50/15 * * * *").to_string(),
        "invalid step in \"50/15\" of the minute field: the second value 65 (50 + 15) is past the maximum 59"
    );
}

#[test]
fn other_dialects_rejected() {
    for (s, what) in [
        ("0 0 15W * *", "'W'"),
        ("0 0 LW * *", "'LW'"),
        ("0 0 * * 5#3", "'#'"),
        ("H * * * *", "'H'"),
        ("H(0-29) * * * *", "'H'"),
    ] {
        match err(s) {
            Error::Unsupported { what: w, .. } => assert!(w.starts_with(what), "{s:?}: {w}"),
            other => panic!("{s:?}: {other:?}"),
        }
    }
    assert!(err("0 0 15W * *").to_string().contains("nearest weekday"));
}

#[test]
fn malformed_elements_rejected() {
    for s in [
        "1,,2 * * * *",
        ",1 * * * *",
        "1, * * * *",
        "1- * * * *",
        "-5 * * * *",
    ] {
        assert!(matches!(err(s), Error::EmptyItem { .. }), "{s:?}");
    }
    for s in [
        "1-2-3 * * * *",
        "*-5 * * * *",
        "5-* * * * *",
        "** * * * *",
        "x * * * *",
        "1.5 * * * *",
        "+5 * * * *",
    ] {
        assert!(matches!(err(s), Error::InvalidValue { .. }), "{s:?}");
    }
}

#[test]
fn from_str_and_equality() {
    let a: CronExpr = "@daily".parse().unwrap();
    let b = CronExpr::try_from("0 0 ? * *").unwrap();
    assert_eq!(a, b);
    // year * differs from an explicit full list (they differ before 1970 and after 2099).
    assert_ne!(
        CronExpr::parse("0 0 1 1 *").unwrap(),
        CronExpr::parse("0 0 1 1 * 1970-2099").unwrap()
    );
    assert_ne!(a, CronExpr::parse("0 0 * * * * *").unwrap()); // every second of minute 0
}

#[test]
fn matches_is_pythons_test() {
    let e = CronExpr::parse("*/15 9-17 * * mon-fri").unwrap();
    assert!(e.matches(at("2025-03-10 09:15:00")));
    assert!(!e.matches(at("2025-03-10 09:15:01")));
    assert!(!e.matches(at("2025-03-15 09:15:00"))); // Saturday
    let last = CronExpr::parse("0 0 L * L1").unwrap(); // a Monday that is the last day
    assert!(last.matches(at("2025-03-31 00:00:00")));
    assert!(!last.matches(at("2025-03-24 00:00:00")));
}

//! Daylight-saving behaviour of `next_in`: consecutive runs across each change day, with the
//! exact UTC instants expected under the documented policy.
//!
//! Europe/Berlin 2027: 03-28 01:00 UTC, 02:00 CET -> 03:00 CEST (wall 02:00-02:59 missing);
//! 10-31 01:00 UTC, 03:00 CEST -> 02:00 CET (wall 02:00-02:59 twice).
//! America/New_York 2025: 03-09 07:00 UTC, 02:00 EST -> 03:00 EDT (02:00-02:59 missing);
//! 11-02 06:00 UTC, 02:00 EDT -> 01:00 EST (01:00-01:59 twice).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use chrono_tz::Australia::Lord_Howe;
use chrono_tz::Europe::Berlin;
use chrono_tz::Pacific::Apia;
use rqs_cron::CronExpr;

fn utc(s: &str) -> DateTime<Utc> {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M")
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .and_utc()
}

/// Walks the schedule from `from`, feeding each run back in as `now`, and checks the
/// invariants of the policy on the way.
fn runs<Z: TimeZone>(expr: &str, zone: &Z, from: &str, n: usize) -> Vec<DateTime<Utc>> {
    let e = CronExpr::parse(expr).unwrap();
    let mut now = utc(from);
    let mut out: Vec<DateTime<Utc>> = Vec::new();
    for _ in 0..n {
        let t = e.next_in(now, zone).expect("a next run");
        assert!(t > now, "{expr}: {t} is not after now={now}");
        if let Some(prev) = out.last() {
            assert!(t > *prev, "{expr}: {t} repeats or goes back from {prev}");
        }
        out.push(t);
        now = t;
    }
    out
}

fn check<Z: TimeZone>(expr: &str, zone: &Z, from: &str, want: &[&str]) {
    let got = runs(expr, zone, from, want.len());
    let want: Vec<DateTime<Utc>> = want.iter().map(|s| utc(s)).collect();
    assert_eq!(got, want, "{expr} from {from}");
}

#[test]
fn berlin_spring_forward() {
    // 02:30 does not exist on 03-28: it runs at the transition, 01:00 UTC (03:00 CEST).
    check(
        "30 2 * * *",
        &Berlin,
        "2027-03-26 12:00",
        &[
            "2027-03-27 01:30",
            "2027-03-28 01:00",
            "2027-03-29 00:30",
            "2027-03-30 00:30",
        ],
    );
    // 02:00 and 02:30 collapse into one run at 01:00 UTC.
    check(
        "*/30 2 * * *",
        &Berlin,
        "2027-03-27 00:00",
        &[
            "2027-03-27 01:00",
            "2027-03-27 01:30",
            "2027-03-28 01:00",
            "2027-03-29 00:00",
            "2027-03-29 00:30",
        ],
    );
    // 02:00 (missing) and 03:00 CEST are the same instant: one run.
    check(
        "0 * * * *",
        &Berlin,
        "2027-03-27 22:30",
        &[
            "2027-03-27 23:00",
            "2027-03-28 00:00",
            "2027-03-28 01:00",
            "2027-03-28 02:00",
            "2027-03-28 03:00",
        ],
    );
    // 02:00, 02:15, 02:30, 02:45 (missing) and 03:00 collapse into 01:00 UTC.
    check(
        "*/15 * * * *",
        &Berlin,
        "2027-03-28 00:20",
        &[
            "2027-03-28 00:30",
            "2027-03-28 00:45",
            "2027-03-28 01:00",
            "2027-03-28 01:15",
            "2027-03-28 01:30",
        ],
    );
    check(
        "0 3 * * *",
        &Berlin,
        "2027-03-26 12:00",
        &["2027-03-27 02:00", "2027-03-28 01:00", "2027-03-29 01:00"],
    );
}

#[test]
fn berlin_fall_back() {
    // 02:30 happens twice on 10-31: only the first (CEST, 00:30 UTC) runs.
    check(
        "30 2 * * *",
        &Berlin,
        "2027-10-29 12:00",
        &[
            "2027-10-30 00:30",
            "2027-10-31 00:30",
            "2027-11-01 01:30",
            "2027-11-02 01:30",
        ],
    );
    check(
        "*/30 2 * * *",
        &Berlin,
        "2027-10-30 12:00",
        &[
            "2027-10-31 00:00",
            "2027-10-31 00:30",
            "2027-11-01 01:00",
            "2027-11-01 01:30",
        ],
    );
    // 02:00 CET (01:00 UTC, the repeated 02:00) does not run again.
    check(
        "0 * * * *",
        &Berlin,
        "2027-10-30 22:30",
        &[
            "2027-10-30 23:00",
            "2027-10-31 00:00",
            "2027-10-31 02:00",
            "2027-10-31 03:00",
        ],
    );
    // The repeated quarter hours 01:00-01:45 UTC are skipped.
    check(
        "*/15 * * * *",
        &Berlin,
        "2027-10-30 23:50",
        &[
            "2027-10-31 00:00",
            "2027-10-31 00:15",
            "2027-10-31 00:30",
            "2027-10-31 00:45",
            "2027-10-31 02:00",
            "2027-10-31 02:15",
        ],
    );
    check(
        "0 3 * * *",
        &Berlin,
        "2027-10-29 12:00",
        &["2027-10-30 01:00", "2027-10-31 02:00", "2027-11-01 02:00"],
    );
}

#[test]
fn new_york_spring_forward() {
    check(
        "30 2 * * *",
        &New_York,
        "2025-03-07 12:00",
        &[
            "2025-03-08 07:30",
            "2025-03-09 07:00",
            "2025-03-10 06:30",
            "2025-03-11 06:30",
        ],
    );
    check(
        "*/30 2 * * *",
        &New_York,
        "2025-03-08 00:00",
        &[
            "2025-03-08 07:00",
            "2025-03-08 07:30",
            "2025-03-09 07:00",
            "2025-03-10 06:00",
            "2025-03-10 06:30",
        ],
    );
    check(
        "0 * * * *",
        &New_York,
        "2025-03-09 04:30",
        &[
            "2025-03-09 05:00",
            "2025-03-09 06:00",
            "2025-03-09 07:00",
            "2025-03-09 08:00",
            "2025-03-09 09:00",
        ],
    );
    check(
        "*/15 * * * *",
        &New_York,
        "2025-03-09 06:20",
        &[
            "2025-03-09 06:30",
            "2025-03-09 06:45",
            "2025-03-09 07:00",
            "2025-03-09 07:15",
            "2025-03-09 07:30",
        ],
    );
    check(
        "0 3 * * *",
        &New_York,
        "2025-03-07 12:00",
        &["2025-03-08 08:00", "2025-03-09 07:00", "2025-03-10 07:00"],
    );
}

#[test]
fn new_york_fall_back() {
    // 02:xx is not repeated in New York (01:xx is).
    check(
        "30 2 * * *",
        &New_York,
        "2025-10-31 12:00",
        &["2025-11-01 06:30", "2025-11-02 07:30", "2025-11-03 07:30"],
    );
    check(
        "*/30 2 * * *",
        &New_York,
        "2025-11-01 00:00",
        &[
            "2025-11-01 06:00",
            "2025-11-01 06:30",
            "2025-11-02 07:00",
            "2025-11-02 07:30",
            "2025-11-03 07:00",
        ],
    );
    // 01:00 EST (06:00 UTC) is the repeat of 01:00 EDT (05:00 UTC): skipped.
    check(
        "0 * * * *",
        &New_York,
        "2025-11-02 03:30",
        &[
            "2025-11-02 04:00",
            "2025-11-02 05:00",
            "2025-11-02 07:00",
            "2025-11-02 08:00",
        ],
    );
    check(
        "*/15 * * * *",
        &New_York,
        "2025-11-02 04:50",
        &[
            "2025-11-02 05:00",
            "2025-11-02 05:15",
            "2025-11-02 05:30",
            "2025-11-02 05:45",
            "2025-11-02 07:00",
            "2025-11-02 07:15",
        ],
    );
    check(
        "0 3 * * *",
        &New_York,
        "2025-10-31 12:00",
        &["2025-11-01 07:00", "2025-11-02 08:00", "2025-11-03 08:00"],
    );
    // A job inside the repeated hour runs at its first occurrence only.
    check(
        "30 1 * * *",
        &New_York,
        "2025-11-01 12:00",
        &["2025-11-02 05:30", "2025-11-03 06:30"],
    );
}

#[test]
fn starting_inside_a_fold_or_just_before_a_gap() {
    let quarter = CronExpr::parse("*/15 * * * *").unwrap();
    // Second pass of the New York fold (01:10 EST): the rest of the fold already ran.
    assert_eq!(
        quarter.next_in(utc("2025-11-02 06:10"), &New_York),
        Some(utc("2025-11-02 07:00"))
    );
    // First pass (01:10 EDT): normal.
    assert_eq!(
        quarter.next_in(utc("2025-11-02 05:10"), &New_York),
        Some(utc("2025-11-02 05:15"))
    );
    let hourly = CronExpr::parse("0 * * * *").unwrap();
    assert_eq!(
        hourly.next_in(utc("2027-10-31 01:30"), &Berlin),
        Some(utc("2027-10-31 02:00"))
    );
    // One second before the Berlin gap: the missing 02:00 runs at the transition.
    let at_two = CronExpr::parse("0 2 * * *").unwrap();
    let just_before = Utc.with_ymd_and_hms(2027, 3, 28, 0, 59, 59).unwrap();
    assert_eq!(
        at_two.next_in(just_before, &Berlin),
        Some(utc("2027-03-28 01:00"))
    );
    // At the transition itself the gap run is over: next is tomorrow 02:00 CEST.
    assert_eq!(
        at_two.next_in(utc("2027-03-28 01:00"), &Berlin),
        Some(utc("2027-03-29 00:00"))
    );
    // Sub-second `now` just before a run.
    let now = utc("2027-03-28 00:59") + chrono::TimeDelta::milliseconds(59_999);
    assert_eq!(at_two.next_in(now, &Berlin), Some(utc("2027-03-28 01:00")));
}

#[test]
fn half_hour_gap_lord_howe() {
    // Australia/Lord_Howe 2025-10-05: 02:00 +10:30 -> 02:30 +11 at 15:30 UTC on 10-04.
    // 02:00 and 02:15 are missing and collapse with 02:30 into 15:30 UTC.
    check(
        "*/15 2 * * *",
        &Lord_Howe,
        "2025-10-04 12:00",
        &["2025-10-04 15:30", "2025-10-04 15:45", "2025-10-05 15:00"],
    );
}

#[test]
fn skipped_day_apia() {
    // Pacific/Apia skipped 2011-12-30 entirely (-10 -> +14 at 10:00 UTC that day).
    check(
        "0 12 * * *",
        &Apia,
        "2011-12-29 12:00",
        &["2011-12-29 22:00", "2011-12-30 10:00", "2011-12-30 22:00"],
    );
}

#[test]
fn utc_and_fixed_offsets_equal_next_after() {
    let e = CronExpr::parse("*/7 3-5 * * mon-fri").unwrap();
    let mut now = utc("2025-03-10 04:00");
    for _ in 0..50 {
        let a = e.next_in(now, &Utc).unwrap();
        assert_eq!(Some(a.naive_utc()), e.next_after(now.naive_utc()));
        now = a;
    }
    let ist = chrono::FixedOffset::east_opt(5 * 3600 + 1800).unwrap();
    let nine = CronExpr::parse("0 9 * * *").unwrap();
    // 09:00 IST = 03:30 UTC.
    assert_eq!(
        nine.next_in(utc("2025-03-10 12:00"), &ist),
        Some(utc("2025-03-11 03:30"))
    );
    // No run up to 2099: None, in any zone.
    let never = CronExpr::parse("0 0 30 2 *").unwrap();
    assert_eq!(never.next_in(utc("2025-03-10 12:00"), &Berlin), None);
}

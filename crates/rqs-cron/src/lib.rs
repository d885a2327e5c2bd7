//! Cron expressions with exactly the grammar and next-run semantics of the Python package
//! [`crontab`](https://pypi.org/project/crontab/) 1.0.5, which `rq-scheduler` 0.14 uses for
//! its cron jobs.
//!
//! rq-scheduler computes a cron job's next run as
//! `CronTab(cron_string).next(now=datetime.now(), return_datetime=True)`: a naive
//! wall-clock `now`, a naive wall-clock answer. [`CronExpr::next_after`] is that function.
//! [`CronExpr::next_in`] evaluates the same expression in the wall-clock time of any
//! [`chrono::TimeZone`] and answers with an instant, with a defined daylight-saving policy.
//!
//! ```
//! use chrono::NaiveDate;
//! use rqs_cron::CronExpr;
//!
//! let expr: CronExpr = "*/15 9-17 * * mon-fri".parse()?;
//! let now = NaiveDate::from_ymd_opt(2025, 3, 14).unwrap().and_hms_opt(17, 50, 0).unwrap(); // a Friday
//! let next = expr.next_after(now).unwrap();
//! assert_eq!(next.to_string(), "2025-03-17 09:00:00"); // the following Monday
//!
//! // Day-of-month and day-of-week are AND-ed: Friday the 13th.
//! let friday_13: CronExpr = "0 0 13 * 5".parse()?;
//! assert_eq!(friday_13.next_after(now).unwrap().to_string(), "2025-06-13 00:00:00");
//!
//! // Rejected like Python rejects it.
//! assert!("0 0 15W * *".parse::<CronExpr>().is_err());
//! # Ok::<(), rqs_cron::Error>(())
//! ```
//!
//! # Grammar
//!
//! * **Fields**, separated by whitespace (any character Python's `str.isspace()` accepts):
//!   * 5 fields: `minute hour day-of-month month day-of-week` (second 0, any year);
//!   * 6 fields: the same plus **year** as the sixth field (it is *not* seconds);
//!   * 7 fields: `second minute hour day-of-month month day-of-week year`.
//! * **Ranges of values**: second and minute 0-59, hour 0-23, day-of-month 1-31,
//!   month 1-12, day-of-week 0-7 (0 and 7 are Sunday), year 1970-2099.
//! * **Elements**, combined into comma-separated lists:
//!   * `*` every value; `?` is the same but only in day-of-month and day-of-week; a list
//!     containing `*` or `?` is the same as `*` (`1,*`), except as noted for `Z<n>`;
//!   * `v` one value; `a-b` a range (`a <= b`; wrap-around such as `22-2` is an error);
//!   * `*/n`, `a-b/n`, and `a/n` (= `a` to the end of the field's `*` span, step `n`);
//!     `n` must be positive, at most the field maximum, and `start + n` may not exceed the
//!     maximum either (`50/15` and `5-10/55` are errors in the minute field);
//!   * names `jan`..`dec` and `sun`..`sat` in any letter case, also as range ends;
//!     in day-of-week a range ending in Sunday (`sat-sun`, `5-0`) ends at 7;
//!   * `L` in day-of-month: the last day of the month;
//!   * `Z<n>` / `Z<a>-<b>` in day-of-month (0..7): `n` days before the last day
//!     (`Z0` = last day, `Z1` = the day before);
//!   * `L<d>` / `L<a>-<b>` in day-of-week (0..7): that weekday in the last seven days of
//!     the month (`L5` = last Friday).
//! * **Aliases** (exact, lowercase, nothing around them): `@yearly`, `@annually`
//!   (`0 0 1 1 *`), `@monthly` (`0 0 1 * *`), `@weekly` (`0 0 * * 0`), `@daily`
//!   (`0 0 * * *`), `@hourly` (`0 * * * *`).
//! * **Not supported** (an [`Error`]): `W`, `LW`, `#`, `H`, `@reboot`, `@midnight`,
//!   capitalised aliases, wrap-around ranges, any other field count.
//!
//! # Differences from Vixie cron
//!
//! * A restricted day-of-month **and** a restricted day-of-week must both match
//!   (`0 0 1 * 1` is "a Monday that is the first"); Vixie cron runs when *either* matches.
//! * Six fields mean a trailing year, seven add leading seconds.
//! * `L`, `Z<n>`, `L<d>` and the year field exist; `@reboot`, `@midnight` do not.
//! * `a/n` is accepted (Vixie needs `a-max/n`), with the `start + n <= max` rule above.
//! * Searching stops at the end of 2099: no match by then means no next run (`None`).
//!
//! # Python quirks that are reproduced
//!
//! The goal is to agree with Python on every input, so these oddities are kept:
//!
//! * a `Z<n>` element decides day-of-month on its own: `5,Z1` and `*,Z1` mean only
//!   "the day before the last day" (elements before it of the form `L` or `Z<a>-<b>` still
//!   count);
//! * `Z<a>-<b>` compares `a` and `b` as text: `Z07-1` is accepted and matches nothing,
//!   `Z5-07` is rejected; `L<a>-<b>` accepts reversed ranges, which match nothing;
//! * `L07` is accepted but never matches (only the literal `L7` means Sunday);
//! * in day-of-week `0-0` and `sun-sun` mean every day (the end 0 becomes 7), `a/n` and `*/n`
//!   stop at 6 (`1/2` is Mon, Wed, Fri), while `*/7` is Sunday only;
//! * numbers may use any Unicode decimal digits (`٥`), the step after `/` is read by
//!   Python's `int()` (`*/+5`, `*/0_5`), and a number with more than 4300 digits is an error;
//! * the year `*` is unbounded for the *first* candidate second: at 2099-12-31 23:59:59,
//!   `0 0 1 1 *` answers 2100-01-01 00:00:00, and before 1970 `*` matches normally, while an
//!   explicit list such as `1970-2099` does not match those years.
//!
//! # Daylight saving time
//!
//! [`CronExpr::next_in`] computes the next wall-clock match in the zone and maps it to an
//! instant with this policy:
//!
//! * a wall time skipped by a spring-forward gap runs once, at the end of the gap (the
//!   transition instant); several wall times in the same gap collapse into that one run,
//!   which also absorbs a match at the first wall time after the gap;
//! * a wall time that occurs twice in a fall-back fold runs once, at its first occurrence;
//!   during the repeated hour nothing in the fold runs again;
//! * the answer is always strictly after `now`.
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use rqs_cron::CronExpr;
//!
//! // A fixed-offset zone has no DST; next_in then equals next_after on local time.
//! let plus2 = chrono::FixedOffset::east_opt(2 * 3600).unwrap();
//! let expr: CronExpr = "0 9 * * *".parse()?;
//! let now = Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap(); // 14:00 local
//! let next = expr.next_in(now, &plus2).unwrap();
//! assert_eq!(next, Utc.with_ymd_and_hms(2025, 3, 11, 7, 0, 0).unwrap()); // 09:00 local
//! # Ok::<(), rqs_cron::Error>(())
//! ```
//!
//! Across the 2027 changes in Europe/Berlin (with the `chrono-tz` crate):
//!
//! ```
//! use chrono::{DateTime, TimeZone, Utc};
//! use chrono_tz::Europe::Berlin;
//! use rqs_cron::CronExpr;
//!
//! let utc = |d, h, m| Utc.with_ymd_and_hms(2027, 3, d, h, m, 0).unwrap();
//! let walk = |expr: &CronExpr, mut now: DateTime<Utc>, n: usize| {
//!     let mut runs = Vec::new();
//!     for _ in 0..n {
//!         now = expr.next_in(now, &Berlin).unwrap();
//!         runs.push(now);
//!     }
//!     runs
//! };
//! // 2027-03-28: at 01:00 UTC, 02:00 CET becomes 03:00 CEST; 02:00-02:59 does not exist.
//! let hourly: CronExpr = "0 * * * *".parse()?;
//! assert_eq!(walk(&hourly, utc(27, 23, 30), 3), [
//!     utc(28, 0, 0), // 01:00 CET
//!     utc(28, 1, 0), // the missing 02:00, together with 03:00 CEST
//!     utc(28, 2, 0), // 04:00 CEST
//! ]);
//! let half_past_two: CronExpr = "30 2 * * *".parse()?;
//! assert_eq!(walk(&half_past_two, utc(26, 12, 0), 3), [
//!     utc(27, 1, 30), // 02:30 CET
//!     utc(28, 1, 0),  // 02:30 does not exist: at the transition, 03:00 CEST
//!     utc(29, 0, 30), // 02:30 CEST
//! ]);
//!
//! // 2027-10-31: at 01:00 UTC, 03:00 CEST becomes 02:00 CET; 02:00-02:59 happens twice.
//! let utc = |d, h, m| Utc.with_ymd_and_hms(2027, 10, d, h, m, 0).unwrap();
//! let quarter: CronExpr = "*/15 * * * *".parse()?;
//! assert_eq!(walk(&quarter, utc(31, 0, 40), 3), [
//!     utc(31, 0, 45), // 02:45 CEST, first pass
//!     utc(31, 2, 0),  // 03:00 CET: the second pass of 02:00-02:59 is not run again
//!     utc(31, 2, 15),
//! ]);
//! # Ok::<(), rqs_cron::Error>(())
//! ```

mod error;
mod parse;
mod pychar;
mod zone;

use std::str::FromStr;

use chrono::{Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike};

pub use error::{Error, Field};

/// First year an explicit year element may name.
const YEAR_MIN: u32 = 1970;
/// Last year an explicit year element may name, and the end of the search.
const YEAR_MAX: u32 = 2099;

/// A parsed cron expression.
///
/// Each field is stored as the set of values it matches (bitmasks). The day-of-month set is
/// kept per month length and the day-of-week set for "in the last seven days of the month"
/// and "not", which is all that `L`, `Z<n>` and `L<d>` depend on. Equality is therefore
/// semantic: `0 0 ? * *` equals `@daily`, and `0 0 * * 7` equals `0 0 * * sun`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CronExpr {
    /// Bit s for each matching second.
    seconds: u64,
    /// Bit m for each matching minute.
    minutes: u64,
    /// Bit h for each matching hour.
    hours: u32,
    /// Index: month length - 28; bit d for each matching day.
    days: [u32; 4],
    /// Bit m (1..=12) for each matching month.
    months: u16,
    /// Index 0: days 1..=len-7, index 1: the last seven days; bit w (0 = Sunday).
    weekdays: [u8; 2],
    years: Years,
    /// Derived from `weekdays` (so equality stays semantic): for a month starting on weekday
    /// `[_][first]`, bit d for every day whose weekday is allowed; index 0 uses the
    /// "not last week" set, index 1 the "last week" set.
    weekday_days: [[u32; 7]; 2],
    /// Derived: for a year of type `[leap][weekday of 1 January]`, the months that contain at
    /// least one day matching month, day-of-month and day-of-week together.
    feasible_months: [[u16; 7]; 2],
}

/// The year field. `*` is kept apart from an explicit list covering 1970-2099, because only
/// `*` matches years outside that span (which Python lets happen, see [`CronExpr::next_after`]).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Years {
    any: bool,
    /// Bit y - 1970 for each matching year (all set when `any`).
    bits: [u64; 3],
}

impl Years {
    fn any() -> Years {
        let mut bits = [0u64; 3];
        for off in 0..=(YEAR_MAX - YEAR_MIN) as usize {
            bits[off / 64] |= 1 << (off % 64);
        }
        Years { any: true, bits }
    }

    fn contains(&self, year: i32) -> bool {
        if self.any {
            return true;
        }
        match u32::try_from(year) {
            Ok(y) if (YEAR_MIN..=YEAR_MAX).contains(&y) => {
                let off = (y - YEAR_MIN) as usize;
                self.bits[off / 64] & (1 << (off % 64)) != 0
            }
            _ => false,
        }
    }

    /// The smallest listed year >= `year` (explicit lists only).
    fn next_listed(&self, year: i32) -> Option<i32> {
        let from = year.max(YEAR_MIN as i32);
        (from..=YEAR_MAX as i32).find(|&y| self.contains(y))
    }

    /// The last year the search may reach once it has moved past the first candidate.
    fn last(&self) -> i32 {
        if self.any {
            return YEAR_MAX as i32;
        }
        (YEAR_MIN as i32..=YEAR_MAX as i32)
            .rev()
            .find(|&y| self.contains(y))
            .unwrap_or(0)
    }
}

/// The lowest set bit of `mask` at position >= `from`.
fn next_bit(mask: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let rest = mask & (u64::MAX << from);
    (rest != 0).then(|| rest.trailing_zeros())
}

/// Days before the first of each month, in a common year.
const DAYS_BEFORE_MONTH: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Weekday (0 = Sunday) of the first of `month`, given that of 1 January.
fn first_weekday(jan1: u32, leap: bool, month: u32) -> u32 {
    let before = DAYS_BEFORE_MONTH[(month - 1) as usize] + u32::from(leap && month > 2);
    (jan1 + before) % 7
}

/// Bits for the last seven days of a month of `eom` days.
fn last_week_bits(eom: u32) -> u32 {
    0x7f << (eom - 6)
}

fn is_leap(year: i32) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl CronExpr {
    /// Builds the expression from the field sets and precomputes the derived tables.
    fn from_fields(
        seconds: u64,
        minutes: u64,
        hours: u32,
        days: [u32; 4],
        months: u16,
        weekdays: [u8; 2],
        years: Years,
    ) -> CronExpr {
        let mut weekday_days = [[0u32; 7]; 2];
        for (table, allowed) in weekday_days.iter_mut().zip(weekdays) {
            let allowed = u64::from(allowed);
            for (first, mask) in table.iter_mut().enumerate() {
                // Day d falls on weekday (first + d - 1) % 7: rotate the weekday set so that
                // bit 0 is the month's first day, then repeat it every 7 days from bit 1.
                let week = ((allowed >> first) | (allowed << (7 - first))) & 0x7f;
                let month = week | week << 7 | week << 14 | week << 21 | week << 28;
                *mask = ((month << 1) & 0xffff_fffe) as u32;
            }
        }
        let mut expr = CronExpr {
            seconds,
            minutes,
            hours,
            days,
            months,
            weekdays,
            years,
            weekday_days,
            feasible_months: [[0; 7]; 2],
        };
        let mut feasible = [[0u16; 7]; 2];
        for (leap_idx, row) in feasible.iter_mut().enumerate() {
            let leap = leap_idx == 1;
            for (jan1, mask) in row.iter_mut().enumerate() {
                for month in 1..=12u32 {
                    let eom = match month {
                        2 if leap => 29,
                        other => days_in_month(2001, other),
                    };
                    let first = first_weekday(jan1 as u32, leap, month);
                    if months & (1 << month) != 0 && expr.matching_days(eom, first) != 0 {
                        *mask |= 1 << month;
                    }
                }
            }
        }
        expr.feasible_months = feasible;
        expr
    }

    /// Bit d for each day of a month (of `eom` days, starting on weekday `first`) on which
    /// both day fields match.
    fn matching_days(&self, eom: u32, first: u32) -> u32 {
        let last = last_week_bits(eom);
        let f = first as usize;
        let weekday_ok = (self.weekday_days[0][f] & !last) | (self.weekday_days[1][f] & last);
        self.days[(eom - 28) as usize] & weekday_ok
    }

    /// Parses with the grammar of Python's crontab 1.0.5 (as used by rq-scheduler).
    ///
    /// See the [crate documentation](crate) for the grammar. Exactly the strings that Python's
    /// `CronTab(s)` accepts are accepted.
    ///
    /// # Errors
    ///
    /// Returns an [`Error`] describing the first problem found: a wrong number of fields, an
    /// unknown alias, a value out of range, a reversed range, a bad step, unsupported syntax
    /// (`W`, `#`, `H`), a special element in the wrong field, and so on.
    ///
    /// ```
    /// use rqs_cron::{CronExpr, Error};
    /// assert!(CronExpr::parse("30 0 0 1 1 * *").is_ok()); // 7 fields: seconds first
    /// assert!(matches!(CronExpr::parse("* * * *"), Err(Error::FieldCount { found: 4 })));
    /// assert!(matches!(CronExpr::parse("0 22-2 * * *"), Err(Error::ReversedRange { .. })));
    /// ```
    pub fn parse(s: &str) -> Result<CronExpr, Error> {
        parse::parse(s)
    }

    /// crontab's `next(now=naive, return_datetime=True)`: the earliest matching wall-clock time
    /// strictly after `now` (sub-seconds dropped, then +1 s), or None when none exists up to 2099.
    ///
    /// The search starts at `now` truncated to the second plus one second, and returns the
    /// first second at which every field matches. It gives up after 31 December 2099.
    ///
    /// One Python corner is kept on purpose: the year bound is only applied once the search
    /// has moved past that first candidate second, so a first candidate after 2099 (or before
    /// 1970) is returned when it matches and the year field is `*`.
    ///
    /// The cost does not depend on how far away the answer is: the search jumps to the next
    /// allowed year, month, day, hour, minute and second with bitmask operations, and skips
    /// whole years in which no month can match (a table per kind of year, built by
    /// [`parse`](Self::parse)), so even `0 0 29 2 *`, a year far ahead or an expression that
    /// never matches takes well under a microsecond.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use rqs_cron::CronExpr;
    /// let e = CronExpr::parse("* * * * *").unwrap();
    /// let noon = NaiveDate::from_ymd_opt(2025, 3, 10).unwrap().and_hms_opt(12, 0, 0).unwrap();
    /// assert_eq!(e.next_after(noon).unwrap().to_string(), "2025-03-10 12:01:00");
    /// let never = CronExpr::parse("0 0 30 2 *").unwrap();
    /// assert_eq!(never.next_after(noon), None);
    /// ```
    pub fn next_after(&self, now: NaiveDateTime) -> Option<NaiveDateTime> {
        let start = now
            .with_nanosecond(0)?
            .checked_add_signed(TimeDelta::seconds(1))?;
        // Python tests the first candidate before it ever checks the year bound, so a
        // matching first candidate is the answer whatever its year.
        if self.matches(start) {
            return Some(start);
        }
        self.search(start)
    }

    /// Whether the wall-clock time `t` (to the second) matches every field; Python's
    /// `CronTab.test`.
    ///
    /// ```
    /// use chrono::NaiveDate;
    /// use rqs_cron::CronExpr;
    /// let last_friday = CronExpr::parse("0 18 * * L5").unwrap();
    /// let t = NaiveDate::from_ymd_opt(2025, 3, 28).unwrap().and_hms_opt(18, 0, 0).unwrap();
    /// assert!(last_friday.matches(t));
    /// assert!(!last_friday.matches(t - chrono::TimeDelta::days(7)));
    /// ```
    pub fn matches(&self, t: NaiveDateTime) -> bool {
        let (y, mo, d) = (t.year(), t.month(), t.day());
        let eom = days_in_month(y, mo);
        let wd = t.weekday().num_days_from_sunday();
        self.years.contains(y)
            && self.months & (1 << mo) != 0
            && self.days[(eom - 28) as usize] & (1 << d) != 0
            && self.weekdays[usize::from(d + 7 > eom)] & (1 << wd) != 0
            && self.hours & (1 << t.hour()) != 0
            && self.minutes & (1 << t.minute()) != 0
            && self.seconds & (1 << t.second()) != 0
    }

    /// The next run as an instant, evaluating the expression in wall-clock time of `zone`,
    /// with this daylight-saving policy: never return an instant <= `now`; a wall time that does
    /// not exist (spring-forward gap) runs once, at the first valid instant after the gap (the
    /// transition instant, e.g. 03:00 local in Europe/Berlin); a wall time that occurs twice
    /// (fall-back fold) runs once, at its first (earlier) occurrence, and the second pass of the
    /// fold does not run it again; several wall times inside one gap collapse into that single run.
    ///
    /// To walk a schedule, feed each answer back in as `now`. With [`chrono::Utc`] (or any
    /// fixed offset) the answer is [`next_after`](Self::next_after) applied to the local time.
    /// Returns `None` when there is no run up to the end of 2099 (wall-clock).
    ///
    /// Note: Python's rq-scheduler resolves a naive result with the host's rules instead
    /// (a time in a gap lands an hour early, possibly in the past); this policy deliberately
    /// avoids that.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rqs_cron::CronExpr;
    /// let e = CronExpr::parse("*/20 * * * * * *").unwrap();
    /// let now = Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 5).unwrap();
    /// assert_eq!(e.next_in(now, &Utc), Some(Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 20).unwrap()));
    /// ```
    pub fn next_in<Z: chrono::TimeZone>(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        zone: &Z,
    ) -> Option<chrono::DateTime<chrono::Utc>> {
        zone::next_in(self, now, zone)
    }

    /// The earliest match after `start` (which does not match), in a year no later than the
    /// year field allows (2099 for `*`).
    ///
    /// Python steps one unit of the first mismatching field at a time (a year, a month, a day,
    /// an hour...), resetting the smaller fields, which never skips a match; so its answer is
    /// the earliest match, and so is ours. We jump straight to the next allowed value instead.
    fn search(&self, start: NaiveDateTime) -> Option<NaiveDateTime> {
        let last_year = self.years.last();
        if self.feasible_months.iter().flatten().all(|&m| m == 0) {
            // No calendar has a day where month, day-of-month and day-of-week agree
            // (`0 0 30 2 *`, `0 0 1-7 * L5`): Python would scan to 2099 and give up.
            return None;
        }
        let (mut y, mut mo, mut d) = (start.year(), start.month(), start.day());
        let (mut h, mut mi, mut s) = (start.hour(), start.minute(), start.second());
        loop {
            // Carry overflows produced by the "advance" steps below.
            if s > 59 {
                s = 0;
                mi += 1;
            }
            if mi > 59 {
                mi = 0;
                h += 1;
            }
            if h > 23 {
                h = 0;
                d += 1;
            }
            if mo > 12 {
                mo = 1;
                y += 1;
            }
            if d > days_in_month(y, mo) {
                d = 1;
                mo += 1;
                if mo > 12 {
                    mo = 1;
                    y += 1;
                }
            }
            if y > last_year {
                return None;
            }

            if !self.years.contains(y) {
                y = self.years.next_listed(y + 1)?;
                (mo, d, h, mi, s) = (1, 1, 0, 0, 0);
                continue;
            }

            // Months of this year that have a matching day at all.
            let leap = is_leap(y);
            let jan1 = NaiveDate::from_ymd_opt(y, 1, 1)?
                .weekday()
                .num_days_from_sunday();
            let months = self.feasible_months[usize::from(leap)][jan1 as usize];
            match next_bit(u64::from(months), mo) {
                None => {
                    (mo, d, h, mi, s) = (13, 1, 0, 0, 0);
                    continue;
                }
                Some(m) if m != mo => (mo, d, h, mi, s) = (m, 1, 0, 0, 0),
                Some(_) => {}
            }

            let eom = days_in_month(y, mo);
            let days = self.matching_days(eom, first_weekday(jan1, leap, mo));
            match next_bit(u64::from(days), d) {
                None => {
                    (d, h, mi, s) = (32, 0, 0, 0);
                    continue;
                }
                Some(dd) if dd != d => (d, h, mi, s) = (dd, 0, 0, 0),
                Some(_) => {}
            }

            match next_bit(u64::from(self.hours), h) {
                None => {
                    (h, mi, s) = (24, 0, 0);
                    continue;
                }
                Some(hh) if hh != h => (h, mi, s) = (hh, 0, 0),
                Some(_) => {}
            }

            match next_bit(self.minutes, mi) {
                None => {
                    (mi, s) = (60, 0);
                    continue;
                }
                Some(m) if m != mi => (mi, s) = (m, 0),
                Some(_) => {}
            }

            match next_bit(self.seconds, s) {
                None => {
                    s = 60;
                    continue;
                }
                Some(ss) => {
                    return NaiveDate::from_ymd_opt(y, mo, d)?.and_hms_opt(h, mi, ss);
                }
            }
        }
    }
}

impl FromStr for CronExpr {
    type Err = Error;

    /// Same as [`CronExpr::parse`].
    ///
    /// # Errors
    ///
    /// See [`CronExpr::parse`].
    fn from_str(s: &str) -> Result<CronExpr, Error> {
        CronExpr::parse(s)
    }
}

impl TryFrom<&str> for CronExpr {
    type Error = Error;

    /// Same as [`CronExpr::parse`].
    ///
    /// # Errors
    ///
    /// See [`CronExpr::parse`].
    fn try_from(s: &str) -> Result<CronExpr, Error> {
        CronExpr::parse(s)
    }
}

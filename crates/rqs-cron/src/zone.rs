//! Mapping wall-clock matches to instants across daylight-saving changes.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeDelta, TimeZone, Utc};

use crate::CronExpr;

/// Longest stretch of wall time probed when looking for the end of a gap or a fold. Real
/// transitions are at most a day long (Pacific/Apia skipped 2011-12-30); this bound only
/// keeps a broken zone from looping.
const MAX_PROBE_SECS: i64 = 1 << 22; // about 48 days

pub(crate) fn next_in<Z: TimeZone>(
    expr: &CronExpr,
    now: DateTime<Utc>,
    zone: &Z,
) -> Option<DateTime<Utc>> {
    let mut wall = now.with_timezone(zone).naive_local();
    loop {
        let cand = expr.next_after(wall)?;
        match zone.from_local_datetime(&cand) {
            LocalResult::Single(t) => {
                let t = t.with_timezone(&Utc);
                if t > now {
                    return Some(t);
                }
                wall = cand;
            }
            LocalResult::Ambiguous(a, b) => {
                let first = a.with_timezone(&Utc).min(b.with_timezone(&Utc));
                if first > now {
                    return Some(first);
                }
                // `now` is in the repeated pass of a fold and this wall time already had its
                // run during the first pass. So had every later wall time of the same fold:
                // continue from the fold's last wall second, not one match at a time.
                wall = last_where(cand, |w| {
                    matches!(zone.from_local_datetime(&w), LocalResult::Ambiguous(..))
                })
                .unwrap_or(cand);
            }
            LocalResult::None => {
                // Spring-forward gap: run at the first instant after it, i.e. at the first
                // wall time that exists again. Every later match inside the same gap maps to
                // the same instant, and the search resumes from that wall time, so they all
                // collapse into this one run.
                let after = last_where(cand, |w| {
                    matches!(zone.from_local_datetime(&w), LocalResult::None)
                })
                .and_then(|w| w.checked_add_signed(TimeDelta::seconds(1)))?;
                let t = match zone.from_local_datetime(&after) {
                    LocalResult::Single(t) => t.with_timezone(&Utc),
                    LocalResult::Ambiguous(a, b) => {
                        a.with_timezone(&Utc).min(b.with_timezone(&Utc))
                    }
                    LocalResult::None => return None,
                };
                if t > now {
                    return Some(t);
                }
                wall = cand;
            }
        }
    }
}

/// The last wall time `w >= from` (to the second) such that `pred` holds on all of
/// `from..=w`, given that `pred(from)` holds. Gaps and folds are contiguous ranges of wall
/// time, so a doubling probe followed by bisection finds their end in ~2·log2(length) steps.
fn last_where(from: NaiveDateTime, pred: impl Fn(NaiveDateTime) -> bool) -> Option<NaiveDateTime> {
    let at = |secs: i64| from.checked_add_signed(TimeDelta::seconds(secs));
    // Invariant: pred holds at offset `good`, fails at offset `bad`.
    let mut good = 0i64;
    let mut bad = 1i64;
    loop {
        if !pred(at(bad)?) {
            break;
        }
        good = bad;
        bad *= 2;
        if bad > MAX_PROBE_SECS {
            return None;
        }
    }
    while bad - good > 1 {
        let mid = good + (bad - good) / 2;
        if pred(at(mid)?) {
            good = mid;
        } else {
            bad = mid;
        }
    }
    at(good)
}

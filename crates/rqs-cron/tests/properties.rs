//! Property tests: random valid expressions (built together with an independent model of
//! what they mean) and random instants. `next_after` must match every field, no earlier
//! second may match (checked by exhaustive enumeration over a bounded window), and
//! `next_in(Utc)` must agree.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeDelta, Timelike, Utc};
use chrono_tz::Europe::Berlin;
use proptest::prelude::*;
use rqs_cron::CronExpr;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Second,
    Minute,
    Hour,
    Dom,
    Month,
    Dow,
    Year,
}

impl Kind {
    /// (min, end of `*`, largest value an element may name)
    fn bounds(self) -> (u32, u32, u32) {
        match self {
            Kind::Second | Kind::Minute => (0, 59, 59),
            Kind::Hour => (0, 23, 23),
            Kind::Dom => (1, 31, 31),
            Kind::Month => (1, 12, 12),
            Kind::Dow => (0, 6, 7),
            Kind::Year => (1970, 2099, 2099),
        }
    }
}

/// One list element; rendering and meaning are derived separately below.
#[derive(Debug, Clone)]
enum El {
    Star,
    Question,
    Val(u32, bool),
    Range(u32, u32, bool),
    StarStep(u32),
    RangeStep(u32, u32, u32),
    StartStep(u32, u32),
    Last,
    ZRange(u32, u32),
    LastDow(u32),
}

const MONTHS: [&str; 12] = [
    "jan", "FEB", "Mar", "apr", "MAY", "jun", "Jul", "aug", "SEP", "oct", "Nov", "dec",
];
const DAYS: [&str; 7] = ["sun", "MON", "Tue", "wed", "THU", "fri", "Sat"];

fn name(kind: Kind, v: u32, named: bool) -> String {
    match kind {
        Kind::Month if named => MONTHS[v as usize - 1].to_owned(),
        Kind::Dow if named && v < 7 => DAYS[v as usize].to_owned(),
        _ => v.to_string(),
    }
}

fn render(kind: Kind, el: &El) -> String {
    match *el {
        El::Star => "*".into(),
        El::Question => "?".into(),
        El::Val(v, n) => name(kind, v, n),
        El::Range(a, b, n) => format!("{}-{}", name(kind, a, n), name(kind, b, n)),
        El::StarStep(s) => format!("*/{s}"),
        El::RangeStep(a, b, s) => format!("{a}-{b}/{s}"),
        El::StartStep(a, s) => format!("{a}/{s}"),
        El::Last => "L".into(),
        El::ZRange(a, b) => format!("Z{a}-{b}"),
        El::LastDow(d) => format!("L{d}"),
    }
}

/// The model of one field: plain values, `*`, and the month-dependent elements.
#[derive(Debug, Clone)]
struct Model {
    any: bool,
    values: Vec<u32>,
    last: bool,
    z: Vec<(u32, u32)>,
    last_dow: Vec<u32>,
}

fn model(kind: Kind, els: &[El]) -> Model {
    let (min, max, _) = kind.bounds();
    let mut m = Model {
        any: false,
        values: vec![],
        last: false,
        z: vec![],
        last_dow: vec![],
    };
    let mut push = |v: u32| {
        m.values
            .push(if kind == Kind::Dow && v == 7 { 0 } else { v })
    };
    for el in els {
        match *el {
            El::Star | El::Question => m.any = true,
            El::Val(v, _) => push(v),
            El::Range(a, b, _) => {
                // In day-of-week a range ending in 0 (Sunday) ends in 7.
                let b = if kind == Kind::Dow && b == 0 { 7 } else { b };
                (a..=b).for_each(&mut push);
            }
            El::StarStep(s) => (min..=max).step_by(s as usize).for_each(&mut push),
            El::RangeStep(a, b, s) => {
                let b = if kind == Kind::Dow && b == 0 { 7 } else { b };
                (a..=b).step_by(s as usize).for_each(&mut push);
            }
            El::StartStep(a, s) => (a..=max).step_by(s as usize).for_each(&mut push),
            El::Last => m.last = true,
            El::ZRange(a, b) => m.z.push((a, b)),
            El::LastDow(d) => m.last_dow.push(d % 7),
        }
    }
    m
}

impl Model {
    fn has(&self, v: u32) -> bool {
        self.any || self.values.contains(&v)
    }
}

#[derive(Debug, Clone)]
struct Expr {
    text: String,
    fields: Vec<Model>, // second, minute, hour, dom, month, dow, year
}

fn days_in_month(y: i32, m: u32) -> u32 {
    let first_next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    first_next.unwrap().pred_opt().unwrap().day()
}

impl Expr {
    fn day_ok(&self, d: NaiveDate) -> bool {
        let [_, _, _, dom, month, dow, year] = &self.fields[..] else {
            unreachable!()
        };
        let eom = days_in_month(d.year(), d.month());
        let day = d.day();
        let dom_ok = (dom.last && day == eom)
            || dom.z.iter().any(|&(a, b)| eom - b <= day && day <= eom - a)
            || dom.has(day);
        let wd = d.weekday().num_days_from_sunday();
        let dow_ok = (day + 7 > eom && dow.last_dow.contains(&wd)) || dow.has(wd);
        let year_ok = year.any || year.values.contains(&(d.year() as u32));
        year_ok && month.has(d.month()) && dom_ok && dow_ok
    }

    fn matches(&self, t: NaiveDateTime) -> bool {
        self.day_ok(t.date())
            && self.fields[2].has(t.hour())
            && self.fields[1].has(t.minute())
            && self.fields[0].has(t.second())
    }

    /// Exhaustive reference: every second from `start`, in order, over `days` days.
    fn brute(&self, start: NaiveDateTime, days: u32) -> Option<NaiveDateTime> {
        let mut date = start.date();
        for _ in 0..days {
            if self.day_ok(date) {
                for h in 0..24 {
                    for mi in 0..60 {
                        for s in 0..60 {
                            let t = date.and_hms_opt(h, mi, s).unwrap();
                            if t >= start
                                && self.fields[2].has(h)
                                && self.fields[1].has(mi)
                                && self.fields[0].has(s)
                            {
                                return Some(t);
                            }
                        }
                    }
                }
            }
            date = date.succ_opt()?;
        }
        None
    }
}

fn el_strategy(kind: Kind) -> BoxedStrategy<El> {
    let (min, max, limit) = kind.bounds();
    let mut options: Vec<(u32, BoxedStrategy<El>)> = vec![
        (
            6,
            (min..=limit, any::<bool>())
                .prop_map(|(v, n)| El::Val(v, n))
                .boxed(),
        ),
        (
            4,
            (min..=limit, 0..=limit - min, any::<bool>())
                .prop_map(move |(a, len, n)| El::Range(a, (a + len).min(limit), n))
                .boxed(),
        ),
        (2, (1..=limit - min).prop_map(El::StarStep).boxed()),
        (
            2,
            (min..limit, 0..=limit - min, 1..=limit - min)
                .prop_map(move |(a, len, s)| {
                    El::RangeStep(a, (a + len).min(limit), s.min(limit - a))
                })
                .boxed(),
        ),
        (
            2,
            (min..max, 1..=limit - min)
                .prop_map(move |(a, s)| El::StartStep(a, s.min(limit - a)))
                .boxed(),
        ),
    ];
    match kind {
        Kind::Dom => {
            options.push((2, Just(El::Last).boxed()));
            options.push((
                2,
                (0u32..=7, 0u32..=7)
                    .prop_map(|(a, l)| El::ZRange(a, (a + l).clamp(1, 7).max(a)))
                    .boxed(),
            ));
            options.push((1, Just(El::Question).boxed()));
        }
        Kind::Dow => {
            options.push((3, (0u32..=7).prop_map(El::LastDow).boxed()));
            options.push((1, Just(El::Question).boxed()));
        }
        _ => {}
    }
    proptest::strategy::Union::new_weighted(options).boxed()
}

fn field_strategy(kind: Kind, star_weight: u32) -> BoxedStrategy<Vec<El>> {
    prop_oneof![
        star_weight => Just(vec![El::Star]),
        10 => proptest::collection::vec(el_strategy(kind), 1..=3),
    ]
    .boxed()
}

fn expr_strategy() -> impl Strategy<Value = Expr> {
    (
        field_strategy(Kind::Second, 8),
        field_strategy(Kind::Minute, 5),
        field_strategy(Kind::Hour, 8),
        field_strategy(Kind::Dom, 14),
        field_strategy(Kind::Month, 14),
        field_strategy(Kind::Dow, 14),
        field_strategy(Kind::Year, 30),
        0u8..3,
    )
        .prop_map(|(sec, min, hour, dom, month, dow, year, form)| {
            let kinds = [
                Kind::Second,
                Kind::Minute,
                Kind::Hour,
                Kind::Dom,
                Kind::Month,
                Kind::Dow,
                Kind::Year,
            ];
            let mut lists = [sec, min, hour, dom, month, dow, year];
            // 5 fields: second 0 and year *; 6 fields: second 0.
            if form < 2 {
                lists[0] = vec![El::Val(0, false)];
            }
            if form == 0 {
                lists[6] = vec![El::Star];
            }
            let rendered: Vec<String> = kinds
                .iter()
                .zip(&lists)
                .map(|(k, els)| {
                    els.iter()
                        .map(|e| render(*k, e))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .collect();
            let text = match form {
                0 => rendered[1..6].join(" "),
                1 => rendered[1..].join(" "),
                _ => rendered.join(" "),
            };
            let fields = kinds
                .iter()
                .zip(&lists)
                .map(|(k, els)| model(*k, els))
                .collect();
            Expr { text, fields }
        })
}

/// Instants 1970..=2095 with sub-second parts; the window below then never reaches 2100.
fn instant_strategy() -> impl Strategy<Value = NaiveDateTime> {
    let lo = NaiveDate::from_ymd_opt(1970, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    let hi = NaiveDate::from_ymd_opt(2096, 1, 1)
        .unwrap()
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc()
        .timestamp();
    (lo..hi, prop_oneof![Just(0u32), 0u32..1_000_000_000])
        .prop_map(|(secs, nanos)| DateTime::from_timestamp(secs, nanos).unwrap().naive_utc())
}

const WINDOW_DAYS: u32 = 1200;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn next_after_is_the_earliest_match(expr in expr_strategy(), now in instant_strategy()) {
        let parsed = CronExpr::parse(&expr.text)
            .map_err(|e| TestCaseError::fail(format!("{:?} rejected: {e}", expr.text)))?;
        let start = now.with_nanosecond(0).unwrap() + TimeDelta::seconds(1);
        let got = parsed.next_after(now);
        let reference = expr.brute(start, WINDOW_DAYS);
        match (got, reference) {
            (got, Some(want)) => prop_assert_eq!(got, Some(want), "{:?} now={}", expr.text, now),
            (Some(t), None) => {
                // Beyond the window: it must still match and lie past the window.
                prop_assert!(t >= start + TimeDelta::days(i64::from(WINDOW_DAYS) - 1), "{:?} now={} got {}", expr.text, now, t);
                prop_assert!(expr.matches(t), "{:?}: {} does not match", expr.text, t);
            }
            (None, None) => {}
        }
        if let Some(t) = got {
            prop_assert!(t > now);
            prop_assert!(parsed.matches(t));
        }
        prop_assert_eq!(parsed.matches(start), expr.matches(start), "{:?} at {}", expr.text, start);
        // With UTC, next_in is next_after.
        prop_assert_eq!(parsed.next_in(now.and_utc(), &Utc), got.map(|t| t.and_utc()));
    }

    #[test]
    fn next_in_berlin_is_after_now_and_on_schedule(expr in expr_strategy(), now in instant_strategy()) {
        let parsed = CronExpr::parse(&expr.text).unwrap();
        let now = now.and_utc();
        if let Some(t) = parsed.next_in(now, &Berlin) {
            prop_assert!(t > now);
            let wall = t.with_timezone(&Berlin).naive_local();
            let before = (t - TimeDelta::seconds(1)).with_timezone(&Berlin).naive_local();
            // Either a wall-clock match, or the end of a gap (the wall clock jumped here).
            let gap_end = wall - before != TimeDelta::seconds(1);
            prop_assert!(parsed.matches(wall) || gap_end, "{:?} now={} got {} (wall {})", expr.text, now, t, wall);
        }
    }

    #[test]
    fn parse_never_panics(s in "[0-9*/,?LlZzWH#@a-zA-Z\\- \t\u{a0}\u{1c}\u{665}\u{b2}_+]{0,40}") {
        if let Ok(e) = CronExpr::parse(&s) {
            let t = NaiveDate::from_ymd_opt(2025, 3, 10).unwrap().and_hms_opt(12, 0, 0).unwrap();
            let _ = e.next_after(t);
            let _ = e.next_in(t.and_utc(), &Berlin);
        }
    }

    #[test]
    fn next_after_never_panics(expr in expr_strategy(), secs in any::<i64>()) {
        let parsed = CronExpr::parse(&expr.text).unwrap();
        let max = NaiveDateTime::MAX.and_utc().timestamp();
        let min = NaiveDateTime::MIN.and_utc().timestamp();
        let t = DateTime::from_timestamp(min + secs.rem_euclid(max - min), 0).unwrap().naive_utc();
        if let Some(n) = parsed.next_after(t) {
            prop_assert!(n > t);
        }
    }
}

//! The last hour of this instance's hand-offs, a bucket a minute (count, median and
//! largest lateness), kept in memory and drawn on the page as inline SVG: no script, no
//! asset, nothing read from Redis.

use std::fmt::Write;
use std::sync::Mutex;

/// Minutes kept and drawn.
pub(crate) const MINUTES: usize = 60;

/// Lateness classes of a minute: under 1 ms, then a quarter-octave each from 1 ms
/// (about 19% wide, so a median read from them is within 10% of the true one).
const CLASSES: usize = 100;

/// Hand-offs of one batch or one minute: how many, the largest lateness, and how many
/// fell in each lateness class.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tally {
    count: u64,
    min: f64,
    max: f64,
    classes: [u32; CLASSES],
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            count: 0,
            min: f64::INFINITY,
            max: 0.0,
            classes: [0; CLASSES],
        }
    }
}

fn class(late: f64) -> usize {
    if late.is_nan() || late < 0.001 {
        0
    } else {
        let q = (4.0 * (late * 1000.0).log2())
            .floor()
            .min((CLASSES - 2) as f64);
        1 + q as usize
    }
}

/// The middle of a class, in seconds.
fn middle(class: usize) -> f64 {
    if class == 0 {
        0.0005
    } else {
        0.001 * ((class as f64 - 0.5) / 4.0).exp2()
    }
}

impl Tally {
    /// One hand-off, `late` seconds after its due time.
    pub(crate) fn add(&mut self, late: f64) {
        self.count += 1;
        self.min = self.min.min(late);
        self.max = self.max.max(late);
        self.classes[class(late)] += 1;
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn merge(&mut self, other: &Tally) {
        self.count += other.count;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        for (a, b) in self.classes.iter_mut().zip(other.classes.iter()) {
            *a += b;
        }
    }

    /// The median lateness, to within its class, between the smallest and the largest;
    /// the largest when it falls in the open-ended top class (hours late).
    fn median(&self) -> f64 {
        let half = self.count.div_ceil(2);
        let mut seen = 0u64;
        for (c, n) in self.classes.iter().enumerate() {
            seen += u64::from(*n);
            if seen >= half {
                if c == CLASSES - 1 {
                    break;
                }
                return middle(c).clamp(self.min, self.max);
            }
        }
        self.max
    }
}

/// One minute as drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Minute {
    /// Unix time of its start.
    pub(crate) start: u64,
    pub(crate) count: u64,
    pub(crate) median: f64,
    pub(crate) max: f64,
}

/// The ring of the last [`MINUTES`] minutes, written by the scheduler's observer and
/// read by the page.
#[derive(Debug)]
pub(crate) struct Chart {
    ring: Mutex<Vec<(u64, Tally)>>,
}

impl Default for Chart {
    fn default() -> Self {
        Self {
            ring: Mutex::new(vec![(u64::MAX, Tally::default()); MINUTES]),
        }
    }
}

impl Chart {
    /// Adds a batch's hand-offs to the minute of `at` (Unix seconds).
    pub(crate) fn add(&self, at: f64, batch: &Tally) {
        let minute = (at.max(0.0) / 60.0) as u64;
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        let slot = &mut ring[(minute % MINUTES as u64) as usize];
        if slot.0 != minute {
            *slot = (minute, Tally::default());
        }
        slot.1.merge(batch);
    }

    /// The [`MINUTES`] minutes up to the one of `now`, oldest first.
    pub(crate) fn minutes(&self, now: f64) -> Vec<Minute> {
        let last = (now.max(0.0) / 60.0) as u64;
        let ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        (0..MINUTES as u64)
            .rev()
            .filter_map(|back| last.checked_sub(back))
            .map(|minute| {
                let (at, tally) = &ring[(minute % MINUTES as u64) as usize];
                let mut m = Minute {
                    start: minute * 60,
                    count: 0,
                    median: 0.0,
                    max: 0.0,
                };
                if *at == minute && !tally.is_empty() {
                    m.count = tally.count;
                    m.median = tally.median();
                    m.max = tally.max;
                }
                m
            })
            .collect()
    }
}

/// `3 ms`, `1.2 s`, `10 s`, `2 min`, `5 h`, `2532 d`: a lateness for people.
pub(crate) fn seconds(s: f64) -> String {
    match s {
        s if s < 0.001 => "<1 ms".to_owned(),
        s if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        s if s < 10.0 => format!("{s:.1} s"),
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 7200.0 => format!("{:.0} min", s / 60.0),
        s if s < 172_800.0 => format!("{:.0} h", s / 3600.0),
        s => format!("{:.0} d", s / 86_400.0),
    }
}

/// Grid lines of the lateness axis at most.
const LATENESS_LINES: f64 = 5.0;

const WIDTH: f64 = 720.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 12.0;
const PANEL: f64 = 90.0;
const GAP: f64 = 34.0;
const TOP: f64 = 18.0;

/// A "nice" ceiling for a count axis: 1, 2, 5, 10, 20, 50...
fn nice(n: u64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            if step.saturating_mul(m) >= n {
                return step.saturating_mul(m);
            }
        }
        step = step.saturating_mul(10);
    }
}

/// The chart as inline SVG: hand-offs per minute (bars), and the median and largest
/// lateness per minute (on a log scale from 1 ms), for `minutes` (oldest first).
pub(crate) fn svg(minutes: &[Minute]) -> String {
    let slots = minutes.len().max(1) as f64;
    let plot = WIDTH - LEFT - RIGHT;
    let step = plot / slots;
    let height = TOP + PANEL + GAP + PANEL + 26.0;
    let mut out = String::with_capacity(16 * 1024);
    let _ = write!(
        out,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" aria-labelledby=\"chart-title\">\
         <title id=\"chart-title\">Hand-offs per minute and their lateness, the last hour</title>"
    );
    // Panel 1: hand-offs per minute.
    let most = nice(minutes.iter().map(|m| m.count).max().unwrap_or(0).max(1));
    let base1 = TOP + PANEL;
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{LEFT}\" y=\"{:.1}\">hand-offs per minute</text>\
         <line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{:.1}\" y2=\"{TOP}\"/>\
         <line class=\"base\" x1=\"{LEFT}\" y1=\"{base1}\" x2=\"{:.1}\" y2=\"{base1}\"/>\
         <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{most}</text>\
         <text class=\"axis\" x=\"{:.1}\" y=\"{base1}\" text-anchor=\"end\">0</text>",
        TOP - 6.0,
        WIDTH - RIGHT,
        WIDTH - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        LEFT - 6.0,
    );
    for (i, m) in minutes.iter().enumerate() {
        if m.count == 0 {
            continue;
        }
        let h = (m.count as f64 / most as f64 * PANEL).max(1.0);
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\">\
             <title>{}: {} hand-offs</title></rect>",
            LEFT + i as f64 * step + 1.0,
            base1 - h,
            (step - 2.0).max(1.0),
            crate::output::rfc3339(m.start as f64),
            m.count,
        );
    }
    // Panel 2: lateness, log scale from 1 ms up to a decade above the largest.
    let top2 = base1 + GAP;
    let base2 = top2 + PANEL;
    let worst = minutes.iter().map(|m| m.max).fold(0.001, f64::max);
    let decades = (worst * 1000.0).log10().ceil().max(1.0);
    let y = |s: f64| base2 - ((s.max(0.001) * 1000.0).log10() / decades * PANEL);
    let _ = write!(
        out,
        "<text class=\"axis\" x=\"{LEFT}\" y=\"{:.1}\">lateness: \
         <tspan class=\"median\">median</tspan>, <tspan class=\"max\">largest</tspan></text>",
        top2 - 6.0
    );
    // A line every decade, or every few when the range is wide (jobs years late).
    let every = (decades / LATENESS_LINES).ceil().max(1.0) as u32;
    for d in (0..=decades as u32).step_by(every as usize) {
        let s = 0.001 * 10f64.powi(d as i32);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\"/>\
             <text class=\"axis\" x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"end\">{4}</text>",
            y(s),
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(s) + 4.0,
            seconds(s),
        );
    }
    for (class, pick) in [
        ("max", (|m: &Minute| m.max) as fn(&Minute) -> f64),
        ("median", |m: &Minute| m.median),
    ] {
        for (i, m) in minutes.iter().enumerate() {
            if m.count == 0 {
                continue;
            }
            let _ = write!(
                out,
                "<circle class=\"{class}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\"><title>{}: {class} {}</title></circle>",
                LEFT + (i as f64 + 0.5) * step,
                y(pick(m)),
                crate::output::rfc3339(m.start as f64),
                seconds(pick(m)),
            );
        }
    }
    // The time axis.
    for (i, label) in [(0, "-60 min"), (30, "-30 min"), (MINUTES, "now")] {
        let anchor = match i {
            0 => "start",
            MINUTES => "end",
            _ => "middle",
        };
        let _ = write!(
            out,
            "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{label}</text>",
            LEFT + i as f64 * step,
            base2 + 18.0,
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_keeps_count_median_and_largest() {
        let chart = Chart::default();
        let mut batch = Tally::default();
        for late in [0.002, 0.003, 0.004, 0.005, 9.0] {
            batch.add(late);
        }
        let now = 1_800_000_030.0;
        chart.add(now, &batch);
        let mut later = Tally::default();
        later.add(0.0001);
        chart.add(now - 120.0, &later);
        let minutes = chart.minutes(now);
        assert_eq!(minutes.len(), MINUTES);
        let last = minutes[MINUTES - 1];
        // 1800000000 is a whole minute.
        assert_eq!(last.start, 1_800_000_000);
        assert_eq!(last.count, 5);
        assert_eq!(last.max, 9.0);
        // The true median is 4 ms: the class's middle is within 10% of it.
        assert!((last.median - 0.004).abs() < 0.0004, "{}", last.median);
        assert_eq!(minutes[MINUTES - 3].count, 1);
        assert_eq!(minutes[MINUTES - 3].median, 0.0001);
        // Years late (a job due in 2020): past the top class, the median is no guess.
        let mut old = Tally::default();
        old.add(218_793_600.0);
        chart.add(now - 60.0, &old);
        let m = chart.minutes(now)[MINUTES - 2];
        assert_eq!((m.median, m.max), (218_793_600.0, 218_793_600.0));
        // An hour on, the ring's slots are other minutes: nothing is left.
        assert!(chart.minutes(now + 3600.0).iter().all(|m| m.count == 0));
    }

    #[test]
    fn classes_are_a_quarter_octave_from_one_millisecond() {
        assert_eq!(class(0.0), 0);
        assert_eq!(class(0.0009), 0);
        assert_eq!(class(0.001), 1);
        assert_eq!(class(0.002), 5);
        assert_eq!(class(f64::INFINITY), CLASSES - 1);
        for late in [0.001_5, 0.02, 0.7, 3.3, 61.0] {
            let m = middle(class(late));
            assert!((m / late - 1.0).abs() < 0.1, "{late}: {m}");
        }
    }

    #[test]
    fn lateness_reads_in_the_unit_that_fits() {
        assert_eq!(seconds(0.0004), "<1 ms");
        assert_eq!(seconds(0.0034), "3 ms");
        assert_eq!(seconds(1.25), "1.2 s");
        assert_eq!(seconds(10.0), "10 s");
        assert_eq!(seconds(600.0), "10 min");
        assert_eq!(seconds(18_000.0), "5 h");
        assert_eq!(seconds(218_793_600.0), "2532 d");
    }

    #[test]
    fn a_wide_lateness_range_keeps_few_grid_lines() {
        let chart = Chart::default();
        let mut batch = Tally::default();
        batch.add(0.002);
        batch.add(218_793_600.0);
        chart.add(1_800_000_000.0, &batch);
        let svg = svg(&chart.minutes(1_800_000_000.0));
        let lines = svg.matches("<line class=\"grid\"").count();
        // The count panel's top line, and at most six of the lateness panel.
        assert!(lines <= 7, "{lines} lines:\n{svg}");
    }

    #[test]
    fn the_svg_has_a_bar_per_busy_minute_and_no_script() {
        let chart = Chart::default();
        let mut batch = Tally::default();
        batch.add(0.003);
        chart.add(1_800_000_000.0, &batch);
        chart.add(1_800_000_000.0 - 600.0, &batch);
        let svg = svg(&chart.minutes(1_800_000_000.0));
        assert_eq!(svg.matches("<rect class=\"bar\"").count(), 2, "{svg}");
        assert_eq!(svg.matches("<circle class=\"median\"").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("<script") && !svg.contains("href"));
    }
}

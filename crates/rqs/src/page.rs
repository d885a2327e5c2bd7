//! The status page at `/`: server-rendered HTML with its stylesheet compiled in, no
//! script, refreshed by the browser every few seconds. Every value a client wrote (ids,
//! descriptions, function names, queue names, reasons) goes through [`esc`].

use std::fmt::Write;

use rqs_core::keys;

use crate::inspect::{JobSummary, Overview, QuarantineEntry, Stamp};
use crate::jobinfo::runs_label;
use crate::output;

const CSS: &str = include_str!("../assets/status.css");

/// Seconds between the browser's reloads.
pub(crate) const REFRESH_SECONDS: u32 = 5;

/// The instance serving the page.
#[derive(Debug)]
pub(crate) struct Here<'a> {
    pub(crate) instance: &'a str,
    pub(crate) active: bool,
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn head(out: &mut String) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">\
         <title>rqs status</title><style>{CSS}</style></head><body>"
    );
}

fn header(out: &mut String, here: &Here<'_>, generated: Option<f64>) {
    let role = if here.active {
        "the active instance"
    } else {
        "a standby instance"
    };
    let at = generated.map_or_else(String::new, |g| {
        format!(" · generated {}", output::rfc3339(g))
    });
    let _ = write!(
        out,
        "<header><h1><span>rqs</span> status</h1><p class=\"sub\">served by <code>{}</code>, \
         {role}{at} · refreshes every {REFRESH_SECONDS} s · read-only</p></header>",
        esc(here.instance),
    );
}

fn footer(out: &mut String) {
    let _ = writeln!(
        out,
        "<footer>rqs {} · <a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a> · \
         <a href=\"/readyz\">/readyz</a></footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
}

fn card(out: &mut String, id: &str, label: &str, value: &str, note: &str, small: bool) {
    let class = if small { "value small" } else { "value" };
    let _ = write!(
        out,
        "<div class=\"card\" id=\"{id}\"><span class=\"label\">{label}</span>\
         <span class=\"{class}\">{}</span><span class=\"note\">{}</span></div>",
        esc(value),
        esc(note)
    );
}

fn time_cell(at: Option<Stamp>, now: f64) -> String {
    at.map_or_else(
        || "<span class=\"muted\">-</span>".to_owned(),
        |s| {
            format!(
                "{}<br><span class=\"muted\">{}</span>",
                esc(&output::rfc3339(s.0)),
                esc(&output::relative(s.0, now))
            )
        },
    )
}

/// `1.5 MiB`: a size for people.
fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / f64::from(1 << 20)),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / f64::from(1 << 10)),
        n => format!("{n} bytes"),
    }
}

/// A field left unread for its size.
fn unread(what: &str, size: u64) -> String {
    format!(
        "<span class=\"muted\" title=\"not read: larger than the page reads\">{} of {}, not shown</span>",
        esc(what),
        bytes(size)
    )
}

/// The page. A section that could not be read (`Err`: why) says so; the rest is shown.
pub(crate) fn render(
    here: &Here<'_>,
    o: &Overview,
    jobs: &Result<Vec<JobSummary>, String>,
    quarantine: &Result<Vec<QuarantineEntry>, String>,
) -> String {
    let now = o.generated.0;
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out);
    header(&mut out, here, Some(now));

    if !o.problems.is_empty() {
        out.push_str("<section id=\"problems\"><h2 class=\"bad\">Keys rqs cannot read</h2><ul>");
        for p in &o.problems {
            let _ = write!(
                out,
                "<li><code>{}</code>: <span class=\"bad\">{}</span></li>",
                esc(&p.key),
                esc(&p.error)
            );
        }
        out.push_str("</ul></section>");
    }

    out.push_str("<section class=\"cards\">");
    card(
        &mut out,
        "scheduled",
        "Scheduled",
        &o.scheduled.to_string(),
        "jobs in the schedule",
        false,
    );
    card(
        &mut out,
        "due",
        "Due now",
        &o.due.to_string(),
        "waiting for a hand-off",
        false,
    );
    match o.next_due {
        Some(s) => card(
            &mut out,
            "next-due",
            "Next due",
            &output::rfc3339(s.0),
            &output::relative(s.0, now),
            true,
        ),
        None => card(
            &mut out,
            "next-due",
            "Next due",
            "none",
            "the schedule is empty",
            true,
        ),
    }
    match o.quarantined {
        Some(n) => card(
            &mut out,
            "quarantined",
            "Quarantined",
            &n.to_string(),
            "set aside, see below",
            false,
        ),
        None => card(
            &mut out,
            "quarantined",
            "Quarantined",
            "unreadable",
            "rq:rqs:quarantine: see above",
            true,
        ),
    }
    let (holder, note) = match &o.lock {
        _ if o.problem(keys::SCHEDULER_LOCK).is_some() => (
            "unreadable".to_owned(),
            "rq:scheduler_lock: see above".to_owned(),
        ),
        Some(l) if l.holder.is_some() => (l.label(), "holds rq:scheduler_lock".to_owned()),
        Some(l) => (l.label(), String::new()),
        None => ("nobody".to_owned(), "no instance acts right now".to_owned()),
    };
    card(&mut out, "holder", "Lock holder", &holder, &note, true);
    out.push_str("</section>");

    out.push_str("<section id=\"instances\"><h2>Instances</h2>");
    if o.instances.is_empty() {
        out.push_str("<p class=\"empty\">No scheduler instance is registered.</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>Instance</th><th>Software</th><th>State</th><th>Born</th>\
             <th>Last heartbeat</th><th>Died</th></tr></thead><tbody>",
        );
        for i in &o.instances {
            let state = if i.alive {
                "<span class=\"badge alive\">alive</span>"
            } else {
                "<span class=\"badge dead\">dead</span>"
            };
            let lock = if i.holds_lock {
                " <span class=\"badge lock\">holds the lock</span>"
            } else {
                ""
            };
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td>{}</td><td>{state}{lock}</td><td class=\"time\">{}</td><td class=\"time\">{}</td><td class=\"time\">{}</td></tr>",
                esc(&i.name),
                esc(&i.software),
                time_cell(i.birth, now),
                time_cell(i.heartbeat, now),
                time_cell(i.death, now),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    out.push_str("<section id=\"upcoming\"><h2>Upcoming jobs</h2>");
    match jobs {
        Ok(jobs) => upcoming(&mut out, o, jobs, now),
        Err(e) => section_error(&mut out, e),
    }
    out.push_str("</section>");

    out.push_str("<section id=\"quarantine\"><h2>Quarantine</h2>");
    match quarantine {
        Ok(entries) => quarantined(&mut out, o, entries, now),
        Err(e) => section_error(&mut out, e),
    }
    out.push_str("</section>");
    footer(&mut out);
    out
}

fn section_error(out: &mut String, error: &str) {
    let _ = write!(
        out,
        "<p class=\"bad\">Cannot read this part: <span class=\"mono\">{}</span></p>",
        esc(error)
    );
}

fn upcoming(out: &mut String, o: &Overview, jobs: &[JobSummary], now: f64) {
    if jobs.is_empty() {
        out.push_str("<p class=\"empty\">Nothing is scheduled.</p>");
    } else {
        if (jobs.len() as u64) < o.scheduled {
            let _ = write!(
                out,
                "<p class=\"sub\">the first {} of {}</p>",
                jobs.len(),
                o.scheduled
            );
        }
        out.push_str(
            "<table><thead><tr><th>Next run</th><th>Id</th><th>Function</th><th>Queue</th>\
             <th>Kind</th><th>Repeats left</th><th>Description</th></tr></thead><tbody>",
        );
        for j in jobs {
            let meta = j.unread("meta");
            let kind = if j.missing {
                "<span class=\"bad\">missing hash</span>".to_owned()
            } else if let Some(size) = meta {
                unread("meta", size)
            } else if let crate::jobinfo::Kind::Invalid { reason } = &j.kind {
                format!(
                    "<span class=\"bad\" title=\"{}\">invalid</span>",
                    esc(reason)
                )
            } else {
                esc(&j.kind.label())
            };
            let runs = if j.missing || meta.is_some() {
                "-".to_owned()
            } else {
                runs_label(j.repeats_left)
            };
            let text = |field: &str, value: &Option<String>, absent: &str| match j.unread(field) {
                Some(size) => unread(field, size),
                None => esc(value.as_deref().unwrap_or(absent)),
            };
            let function = match j.unread("data") {
                Some(size) => unread("the call", size),
                None => esc(j.function.as_deref().unwrap_or("-")),
            };
            let _ = write!(
                out,
                "<tr><td class=\"time\">{}</td><td class=\"id\">{}</td><td class=\"mono\">{function}</td><td>{}</td>\
                 <td class=\"mono\">{kind}</td><td>{}</td><td>{}</td></tr>",
                time_cell(Some(j.due), now),
                esc(&j.id),
                text("origin", &j.queue, "-"),
                esc(&runs),
                text("description", &j.description, ""),
            );
        }
        out.push_str("</tbody></table>");
    }
}

fn quarantined(out: &mut String, o: &Overview, entries: &[QuarantineEntry], now: f64) {
    if entries.is_empty() {
        out.push_str("<p class=\"empty\">The quarantine is empty.</p>");
    } else {
        if let Some(total) = o.quarantined.filter(|n| *n > entries.len() as u64) {
            let _ = write!(
                out,
                "<p class=\"sub\">{} of {total} shown; <code>rqs quarantine list</code> lists them all</p>",
                entries.len()
            );
        }
        out.push_str(
            "<table><thead><tr><th>Id</th><th>Since</th><th>Kind</th><th>Was due</th>\
             <th>Reason</th></tr></thead><tbody>",
        );
        for q in entries {
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td class=\"time\">{}</td><td class=\"mono\">{}</td><td class=\"time\">{}</td><td class=\"warn\">{}</td></tr>",
                esc(&q.id),
                time_cell(Some(q.since), now),
                esc(q.kind.as_deref().unwrap_or("-")),
                time_cell(q.score, now),
                esc(&q.reason),
            );
        }
        out.push_str("</tbody></table>");
    }
}

/// The page when Redis cannot be read.
pub(crate) fn render_error(here: &Here<'_>, error: &str) -> String {
    let mut out = String::new();
    head(&mut out);
    header(&mut out, here, None);
    let _ = write!(
        out,
        "<section id=\"error\"><h2 class=\"bad\">Cannot read Redis</h2><p class=\"mono\">{}</p></section>",
        esc(error)
    );
    footer(&mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc("<img src=x onerror=\"alert('1')\"> & co"),
            "&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt; &amp; co"
        );
    }
}

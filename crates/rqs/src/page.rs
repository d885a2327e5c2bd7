//! The status page at `/`: server-rendered HTML with its stylesheet compiled in, no
//! script, refreshed by the browser every few seconds. Every value a client wrote (ids,
//! descriptions, function names, queue names, reasons) goes through [`esc`].

use std::fmt::Write;

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

/// The page.
pub(crate) fn render(
    here: &Here<'_>,
    o: &Overview,
    jobs: &[JobSummary],
    quarantine: &[QuarantineEntry],
) -> String {
    let now = o.generated.0;
    let mut out = String::with_capacity(16 * 1024);
    head(&mut out);
    header(&mut out, here, Some(now));

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
    card(
        &mut out,
        "quarantined",
        "Quarantined",
        &o.quarantined.to_string(),
        "set aside, see below",
        false,
    );
    let (holder, note) = match &o.lock {
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

    let _ = write!(out, "<section id=\"upcoming\"><h2>Upcoming jobs</h2>");
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
            let kind = if j.missing {
                "<span class=\"bad\">missing hash</span>".to_owned()
            } else if let crate::jobinfo::Kind::Invalid { reason } = &j.kind {
                format!(
                    "<span class=\"bad\" title=\"{}\">invalid</span>",
                    esc(reason)
                )
            } else {
                esc(&j.kind.label())
            };
            let runs = if j.missing {
                "-".to_owned()
            } else {
                runs_label(j.repeats_left)
            };
            let _ = write!(
                out,
                "<tr><td class=\"time\">{}</td><td class=\"id\">{}</td><td class=\"mono\">{}</td><td>{}</td>\
                 <td class=\"mono\">{kind}</td><td>{}</td><td>{}</td></tr>",
                time_cell(Some(j.due), now),
                esc(&j.id),
                esc(j.function.as_deref().unwrap_or("-")),
                esc(j.queue.as_deref().unwrap_or("-")),
                esc(&runs),
                esc(j.description.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</section>");

    out.push_str("<section id=\"quarantine\"><h2>Quarantine</h2>");
    if quarantine.is_empty() {
        out.push_str("<p class=\"empty\">The quarantine is empty.</p>");
    } else {
        out.push_str(
            "<table><thead><tr><th>Id</th><th>Since</th><th>Kind</th><th>Was due</th>\
             <th>Reason</th></tr></thead><tbody>",
        );
        for q in quarantine {
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
    out.push_str("</section>");
    footer(&mut out);
    out
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

//! The status page at `/`: server-rendered HTML with its stylesheet compiled in, no
//! script, refreshed by the browser every few seconds. Every value a client wrote (ids,
//! descriptions, function names, queue names, reasons, pause notes, the search text)
//! goes through [`esc`]. It only reads: what an operator may do is shown as the `rqs`
//! command to copy, never as a button.

use std::fmt::Write;

use rqs_core::keys;

use crate::chart::{self, Minute};
use crate::history::{self, Entry};
use crate::inspect::{JobsPage, Overview, QuarantineEntry, SEARCH_READS, Stamp};
use crate::jobinfo::runs_label;
use crate::output;
use crate::page_query::{PageQuery, shell_word};
use crate::pause_banner::{Pauses, Scope, Until};

const CSS: &str = include_str!("../assets/status.css");

/// The page's controls: the pause banner, the search form, paging, the commands to copy
/// and the chart.
const CONTROLS_CSS: &str = "
.banner { background: #fff4e0; border: 1px solid #f0c36d; border-radius: 8px; padding: 10px 14px; margin-top: 14px; }
.banner strong { color: var(--warn); }
.banner code { background: #fff; padding: 1px 5px; border-radius: 4px; user-select: all; }
.card a.fill { display: block; color: inherit; text-decoration: none; }
.card a.fill:hover .label { color: var(--accent); }
a { color: var(--accent); }
.search { display: flex; gap: 8px; align-items: center; flex-wrap: wrap; margin: 0 0 10px; }
.search input { font: inherit; padding: 5px 10px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); }
.search input[type=search] { min-width: 320px; }
.pager { display: flex; gap: 16px; align-items: baseline; margin: 8px 0; }
details summary { cursor: pointer; color: var(--muted); font-size: 12px; white-space: nowrap; }
details code { display: block; white-space: pre; margin-top: 3px; user-select: all; }
.split { display: grid; grid-template-columns: 722px minmax(0, 1fr); gap: 16px; align-items: start; }
@media (max-width: 1180px) { .split { grid-template-columns: minmax(0, 1fr); } }
.split .sub { margin-bottom: 6px; }
#history td { padding: 4px 10px; }
svg.chart { background: var(--card); border: 1px solid var(--line); border-radius: 8px; max-width: 100%; height: auto; }
svg .bar { fill: var(--accent); }
svg .grid { stroke: var(--line); }
svg .base { stroke: #c9ced8; }
svg .axis { fill: var(--muted); font-size: 11px; }
svg .median { fill: var(--ok); }
svg .max { fill: var(--bad); }
";

/// Entries of the hand-off history the page lists.
pub(crate) const HISTORY_ROWS: usize = 12;

/// What the page shows besides the overview; a part that could not be read is `Err`
/// (why), and the rest is shown.
#[derive(Debug)]
pub(crate) struct Parts<'a> {
    pub(crate) query: &'a PageQuery,
    pub(crate) jobs: Result<JobsPage, String>,
    pub(crate) quarantine: Result<Vec<QuarantineEntry>, String>,
    /// The history's length and its newest entries.
    pub(crate) history: Result<(u64, Vec<Entry>), String>,
    pub(crate) pauses: Result<Pauses, String>,
    /// This instance's last hour, a minute each.
    pub(crate) chart: Vec<Minute>,
    /// `--page-show-args`: show descriptions that hold a call's arguments.
    pub(crate) show_args: bool,
}

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

/// `refresh`: the browser reloads the page by itself (not a search, whose text would be
/// lost while typed).
fn head(out: &mut String, refresh: bool) {
    let refresh = if refresh {
        format!("<meta http-equiv=\"refresh\" content=\"{REFRESH_SECONDS}\">")
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>rqs status</title><style>{CSS}{CONTROLS_CSS}</style></head><body>"
    );
}

fn header(out: &mut String, here: &Here<'_>, generated: Option<f64>, refresh: bool) {
    let role = if here.active {
        "the active instance"
    } else {
        "a standby instance"
    };
    let at = generated.map_or_else(String::new, |g| {
        format!(" · generated {}", output::rfc3339(g))
    });
    let refreshes = if refresh {
        format!("refreshes every {REFRESH_SECONDS} s")
    } else {
        "<a href=\"/\">back to the page that refreshes itself</a>".to_owned()
    };
    let _ = write!(
        out,
        "<header><h1><span>rqs</span> status</h1><p class=\"sub\">served by <code>{}</code>, \
         {role}{at} · {refreshes} · read-only</p></header>",
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
    linked_card(out, id, label, value, note, small, None);
}

/// A card; with `href`, the whole card is a link (to a section of the page).
fn linked_card(
    out: &mut String,
    id: &str,
    label: &str,
    value: &str,
    note: &str,
    small: bool,
    href: Option<&str>,
) {
    let class = if small { "value small" } else { "value" };
    let (open, close) = match href {
        Some(href) => (format!("<a class=\"fill\" href=\"{href}\">"), "</a>"),
        None => (String::new(), ""),
    };
    let _ = write!(
        out,
        "<div class=\"card\" id=\"{id}\">{open}<span class=\"label\">{label}</span>\
         <span class=\"{class}\">{}</span><span class=\"note\">{}</span>{close}</div>",
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
pub(crate) fn render(here: &Here<'_>, o: &Overview, parts: &Parts<'_>) -> String {
    let now = o.generated.0;
    let query = parts.query;
    let refresh = !query.is_search() && query.offset == 0;
    let mut out = String::with_capacity(32 * 1024);
    head(&mut out, refresh);
    header(&mut out, here, Some(now), refresh);

    match &parts.pauses {
        Ok(pauses) => banners(&mut out, pauses, now),
        Err(e) => {
            let _ = write!(
                out,
                "<section id=\"paused\"><div class=\"banner\"><strong>Cannot read the pauses</strong> \
                 (<code>{}</code>): <span class=\"mono\">{}</span></div></section>",
                keys::PAUSED,
                esc(e)
            );
        }
    }

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
        Some(n) => linked_card(
            &mut out,
            "quarantined",
            "Quarantined",
            &n.to_string(),
            "set aside: see the quarantine below",
            false,
            Some("#quarantine"),
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
    search_form(&mut out, query);
    match &parts.jobs {
        Ok(jobs) => upcoming(&mut out, o, jobs, query, now, parts.show_args),
        Err(e) => section_error(&mut out, e),
    }
    out.push_str("</section>");

    out.push_str("<section id=\"handoffs\"><h2>Recent hand-offs</h2>");
    recent(&mut out, here, &parts.chart, &parts.history, now);
    out.push_str("</section>");

    out.push_str("<section id=\"quarantine\"><h2>Quarantine</h2>");
    match &parts.quarantine {
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

/// One banner per pause in force, every queue's first.
fn banners(out: &mut String, pauses: &Pauses, now: f64) {
    let mut open = false;
    for p in pauses.in_force(now) {
        if !open {
            out.push_str("<section id=\"paused\">");
            open = true;
        }
        let what = match &p.scope {
            Scope::All => "<strong>Paused: every queue</strong>".to_owned(),
            Scope::Queue { name, cut } => format!(
                "<strong>Paused: queue</strong> <code>{}</code>{}",
                esc(name),
                if *cut { " (name cut)" } else { "" }
            ),
        };
        let mut details = Vec::new();
        match &p.note {
            Some(Ok(note)) => {
                if let Some(reason) = &note.reason {
                    details.push(format!("why: {}", esc(reason)));
                }
                if let Some(by) = &note.by {
                    details.push(format!("by <code>{}</code>", esc(by)));
                }
                if let Some(at) = note.at {
                    details.push(format!(
                        "since {} ({})",
                        esc(&output::rfc3339(at)),
                        esc(&output::relative(at, now))
                    ));
                }
            }
            Some(Err(e)) => details.push(format!("note unreadable: {}", esc(e))),
            None => details.push("no note".to_owned()),
        }
        details.push(match &p.until {
            Until::Resumed => "until resumed".to_owned(),
            Until::At(end) => format!(
                "until {} ({})",
                esc(&output::rfc3339(*end)),
                esc(&output::relative(*end, now))
            ),
            Until::Unreadable(raw) => format!("end unreadable: <code>{}</code>", esc(raw)),
        });
        let _ = write!(
            out,
            "<div class=\"banner\">{what} · {} · resume with <code>{}</code></div>",
            details.join(" · "),
            esc(&p.resume_command())
        );
    }
    let more = pauses.total.saturating_sub(pauses.read.len() as u64);
    if more > 0 {
        if !open {
            out.push_str("<section id=\"paused\">");
            open = true;
        }
        let _ = write!(
            out,
            "<div class=\"banner\">and {more} more pauses in <code>{}</code>, not read for the page</div>",
            keys::PAUSED
        );
    }
    if open {
        out.push_str("</section>");
    }
}

fn search_form(out: &mut String, query: &PageQuery) {
    let clear = if query.is_search() {
        " <a href=\"/\">clear</a>"
    } else {
        ""
    };
    let _ = write!(
        out,
        "<form class=\"search\" method=\"get\" action=\"/\" role=\"search\">\
         <input type=\"search\" name=\"q\" value=\"{}\" maxlength=\"{}\" \
         placeholder=\"id, function or queue\" aria-label=\"search the schedule\">\
         <input type=\"submit\" value=\"Search\">{clear}\
         <span class=\"muted\">a case-insensitive substring of the id, the function or the queue \
         (no wildcards); a search reads at most {} jobs per page</span></form>",
        esc(&query.q),
        crate::page_query::MAX_QUERY_CHARS,
        thousands(SEARCH_READS),
    );
}

/// `12,345`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Whether a description shows the call with its arguments: RQ's default description is
/// `function(arguments...)`. Without a readable function name, any parenthesis counts.
fn shows_arguments(description: &str, function: Option<&str>) -> bool {
    match function.filter(|f| !f.starts_with('<')) {
        Some(f) => description
            .strip_prefix(f)
            .is_some_and(|rest| rest.starts_with('(')),
        None => description.contains('('),
    }
}

/// The commands to copy for a job, in a disclosure (no script); none for an id cut short.
fn commands(commands: &[String]) -> String {
    if commands.is_empty() {
        return "<span class=\"muted\" title=\"the id is too long to show whole\">-</span>"
            .to_owned();
    }
    let mut out = "<details><summary>commands</summary>".to_owned();
    for c in commands {
        let _ = write!(out, "<code>{}</code>", esc(c));
    }
    out.push_str("</details>");
    out
}

fn pager(out: &mut String, query: &PageQuery, jobs: &JobsPage) {
    let mut links = Vec::new();
    if jobs.offset > 0 {
        let (label, to) = if query.is_search() {
            ("from the start", 0)
        } else {
            (
                "previous",
                jobs.offset.saturating_sub(crate::http::PAGE_JOBS as u64),
            )
        };
        links.push(format!(
            "<a href=\"{}\" rel=\"prev\">{label}</a>",
            esc(&query.at(to))
        ));
    }
    if let Some(next) = jobs.next {
        let label = if jobs.capped {
            format!("search on from job {}", thousands(next + 1))
        } else {
            format!("next {}", crate::http::PAGE_JOBS)
        };
        links.push(format!(
            "<a href=\"{}\" rel=\"next\">{label}</a>",
            esc(&query.at(next))
        ));
    }
    if !links.is_empty() {
        let _ = write!(out, "<nav class=\"pager\">{}</nav>", links.join(""));
    }
}

fn upcoming(
    out: &mut String,
    o: &Overview,
    jobs: &JobsPage,
    query: &PageQuery,
    now: f64,
    show_args: bool,
) {
    let first = jobs.offset + 1;
    let last = jobs.offset + jobs.read;
    if query.is_search() {
        let found = jobs.rows.len();
        let matches = if found == 1 { "match" } else { "matches" };
        let span = if jobs.read == 0 {
            format!("no job from position {} on", thousands(first))
        } else {
            format!(
                "jobs {}–{} of {}",
                thousands(first),
                thousands(last),
                thousands(o.scheduled)
            )
        };
        let _ = write!(
            out,
            "<p class=\"sub\" id=\"search-result\">{found} {matches} for <code>{}</code> among {span}",
            esc(&query.q)
        );
        if jobs.capped {
            let _ = write!(
                out,
                "; <strong>stopped early</strong>: a search reads at most {} jobs per page",
                thousands(SEARCH_READS)
            );
        }
        out.push_str("</p>");
    } else if jobs.rows.is_empty() {
        if jobs.offset == 0 {
            out.push_str("<p class=\"empty\">Nothing is scheduled.</p>");
        } else {
            let _ = write!(
                out,
                "<p class=\"empty\">No job at position {} or later: the schedule holds {}.</p>",
                thousands(first),
                thousands(o.scheduled)
            );
        }
    } else if jobs.offset > 0 || (jobs.rows.len() as u64) < o.scheduled {
        let _ = write!(
            out,
            "<p class=\"sub\">jobs {}–{} of {}, in due order</p>",
            thousands(first),
            thousands(last),
            thousands(o.scheduled)
        );
    }
    pager(out, query, jobs);
    if jobs.rows.is_empty() {
        return;
    }
    let args_note = if show_args {
        "shown (--page-show-args)"
    } else {
        "hidden: start rqs with --page-show-args to show them"
    };
    let _ = write!(
        out,
        "<table><thead><tr><th>Next run</th><th>Id</th><th>Function</th><th>Queue</th>\
         <th>Kind</th><th>Repeats left</th><th title=\"arguments {args_note}\">Description</th>\
         <th title=\"add the connection flags you run rqs with\">Commands</th></tr></thead><tbody>"
    );
    for row in &jobs.rows {
        let j = &row.job;
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
        let description = match &j.description {
            Some(d) if !show_args && shows_arguments(d, j.function.as_deref()) => {
                format!(
                    "<span class=\"muted\" title=\"{args_note}\">the call, arguments hidden</span>"
                )
            }
            _ => text("description", &j.description, ""),
        };
        let cmds = if row.cut {
            Vec::new()
        } else {
            let id = shell_word(&j.id);
            vec![
                format!("rqs show {id}"),
                format!("rqs run-now {id}"),
                format!("rqs cancel {id}"),
            ]
        };
        let _ = write!(
            out,
            "<tr><td class=\"time\">{}</td><td class=\"id\">{}</td><td class=\"mono\">{function}</td><td>{}</td>\
             <td class=\"mono\">{kind}</td><td>{}</td><td>{description}</td><td>{}</td></tr>",
            time_cell(Some(j.due), now),
            esc(&j.id),
            text("origin", &j.queue, "-"),
            esc(&runs),
            commands(&cmds),
        );
    }
    out.push_str("</tbody></table>");
    pager(out, query, jobs);
}

/// This instance's last hour, and beside it the newest entries of the shared history.
fn recent(
    out: &mut String,
    here: &Here<'_>,
    chart: &[Minute],
    history: &Result<(u64, Vec<Entry>), String>,
    now: f64,
) {
    let _ = write!(
        out,
        "<div class=\"split\"><div><p class=\"sub\">the last hour on this instance, \
         <code>{}</code>, a minute each</p>",
        esc(here.instance)
    );
    if chart.iter().all(|m| m.count == 0) {
        out.push_str(
            "<p class=\"empty\" id=\"chart-empty\">No hand-offs from this instance in the last hour.</p>",
        );
    } else {
        out.push_str(&chart::svg(chart));
    }
    out.push_str("</div><div>");
    match history {
        Err(e) => section_error(out, e),
        Ok((_, entries)) if entries.is_empty() => {
            let _ = write!(
                out,
                "<p class=\"empty\">No hand-off in <code>{}</code> yet.</p>",
                history::KEY
            );
        }
        Ok((length, entries)) => {
            let _ = write!(
                out,
                "<p class=\"sub\">the newest {} of {length} in <code>{}</code> (at most {} \
                 kept, written by every instance serving --metrics-addr)</p>\
                 <table id=\"history\"><thead><tr><th>Handed over</th><th>Job</th><th>Queue</th>\
                 <th>Late</th></tr></thead><tbody>",
                entries.len(),
                history::KEY,
                history::CAP,
            );
            for e in entries {
                match e {
                    Entry::HandOff {
                        at,
                        job,
                        queue,
                        late,
                    } => {
                        let _ = write!(
                            out,
                            "<tr><td class=\"time\" title=\"{}\">{}</td><td class=\"mono\">{}</td><td>{}</td><td>{}</td></tr>",
                            esc(&output::rfc3339(*at)),
                            esc(&output::relative(*at, now)),
                            esc(job),
                            esc(queue.as_deref().unwrap_or("-")),
                            esc(&chart::seconds(*late)),
                        );
                    }
                    Entry::Unreadable(why) => {
                        let _ = write!(
                            out,
                            "<tr><td colspan=\"4\" class=\"warn\">{}</td></tr>",
                            esc(why)
                        );
                    }
                }
            }
            out.push_str("</tbody></table>");
        }
    }
    out.push_str("</div></div>");
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
             <th>Reason</th><th>Commands</th></tr></thead><tbody>",
        );
        for q in entries {
            let id = shell_word(&q.id);
            let _ = write!(
                out,
                "<tr><td class=\"id\">{}</td><td class=\"time\">{}</td><td class=\"mono\">{}</td><td class=\"time\">{}</td><td class=\"warn\">{}</td><td>{}</td></tr>",
                esc(&q.id),
                time_cell(Some(q.since), now),
                esc(q.kind.as_deref().unwrap_or("-")),
                time_cell(q.score, now),
                esc(&q.reason),
                commands(&[
                    format!("rqs show {id}"),
                    format!("rqs quarantine release {id}"),
                ]),
            );
        }
        out.push_str("</tbody></table>");
    }
}

/// The page when Redis cannot be read.
pub(crate) fn render_error(here: &Here<'_>, error: &str) -> String {
    let mut out = String::new();
    head(&mut out, true);
    header(&mut out, here, None, true);
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

    #[test]
    fn a_description_that_is_the_call_hides_its_arguments() {
        let f = Some("jobs.add");
        assert!(shows_arguments("jobs.add(1, 2)", f));
        assert!(shows_arguments("jobs.add()", f));
        assert!(!shows_arguments("Yearly report", f));
        assert!(!shows_arguments("jobs.adder(1)", f));
        assert!(!shows_arguments("Nightly (UTC)", f));
        // Without a function name, any call-like text is hidden.
        assert!(shows_arguments("Nightly (UTC)", None));
        assert!(shows_arguments("x(1)", Some("<unreadable>")));
        assert!(!shows_arguments("Nightly", None));
    }

    #[test]
    fn big_numbers_get_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}

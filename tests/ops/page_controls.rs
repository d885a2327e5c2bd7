//! The status page's controls, rendered by headless Chromium over jobs written by
//! rq-scheduler's Python client: search and paging by plain links and a GET form, the
//! pause banner, arguments hidden unless `--page-show-args`, the commands to copy,
//! `--http-auth-file`, and the hand-off history kept in Redis.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use nix::sys::signal::Signal;
use rqs_testkit::RedisServer;
use rqs_testkit::python::PythonEnv;

use crate::common::{Served, T, python_env, rqs, scenario};
use crate::page::{card, headless, part, row};
use crate::support::{eventually, now_secs, q, root, rqs_bin};

/// Runs `tests/ops/py/page_scenario.py` with the interop job functions importable.
fn page_scenario(env: &PythonEnv, args: &[&str]) {
    let py = root().join("tests");
    let output = Command::new(env.python())
        .arg(py.join("ops/py/page_scenario.py"))
        .args(args)
        .env("PYTHONPATH", py.join("interop/py"))
        .env("TZ", "UTC")
        .output()
        .expect("cannot run python");
    assert!(
        output.status.success(),
        "page_scenario.py {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Loads pages of one daemon in headless Chromium, each with a fresh profile.
struct Browser {
    profiles: tempfile::TempDir,
    loads: usize,
}

impl Browser {
    fn new() -> Self {
        Self {
            profiles: tempfile::tempdir().unwrap(),
            loads: 0,
        }
    }

    /// The DOM of `url` once rendered.
    fn dom(&mut self, url: &str) -> String {
        self.loads += 1;
        let profile = self.profiles.path().join(self.loads.to_string());
        headless(url, "--dump-dom", &profile)
    }
}

/// The ids of the jobs table, in order.
fn job_ids(dom: &str) -> Vec<String> {
    let section = part(dom, "upcoming", "</section>");
    section
        .split("<td class=\"id\">")
        .skip(1)
        .map(|cell| unescape(&cell[..cell.find("</td>").unwrap()]))
        .collect()
}

/// The `href` of the link with this `rel` in the jobs section, unescaped.
fn link(dom: &str, rel: &str) -> Option<String> {
    let section = part(dom, "upcoming", "</section>");
    let at = section.find(&format!("rel=\"{rel}\""))?;
    let start = section[..at].rfind("href=\"")? + "href=\"".len();
    let end = start + section[start..].find('"')?;
    Some(unescape(&section[start..end]))
}

/// Text as the DOM serializer escapes it, read back.
fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The schedule's ids in due order, as Redis has them.
async fn schedule(conn: &redis::aio::ConnectionManager) -> Vec<String> {
    q(
        conn,
        redis::cmd("ZRANGEBYSCORE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(0)
            .arg("+inf"),
    )
    .await
}

/// Search and paging by plain links and a GET form, the pause banner, the commands to
/// copy, and arguments hidden unless `--page-show-args`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_paging_banner_and_hidden_arguments_in_headless_chromium() {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    scenario(&env, &["populate", &url]);
    page_scenario(&env, &["later", &url, "bulk", "120", "bulk"]);
    // RQ's client refuses ids a shell would split; other clients write them.
    crate::support::Jobs::new(conn.clone())
        .schedule(
            "it's a job",
            &rqs_testkit::client_job("default"),
            (now_secs() + 4 * 3600) as f64,
        )
        .await
        .unwrap();
    // Pauses as `rqs pause` writes them: every queue until resumed (its reason holds
    // markup), one queue for an hour, and one whose end has passed.
    let now = now_secs();
    let note = |reason: &str, at: i64, until: Option<i64>| {
        serde_json::json!({"reason": reason, "by": "ana", "at": at, "until": until}).to_string()
    };
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:rqs:paused")
            .arg(&["*", ""])
            .arg("emails")
            .arg(now + 3600)
            .arg("ended")
            .arg(now - 10),
    )
    .await;
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:rqs:paused:notes")
            .arg("*")
            .arg(note("<b>deploy</b> freeze", now - 60, None))
            .arg("emails")
            .arg(note("SMTP outage", now - 30, Some(now + 3600)))
            .arg("ended")
            .arg(note("over", now - 100, Some(now - 10))),
    )
    .await;

    let mut hidden = Served::start(&url, &["--name", "hidden-1"]).await;
    let mut shown = Served::start(&url, &["--name", "shown-1", "--page-show-args"]).await;
    let mut browser = Browser::new();
    let home = |s: &Served| format!("http://{}/", s.addr);
    let dom = browser.dom(&home(&hidden));

    // The banner, at the top: one per pause in force, with the command that ends it.
    let banner = part(&dom, "paused", "</section>");
    assert!(
        dom.find("id=\"paused\"") < dom.find("class=\"cards\""),
        "{dom}"
    );
    for text in [
        "Paused: every queue",
        "why: &lt;b&gt;deploy&lt;/b&gt; freeze",
        "by <code>ana</code>",
        "until resumed",
        "<code>rqs resume</code>",
        "<code>emails</code>",
        "why: SMTP outage",
        "<code>rqs resume --queue emails</code>",
    ] {
        assert!(banner.contains(text), "{text} in {banner}");
    }
    assert!(
        !dom.contains("<b>deploy"),
        "markup from a note made an element"
    );
    assert!(
        !banner.contains("ended"),
        "a pause whose end has passed: {banner}"
    );

    // Arguments are hidden: RQ's description is the call with them.
    let every = row(&dom, "every-10-min");
    assert!(every.contains("arguments hidden"), "{every}");
    assert!(
        !dom.contains("add(1, 2)") && !dom.contains(", 7)"),
        "an argument on the page:\n{dom}"
    );
    // ... and shown by the instance started with --page-show-args.
    let with_args = browser.dom(&home(&shown));
    let every = row(&with_args, "every-10-min");
    assert!(every.contains("rqs_interop_jobs.add(1, 2)"), "{every}");
    assert!(row(&with_args, "bulk-0003").contains("rqs_interop_jobs.add(3, 7)"));

    // Read-only: a GET form, links, and commands to copy; no button, no script.
    assert!(
        dom.contains("<form class=\"search\" method=\"get\" action=\"/\""),
        "{dom}"
    );
    assert!(dom.contains("name=\"q\""));
    assert!(
        !dom.contains("<button") && !dom.contains("<script"),
        "{dom}"
    );
    for cmd in [
        "rqs show every-10-min",
        "rqs run-now every-10-min",
        "rqs cancel every-10-min",
    ] {
        assert!(every.contains(&format!("<code>{cmd}</code>")), "{cmd}");
    }
    // An id a shell would split is quoted, and the command copied from the page works.
    let odd = row(&dom, "it's a job");
    let quoted = r"rqs show 'it'\''s a job'";
    assert!(odd.contains(&format!("<code>{quoted}</code>")), "{odd}");
    let copied = Command::new("sh")
        .arg("-c")
        .arg(format!("\"$0\" {} -u \"$1\"", &quoted["rqs ".len()..]))
        .arg(rqs_bin())
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        copied.status.success() && String::from_utf8_lossy(&copied.stdout).contains("it's a job"),
        "{}{}",
        String::from_utf8_lossy(&copied.stdout),
        String::from_utf8_lossy(&copied.stderr)
    );
    // The quarantine card links to its section.
    assert!(
        card(&dom, "quarantined").contains("href=\"#quarantine\""),
        "{}",
        card(&dom, "quarantined")
    );
    assert!(dom.contains("<section id=\"quarantine\">"));

    // Paging: "next 50" and "previous" are links; each page is the schedule's next 50.
    let order = schedule(&conn).await;
    assert_eq!(order.len(), 128);
    assert_eq!(job_ids(&dom), order[..50]);
    assert!(dom.contains("jobs 1–50 of 128"), "{dom}");
    assert_eq!(link(&dom, "prev"), None);
    let next = link(&dom, "next").expect("a next link");
    assert_eq!(next, "/?offset=50");
    let page2 = browser.dom(&format!("http://{}{next}", hidden.addr));
    assert_eq!(job_ids(&page2), order[50..100]);
    assert!(page2.contains("jobs 51–100 of 128"), "{page2}");
    assert_eq!(link(&page2, "prev").as_deref(), Some("/"));
    let last = link(&page2, "next").expect("a next link");
    let page3 = browser.dom(&format!("http://{}{last}", hidden.addr));
    assert_eq!(job_ids(&page3), order[100..]);
    assert_eq!(link(&page3, "next"), None, "the schedule ends on page 3");
    // A later page does not reload itself (the top one does).
    assert!(dom.contains("http-equiv=\"refresh\""));
    assert!(!page2.contains("http-equiv=\"refresh\""));

    // Search: by id (any case), by function, by queue; the form keeps the text.
    let search = |browser: &mut Browser, query: &str| {
        browser.dom(&format!("http://{}/?q={query}", hidden.addr))
    };
    let by_id = search(&mut browser, "BULK-011");
    let want: Vec<String> = (110..120).map(|i| format!("bulk-{i:04}")).collect();
    assert_eq!(job_ids(&by_id), want);
    assert!(
        by_id.contains("10 matches for <code>BULK-011</code>"),
        "{by_id}"
    );
    assert!(by_id.contains("value=\"BULK-011\""), "{by_id}");
    let mut by_function = job_ids(&search(&mut browser, "interop_jobs.ECHO"));
    by_function.sort();
    assert_eq!(
        by_function,
        [
            "bad-cron",
            "custom-queue-class",
            "once-later",
            "report-yearly",
            "ttl-zero"
        ]
    );
    let reports = search(&mut browser, "reports");
    let mut by_queue = job_ids(&reports);
    by_queue.sort();
    assert_eq!(by_queue, ["once-later", "report-yearly"]);
    // A description that is not the call stays.
    assert!(row(&reports, "report-yearly").contains("Yearly report"));
    // A search pages on from its last match.
    let first = search(&mut browser, "bulk");
    let bulk: Vec<String> = order
        .iter()
        .filter(|id| id.starts_with("bulk-"))
        .cloned()
        .collect();
    assert_eq!(job_ids(&first), bulk[..50]);
    let on = link(&first, "next").expect("a next link");
    assert!(on.starts_with("/?q=bulk&offset="), "{on}");
    let second = browser.dom(&format!("http://{}{on}", hidden.addr));
    assert_eq!(job_ids(&second), bulk[50..100]);
    assert_eq!(link(&second, "prev").as_deref(), Some("/?q=bulk"));

    for served in [&mut hidden, &mut shown] {
        served.daemon.signal(Signal::SIGTERM);
        assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
    }
}

/// A GET with an optional `Authorization` header: status, head and body.
fn get(addr: &str, path: &str, authorization: Option<&str>) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let auth = authorization.map_or_else(String::new, |a| format!("Authorization: {a}\r\n"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_owned())
}

/// `--http-auth-file`: the page and `/metrics` need the credentials, a browser without
/// them gets a 401, the probes stay open, and a bad file stops the start with a clear
/// error that never shows the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_needs_the_credentials_and_the_probes_do_not() {
    let server = RedisServer::start();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let token = "kT9-page.token";
    let bearer = dir.path().join("bearer");
    std::fs::write(&bearer, format!("  bearer {token}\n\n")).unwrap();
    let mut served = Served::start(
        &url,
        &[
            "--name",
            "auth-1",
            "--http-auth-file",
            bearer.to_str().unwrap(),
        ],
    )
    .await;
    let addr = served.addr.clone();
    for path in ["/", "/metrics", "/?q=x&offset=50"] {
        let (status, head, body) = get(&addr, path, None);
        assert_eq!(status, 401, "{path}: {body}");
        assert!(
            head.contains("www-authenticate: bearer realm=\"rqs\""),
            "{head}"
        );
        assert_eq!(get(&addr, path, Some("Bearer kT9-page.tokem")).0, 401);
        assert_eq!(get(&addr, path, Some(&format!("Basic {token}"))).0, 401);
        let (status, _, body) = get(&addr, path, Some(&format!("Bearer {token}")));
        assert_eq!(status, 200, "{path}: {body}");
    }
    assert_eq!(get(&addr, "/healthz", None).0, 200);
    eventually(T, "/readyz open and ready", || {
        let status = get(&addr, "/readyz", None).0;
        async move { (status == 200).then_some(()) }
    })
    .await;
    // A browser without the token gets the 401's text, not the page.
    let mut browser = Browser::new();
    let refused = browser.dom(&format!("http://{addr}/"));
    assert!(refused.contains("401 unauthorized"), "{refused}");
    assert!(!refused.contains("Upcoming jobs"), "{refused}");
    assert!(
        !served.daemon.log().contains(token),
        "{}",
        served.daemon.log()
    );
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());

    // Basic credentials, given by the browser from the address.
    let basic = dir.path().join("basic");
    std::fs::write(&basic, "basic ops:s3cret:pa55\n").unwrap();
    let mut served = Served::start(
        &url,
        &[
            "--name",
            "auth-2",
            "--http-auth-file",
            basic.to_str().unwrap(),
        ],
    )
    .await;
    let page = browser.dom(&format!("http://ops:s3cret%3Apa55@{}/", served.addr));
    assert!(page.contains("Upcoming jobs"), "{page}");
    let (status, head, _) = get(&served.addr, "/", None);
    assert_eq!(status, 401);
    assert!(
        head.contains("www-authenticate: basic realm=\"rqs\""),
        "{head}"
    );
    // base64("ops:s3cret:pa55")
    let (status, _, _) = get(&served.addr, "/metrics", Some("Basic b3BzOnMzY3JldDpwYTU1"));
    assert_eq!(status, 200);
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());

    // Bad files and flags stop the start: exit 2, a message naming the problem, no secret.
    let empty = dir.path().join("empty");
    std::fs::write(&empty, " \n").unwrap();
    let spaced = dir.path().join("spaced");
    std::fs::write(&spaced, "bearer hunter 2\n").unwrap();
    let missing = dir.path().join("missing");
    for (file, why) in [
        (&empty, "empty"),
        (&spaced, "may hold only"),
        (&missing, "cannot read"),
    ] {
        let out = rqs(
            &url,
            &[
                "run",
                "--metrics-addr",
                "127.0.0.1:0",
                "--http-auth-file",
                file.to_str().unwrap(),
            ],
        )
        .expect(2);
        assert!(out.stderr.contains(why), "{}", out.stderr);
        assert!(!out.stderr.contains("hunter"), "{}", out.stderr);
    }
    for flag in [
        vec!["--http-auth-file", bearer.to_str().unwrap()],
        vec!["--page-show-args"],
    ] {
        let mut args = vec!["run", "--burst"];
        args.extend(flag);
        let out = rqs(&url, &args).expect(2);
        assert!(out.stderr.contains("--metrics-addr"), "{}", out.stderr);
    }
}

/// The history in Redis keeps the newest hand-offs up to its cap, one entry per job; the
/// active instance's page shows them and its chart, a standby's says it handed nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_history_keeps_the_newest_hand_offs_up_to_its_cap() {
    const CAP: usize = 500;
    const JOBS: usize = 700;
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let mut active = Served::start(&url, &["--name", "active-1", "-i", "1"]).await;
    active.metric_reaches("rqs_is_leader", 1.0).await;
    page_scenario(&env, &["due", &url, "h", &JOBS.to_string(), "hist"]);
    active
        .metric_reaches("rqs_jobs_enqueued_total{queue=\"hist\"}", JOBS as f64)
        .await;
    // Written after each batch, by a task of its own: wait for the last one.
    let history: Vec<String> = eventually(T, "the newest hand-off in the history", || {
        let conn = conn.clone();
        async move {
            let list: Vec<String> = q(
                &conn,
                redis::cmd("LRANGE").arg("rq:rqs:history").arg(0).arg(-1),
            )
            .await;
            list.first()?.contains("\"job\":\"h-0699\"").then_some(list)
        }
    })
    .await;
    assert_eq!(history.len(), CAP, "capped");
    // One entry per job, newest first, in the order they were handed over.
    for (i, raw) in history.iter().enumerate() {
        let entry: serde_json::Value = serde_json::from_str(raw).unwrap();
        assert_eq!(entry["job"], format!("h-{:04}", JOBS - 1 - i), "{raw}");
        assert_eq!(entry["queue"], "hist");
        let late = entry["late"].as_f64().unwrap();
        let at = entry["at"].as_f64().unwrap();
        assert!(
            late > 1e8 && (at - now_secs() as f64).abs() < 600.0,
            "{raw}"
        );
        assert_eq!(entry.as_object().unwrap().len(), 4, "{raw}");
    }
    let m = active.metrics();
    assert_eq!(m["rqs_history_dropped_total"], 0.0, "{m:?}");

    // Started now, with nothing left due: it stays a standby that handed nothing over.
    let mut standby = Served::start(&url, &["--name", "standby-1", "-i", "1"]).await;
    let mut browser = Browser::new();
    let page = browser.dom(&format!("http://{}/", active.addr));
    let section = part(&page, "handoffs", "</section>");
    assert!(section.contains("<svg class=\"chart\""), "{section}");
    // The chart's bars (one a minute) add up to the hand-offs.
    let charted: usize = section
        .split(" hand-offs</title>")
        .filter_map(|s| s.rsplit(": ").next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(charted, JOBS, "{section}");
    assert!(
        section.contains("of 500 in <code>rq:rqs:history</code>"),
        "{section}"
    );
    let rows = part(section, "history", "</table>");
    assert_eq!(rows.matches("<tr>").count(), 1 + 12, "{rows}");
    let first = rows.find("h-0699").expect("the newest first");
    assert!(first < rows.find("h-0698").unwrap());
    let page = browser.dom(&format!("http://{}/", standby.addr));
    let section = part(&page, "handoffs", "</section>");
    assert!(
        section.contains("No hand-offs from this instance in the last hour."),
        "{section}"
    );
    assert!(section.contains("h-0699"), "the shared history: {section}");

    for served in [&mut active, &mut standby] {
        served.daemon.signal(Signal::SIGTERM);
        assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
    }
    let length: usize = q(&conn, redis::cmd("LLEN").arg("rq:rqs:history")).await;
    assert_eq!(length, CAP);
}

//! The status page at `/`, rendered by a real browser: Debian's Chromium, headless.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use rqs_testkit::RedisServer;

use crate::common::{Served, T, python_env, scenario};
use crate::support::{Daemon, q};

/// `$RQS_CHROMIUM`, else `chromium` (Debian's package, installed by `cargo xtask test`).
pub(crate) fn chromium() -> PathBuf {
    std::env::var_os("RQS_CHROMIUM").map_or_else(|| PathBuf::from("chromium"), PathBuf::from)
}

/// Runs headless Chromium on `url` with `mode` (`--dump-dom` or `--screenshot=…`) and a
/// fresh profile, in a 1280×1080 window; returns its stdout.
pub(crate) fn headless(url: &str, mode: &str, profile: &Path) -> String {
    headless_in(url, mode, profile, (1280, 1080))
}

/// [`headless`] in a window of `(width, height)`.
fn headless_in(url: &str, mode: &str, profile: &Path, (width, height): (u32, u32)) -> String {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--virtual-time-budget=3000",
        ])
        .arg(format!("--window-size={width},{height}"))
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(mode)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {}: {e}; install Debian's chromium (apt-get install -y chromium), \
                 or run `cargo xtask test`, which does",
                chromium().display()
            )
        });
    let deadline = Instant::now() + Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 180 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "chromium {mode} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The table row of the rendered page whose id cell (a job or an instance) is `id`.
pub(crate) fn row<'a>(dom: &'a str, id: &str) -> &'a str {
    let needle = format!("<td class=\"id\">{id}</td>");
    let at = dom
        .find(&needle)
        .unwrap_or_else(|| panic!("{needle:?} not on the page:\n{dom}"));
    let start = dom[..at].rfind("<tr").expect("inside a row");
    let end = at + dom[at..].find("</tr>").expect("row end");
    &dom[start..end]
}

/// The part of the page from the element with this `id` to the first `end` after it.
pub(crate) fn part<'a>(dom: &'a str, id: &str, end: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} on the page:\n{dom}"));
    let rest = &dom[at..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

/// One summary card.
pub(crate) fn card<'a>(dom: &'a str, id: &str) -> &'a str {
    part(dom, id, "</div>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_in_headless_chromium() {
    let env = python_env().await;
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    scenario(&env, &["populate", &url]);
    scenario(&env, &["due", &url, "due-now", "default"]);
    scenario(&env, &["bad-due", &url, "bad-due"]);
    // An instance that ran and died: its record stays for a minute.
    let mut old = Daemon::start(&["run", "--burst", "-u", &url, "--name", "earlier-burst"]);
    assert_eq!(old.exit_code(T), 0, "{}", old.log());
    // A minute can pass before the browser reads the page on a loaded machine: keep it.
    let kept: i64 = redis::cmd("PERSIST")
        .arg("rq:scheduler_instance:earlier-burst")
        .query_async(&mut conn.clone())
        .await
        .unwrap();
    assert_eq!(kept, 1, "the dead instance's record has its death TTL");
    scenario(&env, &["due", &url, "due-later", "reports"]);
    // A pause of a queue nothing here uses, as `rqs pause --queue emails` writes it.
    let now = crate::support::now_secs();
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:rqs:paused")
            .arg("emails")
            .arg(now + 7200),
    )
    .await;
    let note = serde_json::json!({
        "reason": "SMTP provider outage", "by": "ana@ops", "at": now - 300, "until": now + 7200
    });
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:rqs:paused:notes")
            .arg("emails")
            .arg(note.to_string()),
    )
    .await;

    let mut served = Served::start(&url, &["-i", "1", "--name", "page-1"]).await;
    served
        .metric_reaches("rqs_jobs_enqueued_total{queue=\"reports\"}", 1.0)
        .await;
    served.metric_reaches("rqs_is_leader", 1.0).await;

    let profile = tempfile::tempdir().unwrap();
    let page = format!("http://{}/", served.addr);
    let dom = headless(&page, "--dump-dom", &profile.path().join("dom"));

    // The description `<img src=x onerror="document.title='PWNED'">` is text: no element
    // was made of it, so its handler never ran.
    assert!(dom.contains("<title>rqs status</title>"), "{dom}");
    assert!(
        !dom.contains("<img"),
        "an element was made of client text:\n{dom}"
    );
    let once = row(&dom, "once-later");
    assert!(
        once.contains(
            "&lt;img src=x onerror=\"document.title='PWNED'\"&gt; &amp; &lt;b&gt;bold&lt;/b&gt;"
        ),
        "{once}"
    );
    assert!(!dom.contains("<b>bold</b>"));
    // It refreshes by itself.
    assert!(dom.contains("http-equiv=\"refresh\""), "{dom}");

    // Instances: this one alive and holding the lock, the burst one dead.
    let me = row(&dom, "page-1");
    assert!(
        me.contains("alive") && me.contains("holds the lock"),
        "{me}"
    );
    let dead = row(&dom, "earlier-burst");
    assert!(
        dead.contains("dead") && !dead.contains("holds the lock"),
        "{dead}"
    );
    assert!(card(&dom, "holder").contains("page-1"));

    // Counts and the next due time, as Redis has them.
    let scheduled: u64 = q(
        &conn,
        redis::cmd("ZCARD").arg("rq:scheduler:scheduled_jobs"),
    )
    .await;
    assert!(
        card(&dom, "scheduled").contains(&format!("<span class=\"value\">{scheduled}</span>")),
        "{}",
        card(&dom, "scheduled")
    );
    assert!(card(&dom, "due").contains("<span class=\"value\">0</span>"));
    assert!(card(&dom, "quarantined").contains("<span class=\"value\">1</span>"));
    let head: Vec<(String, i64)> = q(
        &conn,
        redis::cmd("ZRANGE")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(0)
            .arg(0)
            .arg("WITHSCORES"),
    )
    .await;
    let next = chrono::DateTime::from_timestamp(head[0].1, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert!(
        card(&dom, "next-due").contains(&next),
        "{next} in {}",
        card(&dom, "next-due")
    );

    // Upcoming jobs: id, function, queue, kind with the cron string, repeats left.
    let every = row(&dom, "every-10-min");
    for cell in [">rqs_interop_jobs.add<", ">default<", ">every 600s<", ">3<"] {
        assert!(every.contains(cell), "{cell} in {every}");
    }
    let yearly = row(&dom, "report-yearly");
    for cell in [
        ">rqs_interop_jobs.echo<",
        ">reports<",
        ">cron 0 3 1 1 *<",
        ">∞<",
        "Yearly report",
    ] {
        assert!(yearly.contains(cell), "{cell} in {yearly}");
    }
    assert!(row(&dom, "gone").contains("missing hash"));

    // The banner, the commands to copy, and the hand-off of this instance.
    let banner = part(&dom, "paused", "</section>");
    assert!(
        banner.contains("SMTP provider outage") && banner.contains("rqs resume --queue emails"),
        "{banner}"
    );
    assert!(
        every.contains("<code>rqs cancel every-10-min</code>"),
        "{every}"
    );
    let handoffs = part(&dom, "handoffs", "</section>");
    assert!(
        handoffs.contains("<svg class=\"chart\"") && handoffs.contains("due-later"),
        "{handoffs}"
    );

    // The quarantine, with its reason.
    let quarantine = part(&dom, "quarantine", "</section>");
    let bad = row(quarantine, "bad-due");
    assert!(
        bad.contains("unreadable_meta") && bad.contains("meta is JSON"),
        "{bad}"
    );

    // A screenshot of the whole page; RQS_STATUS_SCREENSHOT=path keeps a copy
    // (docs/status-page.png).
    let shot = profile.path().join("status-page.png");
    headless_in(
        &page,
        &format!("--screenshot={}", shot.display()),
        &profile.path().join("shot"),
        (1280, 1700),
    );
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let (width, height) = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!((width, height), (1280, 1700));
    if let Some(keep) = std::env::var_os("RQS_STATUS_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }

    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

/// Item 3: 10,000 quarantined jobs make a page of 50 quarantine rows that says how many
/// there are, not a page of 10,000 rows (3.2 MB before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quarantine_is_shown_a_page_at_a_time() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    let () = q(
        &conn,
        redis::cmd("EVAL")
            .arg(
                "for i = 1, 10000 do redis.call('HSET', KEYS[1], string.format('bad-%05d', i), \
                 cjson.encode({score = 1, kind = 'invalid_cron', reason = 'invalid cron string', at = 1})) end",
            )
            .arg(1)
            .arg("rq:rqs:quarantine"),
    )
    .await;
    let mut served = Served::start(&url, &["--name", "many-1"]).await;
    let (status, page) = served.get("/");
    assert_eq!(status, 200);
    let quarantine = part(&page, "quarantine", "</section>");
    let rows = quarantine.matches("<td class=\"id\">bad-").count();
    assert_eq!(rows, 50, "{} bytes of page", page.len());
    assert!(quarantine.contains("50 of 10000"), "{quarantine}");
    assert!(card(&page, "quarantined").contains("<span class=\"value\">10000</span>"));
    assert!(page.len() < 256 * 1024, "{} bytes", page.len());
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

/// Item 13: a lock key of the wrong type (a hash) is flagged on the page, and the rest is
/// shown; `rqs status` flags it too instead of failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_typed_lock_key_is_flagged_and_the_rest_shown() {
    let server = RedisServer::start();
    let url = server.url();
    let conn = server.connection().await;
    crate::support::Jobs::new(conn.clone())
        .schedule(
            "later-1",
            &rqs_testkit::client_job("default"),
            4_000_000_000.0,
        )
        .await
        .unwrap();
    let () = q(
        &conn,
        redis::cmd("HSET")
            .arg("rq:scheduler_lock")
            .arg("holder")
            .arg("someone"),
    )
    .await;
    let mut served = Served::start(&url, &["--name", "typed-1"]).await;
    let (status, page) = served.get("/");
    assert_eq!(status, 200, "{page}");
    let problems = part(&page, "problems", "</section>");
    assert!(
        problems.contains("rq:scheduler_lock") && problems.contains("WRONGTYPE"),
        "{problems}"
    );
    assert!(card(&page, "holder").contains("unreadable"), "{page}");
    assert!(row(&page, "later-1").contains("default"), "{page}");
    assert!(row(&page, "typed-1").contains("alive"), "{page}");

    let out = crate::common::rqs(&url, &["status"]).expect(0);
    assert!(
        out.stdout.contains("rq:scheduler_lock") && out.stdout.contains("WRONGTYPE"),
        "{}",
        out.stdout
    );
    served.daemon.signal(Signal::SIGTERM);
    assert_eq!(served.daemon.exit_code(T), 0, "{}", served.daemon.log());
}

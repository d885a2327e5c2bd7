//! The `--metrics-addr` endpoints: `/metrics` (Prometheus text format), `/healthz` (the
//! scheduler loop turns), `/readyz` (200 while Redis answers, 503 otherwise) and the read-only
//! status page at `/`.
//!
//! The port is open to whoever can reach it, so the server is kept apart from the
//! scheduler and bounded:
//!
//! - it runs on an OS thread of its own with its own Tokio runtime and its own Redis
//!   connection, made on that runtime: the scheduler runs on one thread (a current_thread
//!   runtime), and nothing a request does (a page reading and decoding jobs) may delay a
//!   hand-off or a lease renewal there;
//! - at most [`MAX_CONNECTIONS`] connections are open; a new one closes the oldest that is
//!   not in the middle of a request, so half-sent requests cannot lock the probes out, and
//!   a client has [`HEADER_TIMEOUT`] to send each request head;
//! - at most [`MAX_IN_FLIGHT`] requests are answered at once (more get 503 at once), each
//!   within [`REQUEST_TIMEOUT`];
//! - the page is read from Redis at most once every [`PAGE_FRESH`] for each address
//!   (search and position), whatever the number of loads; one page is read at a time,
//!   and each read is bounded in jobs and bytes (`Inspector::jobs_page`,
//!   `Inspector::search`);
//! - with `--http-auth-file`, the page and `/metrics` need its credentials; the probes
//!   (`/healthz`, `/readyz`) stay open.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tower::ServiceExt;
use tracing::{debug, info};

use crate::chart::Chart;
use crate::cli::ConnectionArgs;
use crate::connection::Connection;
use crate::exit::Failure;
use crate::http_auth::HttpAuth;
use crate::inspect::{Discovery, Inspector, KnownInstances};
use crate::page;
use crate::page_query::PageQuery;
use crate::telemetry::Health;

/// Jobs the status page lists.
pub(crate) const PAGE_JOBS: usize = 50;

/// Quarantined jobs the status page lists.
pub(crate) const PAGE_QUARANTINE: usize = 50;

/// Connections open at once.
pub(crate) const MAX_CONNECTIONS: usize = 64;

/// Requests answered at once; fewer than [`MAX_CONNECTIONS`], so that some connection is
/// always between requests and can make room for a new one.
pub(crate) const MAX_IN_FLIGHT: usize = 16;

/// How long a client may take to send a request head, the first one or the next one on a
/// kept-alive connection.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest one request may take to answer.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A rendered page is served again for this long before Redis is read afresh.
pub(crate) const PAGE_FRESH: Duration = Duration::from_secs(1);

/// Rendered pages kept (one per search and position), the oldest replaced first.
const PAGES_KEPT: usize = 16;

/// The longest the first page load waits for the daemon's first walk of the instances.
const FIRST_WALK_WAIT: Duration = Duration::from_secs(2);

/// What the handlers share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) metrics: PrometheusHandle,
    pub(crate) health: Arc<Health>,
    pub(crate) inspector: Inspector,
    /// This instance's name, shown on the page.
    pub(crate) instance: String,
    /// The instances the daemon's walks found.
    pub(crate) known: Arc<KnownInstances>,
    pub(crate) page: Arc<PageCache>,
    /// This instance's hand-offs of the last hour, for the page's chart.
    pub(crate) chart: Arc<Chart>,
    /// `--page-show-args`.
    pub(crate) show_args: bool,
    /// `--http-auth-file`: what the page and `/metrics` require.
    pub(crate) auth: Option<Arc<HttpAuth>>,
}

/// The pages rendered lately, by address, and when.
#[derive(Debug, Default)]
pub(crate) struct PageCache {
    last: tokio::sync::Mutex<Vec<(PageQuery, Instant, String)>>,
}

/// Checks a `--metrics-addr` value: `HOST:PORT` (`127.0.0.1:9100`, `[::]:9100`,
/// `localhost:9100`).
pub(crate) fn parse_addr(text: &str) -> Result<String, String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?} is not HOST:PORT"))?;
    if host.is_empty() {
        return Err(format!(
            "{text:?} has no host: use 0.0.0.0:{port} for every interface, 127.0.0.1:{port} for this machine only"
        ));
    }
    port.parse::<u16>()
        .map_err(|_| format!("{port:?} in {text:?} is not a port number"))?;
    Ok(text.to_owned())
}

pub(crate) fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(status_page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(state)
}

/// Serves the endpoints on `addr` from a thread of their own. On that thread's runtime it
/// opens a Redis connection with `connection`'s settings and hands it to `state`, which
/// builds the handlers' state (and may start tasks of its own there).
///
/// # Errors
/// When the address cannot be bound (taken, not local, not resolvable), or Redis cannot
/// be reached; both before anything is served.
pub(crate) async fn start<F>(
    addr: &str,
    connection: &ConnectionArgs,
    state: F,
) -> Result<(), Failure>
where
    F: FnOnce(Connection) -> AppState + Send + 'static,
{
    let (started, outcome) = oneshot::channel::<Result<(), Failure>>();
    let addr = addr.to_owned();
    let connection = connection.clone();
    std::thread::Builder::new()
        .name("rqs-http".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = started.send(Err(Failure::Runtime(e.into())));
                    return;
                }
            };
            runtime.block_on(async move {
                let listener = match TcpListener::bind(&addr).await {
                    Ok(l) => l,
                    Err(e) => {
                        let _ = started.send(Err(Failure::Runtime(anyhow::anyhow!(
                            "cannot listen on --metrics-addr {addr}: {e}"
                        ))));
                        return;
                    }
                };
                let reader = match connection.connect().await {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                let local = listener
                    .local_addr()
                    .map_or_else(|_| addr.clone(), |a| a.to_string());
                info!("serving /metrics, /healthz, /readyz and the status page on http://{local}/");
                let app = router(state(reader));
                let _ = started.send(Ok(()));
                accept(listener, app).await;
            });
        })
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot start the HTTP thread: {e}")))?;
    outcome.await.unwrap_or_else(|_| {
        Err(Failure::Runtime(anyhow::anyhow!(
            "the HTTP thread ended before serving"
        )))
    })
}

/// The open connections, oldest first.
#[derive(Debug, Default)]
struct Slots {
    next: u64,
    open: BTreeMap<u64, Slot>,
}

#[derive(Debug)]
struct Slot {
    /// Requests of this connection being answered.
    busy: Arc<AtomicUsize>,
    close: oneshot::Sender<()>,
}

impl Slots {
    /// Makes room for one more connection: when `max` are open, closes the oldest that is
    /// between requests (a half-sent request head, an idle keep-alive, a client slow to
    /// read its answer). `None` when every one is busy answering.
    fn admit(&mut self, max: usize) -> Option<(u64, Arc<AtomicUsize>, oneshot::Receiver<()>)> {
        if self.open.len() >= max {
            let victim = self
                .open
                .iter()
                .find(|(_, slot)| slot.busy.load(Ordering::Acquire) == 0)
                .map(|(id, _)| *id)?;
            if let Some(slot) = self.open.remove(&victim) {
                let _ = slot.close.send(());
            }
        }
        let (close, closed) = oneshot::channel();
        let busy = Arc::new(AtomicUsize::new(0));
        let id = self.next;
        self.next += 1;
        self.open.insert(
            id,
            Slot {
                busy: busy.clone(),
                close,
            },
        );
        Some((id, busy, closed))
    }

    fn forget(&mut self, id: u64) {
        self.open.remove(&id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Decrements a connection's busy count when its request is answered or dropped.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::AcqRel);
        Self(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CONNECTION, "close")], text).into_response()
}

/// Accepts connections for ever, each served by a task of its own within the bounds above.
async fn accept(listener: TcpListener, app: Router) {
    let slots = Arc::new(Mutex::new(Slots::default()));
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: the slots free some.
                debug!(error = %e, "cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, busy, closed)) = lock(&slots).admit(MAX_CONNECTIONS) else {
            debug!("every connection is busy: refusing one");
            continue;
        };
        let app = app.clone();
        let permits = permits.clone();
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let app = app.clone();
            let busy = Busy::enter(&busy);
            let permit = permits.clone().try_acquire_owned();
            async move {
                let _busy = busy;
                let Ok(_permit) = permit else {
                    return Ok::<_, Infallible>(plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "busy: too many requests at once\n",
                    ));
                };
                let request = request.map(Body::new);
                Ok(
                    match tokio::time::timeout(REQUEST_TIMEOUT, app.oneshot(request)).await {
                        Ok(Ok(response)) => response,
                        Ok(Err(never)) => match never {},
                        Err(_) => plain(
                            StatusCode::SERVICE_UNAVAILABLE,
                            "the answer took too long\n",
                        ),
                    },
                )
            }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let slots = slots.clone();
        tokio::spawn(async move {
            tokio::select! {
                served = connection => {
                    if let Err(e) = served {
                        debug!(error = %e, "HTTP connection ended");
                    }
                }
                _ = closed => debug!("HTTP connection closed to make room for a new one"),
            }
            lock(&slots).forget(id);
        });
    }
}

/// `None` when the request may go on; else the `401` to answer.
fn refused(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let auth = state.auth.as_ref()?;
    (!auth.admits(headers)).then(|| auth.challenge())
}

async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(no) = refused(&state, &headers) {
        return no;
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::telemetry::render(&state.metrics, &state.health),
    )
        .into_response()
}

/// 200 while the scheduler loop turns; 503 once it has been silent for longer than its
/// bound (wedged), so that a supervisor restarts it. Redis being away is `/readyz`'s
/// business: the loop keeps turning through an outage.
async fn healthz(State(state): State<AppState>) -> Response {
    if state.health.loop_is_alive() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        let silent = state.health.since_last_turn().as_secs();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: the scheduler loop has not turned for {silent} s\n"),
        )
            .into_response()
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.health.is_ready() {
        (StatusCode::OK, "ready: connected to Redis\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: Redis does not answer\n",
        )
            .into_response()
    }
}

/// The page, read afresh at most once every [`PAGE_FRESH`] for each address: loads
/// meanwhile wait for the read in progress and share it, and one page is read at a time,
/// so searches cannot pile reads onto Redis. A page that could not be read is not kept,
/// so the first load after Redis is back reads it.
async fn status_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(no) = refused(&state, &headers) {
        return no;
    }
    let query = match PageQuery::parse(raw.as_deref()) {
        Ok(q) => q,
        Err(e) => return (StatusCode::BAD_REQUEST, format!("bad request: {e}\n")).into_response(),
    };
    let html = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
    let mut kept = state.page.last.lock().await;
    kept.retain(|(_, at, _)| at.elapsed() < PAGE_FRESH);
    if let Some((_, _, body)) = kept.iter().find(|(q, _, _)| *q == query) {
        return (StatusCode::OK, html, body.clone()).into_response();
    }
    let (status, body) = render(&state, &query).await;
    if status == StatusCode::OK {
        if kept.len() >= PAGES_KEPT {
            kept.remove(0);
        }
        kept.push((query, Instant::now(), body.clone()));
    }
    (status, html, body).into_response()
}

async fn render(state: &AppState, query: &PageQuery) -> (StatusCode, String) {
    state.known.first_walk(FIRST_WALK_WAIT).await;
    let mut known = state.known.names();
    known.push(state.instance.clone());
    let here = page::Here {
        instance: &state.instance,
        active: state.health.is_leader(),
    };
    let inspector = &state.inspector;
    let overview = match inspector.overview(Discovery::Known(&known)).await {
        Ok(o) => o,
        Err(e) => return unreadable(&here, &e),
    };
    // A key of the wrong type spoils its own section only; Redis away spoils the page.
    macro_rules! part {
        ($read:expr) => {
            match $read.await {
                Err(e) if e.is_transient() => return unreadable(&here, &e),
                other => other.map_err(|e| e.to_string()),
            }
        };
    }
    let jobs = if query.is_search() {
        part!(inspector.search(&query.needle(), query.offset, PAGE_JOBS))
    } else {
        part!(inspector.jobs_page(query.offset, PAGE_JOBS, overview.scheduled))
    };
    let quarantine = part!(inspector.quarantine_page(PAGE_QUARANTINE));
    let history = part!(inspector.history(page::HISTORY_ROWS));
    let pauses = part!(inspector.pauses());
    let parts = page::Parts {
        query,
        jobs,
        quarantine,
        history,
        pauses,
        chart: state.chart.minutes(overview.generated.0),
        show_args: state.show_args,
    };
    (StatusCode::OK, page::render(&here, &overview, &parts))
}

fn unreadable(here: &page::Here<'_>, e: &rqs_core::BackendError) -> (StatusCode, String) {
    debug!(error = %e, "the status page cannot read Redis");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        page::render_error(here, &e.to_string()),
    )
}

#[cfg(test)]
mod tests {
    use rqs_core::{JobHash, JobId, keys};
    use rqs_store::JobAdmin;
    use rqs_testkit::RedisServer;

    use super::*;
    use crate::telemetry;

    async fn get(app: &Router, path: &str) -> (StatusCode, String) {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 24)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    fn state(conn: Connection, health: Arc<Health>) -> AppState {
        let known = Arc::new(KnownInstances::default());
        known.walked(None);
        AppState {
            metrics: telemetry::builder().build_recorder().handle(),
            health,
            inspector: Inspector::new(conn),
            instance: "<i>me</i>".into(),
            known,
            page: Arc::default(),
            chart: Arc::default(),
            show_args: false,
            auth: None,
        }
    }

    #[test]
    fn addresses_need_a_host_and_a_port() {
        assert_eq!(
            parse_addr("127.0.0.1:9100").as_deref(),
            Ok("127.0.0.1:9100")
        );
        assert!(parse_addr("[::1]:9100").is_ok());
        assert!(parse_addr("localhost:0").is_ok());
        assert!(parse_addr(":9100").unwrap_err().contains("0.0.0.0:9100"));
        assert!(parse_addr("9100").is_err());
        assert!(parse_addr("host:http").is_err());
    }

    #[test]
    fn a_full_house_closes_the_oldest_connection_between_requests() {
        let mut slots = Slots::default();
        let mut open: Vec<_> = (0..3).map(|_| slots.admit(3).unwrap()).collect();
        // The oldest is answering a request: the next oldest makes room.
        open[0].1.fetch_add(1, Ordering::AcqRel);
        let (_, _, mut fourth) = slots.admit(3).unwrap();
        assert!(open[0].2.try_recv().is_err(), "a busy one stays");
        assert!(
            open[1].2.try_recv().is_ok(),
            "the oldest idle one is closed"
        );
        assert!(open[2].2.try_recv().is_err());
        assert!(fourth.try_recv().is_err());
        // Every one busy: the newcomer is refused, nothing closed.
        let mut full = Slots::default();
        let taken: Vec<_> = (0..2).map(|_| full.admit(2).unwrap()).collect();
        for (_, busy, _) in &taken {
            busy.fetch_add(1, Ordering::AcqRel);
        }
        assert!(full.admit(2).is_none());
        full.forget(taken[0].0);
        assert!(
            full.admit(2).is_some(),
            "a closed connection frees its slot"
        );
    }

    /// The page and the endpoints over a connection of a Redis user that may only read:
    /// a write anywhere in them would fail the request.
    #[tokio::test]
    async fn the_page_reads_only_and_escapes_client_text() {
        let server = RedisServer::start();
        let admin = server.connection().await;
        let store = rqs_redis::RedisJobStore::new(admin.clone());
        let xss = "<script>alert(1)</script>";
        let hash = JobHash::from_pairs([
            ("data", &b"x"[..]),
            ("origin", b"default"),
            ("description", xss.as_bytes()),
        ]);
        store
            .schedule(&JobId::from("<b>id</b>"), &hash, 4_000_000_000.0)
            .await
            .unwrap();
        let _: () = redis::cmd("ACL")
            .arg(&[
                "SETUSER",
                "reader",
                "on",
                ">pw",
                "~*",
                "&*",
                "+@read",
                "+@connection",
            ])
            .arg(&["+evalsha", "+eval", "+script|load"])
            .query_async(&mut admin.clone())
            .await
            .unwrap();
        let config = rqs_redis::RedisConfig::from_url(&format!(
            "redis://reader:pw@127.0.0.1:{}/0",
            server.port()
        ))
        .unwrap()
        .config;
        let reader = rqs_redis::RedisConnection::connect(&config).await.unwrap();
        let health = Arc::new(Health::default());
        // Descriptions shown whole (`--page-show-args`), to see them escaped.
        let app_state = AppState {
            show_args: true,
            ..state(reader.clone(), health.clone())
        };
        let app = router(app_state.clone());

        let (status, page) = get(&app, "/").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(page.contains("&lt;b&gt;id&lt;/b&gt;"), "{page}");
        assert!(page.contains("&lt;i&gt;me&lt;/i&gt;"), "{page}");
        assert!(!page.contains("<script") && !page.contains("<b>id") && !page.contains("<i>me"));

        assert_eq!(get(&app, "/healthz").await, (StatusCode::OK, "ok\n".into()));
        // A loop silent for longer than its bound fails the health check.
        let wedged = router(AppState {
            health: Arc::new(Health::new(Duration::ZERO)),
            ..app_state.clone()
        });
        tokio::time::sleep(Duration::from_millis(5)).await;
        let (status, body) = get(&wedged, "/healthz").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body.contains("has not turned"), "{body}");
        assert_eq!(
            get(&app, "/readyz").await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        health.set_ready(true);
        assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);
        assert_eq!(get(&app, "/metrics").await.0, StatusCode::OK);
        assert_eq!(get(&app, "/nothing").await.0, StatusCode::NOT_FOUND);

        // The reader really cannot write.
        let refused: redis::RedisResult<()> = redis::cmd("SET")
            .arg("k")
            .arg("v")
            .query_async(&mut reader.clone())
            .await;
        assert!(refused.is_err());
    }

    /// What the page reads of a job is bounded: a field over its bound is reported with
    /// its size, never read, and a zlib bomb is inflated no further than the page's limit.
    #[tokio::test]
    async fn the_page_reads_each_job_within_bounds() {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let store = rqs_redis::RedisJobStore::new(conn.clone());
        let bomb = {
            use std::io::Write;
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(&vec![0u8; 8 << 20]).unwrap();
            e.finish().unwrap()
        };
        let big = JobHash::from_pairs([
            ("data", bomb),
            ("origin", b"default".to_vec()),
            ("description", vec![b'd'; 1 << 20]),
            ("meta", vec![b'm'; 1 << 20]),
        ]);
        store
            .schedule(&JobId::from("big"), &big, 4_000_000_000.0)
            .await
            .unwrap();
        store
            .schedule(
                &JobId::from("x".repeat(5000).as_str()),
                &big,
                4_000_000_001.0,
            )
            .await
            .unwrap();
        let _: () = redis::cmd("SET")
            .arg("rq:job:not-a-hash")
            .arg("x")
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        let _: () = redis::cmd("ZADD")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(4_000_000_002u64)
            .arg("not-a-hash")
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        let inspector = Inspector::new(
            rqs_redis::RedisConnection::connect(
                &rqs_redis::RedisConfig::from_url(&server.url())
                    .unwrap()
                    .config,
            )
            .await
            .unwrap(),
        );
        let page = inspector.jobs_page(0, PAGE_JOBS, 3).await.unwrap();
        let jobs: Vec<_> = page.rows.iter().map(|r| r.job.clone()).collect();
        assert_eq!(jobs.len(), 3);
        // A cut id gets no command to copy: it could not name the job.
        let cut: Vec<bool> = page.rows.iter().map(|r| r.cut).collect();
        assert_eq!(cut, [false, true, false]);
        assert_eq!(jobs[0].id, "big");
        assert_eq!(jobs[0].queue.as_deref(), Some("default"));
        assert_eq!(jobs[0].unread("description"), Some(1 << 20));
        assert_eq!(jobs[0].unread("meta"), Some(1 << 20));
        assert_eq!(jobs[0].description, None);
        assert_eq!(jobs[0].function.as_deref(), Some("<unreadable>"));
        assert!(jobs[1].id.starts_with("xxx") && jobs[1].id.ends_with("… (5000 bytes)"));
        assert!(jobs[1].id.len() < 1100);
        assert!(jobs[2].missing);

        let html = page::render(
            &page::Here {
                instance: "me",
                active: true,
            },
            &inspector.overview(Discovery::Known(&[])).await.unwrap(),
            &page::Parts {
                query: &PageQuery::default(),
                jobs: Ok(inspector.jobs_page(0, PAGE_JOBS, 3).await.unwrap()),
                quarantine: Ok(Vec::new()),
                history: Ok((0, Vec::new())),
                pauses: Ok(Default::default()),
                chart: Vec::new(),
                show_args: false,
            },
        );
        assert!(html.contains("description of 1.0 MiB, not shown"), "{html}");
        assert!(html.contains("meta of 1.0 MiB, not shown"), "{html}");
        assert!(html.len() < 64 * 1024, "{} bytes", html.len());
    }

    async fn reader(server: &RedisServer) -> Connection {
        rqs_redis::RedisConnection::connect(
            &rqs_redis::RedisConfig::from_url(&server.url())
                .unwrap()
                .config,
        )
        .await
        .unwrap()
    }

    /// Paging reads one page by position; a search reads the schedule in chunks and
    /// stops at its cap, saying where to go on.
    #[tokio::test]
    async fn paging_and_search_read_bounded_pages() {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let total = crate::inspect::SEARCH_READS + 500;
        // One script writes the jobs: 2,500 round trips would be slow in a debug build.
        let _: () = redis::cmd("EVAL")
            .arg(
                "for i = 0, tonumber(ARGV[1]) - 1 do \
                   local id = string.format('job-%05d', i) \
                   redis.call('HSET', 'rq:job:' .. id, 'origin', i % 2 == 0 and 'even' or 'odd', 'data', 'x') \
                   redis.call('ZADD', KEYS[1], 4000000000 + i, id) end",
            )
            .arg(1)
            .arg("rq:scheduler:scheduled_jobs")
            .arg(total)
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        // A negative score is not counted, nor paged.
        let _: () = redis::cmd("ZADD")
            .arg("rq:scheduler:scheduled_jobs")
            .arg(-5)
            .arg("negative")
            .query_async(&mut conn.clone())
            .await
            .unwrap();
        let inspector = Inspector::new(reader(&server).await);
        let page = inspector.jobs_page(100, PAGE_JOBS, total).await.unwrap();
        let ids: Vec<&str> = page.rows.iter().map(|r| r.job.id.as_str()).collect();
        assert_eq!(ids.first(), Some(&"job-00100"));
        assert_eq!(ids.last(), Some(&"job-00149"));
        assert_eq!((page.next, page.rows[0].position), (Some(150), 100));
        let last = inspector
            .jobs_page(total - 10, PAGE_JOBS, total)
            .await
            .unwrap();
        assert_eq!((last.rows.len(), last.next), (10, None));

        // 50 matches found within the cap: the next page starts after the last one.
        let needle = PageQuery::parse(Some("q=ODD")).unwrap().needle();
        let found = inspector.search(&needle, 0, PAGE_JOBS).await.unwrap();
        assert_eq!(found.rows.len(), PAGE_JOBS);
        assert_eq!(found.rows[0].job.id, "job-00001");
        assert_eq!(
            (found.next, found.capped, found.read),
            (Some(100), false, 100)
        );
        // No match: it stops at the cap and says where to go on, then reaches the end.
        let needle = PageQuery::parse(Some("q=nowhere")).unwrap().needle();
        let capped = inspector.search(&needle, 0, PAGE_JOBS).await.unwrap();
        assert!(capped.capped && capped.rows.is_empty());
        assert_eq!(
            (capped.read, capped.next),
            (
                crate::inspect::SEARCH_READS,
                Some(crate::inspect::SEARCH_READS)
            )
        );
        let rest = inspector
            .search(&needle, crate::inspect::SEARCH_READS, PAGE_JOBS)
            .await
            .unwrap();
        assert_eq!((rest.read, rest.next, rest.capped), (500, None, false));
        // By id, from a later position.
        let needle = PageQuery::parse(Some("q=job-0240")).unwrap().needle();
        let by_id = inspector.search(&needle, 2_000, PAGE_JOBS).await.unwrap();
        assert_eq!(by_id.rows.len(), 10);
        assert_eq!(by_id.rows[0].position, 2_400);

        // Through the router: the form keeps the text, escaped, and the links carry it.
        let app = router(state(reader(&server).await, Arc::new(Health::default())));
        let (status, html) = get(&app, "/?q=%22%3E%3Cx%3Enowhere").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            html.contains("value=\"&quot;&gt;&lt;x&gt;nowhere\""),
            "{html}"
        );
        assert!(html.contains("stopped early"), "{html}");
        assert!(
            html.contains("href=\"/?q=%22%3E%3Cx%3Enowhere&amp;offset=2000\""),
            "{html}"
        );
        assert!(
            !html.contains("http-equiv=\"refresh\""),
            "a search does not reload"
        );
        let (status, body) = get(&app, "/?offset=-3").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("offset must be a whole number"), "{body}");
        let (_, html) = get(&app, "/?offset=50").await;
        assert!(html.contains("jobs 51–100 of 2,500"), "{html}");
        assert!(html.contains("href=\"/\" rel=\"prev\">previous"), "{html}");
        assert!(
            html.contains("href=\"/?offset=100\" rel=\"next\">next 50"),
            "{html}"
        );
    }

    /// The history and the pauses are read bounded, and a wrong-typed key spoils only its
    /// own part of the page.
    #[tokio::test]
    async fn history_and_pauses_are_read_within_bounds() {
        let server = RedisServer::start();
        let conn = server.connection().await;
        let mut c = conn.clone();
        let _: () = redis::pipe()
            .cmd("RPUSH")
            .arg(crate::history::KEY)
            .arg(r#"{"at":1800000000.25,"job":"<j>","queue":"q","late":0.004}"#)
            .arg("x".repeat(10_000))
            .arg("not json")
            .ignore()
            .cmd("HSET")
            .arg(keys::PAUSED)
            .arg("*")
            .arg("")
            .arg("ended")
            .arg("1000")
            .arg("big")
            .arg("9".repeat(100))
            .ignore()
            .cmd("HSET")
            .arg(keys::PAUSE_NOTES)
            .arg("*")
            .arg(r#"{"reason":"<deploy>","by":"ana","at":1800000000.0,"until":null}"#)
            .ignore()
            .query_async(&mut c)
            .await
            .unwrap();
        let inspector = Inspector::new(reader(&server).await);
        let (length, entries) = inspector.history(10).await.unwrap();
        assert_eq!((length, entries.len()), (3, 3));
        assert!(
            matches!(&entries[0], crate::history::Entry::HandOff { job, late, .. } if job == "<j>" && *late == 0.004)
        );
        assert!(
            matches!(&entries[1], crate::history::Entry::Unreadable(why) if why.contains("10000 bytes"))
        );
        assert!(matches!(&entries[2], crate::history::Entry::Unreadable(_)));
        let pauses = inspector.pauses().await.unwrap();
        assert_eq!(pauses.total, 3);
        assert_eq!(pauses.read[0].scope, crate::pause_banner::Scope::All);
        let in_force: Vec<_> = pauses.in_force(crate::output::now()).collect();
        // `ended` is over; `big`'s end is too large to read, so it is shown as unreadable.
        assert_eq!(in_force.len(), 2, "{in_force:?}");

        let app = router(state(reader(&server).await, Arc::new(Health::default())));
        let (status, html) = get(&app, "/").await;
        assert_eq!(status, StatusCode::OK);
        let banner = &html[html.find("id=\"paused\"").unwrap()..];
        assert!(banner.contains("Paused: every queue"), "{banner}");
        assert!(banner.contains("why: &lt;deploy&gt;"), "{banner}");
        assert!(banner.contains("<code>rqs resume</code>"), "{banner}");
        assert!(
            banner.contains("<code>rqs resume --queue big</code>"),
            "{banner}"
        );
        assert!(!banner.contains("ended"), "{banner}");
        assert!(html.contains("&lt;j&gt;") && !html.contains("<j>"));

        // Wrong types: the parts say so, the rest of the page is there.
        let _: () = redis::pipe()
            .cmd("DEL")
            .arg(crate::history::KEY)
            .arg(keys::PAUSED)
            .ignore()
            .cmd("SET")
            .arg(crate::history::KEY)
            .arg("x")
            .ignore()
            .cmd("SET")
            .arg(keys::PAUSED)
            .arg("x")
            .ignore()
            .query_async(&mut c)
            .await
            .unwrap();
        tokio::time::sleep(PAGE_FRESH).await;
        let (status, html) = get(&app, "/").await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("Cannot read the pauses"), "{html}");
        assert!(html.contains("WRONGTYPE"), "{html}");
        assert!(html.contains("id=\"instances\""), "{html}");
    }

    /// With `--http-auth-file`, the page and the metrics need the credentials; the probes
    /// do not.
    #[tokio::test]
    async fn the_page_and_metrics_need_the_credentials_and_probes_do_not() {
        let server = RedisServer::start();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auth");
        std::fs::write(&file, "bearer t0ken\n").unwrap();
        let auth = crate::http_auth::read_file(file.to_str().unwrap()).unwrap();
        let health = Arc::new(Health::default());
        health.set_ready(true);
        let app = router(AppState {
            auth: Some(Arc::new(auth)),
            ..state(reader(&server).await, health)
        });
        let call = |path: &str, token: Option<&str>| {
            let mut request = Request::get(path);
            if let Some(t) = token {
                request = request.header(header::AUTHORIZATION, t);
            }
            app.clone().oneshot(request.body(Body::empty()).unwrap())
        };
        for path in ["/", "/metrics", "/?q=x"] {
            let no = call(path, None).await.unwrap();
            assert_eq!(no.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(
                no.headers()[header::WWW_AUTHENTICATE],
                "Bearer realm=\"rqs\""
            );
            let wrong = call(path, Some("Bearer t0kem")).await.unwrap();
            assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED, "{path}");
            let yes = call(path, Some("Bearer t0ken")).await.unwrap();
            assert_eq!(yes.status(), StatusCode::OK, "{path}");
        }
        for path in ["/healthz", "/readyz"] {
            assert_eq!(
                call(path, None).await.unwrap().status(),
                StatusCode::OK,
                "{path}"
            );
        }
    }
}

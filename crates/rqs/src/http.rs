//! The `--metrics-addr` endpoints: `/metrics` (Prometheus text format), `/healthz` (the
//! scheduler loop turns), `/readyz` (200 while Redis answers, 503 otherwise) and the read-only
//! status page at `/`.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use tracing::{info, warn};

use crate::exit::Failure;
use crate::inspect::{Filter, Inspector};
use crate::page;
use crate::telemetry::Health;

/// Jobs the status page lists.
pub(crate) const PAGE_JOBS: usize = 50;

/// What the handlers share.
#[derive(Debug, Clone)]
pub(crate) struct AppState {
    pub(crate) metrics: PrometheusHandle,
    pub(crate) health: Arc<Health>,
    pub(crate) inspector: Inspector,
    /// This instance's name, shown on the page.
    pub(crate) instance: String,
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

/// Binds `addr` and serves the endpoints on a task of their own.
///
/// # Errors
/// When the address cannot be bound (taken, not local, not resolvable).
pub(crate) async fn serve(addr: &str, state: AppState) -> Result<(), Failure> {
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Failure::Runtime(anyhow::anyhow!(
            "cannot listen on --metrics-addr {addr}: {e}"
        ))
    })?;
    let local = listener
        .local_addr()
        .map_or_else(|_| addr.to_owned(), |a| a.to_string());
    info!("serving /metrics, /healthz, /readyz and the status page on http://{local}/");
    let app = router(state);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(error = %e, "the metrics and status server stopped");
        }
    });
    Ok(())
}

async fn metrics(State(state): State<AppState>) -> Response {
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

async fn status_page(State(state): State<AppState>) -> Response {
    let html = [(header::CONTENT_TYPE, "text/html; charset=utf-8")];
    let filter = Filter {
        limit: PAGE_JOBS,
        ..Filter::default()
    };
    let read = async {
        let overview = state.inspector.overview().await?;
        let jobs = state.inspector.jobs(&filter).await?;
        let quarantine = state.inspector.quarantine().await?;
        Ok::<_, rqs_core::BackendError>((overview, jobs, quarantine))
    };
    let here = page::Here {
        instance: &state.instance,
        active: state.health.is_leader(),
    };
    match read.await {
        Ok((overview, jobs, quarantine)) => (
            StatusCode::OK,
            html,
            page::render(&here, &overview, &jobs, &quarantine),
        )
            .into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            html,
            page::render_error(&here, &e.to_string()),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use rqs_core::{JobHash, JobId};
    use rqs_store::JobAdmin;
    use rqs_testkit::RedisServer;
    use std::time::Duration;
    use tower::ServiceExt;

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
        let app_state = AppState {
            metrics: telemetry::builder().build_recorder().handle(),
            health: health.clone(),
            inspector: Inspector::new(reader.clone()),
            instance: "<i>me</i>".into(),
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
}

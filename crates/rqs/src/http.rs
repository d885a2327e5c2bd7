//! The `--metrics-addr` endpoints: `/metrics` (Prometheus text format), `/healthz` (the
//! process runs), `/readyz` (200 while Redis answers, 503 otherwise) and the read-only
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
        state.metrics.render(),
    )
        .into_response()
}

async fn healthz() -> &'static str {
    "ok\n"
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
        active: state.health.is_active(),
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

//! The admin HTTP server, on when `admin.listen` is set: `/healthz`,
//! `/readyz`, `/metrics` and `/api/bridges`.
//!
//! It only reads: the running bridges, the metrics registry and the
//! database. It has no authentication, so bind it to a loopback or private
//! address.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::daemon::LiveBridges;
use crate::metrics::{Metrics, CONTENT_TYPE};
use crate::status::bridge_statuses;
use crate::store::Store;

/// How long `/readyz` waits for the database's write lock. Another process
/// holding it longer (a long `pollhook poll`) makes pollhook briefly not ready.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// The shared state that the admin endpoints read.
#[derive(Clone)]
pub struct AdminState {
    pub store: Arc<Store>,
    pub live: Arc<LiveBridges>,
    pub metrics: Arc<Metrics>,
}

/// Serves the admin endpoints on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/bridges", get(bridges))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Returns 200 while the process runs and its runtime handles requests.
async fn healthz() -> &'static str {
    "ok\n"
}

/// Returns 200 once the configuration is loaded and while the database
/// accepts writes, else 503 with the reason.
async fn readyz(State(state): State<AdminState>) -> Response {
    if state.live.get().is_none() {
        return not_ready("the configuration is not loaded yet");
    }
    let store = state.store.clone();
    let check = tokio::task::spawn_blocking(move || store.check_writable());
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(Ok(()))) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Ok(Err(error))) => {
            tracing::warn!(%error, "readiness check: the state database is not writable");
            not_ready(&format!("the state database is not writable: {error}"))
        }
        Ok(Err(error)) => not_ready(&format!("the database check failed: {error}")),
        Err(_) => not_ready("the state database is locked by another process"),
    }
}

fn not_ready(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("not ready: {reason}\n"),
    )
        .into_response()
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let metrics = state.metrics.clone();
    match tokio::task::spawn_blocking(move || metrics.encode()).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(error)) => internal_error("failed to encode the metrics", &error),
        Err(error) => internal_error("failed to encode the metrics", &error),
    }
}

/// Returns the rows of `pollhook status --json`: the running bridges and
/// every bridge the database still has state for.
async fn bridges(State(state): State<AdminState>) -> Response {
    let bridges = state.live.get().unwrap_or_default();
    let store = state.store.clone();
    match tokio::task::spawn_blocking(move || store.bridge_overviews()).await {
        Ok(Ok(overviews)) => Json(bridge_statuses(&bridges, &overviews)).into_response(),
        Ok(Err(error)) => internal_error("failed to read the bridges' state", &error),
        Err(error) => internal_error("failed to read the bridges' state", &error),
    }
}

fn internal_error(message: &str, error: &dyn std::fmt::Display) -> Response {
    tracing::error!(%error, request = message, "admin request failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("{message}: {error}\n"),
    )
        .into_response()
}

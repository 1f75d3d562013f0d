//! Operations: health, metrics, OpenAPI.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::config::Registration;
use crate::error::{ApiError, ApiResult, ErrorBody};

/// Whether the server can serve: 200 when the database answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Healthy.", body = Health)))]
pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Health>> {
    let health = state.ops.health().await?;
    Ok(Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
        first_run: health.first_run,
        registration: state.config.registration,
        share_url: state.reach.get().and_then(|reach| reach.share_url.clone()),
    }))
}

/// `GET /healthz`'s answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `"ok"` (an unhealthy server answers with an error).
    status: &'static str,
    /// natter's version.
    version: &'static str,
    /// No account exists yet: the first one to sign up becomes the administrator (the web UI
    /// then opens on sign-up).
    first_run: bool,
    /// Who may sign up (`--registration`): `open`, `invite` (with an invite code) or `closed`.
    registration: Registration,
    /// The address other devices open (`--public-url`, else the LAN address natter printed at
    /// start); null when only this machine can reach it. The web UI's "Invite people" shows it
    /// when it was itself opened at a loopback address.
    share_url: Option<String>,
}

/// `GET /metrics` on the public port: with `--metrics`, unless `--metrics-bind` serves it
/// elsewhere.
/// Prometheus (OpenMetrics) text: only with `--metrics`, and not here with `--metrics-bind`
/// (404 then). docs/operations.md lists every family.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "The metrics.", content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8", body = String),
        (status = 404, body = ErrorBody)))]
pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    if state.config.metrics_bind.is_some() {
        return Err(ApiError::NotFound("Metrics are served on the --metrics-bind address.".into()));
    }
    metrics_text(&state)
}

/// `GET /metrics` on `--metrics-bind`'s own listener.
pub async fn bound_metrics(State(state): State<AppState>) -> ApiResult<Response> {
    metrics_text(&state)
}

fn metrics_text(state: &AppState) -> ApiResult<Response> {
    let text = state
        .ops
        .metrics_text()
        .ok_or_else(|| ApiError::NotFound("Metrics are off; start natter with --metrics.".into()))?;
    Ok(([(header::CONTENT_TYPE, crate::runtime::metrics::CONTENT_TYPE)], text).into_response())
}

/// The router of `--metrics-bind`: `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(bound_metrics))
        .layer(axum::middleware::map_response(super::security_headers))
        .with_state(state)
}

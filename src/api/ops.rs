//! Operations: health, metrics, OpenAPI.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::AppState;
use crate::error::{ApiError, ApiResult};

pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.ops.health().await?;
    Ok(Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })))
}

/// `GET /metrics` on the public port: with `--metrics`, unless `--metrics-bind` serves it
/// elsewhere.
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
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response())
}

/// The router of `--metrics-bind`: `/metrics` and nothing else.
pub fn metrics_router(state: AppState) -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(bound_metrics)).with_state(state)
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../static/openapi.json")).into_response()
}

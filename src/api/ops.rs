//! Operations: health, metrics, OpenAPI, admin invites.

use std::fmt::Write;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::extract::{AuthUser, JsonBody};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::input::NewInvite;
use crate::model::Invite;
use crate::usecase::invites::Issuer;

pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state.ops.health().await?;
    Ok(Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })))
}

pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    if !state.config.metrics {
        return Err(ApiError::NotFound("Metrics are off; start natter with --metrics.".into()));
    }
    let figures = state.ops.metrics();
    let mut text = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: u64| {
        let _ = writeln!(text, "# HELP {name} {help}");
        let _ = writeln!(text, "# TYPE {name} {kind}");
        let _ = writeln!(text, "{name} {value}");
    };
    metric("natter_db_commits_total", "counter", "Write transactions committed.", figures.commits);
    metric("natter_online_users", "gauge", "Users with at least one connected socket.", figures.online_users as u64);
    metric(
        "natter_events_queued",
        "gauge",
        "Domain events waiting for the Socket.IO fan-out.",
        figures.events_queued as u64,
    );
    metric("natter_uptime_seconds", "gauge", "Seconds since start.", figures.uptime_secs);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../static/openapi.json")).into_response()
}

pub async fn create_invite(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(input): JsonBody<NewInvite>,
) -> ApiResult<(StatusCode, Json<Invite>)> {
    let invite = state.invites.create(Issuer::User(&user), input).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

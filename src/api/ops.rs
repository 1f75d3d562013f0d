//! Operations: health, metrics, OpenAPI, admin invites.

use std::fmt::Write;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::AuthUser;
use super::extract::JsonBody;
use crate::AppState;
use crate::auth::random_hex;
use crate::config::parse_duration;
use crate::db::invites;
use crate::error::{ApiError, ApiResult};

pub async fn healthz(State(state): State<AppState>) -> ApiResult<Json<Value>> {
    state
        .db
        .read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(crate::db::DbError::from))
        .await
        .map_err(ApiError::from)?;
    Ok(Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") })))
}

pub async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    if !state.config.metrics {
        return Err(ApiError::NotFound("Metrics are off; start natter with --metrics.".into()));
    }
    let mut text = String::new();
    let _ = writeln!(text, "# HELP natter_db_commits_total Write transactions committed.");
    let _ = writeln!(text, "# TYPE natter_db_commits_total counter");
    let _ = writeln!(text, "natter_db_commits_total {}", state.db.commit_count());
    let _ = writeln!(text, "# HELP natter_online_users Users with at least one connected socket.");
    let _ = writeln!(text, "# TYPE natter_online_users gauge");
    let _ = writeln!(text, "natter_online_users {}", state.presence.online_count());
    let _ = writeln!(text, "# HELP natter_uptime_seconds Seconds since start.");
    let _ = writeln!(text, "# TYPE natter_uptime_seconds gauge");
    let _ = writeln!(text, "natter_uptime_seconds {}", state.started.elapsed().as_secs());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response())
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../../static/openapi.json")).into_response()
}

#[derive(Deserialize, Default)]
pub struct InviteInput {
    uses: Option<u32>,
    expires_in: Option<Value>,
}

/// `expires_in`: seconds as a number, or a duration string such as "7d".
fn expires_in(value: Option<Value>) -> ApiResult<std::time::Duration> {
    match value {
        None | Some(Value::Null) => Ok(std::time::Duration::from_secs(7 * 86400)),
        Some(Value::Number(n)) => n
            .as_u64()
            .filter(|s| *s > 0)
            .map(std::time::Duration::from_secs)
            .ok_or_else(|| ApiError::invalid("expires_in", "must be a positive number of seconds")),
        Some(Value::String(s)) => parse_duration(&s).map_err(|e| ApiError::invalid("expires_in", e)),
        Some(_) => Err(ApiError::invalid("expires_in", "must be seconds or a duration such as 7d")),
    }
}

pub async fn create_invite(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    JsonBody(input): JsonBody<InviteInput>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    if !user.is_admin {
        return Err(ApiError::Forbidden("Only administrators can create invites.".into()));
    }
    let uses = input.uses.unwrap_or(1);
    if uses == 0 || uses > 10_000 {
        return Err(ApiError::invalid("uses", "must be from 1 to 10000"));
    }
    let ttl = expires_in(input.expires_in)?;
    let invite = create(&state.db, Some(user.id), uses, ttl).await?;
    Ok((StatusCode::CREATED, Json(invite)))
}

/// Store a new invite code; shared with `natter invite`.
pub async fn create(db: &crate::db::Db, by: Option<i64>, uses: u32, ttl: std::time::Duration) -> ApiResult<Value> {
    let code = random_hex(16);
    let expires = time::OffsetDateTime::now_utc() + ttl;
    let expires_at = crate::db::format_time(expires);
    let invite = db
        .write(move |conn| invites::insert(conn, &code, by, i64::from(uses), &expires_at).map_err(ApiError::from))
        .await?;
    Ok(invite_json(&invite))
}

pub fn invite_json(invite: &invites::Invite) -> Value {
    json!({
        "code": invite.code,
        "url": format!("/?invite={}", invite.code),
        "uses_left": invite.uses_left,
        "expires_at": invite.expires_at,
    })
}

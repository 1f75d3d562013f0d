//! SPEC §3 Notifications: the caller's level per room, and Web Push subscriptions. Every
//! `/push/*` route is 404 with `--push off`, before anything else is looked at (the token and
//! the body are taken as results for that reason), then 401 without a token, then the body.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::JsonBody;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{NotifyChange, PushEndpoint, PushSubscriptionBody, path_id};
use crate::model::Room;
use crate::usecase::auth::Caller;
use crate::usecase::push::Push;

/// The caller's notification level for a room they belong to: `all` (default), `mentions`
/// (messages that mention them, and every message of a private chat) or `none`. No unread count
/// changes.
#[utoipa::path(put, path = "/chat/chat_rooms/{room_id}/notifications", tag = "notifications", security(("bearer" = []), ("oauth2" = [])),
    params(("room_id" = i64, Path, minimum = 1, description = "A room or private chat the caller belongs to.")),
    request_body = NotifyChange,
    responses((status = 200, description = "The room, `notify` the new level.", body = Room), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn set_notify(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<NotifyChange>,
) -> ApiResult<Json<Room>> {
    state.chat.set_notify(caller, path_id(&room_id, "Room")?, input.level).await.map(Json)
}

/// `GET /push/key`'s answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushKey {
    /// The server's VAPID public key: an uncompressed P-256 point in base64url, what a browser
    /// subscribes with (`applicationServerKey`).
    pub public_key: String,
}

/// A stored subscription's endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct Subscribed {
    pub endpoint: String,
}

fn push(state: &AppState) -> ApiResult<&Push> {
    state.push.as_ref().ok_or_else(|| ApiError::NotFound("Web Push is turned off on this server.".into()))
}

/// The key browsers subscribe with. 404 when the server runs with `--push off`.
#[utoipa::path(get, path = "/push/key", tag = "notifications", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, description = "The VAPID public key.", body = PushKey), (status = 404, body = ErrorBody)))]
pub async fn key(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> ApiResult<Json<PushKey>> {
    let push = push(&state)?;
    caller?;
    Ok(Json(PushKey { public_key: push.public_key().to_string() }))
}

/// Store this browser's subscription for the caller (201); the same endpoint again replaces its
/// keys (200). The endpoint must be on a host of `--push-service` (https; plain http only on a
/// loopback host), else 422 `endpoint`; keys that are not a P-256 point or 16 bytes: 422
/// `keys.p256dh` / `keys.auth`.
#[utoipa::path(post, path = "/push/subscriptions", tag = "notifications", security(("bearer" = []), ("oauth2" = [])),
    request_body = PushSubscriptionBody,
    responses((status = 201, description = "Stored.", body = Subscribed), (status = 200, description = "Already stored: keys replaced.", body = Subscribed),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn subscribe(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    input: Result<JsonBody<PushSubscriptionBody>, ApiError>,
) -> ApiResult<(StatusCode, Json<Subscribed>)> {
    let push = push(&state)?;
    let caller = caller?;
    let JsonBody(input) = input?;
    let subscription = input.into_subscription()?;
    let endpoint = subscription.endpoint.clone();
    let created = push.subscribe(caller, subscription).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(Subscribed { endpoint })))
}

/// Forget the caller's subscription at this endpoint (unknown: 204 too).
#[utoipa::path(delete, path = "/push/subscriptions", tag = "notifications", security(("bearer" = []), ("oauth2" = [])),
    request_body = PushEndpoint,
    responses((status = 204, description = "Gone."), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn unsubscribe(
    State(state): State<AppState>,
    caller: Result<Caller, ApiError>,
    input: Result<JsonBody<PushEndpoint>, ApiError>,
) -> ApiResult<StatusCode> {
    let push = push(&state)?;
    let caller = caller?;
    let JsonBody(input) = input?;
    push.unsubscribe(caller, input.into_endpoint()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a test notification to every subscription of the caller, connected or not (202: queued).
#[utoipa::path(post, path = "/push/test", tag = "notifications", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 202, description = "Queued."), (status = 404, body = ErrorBody)))]
pub async fn test(State(state): State<AppState>, caller: Result<Caller, ApiError>) -> ApiResult<StatusCode> {
    let push = push(&state)?;
    push.test(caller?).await?;
    Ok(StatusCode::ACCEPTED)
}

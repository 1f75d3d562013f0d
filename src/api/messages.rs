//! SPEC §3 Chats: posting, history, edits, deletes, read markers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{JsonBody, QueryParams};
use crate::AppState;
use crate::auth::Caller;
use crate::chat::{self, DEFAULT_HISTORY_PAGE, MAX_HISTORY_PAGE, Post};
use crate::db::messages::Window;
use crate::error::{ApiError, ApiResult};
use crate::input::{int_param, path_id};
use crate::model::Message;

#[derive(Deserialize)]
pub struct HistoryQuery {
    limit: Option<String>,
    before: Option<String>,
    after: Option<String>,
}

pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> ApiResult<Response> {
    let room_id = path_id(&room_id, "Room")?;
    let limit = int_param(query.limit.as_deref(), "limit", 1, MAX_HISTORY_PAGE)?.unwrap_or(DEFAULT_HISTORY_PAGE);
    let before = int_param(query.before.as_deref(), "before", 1, i64::MAX)?;
    let after = int_param(query.after.as_deref(), "after", 0, i64::MAX)?;
    let window = match (before, after) {
        (Some(_), Some(_)) => return Err(ApiError::invalid("before", "cannot be combined with after")),
        (Some(id), None) => Window::Before(id),
        (None, Some(id)) => Window::After(id),
        (None, None) => Window::Newest,
    };
    let page = chat::history_json(&state, caller, room_id, window, limit).await?;
    Ok(([(header::CONTENT_TYPE, "application/json; charset=utf-8")], page).into_response())
}

/// Older clients also send `sender` and `timestamp`; unknown fields are ignored. `content` may
/// be left out when an attachment is given (it is then empty).
#[derive(Deserialize)]
pub struct PostMessage {
    #[serde(default)]
    content: String,
    attachment_id: Option<i64>,
    client_id: Option<String>,
}

pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<PostMessage>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let post = Post {
        room_id: path_id(&room_id, "Room")?,
        content: input.content,
        attachment_id: input.attachment_id,
        client_id: input.client_id,
    };
    let (message, created) = chat::send_message(&state, caller, post).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(message)))
}

#[derive(Deserialize)]
pub struct EditMessage {
    content: String,
}

pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<EditMessage>,
) -> ApiResult<Json<Message>> {
    chat::edit_message(&state, caller, path_id(&id, "Message")?, input.content).await.map(Json)
}

pub async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    chat::delete_message(&state, caller, path_id(&id, "Message")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct MarkRead {
    message_id: i64,
}

pub async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<MarkRead>,
) -> ApiResult<StatusCode> {
    if input.message_id < 1 {
        return Err(ApiError::invalid("message_id", "must be a positive integer"));
    }
    chat::mark_read(&state, caller, path_id(&room_id, "Room")?, input.message_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! SPEC §3 Chats and Conversations: posting, history, edits, deletes, read markers, reactions,
//! search.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{JsonBody, QueryParams};
use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::input::{Edit, HistoryQuery, MessageSearchQuery, PostBody, ReadBody, ReadMarker, path_id};
use crate::model::Message;
use crate::usecase::chat::ReactionChange;

pub async fn history(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> ApiResult<Response> {
    let room_id = path_id(&room_id, "Room")?;
    let page = state.chat.history_json(caller, room_id, query.into_history()?).await?;
    Ok(([(header::CONTENT_TYPE, "application/json; charset=utf-8")], page).into_response())
}

pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<PostBody>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    let post = input.into_post(path_id(&room_id, "Room")?);
    let (message, created) = state.chat.send_message(caller, post).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(message)))
}

pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<Edit>,
) -> ApiResult<Json<Message>> {
    state.chat.edit_message(caller, path_id(&id, "Message")?, input).await.map(Json)
}

pub async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.chat.delete_message(caller, path_id(&id, "Message")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn mark_read(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<ReadBody>,
) -> ApiResult<StatusCode> {
    let message_id = input.message_id()?;
    let marker = ReadMarker { room_id: path_id(&room_id, "Room")?, message_id };
    state.chat.mark_read(caller, marker).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `{id}` and `{emoji}` of a reaction's path. axum has percent-decoded both; bytes that do not
/// decode to UTF-8 cannot be an emoji (422, with the SPEC's body rather than axum's text).
fn reaction_path(path: Result<Path<(String, String)>, PathRejection>) -> ApiResult<(i64, String)> {
    let Path((id, emoji)) = path.map_err(|_| ApiError::invalid("emoji", "must be URL-encoded UTF-8"))?;
    Ok((path_id(&id, "Message")?, emoji))
}

pub async fn add_reaction(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Message>> {
    let (id, emoji) = reaction_path(path)?;
    state.chat.react(caller, id, emoji, ReactionChange::Add).await.map(Json)
}

pub async fn remove_reaction(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Message>> {
    let (id, emoji) = reaction_path(path)?;
    state.chat.react(caller, id, emoji, ReactionChange::Remove).await.map(Json)
}

pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<MessageSearchQuery>,
) -> ApiResult<Json<Vec<Message>>> {
    state.chat.search_messages(caller, query.into_search()?).await.map(Json)
}

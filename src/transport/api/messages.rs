//! SPEC §3 Chats and Conversations: posting, history, edits, deletes, read markers, reactions,
//! search.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{JsonBody, QueryParams};
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::schemas::{Emoji, SearchText};
use crate::input::{Edit, HistoryQuery, MessageSearchQuery, PostBody, ReadBody, ReadMarker, path_id};
use crate::model::Message;
use crate::usecase::auth::Caller;
use crate::usecase::chat::ReactionChange;

/// A page of history, oldest first: no cursor = the newest `limit`; `before` = the newest
/// `limit` older than it; `after` = the oldest `limit` newer than it (page forward until `[]`);
/// both = the oldest `limit` between them.
#[utoipa::path(get, path = "/chat/chat_rooms/{room_id}/messages", tag = "messages", security(("bearer" = []), ("oauth2" = [])),
    params(("room_id" = i64, Path, minimum = 1, description = "A room or private chat the caller belongs to."),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)."),
        ("before" = Option<i64>, Query, minimum = 1, description = "Page back from this message id."),
        ("after" = Option<i64>, Query, minimum = 0, description = "Catch up after this message id (with `before`: the oldest `limit` between the two)."),
    ),
    responses((status = 200, description = "Messages, oldest first.", body = Vec<Message>),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
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

/// Post a message (content 1–4000 characters after trimming; may be empty with an attachment).
/// The same `client_id` from the same sender in the same room returns the first message (200)
/// and stores nothing. Pushed over Socket.IO as `chat_response`.
#[utoipa::path(post, path = "/chat/chat_rooms/{room_id}/messages", tag = "messages", security(("bearer" = []), ("oauth2" = [])), params(("room_id" = i64, Path, minimum = 1, description = "A room or private chat the caller belongs to.")),
    request_body = PostBody,
    responses((status = 201, description = "The stored message.", body = Message),
        (status = 200, description = "A retry with a known `client_id`: the first message.", body = Message),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<PostBody>,
) -> ApiResult<(StatusCode, Json<Message>)> {
    state.chat.admit_message(caller)?;
    let post = input.into_post(path_id(&room_id, "Room")?);
    let (message, created) = state.chat.send_message(caller, post).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(message)))
}

/// The sender changes a message's content (its attachment stays). Pushed as `message_updated`.
#[utoipa::path(patch, path = "/chat/messages/{id}", tag = "messages", security(("bearer" = []), ("oauth2" = [])), params(("id" = i64, Path, minimum = 1, description = "A message in a room the caller belongs to.")), request_body = Edit,
    responses((status = 200, description = "The edited message.", body = Message),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn edit(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(input): JsonBody<Edit>,
) -> ApiResult<Json<Message>> {
    state.chat.edit_message(caller, path_id(&id, "Message")?, input).await.map(Json)
}

/// The sender or the room's owner deletes a message for good. Pushed as `message_deleted`.
#[utoipa::path(delete, path = "/chat/messages/{id}", tag = "messages", security(("bearer" = []), ("oauth2" = [])), params(("id" = i64, Path, minimum = 1, description = "A message in a room the caller belongs to.")),
    responses((status = 204, description = "Deleted."), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn delete(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    state.chat.delete_message(caller, path_id(&id, "Message")?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Move the caller's read marker forward (never back, capped at the newest message); the room's
/// other members get the `read` event.
#[utoipa::path(post, path = "/chat/chat_rooms/{room_id}/read", tag = "messages", security(("bearer" = []), ("oauth2" = [])), params(("room_id" = i64, Path, minimum = 1, description = "A room or private chat the caller belongs to.")),
    request_body = ReadBody,
    responses((status = 204, description = "The marker moved (or was already there)."), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
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

/// Add the caller's reaction (already there: unchanged). At most 20 distinct reactions per
/// message. Pushed as `message_updated`.
#[utoipa::path(put, path = "/chat/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = []), ("oauth2" = [])), params(("id" = i64, Path, minimum = 1, description = "A message in a room the caller belongs to."), ("emoji" = inline(Emoji), Path, description = "The reaction, URL-encoded: 1–32 characters, none of them blank or a control character.")),
    responses((status = 200, description = "The message with the reaction.", body = Message),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn add_reaction(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Message>> {
    let (id, emoji) = reaction_path(path)?;
    state.chat.react(caller, id, emoji, ReactionChange::Add).await.map(Json)
}

/// Remove the caller's reaction (not there: unchanged). Pushed as `message_updated`.
#[utoipa::path(delete, path = "/chat/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = []), ("oauth2" = [])), params(("id" = i64, Path, minimum = 1, description = "A message in a room the caller belongs to."), ("emoji" = inline(Emoji), Path, description = "The reaction, URL-encoded: 1–32 characters, none of them blank or a control character.")),
    responses((status = 200, description = "The message without the reaction.", body = Message),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn remove_reaction(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Json<Message>> {
    let (id, emoji) = reaction_path(path)?;
    state.chat.react(caller, id, emoji, ReactionChange::Remove).await.map(Json)
}

/// Search the messages of the caller's rooms: words match as prefixes (case and diacritics
/// ignored), a `"quoted phrase"` as a phrase. Newest first.
#[utoipa::path(get, path = "/chat/search", tag = "messages", security(("bearer" = []), ("oauth2" = [])),
    params(
        ("q" = inline(SearchText), Query, description = "The words: 1–200 characters after trimming; any text is a valid query."),
        ("room_id" = Option<i64>, Query, minimum = 1, description = "Only this room (not a member: 404)."),
        ("before" = Option<i64>, Query, minimum = 1, description = "Page back from this message id."),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 50, description = "Page size (default 20)."),
    ),
    responses((status = 200, description = "Matching messages, newest first.", body = Vec<Message>),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<MessageSearchQuery>,
) -> ApiResult<Json<Vec<Message>>> {
    state.chat.search_messages(caller, query.into_search()?).await.map(Json)
}

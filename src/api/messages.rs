//! SPEC §3 Chats: posting, history, edits, deletes, read markers.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{JsonBody, QueryParams};
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{Edit, HistoryQuery, PostBody, ReadBody, ReadMarker, path_id};
use crate::model::Message;

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

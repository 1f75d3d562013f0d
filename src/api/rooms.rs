//! SPEC §3 Chats: group rooms, members, private chats.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::JsonBody;
use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::input::{NewRoom, Username, path_id};
use crate::model::{PrivateChat, Room};

pub async fn list_rooms(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Room>>> {
    state.chat.list_rooms(caller).await.map(Json)
}

pub async fn create_room(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<NewRoom>,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let room = state.chat.create_room(caller, input).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

pub async fn get_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Room>> {
    state.chat.get_room(caller, path_id(&room_id, "Room")?).await.map(Json)
}

pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<Username>,
) -> ApiResult<Json<Room>> {
    state.chat.add_member(caller, path_id(&room_id, "Room")?, input.username).await.map(Json)
}

pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((room_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let room_id = path_id(&room_id, "Room")?;
    let user_id = path_id(&user_id, "Member")?;
    state.chat.remove_member(caller, room_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_private_chats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<PrivateChat>>> {
    state.chat.list_private_chats(caller).await.map(Json)
}

pub async fn open_private_chat(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<Username>,
) -> ApiResult<(StatusCode, Json<PrivateChat>)> {
    let (chat, created) = state.chat.open_private_chat(caller, input.username).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(chat)))
}

//! SPEC §3 Chats: group rooms, members, private chats.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::JsonBody;
use crate::AppState;
use crate::auth::Caller;
use crate::chat;
use crate::error::ApiResult;
use crate::input::path_id;
use crate::model::{PrivateChat, Room};

pub async fn list_rooms(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Room>>> {
    chat::list_rooms(&state, caller).await.map(Json)
}

#[derive(Deserialize)]
pub struct CreateRoom {
    name: String,
    #[serde(default)]
    members: Vec<String>,
}

pub async fn create_room(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<CreateRoom>,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let room = chat::create_room(&state, caller, input.name, input.members).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

pub async fn get_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Room>> {
    chat::get_room(&state, caller, path_id(&room_id, "Room")?).await.map(Json)
}

#[derive(Deserialize)]
pub struct AddMember {
    username: String,
}

pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<AddMember>,
) -> ApiResult<Json<Room>> {
    chat::add_member(&state, caller, path_id(&room_id, "Room")?, input.username).await.map(Json)
}

pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((room_id, user_id)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let room_id = path_id(&room_id, "Room")?;
    let user_id = path_id(&user_id, "Member")?;
    chat::remove_member(&state, caller, room_id, user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_private_chats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<PrivateChat>>> {
    chat::list_private_chats(&state, caller).await.map(Json)
}

#[derive(Deserialize)]
pub struct OpenPrivateChat {
    username: String,
}

pub async fn open_private_chat(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<OpenPrivateChat>,
) -> ApiResult<(StatusCode, Json<PrivateChat>)> {
    let (chat, created) = chat::open_private_chat(&state, caller, input.username).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(chat)))
}

//! SPEC §3 Chats: group rooms, members, private chats.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::extract::{JsonBody, QueryParams};
use crate::AppState;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{DirectoryQuery, NewRoom, RoomChange, Username, path_id};
use crate::model::{PrivateChat, Room, RoomListing};
use crate::usecase::auth::Caller;

/// The group rooms the caller belongs to, most recent activity first.
#[utoipa::path(get, path = "/chat/chat_rooms", tag = "chats", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, description = "The caller's group rooms.", body = Vec<Room>)))]
pub async fn list_rooms(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Room>>> {
    state.chat.list_rooms(caller).await.map(Json)
}

/// A group room owned by the caller, with the named members (usernames, any case). The name is
/// trimmed and 1–100 characters; unknown usernames are a 422 listing them.
#[utoipa::path(post, path = "/chat/chat_rooms", tag = "chats", security(("bearer" = []), ("oauth2" = [])), request_body = NewRoom,
    responses((status = 201, description = "The new room.", body = Room), (status = 429, body = ErrorBody)))]
pub async fn create_room(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<NewRoom>,
) -> ApiResult<(StatusCode, Json<Room>)> {
    let room = state.chat.create_room(caller, input).await?;
    Ok((StatusCode::CREATED, Json(room)))
}

/// A room the caller belongs to (private chats too); 404 for anyone else.
#[utoipa::path(get, path = "/chat/chat_rooms/{room_id}", tag = "chats", security(("bearer" = []), ("oauth2" = [])), params(("room_id" = i64, Path, minimum = 1, description = "A room or private chat the caller belongs to.")),
    responses((status = 200, description = "The room.", body = Room), (status = 404, body = ErrorBody)))]
pub async fn get_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Room>> {
    state.chat.get_room(caller, path_id(&room_id, "Room")?).await.map(Json)
}

/// The owner (or an administrator) changes a group room's name, topic or visibility; members
/// get `room_updated`. Not the owner: 403; a private room the caller is not in: 404.
#[utoipa::path(patch, path = "/chat/chat_rooms/{room_id}", tag = "chats", security(("bearer" = []), ("oauth2" = [])), params(("room_id" = i64, Path, minimum = 1, description = "A group room.")),
    request_body = Option<RoomChange>,
    responses((status = 200, description = "The room as it is now.", body = Room), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn update_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<RoomChange>,
) -> ApiResult<Json<Room>> {
    state.chat.update_room(caller, path_id(&room_id, "Room")?, input).await.map(Json)
}

/// Every open room on the server, most recent activity first; `q` keeps those whose name
/// contains it (any case, any script).
#[utoipa::path(get, path = "/chat/directory", tag = "chats", security(("bearer" = []), ("oauth2" = [])),
    params(("q" = Option<String>, Query, description = "Text the room's name contains (case ignored).")),
    responses((status = 200, description = "The open rooms.", body = Vec<RoomListing>)))]
pub async fn directory(
    State(state): State<AppState>,
    caller: Caller,
    QueryParams(query): QueryParams<DirectoryQuery>,
) -> ApiResult<Json<Vec<RoomListing>>> {
    state.chat.directory(caller, query.filter()).await.map(Json)
}

/// The caller joins an open room (already a member: unchanged). Its history so far counts as
/// read. A private room the caller is not in: 404.
#[utoipa::path(post, path = "/chat/chat_rooms/{room_id}/join", tag = "chats", security(("bearer" = []), ("oauth2" = [])), params(("room_id" = i64, Path, minimum = 1, description = "An open room.")),
    responses((status = 200, description = "The room.", body = Room), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn join_room(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
) -> ApiResult<Json<Room>> {
    state.chat.join_room(caller, path_id(&room_id, "Room")?).await.map(Json)
}

/// The owner adds a member by username (already a member: unchanged). Private chats: 403.
#[utoipa::path(post, path = "/chat/chat_rooms/{room_id}/members", tag = "chats", security(("bearer" = []), ("oauth2" = [])), params(("room_id" = i64, Path, minimum = 1, description = "A room or private chat the caller belongs to.")),
    request_body = Username,
    responses((status = 200, description = "The room.", body = Room), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(room_id): Path<String>,
    JsonBody(input): JsonBody<Username>,
) -> ApiResult<Json<Room>> {
    state.chat.add_member(caller, path_id(&room_id, "Room")?, input.username).await.map(Json)
}

/// The owner removes anyone; anyone removes themself (leaving). The owner leaving hands
/// ownership on; the last member leaving deletes the room. Private chats: 403.
#[utoipa::path(delete, path = "/chat/chat_rooms/{room_id}/members/{user_id}", tag = "chats", security(("bearer" = []), ("oauth2" = [])),
    params(("room_id" = i64, Path, minimum = 1, description = "A room or private chat the caller belongs to."), ("user_id" = i64, Path, minimum = 1, description = "The member to remove.")),
    responses((status = 204, description = "Removed."), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
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

/// The caller's private chats, most recent activity first.
#[utoipa::path(get, path = "/chat/private_chats", tag = "chats", security(("bearer" = []), ("oauth2" = [])),
    responses((status = 200, description = "The caller's private chats.", body = Vec<PrivateChat>)))]
pub async fn list_private_chats(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<PrivateChat>>> {
    state.chat.list_private_chats(caller).await.map(Json)
}

/// The one private chat of the caller and `username`: 201 when it was just created, 200 when
/// it existed. Yourself: 422.
#[utoipa::path(post, path = "/chat/private_chats", tag = "chats", security(("bearer" = []), ("oauth2" = [])), request_body = Username,
    responses((status = 201, description = "Created.", body = PrivateChat),
        (status = 200, description = "It already existed.", body = PrivateChat), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn open_private_chat(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(input): JsonBody<Username>,
) -> ApiResult<(StatusCode, Json<PrivateChat>)> {
    let (chat, created) = state.chat.open_private_chat(caller, input.username).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(chat)))
}

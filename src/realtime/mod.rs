//! Socket.IO (SPEC §4) on the REST port: connect auth, events, presence, and the fan-out of
//! domain events.
//!
//! - Every socket joins `user:{id}` (all tabs of a user) and `room:{id}` for each of its rooms.
//! - `chat_message` goes through the same use case as the REST post; the storage engine answers
//!   after the commit, so the ack means "durable". Broadcasts do not happen here: the use case
//!   publishes a domain event from the after-commit hook and [`fan_out`] emits it, in commit
//!   order, whether the message came from REST or Socket.IO.
//! - Presence counts sockets per user (`crate::presence`); `user_status` goes to the `user:{id}`
//!   rooms of everyone who shares a room with the user, so never to the user's own sockets.

pub mod handshake;

use std::fmt;

use axum::http::header::AUTHORIZATION;
use serde::Deserialize;
use serde_json::{Value, json};
use socketioxide::extract::{AckSender, Extension, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::layer::SocketIoLayer;
use socketioxide::{SocketIo, socket::Socket};

use crate::AppState;
use crate::auth::{Caller, bearer_token};
use crate::chat::{self, ChatEvent, EventStream, Post};
use crate::db::users::UserRecord;
use crate::db::{self, rooms, users};
use crate::error::{ApiError, ApiResult};
use crate::model::UserPublic;

pub use handshake::OwnedHandshakeLayer;

/// Who a socket speaks for: its token's caller and the account as it was at connect time.
#[derive(Clone)]
struct SocketUser {
    caller: Caller,
    user: UserRecord,
}

/// The `connect_error` data: `{"message": "unauthorized"}`.
#[derive(Debug)]
struct Unauthorized;

impl fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unauthorized")
    }
}

/// The Socket.IO layer and its handle, configured from the flags.
pub fn layer(state: &AppState) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder()
        .max_payload(state.config.max_socket_payload)
        .max_buffer_size(1024)
        // Small read buffers: an idle socket should cost as little memory as possible.
        .ws_read_buffer_size(1024)
        .with_state(state.clone())
        .build_layer();
    io.ns("/", on_connect.with(authenticate));
    (layer, io)
}

/// The token from `auth.token`, the `token` query parameter, or an `Authorization` header.
fn handshake_token(s: &SocketRef, auth: Option<&Value>) -> Option<String> {
    if let Some(token) = auth.and_then(|a| a.get("token")).and_then(Value::as_str) {
        return Some(token.to_string());
    }
    let parts = s.req_parts();
    let from_query = parts
        .uri
        .query()
        .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("token=").map(|t| t.to_string())));
    from_query.or_else(|| {
        parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer_token).map(str::to_string)
    })
}

async fn authenticate(
    s: SocketRef,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
) -> Result<(), Unauthorized> {
    let token = handshake_token(&s, auth.as_ref().ok()).ok_or(Unauthorized)?;
    let (caller, user) = state.auth.authenticate(&state.db, &token).await.map_err(|_| Unauthorized)?;
    s.extensions.insert(SocketUser { caller, user });
    Ok(())
}

fn user_room(id: i64) -> String {
    format!("user:{id}")
}

fn room_room(id: i64) -> String {
    format!("room:{id}")
}

async fn on_connect(s: SocketRef, State(state): State<AppState>, io: SocketIo) {
    let Some(SocketUser { user, .. }) = s.extensions.get::<SocketUser>() else {
        let _ = s.disconnect();
        return;
    };
    s.join(user_room(user.id));
    let user_id = user.id;
    match state.db.read(move |conn| rooms::room_ids_of(conn, user_id)).await {
        Ok(ids) => s.join(ids.into_iter().map(room_room).collect::<Vec<_>>()),
        Err(e) => tracing::error!(error = %e, "could not load the rooms of a connecting socket"),
    }
    s.on("chat_message", on_chat_message);
    s.on("get_online_users", on_get_online_users);
    s.on("typing", on_typing);
    s.on("mark_read", on_mark_read);
    s.on_disconnect(on_disconnect);
    if state.presence.connect(user.id) {
        announce_status(&state, &io, &user, true, user.last_seen.clone()).await;
    }
}

async fn on_disconnect(s: SocketRef, State(state): State<AppState>, io: SocketIo) {
    let Some(SocketUser { user, .. }) = s.extensions.get::<SocketUser>() else { return };
    if state.presence.disconnect(user.id) {
        let now = db::now();
        let (id, at) = (user.id, now.clone());
        if let Err(e) = state.db.write(move |conn| users::set_last_seen(conn, id, &at)).await {
            tracing::warn!(error = %e, "could not store last_seen");
        }
        announce_status(&state, &io, &user, false, Some(now)).await;
    }
}

/// `user_status` to everyone who shares a room with `user` (never to the user's own sockets).
async fn announce_status(state: &AppState, io: &SocketIo, user: &UserRecord, online: bool, last_seen: Option<String>) {
    let id = user.id;
    let contacts = match state.db.read(move |conn| rooms::contacts_of(conn, id)).await {
        Ok(contacts) => contacts,
        Err(e) => {
            tracing::warn!(error = %e, "could not load contacts for user_status");
            return;
        }
    };
    if contacts.is_empty() {
        return;
    }
    let status = json!({ "user_id": user.id, "username": user.username, "online": online, "last_seen": last_seen });
    let targets: Vec<String> = contacts.into_iter().map(user_room).collect();
    let _ = io.to(targets).emit("user_status", &status).await;
}

/// Whether the client asked for an ack (so `get_online_users` knows to answer by event).
struct WantsAck(bool);

impl FromMessageParts<socketioxide::adapter::LocalAdapter> for WantsAck {
    type Error = std::convert::Infallible;
    fn from_message_parts(
        _: &std::sync::Arc<Socket<socketioxide::adapter::LocalAdapter>>,
        _: &mut socketioxide::handler::Value,
        ack_id: &Option<i64>,
    ) -> Result<Self, Self::Error> {
        Ok(WantsAck(ack_id.is_some()))
    }
}

fn error_ack(e: &ApiError) -> Value {
    let mut error = json!({ "code": e.code(), "detail": e.detail() });
    if let Some(fields) = e.body().get("fields") {
        error["fields"] = fields.clone();
    }
    json!({ "ok": false, "error": error })
}

/// The socket's caller if their token has not expired; otherwise the socket is disconnected.
/// (Each use case still verifies the account itself, so a disabled user is refused too.)
fn current_user(s: &SocketRef, user: &SocketUser) -> Option<(Caller, UserRecord)> {
    if db::unix_now() >= user.caller.expires_at {
        let _ = s.clone().disconnect();
        return None;
    }
    Some((user.caller, user.user.clone()))
}

/// An event payload as an object; anything else is a validation error.
fn payload(data: Result<Value, impl fmt::Display>) -> ApiResult<serde_json::Map<String, Value>> {
    match data {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid("payload", "must be a JSON object")),
        Err(e) => Err(ApiError::invalid("payload", format!("could not be read: {e}"))),
    }
}

/// A positive integer field (numbers, or digit strings from lenient clients).
fn id_field(map: &serde_json::Map<String, Value>, names: &[&str]) -> ApiResult<i64> {
    let value = names.iter().find_map(|n| map.get(*n)).ok_or_else(|| ApiError::invalid(names[0], "is required"))?;
    let id = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    id.filter(|id| *id > 0).ok_or_else(|| ApiError::invalid(names[0], "must be a positive integer"))
}

#[derive(Deserialize)]
struct ChatMessageInput {
    #[serde(alias = "message")]
    content: Option<String>,
    attachment_id: Option<i64>,
    client_id: Option<String>,
}

async fn on_chat_message(
    s: SocketRef,
    TryData(data): TryData<Value>,
    ack: AckSender,
    Extension(socket_user): Extension<SocketUser>,
    State(state): State<AppState>,
) {
    let Some((caller, user)) = current_user(&s, &socket_user) else { return };
    let result = async {
        state
            .limits
            .messages_per_user
            .hit(&user.id.to_string())
            .map_err(|retry_after| ApiError::RateLimited { retry_after })?;
        let map = payload(data)?;
        let room_id = id_field(&map, &["room_id", "room"])?;
        let input: ChatMessageInput = crate::api::extract::from_value(Value::Object(map))?;
        let post = Post {
            room_id,
            content: input.content.ok_or_else(|| ApiError::invalid("content", "is required"))?,
            attachment_id: input.attachment_id,
            client_id: input.client_id,
        };
        chat::send_message(&state, caller, post).await
    }
    .await;
    let reply = match result {
        Ok((message, _)) => json!({ "ok": true, "message": message }),
        Err(e) => error_ack(&e),
    };
    let _ = ack.send(&reply);
}

async fn on_get_online_users(
    s: SocketRef,
    TryData(data): TryData<Value>,
    ack: AckSender,
    WantsAck(wants_ack): WantsAck,
    Extension(socket_user): Extension<SocketUser>,
    State(state): State<AppState>,
) {
    let Some((caller, _)) = current_user(&s, &socket_user) else { return };
    let result: ApiResult<Value> = async {
        let room_id = id_field(&payload(data)?, &["room_id", "room"])?;
        let online = online_members(&state, caller, room_id).await?;
        Ok(json!({ "ok": true, "room_id": room_id, "users": online }))
    }
    .await;
    let reply = result.unwrap_or_else(|e| error_ack(&e));
    if wants_ack {
        let _ = ack.send(&reply);
    } else {
        let _ = s.emit("online_users", &reply);
    }
}

async fn online_members(state: &AppState, caller: Caller, room_id: i64) -> ApiResult<Vec<UserPublic>> {
    let members = state
        .db
        .read(move |conn| {
            caller.verify(conn)?;
            rooms::membership(conn, room_id, caller.id)?.ok_or_else(|| ApiError::not_found("Room"))?;
            Ok::<_, ApiError>(rooms::members(conn, room_id)?)
        })
        .await?;
    Ok(members
        .into_iter()
        .map(|(member, _)| state.presence.public(member.to_public()))
        .filter(|member| member.online)
        .collect())
}

async fn on_typing(
    s: SocketRef,
    TryData(data): TryData<Value>,
    ack: AckSender,
    Extension(socket_user): Extension<SocketUser>,
    State(state): State<AppState>,
) {
    let Some((caller, user)) = current_user(&s, &socket_user) else { return };
    let result: ApiResult<()> = async {
        let map = payload(data)?;
        let room_id = id_field(&map, &["room_id", "room"])?;
        let typing = map.get("typing").and_then(Value::as_bool).unwrap_or(true);
        state
            .db
            .read(move |conn| {
                caller.verify(conn)?;
                rooms::membership(conn, room_id, caller.id)?.ok_or_else(|| ApiError::not_found("Room"))
            })
            .await?;
        let event = json!({ "room_id": room_id, "user_id": user.id, "username": user.username, "typing": typing });
        let _ = s.to(room_room(room_id)).except(user_room(user.id)).emit("typing", &event).await;
        Ok(())
    }
    .await;
    let _ = ack.send(&match result {
        Ok(()) => json!({ "ok": true }),
        Err(e) => error_ack(&e),
    });
}

async fn on_mark_read(
    s: SocketRef,
    TryData(data): TryData<Value>,
    ack: AckSender,
    Extension(socket_user): Extension<SocketUser>,
    State(state): State<AppState>,
) {
    let Some((caller, _)) = current_user(&s, &socket_user) else { return };
    let result: ApiResult<()> = async {
        let map = payload(data)?;
        let room_id = id_field(&map, &["room_id", "room"])?;
        let message_id = id_field(&map, &["message_id"])?;
        chat::mark_read(&state, caller, room_id, message_id).await
    }
    .await;
    let _ = ack.send(&match result {
        Ok(()) => json!({ "ok": true }),
        Err(e) => error_ack(&e),
    });
}

/// Emit every domain event to the sockets concerned, in the order the commits happened.
pub async fn fan_out(io: SocketIo, mut events: EventStream) {
    while let Some(event) = events.recv().await {
        let sent = match &event {
            ChatEvent::MessageCreated(message) => {
                io.to(room_room(message.room_id)).emit("chat_response", message).await
            }
            ChatEvent::MessageUpdated(message) => {
                io.to(room_room(message.room_id)).emit("message_updated", message).await
            }
            ChatEvent::MessageDeleted { id, room_id } => {
                io.to(room_room(*room_id)).emit("message_deleted", &json!({ "id": id, "room_id": room_id })).await
            }
            ChatEvent::MemberAdded { user_id, room } => {
                let _ = io.to(user_room(*user_id)).join(room_room(room.id)).await;
                io.to(user_room(*user_id)).emit("room_added", room).await
            }
            ChatEvent::MemberRemoved { user_id, room_id } => {
                let _ = io.to(user_room(*user_id)).leave(room_room(*room_id)).await;
                io.to(user_room(*user_id)).emit("room_removed", &json!({ "room_id": room_id })).await
            }
        };
        if let Err(e) = sent {
            tracing::debug!(error = %e, "a broadcast did not reach every socket");
        }
    }
}

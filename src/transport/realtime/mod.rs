//! Socket.IO (SPEC §4) on the REST port: it maps sockets to use-case calls and domain events to
//! emits, and decides nothing itself.
//!
//! - Every socket joins `user:{id}` (all tabs of a user) and `room:{id}` for each of its rooms.
//! - `chat_message` goes through the same use case as the REST post; the storage engine answers
//!   after the commit, so the ack means "durable". Broadcasts do not happen here: the use case
//!   publishes a domain event from the after-commit hook and [`fan_out`] emits it, in commit
//!   order, whether the message came from REST or Socket.IO.
//! - Presence (`usecase::presence`) counts sockets per user and says who is told; a
//!   `user_status` goes to the `user:{id}` rooms of those users, so never to the user's own
//!   sockets.

pub mod delivery;
pub mod handshake;

use std::fmt;
use std::sync::Arc;

use axum::http::header::AUTHORIZATION;
use serde_json::{Map, Value, json};
use socketioxide::extract::{AckSender, Event, Extension, SocketRef, State, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts};
use socketioxide::layer::SocketIoLayer;
use socketioxide::operators::BroadcastOperators;
use socketioxide::{SocketIo, socket::Socket};

use crate::AppState;
use crate::error::{ApiError, ApiResult, Chain};
use crate::input;
use crate::model::{MessageDeleted, RoomRemoved};
use crate::usecase::auth::{Caller, bearer_token};
use crate::usecase::chat::{ChatEvent, EventStream};
use crate::usecase::presence::StatusNotice;

pub use handshake::{OwnedHandshakeLayer, admit};

/// Who a socket speaks for: its token's caller and name. Kept small on purpose: every idle
/// socket carries one (the account itself is re-read by each use case).
#[derive(Clone)]
struct SocketUser {
    caller: Caller,
    username: Arc<str>,
}

/// A refused connection. Its `connect_error` data is `{"message": <the error's code>}`:
/// `unauthorized` for a missing or bad token (SPEC §4), and the truth when the server failed
/// (`unavailable` while the storage engine cannot answer, `internal`), which is logged.
#[derive(Debug)]
struct Refused(ApiError);

impl From<ApiError> for Refused {
    fn from(e: ApiError) -> Self {
        e.report();
        Refused(e)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.code())
    }
}

/// The Socket.IO layer and its handle, configured from the flags.
pub fn layer(state: &AppState) -> (SocketIoLayer, SocketIo) {
    let (layer, io) = SocketIo::builder()
        // The cap has two knobs: `max_payload` for long-polling bodies, `ws_max_message_size`
        // for WebSocket messages (which otherwise default to 64 MiB).
        .max_payload(state.config.max_socket_payload)
        .ws_max_message_size(usize::try_from(state.config.max_socket_payload).unwrap_or(usize::MAX))
        .ws_max_frame_size(usize::try_from(state.config.max_socket_payload).unwrap_or(usize::MAX))
        // A client that stops reading is closed once this many packets wait for it (`delivery`).
        .max_buffer_size(usize::try_from(state.config.socket_queue).unwrap_or(usize::MAX))
        // Small read buffers: an idle socket should cost as little memory as possible. The buffer
        // grows to fit a bigger frame (the CONNECT with its token) and keeps that size: from 128 B
        // to about the frame, from 256 B to 512 B (17.2 → 16.9 KB per idle socket measured). It
        // also caps each read syscall; 128 B measured no slower in the senders bench.
        .ws_read_buffer_size(128)
        // socketioxide's own connect timeout closes a session that has not joined a namespace in
        // time, WebSocket or long-polling alike, and is cancelled by a successful CONNECT only:
        // one refused (a bad token) is closed at the same deadline. Its default of 45 s let
        // one address hold thousands of sessions that never authenticated (`handshake`).
        .connect_timeout(state.config.handshake_timeout)
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

/// The connect middleware: authenticate, then set the socket up completely — rooms joined,
/// event handler registered, presence counted — because socketioxide answers the CONNECT only
/// after this returns. (Doing it in the connect handler, which runs after the answer, dropped
/// events a client sent at once and could miss broadcasts: found by tests/it/realtime.rs.)
async fn authenticate(
    s: SocketRef,
    TryData(auth): TryData<Value>,
    State(state): State<AppState>,
) -> Result<(), Refused> {
    let token = handshake_token(&s, auth.as_ref().ok()).ok_or_else(ApiError::unauthorized)?;
    let (caller, user) = state.sessions.connect(&token).await?;
    let user_id = caller.id;
    // Membership can change while this runs. Join `user:{id}` first, so the fan-out of any
    // change committed from now on reaches this socket; then join the rooms as read, and read
    // again to undo what changed between the first read and the joins (a removal fanned out
    // before this socket had joined that room would otherwise leave it receiving the room).
    s.join(user_room(user_id));
    let first = state.chat.room_ids(user_id).await?;
    s.join(first.iter().copied().map(room_room).collect::<Vec<_>>());
    let now = state.chat.room_ids(user_id).await?;
    let gone: Vec<String> = first.iter().filter(|id| !now.contains(id)).copied().map(room_room).collect();
    let new: Vec<String> = now.iter().filter(|id| !first.contains(id)).copied().map(room_room).collect();
    if !gone.is_empty() {
        s.leave(gone);
    }
    if !new.is_empty() {
        s.join(new);
    }
    // Last, after everything that can fail: a counted socket always reaches `on_disconnect`.
    // (Its address was counted when its session began: `handshake::admit`.)
    state.admission.open_socket(user_id)?;
    s.extensions.insert(SocketUser { caller, username: user.username.into() });
    s.on_fallback(on_event);
    s.on_disconnect(on_disconnect);
    if state.presence.connect(user_id) {
        // Announced by `on_connect`, once the socket is connected.
        s.extensions.insert(CameOnline(user.last_seen));
    }
    Ok(())
}

fn user_room(id: i64) -> String {
    format!("user:{id}")
}

fn room_room(id: i64) -> String {
    format!("room:{id}")
}

/// Set when this socket is its user's first: carries their previous `last_seen`.
#[derive(Clone)]
struct CameOnline(Option<String>);

async fn on_connect(s: SocketRef, State(state): State<AppState>, io: SocketIo) {
    let Some(user) = s.extensions.get::<SocketUser>() else { return };
    if let Some(CameOnline(last_seen)) = s.extensions.remove::<CameOnline>() {
        let notice = state.presence.came_online(user.caller.id, &user.username, last_seen).await;
        announce(&io, &state, notice);
    }
}

async fn on_disconnect(s: SocketRef, State(state): State<AppState>, io: SocketIo) {
    state.memory.note_freed();
    let Some(user) = s.extensions.get::<SocketUser>() else { return };
    state.admission.socket_closed(user.caller.id);
    if let Some(notice) = state.presence.disconnect(user.caller.id, &user.username).await.transpose() {
        announce(&io, &state, notice);
    }
}

/// Emit a `user_status` to the users presence says to tell.
fn announce(io: &SocketIo, state: &AppState, notice: ApiResult<StatusNotice>) {
    let notice = match notice {
        Ok(notice) => notice,
        Err(e) => {
            tracing::warn!(error = %Chain(&e), "could not work out who to tell about a user_status");
            return;
        }
    };
    if notice.tell.is_empty() {
        return;
    }
    if let Some(ns) = io.of("/") {
        let targets: Vec<String> = notice.tell.into_iter().map(user_room).collect();
        delivery::emit_each(state, ns.to(targets).sockets(), "user_status", &notice.status);
    }
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
    e.report();
    let mut error = json!({ "code": e.code(), "detail": e.detail() });
    if let Some(fields) = e.body().get("fields") {
        error["fields"] = fields.clone();
    }
    json!({ "ok": false, "error": error })
}

/// Every client event, dispatched by name. One handler per socket (instead of a map of them)
/// keeps idle sockets small, and gives one place for the token checks and the ack.
async fn on_event(
    s: SocketRef,
    Event(event): Event,
    TryData(data): TryData<Value>,
    ack: AckSender,
    WantsAck(wants_ack): WantsAck,
    Extension(user): Extension<SocketUser>,
    State(state): State<AppState>,
) {
    let caller = user.caller;
    let result = if caller.has_expired() {
        // The token has expired: this socket speaks for nobody any more.
        Err(ApiError::unauthorized())
    } else {
        let payload = input::event_payload(data);
        match event.as_str() {
            "chat_message" => chat_message(&state, caller, payload).await,
            "get_online_users" => get_online_users(&state, caller, payload).await,
            "typing" => typing(&s, &state, caller, payload).await,
            "mark_read" => mark_read(&state, caller, payload).await,
            other => Err(ApiError::NotFound(format!("Unknown event `{other}`."))),
        }
    };
    // Expired, or the account was disabled or its password changed after the token was issued.
    let refused = matches!(result, Err(ApiError::Unauthorized(_)));
    let reply = result.unwrap_or_else(|e| error_ack(&e));
    if wants_ack {
        delivery::checked(&state, &s, ack.send(&reply));
    } else if event == "get_online_users" {
        delivery::emit(&state, &s, "online_users", &reply);
    }
    if refused {
        let _ = s.disconnect();
    }
}

type Payload = ApiResult<Map<String, Value>>;

async fn chat_message(state: &AppState, caller: Caller, payload: Payload) -> ApiResult<Value> {
    state.chat.admit_message(caller)?;
    let post = input::chat_message_event(payload?)?;
    let (message, _) = state.chat.send_message(caller, post).await?;
    Ok(json!({ "ok": true, "message": message }))
}

async fn get_online_users(state: &AppState, caller: Caller, payload: Payload) -> ApiResult<Value> {
    state.admission.online_users(caller)?;
    let room_id = input::event_room(&payload?)?;
    let users = state.presence.online_members(caller, room_id).await?;
    Ok(json!({ "ok": true, "room_id": room_id, "users": users }))
}

async fn typing(s: &SocketRef, state: &AppState, caller: Caller, payload: Payload) -> ApiResult<Value> {
    state.admission.typing(caller)?;
    let (room_id, typing) = input::typing_event(&payload?)?;
    let event = state.presence.typing(caller, room_id, typing).await?;
    delivery::emit_each(state, s.to(room_room(room_id)).except(user_room(caller.id)).sockets(), "typing", &event);
    Ok(json!({ "ok": true }))
}

async fn mark_read(state: &AppState, caller: Caller, payload: Payload) -> ApiResult<Value> {
    state.chat.mark_read(caller, input::mark_read_event(&payload?)?).await?;
    Ok(json!({ "ok": true }))
}

/// Every `--socket-recheck`, disconnect the sockets whose token no longer speaks for anybody:
/// it has expired, or its account was disabled or changed its password after the token was
/// issued (`natter user disable|passwd`, from another process while the server runs). A socket
/// that sends is caught by `on_event` at once; one that only listens would otherwise go on
/// receiving its rooms' messages.
pub async fn recheck_sockets(io: SocketIo, state: AppState) {
    let every = state.config.socket_recheck;
    if every.is_zero() {
        return;
    }
    let mut rounds = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    rounds.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        rounds.tick().await;
        let Some(ns) = io.of("/") else { return };
        let (sockets, callers): (Vec<SocketRef>, Vec<Caller>) = ns
            .sockets()
            .into_iter()
            .filter_map(|s| {
                let caller = s.extensions.get::<SocketUser>()?.caller;
                Some((s, caller))
            })
            .unzip();
        if sockets.is_empty() {
            continue;
        }
        match state.sessions.still_valid(callers).await {
            Ok(valid) => {
                for (socket, valid) in sockets.into_iter().zip(valid) {
                    if !valid {
                        let _ = socket.disconnect();
                    }
                }
            }
            Err(e) => tracing::warn!(error = %Chain(&e), "cannot re-check open sockets this round"),
        }
    }
}

/// Emit every domain event to the sockets concerned, in the order the commits happened, one
/// socket at a time so that a full queue is noticed ([`delivery`]). A room shown to newly added
/// members is rendered here, on a read connection, before the next event.
pub async fn fan_out(io: SocketIo, state: AppState, mut events: EventStream) {
    while let Some(event) = events.next().await {
        // Once shutdown has closed the namespace there is nobody left to tell (and socketioxide's
        // `io.to` would panic).
        let Some(ns) = io.of("/") else { return };
        let state = &state;
        match &event {
            // Its tokens are refused from the commit on; its open sockets are closed now.
            ChatEvent::AccountDisabled { user_id } => {
                if let Err(e) = ns.to(user_room(*user_id)).disconnect().await {
                    tracing::debug!(error = %e, "a disabled account's socket could not be told");
                }
            }
            ChatEvent::MessageCreated(message) => {
                delivery::emit_each(state, ns.to(room_room(message.room_id)).sockets(), "chat_response", message);
                // Queued only: the push worker reads who to tell and posts to push services.
                if let Some(push) = &state.push {
                    push.message_stored(message);
                }
            }
            ChatEvent::MessageUpdated(message) => {
                delivery::emit_each(state, ns.to(room_room(message.room_id)).sockets(), "message_updated", message)
            }
            ChatEvent::MessageDeleted(deleted @ MessageDeleted { room_id, .. }) => {
                delivery::emit_each(state, ns.to(room_room(*room_id)).sockets(), "message_deleted", deleted)
            }
            ChatEvent::MembersAdded { room_id, user_ids } => {
                let seen = match state.chat.rooms_as_seen_by(*room_id, user_ids.clone()).await {
                    Ok(seen) => seen,
                    Err(e) => {
                        tracing::error!(error = %Chain(&e), room_id, "could not render room_added; the sockets join without it");
                        Vec::new()
                    }
                };
                // Every added user's sockets join, also one whose view is gone (removed again
                // meanwhile): the removal that follows makes them leave.
                for &user_id in user_ids {
                    let _ = ns.clone().to(user_room(user_id)).join(room_room(*room_id)).await;
                }
                for (user_id, room) in &seen {
                    delivery::emit_each(state, ns.clone().to(user_room(*user_id)).sockets(), "room_added", room);
                }
                // A private chat's creation is no change to a room anyone was in.
                if seen.first().is_none_or(|(_, room)| !room.is_private) {
                    room_updated(state, &ns, *room_id).await;
                }
            }
            ChatEvent::MemberRemoved { user_id, room_id } => {
                let _ = ns.clone().to(user_room(*user_id)).leave(room_room(*room_id)).await;
                let removed = RoomRemoved { room_id: *room_id };
                delivery::emit_each(state, ns.clone().to(user_room(*user_id)).sockets(), "room_removed", &removed);
                room_updated(state, &ns, *room_id).await;
            }
            ChatEvent::RoomUpdated { room_id } => room_updated(state, &ns, *room_id).await,
            // The other members only: the reader's own sockets are left out, like `typing`.
            ChatEvent::Read(receipt) => {
                let sockets = ns.to(room_room(receipt.room_id)).except(user_room(receipt.user_id)).sockets();
                delivery::emit_each(state, sockets, "read", receipt);
            }
            ChatEvent::UserUpdated { user_id } => user_updated(state, &ns, *user_id).await,
        }
    }
}

/// `user_updated`: the user as others see them, to everyone who shares a room with them and to
/// their own other sockets (their other tabs show their own name and picture too).
async fn user_updated(state: &AppState, ns: &BroadcastOperators, user_id: i64) {
    match state.presence.profile_notice(user_id).await {
        Ok(Some((updated, tell))) => {
            let targets: Vec<String> = tell.into_iter().chain([user_id]).map(user_room).collect();
            delivery::emit_each(state, ns.clone().to(targets).sockets(), "user_updated", &updated);
        }
        Ok(None) => {}
        Err(e) => tracing::error!(error = %Chain(&e), user_id, "could not render user_updated"),
    }
}

/// `room_updated`: the room as each member sees it (their own unread counts), to each member's
/// sockets. A room that is gone has nobody left to tell.
async fn room_updated(state: &AppState, ns: &BroadcastOperators, room_id: i64) {
    match state.chat.room_for_members(room_id).await {
        Ok(seen) => {
            for (user_id, room) in &seen {
                delivery::emit_each(state, ns.clone().to(user_room(*user_id)).sockets(), "room_updated", room);
            }
        }
        Err(e) => tracing::error!(error = %Chain(&e), room_id, "could not render room_updated"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `connect_error` message is the error's code: a server failure is not "unauthorized".
    #[test]
    fn a_refused_connection_says_why() {
        assert_eq!(Refused(ApiError::unauthorized()).to_string(), "unauthorized");
        assert_eq!(Refused(ApiError::internal("a read failed")).to_string(), "internal");
    }
}

//! The chat use cases, shared by REST handlers and Socket.IO events: only the transport differs.
//!
//! Each write use case runs as one closure inside the storage engine's transaction, so its checks
//! (membership, ownership, idempotency) and its changes see the same state, and publishes its
//! domain event from the after-commit hook (see `events`). Outsiders get `not_found` for every
//! room they are not in, so a room's existence is never revealed.

pub mod events;
pub mod views;

use crate::AppState;
use crate::auth::Caller;
use crate::db::DbError;
use crate::db::messages::{self, NewMessage, Window};
use crate::db::rooms;
use crate::db::users;
use crate::error::{ApiError, ApiResult};
use crate::model::{Message, PrivateChat, Role, Room};
use crate::usecase::media::ensure_own_attachment;
use crate::validate;
pub use events::{ChatEvent, EventStream, Events};

pub const MAX_CONTENT_CHARS: usize = 4000;
pub const MAX_CLIENT_ID_CHARS: usize = 64;
pub const MAX_HISTORY_PAGE: i64 = messages::MAX_PAGE;
pub const DEFAULT_HISTORY_PAGE: i64 = 50;

fn room_not_found() -> ApiError {
    ApiError::not_found("Room")
}

fn message_not_found() -> ApiError {
    ApiError::not_found("Message")
}

/// 1–4000 characters after trimming, or 0–4000 with an attachment. Stored exactly as sent.
pub fn check_content(content: &str, has_attachment: bool) -> ApiResult<()> {
    let length = content.trim().chars().count();
    if length > MAX_CONTENT_CHARS {
        return Err(ApiError::invalid("content", format!("must be at most {MAX_CONTENT_CHARS} characters")));
    }
    if length == 0 && !has_attachment {
        return Err(ApiError::invalid("content", "must not be empty"));
    }
    Ok(())
}

/// A message to post, from REST or Socket.IO.
#[derive(Debug, Clone)]
pub struct Post {
    pub room_id: i64,
    pub content: String,
    pub attachment_id: Option<i64>,
    pub client_id: Option<String>,
}

/// Store a message; `false` when `client_id` matched an earlier one, which is returned instead
/// (nothing stored, nothing broadcast).
pub async fn send_message(state: &AppState, sender: Caller, post: Post) -> ApiResult<(Message, bool)> {
    check_content(&post.content, post.attachment_id.is_some())?;
    let client_id = post.client_id.filter(|c| !c.is_empty());
    if client_id.as_ref().is_some_and(|c| c.chars().count() > MAX_CLIENT_ID_CHARS) {
        return Err(ApiError::invalid("client_id", format!("must be at most {MAX_CLIENT_ID_CHARS} characters")));
    }
    let sender_id = sender.id;
    let events = state.events.clone();
    state
        .db
        .write_then(
            move |conn| {
                sender.verify(conn)?;
                rooms::membership(conn, post.room_id, sender_id)?.ok_or_else(room_not_found)?;
                if let Some(id) = post.attachment_id {
                    ensure_own_attachment(conn, id, sender_id)?;
                }
                if let Some(client_id) = &client_id
                    && let Some(earlier) = messages::by_client_id(conn, post.room_id, sender_id, client_id)?
                {
                    return Ok((earlier, false));
                }
                let new = NewMessage {
                    room_id: post.room_id,
                    sender_id,
                    content: &post.content,
                    attachment_id: post.attachment_id,
                    client_id: client_id.as_deref(),
                };
                Ok((messages::insert(conn, &new)?, true))
            },
            move |(message, created)| {
                if *created {
                    events.publish(ChatEvent::MessageCreated(message.clone()));
                }
            },
        )
        .await
}

/// A page of a room's history, oldest first, already serialised as a JSON array.
///
/// Serialising on the blocking thread that read the rows means the page's many small
/// allocations are freed by the thread that made them; handing the `Message` values to an async
/// worker to serialise and free cost contended malloc arena locks (seen in the history
/// benchmark's profile). Only the finished buffer crosses threads.
pub async fn history_json(
    state: &AppState,
    reader: Caller,
    room_id: i64,
    window: Window,
    limit: i64,
) -> ApiResult<Vec<u8>> {
    let reader_id = reader.id;
    state
        .db
        .read(move |conn| {
            reader.verify(conn)?;
            rooms::membership(conn, room_id, reader_id)?.ok_or_else(room_not_found)?;
            let page = messages::history(conn, room_id, window, limit)?;
            let mut json = Vec::with_capacity(64 + page.iter().map(|m| 256 + m.content.len()).sum::<usize>());
            serde_json::to_writer(&mut json, &page).map_err(ApiError::internal)?;
            Ok(json)
        })
        .await
}

/// A message and the caller's membership of its room; `not_found` when either is missing, so a
/// message in someone else's room does not reveal itself.
fn message_for(
    conn: &rusqlite::Connection,
    caller: Caller,
    message_id: i64,
) -> ApiResult<(Message, rooms::Membership)> {
    caller.verify(conn)?;
    let message = messages::get(conn, message_id)?.ok_or_else(message_not_found)?;
    let membership = rooms::membership(conn, message.room_id, caller.id)?.ok_or_else(message_not_found)?;
    Ok((message, membership))
}

pub async fn edit_message(state: &AppState, editor: Caller, message_id: i64, content: String) -> ApiResult<Message> {
    let events = state.events.clone();
    state
        .db
        .write_then(
            move |conn| {
                let (message, _) = message_for(conn, editor, message_id)?;
                if message.sender.id != editor.id {
                    return Err(ApiError::Forbidden("Only the sender can edit a message.".into()));
                }
                check_content(&content, message.attachment.is_some())?;
                messages::update_content(conn, message_id, &content)?.ok_or_else(message_not_found)
            },
            move |message| events.publish(ChatEvent::MessageUpdated(message.clone())),
        )
        .await
}

pub async fn delete_message(state: &AppState, deleter: Caller, message_id: i64) -> ApiResult<()> {
    let events = state.events.clone();
    state
        .db
        .write_then(
            move |conn| {
                let (message, membership) = message_for(conn, deleter, message_id)?;
                if message.sender.id != deleter.id && membership.role != Role::Owner {
                    return Err(ApiError::Forbidden("Only the sender or the room owner can delete a message.".into()));
                }
                messages::delete(conn, message_id)?;
                Ok(message.room_id)
            },
            move |room_id| events.publish(ChatEvent::MessageDeleted { id: message_id, room_id: *room_id }),
        )
        .await
        .map(|_room_id| ())
}

/// Move the reader's marker forward (never back, never past the newest message).
pub async fn mark_read(state: &AppState, reader: Caller, room_id: i64, message_id: i64) -> ApiResult<()> {
    let reader_id = reader.id;
    state
        .db
        .write(move |conn| {
            reader.verify(conn)?;
            rooms::membership(conn, room_id, reader_id)?.ok_or_else(room_not_found)?;
            Ok(rooms::mark_read(conn, room_id, reader_id, message_id)?)
        })
        .await
}

/// The caller's group rooms or private chats as Room objects, most recent activity first.
async fn rooms_seen_by(state: &AppState, user: Caller, private: bool) -> ApiResult<Vec<Room>> {
    let st = state.clone();
    state
        .db
        .read(move |conn| {
            user.verify(conn)?;
            rooms::rooms_of(conn, user.id, private)?
                .iter()
                .map(|(room, membership)| views::room(conn, &st.presence, room, user.id, *membership))
                .collect::<Result<Vec<_>, DbError>>()
                .map_err(ApiError::from)
        })
        .await
}

/// The caller's group rooms, most recent activity first.
pub async fn list_rooms(state: &AppState, user: Caller) -> ApiResult<Vec<Room>> {
    rooms_seen_by(state, user, false).await
}

/// The caller's private chats, most recent activity first.
pub async fn list_private_chats(state: &AppState, user: Caller) -> ApiResult<Vec<PrivateChat>> {
    Ok(rooms_seen_by(state, user, true).await?.into_iter().filter_map(views::private_chat).collect())
}

pub async fn get_room(state: &AppState, user: Caller, room_id: i64) -> ApiResult<Room> {
    let (st, user_id) = (state.clone(), user.id);
    state
        .db
        .read(move |conn| {
            user.verify(conn)?;
            views::room_by_id(conn, &st.presence, room_id, user_id)?.ok_or_else(room_not_found)
        })
        .await
}

/// Publish `room_added` to each user in `added`, each with the room as they see it.
fn announce_members(
    conn: &rusqlite::Connection,
    state: &AppState,
    room_id: i64,
    added: &[i64],
) -> ApiResult<Vec<ChatEvent>> {
    let mut out = Vec::with_capacity(added.len());
    for &user_id in added {
        if let Some(room) = views::room_by_id(conn, &state.presence, room_id, user_id)? {
            out.push(ChatEvent::MemberAdded { user_id, room: Box::new(room) });
        }
    }
    Ok(out)
}

fn publish_all(events: &Events, list: &[ChatEvent]) {
    for event in list {
        events.publish(event.clone());
    }
}

/// A group room owned by the creator with the named members; unknown names → 422 listing them.
pub async fn create_room(state: &AppState, creator: Caller, name: String, members: Vec<String>) -> ApiResult<Room> {
    let name = name.trim().to_string();
    validate::text_length(&name, 1, 100).map_err(|p| ApiError::invalid("name", p))?;
    let (st, creator_id) = (state.clone(), creator.id);
    let events = state.events.clone();
    let (room, announcements) = state
        .db
        .write_then(
            move |conn| {
                creator.verify(conn)?;
                let (ids, unknown) = users::ids_for_usernames(conn, &members)?;
                if !unknown.is_empty() {
                    return Err(ApiError::invalid("members", format!("unknown usernames: {}", unknown.join(", "))));
                }
                let room_id = rooms::create_group(conn, &name, creator_id, &ids)?;
                let everyone = rooms::member_ids(conn, room_id)?;
                let room = views::room_by_id(conn, &st.presence, room_id, creator_id)?.ok_or_else(room_not_found)?;
                Ok((room, announce_members(conn, &st, room_id, &everyone)?))
            },
            move |(_, announcements)| publish_all(&events, announcements),
        )
        .await?;
    drop(announcements);
    Ok(room)
}

/// Owner adds a member by username; adding a current member changes nothing.
pub async fn add_member(state: &AppState, owner: Caller, room_id: i64, username: String) -> ApiResult<Room> {
    let (st, owner_id) = (state.clone(), owner.id);
    let events = state.events.clone();
    let (room, _) = state
        .db
        .write_then(
            move |conn| {
                owner.verify(conn)?;
                let membership = rooms::membership(conn, room_id, owner_id)?.ok_or_else(room_not_found)?;
                let record = rooms::get(conn, room_id)?.ok_or_else(room_not_found)?;
                if record.is_private {
                    return Err(ApiError::Forbidden("Private chats always have exactly their two members.".into()));
                }
                if membership.role != Role::Owner {
                    return Err(ApiError::Forbidden("Only the room owner can add members.".into()));
                }
                let target = users::by_username(conn, &username)?.ok_or_else(|| ApiError::not_found("User"))?;
                let added = rooms::add_member(conn, room_id, target.id)?;
                let announcements =
                    if added { announce_members(conn, &st, room_id, &[target.id])? } else { Vec::new() };
                let room = views::room_by_id(conn, &st.presence, room_id, owner_id)?.ok_or_else(room_not_found)?;
                Ok((room, announcements))
            },
            move |(_, announcements)| publish_all(&events, announcements),
        )
        .await?;
    Ok(room)
}

/// The owner removes anyone; anyone removes themself (leaving).
pub async fn remove_member(state: &AppState, caller: Caller, room_id: i64, target_id: i64) -> ApiResult<()> {
    let caller_id = caller.id;
    let events = state.events.clone();
    state
        .db
        .write_then(
            move |conn| {
                caller.verify(conn)?;
                let membership = rooms::membership(conn, room_id, caller_id)?.ok_or_else(room_not_found)?;
                let record = rooms::get(conn, room_id)?.ok_or_else(room_not_found)?;
                if record.is_private {
                    return Err(ApiError::Forbidden("Private chats always have exactly their two members.".into()));
                }
                if target_id != caller_id && membership.role != Role::Owner {
                    return Err(ApiError::Forbidden("Only the room owner can remove other members.".into()));
                }
                let removal = rooms::remove_member(conn, room_id, target_id)?;
                if !removal.removed {
                    return Err(ApiError::not_found("Member"));
                }
                Ok(())
            },
            move |_| events.publish(ChatEvent::MemberRemoved { user_id: target_id, room_id }),
        )
        .await
}

/// The one private chat of the caller and `username`; `true` when it was just created.
pub async fn open_private_chat(state: &AppState, caller: Caller, username: String) -> ApiResult<(PrivateChat, bool)> {
    let (st, caller_id) = (state.clone(), caller.id);
    let events = state.events.clone();
    let (chat, created, _) = state
        .db
        .write_then(
            move |conn| {
                caller.verify(conn)?;
                let peer = users::by_username(conn, &username)?.ok_or_else(|| ApiError::not_found("User"))?;
                if peer.id == caller_id {
                    return Err(ApiError::invalid("username", "must be someone other than yourself"));
                }
                let (room_id, created) = rooms::find_or_create_private(conn, caller_id, peer.id)?;
                let room = views::room_by_id(conn, &st.presence, room_id, caller_id)?.ok_or_else(room_not_found)?;
                let announcements =
                    if created { announce_members(conn, &st, room_id, &[caller_id, peer.id])? } else { Vec::new() };
                let chat = views::private_chat(room).ok_or_else(room_not_found)?;
                Ok((chat, created, announcements))
            },
            move |(_, _, announcements)| publish_all(&events, announcements),
        )
        .await?;
    Ok((chat, created))
}

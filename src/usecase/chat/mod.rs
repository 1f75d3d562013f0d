//! The chat use cases: rooms, private chats, messages, read markers, finding someone to talk to.
//! REST handlers and Socket.IO events call the same functions; only the transport differs.
//!
//! Each write runs as one closure inside the storage engine's transaction, so its checks
//! (membership, ownership, idempotency) and its changes see the same state, and publishes its
//! domain event from the after-commit hook (see [`events`]). Answers that show a room (create,
//! add a member, open a private chat) are rendered afterwards on a read connection, not on the
//! single writer. Outsiders get `not_found` for every room they are not in, so a room's
//! existence is never revealed.
//!
//! Every write a user can repeat is bounded per user, and counted first, before any check or
//! any work, so a refused call costs a map lookup and nothing else: messages (`--message-rate`),
//! edits and deletions (`--edit-rate`), reactions (`--reaction-rate`), read markers
//! (`--read-rate`), and changes of rooms and memberships (`--room-rate`, plus `--new-room-rate`
//! for creating a group room). Each of them is a write on the single writer and a push to every
//! member of the room: unbounded, one script pushed 7,517 edits of 3,990 characters in 12 s to
//! every member (a reader on a 2 Mbit/s link fell behind and was cut off), 1,200 reaction
//! toggles a second, and 3,000 rooms holding a user who never asked in 5.7 s. The defaults are
//! far above what a person does by hand and keep each flood below what `--message-rate`
//! already lets one user send. A REST request and a Socket.IO event share each bound, because
//! they call the same function here.

pub mod events;
pub mod mentions;
pub mod views;

use std::sync::Arc;

use crate::error::{ApiError, ApiResult};
use crate::input::validate;
use crate::input::{Edit, History, MessageSearch, NewRoom, Post, ReadMarker, RoomChange};
use crate::model::{
    Message, MessageDeleted, NotifyLevel, PrivateChat, ReadReceipt, Role, Room, RoomListing, UserPublic, Visibility,
};
use crate::runtime::metrics::Metrics;
use crate::storage::db::messages::{self, NewMessage, Window};
use crate::storage::db::rooms::{self, Membership};
use crate::storage::db::{Db, DbError, attachments, bots, mentions as mentioned, reactions, users};
use crate::usecase::auth::Caller;
use crate::usecase::bots::{WebhookCall, WebhookQueue};
use crate::usecase::limits::Rate;
use crate::usecase::limits::RateLimiter;
use crate::usecase::media::ensure_own_attachment;
use crate::usecase::pictures::Pictures;
use crate::usecase::presence::Presence;
use crate::usecase::{ensure_member, room_not_found};
pub use events::{ChatEvent, EventStream, Events};

// The bounds live with decoding, where the OpenAPI schemas of the input types state them too.
pub use crate::input::validate::{
    MAX_CLIENT_ID_CHARS, MAX_CONTENT_CHARS, MAX_EMOJI_CHARS, MAX_ROOM_NAME_CHARS, MAX_SEARCH_CHARS, MAX_TOPIC_CHARS,
};

/// Users a search returns at most.
const SEARCH_LIMIT: usize = 20;

// The pages the decoders allow (SPEC §3) are pages the storage engine serves whole.
const _: () = assert!(crate::input::MAX_HISTORY_PAGE <= messages::MAX_PAGE);
const _: () = assert!(crate::input::MAX_SEARCH_PAGE as usize <= crate::storage::db::search::MAX_PAGE);
/// Distinct emoji one message can hold.
pub const MAX_REACTIONS: i64 = 20;

/// The per-user bounds on chat writes, from the flags (`0` = no bound).
#[derive(Debug, Clone, Copy)]
pub struct ChatRates {
    /// `--message-rate`: REST posts and Socket.IO `chat_message` together.
    pub message: Rate,
    /// `--search-rate`: a search reads far more than any other request, so one user looping on
    /// it must not be able to keep every read connection busy.
    pub search: Rate,
    /// `--edit-rate`: message edits and deletions together.
    pub edit: Rate,
    /// `--reaction-rate`: reactions added or removed.
    pub reaction: Rate,
    /// `--read-rate`: REST `/read` and Socket.IO `mark_read` together.
    pub read: Rate,
    /// `--room-rate`: rooms created, private chats opened, members added or removed (leaving
    /// too), rooms joined or changed.
    pub room: Rate,
    /// `--new-room-rate`: group rooms created, on top of `room`. Each one may put anybody in a
    /// room without asking them, so it gets a bound in hours, not seconds.
    pub new_room: Rate,
}

impl ChatRates {
    pub const UNLIMITED: ChatRates = ChatRates {
        message: Rate::UNLIMITED,
        search: Rate::UNLIMITED,
        edit: Rate::UNLIMITED,
        reaction: Rate::UNLIMITED,
        read: Rate::UNLIMITED,
        room: Rate::UNLIMITED,
        new_room: Rate::UNLIMITED,
    };
}

/// One limiter per [`ChatRates`] bound, each keyed by user.
struct Throttles {
    message: RateLimiter,
    search: RateLimiter,
    edit: RateLimiter,
    reaction: RateLimiter,
    read: RateLimiter,
    room: RateLimiter,
    new_room: RateLimiter,
}

pub struct Chat {
    db: Db,
    events: Events,
    presence: Arc<Presence>,
    throttles: Throttles,
    /// Messages stored (`--metrics`).
    metrics: Metrics,
    /// Removes the files of a deleted message's attachment.
    pictures: Pictures,
    /// Where the outgoing webhooks of bots a message calls are left (see `usecase::bots`);
    /// `None` where nothing calls them (the command line).
    webhooks: Option<WebhookQueue>,
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

/// A reaction is 1–32 characters with no whitespace or control characters (an emoji, or a short
/// code such as `+1`).
pub fn check_emoji(emoji: &str) -> ApiResult<()> {
    let length = emoji.chars().count();
    if length == 0 || length > MAX_EMOJI_CHARS {
        return Err(ApiError::invalid("emoji", format!("must be 1 to {MAX_EMOJI_CHARS} characters")));
    }
    if emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::invalid("emoji", "must not contain spaces or control characters"));
    }
    Ok(())
}

/// Whether a reaction is being put on a message or taken off it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReactionChange {
    Add,
    Remove,
}

/// Record who `mentions` (a message's named members) tells: everyone but the sender.
fn record_mentions(conn: &rusqlite::Connection, message: &Message) -> ApiResult<()> {
    let told: Vec<i64> = message.mentions.iter().copied().filter(|id| *id != message.sender.id).collect();
    Ok(mentioned::record(conn, message.room_id, message.id, &told)?)
}

/// The outgoing webhooks a new message calls (bots it mentions, or the bot of its private chat).
fn webhook_calls(conn: &rusqlite::Connection, message: &Message) -> ApiResult<Vec<WebhookCall>> {
    let targets = bots::webhook_targets(conn, message.room_id, &message.mentions)?;
    if targets.is_empty() {
        return Ok(Vec::new());
    }
    let room_name = rooms::get(conn, message.room_id)?.and_then(|room| room.name);
    Ok(targets
        .into_iter()
        .map(|bot| WebhookCall { bot, room_name: room_name.clone(), message: message.clone() })
        .collect())
}

/// A message and the caller's membership of its room; `not_found` when either is missing, so a
/// message in someone else's room does not reveal itself.
fn message_for(conn: &rusqlite::Connection, caller: Caller, message_id: i64) -> ApiResult<(Message, Membership)> {
    caller.verify(conn)?;
    let message = messages::get(conn, message_id)?.ok_or_else(message_not_found)?;
    let membership = rooms::membership(conn, message.room_id, caller.id)?.ok_or_else(message_not_found)?;
    Ok((message, membership))
}

/// The caller's membership of a group room whose members may change: a private chat always has
/// exactly its two members (403).
fn group_membership(conn: &rusqlite::Connection, caller: Caller, room_id: i64) -> ApiResult<Membership> {
    let (_, membership) = ensure_member(conn, caller, room_id)?;
    let record = rooms::get(conn, room_id)?.ok_or_else(room_not_found)?;
    if record.is_private {
        return Err(ApiError::Forbidden("Private chats always have exactly their two members.".into()));
    }
    Ok(membership)
}

impl Chat {
    /// Run `change` in the writer's transaction; right after its commit (on the writer thread,
    /// in commit order) publish the event `announce` finds in its result, if any.
    async fn commit<T, F, A>(&self, change: F, announce: A) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> ApiResult<T> + Send + 'static,
        A: FnOnce(&T) -> Option<ChatEvent> + Send + 'static,
    {
        let events = self.events.clone();
        let publish = move |value: &T| {
            if let Some(event) = announce(value) {
                events.publish(event);
            }
        };
        self.db.write_then(change, publish).await
    }

    pub fn new(
        db: Db,
        events: Events,
        presence: Arc<Presence>,
        rates: ChatRates,
        metrics: Metrics,
        pictures: Pictures,
    ) -> Chat {
        let throttles = Throttles {
            message: RateLimiter::new(rates.message),
            search: RateLimiter::new(rates.search),
            edit: RateLimiter::new(rates.edit),
            reaction: RateLimiter::new(rates.reaction),
            read: RateLimiter::new(rates.read),
            room: RateLimiter::new(rates.room),
            new_room: RateLimiter::new(rates.new_room),
        };
        Chat { db, events, presence, throttles, metrics, pictures, webhooks: None }
    }

    /// Offer the outgoing webhooks that messages call to `queue`.
    pub fn with_webhooks(mut self, queue: WebhookQueue) -> Chat {
        self.webhooks = Some(queue);
        self
    }

    /// Count one message of `sender` against `--message-rate`: a REST post or a Socket.IO
    /// `chat_message`, one bound for both, counted before the body or payload is even read.
    pub fn admit_message(&self, sender: Caller) -> ApiResult<()> {
        self.throttles.message.admit_user(sender.id)
    }

    /// Count the creation of a group room against both `--room-rate` and `--new-room-rate`.
    /// Checked first and counted after, so a creation that one bound refuses is not counted by
    /// the other.
    fn admit_new_room(&self, creator: Caller) -> ApiResult<()> {
        let refused = |retry_after| ApiError::RateLimited { retry_after };
        self.throttles.new_room.check(&creator.id.to_string()).map_err(refused)?;
        self.throttles.room.admit_user(creator.id)?;
        self.throttles.new_room.admit_user(creator.id)
    }

    /// Store a message; `false` when `client_id` matched an earlier one, which is returned
    /// instead (nothing stored, nothing broadcast).
    pub async fn send_message(&self, sender: Caller, post: Post) -> ApiResult<(Message, bool)> {
        check_content(&post.content, post.attachment_id.is_some())?;
        let client_id = post.client_id.filter(|c| !c.is_empty());
        if client_id.as_ref().is_some_and(|c| c.chars().count() > MAX_CLIENT_ID_CHARS) {
            return Err(ApiError::invalid("client_id", format!("must be at most {MAX_CLIENT_ID_CHARS} characters")));
        }
        let find_webhooks = self.webhooks.is_some();
        let (message, created, calls) = self
            .commit(
                move |conn| {
                    let (account, _) = ensure_member(conn, sender, post.room_id)?;
                    if let Some(id) = post.attachment_id {
                        ensure_own_attachment(conn, id, sender.id)?;
                    }
                    if let Some(client_id) = &client_id
                        && let Some(earlier) = messages::by_client_id(conn, post.room_id, sender.id, client_id)?
                    {
                        return Ok((earlier, false, Vec::new()));
                    }
                    let reply_to = match post.reply_to {
                        Some(id) => match messages::room_and_sender(conn, id)? {
                            Some((room_id, original_sender)) if room_id == post.room_id => Some((id, original_sender)),
                            _ => {
                                return Err(ApiError::invalid(
                                    "reply_to",
                                    "must be an existing message of the same room",
                                ));
                            }
                        },
                        None => None,
                    };
                    let named = mentions::resolve(conn, post.room_id, &post.content)?;
                    let new = NewMessage {
                        room_id: post.room_id,
                        sender_id: sender.id,
                        content: &post.content,
                        attachment_id: post.attachment_id,
                        client_id: client_id.as_deref(),
                        reply_to,
                        mentions: &named,
                    };
                    let message = messages::insert(conn, &new)?;
                    record_mentions(conn, &message)?;
                    // Messages from bots call no webhook: no loops, no chains between bots.
                    let calls =
                        if find_webhooks && !account.is_bot { webhook_calls(conn, &message)? } else { Vec::new() };
                    Ok((message, true, calls))
                },
                |(message, created, _)| created.then(|| ChatEvent::MessageCreated(message.clone())),
            )
            .await?;
        if created {
            self.metrics.message_stored();
        }
        if let Some(queue) = &self.webhooks {
            for call in calls {
                queue.offer(call);
            }
        }
        Ok((message, created))
    }

    /// A page of a room's history, oldest first, already serialised as a JSON array.
    ///
    /// Encoded on the blocking thread that reads the rows, straight from them (see
    /// [`messages::Page`], by `model::MessageView`): only the finished buffer crosses threads.
    pub async fn history_json(&self, reader: Caller, room_id: i64, history: History) -> ApiResult<Vec<u8>> {
        let window = match (history.before, history.after) {
            (Some(before), Some(after)) => Window::Between { after, before },
            (Some(id), None) => Window::Before(id),
            (None, Some(id)) => Window::After(id),
            (None, None) => Window::Newest,
        };
        self.db
            .read(move |conn| {
                ensure_member(conn, reader, room_id)?;
                let page = messages::history_page(conn, room_id, window, history.limit)?;
                Ok(crate::model::messages_json(page.messages(), page.len()))
            })
            .await
    }

    /// The sender changes a message's content (its attachment stays).
    pub async fn edit_message(&self, editor: Caller, message_id: i64, edit: Edit) -> ApiResult<Message> {
        self.throttles.edit.admit_user(editor.id)?;
        self.commit(
            move |conn| {
                let (message, _) = message_for(conn, editor, message_id)?;
                if message.sender.id != editor.id {
                    return Err(ApiError::Forbidden("Only the sender can edit a message.".into()));
                }
                check_content(&edit.content, message.attachment.is_some())?;
                let named = mentions::resolve(conn, message.room_id, &edit.content)?;
                let dropped: Vec<i64> = message.mentions.iter().copied().filter(|id| !named.contains(id)).collect();
                mentioned::forget(conn, message.room_id, message_id, &dropped)?;
                let edited =
                    messages::update_content(conn, message_id, &edit.content, &named)?.ok_or_else(message_not_found)?;
                record_mentions(conn, &edited)?;
                Ok(edited)
            },
            |message| Some(ChatEvent::MessageUpdated(message.clone())),
        )
        .await
    }

    /// The sender or the room's owner deletes a message for good, and with it its attachment
    /// when no other message uses it: the row in the same transaction, the file and its
    /// thumbnail right after the commit (a deleted photo is gone, not hidden: its URLs answer
    /// 404 from the commit on, since serving looks the name up first).
    pub async fn delete_message(&self, deleter: Caller, message_id: i64) -> ApiResult<()> {
        self.throttles.edit.admit_user(deleter.id)?;
        let (_, files) = self
            .commit(
                move |conn| {
                    let (message, membership) = message_for(conn, deleter, message_id)?;
                    if message.sender.id != deleter.id && membership.role != Role::Owner {
                        return Err(ApiError::Forbidden(
                            "Only the sender or the room owner can delete a message.".into(),
                        ));
                    }
                    messages::delete(conn, message_id)?;
                    let files = match &message.attachment {
                        Some(attachment) => attachments::delete_if_unused(conn, attachment.id)?,
                        None => Vec::new(),
                    };
                    Ok((MessageDeleted { id: message_id, room_id: message.room_id }, files))
                },
                |(deleted, _)| Some(ChatEvent::MessageDeleted(*deleted)),
            )
            .await?;
        self.pictures.remove_files(files).await;
        Ok(())
    }

    /// Move the reader's marker forward (never back, never past the newest message); when it
    /// moved, the room's other members get a `read` receipt.
    pub async fn mark_read(&self, reader: Caller, marker: ReadMarker) -> ApiResult<()> {
        self.throttles.read.admit_user(reader.id)?;
        self.commit(
            move |conn| {
                ensure_member(conn, reader, marker.room_id)?;
                Ok(rooms::mark_read(conn, marker.room_id, reader.id, marker.message_id)?)
            },
            move |moved| {
                moved.map(|message_id| {
                    ChatEvent::Read(ReadReceipt { room_id: marker.room_id, user_id: reader.id, message_id })
                })
            },
        )
        .await
        .map(|_| ())
    }

    /// Put the caller's `emoji` on a message, or take it off. Doing what is already done changes
    /// nothing and tells nobody; a change pushes the whole message as `message_updated`.
    pub async fn react(
        &self,
        member: Caller,
        message_id: i64,
        emoji: String,
        change: ReactionChange,
    ) -> ApiResult<Message> {
        self.throttles.reaction.admit_user(member.id)?;
        check_emoji(&emoji)?;
        let (message, _) = self
            .commit(
                move |conn| {
                    let (message, _) = message_for(conn, member, message_id)?;
                    let room_id = message.room_id;
                    let changed = match change {
                        ReactionChange::Add => {
                            let (distinct, present) = reactions::distinct(conn, room_id, message_id, &emoji)?;
                            if !present && distinct >= MAX_REACTIONS {
                                return Err(ApiError::invalid(
                                    "emoji",
                                    format!("a message holds at most {MAX_REACTIONS} different reactions"),
                                ));
                            }
                            reactions::add(conn, room_id, message_id, &emoji, member.id)?
                        }
                        ReactionChange::Remove => reactions::remove(conn, room_id, message_id, &emoji, member.id)?,
                    };
                    if !changed {
                        return Ok((message, false));
                    }
                    Ok((messages::get(conn, message_id)?.ok_or_else(message_not_found)?, true))
                },
                |(message, changed)| changed.then(|| ChatEvent::MessageUpdated(message.clone())),
            )
            .await?;
        Ok(message)
    }

    /// Messages of the caller's rooms (or of one of them) that match the search text, newest
    /// first. Text with nothing to search for (only punctuation) finds nothing.
    pub async fn search_messages(&self, reader: Caller, search: MessageSearch) -> ApiResult<Vec<Message>> {
        self.throttles.search.admit_user(reader.id)?;
        let text = search.text.trim();
        validate::text_length(text, 1, MAX_SEARCH_CHARS).map_err(|p| ApiError::invalid("q", p))?;
        let query = crate::storage::db::search_text::fts_query(text);
        let limit = usize::try_from(search.limit).unwrap_or(0);
        self.db
            .read(move |conn| {
                match search.room_id {
                    Some(room_id) => ensure_member(conn, reader, room_id).map(|_| ())?,
                    None => reader.verify(conn).map(|_| ())?,
                }
                let Some(query) = query else { return Ok(Vec::new()) };
                let before = search.before.unwrap_or(i64::MAX);
                Ok(crate::storage::db::search::matching(conn, reader.id, &query, search.room_id, before, limit)?)
            })
            .await
    }

    /// The caller's group rooms or private chats as Room objects, most recent activity first.
    async fn rooms_seen_by(&self, user: Caller, private: bool) -> ApiResult<Vec<Room>> {
        let presence = self.presence.clone();
        self.db
            .read(move |conn| {
                user.verify(conn)?;
                rooms::rooms_of(conn, user.id, private)?
                    .into_iter()
                    .map(|(record, membership)| views::room(conn, &presence, record, user.id, membership))
                    .collect::<Result<Vec<_>, DbError>>()
                    .map_err(ApiError::from)
            })
            .await
    }

    /// The caller's group rooms, most recent activity first.
    pub async fn list_rooms(&self, user: Caller) -> ApiResult<Vec<Room>> {
        self.rooms_seen_by(user, false).await
    }

    /// The caller's private chats, most recent activity first.
    pub async fn list_private_chats(&self, user: Caller) -> ApiResult<Vec<PrivateChat>> {
        Ok(self.rooms_seen_by(user, true).await?.into_iter().filter_map(views::private_chat).collect())
    }

    /// A room the caller belongs to.
    pub async fn get_room(&self, user: Caller, room_id: i64) -> ApiResult<Room> {
        let presence = self.presence.clone();
        self.db
            .read(move |conn| {
                let (_, membership) = ensure_member(conn, user, room_id)?;
                let record = rooms::get(conn, room_id)?.ok_or_else(room_not_found)?;
                Ok(views::room(conn, &presence, record, user.id, membership)?)
            })
            .await
    }

    /// The caller's own notification level for a room they belong to (SPEC §3, Notifications):
    /// what reaches them when they are not looking. Nobody else is told; the room comes back as
    /// the caller sees it, `notify` set.
    pub async fn set_notify(&self, user: Caller, room_id: i64, level: NotifyLevel) -> ApiResult<Room> {
        self.db
            .write(move |conn| {
                ensure_member(conn, user, room_id)?;
                if !rooms::set_notify(conn, room_id, user.id, level)? {
                    return Err(room_not_found());
                }
                Ok::<_, ApiError>(())
            })
            .await?;
        self.get_room(user, room_id).await
    }

    /// The room as `viewer` sees it right after a change they made; read after the commit, on a
    /// read connection.
    async fn room_after_change(&self, viewer: i64, room_id: i64) -> ApiResult<Room> {
        let mut seen = self.rooms_as_seen_by(room_id, vec![viewer]).await?;
        seen.pop().map(|(_, room)| room).ok_or_else(room_not_found)
    }

    /// The room as each of `users` sees it (those still members): what `room_added` carries,
    /// rendered by the fan-out on a read connection.
    pub async fn rooms_as_seen_by(&self, room_id: i64, users: Vec<i64>) -> ApiResult<Vec<(i64, Room)>> {
        let presence = self.presence.clone();
        Ok(self.db.read(move |conn| views::room_for_each(conn, &presence, room_id, &users)).await?)
    }

    /// The room as each of its members sees it: what `room_updated` carries, rendered by the
    /// fan-out on a read connection.
    pub async fn room_for_members(&self, room_id: i64) -> ApiResult<Vec<(i64, Room)>> {
        let presence = self.presence.clone();
        Ok(self.db.read(move |conn| views::room_for_members(conn, &presence, room_id)).await?)
    }

    /// Every room id of `user_id`, group and private: what a connecting socket joins.
    pub async fn room_ids(&self, user_id: i64) -> ApiResult<Vec<i64>> {
        Ok(self.db.read(move |conn| rooms::room_ids_of(conn, user_id)).await?)
    }

    /// A group room owned by the creator with the named members; unknown names → 422 listing
    /// them. Every member (the creator too) gets `room_added`.
    pub async fn create_room(&self, creator: Caller, room: NewRoom) -> ApiResult<Room> {
        self.admit_new_room(creator)?;
        let mut fields = validate::Fields::default();
        let name = validate::display_name(&room.name, MAX_ROOM_NAME_CHARS).map_err(|p| fields.add("name", p)).ok();
        let topic = match &room.topic {
            Some(text) => validate::topic(text, MAX_TOPIC_CHARS).map_err(|p| fields.add("topic", p)).ok().flatten(),
            None => None,
        };
        fields.finish()?;
        let name = name.unwrap_or_default();
        let visibility = room.visibility.unwrap_or(Visibility::Private);
        let (room_id, _) = self
            .commit(
                move |conn| {
                    creator.verify(conn)?;
                    let (ids, unknown) = users::ids_for_usernames(conn, &room.members)?;
                    if !unknown.is_empty() {
                        return Err(ApiError::invalid("members", format!("unknown usernames: {}", unknown.join(", "))));
                    }
                    let group = rooms::NewGroup { name: &name, topic: topic.as_deref(), visibility };
                    let room_id = rooms::create_group(conn, &group, Some(creator.id), &ids)?;
                    Ok((room_id, rooms::member_ids(conn, room_id)?))
                },
                |(room_id, members)| Some(ChatEvent::MembersAdded { room_id: *room_id, user_ids: members.clone() }),
            )
            .await?;
        self.room_after_change(creator.id, room_id).await
    }

    /// The owner (or an administrator) renames a group room, sets or clears its topic, or opens
    /// or closes it. Members get `room_updated` when something changed. A private room the
    /// caller is not in is a 404; an open one, or one they are in without owning it, a 403.
    pub async fn update_room(&self, caller: Caller, room_id: i64, change: RoomChange) -> ApiResult<Room> {
        self.throttles.room.admit_user(caller.id)?;
        let mut fields = validate::Fields::default();
        let name = match &change.name {
            Some(text) => validate::display_name(text, MAX_ROOM_NAME_CHARS).map_err(|p| fields.add("name", p)).ok(),
            None => None,
        };
        let topic = match &change.topic {
            Some(Some(text)) => {
                Some(validate::topic(text, MAX_TOPIC_CHARS).map_err(|p| fields.add("topic", p)).ok().flatten())
            }
            Some(None) => Some(None),
            None => None,
        };
        fields.finish()?;
        let visibility = change.visibility;
        self.commit(
            move |conn| {
                let account = caller.verify(conn)?;
                let record = rooms::get(conn, room_id)?.ok_or_else(room_not_found)?;
                let membership = rooms::membership(conn, room_id, caller.id)?;
                if membership.is_none() && record.visibility != Visibility::Open {
                    return Err(room_not_found());
                }
                if record.is_private {
                    return Err(ApiError::Forbidden(
                        "A private chat has no name, topic or visibility to change.".into(),
                    ));
                }
                let owner = membership.is_some_and(|m| m.role == Role::Owner);
                if !owner && !account.is_admin {
                    return Err(ApiError::Forbidden(
                        "Only the room owner or an administrator can change a room.".into(),
                    ));
                }
                let change = rooms::RoomChange {
                    name: name.as_deref(),
                    topic: topic.as_ref().map(Option::as_deref),
                    visibility,
                };
                Ok(rooms::update(conn, room_id, &change)?)
            },
            move |&changed| changed.then_some(ChatEvent::RoomUpdated { room_id }),
        )
        .await?;
        let presence = self.presence.clone();
        self.db
            .read(move |conn| {
                let record = rooms::get(conn, room_id)?.ok_or_else(room_not_found)?;
                let membership = rooms::membership(conn, room_id, caller.id)?;
                Ok(views::room_seen_from(conn, &presence, record, caller.id, membership)?)
            })
            .await
    }

    /// Every open room on the server, most recent activity first; with `filter`, those whose
    /// name contains it, ignoring case in every script.
    pub async fn directory(&self, caller: Caller, filter: Option<String>) -> ApiResult<Vec<RoomListing>> {
        let wanted = filter.map(|text| validate::fold_case(&text));
        let listings = self
            .db
            .read(move |conn| {
                caller.verify(conn)?;
                Ok::<_, ApiError>(rooms::open_rooms(conn, caller.id)?)
            })
            .await?;
        Ok(listings
            .into_iter()
            .filter(|l| wanted.as_deref().is_none_or(|w| validate::fold_case(&l.name).contains(w)))
            .map(|l| RoomListing {
                id: l.id,
                name: l.name,
                topic: l.topic,
                member_count: l.member_count,
                last_activity_at: l.last_activity_at,
                joined: l.joined,
            })
            .collect())
    }

    /// The caller joins an open room (already a member: nothing changes). Its history so far
    /// counts as read. A room that is not open, and not theirs, is a 404 as everywhere.
    pub async fn join_room(&self, caller: Caller, room_id: i64) -> ApiResult<Room> {
        self.throttles.room.admit_user(caller.id)?;
        self.commit(
            move |conn| {
                caller.verify(conn)?;
                if rooms::membership(conn, room_id, caller.id)?.is_some() {
                    return Ok(false);
                }
                let record = rooms::get(conn, room_id)?.ok_or_else(room_not_found)?;
                if record.is_private || record.visibility != Visibility::Open {
                    return Err(room_not_found());
                }
                Ok(rooms::join(conn, room_id, caller.id, Role::Member)?)
            },
            move |&joined| joined.then(|| ChatEvent::MembersAdded { room_id, user_ids: vec![caller.id] }),
        )
        .await?;
        self.room_after_change(caller.id, room_id).await
    }

    /// The owner adds a member by username; adding a current member changes nothing (no event).
    pub async fn add_member(&self, owner: Caller, room_id: i64, username: String) -> ApiResult<Room> {
        self.throttles.room.admit_user(owner.id)?;
        self.commit(
            move |conn| {
                let membership = group_membership(conn, owner, room_id)?;
                if membership.role != Role::Owner {
                    return Err(ApiError::Forbidden("Only the room owner can add members.".into()));
                }
                let target = users::by_username(conn, &username)?.ok_or_else(|| ApiError::not_found("User"))?;
                Ok(rooms::add_member(conn, room_id, target.id)?.then_some(target.id))
            },
            move |added| added.map(|user_id| ChatEvent::MembersAdded { room_id, user_ids: vec![user_id] }),
        )
        .await?;
        self.room_after_change(owner.id, room_id).await
    }

    /// The owner removes anyone; anyone removes themself (leaving).
    pub async fn remove_member(&self, caller: Caller, room_id: i64, target_id: i64) -> ApiResult<()> {
        self.throttles.room.admit_user(caller.id)?;
        self.commit(
            move |conn| {
                let membership = group_membership(conn, caller, room_id)?;
                if target_id != caller.id && membership.role != Role::Owner {
                    return Err(ApiError::Forbidden("Only the room owner can remove other members.".into()));
                }
                let removal = rooms::remove_member(conn, room_id, target_id)?;
                if !removal.removed {
                    return Err(ApiError::not_found("Member"));
                }
                Ok(())
            },
            move |_| Some(ChatEvent::MemberRemoved { user_id: target_id, room_id }),
        )
        .await
    }

    /// The one private chat of the caller and `username`; `true` when it was just created (then
    /// both get `room_added`).
    pub async fn open_private_chat(&self, caller: Caller, username: String) -> ApiResult<(PrivateChat, bool)> {
        self.throttles.room.admit_user(caller.id)?;
        let (room_id, created) = self
            .commit(
                move |conn| {
                    caller.verify(conn)?;
                    let peer = users::by_username(conn, &username)?.ok_or_else(|| ApiError::not_found("User"))?;
                    if peer.id == caller.id {
                        return Err(ApiError::invalid("username", "must be someone other than yourself"));
                    }
                    let (room_id, created) = rooms::find_or_create_private(conn, caller.id, peer.id)?;
                    Ok((room_id, created.then_some(peer.id)))
                },
                move |&(room_id, created)| {
                    created.map(|peer| ChatEvent::MembersAdded { room_id, user_ids: vec![caller.id, peer] })
                },
            )
            .await?;
        let chat = views::private_chat(self.room_after_change(caller.id, room_id).await?).ok_or_else(room_not_found)?;
        Ok((chat, created.is_some()))
    }

    /// Users whose name starts with `prefix` (any case), to start a chat with: the caller left
    /// out, disabled accounts too, at most 20.
    ///
    /// Presence (`online`, `last_seen`) only of the people the caller shares a room with, who
    /// get it through `user_status` anyway; anyone else is shown with neither, so that searching
    /// for names cannot watch when a stranger comes and goes.
    pub async fn search_users(&self, me: i64, prefix: String) -> ApiResult<Vec<UserPublic>> {
        let found = self
            .db
            .read(move |conn| {
                let found = users::search_prefix(conn, &prefix, SEARCH_LIMIT + 1)?;
                found
                    .into_iter()
                    .filter(|u| u.id != me)
                    .take(SEARCH_LIMIT)
                    .map(|u| Ok((rooms::share_a_room(conn, me, u.id)?, u.to_public())))
                    .collect::<Result<Vec<_>, DbError>>()
            })
            .await?;
        Ok(found
            .into_iter()
            .map(|(shared, user)| if shared { self.presence.public(user) } else { Presence::hidden(user) })
            .collect())
    }
}

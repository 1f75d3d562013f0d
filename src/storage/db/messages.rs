//! Messages: append, history windows, edits, deletes, unread counts.
//!
//! Every history query is a range scan of `messages_by_room (room_id, id)`, so a page costs the
//! same in a room of a thousand messages as in one of a million. What a Message shows besides its
//! own row comes with it: the sender, the attachment and the message it replies to are joined
//! into the same scan (primary-key lookups of the rows on the page), and the page's reactions
//! are one more range scan, of `reactions (room_id, message_id, ...)` over the page's ids
//! (see [`super::reactions`]). So a page of 50 costs two statements, never one per message.

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};
use serde_json::value::RawValue;

use super::{DbError, reactions};
use crate::model::{
    Attachment, Mentions, Message, MessageView, Reaction, ReplyRef, ReplySender, ReplySenderView, ReplyView, Sender,
    SenderView,
};

/// The columns [`message`] reads, over `messages m` and the joins of [`message_joins`] (macros,
/// so that queries stay `&'static str`).
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, m.sender_id, u.username, u.last_seen, m.content, m.client_id,
         m.created_at, m.edited_at, a.id, a.stored_name, a.content_type, a.size, a.filename,
         m.reply_to, m.reply_to_sender, rs.username, r.id, substr(r.content, 1, 200), m.mentions,
         u.display_name, u.avatar_name, a.width, a.height, a.thumbnail_name, u.is_bot"
    };
}
pub(super) use message_columns;

/// A message's sender, attachment, and the original it replies to (gone when it was deleted).
macro_rules! message_joins {
    () => {
        "JOIN users u ON u.id = m.sender_id
         LEFT JOIN attachments a ON a.id = m.attachment_id
         LEFT JOIN messages r ON r.id = m.reply_to
         LEFT JOIN users rs ON rs.id = m.reply_to_sender"
    };
}
pub(super) use message_joins;

/// The columns of a Message, with its sender, attachment and reply.
macro_rules! select_message {
    () => {
        concat!("SELECT ", message_columns!(), " FROM messages m ", message_joins!())
    };
}

/// A Message from the columns of [`message_columns`], without its reactions (see
/// [`reactions::attach`]): the row read as [`RowView`] reads it, then owned.
pub(super) fn message(row: &Row) -> rusqlite::Result<Message> {
    RowView::read(row)?.into_message()
}

/// The one message a statement found, with its reactions.
fn one(conn: &Connection, found: Option<Message>) -> Result<Option<Message>, DbError> {
    let Some(mut message) = found else { return Ok(None) };
    reactions::attach(conn, message.room_id, std::slice::from_mut(&mut message))?;
    Ok(Some(message))
}

/// `ids` as the `mentions` column stores them: a JSON array, NULL when empty.
fn mentions_column(ids: &[i64]) -> Option<String> {
    (!ids.is_empty()).then(|| serde_json::Value::from(ids.to_vec()).to_string())
}

pub struct NewMessage<'a> {
    pub room_id: i64,
    pub sender_id: i64,
    pub content: &'a str,
    pub attachment_id: Option<i64>,
    pub client_id: Option<&'a str>,
    /// The message answered, and its sender.
    pub reply_to: Option<(i64, i64)>,
    /// The room members the content names.
    pub mentions: &'a [i64],
}

/// The message this sender already stored in this room under `client_id`, if any.
pub fn by_client_id(
    conn: &Connection,
    room_id: i64,
    sender_id: i64,
    client_id: &str,
) -> Result<Option<Message>, DbError> {
    let found = conn
        .prepare_cached(concat!(select_message!(), " WHERE m.room_id = ?1 AND m.sender_id = ?2 AND m.client_id = ?3"))?
        .query_row(params![room_id, sender_id, client_id], message)
        .optional()?;
    one(conn, found)
}

/// Append a message and mark the room active.
pub fn insert(conn: &Connection, new: &NewMessage) -> Result<Message, DbError> {
    let now = super::now();
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO messages (room_id, sender_id, content, attachment_id, client_id, created_at,
                                   reply_to, reply_to_sender, mentions)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
        )?
        .query_row(
            params![
                new.room_id,
                new.sender_id,
                new.content,
                new.attachment_id,
                new.client_id,
                now,
                new.reply_to.map(|(id, _)| id),
                new.reply_to.map(|(_, sender)| sender),
                mentions_column(new.mentions),
            ],
            |r| r.get(0),
        )?;
    super::rooms::touch(conn, new.room_id, id)?;
    get(conn, id)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Message>, DbError> {
    let found =
        conn.prepare_cached(concat!(select_message!(), " WHERE m.id = ?1"))?.query_row([id], message).optional()?;
    one(conn, found)
}

/// The room and sender of a message, if it exists: what a reply needs to know of its original.
pub fn room_and_sender(conn: &Connection, id: i64) -> Result<Option<(i64, i64)>, DbError> {
    Ok(conn
        .prepare_cached("SELECT room_id, sender_id FROM messages WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

/// Which slice of a room's history to read.
#[derive(Debug, Clone, Copy)]
pub enum Window {
    /// The newest `limit`.
    Newest,
    /// The newest `limit` older than this id.
    Before(i64),
    /// The oldest `limit` newer than this id.
    After(i64),
    /// The oldest `limit` newer than `after` and older than `before`: a gap, paged forward.
    Between { after: i64, before: i64 },
}

impl Window {
    /// Whether the page is read oldest first (else newest first, then turned around).
    fn forward(self) -> bool {
        matches!(self, Window::After(_) | Window::Between { .. })
    }
}

/// The largest page [`history`] returns.
pub const MAX_PAGE: i64 = 200;

/// A page of history (at most [`MAX_PAGE`]), always oldest first.
///
/// The SQL has a constant `LIMIT` and the page size is applied by stopping the row iterator:
/// SQLite 3.53 treats a bound `LIMIT ?` as a plan constant and re-prepares the statement every
/// time that parameter is bound, which made each page pay a full parse (seen in the history
/// benchmark's profile). Rows are produced lazily, so stopping early costs nothing.
pub fn history(conn: &Connection, room_id: i64, window: Window, limit: i64) -> Result<Vec<Message>, DbError> {
    let (sql, after, before) = window_sql(window);
    let mut stmt = conn.prepare_cached(sql)?;
    let take = usize::try_from(limit.clamp(0, MAX_PAGE)).unwrap_or(0);
    // Sized once: growing row by row made glibc consolidate its free lists at every step.
    let mut page = Vec::with_capacity(take);
    for row in stmt.query_map(params![room_id, after, before], message)?.take(take) {
        page.push(row?);
    }
    if !window.forward() {
        page.reverse();
    }
    reactions::attach(conn, room_id, &mut page)?;
    Ok(page)
}

/// A page of history (at most [`MAX_PAGE`]), oldest first, as storage read it: the same page as
/// [`history`], without a [`Message`] per row. The encoder (`model::MessageView`) borrows from it.
pub fn history_page(conn: &Connection, room_id: i64, window: Window, limit: i64) -> Result<Page, DbError> {
    let (sql, after, before) = window_sql(window);
    let mut stmt = conn.prepare_cached(sql)?;
    let take = usize::try_from(limit.clamp(0, MAX_PAGE)).unwrap_or(0);
    let mut page =
        Page { text: String::with_capacity(take * 256), rows: Vec::with_capacity(take), reactions: Vec::new() };
    let mut rows = stmt.query(params![room_id, after, before])?;
    while page.rows.len() < take {
        let Some(row) = rows.next()? else { break };
        let view = RowView::read(row)?;
        page.push(&view);
    }
    drop(rows);
    if !window.forward() {
        page.rows.reverse();
    }
    if let (Some(first), Some(last)) = (page.rows.first(), page.rows.last()) {
        let (first, last) = (first.id.min(last.id), first.id.max(last.id));
        page.reactions = reactions::in_range(conn, room_id, first, last)?;
    }
    Ok(page)
}

/// A page of history: every row's text back to back in one buffer, each row's parts as spans of
/// it, and the page's reactions (one range scan, in message id order). Two allocations a page
/// where owned [`Message`]s cost ~8 each.
pub struct Page {
    text: String,
    rows: Vec<PageRow>,
    reactions: Vec<(i64, Vec<Reaction>)>,
}

/// Where a piece of text is in [`Page::text`].
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

struct PageRow {
    id: i64,
    room_id: i64,
    sender_id: i64,
    username: Span,
    last_seen: Option<Span>,
    display_name: Option<Span>,
    avatar_url: Option<Span>,
    is_bot: bool,
    content: Span,
    attachment: Option<Attachment>,
    client_id: Option<Span>,
    created_at: Span,
    edited_at: Option<Span>,
    reply_to: Option<PageReply>,
    mentions: Option<Span>,
}

struct PageReply {
    id: i64,
    sender_id: i64,
    sender: Span,
    excerpt: Span,
    deleted: bool,
}

impl Page {
    fn keep(&mut self, text: &str) -> Span {
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str(text);
        Span { start, end: u32::try_from(self.text.len()).unwrap_or(u32::MAX) }
    }

    /// `/media/<name>`, kept as one span.
    fn keep_media_url(&mut self, name: &str) -> Span {
        let start = u32::try_from(self.text.len()).unwrap_or(u32::MAX);
        self.text.push_str("/media/");
        self.text.push_str(name);
        Span { start, end: u32::try_from(self.text.len()).unwrap_or(u32::MAX) }
    }

    fn push(&mut self, view: &RowView) {
        let row = PageRow {
            id: view.id,
            room_id: view.room_id,
            sender_id: view.sender.id,
            username: self.keep(view.sender.username),
            last_seen: view.sender.last_seen.map(|t| self.keep(t)),
            display_name: view.sender.display_name.map(|t| self.keep(t)),
            avatar_url: view.sender.avatar_name.map(|t| self.keep_media_url(t)),
            is_bot: view.sender.is_bot,
            content: self.keep(view.content),
            attachment: view.attachment.clone(),
            client_id: view.client_id.map(|t| self.keep(t)),
            created_at: self.keep(view.created_at),
            edited_at: view.edited_at.map(|t| self.keep(t)),
            reply_to: view.reply_to.as_ref().map(|reply| PageReply {
                id: reply.id,
                sender_id: reply.sender.id,
                sender: self.keep(reply.sender.username),
                excerpt: self.keep(reply.excerpt),
                deleted: reply.deleted,
            }),
            mentions: view.mentions.map(|m| self.keep(m.get())),
        };
        self.rows.push(row);
    }

    fn text(&self, span: Span) -> &str {
        self.text.get(span.start as usize..span.end as usize).unwrap_or_default()
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The page's messages, oldest first, as the encoder takes them.
    pub fn messages(&self) -> impl Iterator<Item = MessageView<'_>> {
        self.rows.iter().map(|row| {
            let reactions = match self.reactions.binary_search_by_key(&row.id, |(id, _)| *id) {
                Ok(at) => self.reactions[at].1.as_slice(),
                Err(_) => &[],
            };
            // Stored by `insert` as a JSON array; anything else reads as no mentions.
            let mentions = row
                .mentions
                .and_then(|span| serde_json::from_str::<&RawValue>(self.text(span)).ok())
                .map_or(Mentions::Ids(&[]), Mentions::Json);
            MessageView {
                id: row.id,
                room_id: row.room_id,
                sender: SenderView {
                    id: row.sender_id,
                    username: self.text(row.username),
                    last_seen: row.last_seen.map(|s| self.text(s)),
                    display_name: row.display_name.map(|s| self.text(s)),
                    avatar_url: row.avatar_url.map(|s| self.text(s)),
                    is_bot: row.is_bot,
                },
                content: self.text(row.content),
                attachment: row.attachment.as_ref(),
                client_id: row.client_id.map(|s| self.text(s)),
                created_at: self.text(row.created_at),
                edited_at: row.edited_at.map(|s| self.text(s)),
                reply_to: row.reply_to.as_ref().map(|reply| ReplyView {
                    id: reply.id,
                    sender: ReplySenderView { id: reply.sender_id, username: self.text(reply.sender) },
                    excerpt: self.text(reply.excerpt),
                    deleted: reply.deleted,
                }),
                reactions,
                mentions,
            }
        })
    }
}

/// A [`Message`] borrowed from the row of [`message_columns`] being read, without `reactions`:
/// what [`Page`] keeps of a row, and what [`message`] makes a `Message` of.
struct RowView<'a> {
    id: i64,
    room_id: i64,
    sender: RowSender<'a>,
    content: &'a str,
    attachment: Option<Attachment>,
    client_id: Option<&'a str>,
    created_at: &'a str,
    edited_at: Option<&'a str>,
    reply_to: Option<ReplyView<'a>>,
    /// The `mentions` column: a JSON array of ids, NULL for none.
    mentions: Option<&'a RawValue>,
}

/// A message's sender as its row has it: the avatar by stored name.
struct RowSender<'a> {
    id: i64,
    username: &'a str,
    last_seen: Option<&'a str>,
    display_name: Option<&'a str>,
    avatar_name: Option<&'a str>,
    is_bot: bool,
}

impl<'a> RowView<'a> {
    fn read(row: &'a Row) -> rusqlite::Result<RowView<'a>> {
        let text = |i: usize| -> rusqlite::Result<Option<&'a str>> {
            row.get_ref(i)?
                .as_str_or_null()
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, Box::new(e)))
        };
        let attachment = match row.get::<_, Option<i64>>(9)? {
            Some(id) => {
                let picture = match (row.get::<_, Option<i64>>(22)?, row.get::<_, Option<i64>>(23)?, text(24)?) {
                    (Some(width), Some(height), Some(thumbnail)) => Some((width, height, thumbnail)),
                    _ => None,
                };
                Some(Attachment::new(
                    id,
                    text(10)?.unwrap_or_default(),
                    row.get(11)?,
                    row.get(12)?,
                    row.get(13)?,
                    picture,
                ))
            }
            None => None,
        };
        let reply_to = match row.get::<_, Option<i64>>(14)? {
            Some(id) => {
                let deleted = row.get::<_, Option<i64>>(17)?.is_none();
                Some(ReplyView {
                    id,
                    sender: ReplySenderView { id: row.get(15)?, username: text(16)?.unwrap_or_default() },
                    excerpt: if deleted { "" } else { text(18)?.unwrap_or_default() },
                    deleted,
                })
            }
            None => None,
        };
        let mentions = match text(19)? {
            Some(list) => Some(
                serde_json::from_str::<&RawValue>(list)
                    .map_err(|e| rusqlite::Error::FromSqlConversionFailure(19, Type::Text, Box::new(e)))?,
            ),
            None => None,
        };
        Ok(RowView {
            id: row.get(0)?,
            room_id: row.get(1)?,
            sender: RowSender {
                id: row.get(2)?,
                username: text(3)?.unwrap_or_default(),
                last_seen: text(4)?,
                display_name: text(20)?,
                avatar_name: text(21)?,
                is_bot: row.get(25)?,
            },
            content: text(5)?.unwrap_or_default(),
            client_id: text(6)?,
            created_at: text(7)?.unwrap_or_default(),
            edited_at: text(8)?,
            attachment,
            reply_to,
            mentions,
        })
    }

    /// The same message, owned, with no reactions yet.
    fn into_message(self) -> rusqlite::Result<Message> {
        let mentions = match self.mentions {
            Some(list) => serde_json::from_str(list.get())
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(19, Type::Text, Box::new(e)))?,
            None => Vec::new(),
        };
        Ok(Message {
            id: self.id,
            room_id: self.room_id,
            sender: Sender {
                id: self.sender.id,
                username: self.sender.username.to_owned(),
                last_seen: self.sender.last_seen.map(str::to_owned),
                display_name: self.sender.display_name.map(str::to_owned),
                avatar_url: crate::model::avatar_url(self.sender.avatar_name),
                is_bot: self.sender.is_bot,
            },
            content: self.content.to_owned(),
            client_id: self.client_id.map(str::to_owned),
            created_at: self.created_at.to_owned(),
            edited_at: self.edited_at.map(str::to_owned),
            attachment: self.attachment,
            reply_to: self.reply_to.map(|reply| ReplyRef {
                id: reply.id,
                sender: ReplySender { id: reply.sender.id, username: reply.sender.username.to_owned() },
                excerpt: reply.excerpt.to_owned(),
                deleted: reply.deleted,
            }),
            reactions: Vec::new(),
            mentions,
        })
    }
}

/// The statement of a window (newest first unless `After`) and its cursor.
/// The query of a window and the ids it lies strictly between: every window is one range of
/// `messages_by_room`, read from its newer end or from its older one.
fn window_sql(window: Window) -> (&'static str, i64, i64) {
    const OLDER: &str =
        concat!(select_message!(), " WHERE m.room_id = ?1 AND m.id > ?2 AND m.id < ?3 ORDER BY m.id DESC LIMIT 200");
    const NEWER: &str =
        concat!(select_message!(), " WHERE m.room_id = ?1 AND m.id > ?2 AND m.id < ?3 ORDER BY m.id ASC LIMIT 200");
    match window {
        Window::Newest => (OLDER, i64::MIN, i64::MAX),
        Window::Before(id) => (OLDER, i64::MIN, id),
        Window::After(id) => (NEWER, id, i64::MAX),
        Window::Between { after, before } => (NEWER, after, before),
    }
}

pub fn last(conn: &Connection, room_id: i64) -> Result<Option<Message>, DbError> {
    let found = conn
        .prepare_cached(concat!(select_message!(), " WHERE m.room_id = ?1 ORDER BY m.id DESC LIMIT 1"))?
        .query_row([room_id], message)
        .optional()?;
    one(conn, found)
}

/// Messages newer than `after_id` that `reader` did not send.
pub fn unread_count(conn: &Connection, room_id: i64, reader: i64, after_id: i64) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM messages WHERE room_id = ?1 AND id > ?2 AND sender_id != ?3")?
        .query_row([room_id, after_id, reader], |r| r.get(0))?)
}

/// New content, and the members it names now.
pub fn update_content(conn: &Connection, id: i64, content: &str, mentions: &[i64]) -> Result<Option<Message>, DbError> {
    conn.prepare_cached("UPDATE messages SET content = ?2, edited_at = ?3, mentions = ?4 WHERE id = ?1")?
        .execute(params![id, content, super::now(), mentions_column(mentions)])?;
    get(conn, id)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("DELETE FROM messages WHERE id = ?1")?.execute([id])? == 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::db::{Db, DbOptions};

    /// A room with every kind of message a page can show: replies to kept and deleted
    /// originals, reactions made in an order unlike their key order, mentions, an attachment,
    /// an edit, a client id, and text that needs escaping.
    fn room_with_everything(db: &Db) -> i64 {
        db.write_blocking(|conn| {
            let now = crate::storage::db::now();
            for (name, seen) in [("ann", Some("2026-12-01T10:00:00.000Z")), ("bob", None)] {
                conn.execute(
                    "INSERT INTO users (username, email, password_hash, password_changed_at, created_at, last_seen)
                     VALUES (?1, ?1 || '@example.com', 'x', 0, ?2, ?3)",
                    params![name, now, seen],
                )?;
            }
            conn.execute("INSERT INTO rooms (name, created_at) VALUES ('r', ?1)", [&now])?;
            conn.execute(
                "INSERT INTO attachments (uploader_id, stored_name, content_type, size, filename, created_at)
                 VALUES (1, '0123456789abcdef0123456789abcdef.png', 'image/png', 42, 'a \"b\".png', ?1)",
                [&now],
            )?;
            let texts = ["plain", "quote \" backslash \\ tab \t newline \n", "émoji 👍 and \u{1} control", "@bob hi"];
            for i in 0..40i64 {
                let reply = (i % 5 == 4).then_some(i - 2);
                conn.execute(
                    "INSERT INTO messages (room_id, sender_id, content, attachment_id, client_id, created_at,
                                           edited_at, reply_to, reply_to_sender, mentions)
                     VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    params![
                        1 + i % 2,
                        texts[(i % 4) as usize],
                        (i == 7).then_some(1),
                        (i % 3 == 0).then(|| format!("c-{i}")),
                        now,
                        (i % 6 == 0).then_some(&now),
                        reply,
                        reply.map(|r| 1 + r % 2),
                        (i % 4 == 3).then_some("[2]"),
                    ],
                )?;
            }
            // Reactions whose seq order differs from (emoji, user) order.
            for (message, emoji, user, seq) in
                [(9, "🎉", 1, 1), (9, "👍", 2, 2), (9, "🎉", 2, 3), (9, "👍", 1, 4), (10, "b", 2, 1), (10, "a", 1, 2)]
            {
                conn.execute(
                    "INSERT INTO reactions (room_id, message_id, emoji, user_id, seq) VALUES (1, ?1, ?2, ?3, ?4)",
                    params![message, emoji, user, seq],
                )?;
            }
            conn.execute("DELETE FROM messages WHERE id = 12", [])?;
            Ok::<_, DbError>(1)
        })
        .unwrap()
    }

    /// A page kept as text and spans encodes to the JSON of the same page's `Message`s, byte for byte.
    #[test]
    fn a_page_encodes_as_the_json_of_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbOptions::default()).unwrap();
        let room = room_with_everything(&db);
        let windows = [
            Window::Newest,
            Window::Before(30),
            Window::Before(11),
            Window::After(0),
            Window::After(13),
            Window::Between { after: 3, before: 30 },
        ];
        for window in windows {
            for limit in [1, 7, 50, 200] {
                let (direct, structs) = db
                    .read_blocking(move |conn| {
                        let page = history_page(conn, room, window, limit)?;
                        let encoded = crate::model::messages_json(page.messages(), page.len());
                        Ok::<_, DbError>((encoded, history(conn, room, window, limit)?))
                    })
                    .unwrap();
                // Byte for byte, as a client sees it.
                let direct = String::from_utf8(direct).expect("UTF-8");
                assert_eq!(direct, serde_json::to_string(&structs).unwrap(), "{window:?} limit {limit}");
                assert!(!structs.is_empty(), "{window:?}");
            }
        }
        // The fixture shows what it is meant to: reactions in seq order, a deleted original.
        let page = db.read_blocking(move |conn| history(conn, room, Window::After(8), 5)).unwrap();
        assert_eq!(page[0].reactions.iter().map(|r| r.emoji.as_str()).collect::<Vec<_>>(), ["🎉", "👍"]);
        assert_eq!(page[0].reactions[0].user_ids, [1, 2]);
        assert_eq!(page[1].reactions.iter().map(|r| r.emoji.as_str()).collect::<Vec<_>>(), ["b", "a"]);
        // Between two ids: the oldest of the gap first, neither end, the deleted 12 skipped.
        let gap =
            db.read_blocking(move |conn| history(conn, room, Window::Between { after: 10, before: 15 }, 2)).unwrap();
        assert_eq!(gap.iter().map(|m| m.id).collect::<Vec<_>>(), [11, 13]);
        let gap =
            db.read_blocking(move |conn| history(conn, room, Window::Between { after: 10, before: 15 }, 50)).unwrap();
        assert_eq!(gap.iter().map(|m| m.id).collect::<Vec<_>>(), [11, 13, 14]);
        let replies = db.read_blocking(move |conn| history(conn, room, Window::Newest, 200)).unwrap();
        assert!(replies.iter().any(|m| m.reply_to.as_ref().is_some_and(|r| r.deleted)));
        assert!(replies.iter().any(|m| m.reply_to.as_ref().is_some_and(|r| !r.deleted)));
        assert!(replies.iter().any(|m| m.attachment.is_some()));
        assert!(replies.iter().any(|m| !m.mentions.is_empty()));
        db.shutdown_blocking();
    }
}

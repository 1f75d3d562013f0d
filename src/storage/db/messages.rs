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
use crate::model::{Attachment, Message, ReplyRef, ReplySender, Sender};

/// The columns [`message`] reads, over `messages m` and the joins of [`message_joins`] (macros,
/// so that queries stay `&'static str`).
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, m.sender_id, u.username, u.last_seen, m.content, m.client_id,
         m.created_at, m.edited_at, a.id, a.stored_name, a.content_type, a.size, a.filename,
         m.reply_to, m.reply_to_sender, rs.username, r.id, substr(r.content, 1, 200), m.mentions"
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

/// A page of history (at most [`MAX_PAGE`]), oldest first, as the JSON array of Messages the
/// API answers with: the same page as [`history`], encoded straight from the rows.
///
/// Each message is written from the row being read (its text borrowed, not copied into a
/// [`Message`]), up to its `reactions`, which the page's second statement adds when the pieces
/// are put in order. Building 50 `Message`s first cost ~8 allocations each, and with the
/// encoding and freeing they were the largest share of a page's CPU after SQLite itself (the
/// history benchmark's profile). [`RowView`] has [`Message`]'s fields; a test checks that both
/// encodings of a page are the same JSON.
pub fn history_json(conn: &Connection, room_id: i64, window: Window, limit: i64) -> Result<Vec<u8>, DbError> {
    let (sql, after, before) = window_sql(window);
    let mut stmt = conn.prepare_cached(sql)?;
    let take = usize::try_from(limit.clamp(0, MAX_PAGE)).unwrap_or(0);
    // Every message without its closing brace; `pieces` says where each one is.
    let mut encoded: Vec<u8> = Vec::with_capacity(take * 384);
    let mut pieces: Vec<(i64, std::ops::Range<usize>)> = Vec::with_capacity(take);
    let mut rows = stmt.query(params![room_id, after, before])?;
    while pieces.len() < take {
        let Some(row) = rows.next()? else { break };
        let start = encoded.len();
        let view = RowView::read(row)?;
        view.encode_open(&mut encoded).map_err(encoding_failed)?;
        pieces.push((view.id, start..encoded.len()));
    }
    drop(rows);
    if !window.forward() {
        pieces.reverse();
    }
    let reactions = match (pieces.iter().map(|p| p.0).min(), pieces.iter().map(|p| p.0).max()) {
        (Some(first), Some(last)) => reactions::in_range(conn, room_id, first, last)?,
        _ => Vec::new(),
    };
    let mut page = Vec::with_capacity(encoded.len() + pieces.len() * 20 + 2);
    page.push(b'[');
    for (i, (id, range)) in pieces.into_iter().enumerate() {
        if i > 0 {
            page.push(b',');
        }
        page.extend_from_slice(&encoded[range]);
        page.extend_from_slice(b",\"reactions\":");
        match reactions.binary_search_by_key(&id, |(message_id, _)| *message_id) {
            Ok(at) => serde_json::to_writer(&mut page, &reactions[at].1).map_err(encoding_failed)?,
            Err(_) => page.extend_from_slice(b"[]"),
        }
        page.push(b'}');
    }
    page.push(b']');
    Ok(page)
}

/// Encoding into a `Vec` fails only if a `Serialize` impl does; none here do.
fn encoding_failed(e: serde_json::Error) -> DbError {
    DbError::Sqlite(rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

/// A [`Message`] borrowed from the row of [`message_columns`] being read, without `reactions`
/// (which [`history_json`] appends): the same fields, encoded the same way
/// ([`RowView::encode_open`]).
struct RowView<'a> {
    id: i64,
    room_id: i64,
    sender: SenderView<'a>,
    content: &'a str,
    attachment: Option<Attachment>,
    client_id: Option<&'a str>,
    created_at: &'a str,
    edited_at: Option<&'a str>,
    reply_to: Option<ReplyView<'a>>,
    /// The `mentions` column: a JSON array of ids, NULL for none.
    mentions: Option<&'a RawValue>,
}

struct SenderView<'a> {
    id: i64,
    username: &'a str,
    last_seen: Option<&'a str>,
}

struct ReplyView<'a> {
    id: i64,
    sender: ReplySenderView<'a>,
    excerpt: &'a str,
    deleted: bool,
}

struct ReplySenderView<'a> {
    id: i64,
    username: &'a str,
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
                Some(Attachment::new(id, text(10)?.unwrap_or_default(), row.get(11)?, row.get(12)?, row.get(13)?))
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
            sender: SenderView { id: row.get(2)?, username: text(3)?.unwrap_or_default(), last_seen: text(4)? },
            content: text(5)?.unwrap_or_default(),
            client_id: text(6)?,
            created_at: text(7)?.unwrap_or_default(),
            edited_at: text(8)?,
            attachment,
            reply_to,
            mentions,
        })
    }

    /// This message's JSON without its closing brace, for [`history_json`] to add `reactions`.
    ///
    /// Written by hand, the keys as literals: serde's derived encoding escaped every key of every
    /// message byte by byte, and encoding was a fifth of a history page's instructions (callgrind,
    /// `cargo bench --bench history`). Text values go through serde_json's string escaping.
    fn encode_open(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        let mut digits = itoa::Buffer::new();
        let mut int = |out: &mut Vec<u8>, n: i64| out.extend_from_slice(digits.format(n).as_bytes());
        out.extend_from_slice(b"{\"id\":");
        int(out, self.id);
        out.extend_from_slice(b",\"room_id\":");
        int(out, self.room_id);
        out.extend_from_slice(b",\"sender\":{\"id\":");
        int(out, self.sender.id);
        out.extend_from_slice(b",\"username\":");
        text(out, self.sender.username)?;
        out.extend_from_slice(b",\"last_seen\":");
        optional_text(out, self.sender.last_seen)?;
        out.extend_from_slice(b"},\"content\":");
        text(out, self.content)?;
        out.extend_from_slice(b",\"attachment\":");
        serde_json::to_writer(&mut *out, &self.attachment)?;
        out.extend_from_slice(b",\"client_id\":");
        optional_text(out, self.client_id)?;
        out.extend_from_slice(b",\"created_at\":");
        text(out, self.created_at)?;
        out.extend_from_slice(b",\"edited_at\":");
        optional_text(out, self.edited_at)?;
        out.extend_from_slice(b",\"reply_to\":");
        match &self.reply_to {
            None => out.extend_from_slice(b"null"),
            Some(reply) => {
                out.extend_from_slice(b"{\"id\":");
                int(out, reply.id);
                out.extend_from_slice(b",\"sender\":{\"id\":");
                int(out, reply.sender.id);
                out.extend_from_slice(b",\"username\":");
                text(out, reply.sender.username)?;
                out.extend_from_slice(b"},\"excerpt\":");
                text(out, reply.excerpt)?;
                out.extend_from_slice(if reply.deleted { b",\"deleted\":true}" } else { b",\"deleted\":false}" });
            }
        }
        out.extend_from_slice(b",\"mentions\":");
        out.extend_from_slice(self.mentions.map_or("[]", RawValue::get).as_bytes());
        Ok(())
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

/// `value` as a JSON string.
fn text(out: &mut Vec<u8>, value: &str) -> serde_json::Result<()> {
    serde_json::to_writer(out, value)
}

fn optional_text(out: &mut Vec<u8>, value: Option<&str>) -> serde_json::Result<()> {
    match value {
        Some(value) => text(out, value),
        None => {
            out.extend_from_slice(b"null");
            Ok(())
        }
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

    /// The page encoded straight from the rows is the JSON of the same page's `Message`s.
    #[test]
    fn history_json_is_the_json_of_the_messages() {
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
                        Ok::<_, DbError>((
                            history_json(conn, room, window, limit)?,
                            history(conn, room, window, limit)?,
                        ))
                    })
                    .unwrap();
                let direct: serde_json::Value = serde_json::from_slice(&direct).expect("valid JSON");
                assert_eq!(direct, serde_json::to_value(&structs).unwrap(), "{window:?} limit {limit}");
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

//! Messages: append, history windows, edits, deletes, unread counts.
//!
//! Every history query is a range scan of `messages_by_room (room_id, id)`, so a page costs the
//! same in a room of a thousand messages as in one of a million. What a Message shows besides its
//! own row comes with it: the sender, the attachment and the message it replies to are joined
//! into the same scan (primary-key lookups of the rows on the page), and the page's reactions
//! are one more range scan, of `reactions (room_id, message_id, ...)` over the page's ids
//! (see [`super::reactions`]). So a page of 50 costs two statements, never one per message.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, Row, params};

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
/// [`reactions::attach`]).
pub(super) fn message(row: &Row) -> rusqlite::Result<Message> {
    let attachment = match row.get::<_, Option<i64>>(9)? {
        Some(id) => {
            let stored: String = row.get(10)?;
            Some(Attachment::new(id, &stored, row.get(11)?, row.get(12)?, row.get(13)?))
        }
        None => None,
    };
    let reply_to = match row.get::<_, Option<i64>>(14)? {
        Some(id) => {
            let deleted = row.get::<_, Option<i64>>(17)?.is_none();
            Some(ReplyRef {
                id,
                sender: ReplySender {
                    id: row.get(15)?,
                    username: row.get::<_, Option<String>>(16)?.unwrap_or_default(),
                },
                excerpt: if deleted { String::new() } else { row.get::<_, Option<String>>(18)?.unwrap_or_default() },
                deleted,
            })
        }
        None => None,
    };
    let mentions = match row.get_ref(19)? {
        ValueRef::Text(list) => serde_json::from_slice(list)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(19, rusqlite::types::Type::Text, Box::new(e)))?,
        _ => Vec::new(),
    };
    Ok(Message {
        id: row.get(0)?,
        room_id: row.get(1)?,
        sender: Sender { id: row.get(2)?, username: row.get(3)?, last_seen: row.get(4)? },
        content: row.get(5)?,
        client_id: row.get(6)?,
        created_at: row.get(7)?,
        edited_at: row.get(8)?,
        attachment,
        reply_to,
        reactions: Vec::new(),
        mentions,
    })
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
    const OLDER: &str = concat!(select_message!(), " WHERE m.room_id = ?1 AND m.id < ?2 ORDER BY m.id DESC LIMIT 200");
    const NEWER: &str = concat!(select_message!(), " WHERE m.room_id = ?1 AND m.id > ?2 ORDER BY m.id ASC LIMIT 200");
    let (sql, cursor) = match window {
        Window::Newest => (OLDER, i64::MAX),
        Window::Before(id) => (OLDER, id),
        Window::After(id) => (NEWER, id),
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let take = usize::try_from(limit.clamp(0, MAX_PAGE)).unwrap_or(0);
    // Sized once: growing row by row made glibc consolidate its free lists at every step.
    let mut page = Vec::with_capacity(take);
    for row in stmt.query_map(params![room_id, cursor], message)?.take(take) {
        page.push(row?);
    }
    if !matches!(window, Window::After(_)) {
        page.reverse();
    }
    reactions::attach(conn, room_id, &mut page)?;
    Ok(page)
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

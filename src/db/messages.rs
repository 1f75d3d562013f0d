//! Messages: append, history windows, edits, deletes, unread counts.
//!
//! Every history query is a range scan of `messages_by_room (room_id, id)`, so a page costs the
//! same in a room of a thousand messages as in one of a million.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;
use crate::model::{Attachment, Message, Sender};

/// The columns of a Message, with its sender and attachment.
macro_rules! select_message {
    () => {
        "SELECT m.id, m.room_id, m.sender_id, u.username, u.last_seen, m.content, m.client_id,
                m.created_at, m.edited_at, a.id, a.stored_name, a.content_type, a.size, a.filename
         FROM messages m
         JOIN users u ON u.id = m.sender_id
         LEFT JOIN attachments a ON a.id = m.attachment_id"
    };
}

fn message(row: &Row) -> rusqlite::Result<Message> {
    let attachment = match row.get::<_, Option<i64>>(9)? {
        Some(id) => {
            let stored: String = row.get(10)?;
            Some(Attachment::new(id, &stored, row.get(11)?, row.get(12)?, row.get(13)?))
        }
        None => None,
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
    })
}

pub struct NewMessage<'a> {
    pub room_id: i64,
    pub sender_id: i64,
    pub content: &'a str,
    pub attachment_id: Option<i64>,
    pub client_id: Option<&'a str>,
}

/// The message this sender already stored in this room under `client_id`, if any.
pub fn by_client_id(
    conn: &Connection,
    room_id: i64,
    sender_id: i64,
    client_id: &str,
) -> Result<Option<Message>, DbError> {
    Ok(conn
        .prepare_cached(concat!(select_message!(), " WHERE m.room_id = ?1 AND m.sender_id = ?2 AND m.client_id = ?3"))?
        .query_row(params![room_id, sender_id, client_id], message)
        .optional()?)
}

/// Append a message and mark the room active.
pub fn insert(conn: &Connection, new: &NewMessage) -> Result<Message, DbError> {
    let now = super::now();
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO messages (room_id, sender_id, content, attachment_id, client_id, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        )?
        .query_row(params![new.room_id, new.sender_id, new.content, new.attachment_id, new.client_id, now], |r| {
            r.get(0)
        })?;
    super::rooms::touch(conn, new.room_id, id)?;
    get(conn, id)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<Message>, DbError> {
    Ok(conn.prepare_cached(concat!(select_message!(), " WHERE m.id = ?1"))?.query_row([id], message).optional()?)
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
    Ok(page)
}

pub fn last(conn: &Connection, room_id: i64) -> Result<Option<Message>, DbError> {
    Ok(conn
        .prepare_cached(concat!(select_message!(), " WHERE m.room_id = ?1 ORDER BY m.id DESC LIMIT 1"))?
        .query_row([room_id], message)
        .optional()?)
}

/// Messages newer than `after_id` that `reader` did not send.
pub fn unread_count(conn: &Connection, room_id: i64, reader: i64, after_id: i64) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM messages WHERE room_id = ?1 AND id > ?2 AND sender_id != ?3")?
        .query_row([room_id, after_id, reader], |r| r.get(0))?)
}

pub fn update_content(conn: &Connection, id: i64, content: &str) -> Result<Option<Message>, DbError> {
    conn.prepare_cached("UPDATE messages SET content = ?2, edited_at = ?3 WHERE id = ?1")?.execute(params![
        id,
        content,
        super::now()
    ])?;
    get(conn, id)
}

pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    Ok(conn.prepare_cached("DELETE FROM messages WHERE id = ?1")?.execute([id])? == 1)
}

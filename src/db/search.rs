//! Full-text search over the messages of a user's rooms (the FTS5 index of migration 2).
//!
//! The index is read newest first (`ORDER BY rowid DESC` is FTS5's own order, so the first
//! matches come without sorting every match) and each match is checked against the user's
//! current rooms, a set built once per query; the scan stops at the page's size. `before` is a
//! rowid bound that FTS5 applies inside the index.

use rusqlite::{Connection, params};

use super::messages::{message, message_columns, message_joins};
use super::{DbError, reactions};
use crate::model::Message;

/// The largest page [`matching`] returns.
pub const MAX_PAGE: usize = 50;

/// Messages matching `fts_query` (FTS5 syntax, built by the search use case) in the rooms
/// `user_id` belongs to, or only in `room_id`, older than `before`, newest first, at most
/// `limit` (capped at [`MAX_PAGE`]).
pub fn matching(
    conn: &Connection,
    user_id: i64,
    fts_query: &str,
    room_id: Option<i64>,
    before: i64,
    limit: usize,
) -> Result<Vec<Message>, DbError> {
    // A constant LIMIT: a bound one makes SQLite 3.53 re-prepare the statement (see
    // `messages::history`). CROSS JOIN keeps the index as the outer loop.
    const SQL: &str = concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid ",
        message_joins!(),
        " WHERE messages_fts MATCH ?1 AND f.rowid < ?2
            AND m.room_id IN (SELECT room_id FROM room_members WHERE user_id = ?3)
            AND (?4 IS NULL OR m.room_id = ?4)
          ORDER BY f.rowid DESC LIMIT 50"
    );
    let mut stmt = conn.prepare_cached(SQL)?;
    let take = limit.min(MAX_PAGE);
    let mut found = Vec::with_capacity(take);
    for row in stmt.query_map(params![fts_query, before, user_id, room_id], message)?.take(take) {
        found.push(row?);
    }
    reactions::attach_each(conn, &mut found)?;
    Ok(found)
}

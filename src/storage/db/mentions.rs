//! Mentions: which members a message names, for `unread_mentions`.
//!
//! Keyed `(user_id, room_id, message_id)` and clustered on that key, so a member's unread
//! mentions in a room (message ids past their read marker) are counted in one short range scan.
//! A message's own `mentions` column (what its JSON shows) is written with the message; this
//! table holds the same ids minus the sender, who is never told about their own message. The
//! delete trigger of migration 2 removes a deleted message's rows.

use rusqlite::{Connection, params};

use super::DbError;

/// `users` are named by message `message_id` of `room_id`.
pub fn record(conn: &Connection, room_id: i64, message_id: i64, users: &[i64]) -> Result<(), DbError> {
    let mut insert = conn.prepare_cached(
        "INSERT INTO mentions (user_id, room_id, message_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
    )?;
    for user in users {
        insert.execute(params![user, room_id, message_id])?;
    }
    Ok(())
}

/// `users` are no longer named by message `message_id` (an edit took them out).
pub fn forget(conn: &Connection, room_id: i64, message_id: i64, users: &[i64]) -> Result<(), DbError> {
    let mut delete =
        conn.prepare_cached("DELETE FROM mentions WHERE user_id = ?1 AND room_id = ?2 AND message_id = ?3")?;
    for user in users {
        delete.execute(params![user, room_id, message_id])?;
    }
    Ok(())
}

/// Messages of `room_id` newer than `after_id` that name `user_id`.
pub fn unread(conn: &Connection, user_id: i64, room_id: i64, after_id: i64) -> Result<i64, DbError> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM mentions WHERE user_id = ?1 AND room_id = ?2 AND message_id > ?3")?
        .query_row([user_id, room_id, after_id], |r| r.get(0))?)
}

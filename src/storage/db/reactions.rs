//! Reactions: which emoji each member put on a message.
//!
//! The table is keyed `(room_id, message_id, emoji, user_id)` and clustered on that key
//! (`WITHOUT ROWID`), so the reactions of a history page, one room and one window of ids, are a
//! single range scan that reads only those rows. `seq` numbers a message's reactions in the order
//! they were made; it gives the SPEC's orders (emoji by first use, users by when they reacted).

use rusqlite::{Connection, params};

use super::DbError;
use crate::model::{Message, Reaction};

/// Put `user_id`'s `emoji` on the message; false when it was there already.
pub fn add(conn: &Connection, room_id: i64, message_id: i64, emoji: &str, user_id: i64) -> Result<bool, DbError> {
    let added = conn
        .prepare_cached(
            "INSERT INTO reactions (room_id, message_id, emoji, user_id, seq)
             VALUES (?1, ?2, ?3, ?4,
                     (SELECT coalesce(max(seq), 0) + 1 FROM reactions WHERE room_id = ?1 AND message_id = ?2))
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![room_id, message_id, emoji, user_id])?;
    Ok(added == 1)
}

/// Take `user_id`'s `emoji` off the message; false when it was not there.
pub fn remove(conn: &Connection, room_id: i64, message_id: i64, emoji: &str, user_id: i64) -> Result<bool, DbError> {
    let removed = conn
        .prepare_cached("DELETE FROM reactions WHERE room_id = ?1 AND message_id = ?2 AND emoji = ?3 AND user_id = ?4")?
        .execute(params![room_id, message_id, emoji, user_id])?;
    Ok(removed == 1)
}

/// How many distinct emoji the message has, and whether `emoji` is one of them.
pub fn distinct(conn: &Connection, room_id: i64, message_id: i64, emoji: &str) -> Result<(i64, bool), DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT count(DISTINCT emoji), coalesce(max(emoji = ?3), 0)
             FROM reactions WHERE room_id = ?1 AND message_id = ?2",
        )?
        .query_row(params![room_id, message_id, emoji], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Fill in the reactions of `messages`, all of `room_id`: one range scan over their ids.
pub fn attach(conn: &Connection, room_id: i64, messages: &mut [Message]) -> Result<(), DbError> {
    let (Some(first), Some(last)) = (messages.iter().map(|m| m.id).min(), messages.iter().map(|m| m.id).max()) else {
        return Ok(());
    };
    place(in_range(conn, room_id, first, last)?, messages);
    Ok(())
}

/// The reactions of `room_id`'s messages `first..=last`, by message id (sorted; messages without
/// any are left out): one range scan of the key.
///
/// The rows come in key order (message, emoji, user) and are put in `seq` order per message
/// here: an `ORDER BY message_id, seq` made SQLite sort every page's reactions in a temporary
/// b-tree, a sorter set up and torn down per page (seen in the history benchmark's profile).
pub fn in_range(conn: &Connection, room_id: i64, first: i64, last: i64) -> Result<Vec<(i64, Vec<Reaction>)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT message_id, emoji, user_id, seq FROM reactions
         WHERE room_id = ?1 AND message_id BETWEEN ?2 AND ?3",
    )?;
    let rows = stmt.query_map(params![room_id, first, last], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    group(rows)
}

/// Fill in the reactions of `messages`, from any rooms (search results): one statement that looks
/// each message's reactions up by its key.
pub fn attach_each(conn: &Connection, messages: &mut [Message]) -> Result<(), DbError> {
    if messages.is_empty() {
        return Ok(());
    }
    let keys = serde_json::Value::from(messages.iter().map(|m| vec![m.room_id, m.id]).collect::<Vec<_>>());
    let mut stmt = conn.prepare_cached(
        "SELECT x.message_id, x.emoji, x.user_id, x.seq
         FROM json_each(?1) k CROSS JOIN reactions x
           ON x.room_id = k.value ->> 0 AND x.message_id = k.value ->> 1",
    )?;
    let rows = stmt.query_map([keys.to_string()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
    place(group(rows)?, messages);
    Ok(())
}

/// `(message id, emoji, user id, seq)` rows, each message's together (any order within one), as
/// each message's reactions (emoji in order of first use, users in the order they reacted),
/// sorted by message id.
fn group(
    rows: impl Iterator<Item = rusqlite::Result<(i64, String, i64, i64)>>,
) -> Result<Vec<(i64, Vec<Reaction>)>, DbError> {
    // (message id, its reactions as (seq, emoji, user id)).
    type Made = (i64, String, i64);
    let mut by_message: Vec<(i64, Vec<Made>)> = Vec::new();
    for row in rows {
        let (message_id, emoji, user_id, seq) = row?;
        match by_message.last_mut() {
            Some((id, made)) if *id == message_id => made.push((seq, emoji, user_id)),
            _ => by_message.push((message_id, vec![(seq, emoji, user_id)])),
        }
    }
    by_message.sort_unstable_by_key(|(id, _)| *id);
    Ok(by_message
        .into_iter()
        .map(|(id, mut made)| {
            made.sort_unstable_by_key(|(seq, _, _)| *seq);
            let mut reactions: Vec<Reaction> = Vec::new();
            for (_, emoji, user_id) in made {
                match reactions.iter_mut().find(|r| r.emoji == emoji) {
                    Some(reaction) => {
                        reaction.count += 1;
                        reaction.user_ids.push(user_id);
                    }
                    None => reactions.push(Reaction { emoji, count: 1, user_ids: vec![user_id] }),
                }
            }
            (id, reactions)
        })
        .collect())
}

fn place(mut grouped: Vec<(i64, Vec<Reaction>)>, messages: &mut [Message]) {
    for message in messages {
        if let Ok(at) = grouped.binary_search_by_key(&message.id, |(id, _)| *id) {
            message.reactions = std::mem::take(&mut grouped[at].1);
        }
    }
}

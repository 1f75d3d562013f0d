//! Bots: the `bots` row beside a bot's account (token, outgoing webhook, default room), the
//! lookups of an incoming hook (token, `channel`) and of the outgoing webhooks a message calls.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{DbError, users};

/// A bot as storage keeps it: its account's id and name, and its own row.
#[derive(Debug, Clone)]
pub struct BotRecord {
    pub id: i64,
    pub username: String,
    pub token: String,
    pub webhook_url: Option<String>,
    pub room_id: Option<i64>,
    pub created_at: String,
}

const SELECT_BOT: &str = "SELECT b.user_id, u.username, b.token, b.webhook_url, b.room_id, b.created_at
     FROM bots b JOIN users u ON u.id = b.user_id";

fn record(row: &Row) -> rusqlite::Result<BotRecord> {
    Ok(BotRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        token: row.get(2)?,
        webhook_url: row.get(3)?,
        room_id: row.get(4)?,
        created_at: row.get(5)?,
    })
}

/// A new bot: its account (see [`users::insert_bot`]) and its row. A taken name fails with the
/// UNIQUE violation of `users.username`.
pub fn insert(
    conn: &Connection,
    username: &str,
    token: &str,
    webhook_url: Option<&str>,
    room_id: Option<i64>,
) -> Result<BotRecord, DbError> {
    let account = users::insert_bot(conn, username)?;
    conn.prepare_cached(
        "INSERT INTO bots (user_id, token, webhook_url, room_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![account.id, token, webhook_url, room_id, account.created_at])?;
    by_id(conn, account.id)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

/// Every bot, in id order.
pub fn list(conn: &Connection) -> Result<Vec<BotRecord>, DbError> {
    let sql = format!("{SELECT_BOT} ORDER BY b.user_id");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([], record)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<BotRecord>, DbError> {
    let sql = format!("{SELECT_BOT} WHERE b.user_id = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([id], record).optional()?)
}

/// By its account's username (any case).
pub fn by_username(conn: &Connection, username: &str) -> Result<Option<BotRecord>, DbError> {
    let sql = format!("{SELECT_BOT} WHERE u.username = ?1");
    Ok(conn.prepare_cached(&sql)?.query_row([username], record).optional()?)
}

/// The bot a hook URL's token names, if its account is enabled. Read on every hook request, so
/// a token rotated or deleted (also by `natter bot` on the same data) fails from the next one.
pub fn by_token(conn: &Connection, token: &str) -> Result<Option<BotRecord>, DbError> {
    let sql = format!("{SELECT_BOT} WHERE b.token = ?1 AND u.disabled = 0");
    Ok(conn.prepare_cached(&sql)?.query_row([token], record).optional()?)
}

pub fn set_token(conn: &Connection, id: i64, token: &str) -> Result<bool, DbError> {
    Ok(conn.execute("UPDATE bots SET token = ?2 WHERE user_id = ?1", params![id, token])? == 1)
}

pub fn set_webhook_url(conn: &Connection, id: i64, url: Option<&str>) -> Result<bool, DbError> {
    Ok(conn.execute("UPDATE bots SET webhook_url = ?2 WHERE user_id = ?1", params![id, url])? == 1)
}

pub fn set_room(conn: &Connection, id: i64, room_id: Option<i64>) -> Result<bool, DbError> {
    Ok(conn.execute("UPDATE bots SET room_id = ?2 WHERE user_id = ?1", params![id, room_id])? == 1)
}

/// Delete a bot: its row goes (the token with it) and its account is disabled, so that its
/// messages stay with their sender. False when there is no such bot.
pub fn delete(conn: &Connection, id: i64) -> Result<bool, DbError> {
    let removed = conn.execute("DELETE FROM bots WHERE user_id = ?1", [id])? == 1;
    if removed {
        users::set_disabled(conn, id, true)?;
    }
    Ok(removed)
}

/// The room a hook's `channel` names among the rooms `bot_id` is a member of: a room id (digits,
/// tried first), else a group room's name (any case); several rooms of that name: the one with
/// the newest message (`activity_seq` is the id of a room's newest message).
pub fn room_for_channel(conn: &Connection, bot_id: i64, channel: &str) -> Result<Option<i64>, DbError> {
    if let Ok(id) = channel.parse::<i64>() {
        let by_id = conn
            .prepare_cached("SELECT room_id FROM room_members WHERE user_id = ?1 AND room_id = ?2")?
            .query_row(params![bot_id, id], |r| r.get(0))
            .optional()?;
        if by_id.is_some() {
            return Ok(by_id);
        }
    }
    Ok(conn
        .prepare_cached(
            "SELECT r.id FROM rooms r JOIN room_members m ON m.room_id = r.id
             WHERE m.user_id = ?1 AND r.name = ?2 COLLATE NOCASE
             ORDER BY r.activity_seq DESC, r.id DESC LIMIT 1",
        )?
        .query_row(params![bot_id, channel], |r| r.get(0))
        .optional()?)
}

/// A room by id, or else a group room by name (any case; several: the one with the newest
/// message), whoever its members are.
pub fn room_named(conn: &Connection, room: &str) -> Result<Option<i64>, DbError> {
    if let Ok(id) = room.parse::<i64>()
        && super::rooms::get(conn, id)?.is_some()
    {
        return Ok(Some(id));
    }
    Ok(conn
        .prepare_cached(
            "SELECT id FROM rooms WHERE name = ?1 COLLATE NOCASE ORDER BY activity_seq DESC, id DESC LIMIT 1",
        )?
        .query_row([room], |r| r.get(0))
        .optional()?)
}

/// A bot whose webhook a message calls.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub bot_id: i64,
    pub username: String,
    pub url: String,
    pub token: String,
}

/// The bots with a webhook that a new message in `room_id` calls: members of the room that it
/// mentions, or every bot member of a private chat. `mentions` is the message's list of member
/// ids. The bots table is small (one row per bot), so this is a scan of it and a primary-key
/// lookup per bot that has a webhook.
pub fn webhook_targets(conn: &Connection, room_id: i64, mentions: &[i64]) -> Result<Vec<WebhookTarget>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT b.user_id, u.username, b.webhook_url, b.token
         FROM bots b JOIN users u ON u.id = b.user_id
         JOIN room_members m ON m.room_id = ?1 AND m.user_id = b.user_id
         WHERE b.webhook_url IS NOT NULL AND u.disabled = 0
         ORDER BY b.user_id",
    )?;
    let in_room = stmt.query_map([room_id], |r| {
        Ok(WebhookTarget { bot_id: r.get(0)?, username: r.get(1)?, url: r.get(2)?, token: r.get(3)? })
    })?;
    let in_room: Vec<WebhookTarget> = in_room.collect::<Result<_, _>>()?;
    if in_room.is_empty() {
        return Ok(in_room);
    }
    let private: bool = conn
        .prepare_cached("SELECT is_private FROM rooms WHERE id = ?1")?
        .query_row([room_id], |r| r.get(0))
        .optional()?
        .unwrap_or(false);
    Ok(in_room.into_iter().filter(|bot| private || mentions.contains(&bot.bot_id)).collect())
}

//! Accounts.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;
use crate::model::{User, UserAccount, UserPublic, avatar_url};

/// A user row with what authentication needs.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub id: i64,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub password_changed_at: i64,
    pub created_at: String,
    pub last_seen: Option<String>,
    pub display_name: Option<String>,
    /// The stored name of their avatar in the media folder.
    pub avatar_name: Option<String>,
    /// A bot's account (see `bots`): it cannot log in, and clients badge it.
    pub is_bot: bool,
}

impl UserRecord {
    pub fn to_user(&self) -> User {
        User {
            id: self.id,
            username: self.username.clone(),
            email: self.email.clone(),
            created_at: self.created_at.clone(),
            is_admin: self.is_admin,
            display_name: self.display_name.clone(),
            avatar_url: avatar_url(self.avatar_name.as_deref()),
        }
    }

    /// As an administrator sees this account.
    pub fn to_account(&self) -> UserAccount {
        UserAccount { user: self.to_user(), disabled: self.disabled, last_seen: self.last_seen.clone() }
    }

    /// As others see this user; `online` is filled in from the presence registry.
    pub fn to_public(&self) -> UserPublic {
        UserPublic {
            id: self.id,
            username: self.username.clone(),
            online: false,
            last_seen: self.last_seen.clone(),
            display_name: self.display_name.clone(),
            avatar_url: avatar_url(self.avatar_name.as_deref()),
            is_bot: self.is_bot,
        }
    }
}

/// The columns [`record`] reads, of `users u`: a macro so that queries stay `&'static str` (no
/// formatting per call), also for queries that join `users u` to another table.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.email, u.password_hash, u.is_admin, u.disabled, u.password_changed_at, u.created_at, \
         u.last_seen, u.display_name, u.avatar_name, u.is_bot"
    };
}
pub(super) use user_columns;

/// A user row from [`user_columns`], which come first in the row.
pub(super) fn record(row: &Row) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: row.get(0)?,
        username: row.get(1)?,
        email: row.get(2)?,
        password_hash: row.get(3)?,
        is_admin: row.get(4)?,
        disabled: row.get(5)?,
        password_changed_at: row.get(6)?,
        created_at: row.get(7)?,
        last_seen: row.get(8)?,
        display_name: row.get(9)?,
        avatar_name: row.get(10)?,
        is_bot: row.get(11)?,
    })
}

pub struct NewUser<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub full_name: Option<&'a str>,
    pub password_hash: &'a str,
    /// Make this account an admin even if it is not the first.
    pub admin: bool,
}

/// Insert an account; the first account ever created is an admin. A taken username or email
/// fails with a UNIQUE violation naming `users.username` or `users.email`.
pub fn insert(conn: &Connection, new: &NewUser) -> Result<UserRecord, DbError> {
    let now = super::now();
    let id = conn
        .prepare_cached(
            "INSERT INTO users (username, email, full_name, password_hash, is_admin, password_changed_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5 OR NOT EXISTS (SELECT 1 FROM users), ?6, ?7) RETURNING id",
        )?
        .query_row(
            params![new.username, new.email, new.full_name, new.password_hash, new.admin, super::unix_now(), now],
            |r| r.get::<_, i64>(0),
        )?;
    by_id(conn, id)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

/// Insert a bot's account: no password (no hash verifies against `!`, and logins skip bots
/// before hashing), an address no person can sign up with (no `@`), never an administrator.
pub fn insert_bot(conn: &Connection, username: &str) -> Result<UserRecord, DbError> {
    let email = format!("bot:{}", username.to_ascii_lowercase());
    let id = conn
        .prepare_cached(
            "INSERT INTO users (username, email, password_hash, is_admin, is_bot, password_changed_at, created_at)
             VALUES (?1, ?2, '!', 0, 1, ?3, ?4) RETURNING id",
        )?
        .query_row(params![username, email, super::unix_now(), super::now()], |r| r.get::<_, i64>(0))?;
    by_id(conn, id)?.ok_or(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
}

pub fn by_id(conn: &Connection, id: i64) -> Result<Option<UserRecord>, DbError> {
    Ok(conn
        .prepare_cached(concat!("SELECT ", user_columns!(), " FROM users u WHERE id = ?1"))?
        .query_row([id], record)
        .optional()?)
}

/// By username (any case).
pub fn by_username(conn: &Connection, username: &str) -> Result<Option<UserRecord>, DbError> {
    Ok(conn
        .prepare_cached(concat!("SELECT ", user_columns!(), " FROM users u WHERE username = ?1"))?
        .query_row([username], record)
        .optional()?)
}

/// By email (any case) or, failing that, by username: what the login form accepts.
pub fn by_login(conn: &Connection, login: &str) -> Result<Option<UserRecord>, DbError> {
    let email = login.to_lowercase();
    let found = conn
        .prepare_cached(concat!("SELECT ", user_columns!(), " FROM users u WHERE email = ?1"))?
        .query_row([&email], record)
        .optional()?;
    match found {
        Some(user) => Ok(Some(user)),
        None => by_username(conn, login),
    }
}

/// Ids for usernames (any case); returns (found ids in input order, unknown names).
pub fn ids_for_usernames(conn: &Connection, names: &[String]) -> Result<(Vec<i64>, Vec<String>), DbError> {
    let mut stmt = conn.prepare_cached("SELECT id FROM users WHERE username = ?1")?;
    let (mut ids, mut unknown) = (Vec::new(), Vec::new());
    for name in names {
        match stmt.query_row([name], |r| r.get::<_, i64>(0)).optional()? {
            Some(id) => ids.push(id),
            None => unknown.push(name.clone()),
        }
    }
    Ok((ids, unknown))
}

/// Users whose name starts with `prefix` (any case), by name, at most `limit`. Served by the
/// NOCASE unique index as a range scan: every allowed username character sorts below '~'.
/// (No bound `LIMIT ?`: SQLite re-prepares such statements at every bind; see `messages::history`.)
pub fn search_prefix(conn: &Connection, prefix: &str, limit: usize) -> Result<Vec<UserRecord>, DbError> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u
         WHERE username >= ?1 AND username < ?1 || '~' AND disabled = 0
         ORDER BY username"
    ))?;
    let rows = stmt.query_map(params![prefix], record)?.take(limit);
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn list(conn: &Connection) -> Result<Vec<UserRecord>, DbError> {
    let mut stmt = conn.prepare_cached(concat!("SELECT ", user_columns!(), " FROM users u ORDER BY id"))?;
    let rows = stmt.query_map([], record)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// New password hash; tokens issued before now stop working. Returns whether the user exists.
pub fn set_password(conn: &Connection, id: i64, hash: &str) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE users SET password_hash = ?2, password_changed_at = ?3 WHERE id = ?1",
        params![id, hash, super::unix_now()],
    )? == 1)
}

pub fn set_disabled(conn: &Connection, id: i64, disabled: bool) -> Result<bool, DbError> {
    Ok(conn.execute("UPDATE users SET disabled = ?2 WHERE id = ?1", params![id, disabled])? == 1)
}

/// Make the account an administrator, or not.
pub fn set_admin(conn: &Connection, id: i64, admin: bool) -> Result<bool, DbError> {
    Ok(conn.execute("UPDATE users SET is_admin = ?2 WHERE id = ?1", params![id, admin])? == 1)
}

pub fn set_last_seen(conn: &Connection, id: i64, at: &str) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE users SET last_seen = ?2 WHERE id = ?1")?.execute(params![id, at])?;
    Ok(())
}

/// The user's display name and avatar; returns the avatar it replaces (its file is the caller's
/// to remove once this is committed), or `None` when the user does not exist.
pub fn set_profile(
    conn: &Connection,
    id: i64,
    display_name: Option<&str>,
    avatar_name: Option<&str>,
) -> Result<Option<Option<String>>, DbError> {
    let Some(old) = by_id(conn, id)? else { return Ok(None) };
    conn.prepare_cached("UPDATE users SET display_name = ?2, avatar_name = ?3 WHERE id = ?1")?.execute(params![
        id,
        display_name,
        avatar_name
    ])?;
    Ok(Some(old.avatar_name.filter(|old| Some(old.as_str()) != avatar_name)))
}

//! Invite codes for `--registration invite`.

use rusqlite::{Connection, params};

use super::DbError;

/// An invite row: what the API shows of it, before its link is made (`model::Invite`).
#[derive(Debug, Clone)]
pub struct InviteRecord {
    pub code: String,
    pub uses_left: i64,
    pub expires_at: String,
}

pub fn insert(
    conn: &Connection,
    code: &str,
    created_by: Option<i64>,
    uses: i64,
    expires_at: &str,
) -> Result<InviteRecord, DbError> {
    conn.execute(
        "INSERT INTO invites (code, created_by, uses_left, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![code, created_by, uses, expires_at, super::now()],
    )?;
    Ok(InviteRecord { code: code.to_string(), uses_left: uses, expires_at: expires_at.to_string() })
}

/// Use up one signup of `code`; false when the code is unknown, used up or expired.
pub fn consume(conn: &Connection, code: &str) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE invites SET uses_left = uses_left - 1 WHERE code = ?1 AND uses_left > 0 AND expires_at > ?2",
        params![code, super::now()],
    )? == 1)
}

/// The codes that can still sign someone up, newest first.
pub fn usable(conn: &Connection) -> Result<Vec<InviteRecord>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT code, uses_left, expires_at FROM invites WHERE uses_left > 0 AND expires_at > ?1
         ORDER BY created_at DESC, rowid DESC",
    )?;
    let rows = stmt.query_map([super::now()], |r| {
        Ok(InviteRecord { code: r.get(0)?, uses_left: r.get(1)?, expires_at: r.get(2)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Remove `code`; false when there is no such code.
pub fn delete(conn: &Connection, code: &str) -> Result<bool, DbError> {
    Ok(conn.execute("DELETE FROM invites WHERE code = ?1", [code])? == 1)
}

//! Invite codes for `--registration invite`.

use rusqlite::{Connection, params};

use super::DbError;
use crate::model::Invite;

pub fn insert(
    conn: &Connection,
    code: &str,
    created_by: Option<i64>,
    uses: i64,
    expires_at: &str,
) -> Result<Invite, DbError> {
    conn.execute(
        "INSERT INTO invites (code, created_by, uses_left, expires_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![code, created_by, uses, expires_at, super::now()],
    )?;
    Ok(Invite::new(code.to_string(), uses, expires_at.to_string()))
}

/// Use up one signup of `code`; false when the code is unknown, used up or expired.
pub fn consume(conn: &Connection, code: &str) -> Result<bool, DbError> {
    Ok(conn.execute(
        "UPDATE invites SET uses_left = uses_left - 1 WHERE code = ?1 AND uses_left > 0 AND expires_at > ?2",
        params![code, super::now()],
    )? == 1)
}

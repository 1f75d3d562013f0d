//! Versioned migrations: `PRAGMA user_version` counts the ones applied.
//!
//! Migration 1 is `schema.sql` as a whole. A later schema change is a new entry appended here
//! (never an edit of an applied one), so a database from any older natter is brought up to date
//! on start, each step in its own transaction.

use rusqlite::Connection;

const MIGRATIONS: &[&str] = &[include_str!("../../schema.sql")];

pub fn run(conn: &Connection) -> rusqlite::Result<()> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        conn.execute_batch(&format!("BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {version};\nCOMMIT;"))
            .inspect_err(|_| {
                let _ = conn.execute_batch("ROLLBACK");
            })?;
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

/// The schema version this binary expects.
pub fn latest() -> usize {
    MIGRATIONS.len()
}

//! Whole-database copies: a consistent online backup, and the checks a file must pass before it
//! replaces the database.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

/// Copy the database at `source` into the new file `target`. VACUUM INTO reads one snapshot, so
/// the copy is consistent while a server keeps writing. The target is created empty with mode
/// 0600 first (VACUUM INTO fills an empty file, and SQLite would make a new one 0644): a backup
/// holds everything the database does.
pub fn vacuum_into(source: &Path, target: &Path) -> Result<(), String> {
    let name = target.to_str().ok_or("the backup path must be valid UTF-8")?;
    crate::private::create_file(target).map_err(|e| format!("cannot create {}: {e}", target.display()))?;
    let copy = || -> Result<(), String> {
        let conn = Connection::open(source).map_err(|e| e.to_string())?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
        conn.execute("VACUUM INTO ?1", [name]).map_err(|e| format!("backup failed: {e}"))?;
        Ok(())
    };
    copy().inspect_err(|_| {
        // No empty or partial file left to be mistaken for a backup.
        let _ = std::fs::remove_file(target);
    })
}

/// `file` is a natter database that SQLite finds intact, from this natter or an older one.
pub fn check(file: &Path) -> Result<(), String> {
    let conn = Connection::open_with_flags(file, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("cannot open {}: {e}", file.display()))?;
    let verdict: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| format!("{} is not a readable database: {e}", file.display()))?;
    if verdict != "ok" {
        return Err(format!("{} failed the integrity check: {verdict}", file.display()));
    }
    let has_users: bool = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'users'", [], |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if !has_users {
        return Err(format!("{} is not a natter database", file.display()));
    }
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(|e| e.to_string())?;
    if version > super::migrate::latest() as i64 {
        return Err(format!("{} comes from a newer natter (schema {version}); upgrade first", file.display()));
    }
    Ok(())
}

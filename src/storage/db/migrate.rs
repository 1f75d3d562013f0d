//! Versioned migrations: `PRAGMA user_version` counts the ones applied.
//!
//! Migration 1 is `schema.sql` as a whole. A later schema change is a new entry appended here
//! (never an edit of an applied one), so a database from any older natter is brought up to date
//! on start, each step in its own transaction.

use std::time::Instant;

use rusqlite::Connection;

/// One schema step: its SQL, then (in the same transaction) work that needs code, such as
/// filling a new index from the rows already there.
struct Migration {
    sql: &'static str,
    then: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

const MIGRATIONS: &[Migration] = &[
    Migration { sql: include_str!("../../../schema.sql"), then: None },
    Migration { sql: include_str!("migrations/0002_conversations.sql"), then: Some(build_search_index) },
    Migration { sql: include_str!("migrations/0003_open_rooms.sql"), then: None },
    Migration { sql: include_str!("migrations/0004_search.sql"), then: Some(build_search_index) },
    Migration { sql: include_str!("migrations/0005_known_addresses.sql"), then: None },
    Migration { sql: include_str!("migrations/0006_push.sql"), then: None },
    Migration { sql: include_str!("migrations/0007_bots.sql"), then: None },
    Migration { sql: include_str!("migrations/0008_profiles.sql"), then: None },
];

pub fn run(conn: &Connection) -> rusqlite::Result<()> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    // An older natter on a newer schema would write rows the newer one's rules do not expect:
    // going back is a restore of the backup taken before the upgrade (docs/operations.md, "Upgrades").
    if applied > MIGRATIONS.len() {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ERROR),
            Some(format!(
                "the database has schema version {applied}, from a newer natter (this one knows {}); \
                 run that version, or restore the backup taken before the upgrade",
                MIGRATIONS.len()
            )),
        ));
    }
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let version = index + 1;
        let started = Instant::now();
        let step = || -> rusqlite::Result<()> {
            conn.execute_batch(&format!("BEGIN IMMEDIATE;\n{}", migration.sql))?;
            if let Some(then) = migration.then {
                then(conn)?;
            }
            conn.execute_batch(&format!("PRAGMA user_version = {version};\nCOMMIT;"))
        };
        step().inspect_err(|_| {
            let _ = conn.execute_batch("ROLLBACK");
        })?;
        tracing::info!(version, took = ?started.elapsed(), "applied database migration");
    }
    Ok(())
}

/// Migrations 2 and 4: index the messages stored before (the triggers keep it in step from then
/// on). Says how long it took: on the dev VM, per million messages, about 3 s for migration 2's
/// index and 15 s for migration 4's (its prefix index adds four entries per word).
fn build_search_index(conn: &Connection) -> rusqlite::Result<()> {
    let started = Instant::now();
    conn.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');")?;
    let messages: i64 = conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
    let took = started.elapsed();
    tracing::info!(messages, ?took, "built the search index for the messages already stored in {took:.1?}");
    Ok(())
}

/// The schema version this binary expects.
pub fn latest() -> usize {
    MIGRATIONS.len()
}

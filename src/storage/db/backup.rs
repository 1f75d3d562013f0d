//! Whole-database copies: a consistent online backup, and the checks a file must pass before it
//! replaces the database.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

/// Pages copied per step of the online backup (1 MiB with SQLite's 4 KiB pages): the progress
/// moves that often.
const PAGES_PER_STEP: i32 = 256;

/// How long a step may keep finding the database locked before the backup gives up.
const BUSY_LIMIT: Duration = Duration::from_secs(30);

/// Copy the database at `source` into the new file `target` with SQLite's online backup API, a
/// step at a time, calling `progress(pages_copied, pages_total)` after each step.
///
/// The source connection holds one read transaction across every step, so the copy is one
/// consistent snapshot however long it takes while a server keeps writing (without it SQLite
/// restarts the copy whenever another connection commits between two steps, which on a busy
/// server never ends). The server's checkpoints leave that snapshot alone until the copy is done,
/// as they do for any reader. The copy is written to `target.partial`, switched to a
/// self-contained rollback-journal file, fsynced and renamed into place: a backup that fails or
/// is interrupted never leaves a file under the name given. The file is created 0600.
pub fn copy(source: &Path, target: &Path, mut progress: impl FnMut(u64, u64)) -> Result<(), String> {
    let partial = PathBuf::from(format!("{}.partial", target.display()));
    // What an interrupted backup left.
    let _ = std::fs::remove_file(&partial);
    let result = copy_into(source, &partial, &mut progress).and_then(|()| {
        std::fs::rename(&partial, target).map_err(|e| format!("cannot rename {}: {e}", partial.display()))?;
        sync_parent(target)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    result
}

fn copy_into(source: &Path, partial: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<(), String> {
    let from = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("cannot open {}: {e}", source.display()))?;
    from.busy_timeout(Duration::from_secs(10)).map_err(|e| e.to_string())?;
    // One snapshot for the whole copy: a read transaction that stays open across the steps.
    from.execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
        .map_err(|e| format!("cannot read {}: {e}", source.display()))?;

    // Private (a database copy holds password hashes) before SQLite writes into it.
    crate::storage::file_modes::create_file(partial)
        .map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    let mut to = Connection::open(partial).map_err(|e| format!("cannot create {}: {e}", partial.display()))?;
    {
        let backup = Backup::new(&from, &mut to).map_err(|e| format!("backup failed: {e}"))?;
        let mut busy_since: Option<Instant> = None;
        loop {
            let step = backup.step(PAGES_PER_STEP).map_err(|e| format!("backup failed: {e}"))?;
            let p = backup.progress();
            let total = u64::try_from(p.pagecount).unwrap_or(0);
            let copied = total.saturating_sub(u64::try_from(p.remaining).unwrap_or(0));
            match step {
                StepResult::Done => {
                    progress(total, total);
                    break;
                }
                StepResult::More => {
                    busy_since = None;
                    progress(copied, total);
                }
                _ => {
                    let since = *busy_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > BUSY_LIMIT {
                        return Err(format!("backup failed: {} stayed locked", source.display()));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
    let _ = from.execute_batch("COMMIT");
    // The pages carry the server's WAL mode; the backup is one file that needs no -wal beside it.
    to.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0))
        .map_err(|e| format!("cannot finish {}: {e}", partial.display()))?;
    to.close().map_err(|(_, e)| format!("cannot close {}: {e}", partial.display()))?;
    std::fs::File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync {}: {e}", partial.display()))
}

/// fsync the folder holding `path`, so a rename into it survives a power loss.
pub fn sync_parent(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .map_err(|e| format!("cannot sync {}: {e}", parent.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
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

//! What the operator does from the shell on the data folder (SPEC §5): accounts and invites
//! (the same use cases as the REST API, over a storage engine of the command's own, which
//! SQLite's locking and `busy_timeout` let share the file with a running server), backups and
//! restores.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::{DataArgs, Registration};
use crate::db::{Db, DbOptions, backup};
use crate::error::Chain;
use crate::password::Passwords;
use crate::usecase::accounts::Accounts;
use crate::usecase::invites::Invites;

/// The data folder opened for one command.
pub struct Operator {
    db: Db,
}

impl Operator {
    pub fn open(data: &DataArgs) -> Result<Operator, String> {
        let path = data.db_path();
        let db = Db::open(&path, DbOptions { readers: 1, ..DbOptions::default() })
            .map_err(|e| format!("cannot open the database {}: {}", path.display(), Chain(&e)))?;
        Ok(Operator { db })
    }

    pub fn accounts(&self) -> Result<Accounts, String> {
        // The operator never signs anyone up: adding an account is their own decision, whatever
        // `--registration` the server runs with.
        Ok(Accounts::new(self.db.clone(), Arc::new(Passwords::new(1)?), Registration::Closed, None))
    }

    pub fn invites(&self) -> Invites {
        Invites::new(self.db.clone())
    }

    /// Commit what is queued and close the database.
    pub fn close(self) {
        self.db.shutdown_blocking();
    }
}

/// Copy the database into `file` (which must not exist, unless `force`) while a server may be
/// running. The database copied back.
pub fn backup(data: &DataArgs, file: &Path, force: bool) -> Result<PathBuf, String> {
    if file.exists() {
        if !force {
            return Err(format!("{} exists; add --force to overwrite it", file.display()));
        }
        std::fs::remove_file(file).map_err(|e| format!("cannot remove {}: {e}", file.display()))?;
    }
    let source = data.db_path();
    if !source.exists() {
        return Err(format!("there is no database at {}", source.display()));
    }
    backup::vacuum_into(&source, file)?;
    Ok(source)
}

/// Replace the database with `file`, once it passed the checks; refused while a server holds
/// the data folder. The database replaced back.
pub fn restore(data: &DataArgs, file: &Path) -> Result<PathBuf, String> {
    let _lock = crate::lock_data_dir(data)?;
    backup::check(file)?;
    let target = data.db_path();
    // A WAL left beside the old database must not be replayed onto the restored one.
    for suffix in ["-wal", "-shm"] {
        let side = format!("{}{suffix}", target.display());
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {side}: {e}")),
        }
    }
    let staging = target.with_extension("db.restoring");
    std::fs::copy(file, &staging).map_err(|e| format!("cannot copy {}: {e}", file.display()))?;
    // `copy` gives the staging file the backup's mode; the database is private whatever that was.
    crate::private::set_mode(&staging, crate::private::FILE_MODE).map_err(|e| e.to_string())?;
    std::fs::File::open(&staging).and_then(|f| f.sync_all()).map_err(|e| e.to_string())?;
    std::fs::rename(&staging, &target).map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    Ok(target)
}

//! What the operator does from the shell on the data folder (SPEC §5): accounts and invites
//! (the same use cases as the REST API, over a storage engine of the command's own, which
//! SQLite's locking and `busy_timeout` let share the file with a running server), backups and
//! restores.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::error::Chain;
use crate::storage::data_dir::{self, DataDir};
use crate::storage::db::{Db, DbOptions, backup};
use crate::storage::media_folder;
use crate::usecase::accounts::Accounts;
use crate::usecase::accounts::Registration;
use crate::usecase::invites::Invites;
use crate::usecase::password::Passwords;

/// The data folder opened for one command.
pub struct Operator {
    db: Db,
}

impl Operator {
    pub fn open(data: &DataDir) -> Result<Operator, String> {
        let path = data.db.clone();
        let db = Db::open(&path, DbOptions { readers: 1, ..DbOptions::default() })
            .map_err(|e| format!("cannot open the database {}: {}", path.display(), Chain(&e)))?;
        Ok(Operator { db })
    }

    pub fn accounts(&self) -> Result<Accounts, String> {
        // The operator never signs anyone up: adding an account is their own decision, whatever
        // `--registration` the server runs with.
        Ok(Accounts::new(self.db.clone(), Arc::new(Passwords::new(1, usize::MAX)?), Registration::Closed, None))
    }

    pub fn bots(&self) -> crate::usecase::bots::Bots {
        crate::usecase::bots::Bots::new(self.db.clone())
    }

    pub fn invites(&self) -> Invites {
        Invites::new(self.db.clone())
    }

    /// Commit what is queued and close the database.
    pub fn close(self) {
        self.db.shutdown_blocking();
    }
}

/// How far a backup or restore is, for a progress line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Database pages copied of the total.
    Database { pages: u64, total: u64 },
    /// Media bytes copied (or found already there) of the total.
    Media { bytes: u64, total: u64 },
}

/// What a backup or restore did.
#[derive(Debug, Clone)]
pub struct Report {
    /// The database copied from (backup) or replaced (restore).
    pub database: PathBuf,
    /// With `--with-media`: the media folder copied into (backup) or from (restore), and what
    /// was copied.
    pub media: Option<(PathBuf, media_folder::FolderCopy)>,
}

/// Where `natter backup FILE --with-media` puts the media files: the folder `FILE-media` beside
/// the database copy.
pub fn media_backup_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_os_string();
    name.push("-media");
    PathBuf::from(name)
}

/// Copy the database into `file` (which must not exist, unless `force`) while a server may be
/// running, and with `with_media` the media files into [`media_backup_path`] (updated in place
/// with `force`: files already there are kept).
///
/// The database is copied first, then the media: every upload the copied database names was
/// placed in the media folder before its row was committed (see `usecase::media`), and files
/// are never removed from it, so each one is there when the folder is copied. An upload that
/// lands during the copy may add a file no message of the backup names; nothing is missing.
pub fn backup(
    data: &DataDir,
    file: &Path,
    force: bool,
    with_media: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, String> {
    let media_source = data.media.clone();
    let media_target = media_backup_path(file);
    if !force {
        if file.exists() {
            return Err(format!("{} exists; add --force to overwrite it", file.display()));
        }
        if with_media && media_target.exists() {
            return Err(format!("{} exists; add --force to update it", media_target.display()));
        }
    }
    let source = data.db.clone();
    if !source.exists() {
        return Err(format!("there is no database at {}", source.display()));
    }
    if with_media && !media_source.is_dir() {
        return Err(format!("there is no media folder at {}", media_source.display()));
    }
    if file.is_dir() {
        return Err(format!("{} is a folder", file.display()));
    }
    // Written beside `file` and renamed over it: an existing backup stays whole until then.
    backup::copy(&source, file, |pages, total| progress(Progress::Database { pages, total }))?;
    let media = if with_media {
        let copied = media_folder::copy_folder(&media_source, &media_target, |bytes, total| {
            progress(Progress::Media { bytes, total })
        })?;
        Some((media_target, copied))
    } else {
        None
    };
    Ok(Report { database: source, media })
}

/// Replace the database with `file`, once it passed the checks, and with `with_media` copy the
/// media files of [`media_backup_path`] into the media folder first (files already there with
/// the same size are kept; files the backup does not have are left alone). Refused while a
/// server holds the data folder.
pub fn restore(
    data: &DataDir,
    file: &Path,
    with_media: bool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Report, String> {
    let _lock = data_dir::lock(data)?;
    backup::check(file)?;
    let media_source = media_backup_path(file);
    if with_media && !media_source.is_dir() {
        return Err(format!("there is no media backup at {}", media_source.display()));
    }
    // The files before the database: a restore that fails half-way leaves the old database with
    // a few more files, never a database naming files that are not there.
    let media = if with_media {
        let media_target = data.media.clone();
        let copied = media_folder::copy_folder(&media_source, &media_target, |bytes, total| {
            progress(Progress::Media { bytes, total })
        })?;
        Some((media_source, copied))
    } else {
        None
    };
    let target = data.db.clone();
    if let Some(folder) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| format!("cannot create {}: {e}", folder.display()))?;
    }
    let staging = target.with_extension("db.restoring");
    std::fs::copy(file, &staging).map_err(|e| format!("cannot copy {}: {e}", file.display()))?;
    // `copy` gives the staging file the backup's mode; the database is private whatever that was.
    crate::storage::file_modes::set_mode(&staging, crate::storage::file_modes::FILE_MODE).map_err(|e| e.to_string())?;
    std::fs::File::open(&staging).and_then(|f| f.sync_all()).map_err(|e| e.to_string())?;
    // A WAL left beside the old database must not be replayed onto the restored one (removed
    // only once the copy is safely on disk: until then it belongs to the old database).
    for suffix in ["-wal", "-shm"] {
        let side = format!("{}{suffix}", target.display());
        match std::fs::remove_file(&side) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove {side}: {e}")),
        }
    }
    std::fs::rename(&staging, &target).map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    backup::sync_parent(&target)?;
    Ok(Report { database: target, media })
}

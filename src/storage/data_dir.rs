//! The data folder: where each file natter keeps lives (the database, the media folder, the JWT
//! secret), and the lock that keeps a second natter (or `natter restore`) off it.
//!
//! The flags that name these (`--data-dir`, `--db`, `--media-dir`) are the command line's;
//! `config::DataArgs` turns them into a [`DataDir`], which is all the rest of natter sees.

use std::fs::File;
use std::path::PathBuf;

use super::file_modes;

/// Where one natter's data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    /// The folder itself: the JWT secret and the lock file live here.
    pub dir: PathBuf,
    /// The SQLite database.
    pub db: PathBuf,
    /// The media folder.
    pub media: PathBuf,
}

impl DataDir {
    /// Everything in one folder, the default layout: `natter.db`, `media/`, `jwt-secret`.
    pub fn at(dir: impl Into<PathBuf>) -> DataDir {
        let dir = dir.into();
        DataDir { db: dir.join("natter.db"), media: dir.join("media"), dir }
    }

    /// The JWT secret, made on the first start (0600).
    pub fn secret(&self) -> PathBuf {
        self.dir.join("jwt-secret")
    }

    /// The file whose lock says that a natter process is using this folder.
    pub fn lock_file(&self) -> PathBuf {
        self.dir.join("natter.lock")
    }
}

/// Take the data folder for this process: a second server (or `natter restore`) on the same
/// folder is refused instead of corrupting it. The lock lasts as long as the file stays open.
pub fn lock(data: &DataDir) -> Result<File, String> {
    file_modes::create_dir(&data.dir).map_err(|e| format!("cannot create data folder {}: {e}", data.dir.display()))?;
    let path = data.lock_file();
    let mut options = File::options();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, file_modes::FILE_MODE);
    let file = options.open(&path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    file.try_lock().map_err(|_| format!("another natter process is using {}; stop it first", data.dir.display()))?;
    Ok(file)
}

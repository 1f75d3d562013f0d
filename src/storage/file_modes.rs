//! Private data stays private: every file natter creates that holds accounts, messages, media
//! or secrets is mode 0600 and every folder it creates for them 0700, whatever the umask.
//!
//! Why explicit modes: the process umask (often 022) would leave `natter.db` (argon2 hashes,
//! every message), its `-wal`/`-shm`, backups and the media folder readable by every local
//! account. SQLite creates a new database with 0644 minus the umask, but gives a `-wal`, `-shm`
//! or journal the mode of the database file itself (its unix VFS copies it with `fchmod`), so
//! the database file is created here first with 0600 and SQLite's side files follow it. Media
//! files are created 0600 and keep that through their rename into place.
//!
//! Existing installs are tightened at start ([`tighten`]): the data folder, the media folder,
//! the database and its side files, the JWT secret and every media file. Only the owner can
//! change a mode; when that fails (a file owned by someone else), natter logs a warning and
//! carries on, as the data is still there to serve.

use std::io;
use std::path::Path;

/// Mode of every private file.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every private folder.
pub const DIR_MODE: u32 = 0o700;

/// Create `path` (and missing parents) as a private folder, and make an existing one private
/// (an existing folder natter may not chmod, someone else's, keeps its mode with a warning).
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(path)?;
    tighten(path, DIR_MODE);
    Ok(())
}

/// Create the empty file `path` with mode 0600 if it does not exist (so that whatever later
/// fills it, SQLite included, keeps that mode); an existing file is left as it is.
pub fn create_file(path: &Path) -> io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    match options.open(path) {
        Ok(file) => {
            drop(file);
            // The umask may only have removed bits; set exactly 0600 anyway.
            set_mode(path, FILE_MODE)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Create the new file `path` (it must not exist) with mode 0600, open for writing.
pub fn create_new_file(path: &Path) -> io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, FILE_MODE);
    options.open(path)
}

/// Options for a new private file (`create_new`, mode 0600), for callers that write it.
pub fn new_file_options() -> tokio::fs::OpenOptions {
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    options
}

/// Set `path`'s permission bits to `mode` (no-op off unix).
pub fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
        if current != mode {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        }
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Make an existing file or folder private, if it exists; a failure is logged, not fatal.
pub fn tighten(path: &Path, mode: u32) {
    match set_mode(path, mode) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot make this private (chmod {mode:o})"),
    }
}

/// The database file, then its `-wal` and `-shm` if they exist: 0600.
pub fn tighten_database(db: &Path) {
    tighten(db, FILE_MODE);
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut side = db.as_os_str().to_os_string();
        side.push(suffix);
        tighten(Path::new(&side), FILE_MODE);
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn folders_and_files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700);
        std::fs::set_permissions(&nested, std::fs::Permissions::from_mode(0o755)).unwrap();
        create_dir(&nested).unwrap();
        assert_eq!(mode(&nested), 0o700, "an existing folder is tightened");
        let file = nested.join("f");
        create_file(&file).unwrap();
        assert_eq!(mode(&file), 0o600);
        std::fs::write(&file, b"x").unwrap();
        create_file(&file).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"x", "an existing file is kept");
    }
}

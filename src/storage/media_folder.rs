//! Media storage: type detection, the allow-list, and placing uploads in the media folder.
//!
//! Why this shape:
//! - The type of an upload is decided from its bytes only. The client's filename and
//!   Content-Type are never consulted: a page saved as `cat.png` and sent as `image/png` is still
//!   HTML, and serving it back from our origin would let it run script there. Binary formats are
//!   recognised by their magic numbers (the `infer` crate, tightened where its check is looser
//!   than the format: a GIF needs `GIF87a`/`GIF89a`, WebP needs `RIFF`, a PDF must start with
//!   `%PDF-`, Ogg needs its version byte 0, an ID3 tag needs a version byte of 2–4), so that
//!   ordinary text beginning with "GIF" or "ID3" stays text.
//! - Plain text is what the SPEC says: valid UTF-8, no NUL byte, and a first non-blank character
//!   other than `<` (HTML, XML and SVG all start that way, possibly after a BOM or blanks). It is
//!   checked over the whole file, chunk by chunk, by [`TextCheck`], never by loading the file.
//! - An upload is streamed into `.upload-<random>.tmp` inside the media folder, so the final
//!   rename is on the same filesystem and atomic; a crash mid-upload leaves only such a file,
//!   which [`sweep_temp_files`] removes at the next start. The file is renamed (and the folder
//!   fsynced) before its row is committed, so a recorded upload always has its file; a crash
//!   between the rename and the commit leaves a file nothing refers to, which
//!   [`sweep_unreferenced`] removes at the next start (the crash harness, `benches/crash.rs`,
//!   found such files before it existed). [`TempUpload`] deletes its file when
//!   dropped, so every early return, a client that disconnects and a request that times out all
//!   leave nothing behind.
//! - A JPEG, PNG or WebP loses its EXIF and XMP metadata before it is placed
//!   ([`TempUpload::remove_image_metadata`], [`crate::storage::image_metadata`]): the temporary file is
//!   rewritten into a second one renamed over it, so a crash still leaves only temporary files.
//! - The stored name is 128 random bits in hex plus the extension of the detected type; the
//!   client's filename survives only as cleaned metadata (`input::validate::clean_filename`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::storage::image_metadata;

/// One of the media types natter can accept (SPEC §3 Media; the names of `--allowed-media`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MediaKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Mp4,
    Webm,
    Mp3,
    Ogg,
    Text,
}

impl MediaKind {
    pub const ALL: [MediaKind; 10] = [
        MediaKind::Png,
        MediaKind::Jpeg,
        MediaKind::Gif,
        MediaKind::Webp,
        MediaKind::Pdf,
        MediaKind::Mp4,
        MediaKind::Webm,
        MediaKind::Mp3,
        MediaKind::Ogg,
        MediaKind::Text,
    ];

    /// The name used by `--allowed-media`.
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Png => "png",
            MediaKind::Jpeg => "jpeg",
            MediaKind::Gif => "gif",
            MediaKind::Webp => "webp",
            MediaKind::Pdf => "pdf",
            MediaKind::Mp4 => "mp4",
            MediaKind::Webm => "webm",
            MediaKind::Mp3 => "mp3",
            MediaKind::Ogg => "ogg",
            MediaKind::Text => "text",
        }
    }

    /// The `Content-Type` it is stored and served with.
    pub fn content_type(self) -> &'static str {
        match self {
            MediaKind::Png => "image/png",
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Gif => "image/gif",
            MediaKind::Webp => "image/webp",
            MediaKind::Pdf => "application/pdf",
            MediaKind::Mp4 => "video/mp4",
            MediaKind::Webm => "video/webm",
            MediaKind::Mp3 => "audio/mpeg",
            MediaKind::Ogg => "audio/ogg",
            MediaKind::Text => "text/plain; charset=utf-8",
        }
    }

    /// The extension of its stored name.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Png => "png",
            MediaKind::Jpeg => "jpg",
            MediaKind::Gif => "gif",
            MediaKind::Webp => "webp",
            MediaKind::Pdf => "pdf",
            MediaKind::Mp4 => "mp4",
            MediaKind::Webm => "webm",
            MediaKind::Mp3 => "mp3",
            MediaKind::Ogg => "ogg",
            MediaKind::Text => "txt",
        }
    }

    /// Browsers show images, audio and video in place; everything else is downloaded.
    pub fn is_inline(self) -> bool {
        matches!(
            self,
            MediaKind::Png
                | MediaKind::Jpeg
                | MediaKind::Gif
                | MediaKind::Webp
                | MediaKind::Mp4
                | MediaKind::Webm
                | MediaKind::Mp3
                | MediaKind::Ogg
        )
    }

    /// The image format whose metadata is removed before it is stored ([`image_metadata`]).
    pub fn image_format(self) -> Option<image_metadata::Format> {
        use image_metadata::Format;
        match self {
            MediaKind::Jpeg => Some(Format::Jpeg),
            MediaKind::Png => Some(Format::Png),
            MediaKind::Webp => Some(Format::Webp),
            _ => None,
        }
    }

    pub fn from_name(name: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub fn from_extension(extension: &str) -> Option<MediaKind> {
        MediaKind::ALL.into_iter().find(|k| k.extension() == extension)
    }
}

/// The parsed `--allowed-media` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedMedia(BTreeSet<MediaKind>);

impl AllowedMedia {
    /// Parse `png,jpeg,text` (case and blanks around names ignored). An unknown name is an error
    /// that names it and lists the known ones.
    pub fn parse(list: &str) -> Result<AllowedMedia, String> {
        let mut kinds = BTreeSet::new();
        for name in list.split(',').map(|n| n.trim().to_ascii_lowercase()).filter(|n| !n.is_empty()) {
            let kind = MediaKind::from_name(&name).ok_or_else(|| {
                let known: Vec<&str> = MediaKind::ALL.iter().map(|k| k.name()).collect();
                format!("`{name}` is not a media type natter knows; use some of {}", known.join(","))
            })?;
            kinds.insert(kind);
        }
        Ok(AllowedMedia(kinds))
    }

    pub fn allows(&self, kind: MediaKind) -> bool {
        self.0.contains(&kind)
    }

    /// `png, jpeg, text`, for error messages.
    pub fn describe(&self) -> String {
        if self.0.is_empty() {
            return "none".to_string();
        }
        self.0.iter().map(|k| k.name()).collect::<Vec<_>>().join(", ")
    }
}

/// How many leading bytes type detection looks at (WebM's doctype may sit anywhere in its first
/// 256 bytes; every other signature is within the first 16).
pub const HEAD_LEN: usize = 8192;

/// The binary media kind whose signature `head` starts with, if any. Plain text is not decided
/// here (it needs the whole file): see [`TextCheck`].
pub fn sniff_binary(head: &[u8]) -> Option<MediaKind> {
    if infer::image::is_png(head) && head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(MediaKind::Png)
    } else if infer::image::is_jpeg(head) {
        Some(MediaKind::Jpeg)
    } else if infer::image::is_gif(head) && (head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a")) {
        Some(MediaKind::Gif)
    } else if infer::image::is_webp(head) && head.starts_with(b"RIFF") {
        Some(MediaKind::Webp)
    } else if infer::archive::is_pdf(head) && head.starts_with(b"%PDF-") {
        Some(MediaKind::Pdf)
    } else if infer::video::is_mp4(head) {
        Some(MediaKind::Mp4)
    } else if infer::video::is_webm(head) {
        Some(MediaKind::Webm)
    } else if infer::audio::is_mp3(head) && (head[0] == 0xFF || (head.len() > 3 && (2..=4).contains(&head[3]))) {
        // MPEG frame sync (FF Fx) or an ID3v2 tag, whose version byte is 2, 3 or 4.
        Some(MediaKind::Mp3)
    } else if infer::audio::is_ogg(head) && head.len() > 4 && head[4] == 0 {
        // `OggS` and stream structure version 0; Vorbis, Opus and Theora alike are Ogg.
        Some(MediaKind::Ogg)
    } else {
        None
    }
}

/// What `infer` calls `head`, for an error message (`application/zip`, `text/html`, ...).
pub fn describe_type(head: &[u8]) -> Option<&'static str> {
    infer::get(head).map(|t| t.mime_type())
}

/// Why a file is not plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotText {
    /// Not valid UTF-8, or it contains a NUL byte: binary data.
    Binary,
    /// Its first non-blank character is `<`: HTML, XML, SVG or another markup.
    Markup,
}

/// Incremental plain-text check: feed every chunk in order, then [`TextCheck::finish`].
/// Keeps at most three bytes between chunks (an incomplete UTF-8 sequence).
#[derive(Debug, Default)]
pub struct TextCheck {
    pending: Vec<u8>,
    seen_non_blank: bool,
    failed: Option<NotText>,
}

impl TextCheck {
    /// The reason the bytes so far cannot be plain text, once known.
    pub fn failed(&self) -> Option<NotText> {
        self.failed
    }

    pub fn feed(&mut self, mut chunk: &[u8]) {
        if self.failed.is_some() {
            return;
        }
        if !self.pending.is_empty() {
            let Some(width) = utf8_width(self.pending[0]) else {
                self.failed = Some(NotText::Binary);
                return;
            };
            let take = (width - self.pending.len()).min(chunk.len());
            self.pending.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.pending.len() < width {
                return;
            }
            let pending = std::mem::take(&mut self.pending);
            match std::str::from_utf8(&pending) {
                Ok(text) => self.check(text),
                Err(_) => self.failed = Some(NotText::Binary),
            }
            if self.failed.is_some() {
                return;
            }
        }
        match std::str::from_utf8(chunk) {
            Ok(text) => self.check(text),
            Err(e) => {
                let (valid, rest) = chunk.split_at(e.valid_up_to());
                // `valid` is UTF-8 by construction; checked again rather than trusted unsafely.
                self.check(std::str::from_utf8(valid).unwrap_or("\0"));
                if e.error_len().is_some() {
                    self.failed = Some(NotText::Binary);
                } else if self.failed.is_none() {
                    // A sequence cut by the chunk boundary: finish it with the next chunk.
                    self.pending.extend_from_slice(rest);
                }
            }
        }
    }

    fn check(&mut self, text: &str) {
        if self.failed.is_some() {
            return;
        }
        if text.contains('\0') {
            self.failed = Some(NotText::Binary);
            return;
        }
        if !self.seen_non_blank {
            // U+FEFF (a byte order mark) counts as blank: `\u{FEFF}<svg ...` is still markup.
            if let Some(first) = text.chars().find(|c| !c.is_whitespace() && *c != '\u{FEFF}') {
                self.seen_non_blank = true;
                if first == '<' {
                    self.failed = Some(NotText::Markup);
                }
            }
        }
    }

    /// The verdict once every byte was fed.
    pub fn finish(&self) -> Result<(), NotText> {
        match self.failed {
            Some(reason) => Err(reason),
            None if !self.pending.is_empty() => Err(NotText::Binary),
            None => Ok(()),
        }
    }
}

/// Length of the UTF-8 sequence that `first` starts, if it can start one.
fn utf8_width(first: u8) -> Option<usize> {
    match first {
        0x00..=0x7F => Some(1),
        0xC2..=0xDF => Some(2),
        0xE0..=0xEF => Some(3),
        0xF0..=0xF4 => Some(4),
        _ => None,
    }
}

/// A fresh stored name: 128 random bits as 32 lower-case hex digits, `.`, the extension.
pub fn new_stored_name(kind: MediaKind) -> String {
    format!("{}.{}", super::random_hex(16), kind.extension())
}

/// The kind of a well-formed stored name (`<32 lower-case hex>.<known extension>`), else
/// `None`. Anything else (`..`, slashes, upper case, other extensions) is not ours, so the
/// server answers 404 without touching the filesystem.
pub fn parse_stored_name(name: &str) -> Option<MediaKind> {
    let (stem, extension) = name.split_once('.')?;
    let hex = stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    if hex { MediaKind::from_extension(extension) } else { None }
}

/// A media file's path as logs may show it: the folder and the first 8 characters of the name.
/// A stored name is its file's capability (anyone who knows it can fetch the file), so no log
/// line ever holds a whole one; 32 bits are enough to tell files apart when reading a log.
pub fn loggable(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let short: String = name.chars().take(8).collect();
    let folder = path.parent().map(|p| p.display().to_string()).unwrap_or_default();
    format!("{folder}/{short}…")
}

const TEMP_PREFIX: &str = ".upload-";
const TEMP_SUFFIX: &str = ".tmp";

fn is_temp_name(name: &str) -> bool {
    name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)
}

/// A fresh temporary file name in `media_dir`, removed at start if a crash leaves it behind.
pub fn temp_path(media_dir: &Path) -> PathBuf {
    media_dir.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", super::random_hex(16)))
}

/// Remove the stored files called `names` (after their rows are gone): a file already missing
/// is no error. Blocking.
pub fn remove_stored(media_dir: &Path, names: &[String]) {
    for name in names {
        if parse_stored_name(name).is_none() {
            continue;
        }
        match std::fs::remove_file(media_dir.join(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(file = %loggable(&media_dir.join(name)), error = %e, "cannot remove a media file"),
        }
    }
}

/// Remove temporary upload files left behind by a crash, and make every stored file private
/// (0600: media from before natter set modes was 0644). Called once at start, before the server
/// accepts requests, so no upload in progress can be hit.
pub fn sweep_temp_files(media_dir: &Path) {
    let entries = match std::fs::read_dir(media_dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(folder = %media_dir.display(), error = %e, "cannot list the media folder");
            return;
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        if name.to_str().is_some_and(is_temp_name) {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(file = %entry.path().display(), error = %e, "cannot remove a partial upload"),
            }
        } else if entry.file_type().is_ok_and(|t| t.is_file())
            && let Err(e) = crate::storage::file_modes::set_mode(&entry.path(), crate::storage::file_modes::FILE_MODE)
        {
            tracing::warn!(file = %loggable(&entry.path()), error = %e, "cannot make a media file private (0600)");
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed partial uploads left by an earlier run");
    }
}

/// Remove the stored files that no attachment row refers to (`referenced` answers for one
/// stored name): an upload is renamed to its final name, fsynced, and only then recorded, so a
/// crash between the two leaves a file that was never acknowledged and that nothing can reach.
/// Called once at start, after the database is open and before the server accepts requests, so
/// no upload in progress can be hit. Files whose names are not ours are left alone. Returns how
/// many were removed.
pub fn sweep_unreferenced<E: std::fmt::Display>(
    media_dir: &Path,
    mut referenced: impl FnMut(&str) -> Result<bool, E>,
) -> usize {
    let entries = match std::fs::read_dir(media_dir) {
        Ok(entries) => entries,
        Err(e) => {
            tracing::warn!(folder = %media_dir.display(), error = %e, "cannot list the media folder");
            return 0;
        }
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str().filter(|n| parse_stored_name(n).is_some()) else { continue };
        match referenced(name) {
            Ok(true) => {}
            Ok(false) => match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, "cannot remove an unrecorded upload"),
            },
            Err(e) => {
                // Without the database's answer nothing is removed: a file might be referenced.
                tracing::warn!(error = %e, "cannot check the media folder against the database");
                return removed;
            }
        }
    }
    if removed > 0 {
        tracing::info!(removed, "removed uploads that were stored but never recorded (interrupted by a crash)");
    }
    removed
}

/// A file being written into the media folder. Deleted when dropped unless [`TempUpload::keep`]
/// was called: an error, a disconnect or a timeout all leave nothing behind.
pub struct TempUpload {
    path: PathBuf,
    file: Option<tokio::fs::File>,
    keep: bool,
}

impl TempUpload {
    /// Create `.upload-<random>.tmp` in `media_dir` (never an existing file).
    pub async fn create(media_dir: &Path) -> std::io::Result<TempUpload> {
        let path = media_dir.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", super::random_hex(16)));
        // 0600, kept through the rename into place.
        let file = crate::storage::file_modes::new_file_options().open(&path).await?;
        Ok(TempUpload { path, file: Some(file), keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        match self.file.as_mut() {
            Some(file) => file.write_all(bytes).await,
            None => Err(std::io::Error::other("the upload was already placed")),
        }
    }

    /// Remove the metadata of the complete upload, an image of `format` ([`image_metadata`]),
    /// returning the file's size afterwards. The walk reads the file through a buffer, twice,
    /// off the async threads; when there is something to remove, the result is written to a
    /// second temporary file that is renamed over this one, so the guard still owns exactly one
    /// file (and a failure leaves neither behind). Memory stays bounded whatever the size.
    pub async fn remove_image_metadata(&mut self, format: image_metadata::Format) -> std::io::Result<u64> {
        use tokio::io::AsyncWriteExt;
        let mut file = self.file.take().ok_or_else(|| std::io::Error::other("the upload was already placed"))?;
        // tokio buffers writes: all of them must be in the file before it is read back.
        file.flush().await?;
        let file = file.into_std().await;
        let path = self.path.clone();
        let (file, size) = tokio::task::spawn_blocking(move || strip_file(file, &path, format))
            .await
            .map_err(std::io::Error::other)??;
        self.file = Some(tokio::fs::File::from_std(file));
        Ok(size)
    }

    /// Flush and fsync the data, rename the file to `media_dir/stored_name` (atomic: same folder),
    /// and fsync the folder so the rename survives a power loss. The guard now owns the final
    /// file: it is still removed if dropped before [`TempUpload::keep`].
    pub async fn place(&mut self, stored_name: &str) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt;
        let mut file = self.file.take().ok_or_else(|| std::io::Error::other("the upload was already placed"))?;
        file.flush().await?;
        file.sync_all().await?;
        drop(file);
        let folder = self.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let target = folder.join(stored_name);
        tokio::fs::rename(&self.path, &target).await?;
        self.path = target;
        #[cfg(unix)]
        tokio::task::spawn_blocking(move || std::fs::File::open(&folder)?.sync_all())
            .await
            .map_err(std::io::Error::other)??;
        Ok(())
    }

    /// The file is recorded in the database: keep it.
    pub fn keep(mut self) {
        self.keep = true;
    }
}

/// [`TempUpload::remove_image_metadata`]'s blocking part: `file` is the open upload at `path`;
/// returns the handle to the file now at `path` (to be synced when it is placed) and its size.
fn strip_file(
    file: std::fs::File,
    path: &Path,
    format: image_metadata::Format,
) -> std::io::Result<(std::fs::File, u64)> {
    use std::io::{BufReader, BufWriter, Write};
    const BUFFER: usize = 64 * 1024;
    let open = || std::fs::File::open(path).map(|f| BufReader::with_capacity(BUFFER, f));
    let plan = image_metadata::plan(format, open()?)?;
    if !plan.changed() {
        return Ok((file, plan.size()));
    }
    drop(file);
    let folder = path.parent().unwrap_or(Path::new("."));
    let stripped_path = folder.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", super::random_hex(16)));
    let written = (|| -> std::io::Result<std::fs::File> {
        let mut out = BufWriter::with_capacity(BUFFER, crate::storage::file_modes::create_new_file(&stripped_path)?);
        image_metadata::write(format, &plan, open()?, &mut out)?;
        out.flush()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        std::fs::rename(&stripped_path, path)?;
        Ok(file)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&stripped_path);
    }
    Ok((written?, plan.size()))
}

impl Drop for TempUpload {
    fn drop(&mut self) {
        if !self.keep {
            // Close before removing (on Windows an open file cannot be removed).
            drop(self.file.take());
            if let Err(e) = std::fs::remove_file(&self.path)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                tracing::warn!(file = %loggable(&self.path), error = %e, "cannot remove a rejected upload");
            }
        }
    }
}

/// What [`copy_folder`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FolderCopy {
    /// Files copied.
    pub copied: u64,
    /// Files already in the target with the same size, left as they were.
    pub kept: u64,
    /// Bytes of the media files in the source (copied or kept).
    pub bytes: u64,
}

/// Copy the media files of the folder `from` into the folder `to` (made 0700 when missing) while
/// a server may be writing to `from`, reporting `progress(bytes_done, bytes_total)` after each
/// file.
///
/// Only stored names are copied ([`parse_stored_name`]: what `/media` serves), never a
/// temporary upload in progress. A stored file is written once and never changes, so a file
/// already in `to` with the same size is kept (a second backup into the same folder copies only
/// what is new), and a file that disappeared since the listing (an upload refused after it was
/// placed) is skipped. Each copy is written under a temporary name, fsynced and renamed, so an
/// interrupted copy leaves no truncated file under a stored name; files are 0600.
pub fn copy_folder(from: &Path, to: &Path, mut progress: impl FnMut(u64, u64)) -> Result<FolderCopy, String> {
    let entries = std::fs::read_dir(from).map_err(|e| format!("cannot list {}: {e}", from.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| format!("cannot list {}: {e}", from.display()))?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if parse_stored_name(&name).is_none() {
            continue;
        }
        match entry.metadata() {
            Ok(meta) if meta.is_file() => files.push((name, meta.len())),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", entry.path().display())),
        }
    }
    files.sort();
    let total: u64 = files.iter().map(|(_, size)| size).sum();

    crate::storage::file_modes::create_dir(to).map_err(|e| format!("cannot create {}: {e}", to.display()))?;

    let mut done = FolderCopy::default();
    progress(0, total);
    for (name, size) in files {
        let target = to.join(&name);
        if std::fs::metadata(&target).is_ok_and(|m| m.is_file() && m.len() == size) {
            done.kept += 1;
        } else if copy_file(&from.join(&name), &target)? {
            done.copied += 1;
        } else {
            continue;
        }
        done.bytes += size;
        progress(done.bytes, total);
    }
    std::fs::File::open(to).and_then(|f| f.sync_all()).map_err(|e| format!("cannot sync {}: {e}", to.display()))?;
    Ok(done)
}

/// Copy one file through a temporary name in the target folder; false when the source is gone.
fn copy_file(source: &Path, target: &Path) -> Result<bool, String> {
    let folder = target.parent().unwrap_or(Path::new("."));
    // A temporary upload's name: a server starting on the folder removes what a crash left.
    let temp = folder.join(format!("{TEMP_PREFIX}{}{TEMP_SUFFIX}", super::random_hex(16)));
    let result = (|| -> std::io::Result<()> {
        let mut input = std::fs::File::open(source)?;
        let mut output = crate::storage::file_modes::create_new_file(&temp)?;
        std::io::copy(&mut input, &mut output)?;
        output.sync_all()?;
        std::fs::rename(&temp, target)
    })();
    match result {
        Ok(()) => Ok(true),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            if e.kind() == std::io::ErrorKind::NotFound && !source.exists() {
                Ok(false)
            } else {
                Err(format!("cannot copy {} to {}: {e}", source.display(), target.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_verdict(chunks: &[&[u8]]) -> Result<(), NotText> {
        let mut check = TextCheck::default();
        for chunk in chunks {
            check.feed(chunk);
        }
        check.finish()
    }

    #[test]
    fn allowed_media_parses_and_refuses_unknown_names() {
        let all = AllowedMedia::parse("png,jpeg,gif,webp,pdf,mp4,webm,mp3,ogg,text").unwrap();
        assert!(MediaKind::ALL.iter().all(|k| all.allows(*k)));
        let some = AllowedMedia::parse(" PNG , text,").unwrap();
        assert!(some.allows(MediaKind::Png) && some.allows(MediaKind::Text) && !some.allows(MediaKind::Pdf));
        let err = AllowedMedia::parse("png,exe").unwrap_err();
        assert!(err.contains("`exe`"), "{err}");
        assert!(AllowedMedia::parse("svg").is_err());
    }

    #[test]
    fn text_is_utf8_without_nul_and_not_markup() {
        assert_eq!(text_verdict(&[b"hello\n"]), Ok(()));
        assert_eq!(text_verdict(&[b"  \n\t"]), Ok(()));
        assert_eq!(text_verdict(&[b"a < b"]), Ok(()));
        assert_eq!(text_verdict(&[b"  \n <html>"]), Err(NotText::Markup));
        assert_eq!(text_verdict(&[b"  ", b"\n", b"<svg/>"]), Err(NotText::Markup));
        assert_eq!(text_verdict(&["\u{FEFF}<?xml".as_bytes()]), Err(NotText::Markup));
        assert_eq!(text_verdict(&[b"ab\0c"]), Err(NotText::Binary));
        assert_eq!(text_verdict(&[b"ab\xffc"]), Err(NotText::Binary));
        // A sequence split over chunks is fine; one left incomplete at the end is not.
        let euro = "€".as_bytes();
        assert_eq!(text_verdict(&[b"x", &euro[..1], &euro[1..2], &euro[2..], b"y"]), Ok(()));
        assert_eq!(text_verdict(&[b"x", &euro[..2]]), Err(NotText::Binary));
        assert_eq!(text_verdict(&[&euro[..1], b"a"]), Err(NotText::Binary));
    }

    #[test]
    fn binary_signatures_are_tightened() {
        assert_eq!(sniff_binary(b"GIF89a\x01\x00"), Some(MediaKind::Gif));
        assert_eq!(sniff_binary(b"GIFs are fun"), None);
        assert_eq!(sniff_binary(b"ID3 notes, part 2"), None);
        assert_eq!(sniff_binary(b"ID3\x04\x00\x00\x00\x00\x00\x00"), Some(MediaKind::Mp3));
        assert_eq!(sniff_binary(b"12345678WEBPVP8 "), None);
        assert_eq!(sniff_binary(b"see the %PDF-1.4 header"), None);
        assert_eq!(sniff_binary(b"%PDF-1.4\n"), Some(MediaKind::Pdf));
        assert_eq!(sniff_binary(b"OggS\x00\x02\x00\x00"), Some(MediaKind::Ogg));
    }

    #[test]
    fn stored_names() {
        let name = new_stored_name(MediaKind::Jpeg);
        assert_eq!(name.len(), 36);
        assert_eq!(parse_stored_name(&name), Some(MediaKind::Jpeg));
        assert_eq!(parse_stored_name("0123456789abcdef0123456789abcdef.txt"), Some(MediaKind::Text));
        assert_eq!(parse_stored_name("0123456789ABCDEF0123456789abcdef.txt"), None);
        assert_eq!(parse_stored_name("0123456789abcdef0123456789abcdef.exe"), None);
        assert_eq!(parse_stored_name("0123456789abcdef0123456789abcdef.txt.png"), None);
        assert_eq!(parse_stored_name("../../natter.db"), None);
        assert_eq!(parse_stored_name("natter.db"), None);
    }
}

//! Media: uploads (type from the bytes, size and quota limits, placing the file and recording
//! it) and finding a stored file to serve. The bytes live in the media folder
//! ([`crate::storage::media_folder`]: detection, temporary files, names); their metadata in the database.
//!
//! An upload is a session, because its bytes arrive in chunks: [`Media::begin`] checks the
//! uploader's quota before anything is read, [`Media::start`] opens the temporary file,
//! [`Upload::push`] takes each chunk (counting it against the limit, deciding the type as soon as
//! the first 8 KiB are in, stopping at the first byte that is refused), [`Media::finish`] places
//! and records the file, a JPEG, PNG or WebP without its EXIF and XMP metadata unless
//! `--keep-image-metadata` says otherwise (the stripped size is the one stored and counted). The quota is one rule (`fits`) applied three times: before streaming,
//! at every chunk, and again inside the database write, where writes are serialised, so two
//! concurrent uploads cannot both slip under it.
//!
//! Uploads in progress are bounded per user, in number and in pace, because each one holds a
//! connection and a temporary file (two file descriptors) for as long as its body takes: one
//! account that held 9,990 uploads open, each sending a byte every 20 seconds (under
//! `--upload-idle-timeout`), took 19,998 of the process's 20,000 descriptors and every accept
//! and file open failed with "Too many open files". Now [`Media::begin`] refuses an upload past
//! `--max-uploads-per-user` (429 before its body is read), and [`Pace`] cuts one that falls
//! behind `--upload-min-rate` (408, like a stalled one): one account holds at most that many
//! pairs of descriptors, each for a bounded time.
//!
//! Bytes still arriving count too: every chunk is reserved against the uploader's quota
//! ([`InFlight`]) before it is written to the temporary file, and the reservation is released
//! when the upload is recorded or given up. Without that, eight uploads that each send 1 MB and
//! then stall would hold 8 MB of disk beyond any quota; now the chunk that would pass
//! the quota gets the 413 at once, however many uploads share it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use crate::error::{ApiError, ApiResult};
use crate::model::Attachment;
use crate::runtime::metrics::Metrics;
use crate::storage::db::Db;
use crate::storage::db::attachments::{self, AttachmentRecord, Named};
use crate::storage::media_folder::{self, AllowedMedia, HEAD_LEN, MediaKind, NotText, TempUpload, TextCheck};
use crate::usecase::limits::RateLimiter;
use crate::usecase::limits::{ByteRate, Rate};
use crate::usecase::pictures::Pictures;

/// What is accepted and where it goes (`--media-dir`, `--max-upload`, `--media-quota`,
/// `--allowed-media`, `--keep-image-metadata`), and how uploads may arrive
/// (`--max-uploads-per-user`, `--upload-idle-timeout`, `--upload-min-rate`).
#[derive(Debug, Clone)]
pub struct MediaRules {
    pub dir: PathBuf,
    pub max_upload: u64,
    pub quota: u64,
    pub allowed: AllowedMedia,
    /// Store JPEG, PNG and WebP files with their EXIF and XMP metadata (else it is removed).
    pub keep_image_metadata: bool,
    /// Uploads one user may start (`--upload-rate`). The quota bounds their bytes, not their
    /// number: without it, tiny files would cost a file, a row and a commit each, without end.
    pub upload_rate: Rate,
    /// Uploads one user may be sending at once; 0 = no cap.
    pub max_uploads_per_user: u32,
    /// The longest an upload's body may send nothing.
    pub idle_timeout: Duration,
    /// The slowest an upload may arrive on average (it may fall `idle_timeout` behind).
    pub min_rate: ByteRate,
}

#[derive(Clone)]
pub struct Media {
    db: Db,
    rules: Arc<MediaRules>,
    /// `--upload-rate`, shared by every clone.
    uploads: Arc<RateLimiter>,
    in_flight: InFlight,
    uploading: Uploading,
    /// Bytes stored (`--metrics`).
    metrics: Metrics,
    /// Sizes and thumbnails of the pictures stored.
    pictures: Pictures,
}

/// What one upload may still take, known before its bytes are read.
pub struct Allowance {
    uploader: i64,
    /// Bytes of the uploader's earlier uploads.
    used: u64,
    /// Its place among the uploader's uploads in progress, held until it is stored or given up.
    slot: UploadSlot,
}

/// Uploads in progress, per uploader (`--max-uploads-per-user`).
#[derive(Clone, Default)]
struct Uploading(Arc<Mutex<HashMap<i64, u32>>>);

impl Uploading {
    /// One more upload for `uploader`, unless `cap` (0 = none) are in progress already.
    fn enter(&self, uploader: i64, cap: u32) -> ApiResult<UploadSlot> {
        let mut map = crate::runtime::mutexes::lock(&self.0);
        let count = map.entry(uploader).or_insert(0);
        if cap != 0 && *count >= cap {
            tracing::debug!(user = uploader, cap, "upload refused: too many in progress");
            // An upload in progress may take minutes; a second is as good a guess as any, and a
            // refusal costs one short request.
            return Err(ApiError::RateLimited { retry_after: 1 });
        }
        *count += 1;
        Ok(UploadSlot { uploading: self.clone(), uploader })
    }

    fn leave(&self, uploader: i64) {
        let mut map = crate::runtime::mutexes::lock(&self.0);
        if let Some(count) = map.get_mut(&uploader) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&uploader);
            }
        }
    }

    fn count(&self, uploader: i64) -> u32 {
        crate::runtime::mutexes::lock(&self.0).get(&uploader).copied().unwrap_or(0)
    }
}

/// One upload in progress; given back when dropped (stored, refused, cut off, or the client
/// went away).
struct UploadSlot {
    uploading: Uploading,
    uploader: i64,
}

impl Drop for UploadSlot {
    fn drop(&mut self) {
        self.uploading.leave(self.uploader);
    }
}

/// When an upload's next bytes must have arrived: within `--upload-idle-timeout` of the last
/// ones, and no later than the minimum rate (`--upload-min-rate`) allows.
///
/// The rate is kept as a deadline that every byte moves on by the time it buys at that rate
/// (1 KiB buys a second at 1 KiB/s), never more than the idle timeout ahead of now: an upload
/// may run ahead of the rate and then pause, or fall behind it, by at most that much. An average
/// over the whole upload would let a client bank a fast start and then trickle for hours; a
/// deadline with bounded credit cannot be banked. Starting with the idle timeout's worth of
/// credit, a client sending a byte every 20 s (0.05 B/s) is cut off at the idle timeout's end,
/// and one at or above the rate never is.
pub struct Pace {
    idle: Duration,
    min_rate: ByteRate,
    /// When the last bytes (or the part's headers) arrived.
    last: Instant,
    /// When the minimum rate runs out, given the bytes so far.
    due: Instant,
}

impl Pace {
    fn new(idle: Duration, min_rate: ByteRate, now: Instant) -> Pace {
        Pace { idle, min_rate, last: now, due: now + idle }
    }

    /// When the next bytes must have arrived by.
    pub fn deadline(&self) -> Instant {
        let idle = self.last + self.idle;
        if self.min_rate.is_unlimited() { idle } else { idle.min(self.due) }
    }

    /// `bytes` arrived at `now` (0 for a part's headers: the idle timer starts again, the rate
    /// earns nothing).
    pub fn received(&mut self, bytes: u64, now: Instant) {
        self.last = now;
        if self.min_rate.is_unlimited() || bytes == 0 {
            return;
        }
        let nanos = self.min_rate.per.as_nanos().saturating_mul(u128::from(bytes)) / u128::from(self.min_rate.bytes);
        let bought = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.due = self.due.checked_add(bought).unwrap_or(now + self.idle).min(now + self.idle);
    }

    /// The 408 for an upload whose [`Pace::deadline`] passed: stalled, or too slow.
    pub fn expired(&self) -> ApiError {
        let idle = self.last + self.idle;
        if self.min_rate.is_unlimited() || idle <= self.due {
            ApiError::RequestTimeout(format!(
                "The upload sent nothing for {} seconds; it was abandoned.",
                self.idle.as_secs_f64()
            ))
        } else {
            ApiError::RequestTimeout(format!(
                "The upload arrived slower than the minimum of {} bytes per {} seconds; it was abandoned.",
                self.min_rate.bytes,
                self.min_rate.per.as_secs_f64()
            ))
        }
    }
}

/// Bytes of uploads being received, per uploader: they count against the quota as much as the
/// stored ones. Held briefly (a map update per chunk), never across an await.
#[derive(Clone, Default)]
pub struct InFlight(Arc<Mutex<HashMap<i64, u64>>>);

impl InFlight {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, u64>> {
        // A poisoned map still holds correct counts: every update is one arithmetic step.
        self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes of `uploader`'s uploads in progress.
    pub fn bytes(&self, uploader: i64) -> u64 {
        self.lock().get(&uploader).copied().unwrap_or(0)
    }

    /// Reserve `adding` bytes for `uploader` if `stored` + what is in flight + `adding` fits in
    /// `quota`; else the quota error, nothing reserved.
    fn reserve(&self, uploader: i64, stored: u64, adding: u64, quota: u64) -> ApiResult<()> {
        let mut map = self.lock();
        let in_flight = map.get(&uploader).copied().unwrap_or(0);
        fits(stored.saturating_add(in_flight), adding, quota)?;
        *map.entry(uploader).or_insert(0) += adding;
        Ok(())
    }

    fn release(&self, uploader: i64, bytes: u64) {
        let mut map = self.lock();
        if let Some(held) = map.get_mut(&uploader) {
            *held = held.saturating_sub(bytes);
            if *held == 0 {
                map.remove(&uploader);
            }
        }
    }
}

/// What one upload holds in [`InFlight`]; given back when dropped (recorded, refused, timed out,
/// or the client went away).
struct Reservation {
    in_flight: InFlight,
    uploader: i64,
    bytes: u64,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.in_flight.release(self.uploader, self.bytes);
    }
}

/// An upload being received.
pub struct Upload {
    rules: Arc<MediaRules>,
    uploader: i64,
    /// Held until the upload is stored or given up (`store` keeps it to the end).
    _slot: UploadSlot,
    /// Bytes of the uploader's stored files when the upload began.
    used: u64,
    reservation: Reservation,
    filename: String,
    temp: TempUpload,
    size: u64,
    head: Vec<u8>,
    text: TextCheck,
    verdict: Option<Verdict>,
}

/// What the first bytes say: an allowed binary format, or possibly plain text (the rest of the
/// file decides).
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Binary(MediaKind),
    MaybeText,
}

/// A stored file, opened for serving.
pub struct StoredFile {
    pub file: tokio::fs::File,
    pub size: u64,
    pub stored_name: String,
    pub content_type: String,
    pub filename: String,
    /// Shown in place (images, audio, video) rather than downloaded.
    pub inline: bool,
}

impl Media {
    pub fn new(db: Db, rules: MediaRules, metrics: Metrics, pictures: Pictures) -> Media {
        let uploads = Arc::new(RateLimiter::new(rules.upload_rate));
        Media {
            db,
            rules: Arc::new(rules),
            uploads,
            in_flight: InFlight::default(),
            uploading: Uploading::default(),
            metrics,
            pictures,
        }
    }

    /// The pace an upload starting `now` must keep (`--upload-idle-timeout`, `--upload-min-rate`).
    pub fn pace(&self, now: Instant) -> Pace {
        Pace::new(self.rules.idle_timeout, self.rules.min_rate, now)
    }

    /// Uploads of `uploader` in progress (`--max-uploads-per-user`).
    pub fn uploads_in_progress(&self, uploader: i64) -> u32 {
        self.uploading.count(uploader)
    }

    /// `--max-upload`.
    pub fn max_upload(&self) -> u64 {
        self.rules.max_upload
    }

    /// The 413 for a file over `--max-upload` (also when the request body as a whole is).
    pub fn file_too_large(&self) -> ApiError {
        file_too_large(self.rules.max_upload)
    }

    /// Bytes of `uploader`'s uploads in progress (counted against the quota).
    pub fn bytes_in_flight(&self, uploader: i64) -> u64 {
        self.in_flight.bytes(uploader)
    }

    /// Before any byte is read: the upload counts against `--upload-rate`, the uploader may not
    /// have `--max-uploads-per-user` uploads in progress already (429), and their quota, less
    /// their uploads in progress, must have room for one more.
    pub async fn begin(&self, uploader: i64) -> ApiResult<Allowance> {
        self.uploads.admit_user(uploader)?;
        let slot = self.uploading.enter(uploader, self.rules.max_uploads_per_user)?;
        let used = self.db.read(move |conn| bytes_used(conn, uploader)).await?;
        fits(used.saturating_add(self.in_flight.bytes(uploader)), 1, self.rules.quota)?;
        Ok(Allowance { uploader, used, slot })
    }

    /// Open the temporary file for an upload named `filename` by the client (kept only as
    /// sanitized metadata).
    pub async fn start(&self, allowance: Allowance, filename: &str) -> ApiResult<Upload> {
        let temp = TempUpload::create(&self.rules.dir).await.map_err(ApiError::from_io)?;
        Ok(Upload {
            rules: self.rules.clone(),
            uploader: allowance.uploader,
            _slot: allowance.slot,
            used: allowance.used,
            reservation: Reservation { in_flight: self.in_flight.clone(), uploader: allowance.uploader, bytes: 0 },
            filename: crate::input::validate::clean_filename(filename),
            temp,
            size: 0,
            head: Vec::with_capacity(HEAD_LEN),
            text: TextCheck::default(),
            verdict: None,
        })
    }

    /// Decide the type, place the file under its random name and record it. Runs to completion
    /// in its own task even if the client goes away meanwhile, so the database and the folder
    /// cannot disagree about this file; if anything fails the file is removed.
    pub async fn finish(&self, upload: Upload) -> ApiResult<Attachment> {
        let kind = upload.kind()?;
        let db = self.db.clone();
        let record =
            tokio::spawn(store(db, self.pictures.clone(), upload, kind)).await.map_err(ApiError::internal)??;
        // The stored name is the file's capability: it is never logged.
        tracing::info!(
            user = record.uploader_id,
            attachment = record.id,
            kind = kind.name(),
            size = record.size,
            "upload stored"
        );
        self.metrics.upload_stored(u64::try_from(record.size).unwrap_or(0));
        Ok(record.to_attachment())
    }

    /// The stored file called `name`; 404 for a name that is not one of ours, has no record, or
    /// whose file has gone from the folder.
    ///
    /// A thumbnail is served once it is made, an avatar while a user has it; both under their
    /// own stored names, with the original's filename (the thumbnail's extension) and the media
    /// headers.
    pub async fn open(&self, name: String) -> ApiResult<StoredFile> {
        let not_found = || ApiError::not_found("File");
        let kind = media_folder::parse_stored_name(&name).ok_or_else(not_found)?;
        let lookup = name.clone();
        let found = self.db.read(move |conn| attachments::named(conn, &lookup)).await?.ok_or_else(not_found)?;
        let record = match found {
            Named::Upload(record) => record,
            Named::Thumbnail(record) => AttachmentRecord {
                stored_name: name,
                content_type: kind.content_type().to_string(),
                filename: copy_filename(&record.filename, kind),
                ..record
            },
            Named::Avatar => AttachmentRecord {
                id: 0,
                uploader_id: 0,
                stored_name: name,
                content_type: kind.content_type().to_string(),
                size: 0,
                filename: format!("avatar.{}", kind.extension()),
                picture: None,
            },
        };
        let path = self.rules.dir.join(&record.stored_name);
        // Logged by attachment id: the stored name is the file's capability.
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(attachment = record.id, "an attachment's file is missing from the media folder");
                return Err(not_found());
            }
            Err(e) => return Err(ApiError::internal(format!("cannot open the file of attachment {}: {e}", record.id))),
        };
        let size = file.metadata().await.map_err(ApiError::internal)?.len();
        Ok(StoredFile {
            file,
            size,
            stored_name: record.stored_name,
            content_type: record.content_type,
            filename: record.filename,
            inline: kind.is_inline(),
        })
    }
}

impl Upload {
    /// The next chunk of the file. Stops at the first byte past `--max-upload` or the quota
    /// (with every upload of the same user in progress counted) and as soon as the type is known
    /// to be refused; the temporary file and the reservation go with the `Upload` when dropped.
    pub async fn push(&mut self, chunk: &[u8]) -> ApiResult<()> {
        let adding = chunk.len() as u64;
        self.size += adding;
        if self.size > self.rules.max_upload {
            return Err(file_too_large(self.rules.max_upload));
        }
        let reservation = &mut self.reservation;
        reservation.in_flight.reserve(self.uploader, self.used, adding, self.rules.quota)?;
        reservation.bytes += adding;
        if self.verdict.is_none() {
            let take = (HEAD_LEN - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if !matches!(self.verdict, Some(Verdict::Binary(_))) {
            self.text.feed(chunk);
        }
        if self.verdict.is_none() && self.head.len() >= HEAD_LEN {
            self.verdict = Some(decide(&self.head, &self.rules.allowed, &self.text)?);
        }
        if self.verdict == Some(Verdict::MaybeText)
            && let Some(reason) = self.text.failed()
        {
            return Err(not_text(reason, &self.head, &self.rules.allowed));
        }
        self.temp.write(chunk).await.map_err(ApiError::from_io)
    }

    /// The type, once every byte is in.
    fn kind(&self) -> ApiResult<MediaKind> {
        if self.size == 0 {
            return Err(ApiError::invalid("file", "is empty"));
        }
        let verdict = match self.verdict {
            Some(verdict) => verdict,
            None => decide(&self.head, &self.rules.allowed, &self.text)?,
        };
        match verdict {
            Verdict::Binary(kind) => Ok(kind),
            Verdict::MaybeText => match self.text.finish() {
                Ok(()) => Ok(MediaKind::Text),
                Err(reason) => Err(not_text(reason, &self.head, &self.rules.allowed)),
            },
        }
    }
}

/// Place the received file under its final name and record it, the quota checked again in the
/// same transaction; if anything fails, the file is removed (by the temporary file's drop).
async fn store(db: Db, pictures: Pictures, upload: Upload, kind: MediaKind) -> ApiResult<AttachmentRecord> {
    // The reservation is held until the row is committed (counted twice for that moment, never
    // not at all), then dropped with the rest.
    let Upload { mut temp, uploader, size, filename, rules, reservation, .. } = upload;
    // A photo's location, time and camera are not for every member of the room (SPEC §3
    // Media). The stripped file is what is stored, counted and described: never larger.
    let size = match kind.image_format() {
        Some(format) if !rules.keep_image_metadata => {
            let stripped = temp.remove_image_metadata(format).await.map_err(ApiError::from_io)?;
            if stripped != size {
                tracing::debug!(
                    user = uploader,
                    kind = kind.name(),
                    sent = size,
                    stored = stripped,
                    "image metadata removed"
                );
            }
            stripped
        }
        _ => size,
    };
    let stored_name = media_folder::new_stored_name(kind);
    temp.place(&stored_name).await.map_err(ApiError::from_io)?;
    // The header only: the answer names the thumbnail, which is made right after.
    let picture = pictures.plan(&stored_name, kind).await;
    let record = db
        .write(move |conn| {
            fits(bytes_used(conn, uploader)?, size, rules.quota)?;
            let size = i64::try_from(size).map_err(ApiError::internal)?;
            Ok::<_, ApiError>(attachments::insert(
                conn,
                uploader,
                &stored_name,
                kind.content_type(),
                size,
                &filename,
                picture,
            )?)
        })
        .await?;
    temp.keep();
    drop(reservation);
    if let Some(picture) = &record.picture {
        pictures.make_thumbnail_soon(record.id, record.stored_name.clone(), picture.thumbnail_name.clone());
    }
    Ok(record)
}

/// The filename a copy of `original` is served with: its stem and the copy's extension.
fn copy_filename(original: &str, kind: MediaKind) -> String {
    let stem = original.rsplit_once('.').map_or(original, |(stem, _)| stem);
    format!("{stem}.{}", kind.extension())
}

impl Media {
    /// Every `interval`, remove the uploads older than `age` that no message uses (SPEC §3
    /// Media: "an upload never attached to a message is removed after 24 hours"), their
    /// thumbnails with them. The rows go in one write, the files after its commit.
    pub async fn sweep_unattached(self, age: Duration, interval: Duration) {
        if interval.is_zero() {
            return;
        }
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let Ok(age) = time::Duration::try_from(age) else { return };
            let before = crate::storage::db::format_time(time::OffsetDateTime::now_utc() - age);
            // Bounded per write, so one sweep after a long pause does not hold the writer.
            let names = self.db.write(move |conn| attachments::delete_unattached(conn, &before, 500)).await;
            match names {
                Ok(names) if !names.is_empty() => {
                    tracing::info!(files = names.len(), "removed uploads never attached to a message");
                    self.pictures.remove_files(names).await;
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %crate::error::Chain(&e), "could not sweep unattached uploads"),
            }
        }
    }
}

/// At start, before serving: remove the files of the media folder that no attachment refers to
/// (an upload interrupted by a crash between placing its file and committing its row; see
/// [`media_folder::sweep_unreferenced`]). Returns how many were removed.
pub fn sweep_unrecorded_files(db: &Db, dir: &std::path::Path) -> usize {
    db.read_blocking(|conn| {
        Ok::<_, crate::storage::db::DbError>(media_folder::sweep_unreferenced(dir, |name| {
            attachments::is_referenced(conn, name)
        }))
    })
    .unwrap_or_else(|e| {
        tracing::warn!(error = %e, "cannot check the media folder against the database");
        0
    })
}

/// The one quota rule: `used` bytes already uploaded plus `adding` must stay within `quota`.
fn fits(used: u64, adding: u64, quota: u64) -> ApiResult<()> {
    if used.saturating_add(adding) > quota { Err(quota_exceeded(used, quota)) } else { Ok(()) }
}

fn bytes_used(conn: &Connection, uploader: i64) -> ApiResult<u64> {
    Ok(u64::try_from(attachments::bytes_used(conn, uploader)?).unwrap_or(0))
}

/// A message may carry only a file its sender uploaded (else 422 `attachment_id`).
pub fn ensure_own_attachment(conn: &Connection, attachment_id: i64, sender: i64) -> ApiResult<()> {
    match attachments::get(conn, attachment_id)? {
        Some(a) if a.uploader_id == sender => Ok(()),
        _ => Err(ApiError::invalid("attachment_id", "is not a file you uploaded")),
    }
}

fn decide(head: &[u8], allowed: &AllowedMedia, text: &TextCheck) -> ApiResult<Verdict> {
    let binary = media_folder::sniff_binary(head);
    match binary {
        Some(kind) if allowed.allows(kind) => Ok(Verdict::Binary(kind)),
        // A file that is plain text by the SPEC's definition is text, even when its first bytes
        // happen to look like a format that is refused (a note that starts with "MZ" or "BM").
        _ if allowed.allows(MediaKind::Text) && text.failed().is_none() => Ok(Verdict::MaybeText),
        Some(kind) => Err(ApiError::UnsupportedMediaType(format!(
            "{} files are not accepted here; accepted types: {}.",
            kind.name().to_uppercase(),
            allowed.describe()
        ))),
        None => Err(not_text(text.failed().unwrap_or(NotText::Binary), head, allowed)),
    }
}

fn not_text(reason: NotText, head: &[u8], allowed: &AllowedMedia) -> ApiError {
    let detail = match (reason, media_folder::describe_type(head)) {
        (NotText::Markup, _) => "Markup (HTML, XML, SVG) is not accepted".to_string(),
        (NotText::Binary, Some(mime)) => format!("Files of type {mime} are not accepted"),
        (NotText::Binary, None) => "This type of file is not accepted".to_string(),
    };
    ApiError::UnsupportedMediaType(format!("{detail}; accepted types: {}.", allowed.describe()))
}

fn file_too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!("The file is larger than the upload limit of {limit} bytes."))
}

/// `used`: bytes of the user's earlier uploads and of those still arriving.
fn quota_exceeded(used: u64, quota: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "Media quota exceeded: your uploads (those in progress included) already take {used} of your {quota} \
         bytes, and this file does not fit in the rest."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB_PER_S: ByteRate = ByteRate { bytes: 1024, per: Duration::from_secs(1) };

    #[test]
    fn a_trickle_is_cut_at_the_idle_timeout_however_often_it_sends() {
        let start = Instant::now();
        let idle = Duration::from_secs(30);
        let mut pace = Pace::new(idle, KIB_PER_S, start);
        // A byte every 20 s: never idle for 30 s, but each byte buys a millisecond.
        for n in 1..=2u64 {
            let now = start + Duration::from_secs(20 * n);
            if now >= pace.deadline() {
                break;
            }
            pace.received(1, now);
        }
        let cut = pace.deadline().duration_since(start);
        assert!(cut < Duration::from_millis(30_010), "cut off after {cut:?}");
        assert!(pace.expired().detail().contains("slower than"), "{}", pace.expired().detail());
    }

    #[test]
    fn an_upload_at_the_rate_runs_ahead_by_the_idle_timeout_at_most() {
        let start = Instant::now();
        let idle = Duration::from_secs(30);
        let mut pace = Pace::new(idle, KIB_PER_S, start);
        // 1 KiB a second for 10 minutes: never cut.
        for second in 1..=600u64 {
            let now = start + Duration::from_secs(second);
            assert!(now < pace.deadline(), "cut off at {second} s");
            pace.received(1024, now);
        }
        // 10 MiB at once buys no more than the idle timeout.
        let now = start + Duration::from_secs(601);
        pace.received(10 << 20, now);
        assert_eq!(pace.deadline(), now + idle);
        assert!(pace.expired().detail().contains("sent nothing"), "{}", pace.expired().detail());
    }

    #[test]
    fn without_a_minimum_rate_only_the_idle_timeout_counts() {
        let start = Instant::now();
        let idle = Duration::from_secs(30);
        let mut pace = Pace::new(idle, ByteRate::UNLIMITED, start);
        for n in 1..=100u64 {
            let now = start + Duration::from_secs(20 * n);
            assert!(now < pace.deadline());
            pace.received(1, now);
        }
    }

    #[test]
    fn uploads_in_progress_are_capped_per_uploader() {
        let uploading = Uploading::default();
        let one = uploading.enter(1, 2).unwrap();
        let _two = uploading.enter(1, 2).unwrap();
        assert!(matches!(uploading.enter(1, 2), Err(ApiError::RateLimited { .. })));
        let _other = uploading.enter(2, 2).expect("another uploader has their own");
        drop(one);
        let _three = uploading.enter(1, 2).expect("a finished upload makes room");
        assert!(uploading.enter(1, 0).is_ok(), "0 = no cap");
    }
}

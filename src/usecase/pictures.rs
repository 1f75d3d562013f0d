//! Pictures: the size and thumbnail of every uploaded image, the backfill of those stored before
//! thumbnails existed, and avatars (SPEC §3 "Profiles, avatars and thumbnails").
//!
//! Decoding is CPU and memory: a 12-megapixel phone photo is 36 MB of pixels and a few hundred
//! milliseconds of one core (docs/benchmarks.md). So it never runs on the async runtime's
//! threads, and at most `--thumbnail-concurrency` pictures are decoded at once (a semaphore in
//! front of `spawn_blocking`): a burst of uploads queues for the permits instead of holding
//! 36 MB each at the same moment. Peak memory is bounded by that number times what
//! `--max-image-pixels` allows one decoder ([`crate::storage::pictures`]).
//!
//! An upload's answer already carries its `thumbnail_url`: the header (a few KB) is read before
//! the row is written, and the thumbnail is made just after, in the background. Until it is
//! written the row stays `picture_pending`, and the URL answers 404 (the UI falls back to the
//! original). If the process stops first, the backfill at the next start makes it: the same job
//! that gives the pictures stored before this change their size and thumbnail, one at a time,
//! in id order, logging its progress, while the server already serves.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::Semaphore;

use crate::error::Chain;
use crate::storage::db::Db;
use crate::storage::db::attachments::{self, Picture};
use crate::storage::media_folder::{self, MediaKind};
use crate::storage::pictures::{self, PictureError};

/// `--media-dir`, `--max-image-pixels`, `--thumbnail-concurrency`.
#[derive(Debug, Clone)]
pub struct PictureRules {
    pub dir: PathBuf,
    pub max_pixels: u64,
    pub concurrency: usize,
}

#[derive(Clone)]
pub struct Pictures {
    db: Db,
    rules: Arc<PictureRules>,
    permits: Arc<Semaphore>,
}

/// Pictures the backfill takes per database read.
const BACKFILL_BATCH: usize = 32;

impl Pictures {
    pub fn new(db: Db, rules: PictureRules) -> Pictures {
        let permits = Arc::new(Semaphore::new(rules.concurrency.max(1)));
        Pictures { db, rules: Arc::new(rules), permits }
    }

    /// Run `work` on a blocking thread once one of the `--thumbnail-concurrency` permits is free.
    async fn decode<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PictureRules) -> Result<T, PictureError> + Send + 'static,
    ) -> Result<T, PictureError> {
        let _permit = self.permits.acquire().await.map_err(|_| PictureError::NotPicture)?;
        let rules = self.rules.clone();
        tokio::task::spawn_blocking(move || work(&rules))
            .await
            .unwrap_or_else(|e| Err(PictureError::Io(std::io::Error::other(e.to_string()))))
    }

    /// What the picture just stored as `stored_name` will be shown as: its size from the header
    /// and the name its thumbnail will have. `None` for other kinds, and for pictures past
    /// `--max-image-pixels` or whose header does not decode.
    pub async fn plan(&self, stored_name: &str, kind: MediaKind) -> Option<Picture> {
        if !pictures::is_picture(kind) {
            return None;
        }
        let path = self.rules.dir.join(stored_name);
        let max = self.rules.max_pixels;
        // A header is a few KB: read on a blocking thread, outside the decoding permits.
        let header = tokio::task::spawn_blocking(move || pictures::header(&path, kind, max)).await.ok()?;
        match header {
            Ok(header) => Some(Picture {
                width: i64::from(header.width),
                height: i64::from(header.height),
                thumbnail_name: media_folder::new_stored_name(header.copy_kind()),
            }),
            Err(e) => {
                tracing::info!(kind = kind.name(), reason = %e, "a picture is stored without a thumbnail");
                None
            }
        }
    }

    /// Make the thumbnail of attachment `id` in the background (see [`Pictures::plan`]).
    pub fn make_thumbnail_soon(&self, id: i64, stored_name: String, thumbnail_name: String) {
        let pictures = self.clone();
        tokio::spawn(async move { pictures.make_thumbnail(id, stored_name, Some(thumbnail_name)).await });
    }

    /// Make the thumbnail of attachment `id` and record it, or record that it has none. Returns
    /// whether one was made.
    async fn make_thumbnail(&self, id: i64, stored_name: String, thumbnail_name: Option<String>) -> bool {
        let Some(kind) = media_folder::parse_stored_name(&stored_name) else { return false };
        let started = Instant::now();
        let made = self
            .decode(move |rules| {
                let path = rules.dir.join(&stored_name);
                let header = pictures::header(&path, kind, rules.max_pixels)?;
                let name = thumbnail_name.unwrap_or_else(|| media_folder::new_stored_name(header.copy_kind()));
                let out_kind = media_folder::parse_stored_name(&name).unwrap_or(header.copy_kind());
                pictures::thumbnail(&path, kind, rules.max_pixels, &rules.dir.join(&name), out_kind)?;
                Ok(Picture { width: i64::from(header.width), height: i64::from(header.height), thumbnail_name: name })
            })
            .await;
        let picture = match made {
            Ok(picture) => Some(picture),
            Err(e) => {
                tracing::info!(attachment = id, reason = %e, "no thumbnail for a picture");
                None
            }
        };
        let recorded = picture.clone();
        let kept = self.db.write(move |conn| attachments::picture_done(conn, id, recorded.as_ref())).await;
        match (kept, picture) {
            (Ok(true), Some(_)) => {
                tracing::debug!(attachment = id, took = ?started.elapsed(), "thumbnail made");
                true
            }
            (Ok(true), None) => false,
            (kept, picture) => {
                // The attachment went meanwhile (its message deleted, or swept): so does its copy.
                if let Err(e) = kept {
                    tracing::warn!(attachment = id, error = %Chain(&e), "could not record a thumbnail");
                }
                if let Some(picture) = picture {
                    let dir = self.rules.dir.clone();
                    let _ = tokio::task::spawn_blocking(move || {
                        media_folder::remove_stored(&dir, &[picture.thumbnail_name]);
                    })
                    .await;
                }
                false
            }
        }
    }

    /// The newest upload's id, before the server accepts uploads: the backfill's end (later
    /// uploads make their own thumbnails).
    pub async fn last_upload(&self) -> i64 {
        self.db.read(attachments::last_id).await.unwrap_or(0)
    }

    /// Give the pictures recorded without a thumbnail (uploaded before thumbnails existed, or
    /// whose thumbnail a stop interrupted), up to attachment `upto`, their size and thumbnail.
    /// One picture at a time, so uploads keep the other permits; logs its progress.
    pub async fn backfill(self, upto: i64) {
        let total = match self.db.read(attachments::pending_count).await {
            Ok(0) => return,
            Ok(total) => total,
            Err(e) => return tracing::warn!(error = %Chain(&e), "cannot look for pictures without thumbnails"),
        };
        tracing::info!(total, "making the thumbnails of pictures stored without one");
        let started = Instant::now();
        let (mut after, mut done, mut made) = (0, 0, 0);
        let mut last_report = Instant::now();
        loop {
            let batch = match self.db.read(move |conn| attachments::pending_pictures(conn, after, BACKFILL_BATCH)).await
            {
                Ok(batch) => batch,
                Err(e) => {
                    return tracing::warn!(error = %Chain(&e), "the thumbnail backfill stopped; the next start resumes it");
                }
            };
            let batch: Vec<_> = batch.into_iter().filter(|p| p.id <= upto).collect();
            if batch.is_empty() {
                break;
            }
            for pending in batch {
                after = pending.id;
                made += u64::from(self.make_thumbnail(pending.id, pending.stored_name, pending.thumbnail_name).await);
                done += 1;
                if last_report.elapsed().as_secs() >= 10 {
                    tracing::info!(done, total, made, "thumbnail backfill: {done} of {total} pictures");
                    last_report = Instant::now();
                }
            }
        }
        tracing::info!(done, made, took = ?started.elapsed(), "thumbnail backfill finished");
    }

    /// An avatar made of the picture stored as `stored_name`: returns its stored name.
    pub async fn make_avatar(&self, stored_name: String) -> Result<String, PictureError> {
        let kind = media_folder::parse_stored_name(&stored_name).ok_or(PictureError::NotPicture)?;
        if !pictures::is_picture(kind) {
            return Err(PictureError::NotPicture);
        }
        self.decode(move |rules| {
            let path = rules.dir.join(&stored_name);
            let header = pictures::header(&path, kind, rules.max_pixels)?;
            let name = media_folder::new_stored_name(header.copy_kind());
            pictures::avatar(&path, kind, rules.max_pixels, &rules.dir.join(&name), header.copy_kind())?;
            Ok(name)
        })
        .await
    }

    /// Remove stored files (after the rows naming them are gone), off the async threads.
    pub async fn remove_files(&self, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let dir = self.rules.dir.clone();
        let _ = tokio::task::spawn_blocking(move || media_folder::remove_stored(&dir, &names)).await;
    }
}

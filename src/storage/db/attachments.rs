//! Uploaded files' metadata; the bytes live in the media folder under `stored_name`.

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;
use crate::model::Attachment;

#[derive(Debug, Clone)]
pub struct AttachmentRecord {
    pub id: i64,
    pub uploader_id: i64,
    pub stored_name: String,
    pub content_type: String,
    pub size: i64,
    pub filename: String,
    pub picture: Option<Picture>,
}

/// A picture's size as shown, and the stored name of its thumbnail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Picture {
    pub width: i64,
    pub height: i64,
    pub thumbnail_name: String,
}

impl AttachmentRecord {
    pub fn to_attachment(&self) -> Attachment {
        Attachment::new(
            self.id,
            &self.stored_name,
            self.content_type.clone(),
            self.size,
            self.filename.clone(),
            self.picture.as_ref().map(|p| (p.width, p.height, p.thumbnail_name.as_str())),
        )
    }
}

/// A [`Picture`] from its three columns, all set or it has none.
pub fn picture(width: Option<i64>, height: Option<i64>, thumbnail_name: Option<String>) -> Option<Picture> {
    match (width, height, thumbnail_name) {
        (Some(width), Some(height), Some(thumbnail_name)) => Some(Picture { width, height, thumbnail_name }),
        _ => None,
    }
}

/// The columns `record` reads, as a macro so queries are `&'static str` (no formatting per call).
macro_rules! select_attachment {
    () => {
        "SELECT id, uploader_id, stored_name, content_type, size, filename, width, height, thumbnail_name
         FROM attachments"
    };
}

fn record(r: &rusqlite::Row) -> rusqlite::Result<AttachmentRecord> {
    Ok(AttachmentRecord {
        id: r.get(0)?,
        uploader_id: r.get(1)?,
        stored_name: r.get(2)?,
        content_type: r.get(3)?,
        size: r.get(4)?,
        filename: r.get(5)?,
        picture: picture(r.get(6)?, r.get(7)?, r.get(8)?),
    })
}

/// Record an upload; a picture whose thumbnail is still to be made is marked pending (the
/// backfill makes it if the process stops first).
pub fn insert(
    conn: &Connection,
    uploader_id: i64,
    stored_name: &str,
    content_type: &str,
    size: i64,
    filename: &str,
    picture: Option<Picture>,
) -> Result<AttachmentRecord, DbError> {
    let id: i64 = conn.query_row(
        "INSERT INTO attachments (uploader_id, stored_name, content_type, size, filename, created_at,
                                  width, height, thumbnail_name, picture_pending)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
        params![
            uploader_id,
            stored_name,
            content_type,
            size,
            filename,
            super::now(),
            picture.as_ref().map(|p| p.width),
            picture.as_ref().map(|p| p.height),
            picture.as_ref().map(|p| p.thumbnail_name.as_str()),
            picture.is_some(),
        ],
        |r| r.get(0),
    )?;
    Ok(AttachmentRecord {
        id,
        uploader_id,
        stored_name: stored_name.to_string(),
        content_type: content_type.to_string(),
        size,
        filename: filename.to_string(),
        picture,
    })
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<AttachmentRecord>, DbError> {
    Ok(conn.prepare_cached(concat!(select_attachment!(), " WHERE id = ?1"))?.query_row([id], record).optional()?)
}

pub fn by_stored_name(conn: &Connection, name: &str) -> Result<Option<AttachmentRecord>, DbError> {
    Ok(conn
        .prepare_cached(concat!(select_attachment!(), " WHERE stored_name = ?1"))?
        .query_row([name], record)
        .optional()?)
}

/// Bytes `uploader_id` has uploaded in total (for `--media-quota`).
pub fn bytes_used(conn: &Connection, uploader_id: i64) -> Result<i64, DbError> {
    Ok(conn.query_row("SELECT coalesce(sum(size), 0) FROM attachments WHERE uploader_id = ?1", [uploader_id], |r| {
        r.get(0)
    })?)
}

/// What a stored name is: an upload, a thumbnail (served once it is made) or an avatar.
#[derive(Debug, Clone)]
pub enum Named {
    Upload(AttachmentRecord),
    /// The thumbnail of this upload.
    Thumbnail(AttachmentRecord),
    Avatar,
}

/// What `name` is, if anything still refers to it.
pub fn named(conn: &Connection, name: &str) -> Result<Option<Named>, DbError> {
    if let Some(record) = by_stored_name(conn, name)? {
        return Ok(Some(Named::Upload(record)));
    }
    let thumbnail = conn
        .prepare_cached(concat!(select_attachment!(), " WHERE thumbnail_name = ?1 AND picture_pending = 0"))?
        .query_row([name], record)
        .optional()?;
    if let Some(record) = thumbnail {
        return Ok(Some(Named::Thumbnail(record)));
    }
    let avatar =
        conn.prepare_cached("SELECT 1 FROM users WHERE avatar_name = ?1")?.query_row([name], |_| Ok(())).optional()?;
    Ok(avatar.map(|()| Named::Avatar))
}

/// Whether any row refers to the stored file `name` (an upload, a thumbnail, pending or not, or
/// an avatar): the start sweep keeps those.
pub fn is_referenced(conn: &Connection, name: &str) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM attachments WHERE stored_name = ?1)
                 OR EXISTS (SELECT 1 FROM attachments WHERE thumbnail_name = ?1)
                 OR EXISTS (SELECT 1 FROM users WHERE avatar_name = ?1)",
        )?
        .query_row([name], |r| r.get(0))?)
}

/// The stored names of an attachment's files: the upload and its thumbnail.
fn files_of(record: &AttachmentRecord) -> Vec<String> {
    let mut names = vec![record.stored_name.clone()];
    if let Some(picture) = &record.picture {
        names.push(picture.thumbnail_name.clone());
    }
    names
}

/// Delete attachment `id` if no message uses it any more; returns the names of its files, to be
/// removed once this is committed.
pub fn delete_if_unused(conn: &Connection, id: i64) -> Result<Vec<String>, DbError> {
    let used: bool = conn
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM messages WHERE attachment_id = ?1)")?
        .query_row([id], |r| r.get(0))?;
    if used {
        return Ok(Vec::new());
    }
    let Some(record) = get(conn, id)? else { return Ok(Vec::new()) };
    conn.prepare_cached("DELETE FROM attachments WHERE id = ?1")?.execute([id])?;
    // A thumbnail still being made: its job finds the row gone and removes what it wrote.
    Ok(files_of(&record))
}

/// Delete up to `limit` uploads created before `before` that no message uses; returns the names
/// of their files, to be removed once this is committed.
pub fn delete_unattached(conn: &Connection, before: &str, limit: usize) -> Result<Vec<String>, DbError> {
    let ids: Vec<i64> = conn
        .prepare_cached(
            "SELECT a.id FROM attachments a
             WHERE a.created_at < ?1 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.attachment_id = a.id)
             ORDER BY a.created_at",
        )?
        .query_map([before], |r| r.get(0))?
        .take(limit)
        .collect::<Result<_, _>>()?;
    let mut names = Vec::new();
    for id in ids {
        names.extend(delete_if_unused(conn, id)?);
    }
    Ok(names)
}

/// Pictures whose thumbnail is still to be made, in id order after `after`, at most `limit`.
pub fn pending_pictures(conn: &Connection, after: i64, limit: usize) -> Result<Vec<PendingPicture>, DbError> {
    let rows = conn
        .prepare_cached(
            "SELECT id, stored_name, thumbnail_name FROM attachments
             WHERE picture_pending = 1 AND id > ?1 ORDER BY id",
        )?
        .query_map([after], |r| {
            Ok(PendingPicture { id: r.get(0)?, stored_name: r.get(1)?, thumbnail_name: r.get(2)? })
        })?
        .take(limit)
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Pictures whose thumbnail is still to be made.
pub fn pending_count(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row("SELECT count(*) FROM attachments WHERE picture_pending = 1", [], |r| r.get(0))?)
}

/// A picture waiting for its thumbnail.
#[derive(Debug, Clone)]
pub struct PendingPicture {
    pub id: i64,
    pub stored_name: String,
    /// Chosen at upload (its URL was already answered); none for an upload from before.
    pub thumbnail_name: Option<String>,
}

/// The thumbnail of attachment `id` is made (or, with `picture` `None`, cannot be: the three
/// fields are cleared). Returns false when the attachment is gone meanwhile (its file is then
/// the caller's to remove).
pub fn picture_done(conn: &Connection, id: i64, picture: Option<&Picture>) -> Result<bool, DbError> {
    Ok(conn
        .prepare_cached(
            "UPDATE attachments SET width = ?2, height = ?3, thumbnail_name = ?4, picture_pending = 0 WHERE id = ?1",
        )?
        .execute(params![
            id,
            picture.map(|p| p.width),
            picture.map(|p| p.height),
            picture.map(|p| p.thumbnail_name.as_str())
        ])?
        == 1)
}

/// The id of the newest attachment (0: none).
pub fn last_id(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.query_row("SELECT coalesce(max(id), 0) FROM attachments", [], |r| r.get(0))?)
}

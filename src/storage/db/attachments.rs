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
}

impl AttachmentRecord {
    pub fn to_attachment(&self) -> Attachment {
        Attachment::new(self.id, &self.stored_name, self.content_type.clone(), self.size, self.filename.clone())
    }
}

/// The columns `record` reads, as a macro so queries are `&'static str` (no formatting per call).
macro_rules! select_attachment {
    () => {
        "SELECT id, uploader_id, stored_name, content_type, size, filename FROM attachments"
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
    })
}

pub fn insert(
    conn: &Connection,
    uploader_id: i64,
    stored_name: &str,
    content_type: &str,
    size: i64,
    filename: &str,
) -> Result<AttachmentRecord, DbError> {
    let id: i64 = conn.query_row(
        "INSERT INTO attachments (uploader_id, stored_name, content_type, size, filename, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![uploader_id, stored_name, content_type, size, filename, super::now()],
        |r| r.get(0),
    )?;
    Ok(AttachmentRecord {
        id,
        uploader_id,
        stored_name: stored_name.to_string(),
        content_type: content_type.to_string(),
        size,
        filename: filename.to_string(),
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

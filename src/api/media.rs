//! SPEC §3 Media: `POST /chat/upload_media/` and `GET /media/{name}`.
//!
//! Upload: the `file` part is streamed chunk by chunk into a temporary file in the media folder
//! (see [`crate::media`]); nothing holds more than one chunk plus the first 8 KiB used for type
//! detection. Past `--max-upload`, or past what is left of the user's `--media-quota`, reading
//! stops and the temporary file is deleted. The type is decided from the bytes; the file is then
//! fsynced, renamed to its random name and recorded. The quota is checked again inside the
//! database write, where writes are serialised, so two concurrent uploads cannot both slip under
//! it.
//!
//! Serving needs no token: the 128-bit random name is the capability (an `<img src>` cannot send
//! a bearer header). Every response carries `nosniff` and `Content-Security-Policy: sandbox`, so
//! even a file that a browser might take for HTML cannot run script on our origin. Content never
//! changes under a name, so the ETag is the name and caching is `immutable`.

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;

use super::extract::AuthUser;
use crate::AppState;
use crate::db::attachments::{self, AttachmentRecord};
use crate::error::{ApiError, ApiResult};
use crate::media::{self, AllowedMedia, HEAD_LEN, MediaKind, NotText, TempUpload, TextCheck};

/// Bytes read from disk per chunk when serving a file.
const SERVE_CHUNK: usize = 64 * 1024;

pub async fn upload(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<Response> {
    let mut multipart = multipart.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            file_too_large(state.config.max_upload)
        } else {
            ApiError::UnsupportedMediaType(
                "Expected a multipart/form-data body with the file in a part named `file`.".into(),
            )
        }
    })?;
    let quota = state.config.media_quota;
    let max_upload = state.config.max_upload;
    let uploader = user.id;
    let used = state.db.read(move |conn| attachments::bytes_used(conn, uploader)).await?;
    let used = u64::try_from(used).unwrap_or(0);
    let room_left = quota.saturating_sub(used);
    if room_left == 0 {
        return Err(quota_exceeded(used, quota));
    }

    let field = loop {
        match multipart.next_field().await.map_err(|e| multipart_error(e, max_upload))? {
            Some(field) if field.name() == Some("file") => break field,
            Some(_) => continue,
            None => {
                return Err(ApiError::invalid("file", "is required: send the file as a multipart part named `file`"));
            }
        }
    };
    let filename = media::sanitize_filename(field.file_name().unwrap_or(""));
    let allowed = &state.config.allowed_media;
    let mut temp = TempUpload::create(&state.config.data.media_path()).await.map_err(ApiError::internal)?;
    let limit = max_upload.min(room_left);
    let (kind, size) = receive(field, &mut temp, allowed, limit, max_upload).await.map_err(|e| match e {
        Receive::TooLarge if limit == max_upload => file_too_large(max_upload),
        Receive::TooLarge => quota_exceeded(used, quota),
        Receive::Rejected(e) => e,
    })?;

    // Placing and recording run to completion in their own task even if the client goes away
    // meanwhile, so the database and the folder cannot disagree about this file.
    let finish = tokio::spawn(store(state.clone(), temp, uploader, kind, size, filename));
    let record = finish.await.map_err(ApiError::internal)??;
    tracing::info!(user = uploader, name = %record.stored_name, kind = kind.name(), size, "upload stored");
    Ok((StatusCode::CREATED, Json(record.to_attachment())).into_response())
}

enum Receive {
    /// More than the limit arrived.
    TooLarge,
    Rejected(ApiError),
}

impl From<ApiError> for Receive {
    fn from(e: ApiError) -> Self {
        Receive::Rejected(e)
    }
}

/// What the first bytes say: an allowed binary format, or possibly plain text (the rest of the
/// file decides).
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    Binary(MediaKind),
    MaybeText,
}

/// Stream `field` into `temp`, counting bytes and deciding the type; stops at the first byte
/// past `limit` and as soon as the type is known to be refused. `max_upload` is for the message
/// when the route's body limit (a little above it) stops the body first.
async fn receive(
    mut field: Field<'_>,
    temp: &mut TempUpload,
    allowed: &AllowedMedia,
    limit: u64,
    max_upload: u64,
) -> Result<(MediaKind, u64), Receive> {
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(HEAD_LEN);
    let mut text = TextCheck::default();
    let mut verdict: Option<Verdict> = None;
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(e, max_upload))? {
        size += chunk.len() as u64;
        if size > limit {
            return Err(Receive::TooLarge);
        }
        if verdict.is_none() {
            let take = (HEAD_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        if !matches!(verdict, Some(Verdict::Binary(_))) {
            text.feed(&chunk);
        }
        if verdict.is_none() && head.len() >= HEAD_LEN {
            verdict = Some(decide(&head, allowed, &text)?);
        }
        if verdict == Some(Verdict::MaybeText)
            && let Some(reason) = text.failed()
        {
            return Err(not_text(reason, &head, allowed).into());
        }
        temp.write(&chunk).await.map_err(ApiError::internal)?;
    }
    if size == 0 {
        return Err(ApiError::invalid("file", "is empty").into());
    }
    let verdict = match verdict {
        Some(verdict) => verdict,
        None => decide(&head, allowed, &text)?,
    };
    match verdict {
        Verdict::Binary(kind) => Ok((kind, size)),
        Verdict::MaybeText => match text.finish() {
            Ok(()) => Ok((MediaKind::Text, size)),
            Err(reason) => Err(not_text(reason, &head, allowed).into()),
        },
    }
}

fn decide(head: &[u8], allowed: &AllowedMedia, text: &TextCheck) -> ApiResult<Verdict> {
    let binary = media::sniff_binary(head);
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
    let detail = match (reason, media::describe_type(head)) {
        (NotText::Markup, _) => "Markup (HTML, XML, SVG) is not accepted".to_string(),
        (NotText::Binary, Some(mime)) => format!("Files of type {mime} are not accepted"),
        (NotText::Binary, None) => "This type of file is not accepted".to_string(),
    };
    ApiError::UnsupportedMediaType(format!("{detail}; accepted types: {}.", allowed.describe()))
}

/// Place the received file under its final name and record it; if anything fails, the file is
/// removed (by `temp`'s drop).
async fn store(
    state: AppState,
    mut temp: TempUpload,
    uploader: i64,
    kind: MediaKind,
    size: u64,
    filename: String,
) -> ApiResult<AttachmentRecord> {
    let stored_name = media::new_stored_name(kind);
    temp.place(&stored_name).await.map_err(ApiError::internal)?;
    let quota = state.config.media_quota;
    let record = state
        .db
        .write(move |conn| {
            let used = u64::try_from(attachments::bytes_used(conn, uploader)?).unwrap_or(0);
            if used + size > quota {
                return Err(quota_exceeded(used, quota));
            }
            let size = i64::try_from(size).map_err(ApiError::internal)?;
            Ok(attachments::insert(conn, uploader, &stored_name, kind.content_type(), size, &filename)?)
        })
        .await?;
    temp.keep();
    Ok(record)
}

/// A multipart body that could not be read. Past the route's body limit (which hyper may hit in
/// the middle of a large network read, before the handler counted `--max-upload + 1` bytes) it
/// is the same 413 as a file over the limit.
fn multipart_error(e: MultipartError, max_upload: u64) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        file_too_large(max_upload)
    } else {
        ApiError::invalid("file", format!("the multipart body could not be read ({})", e.body_text()))
    }
}

fn file_too_large(limit: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!("The file is larger than the upload limit of {limit} bytes."))
}

/// `used`: bytes of the user's earlier uploads.
fn quota_exceeded(used: u64, quota: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "Media quota exceeded: your uploads already take {used} of your {quota} bytes, and this file does not fit \
         in the rest."
    ))
}

/// The upload route's body limit: `--max-upload` plus room for the multipart framing. The
/// handler still counts the file's own bytes against `--max-upload` exactly.
pub fn body_limit(state: &AppState) -> axum::extract::DefaultBodyLimit {
    let limit = state.config.max_upload.saturating_add(64 * 1024);
    axum::extract::DefaultBodyLimit::max(usize::try_from(limit).unwrap_or(usize::MAX))
}

pub async fn serve(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    request: HeaderMap,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("File");
    let Ok(Path(name)) = name else { return Err(not_found()) };
    let Some(kind) = media::parse_stored_name(&name) else { return Err(not_found()) };
    let record = state.db.read(move |conn| attachments::by_stored_name(conn, &name)).await?.ok_or_else(not_found)?;
    let path = state.config.data.media_path().join(&record.stored_name);
    let mut file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!(file = %path.display(), "an attachment's file is missing from the media folder");
            return Err(not_found());
        }
        Err(e) => return Err(ApiError::internal(format!("cannot open {}: {e}", path.display()))),
    };
    let size = file.metadata().await.map_err(ApiError::internal)?.len();
    let etag = format!("\"{}\"", record.stored_name);

    let mut headers = HeaderMap::new();
    let content_type = HeaderValue::from_str(&record.content_type).map_err(ApiError::internal)?;
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    let disposition = content_disposition(kind.is_inline(), &record.filename);
    headers.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(ApiError::internal)?);
    headers.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));

    let header_text = |name: header::HeaderName| request.get(name).and_then(|v| v.to_str().ok());
    if header_text(header::IF_NONE_MATCH).is_some_and(|list| etag_matches(list, &etag)) {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    // A Range that comes with an If-Range for another version (or a date: we send no
    // Last-Modified) gets the whole file.
    let range_applies = header_text(header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let range = match header_text(header::RANGE) {
        Some(range) if range_applies => parse_range(range, size),
        _ => ByteRange::Whole,
    };
    match range {
        ByteRange::Whole => {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
            let body = Body::from_stream(ReaderStream::with_capacity(file, SERVE_CHUNK));
            Ok((StatusCode::OK, headers, body).into_response())
        }
        ByteRange::Part { start, end } => {
            let length = end - start + 1;
            file.seek(std::io::SeekFrom::Start(start)).await.map_err(ApiError::internal)?;
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            let content_range = format!("bytes {start}-{end}/{size}");
            headers.insert(header::CONTENT_RANGE, HeaderValue::from_str(&content_range).map_err(ApiError::internal)?);
            let body = Body::from_stream(ReaderStream::with_capacity(file.take(length), SERVE_CHUNK));
            Ok((StatusCode::PARTIAL_CONTENT, headers, body).into_response())
        }
        ByteRange::Unsatisfiable => {
            // The SPEC has no code for 416; the body is its validation error about `range`.
            let error =
                ApiError::invalid("range", format!("no byte of the requested range exists (the file has {size})"));
            let mut response = (StatusCode::RANGE_NOT_SATISFIABLE, Json(error.body())).into_response();
            let content_range = HeaderValue::from_str(&format!("bytes */{size}")).map_err(ApiError::internal)?;
            response.headers_mut().insert(header::CONTENT_RANGE, content_range);
            response.headers_mut().insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            Ok(response)
        }
    }
}

/// What a `Range` header asks of a file of a given size.
#[derive(Debug, PartialEq, Eq)]
pub enum ByteRange {
    /// No usable single range (absent, malformed, several ranges, another unit): the whole file.
    Whole,
    /// Bytes `start..=end`, both within the file.
    Part { start: u64, end: u64 },
    /// A well-formed range that starts past the end of the file: 416.
    Unsatisfiable,
}

/// `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 §14.1.2). Several ranges are answered with
/// the whole file, which the RFC allows.
pub fn parse_range(header: &str, size: u64) -> ByteRange {
    let Some((unit, spec)) = header.trim().split_once('=') else { return ByteRange::Whole };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else { return ByteRange::Whole };
    let (first, last) = (first.trim(), last.trim());
    let number = |text: &str| -> Option<u64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) { None } else { text.parse().ok() }
    };
    if first.is_empty() {
        return match number(last) {
            None => ByteRange::Whole,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if size == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Part { start: size.saturating_sub(n), end: size - 1 },
        };
    }
    let Some(start) = number(first) else { return ByteRange::Whole };
    let end = if last.is_empty() {
        u64::MAX
    } else {
        match number(last) {
            Some(end) if end >= start => end,
            _ => return ByteRange::Whole,
        }
    };
    if start >= size { ByteRange::Unsatisfiable } else { ByteRange::Part { start, end: end.min(size - 1) } }
}

/// `If-None-Match` against our (strong) ETag, with the weak comparison the RFC asks for here.
fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// `inline` or `attachment`, with the filename as an ASCII fallback and as RFC 5987 UTF-8
/// (RFC 6266 §4.3): `attachment; filename="r_sum_.pdf"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf`.
pub fn content_disposition(inline: bool, filename: &str) -> String {
    let disposition = if inline { "inline" } else { "attachment" };
    let fallback: String = filename
        .chars()
        .map(|c| if (c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%')) || c == ' ' { c } else { '_' })
        .collect();
    let mut encoded = String::with_capacity(filename.len() * 3);
    for byte in filename.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let part = |start, end| ByteRange::Part { start, end };
        assert_eq!(parse_range("bytes=0-9", 100), part(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), part(90, 99));
        assert_eq!(parse_range("bytes=90-500", 100), part(90, 99));
        assert_eq!(parse_range("bytes=-3", 100), part(97, 99));
        assert_eq!(parse_range("bytes=-500", 100), part(0, 99));
        assert_eq!(parse_range("BYTES = 5-5", 100), part(5, 5));
        assert_eq!(parse_range("bytes=100-", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=9-3", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), ByteRange::Whole);
        assert_eq!(parse_range("items=0-1", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=x-1", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=+1-2", 100), ByteRange::Whole);
    }

    #[test]
    fn dispositions() {
        assert_eq!(content_disposition(true, "cat.png"), "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png");
        assert_eq!(
            content_disposition(false, "résumé \"v2\" 100%.pdf"),
            "attachment; filename=\"r_sum_ _v2_ 100_.pdf\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22%20100%25.pdf"
        );
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"a.png\"", "\"a.png\""));
        assert!(etag_matches("\"x\", W/\"a.png\"", "\"a.png\""));
        assert!(etag_matches("*", "\"a.png\""));
        assert!(!etag_matches("\"b.png\"", "\"a.png\""));
    }
}

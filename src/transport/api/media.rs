//! SPEC §3 Media: `POST /chat/upload_media/` and `GET /media/{name}`.
//!
//! Upload: the `file` part is handed chunk by chunk to the media use case
//! ([`crate::usecase::media`]), which writes it into a temporary file in the media folder;
//! nothing holds more than one chunk plus the first 8 KiB used for type detection. Every rule
//! (size, quota, type) is the use case's; this handler only finds the part and moves the bytes.
//!
//! Serving needs no token: the 128-bit random name is the capability (an `<img src>` cannot send
//! a bearer header). Every response carries `nosniff` and `Content-Security-Policy: sandbox`, so
//! even a file that a browser might take for HTML cannot run script on our origin. Content never
//! changes under a name, so the ETag is the name and caching is `immutable`.

use axum::Json;
use axum::body::Body;
use axum::extract::multipart::{MultipartError, MultipartRejection};
use axum::extract::rejection::PathRejection;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::time::timeout_at;
use tokio_util::io::ReaderStream;

use super::extract::AuthUser;
use crate::AppState;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::model::Attachment;
use crate::usecase::media::Media;

/// An upload refused before its body was read to the end: the error, with `Connection: close`.
/// hyper closes such a connection anyway (the rest of the body is not coming off the wire), and
/// says so, so that a client does not send its next request on it and see it cut.
pub struct UploadRefused(ApiError);

impl From<ApiError> for UploadRefused {
    fn from(error: ApiError) -> Self {
        UploadRefused(error)
    }
}

impl IntoResponse for UploadRefused {
    fn into_response(self) -> Response {
        let mut response = self.0.into_response();
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        response
    }
}

/// Bytes read from disk per chunk when serving a file.
const SERVE_CHUNK: usize = 64 * 1024;

/// Upload one file, as the multipart part `file`. Its type is decided from its bytes
/// (`--allowed-media`, else 415); at most `--max-upload` (else 413), within the uploader's
/// `--media-quota` (else 413), and at most `--max-uploads-per-user` at once (else 429).
#[utoipa::path(post, path = "/chat/upload_media", tag = "media", security(("bearer" = []), ("oauth2" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, description = "The stored file, to send as a message's `attachment_id`.", body = Attachment),
        (status = 408, description = "The body stopped arriving for `--upload-idle-timeout`, or fell behind `--upload-min-rate`.", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "Past `--upload-rate`, or the caller already has `--max-uploads-per-user` uploads in progress (`Retry-After`).", body = ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<Attachment>), UploadRefused> {
    let media = &state.media;
    let mut multipart = multipart.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            media.file_too_large()
        } else {
            ApiError::UnsupportedMediaType(
                "Expected a multipart/form-data body with the file in a part named `file`.".into(),
            )
        }
    })?;
    let allowance = media.begin(user.id).await?;
    // Every read of the body must bring something within `--upload-idle-timeout`, and the bytes
    // must keep up with `--upload-min-rate` (the use case's `Pace`): a client that stops or
    // trickles is cut off (408, connection closed) and its temporary file, quota reservation
    // and place among its uploads in progress go with the dropped upload.
    let mut pace = media.pace(Instant::now());
    let mut field = loop {
        let next = timeout_at(pace.deadline().into(), multipart.next_field()).await.map_err(|_| pace.expired())?;
        pace.received(0, Instant::now());
        match next.map_err(|e| multipart_error(e, media))? {
            Some(field) if field.name() == Some("file") => break field,
            Some(_) => continue,
            None => {
                return Err(
                    ApiError::invalid("file", "is required: send the file as a multipart part named `file`").into()
                );
            }
        }
    };
    let mut upload = media.start(allowance, field.file_name().unwrap_or("")).await?;
    loop {
        let next = timeout_at(pace.deadline().into(), field.chunk()).await.map_err(|_| pace.expired())?;
        let Some(chunk) = next.map_err(|e| multipart_error(e, media))? else { break };
        pace.received(chunk.len() as u64, Instant::now());
        upload.push(&chunk).await?;
    }
    drop(field);
    // The parts after `file` are skipped like those before it, but read to the end, before the
    // file is kept: a body whose part headers cannot be read is refused (422) wherever that
    // part is, as the OpenAPI document says, not only when it comes first.
    loop {
        let next = timeout_at(pace.deadline().into(), multipart.next_field()).await.map_err(|_| pace.expired())?;
        pace.received(0, Instant::now());
        if next.map_err(|e| multipart_error(e, media))?.is_none() {
            break;
        }
    }
    let attachment = media.finish(upload).await?;
    Ok((StatusCode::CREATED, Json(attachment)))
}

/// The upload's multipart body, as the OpenAPI document shows it: the part `file`, not empty;
/// other parts are skipped (see [`crate::input::schemas::multipart_with_file`]).
pub struct UploadForm;

impl utoipa::PartialSchema for UploadForm {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::input::schemas::multipart_with_file(
            "The file, not empty (its name is kept as metadata only).",
            "One part named `file`; other parts are skipped.",
        )
        .into()
    }
}

impl utoipa::ToSchema for UploadForm {}

/// A multipart body that could not be read. Past the route's body limit (which hyper may hit in
/// the middle of a large network read, before the handler counted `--max-upload + 1` bytes) it
/// is the same 413 as a file over the limit.
pub(super) fn multipart_error(e: MultipartError, media: &Media) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        media.file_too_large()
    } else {
        ApiError::invalid("file", format!("the multipart body could not be read ({})", e.body_text()))
    }
}

/// The upload route's body limit: `--max-upload` plus room for the multipart framing. The
/// handler still counts the file's own bytes against `--max-upload` exactly.
pub fn upload_body_limit(state: &AppState) -> usize {
    usize::try_from(state.media.max_upload().saturating_add(64 * 1024)).unwrap_or(usize::MAX)
}

/// A stored file, by the name its Attachment's `url` gives (the random name is the capability:
/// no token). Served with its detected type, `nosniff`, `Content-Security-Policy: sandbox`,
/// `Content-Disposition`, an `ETag` and a year's `immutable` caching; one `Range` is honoured.
#[utoipa::path(get, path = "/media/{name}", tag = "media",
    params(("name" = String, Path, description = "The stored name: 32 hex digits and the type's extension.")),
    responses(
        // Every type `--allowed-media` can store (`MediaKind::content_type`): a client checking
        // the served type against the document finds it (schemathesis did not, with only
        // application/octet-stream here).
        (status = 200, description = "The file, with its detected `Content-Type`.", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"),
            (Vec<u8> = "application/pdf"), (Vec<u8> = "video/mp4"), (Vec<u8> = "video/webm"), (Vec<u8> = "audio/mpeg"),
            (Vec<u8> = "audio/ogg"), (Vec<u8> = "text/plain"))),
        (status = 206, description = "The requested byte range (`Content-Range`), with the file's `Content-Type`.", content(
            (Vec<u8> = "image/png"), (Vec<u8> = "image/jpeg"), (Vec<u8> = "image/gif"), (Vec<u8> = "image/webp"),
            (Vec<u8> = "application/pdf"), (Vec<u8> = "video/mp4"), (Vec<u8> = "video/webm"), (Vec<u8> = "audio/mpeg"),
            (Vec<u8> = "audio/ogg"), (Vec<u8> = "text/plain"))),
        (status = 304, description = "Not modified (`If-None-Match`)."),
        (status = 404, body = ErrorBody),
        (status = 416, description = "The range starts past the end (`Content-Range: bytes */size`).", body = ErrorBody),
    ))]
pub async fn serve(
    State(state): State<AppState>,
    name: Result<Path<String>, PathRejection>,
    request: HeaderMap,
) -> ApiResult<Response> {
    let Ok(Path(name)) = name else { return Err(ApiError::not_found("File")) };
    let stored = state.media.open(name).await?;
    let (mut file, size) = (stored.file, stored.size);
    let etag = format!("\"{}\"", stored.stored_name);

    let mut headers = HeaderMap::new();
    let content_type = HeaderValue::from_str(&stored.content_type).map_err(ApiError::internal)?;
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    let disposition = content_disposition(stored.inline, &stored.filename);
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

/// `bytes=a-b`, `bytes=a-` and `bytes=-n` (RFC 9110 §14.1.2): a last position past the end is
/// clamped to it, a first one past the end is unsatisfiable (416), a suffix longer than the file
/// is the whole file. Positions of any length count (they saturate). Several ranges, another
/// unit and anything malformed are ignored, as the RFC lets a server do: the whole file (200).
pub fn parse_range(header: &str, size: u64) -> ByteRange {
    let Some((unit, spec)) = header.trim().split_once('=') else { return ByteRange::Whole };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return ByteRange::Whole;
    }
    let Some((first, last)) = spec.split_once('-') else { return ByteRange::Whole };
    let (first, last) = (first.trim(), last.trim());
    // 1*DIGIT of any length: a position past u64 is still a position (past any file's end), so
    // it saturates instead of making the range malformed (RFC 9110 §14.1.1 sets no digit limit).
    let number = |text: &str| -> Option<u64> {
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            None
        } else {
            Some(text.parse().unwrap_or(u64::MAX))
        }
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
/// The name is sanitized again here, so a name recorded before a rule was added (a bidi
/// override kept by an older natter) is served clean too.
pub fn content_disposition(inline: bool, filename: &str) -> String {
    let disposition = if inline { "inline" } else { "attachment" };
    let filename = &crate::input::validate::clean_filename(filename);
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
        // Positions too long for u64 (a fuzzer found them): clamped, or past the end.
        assert_eq!(parse_range("bytes=0-99999999999999999999", 100), part(0, 99));
        assert_eq!(parse_range("bytes=99999999999999999999-", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=99999999999999999999-99999999999999999999", 100), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=-99999999999999999999", 100), part(0, 99));
        assert_eq!(parse_range("bytes=5-18446744073709551615", 100), part(5, 99));
        assert_eq!(parse_range("bytes=-1", 0), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-", 0), ByteRange::Unsatisfiable);
        assert_eq!(parse_range("bytes=", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=-", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=1-2-3", 100), ByteRange::Whole);
        assert_eq!(parse_range("bytes=0x1-2", 100), ByteRange::Whole);
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

//! One error type for every failure a client can see (SPEC §1): what went wrong, its SPEC
//! `code` and `detail`, and how long to wait before trying again. Each transport renders it at
//! its edge: REST as a status and the error body (`transport::api::errors`), Socket.IO as an
//! error ack with the same `code` and `detail`, the command line as one line on stderr.
//!
//! Whatever goes wrong — bad JSON, a missing field, an unknown route, a panic — the client gets
//! `{"detail": "<sentence>", "code": "<snake_case>"}` with the matching status, and validation
//! errors add `"fields"`. Internal errors keep their cause (`source()`), are logged with the
//! whole chain and rendered without it. A storage engine that is shutting down or has no free
//! connection is not an internal error: it is 503 `unavailable` with `Retry-After`. Neither is
//! storage that refuses writes: a full disk is 507 `storage_full` and a read-only database or
//! filesystem 503 `storage_read_only`, both with `Retry-After`, since the server recovers by
//! itself once space returns or the filesystem is writable again.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::storage::db::{DbError, StorageFault};

/// Seconds a client is asked to wait after a 503 `unavailable`.
pub const RETRY_UNAVAILABLE_SECS: u64 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{detail}")]
    Conflict { detail: String, field: &'static str },
    /// The client's request body stopped arriving, or arrives too slowly: an upload past
    /// `--upload-idle-timeout` or `--upload-min-rate`, any other body past `--request-timeout`.
    /// 408, and the connection is closed.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{detail}")]
    Validation { detail: String, fields: BTreeMap<String, String> },
    #[error("Too many requests; try again in {retry_after} seconds.")]
    RateLimited { retry_after: u64 },
    /// The storage engine cannot take the request now (shutting down, or no connection came
    /// free): 503, try again.
    #[error("the storage engine is unavailable")]
    Unavailable(#[source] DbError),
    /// More work of one kind is waiting than the server lets queue (e.g. password hashes in a
    /// login storm, `--hash-queue`): 503 `unavailable`, try again in a second.
    #[error("{0}")]
    Busy(&'static str),
    /// No space left for the database or the media folder: 507, nothing was stored.
    #[error("the disk is full")]
    StorageFull(#[source] Box<dyn Error + Send + Sync>),
    /// The database or the media folder is on a read-only filesystem: 503, nothing was stored.
    #[error("the storage is read-only")]
    StorageReadOnly(#[source] Box<dyn Error + Send + Sync>),
    #[error("internal error")]
    Internal(#[source] Box<dyn Error + Send + Sync>),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The body of every error response (SPEC §1), as the OpenAPI document shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// A sentence for people.
    pub detail: String,
    /// What went wrong, for programs.
    #[schema(value_type = ErrorCode)]
    pub code: &'static str,
    /// With `validation_error` (and `conflict`): each offending field and its problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<BTreeMap<String, String>>,
}

/// The answers hyper writes itself for a request it cannot parse, before any handler runs
/// (`server::protocol_errors` gives them the SPEC body): status, reason phrase, code, detail.
pub const PROTOCOL_ERRORS: [(u16, &str, &str, &str); 3] = [
    (400, "Bad Request", "bad_request", "The request is not valid HTTP/1.1."),
    (414, "URI Too Long", "uri_too_long", "The request's path and query are too long."),
    (431, "Request Header Fields Too Large", "headers_too_large", "The request's headers are too large."),
];

/// Every `code` an error body can carry ([`ApiError::code`] and [`PROTOCOL_ERRORS`]), for the
/// OpenAPI document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ErrorCode {
    InvalidJson,
    BadRequest,
    UriTooLong,
    HeadersTooLarge,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
    RateLimited,
    Unavailable,
    StorageFull,
    StorageReadOnly,
    Internal,
}

impl ApiError {
    pub fn unauthorized() -> Self {
        ApiError::Unauthorized("Missing, invalid or expired credentials.")
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::NotFound(format!("{what} not found."))
    }

    /// A 422 about one field.
    pub fn invalid(field: &str, problem: impl Into<String>) -> Self {
        let problem = problem.into();
        ApiError::Validation {
            detail: format!("{field}: {problem}"),
            fields: BTreeMap::from([(field.to_string(), problem)]),
        }
    }

    /// A failed file operation: 507/503 when the storage refused it (full, read-only), else a
    /// 500 that keeps the cause for the log.
    pub fn from_io(e: std::io::Error) -> Self {
        match StorageFault::of_io(&e) {
            Some(StorageFault::Full) => ApiError::StorageFull(Box::new(e)),
            Some(StorageFault::ReadOnly) => ApiError::StorageReadOnly(Box::new(e)),
            None => ApiError::Internal(Box::new(e)),
        }
    }

    /// A 500 that keeps `cause` (an error, or a sentence saying what failed) for the log.
    pub fn internal(cause: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        ApiError::Internal(cause.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::Conflict { .. } => "conflict",
            ApiError::RequestTimeout(_) => "request_timeout",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::Validation { .. } => "validation_error",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable(_) | ApiError::Busy(_) => "unavailable",
            ApiError::StorageFull(_) => "storage_full",
            ApiError::StorageReadOnly(_) => "storage_read_only",
            ApiError::Internal(_) => "internal",
        }
    }

    /// The sentence shown to clients; internal causes stay in the log.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Internal(_) => "Something went wrong on the server.".to_string(),
            ApiError::Unavailable(_) => {
                format!("The server cannot take this request right now; try again in {RETRY_UNAVAILABLE_SECS} seconds.")
            }
            ApiError::StorageFull(_) => {
                "The server's disk is full: nothing was stored. Try again once its operator has freed space."
                    .to_string()
            }
            ApiError::StorageReadOnly(_) => {
                "The server's storage is read-only: nothing was stored. Try again once its operator has fixed it."
                    .to_string()
            }
            other => other.to_string(),
        }
    }

    /// Log a server-side failure with its whole cause (client errors are not logged). Every
    /// transport calls this once for each error it answers with.
    pub fn report(&self) {
        match self {
            ApiError::Internal(_) => tracing::error!(error = %Chain(self), "internal error"),
            ApiError::Unavailable(_) => tracing::warn!(error = %Chain(self), "storage engine unavailable"),
            ApiError::StorageFull(_) | ApiError::StorageReadOnly(_) => {
                tracing::error!(error = %Chain(self), "the storage refused a write")
            }
            _ => {}
        }
    }

    /// Seconds to put in `Retry-After`, for the errors that have one.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after } => Some((*retry_after).max(1)),
            ApiError::Busy(_) => Some(1),
            ApiError::Unavailable(_) | ApiError::StorageFull(_) | ApiError::StorageReadOnly(_) => {
                Some(RETRY_UNAVAILABLE_SECS)
            }
            _ => None,
        }
    }

    /// The SPEC error body. Socket.IO error acks use the same `code` and `detail`.
    pub fn body(&self) -> serde_json::Value {
        let fields = match self {
            ApiError::Validation { fields, .. } => Some(fields.clone()),
            ApiError::Conflict { field, .. } => Some(BTreeMap::from([(field.to_string(), "already taken".into())])),
            _ => None,
        };
        json!(ErrorBody { detail: self.detail(), code: self.code(), fields })
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e.storage_fault() {
            Some(StorageFault::Full) => return ApiError::StorageFull(Box::new(e)),
            Some(StorageFault::ReadOnly) => return ApiError::StorageReadOnly(Box::new(e)),
            None => {}
        }
        match e {
            DbError::Closed | DbError::Pool(_) => ApiError::Unavailable(e),
            other => ApiError::Internal(Box::new(other)),
        }
    }
}

/// An error and every cause under it, as one line: `internal error: the commit failed: disk I/O
/// error`.
pub struct Chain<'a>(pub &'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(e) = cause {
            write!(f, ": {e}")?;
            cause = e.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code an error can have is in the document's `ErrorCode` enum, and nothing else.
    #[test]
    fn the_documented_codes_are_the_real_ones() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(ErrorCode::schema()).unwrap();
        let mut documented: Vec<String> =
            schema["enum"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
        let sqlite = || rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(10), None);
        let every = [
            ApiError::InvalidJson(String::new()),
            ApiError::unauthorized(),
            ApiError::Forbidden(String::new()),
            ApiError::not_found("x"),
            ApiError::MethodNotAllowed(String::new()),
            ApiError::Conflict { detail: String::new(), field: "x" },
            ApiError::RequestTimeout(String::new()),
            ApiError::PayloadTooLarge(String::new()),
            ApiError::UnsupportedMediaType(String::new()),
            ApiError::invalid("x", "y"),
            ApiError::RateLimited { retry_after: 1 },
            ApiError::Busy("x"),
            ApiError::from(DbError::Closed),
            ApiError::from(DbError::Sqlite(sqlite())),
            ApiError::from(DbError::Sqlite(rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(13), None))),
            ApiError::from_io(std::io::Error::from_raw_os_error(libc::EROFS)),
        ];
        let mut real: Vec<String> = every.iter().map(|e| e.code().to_string()).collect();
        real.extend(PROTOCOL_ERRORS.iter().map(|(_, _, code, _)| code.to_string()));
        documented.sort();
        real.sort();
        real.dedup();
        assert_eq!(documented, real);
    }

    #[test]
    fn the_chain_keeps_every_cause() {
        let sqlite = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(10), Some("disk I/O error".into()));
        let e = ApiError::from(DbError::CommitFailed(std::sync::Arc::new(sqlite)));
        let text = Chain(&e).to_string();
        assert!(text.starts_with("internal error: the commit failed: disk I/O error"), "{text}");
        let e = ApiError::internal(format!("request to {} timed out", "/x"));
        assert_eq!(Chain(&e).to_string(), "internal error: request to /x timed out");
    }
}

//! [`ApiError`] as HTTP: each code's status, the SPEC's error body, `Retry-After` where the
//! error says how long to wait, and `Connection: close` after a body that stopped arriving. The
//! only place that maps the domain error to HTTP; a panic in a handler becomes the same 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// The HTTP status of each error.
pub trait HttpStatus {
    fn status(&self) -> StatusCode;
}

impl HttpStatus for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable(_) | ApiError::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::StorageReadOnly(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.report();
        let mut response = (self.status(), axum::Json(self.body())).into_response();
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if matches!(self, ApiError::RequestTimeout(_)) {
            // The rest of that body is not coming: the connection cannot carry another request.
            response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

/// Body of a panic caught by `CatchPanicLayer`: the SPEC's 500, nothing leaked.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a handler panicked").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RETRY_UNAVAILABLE_SECS;
    use crate::storage::db::DbError;

    #[test]
    fn a_closed_engine_or_an_exhausted_pool_is_503_with_retry_after() {
        let closed = ApiError::from(DbError::Closed);
        assert_eq!((closed.status(), closed.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        let response = closed.into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], RETRY_UNAVAILABLE_SECS.to_string());

        let sqlite = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(10), Some("disk I/O error".into()));
        let failed = ApiError::from(DbError::CommitFailed(std::sync::Arc::new(sqlite)));
        assert_eq!((failed.status(), failed.code()), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
        assert!(failed.retry_after().is_none());
        assert_eq!(failed.detail(), "Something went wrong on the server.", "no internals in the body");
    }

    /// A full disk is 507 `storage_full` and a read-only one 503 `storage_read_only`, both with
    /// `Retry-After` and without internals, whether SQLite or a media file noticed it.
    #[test]
    fn storage_faults_have_their_own_codes() {
        let full = |code| {
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("database or disk is full".into()))
        };
        for e in [
            ApiError::from(DbError::CommitFailed(std::sync::Arc::new(full(13)))),
            ApiError::from(DbError::RolledBack(std::sync::Arc::new(full(13)))),
            ApiError::from(DbError::Sqlite(full(13))),
            ApiError::from_io(std::io::Error::from_raw_os_error(libc::ENOSPC)),
        ] {
            assert_eq!((e.status(), e.code()), (StatusCode::INSUFFICIENT_STORAGE, "storage_full"), "{e:?}");
            assert_eq!(e.retry_after(), Some(RETRY_UNAVAILABLE_SECS));
            assert!(!e.detail().contains("database or disk"), "{}", e.detail());
        }
        for e in [
            ApiError::from(DbError::CommitFailed(std::sync::Arc::new(full(8)))),
            ApiError::from_io(std::io::Error::from_raw_os_error(libc::EROFS)),
        ] {
            assert_eq!((e.status(), e.code()), (StatusCode::SERVICE_UNAVAILABLE, "storage_read_only"), "{e:?}");
        }
        let other = ApiError::from_io(std::io::Error::from_raw_os_error(libc::EIO));
        assert_eq!(other.code(), "internal");
    }
}

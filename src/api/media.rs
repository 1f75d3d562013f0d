//! SPEC §3 Media: upload and serve (issue 5).

use axum::extract::{Path, State};
use axum::response::Response;

use crate::AppState;
use crate::auth::AuthUser;
use crate::error::{ApiError, ApiResult};

pub async fn upload(State(_state): State<AppState>, AuthUser(_user): AuthUser) -> ApiResult<Response> {
    Err(ApiError::NotFound("Uploads are not available yet.".into()))
}

pub async fn serve(State(_state): State<AppState>, Path(_name): Path<String>) -> ApiResult<Response> {
    Err(ApiError::not_found("File"))
}

/// The upload route's body limit: `--max-upload` plus room for the multipart framing. The
/// handler still counts the file's own bytes against `--max-upload` exactly.
pub fn body_limit(state: &AppState) -> axum::extract::DefaultBodyLimit {
    let limit = state.config.max_upload.saturating_add(64 * 1024);
    axum::extract::DefaultBodyLimit::max(usize::try_from(limit).unwrap_or(usize::MAX))
}

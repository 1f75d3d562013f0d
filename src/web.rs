//! The web UI, embedded in the binary from `static/`.

use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "static/"]
struct Assets;

/// `GET /` and the UI's files; anything else under no API prefix is a JSON 404.
pub async fn asset(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match Assets::get(path) {
        Some(file) => {
            let mime = file.metadata.mimetype().to_string();
            let cache = if path == "index.html" { "no-cache" } else { "public, max-age=3600" };
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache.to_string())],
                Body::from(file.data),
            )
                .into_response()
        }
        None => ApiError::NotFound(format!("No route for {}.", uri.path())).into_response(),
    }
}

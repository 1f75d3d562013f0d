//! Every REST route in one table, and the layers applied once to all of them.

pub mod admin;
pub mod auth;
pub mod extract;
pub mod media;
pub mod messages;
pub mod observe;
pub mod ops;
pub mod rooms;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};

use crate::AppState;
use crate::error::{ApiError, panic_response};

pub fn routes(state: AppState) -> Router {
    let json_limit = usize::try_from(state.config.max_body).unwrap_or(usize::MAX);
    let router = Router::new()
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/token", post(auth::login))
        .route("/auth/users/me", get(auth::me))
        .route("/auth/users", get(auth::search))
        .route("/chat/private_chats", get(rooms::list_private_chats).post(rooms::open_private_chat))
        .route("/chat/chat_rooms", get(rooms::list_rooms).post(rooms::create_room))
        .route("/chat/chat_rooms/{room_id}", get(rooms::get_room))
        .route("/chat/chat_rooms/{room_id}/members", post(rooms::add_member))
        .route("/chat/chat_rooms/{room_id}/members/{user_id}", delete(rooms::remove_member))
        .route("/chat/chat_rooms/{room_id}/messages", get(messages::history).post(messages::post))
        .route("/chat/chat_rooms/{room_id}/read", post(messages::mark_read))
        .route("/chat/messages/{id}", axum::routing::patch(messages::edit).delete(messages::delete))
        .route("/chat/messages/{id}/reactions/{emoji}", put(messages::add_reaction).delete(messages::remove_reaction))
        .route("/chat/search", get(messages::search))
        .route("/chat/upload_media", post(media::upload).layer(media::body_limit(&state)))
        .route("/media/{name}", get(media::serve))
        .route("/admin/invites", get(admin::list_invites).post(admin::create_invite))
        .route("/admin/invites/{code}", delete(admin::revoke_invite))
        .route("/admin/users", get(admin::list_users))
        .route("/admin/users/{id}", axum::routing::patch(admin::change_user))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/", get(crate::web::asset))
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(middleware::from_fn_with_state(state.clone(), request_timeout))
        .layer(CatchPanicLayer::custom(panic_response))
        // Outside the timeout and the panic catcher, so their 500s get the charset too.
        .layer(middleware::map_response(json_charset))
        // Outermost, so that every response, a timeout's or a panic's too, names its route.
        .layer(middleware::from_fn(observe::tag_route));
    router.with_state(state)
}

/// SPEC §1: JSON bodies are `application/json; charset=utf-8` (axum writes the bare type).
async fn json_charset(mut response: Response) -> Response {
    let headers = response.headers_mut();
    if headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes() == b"application/json") {
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    }
    response
}

/// Unknown paths: a UI asset if one has that name, else the SPEC's 404.
async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method == Method::GET || method == Method::HEAD {
        crate::web::asset(uri, headers).await
    } else {
        ApiError::NotFound(format!("No route for {} {}.", method, uri.path())).into_response()
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {}.", uri.path(), method))
}

/// `--request-timeout`: a request still running after it gets the SPEC's 500. Uploads are
/// exempt: a 10 MiB file over a slow link legitimately takes longer, and `--max-upload` bounds it.
async fn request_timeout(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit: Duration = state.config.request_timeout;
    let path = request.uri().path().to_string();
    if path.starts_with("/chat/upload_media") {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::internal(format!("request to {path} timed out after {limit:?}")).into_response(),
    }
}

/// `--cors-origin`, for the whole port (REST and Socket.IO's long-polling alike). Only with the
/// flag: a CORS layer answers every OPTIONS request as a browser's pre-check, so without one an
/// OPTIONS gets the same 404/405 as any other unknown method.
pub fn cors(origins: &[String]) -> Option<CorsLayer> {
    if origins.is_empty() {
        return None;
    }
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    Some(if origins.iter().any(|o| o == "*") {
        layer.allow_origin(AllowOrigin::any())
    } else {
        let list: Vec<HeaderValue> = origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()).collect();
        layer.allow_origin(list)
    })
}

//! Every REST route in one table, and the layers applied once to all of them.

pub mod admin;
pub mod auth;
pub mod docs;
pub mod errors;
pub mod extract;
pub mod hooks;
pub mod media;
pub mod messages;
pub mod observe;
pub mod operations;
pub mod push;
pub mod rooms;
pub mod timeout;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, HeaderValue, Method, Uri, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::OpenApi;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;

use crate::AppState;
use crate::error::ApiError;
use errors::panic_response;

/// Every REST route with its OpenAPI annotation: utoipa-axum's `routes!` adds a handler to the
/// axum router and its `#[utoipa::path]` to the document in one call, so a documented route
/// cannot be missing from either ([`docs`]). The few routes that are not API (the web UI's
/// page, the API viewer) are added with plain `route` and listed in [`UNDOCUMENTED`];
/// `tests/it/openapi.rs` holds the router and the document to that, both ways.
/// `upload_body_limit` is the upload route's body limit (`--max-upload` plus framing).
pub fn router(upload_body_limit: usize) -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(docs::ApiDoc::openapi())
        .routes(routes!(auth::signup))
        .routes(routes!(auth::login))
        .routes(routes!(auth::token))
        .routes(routes!(auth::me, auth::update_me))
        .routes(routes!(auth::search))
        .routes(routes!(rooms::list_private_chats, rooms::open_private_chat))
        .routes(routes!(rooms::list_rooms, rooms::create_room))
        .routes(routes!(rooms::get_room, rooms::update_room))
        .routes(routes!(rooms::join_room))
        .routes(routes!(rooms::directory))
        .routes(routes!(rooms::add_member))
        .routes(routes!(rooms::remove_member))
        .routes(routes!(push::set_notify))
        .routes(routes!(push::key))
        .routes(routes!(push::subscribe, push::unsubscribe))
        .routes(routes!(push::test))
        .routes(routes!(messages::history, messages::post))
        .routes(routes!(messages::mark_read))
        .routes(routes!(messages::edit, messages::delete))
        .routes(routes!(messages::add_reaction, messages::remove_reaction))
        .routes(routes!(messages::search))
        .routes(routes!(media::upload).layer(DefaultBodyLimit::max(upload_body_limit)))
        .routes(routes!(media::serve))
        .routes(routes!(admin::list_invites, admin::create_invite))
        .routes(routes!(admin::revoke_invite))
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::change_user))
        .routes(routes!(admin::list_bots, admin::create_bot))
        .routes(routes!(admin::change_bot, admin::delete_bot))
        .routes(routes!(admin::rotate_bot_token))
        .routes(routes!(hooks::post))
        .routes(routes!(hooks::post_to_room).layer(DefaultBodyLimit::max(upload_body_limit)))
        .routes(routes!(operations::healthz))
        .routes(routes!(operations::metrics))
        .routes(routes!(docs::openapi))
        .route("/", get(crate::transport::web::asset))
        .route("/docs", get(docs::viewer))
        .route("/docs/{*file}", get(docs::viewer_asset))
}

/// The routes that are not part of the API, so not in the OpenAPI document: the web UI's page
/// and the API reference viewer.
pub const UNDOCUMENTED: &[&str] = &["/", "/docs", "/docs/{*file}"];

pub fn routes(state: AppState) -> Router {
    let json_limit = usize::try_from(state.config.max_body).unwrap_or(usize::MAX);
    let (router, _) = router(media::upload_body_limit(&state)).split_for_parts();
    let router = router
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(json_limit))
        .layer(middleware::from_fn_with_state(state.clone(), timeout::request_timeout))
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

/// On every response of the port (the API, its errors, `/media`, Socket.IO's HTTP answers, the
/// UI): `X-Content-Type-Options: nosniff`, so no browser runs a JSON error or a text file as
/// script or HTML, and a `Referrer-Policy`, so a link followed from anything natter served never
/// carries its URL (a `/media` capability, a `?token=`) to another site. Headers a response
/// already set win: the UI's files send `same-origin`; everything else gets `no-referrer`.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    headers.entry(header::REFERRER_POLICY).or_insert(HeaderValue::from_static("no-referrer"));
    response
}

/// Unknown paths: a UI asset if one has that name, else the SPEC's 404.
async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method == Method::GET || method == Method::HEAD {
        crate::transport::web::asset(uri, headers).await
    } else {
        ApiError::NotFound(format!("No route for {} {}.", method, uri.path())).into_response()
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::MethodNotAllowed(format!("{} does not accept {}.", uri.path(), method))
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

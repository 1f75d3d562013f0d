//! What every HTTP request leaves behind: one access line at `info` (target `natter::access`,
//! with the client's address: behind a `--trust-proxy`, the one the proxy names) and, with `--metrics`, `natter_http_requests_total` and `natter_http_request_duration_seconds`.
//!
//! Both name the request by its method and the route template it matched
//! (`/chat/chat_rooms/{room_id}/messages`), never by its path or query: paths carry ids and
//! `/media` capability names, and a Socket.IO handshake's query may carry a token. What matched
//! no route is `static` (a UI file served by the fallback) or `unmatched`; Socket.IO's own
//! requests are `/socket.io/`. The REST router tags each response with its route
//! ([`tag_route`]); [`observe`] sits outside everything (CORS and Socket.IO included) and reads
//! the tag.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

/// The route a REST response came from, put into its extensions by [`tag_route`].
#[derive(Clone)]
enum RouteTag {
    Matched(MatchedPath),
    /// A UI file, from the fallback.
    Static,
    Unmatched,
}

impl RouteTag {
    fn as_str(&self) -> &str {
        match self {
            RouteTag::Matched(path) => path.as_str(),
            RouteTag::Static => "static",
            RouteTag::Unmatched => "unmatched",
        }
    }
}

/// Inside the REST router, where axum knows the matched route: tag the response with it.
pub async fn tag_route(request: Request, next: Next) -> Response {
    let matched = request.extensions().get::<MatchedPath>().cloned();
    let reads = request.method() == Method::GET || request.method() == Method::HEAD;
    let mut response = next.run(request).await;
    let tag = match matched {
        Some(path) => RouteTag::Matched(path),
        None if reads && matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED) => RouteTag::Static,
        None => RouteTag::Unmatched,
    };
    response.extensions_mut().insert(tag);
    response
}

/// A bounded label for the method: the standard ones, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Outermost: time the request, then log it and count it.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let socket_io = request.uri().path().starts_with("/socket.io");
    // Behind a --trust-proxy, the address the proxy names.
    let client = crate::server::client::ClientAddr::of(request.extensions()).map(|c| c.0);
    let mut response = next.run(request).await;
    let took = started.elapsed();
    let tag = response.extensions_mut().remove::<RouteTag>();
    let route = match &tag {
        Some(tag) => tag.as_str(),
        None if socket_io => "/socket.io/",
        None => "unmatched",
    };
    let status = response.status().as_u16();
    tracing::info!(
        target: "natter::access",
        client = client.map(tracing::field::display),
        method = %method,
        route = %route,
        status,
        duration_ms = took.as_micros() as f64 / 1000.0,
        "request"
    );
    state.metrics.http_request(method, route, status, took);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusual_methods_share_one_label() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"BREW").unwrap()), "other");
    }
}

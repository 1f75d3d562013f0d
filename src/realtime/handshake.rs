//! Owned, trimmed copies of the handshake request's parts.
//!
//! socketioxide keeps the handshake request's parts for the socket's whole life, so whatever
//! they hold is paid for by every idle socket:
//! - hyper's parsed URI and header values are slices of the connection's read buffer, so they
//!   would pin that buffer (~7 KB measured): the URI and headers are copied into fresh
//!   allocations (27.8 → 20 KB of RSS per idle connection), and only the headers something
//!   reads are kept;
//! - axum's Router adds `OriginalUri` (another reference to the read buffer) and its URL
//!   params, which grow the extension map: only the extensions the socket needs are kept.
//!
//! The layer therefore sits inside the Router, right in front of the Socket.IO layer, and only
//! touches the requests the Socket.IO layer takes.

use std::net::SocketAddr;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, SEC_WEBSOCKET_KEY};
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Request, Uri};
use tower::{Layer, Service};

/// Where socketioxide serves (its default `req_path`).
const SOCKET_IO_PATH: &str = "/socket.io";

/// The only request headers anything reads from a socket's handshake: engineioxide the WebSocket
/// key (to answer the upgrade) and a polling body's type, `handshake_token` the bearer token.
/// Every other header (from a browser often a kilobyte: cookies, user agent, languages) would be
/// kept for the socket's whole life for nobody. A handler that needs another one adds it here.
const KEPT_HEADERS: [HeaderName; 3] = [SEC_WEBSOCKET_KEY, CONTENT_TYPE, AUTHORIZATION];

#[derive(Clone, Copy, Default)]
pub struct OwnedHandshakeLayer;

impl<S> Layer<S> for OwnedHandshakeLayer {
    type Service = OwnedHandshake<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OwnedHandshake { inner }
    }
}

#[derive(Clone)]
pub struct OwnedHandshake<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for OwnedHandshake<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if is_socket_io(request.uri().path()) {
            own_parts(&mut request);
        }
        self.inner.call(request)
    }
}

/// The same test as engineioxide's: `/socket.io` or anything under `/socket.io/`.
fn is_socket_io(path: &str) -> bool {
    path.strip_prefix(SOCKET_IO_PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn own_parts<B>(request: &mut Request<B>) {
    // The URI and the kept header values are copied into one buffer that their copies share:
    // two allocations (the buffer and, once sliced, its reference count) instead of two each.
    let mut buffer = request.uri().to_string().into_bytes();
    let uri_end = buffer.len();
    let mut values = Vec::new();
    for name in &KEPT_HEADERS {
        for value in request.headers().get_all(name) {
            let start = buffer.len();
            buffer.extend_from_slice(value.as_bytes());
            values.push((name, start..buffer.len()));
        }
    }
    let buffer = Bytes::from(buffer.into_boxed_slice());
    if let Ok(uri) = Uri::from_maybe_shared(buffer.slice(..uri_end)) {
        *request.uri_mut() = uri;
    }
    let mut headers = HeaderMap::with_capacity(values.len());
    for (name, range) in values {
        if let Ok(value) = HeaderValue::from_maybe_shared(buffer.slice(range)) {
            headers.append(name.clone(), value);
        }
    }
    *request.headers_mut() = headers;
    // hyper's upgrade handle (engineioxide needs it for WebSocket) and the peer's and client's
    // addresses; the
    // Router's `OriginalUri` and URL params are dropped.
    let old = request.extensions_mut();
    let mut kept = Extensions::new();
    if let Some(upgrade) = old.remove::<hyper::upgrade::OnUpgrade>() {
        kept.insert(upgrade);
    }
    if let Some(peer) = old.remove::<ConnectInfo<SocketAddr>>() {
        kept.insert(peer);
    }
    // The client behind a trusted proxy, for per-address bounds on sockets.
    if let Some(client) = old.remove::<crate::server::client::Client>() {
        kept.insert(client);
    }
    *old = kept;
}

#[cfg(test)]
mod tests {
    use super::is_socket_io;

    #[test]
    fn socket_io_paths() {
        assert!(is_socket_io("/socket.io"));
        assert!(is_socket_io("/socket.io/"));
        assert!(is_socket_io("/socket.io/anything"));
        assert!(!is_socket_io("/socket.iox"));
        assert!(!is_socket_io("/api/socket.io"));
    }
}

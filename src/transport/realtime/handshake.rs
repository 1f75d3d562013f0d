//! The door to Socket.IO: who may open a session ([`admit`]), and owned, trimmed copies of the
//! handshake request's parts ([`OwnedHandshakeLayer`]).
//!
//! ## Admission
//!
//! Before a request reaches socketioxide, [`admit`] decides whether it may:
//! - A request that holds its connection for long (a WebSocket upgrade, a long-poll `GET`)
//!   needs one of the long-lived connection permits (`server::ConnectionShare`); when they are
//!   all taken it gets 503 `unavailable`, so the `--http-reserve` stays free for login,
//!   `/healthz` and the API. An upgraded connection keeps its permit until it closes.
//! - A request that opens a session (no `sid`: a direct WebSocket or a polling handshake)
//!   counts against its client address (`--max-sockets-per-address`) from that moment, not from
//!   its Socket.IO CONNECT: past the cap it gets 429 `rate_limited`. The count is a
//!   `SessionSlot`: a WebSocket's connection keeps it until it closes; a long-polling session's
//!   is put into the request's extensions, which engineioxide keeps with the session (below)
//!   and drops with it, however the session ends (for one that ends before its CONNECT, only
//!   once its handshake timeout has run out: socketioxide's timer holds the session until then).
//!   A polling session that upgrades to WebSocket keeps the count it began with.
//! - A session that has not CONNECTed within `--handshake-timeout` is closed by socketioxide's
//!   connect timeout (`realtime::layer`).
//!
//! Measured with `--max-connections 300` and WebSockets from one address that never CONNECT
//! (`tests/it/connections.rs`): before, all 300 connections were taken, `/healthz` got no answer,
//! and each session lived 45 s (socketioxide's default connect timeout). Now, with
//! `--max-sockets-per-address 50`, 50 are held and 250 refused with 429; with no per-address
//! cap, 270 are held and 30 refused with 503; `/healthz` answers either way, and with
//! `--handshake-timeout 1s` a silent session is closed after 1.0 s. Refusals carry
//! `Connection: close`, so a refused client gives its connection back at once.
//!
//! ## Owned copies
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

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{AUTHORIZATION, CONNECTION, CONTENT_TYPE, SEC_WEBSOCKET_KEY, UPGRADE};
use axum::http::{Extensions, HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::{Layer, Service};

use crate::AppState;
use crate::error::ApiError;
use crate::server::ConnectionShare;
use crate::server::client::ClientAddr;
use crate::usecase::admission::SessionSlot;

/// Where socketioxide serves (its default `req_path`).
const SOCKET_IO_PATH: &str = "/socket.io";

/// The only request headers anything reads from a socket's handshake: engineioxide the WebSocket
/// key (to answer the upgrade) and a polling body's type, `handshake_token` the bearer token.
/// Every other header (from a browser often a kilobyte: cookies, user agent, languages) would be
/// kept for the socket's whole life for nobody. A handler that needs another one adds it here.
const KEPT_HEADERS: [HeaderName; 3] = [SEC_WEBSOCKET_KEY, CONTENT_TYPE, AUTHORIZATION];

/// A session's count against its client address, carried in the handshake request's parts
/// (which engineioxide keeps for exactly the session's life) and given back when they go.
#[derive(Clone)]
struct Session {
    _slot: Arc<SessionSlot>,
}

/// Admit a Socket.IO request, or refuse it (see the module doc). Other requests pass untouched.
pub async fn admit(State(state): State<AppState>, mut request: axum::extract::Request, next: Next) -> Response {
    if !is_socket_io(request.uri().path()) {
        return next.run(request).await;
    }
    let upgrade = request.headers().contains_key(UPGRADE);
    let long_poll = request.method() == Method::GET && has_sid(request.uri());
    let share = request.extensions().get::<ConnectionShare>().cloned();
    let permit = match &share {
        Some(share) if upgrade || long_poll => match share.long_lived() {
            Some(permit) => Some(permit),
            None => {
                tracing::debug!("Socket.IO request refused: the long-lived connections are all taken");
                return refuse(ApiError::Busy(
                    "The server has no connection free for realtime clients now; try again shortly.",
                ));
            }
        },
        // A short request, or one that did not come through the accept loop.
        _ => None,
    };
    let mut session = None;
    if !has_sid(request.uri()) {
        let address = ClientAddr::of(request.extensions())
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ClientAddr(address)| address);
        match state.admission.open_session(address) {
            // A direct WebSocket's session is its connection: the count goes with the
            // connection (below), which closes the moment either side ends it. In the request's
            // parts it would outlive a client that left before its CONNECT by up to the
            // handshake timeout, because socketioxide's connect-timeout task keeps them.
            Ok(slot) if upgrade && share.is_some() => session = Some(slot),
            Ok(slot) => {
                request.extensions_mut().insert(Session { _slot: Arc::new(slot) });
            }
            Err(e) => return refuse(e),
        }
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS
        && let Some(share) = share
    {
        // The request is over; the connection now belongs to the WebSocket.
        if let Some(permit) = permit {
            share.keep_until_closed(permit);
        }
        if let Some(session) = session {
            share.keep_until_closed(session);
        }
    }
    response
}

/// The error, and `Connection: close`: the refused client gives its connection back at once.
fn refuse(error: ApiError) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

/// An Engine.IO request for an existing session names it (`sid=`); one without opens a new one.
fn has_sid(uri: &Uri) -> bool {
    uri.query().is_some_and(|query| query.split('&').any(|pair| pair.starts_with("sid=")))
}

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
    // hyper's upgrade handle (engineioxide needs it for WebSocket), the peer's address (to cut a
    // connection that stopped reading, `delivery`) and a new session's count against its
    // address (`admit`), which must live exactly as long as the session. The Router's
    // `OriginalUri` and URL params, the client address and the connection's share are dropped.
    let old = request.extensions_mut();
    let mut kept = Extensions::new();
    if let Some(upgrade) = old.remove::<hyper::upgrade::OnUpgrade>() {
        kept.insert(upgrade);
    }
    if let Some(peer) = old.remove::<ConnectInfo<SocketAddr>>() {
        kept.insert(peer);
    }
    if let Some(session) = old.remove::<Session>() {
        kept.insert(session);
    }
    *old = kept;
}

#[cfg(test)]
mod tests {
    use super::{has_sid, is_socket_io};

    #[test]
    fn socket_io_paths() {
        assert!(is_socket_io("/socket.io"));
        assert!(is_socket_io("/socket.io/"));
        assert!(is_socket_io("/socket.io/anything"));
        assert!(!is_socket_io("/socket.iox"));
        assert!(!is_socket_io("/api/socket.io"));
    }

    #[test]
    fn a_request_without_a_sid_opens_a_session() {
        let uri = |text: &str| text.parse::<axum::http::Uri>().unwrap();
        assert!(!has_sid(&uri("/socket.io/?EIO=4&transport=websocket")));
        assert!(!has_sid(&uri("/socket.io/?EIO=4&transport=polling&t=abc")));
        assert!(!has_sid(&uri("/socket.io/")));
        assert!(has_sid(&uri("/socket.io/?EIO=4&transport=polling&sid=Xyz")));
        assert!(has_sid(&uri("/socket.io/?sid=Xyz&EIO=4&transport=websocket")));
        assert!(!has_sid(&uri("/socket.io/?EIO=4&transport=polling&xsid=1")));
    }
}

//! Owned copies of the handshake request's URI and headers.
//!
//! socketioxide keeps the handshake request's parts for the socket's whole life, and hyper's
//! parsed URI and header values are slices of the connection's read buffer, so every idle
//! socket pins that buffer (~7 KB measured). Copying the few bytes we need into fresh
//! allocations lets the buffer go: 28.8 → 17.7 KB of RSS per idle connection measured on the
//! dev machine with an equivalent stand-in. Only `/socket.io` requests pay for the copy.

use std::task::{Context, Poll};

use axum::http::{HeaderMap, HeaderName, HeaderValue, Request, Uri};
use tower::{Layer, Service};

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
        if request.uri().path().starts_with("/socket.io") {
            own_parts(&mut request);
        }
        self.inner.call(request)
    }
}

fn own_parts<B>(request: &mut Request<B>) {
    if let Ok(uri) = Uri::try_from(request.uri().to_string()) {
        *request.uri_mut() = uri;
    }
    let mut headers = HeaderMap::with_capacity(request.headers().len());
    for (name, value) in request.headers() {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name.as_str().as_bytes()), HeaderValue::from_bytes(value.as_bytes()))
        {
            headers.append(name, value);
        }
    }
    *request.headers_mut() = headers;
}

//! The accept loop: every TCP connection, plain or TLS, served by hyper's HTTP/1.1 with
//! upgrades (Socket.IO's WebSocket), until shutdown.
//!
//! axum::serve cannot take a TLS stream, so natter drives each connection itself, the way
//! axum::serve does inside (hyper-util's `TowerToHyperService` idea, written out): accept, set
//! `TCP_NODELAY`, do the TLS handshake when `--tls-cert` is given, then hand the stream to
//! hyper with a service that puts into each request what the handlers need to know about the
//! connection: `ConnectInfo<SocketAddr>` (the TCP peer) and the [`client::Client`] (the real
//! client behind a `--trust-proxy`, and whether it came over HTTPS). With TLS, every response
//! carries `Strict-Transport-Security`.
//!
//! Shutdown: stop accepting, ask every connection to finish its current request and close
//! (hyper's graceful shutdown), and return once all have; `crate::serve` bounds that wait.
//!
//! `--max-connections` is one semaphore taken before `accept`, so a full server leaves newcomers
//! in the kernel's queue; per connection the loop adds one small allocation (its share, below)
//! and each request one extension. Inside it,
//! connections held for long by one request (a WebSocket, a long-poll) may take only part of
//! the permits: every request carries a [`ConnectionShare`] through which the layer that
//! recognises such a request takes a long-lived permit (or refuses it), held for the request or,
//! once the connection is upgraded, until the connection closes. The rest, `--http-reserve`, is
//! left for plain requests. Why: WebSockets that never sent a Socket.IO CONNECT filled every
//! slot (10,000 of them, from one address, and `/healthz` took 20 s; at `--max-connections 300`
//! all 300, and `/healthz` got no answer). With the default 10% reserve, 270 of 300 are taken
//! and `/healthz` and login answer: plain requests always find a slot realtime clients cannot
//! take. A new connection's kind is not known when it is accepted, so the reserve is enforced
//! when its request says what it is, not in this loop.

pub mod addresses;
pub mod client;
pub mod connections;
mod protocol_errors;
pub mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::ConnectInfo;
use axum::http::header::STRICT_TRANSPORT_SECURITY;
use axum::http::{HeaderValue, Request};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tower::ServiceExt;

use self::client::TrustedProxies;
use self::tls::Tls;
use crate::server::connections::{Connections, Killable};

/// One year; browsers only keep it from a connection without certificate errors (RFC 6797
/// §8.1), so a self-signed certificate someone clicked through does not get stuck.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// What the accept loop needs besides the routes.
#[derive(Clone)]
pub struct Options {
    /// `--tls-cert`/`--tls-key`, loaded.
    pub tls: Option<Arc<Tls>>,
    /// `--trust-proxy`.
    pub trusted: TrustedProxies,
    /// `--header-timeout`: the TLS handshake, and each request's head (hyper's
    /// `header_read_timeout`, which starts when hyper waits for a head: at accept and after each
    /// response, so it also closes an idle keep-alive connection). Zero = no bound.
    pub header_timeout: Duration,
    /// `--max-connections`: open connections at once, upgraded WebSockets included; the
    /// listener stops accepting (the kernel queues newcomers) until one closes.
    pub max_connections: usize,
    /// Of those, how many may be held by long-lived requests at once (`--max-connections` less
    /// `--http-reserve`), taken through each request's [`ConnectionShare`].
    pub long_lived: usize,
    /// Every accepted connection is registered here with a kill switch (beneath TLS), so the
    /// realtime layer can cut the one a slow Socket.IO client came in on.
    pub connections: Arc<Connections>,
}

struct Shared {
    router: axum::Router,
    options: Options,
}

/// Serve `router` on `listener` until `signal` resolves, then close every connection gracefully
/// and return when the last one has closed.
pub async fn serve(listener: TcpListener, router: axum::Router, options: Options, signal: impl Future<Output = ()>) {
    let permits = Arc::new(Semaphore::new(options.max_connections.max(1)));
    let long_lived = Arc::new(Semaphore::new(options.long_lived));
    let shared = Arc::new(Shared { router, options });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection task holds a receiver; `closed()` resolves when the last one is dropped.
    let (open_tx, open_rx) = watch::channel(());
    tokio::pin!(signal);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            () = &mut signal => break,
        };
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        // Without TCP_NODELAY a small ack written just before a broadcast waits for the peer's
        // next packet (Nagle): ack p50 10.4 ms → 1.4 ms measured with it set.
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let stop = stop_rx.clone();
        let open = open_rx.clone();
        let kept = Arc::new(Kept::default());
        let share = ConnectionShare { kept: Arc::downgrade(&kept), long_lived: long_lived.clone() };
        let tcp = Counted { io: shared.options.connections.wrap(tcp, peer), _permit: permit, _kept: kept };
        tokio::spawn(async move {
            connection(tcp, peer, share, &shared, stop).await;
            drop(open);
        });
    }
    drop(listener);
    drop(open_rx);
    let _ = stop_tx.send(true);
    open_tx.closed().await;
}

/// A failed `accept`: a connection that died before it was accepted is nothing; running out of
/// file descriptors (or memory) is, and accepting again at once would spin, so wait a second.
async fn accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; trying again in a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn connection(
    tcp: Counted<Killable<TcpStream>>,
    peer: SocketAddr,
    share: ConnectionShare,
    shared: &Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) {
    tracing::trace!(%peer, "connection accepted");
    match &shared.options.tls {
        None => http(tcp, peer, false, share, shared, stop).await,
        Some(tls) => {
            let limit = Some(shared.options.header_timeout).filter(|t| !t.is_zero()).unwrap_or(Duration::MAX);
            let handshake = tokio::time::timeout(limit, tls.acceptor().accept(tcp));
            let stream = tokio::select! {
                done = handshake => match done {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                    Err(_) => return tracing::debug!(%peer, "TLS handshake timed out"),
                },
                _ = stop.wait_for(|stopping| *stopping) => return,
            };
            http(stream, peer, true, share, shared, stop).await;
        }
    }
}

/// Serve HTTP/1.1 on one connection until it closes, or until shutdown once its current
/// request is answered.
async fn http<I>(
    io: I,
    peer: SocketAddr,
    tls: bool,
    share: ConnectionShare,
    shared: &Arc<Shared>,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let per_request = shared.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let mut request = request.map(axum::body::Body::new);
        let client = per_request.options.trusted.client(peer.ip(), tls, request.headers());
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(client);
        request.extensions_mut().insert(share.clone());
        let router = per_request.router.clone();
        async move {
            let mut response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if tls {
                response.headers_mut().entry(STRICT_TRANSPORT_SECURITY).or_insert(HSTS);
            }
            Ok::<_, Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    if !shared.options.header_timeout.is_zero() {
        builder.timer(TokioTimer::new()).header_read_timeout(shared.options.header_timeout);
    }
    let io = protocol_errors::SpecErrors::new(io, tls);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    let connection = connection.with_upgrades();
    tokio::pin!(connection);
    let stopped = stop.wait_for(|stopping| *stopping);
    tokio::pin!(stopped);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                break;
            }
            _ = &mut stopped, if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A request's way to its connection's part of `--max-connections`, in its extensions.
///
/// A request that will hold its connection for long (a WebSocket upgrade, a long-poll) takes a
/// [`LongLived`] permit first; none free means the long-lived share is used up and the request
/// should be refused, which leaves the `--http-reserve` to plain requests.
#[derive(Clone)]
pub struct ConnectionShare {
    /// What the connection keeps until it closes. Weak: only the connection's I/O ([`Counted`])
    /// owns it, so a request (or a handshake's request parts that socketioxide keeps) can never
    /// keep it alive past the connection.
    kept: Weak<Kept>,
    long_lived: Arc<Semaphore>,
}

/// Whatever an upgraded connection holds until it closes: its long-lived permit, and what the
/// layers above count against it (a Socket.IO session's place under its address's cap).
type Kept = Mutex<Vec<Box<dyn Send>>>;

/// One of the long-lived permits; given back when dropped.
pub struct LongLived {
    _permit: OwnedSemaphorePermit,
}

impl ConnectionShare {
    /// A long-lived permit, if one is free.
    pub fn long_lived(&self) -> Option<LongLived> {
        self.long_lived.clone().try_acquire_owned().ok().map(|permit| LongLived { _permit: permit })
    }

    /// Keep `held` (a [`LongLived`] permit, a count's guard) until this connection closes: it was
    /// upgraded, and from now on it belongs to the upgraded stream rather than to any request.
    /// Dropped at once if the connection is already gone.
    pub fn keep_until_closed(&self, held: impl Send + 'static) {
        if let Some(kept) = self.kept.upgrade() {
            crate::runtime::mutexes::lock(&kept).push(Box::new(held));
        }
    }
}

/// A connection that holds one `--max-connections` permit for as long as it is open: through
/// TLS and hyper, and after a WebSocket upgrade inside engineioxide, until the stream is dropped.
/// An upgraded one also holds its long-lived permit ([`ConnectionShare::keep_until_closed`]).
struct Counted<I> {
    io: I,
    _permit: OwnedSemaphorePermit,
    _kept: Arc<Kept>,
}

impl<I: AsyncRead + Unpin> AsyncRead for Counted<I> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Counted<I> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

//! Accepted TCP connections, each with a kill switch, found by peer address.
//!
//! Why: a Socket.IO client that stops reading fills its socket's outgoing queue, and from then
//! on socketioxide can neither queue an event nor the DISCONNECT packet that would tell the
//! client (both need a free slot), and it offers no public way to close the engine.io transport.
//! Dropping events while keeping the socket is what the issue forbids; waiting for the heartbeat
//! (up to `pingInterval` + `pingTimeout`) leaves a window in which the client may read again and
//! resume after a silent gap. So the accept loop (`server`) wraps every connection in [`Killable`], and the
//! realtime layer, when a socket's queue overflows, kills the TCP connection it came in on: every
//! pending and later read or write fails at once, engineioxide sees a transport error and closes
//! the socket, and the client sees the connection drop (a "transport close", after which
//! socket.io-client reconnects by itself and the UI catches up with `after=`).
//!
//! The registry is keyed by the peer's `SocketAddr`, which is unique among open TCP connections
//! on one listener, and which every request (the Socket.IO handshake included) already carries
//! as `ConnectInfo`. An entry is removed when its connection is dropped. Cost: one small `Arc`
//! and one map entry per open connection, and one uncontended lock per accept and per close.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The open connections of one server, by peer address.
#[derive(Default)]
pub struct Connections {
    open: Mutex<HashMap<SocketAddr, Arc<Switch>>>,
}

impl Connections {
    /// Register a freshly accepted connection from `peer` and wrap its I/O.
    pub fn wrap<IO>(self: &Arc<Self>, io: IO, peer: SocketAddr) -> Killable<IO> {
        let switch = Arc::new(Switch::default());
        crate::runtime::mutexes::lock(&self.open).insert(peer, switch.clone());
        Killable { io, switch, peer, registry: Arc::downgrade(self) }
    }

    /// Kill the connection from `peer`, if it is still open: `true` if one was found.
    pub fn kill(&self, peer: SocketAddr) -> bool {
        let switch = crate::runtime::mutexes::lock(&self.open).get(&peer).cloned();
        match switch {
            Some(switch) => {
                switch.kill();
                true
            }
            None => false,
        }
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        crate::runtime::mutexes::lock(&self.open).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn forget(&self, peer: SocketAddr, switch: &Arc<Switch>) {
        let mut open = crate::runtime::mutexes::lock(&self.open);
        // The same address may already belong to a newer connection (port reuse): leave it.
        if open.get(&peer).is_some_and(|current| Arc::ptr_eq(current, switch)) {
            open.remove(&peer);
        }
    }
}

#[derive(Default)]
struct Switch {
    killed: AtomicBool,
    /// The tasks blocked in a read and in a write, woken by [`Switch::kill`].
    wakers: Mutex<[Option<Waker>; 2]>,
}

const READ: usize = 0;
const WRITE: usize = 1;

impl Switch {
    fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        let wakers = std::mem::take(&mut *crate::runtime::mutexes::lock(&self.wakers));
        for waker in wakers.into_iter().flatten() {
            waker.wake();
        }
    }

    /// `Err` once killed; otherwise remember who to wake for `side`.
    fn check(&self, side: usize, cx: &Context<'_>) -> io::Result<()> {
        if self.killed.load(Ordering::SeqCst) {
            return Err(killed());
        }
        {
            let mut wakers = crate::runtime::mutexes::lock(&self.wakers);
            match &mut wakers[side] {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
        }
        // Killed between the first look and the registration: the wake may have been missed.
        if self.killed.load(Ordering::SeqCst) { Err(killed()) } else { Ok(()) }
    }
}

fn killed() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionAborted, "connection closed by the server (outgoing queue full)")
}

/// A connection's I/O that fails every read and write once its switch is killed.
pub struct Killable<IO> {
    io: IO,
    switch: Arc<Switch>,
    peer: SocketAddr,
    registry: Weak<Connections>,
}

impl<IO> Killable<IO> {
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }
}

impl<IO> Drop for Killable<IO> {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            registry.forget(self.peer, &self.switch);
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Killable<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        self.switch.check(READ, cx)?;
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Killable<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.switch.check(WRITE, cx)?;
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.switch.check(WRITE, cx)?;
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.switch.check(WRITE, cx)?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Shutting down a killed connection is what the caller wants anyway.
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_kill_fails_a_blocked_read_and_forgets_the_connection() {
        let connections = Arc::new(Connections::default());
        let (client, server) = tokio::io::duplex(64);
        let peer: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        let mut server = connections.wrap(server, peer);
        assert_eq!(connections.len(), 1);
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 8];
            let read = server.read(&mut buf).await;
            let write = server.write_all(b"x").await;
            (read.map_err(|e| e.kind()), write.map_err(|e| e.kind()))
        });
        tokio::task::yield_now().await;
        assert!(connections.kill(peer));
        let (read, write) = reader.await.unwrap();
        assert_eq!(read, Err(io::ErrorKind::ConnectionAborted));
        assert_eq!(write, Err(io::ErrorKind::ConnectionAborted));
        assert!(connections.is_empty(), "dropped with its task");
        assert!(!connections.kill(peer));
        drop(client);
    }
}

//! Delivery is complete or visibly broken.
//!
//! Every socket has an outgoing queue of `--socket-queue` packets (socketioxide's
//! `max_buffer_size`). A client that stops reading fills it, and from then on socketioxide
//! refuses each packet for that socket; a broadcast reports that *some* socket missed the event
//! but not which, and the socket stays connected, so after the client read again it went on
//! receiving later events with a silent gap (found by probing: ~1,700 of 5,000 messages, then
//! the next one). Here every emit goes to one socket at a time, and the first packet a socket
//! cannot take marks it as overflowed: it leaves every room (so nothing after the gap can reach
//! it), it is counted (`natter_socketio_slow_disconnects_total`) and logged, and it is closed:
//! - a WebSocket opened directly (`transport=websocket`, what socket.io-client does when told
//!   to, and every bot) has its TCP connection cut at once ([`crate::server::connections`]); the client
//!   sees a transport close, reconnects, and catches up with `after=`;
//! - otherwise (long-polling, or a WebSocket upgraded from it, whose TCP connection the
//!   handshake does not name) the DISCONNECT packet is queued as soon as a slot frees, so the
//!   client learns it was disconnected before it could see anything newer; and a client that
//!   never reads again is closed by the engine.io heartbeat (its ping cannot be queued).
//!
//! Emitting per socket would cost one encoding of the event per socket (socketioxide's `emit`
//! serialises its data at every call), so [`emit_each`] encodes the data once into a JSON
//! [`RawValue`](serde_json::value::RawValue) and hands each socket that: its per-socket cost
//! is a copy of the bytes into the packet. Measured against per-socket encoding and the bare
//! socketioxide stand-in (`cargo bench --bench socketio -- fanout` / `-- standin`): 0.9–2.5 µs
//! less server CPU per delivery (docs/benchmarks.md).

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ConnectInfo;
use serde::Serialize;
use socketioxide::extract::SocketRef;
use socketioxide::{SendError, SocketError};

use crate::AppState;

/// Set on a socket once its queue overflowed; it is being closed.
#[derive(Clone, Copy)]
struct Overflowed;

/// How often a socket whose queue is full is offered its DISCONNECT packet again.
const RETRY_DISCONNECT: Duration = Duration::from_millis(50);

/// Emit `event` to each of `sockets`, the data encoded once for all of them.
pub fn emit_each<T: ?Sized + Serialize>(state: &AppState, sockets: Vec<SocketRef>, event: &str, data: &T) {
    if sockets.is_empty() {
        return;
    }
    let encoded = match serde_json::value::to_raw_value(data) {
        Ok(encoded) => encoded,
        Err(e) => return tracing::error!(error = %e, event, "could not encode an event"),
    };
    for socket in &sockets {
        emit(state, socket, event, &*encoded);
    }
}

/// Emit `event` to `socket`; a full queue closes it.
pub fn emit<T: ?Sized + Serialize>(state: &AppState, socket: &SocketRef, event: &str, data: &T) {
    checked(state, socket, socket.emit(event, data));
}

/// Look at what a send to `socket` returned (an emit or an ack): a full queue closes it.
pub fn checked(state: &AppState, socket: &SocketRef, sent: Result<(), SendError>) {
    match sent {
        Ok(()) => {}
        Err(SendError::Socket(SocketError::InternalChannelFull)) => overflowed(state, socket),
        // Already closing: its disconnect handler runs.
        Err(SendError::Socket(SocketError::Closed)) => {}
        Err(SendError::Serialize(e)) => tracing::error!(error = %e, "could not encode an event"),
    }
}

fn overflowed(state: &AppState, socket: &SocketRef) {
    if socket.extensions.get::<Overflowed>().is_some() {
        return;
    }
    socket.extensions.insert(Overflowed);
    // Nothing after the gap may reach it.
    socket.leave_all();
    state.metrics.slow_disconnect();
    let user_id = socket.extensions.get::<super::SocketUser>().map(|user| user.caller.id);
    let parts = socket.req_parts();
    let direct_websocket = parts.uri.query().is_some_and(|q| q.split('&').any(|pair| pair == "transport=websocket"));
    let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(peer)| *peer);
    let cut = direct_websocket && peer.is_some_and(|peer| state.connections.kill(peer));
    tracing::warn!(
        sid = %socket.id,
        user_id,
        queue = state.config.socket_queue,
        cut,
        "a Socket.IO client is not reading and its outgoing queue is full: closing it (it reconnects and catches up)"
    );
    if !cut {
        tokio::spawn(disconnect_when_possible(socket.clone()));
    }
}

/// Queue the DISCONNECT packet once the client has read enough to make room for it.
async fn disconnect_when_possible(socket: SocketRef) {
    while socket.connected() {
        match socket.clone().disconnect() {
            Err(SocketError::InternalChannelFull) => tokio::time::sleep(RETRY_DISCONNECT).await,
            Ok(()) | Err(SocketError::Closed) => return,
        }
    }
}

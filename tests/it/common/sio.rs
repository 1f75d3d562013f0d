//! A minimal Socket.IO v5 client (Engine.IO v4, WebSocket transport only, JSON text packets only):
//! the one every test that speaks Socket.IO uses, and the crash scenario's senders
//! (`benches/crash.rs` includes this file too). It speaks exactly what socket.io-client 4.x sends
//! over a WebSocket, so the server cannot tell the difference. (The load benchmarks have a
//! leaner client of their own, `benches/support/client.rs`: this one costs more CPU per
//! delivery than the server does.)
//!
//! One reader task per client: it answers Engine.IO pings, queues `42` events per client and
//! resolves `43` acks. Events stay queued until asked for, by name: [`Client::wait_for`] takes
//! the first queued event with that name and leaves the others in order. [`Options`] connects
//! from another loopback address, with a small receive buffer, or without reading at all until
//! [`Client::resume`]; [`connect_over`] speaks over a connection the caller opened (TLS).
//!
//! ```ignore
//! let client = sio::connect_token(&server.base, &token).await.expect("connect");
//! let ack = client.emit_with_ack("chat_message", json!({"room_id": 1, "content": "hi"})).await;
//! let message = client.wait_for("chat_response").await;
//! ```
//!
//! Not supported (natter never uses them): binary packets, namespaces other than `/`, HTTP
//! long-polling, reconnection.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpSocket;
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// How long [`Client::wait_for`], [`Client::emit_with_ack`] and [`connect`] wait by default
/// before failing: generous, because a loaded CI machine is slow, and only reached on failure.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How long [`Client::assert_no_event`] watches by default for something that must not arrive.
pub const ABSENCE: Duration = Duration::from_millis(300);

/// What a client speaks over: a TCP connection, or a TLS stream on one.
trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

type Ws = WebSocketStream<Box<dyn Io>>;
type Sink = SplitSink<Ws, Frame>;

#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the CONNECT with `44`: its data (natter: `{"message":"unauthorized"}`).
    Refused(Value),
    /// The WebSocket could not be opened (HTTP status or I/O error).
    Ws(tokio_tungstenite::tungstenite::Error),
    /// Something that is not Engine.IO v4 / Socket.IO v5, or the connection closed mid-handshake.
    Protocol(String),
    /// No answer within [`TIMEOUT`].
    Timeout,
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectError::Refused(data) => write!(f, "connection refused by the server: {data}"),
            ConnectError::Ws(e) => write!(f, "WebSocket error: {e}"),
            ConnectError::Protocol(what) => write!(f, "protocol error: {what}"),
            ConnectError::Timeout => write!(f, "no answer within {TIMEOUT:?}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Why an emit or an ack failed.
#[derive(Debug)]
pub enum SioError {
    /// The connection is closed (before or while waiting).
    Closed(String),
    /// No ack within the timeout.
    Timeout,
    Ws(tokio_tungstenite::tungstenite::Error),
}

impl std::fmt::Display for SioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SioError::Closed(why) => write!(f, "connection closed: {why}"),
            SioError::Timeout => write!(f, "no ack in time"),
            SioError::Ws(e) => write!(f, "WebSocket error: {e}"),
        }
    }
}

impl std::error::Error for SioError {}

/// What the reader task shares with the [`Client`].
#[derive(Default)]
struct State {
    events: VecDeque<(String, Value)>,
    acks: HashMap<u64, oneshot::Sender<Value>>,
    /// Why the connection ended, once it has.
    closed: Option<String>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Woken on every new event and on close.
    changed: Notify,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set_closed(&self, why: String) {
        let mut state = self.lock();
        if state.closed.is_none() {
            state.closed = Some(why);
        }
        // Dropping the senders fails every pending ack at once.
        state.acks.clear();
        drop(state);
        self.changed.notify_waiters();
    }
}

/// A connected Socket.IO client on the default namespace.
pub struct Client {
    /// The Socket.IO socket id the server assigned (from its CONNECT answer).
    pub sid: String,
    /// The Engine.IO handshake (`sid`, `pingInterval`, `pingTimeout`, `maxPayload`, ...).
    pub handshake: Value,
    sink: Arc<tokio::sync::Mutex<Sink>>,
    shared: Arc<Shared>,
    next_ack: AtomicU64,
    /// The read half, until [`Client::resume`] hands it to the reader task.
    unread: Mutex<Option<SplitStream<Ws>>>,
    reader: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Client {
    fn drop(&mut self) {
        // Dropping the read half and (once no emit holds it) the write half closes the TCP
        // connection; the server sees a transport close.
        if let Some(task) = self.reader.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            task.abort();
        }
    }
}

/// `ws://host:port` from `http://host:port`, `ws://host:port`, or a bare `host:port`.
fn ws_base(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if let Some(rest) = base.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = base.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if base.starts_with("ws://") || base.starts_with("wss://") {
        base.to_string()
    } else {
        format!("ws://{base}")
    }
}

/// Percent-encode everything but RFC 3986 unreserved characters.
fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How a client connects. `Options::default()` is socket.io-client on a plain WebSocket with no
/// credentials; [`Options::token`] adds natter's token as socket.io-client sends it.
#[derive(Default)]
pub struct Options<'a> {
    /// The CONNECT data (socket.io-client's `auth` option).
    pub auth: Option<Value>,
    /// A `token` query parameter on the handshake URL.
    pub query_token: Option<&'a str>,
    /// An `Authorization: Bearer ...` header on the handshake request.
    pub bearer_header: Option<&'a str>,
    /// The local address to connect from: 127.0.0.2, 127.0.0.3, ... are other clients on
    /// loopback, each an address of its own to the server.
    pub from: Option<IpAddr>,
    /// The connection's receive buffer (`SO_RCVBUF`), for a client whose kernel soon stops
    /// taking what the server sends.
    pub receive_buffer: Option<u32>,
    /// Read nothing after the CONNECT answer until [`Client::resume`]: a client that stopped
    /// reading (Engine.IO pings go unanswered too).
    pub paused: bool,
}

impl<'a> Options<'a> {
    /// The token in the CONNECT data, `{"token": ...}`, as natter's web UI sends it.
    pub fn token(token: &str) -> Options<'a> {
        Options { auth: Some(json!({ "token": token })), ..Options::default() }
    }

    /// The token as the `token` query parameter of the handshake URL.
    pub fn query_token(token: &'a str) -> Options<'a> {
        Options { query_token: Some(token), ..Options::default() }
    }

    /// The token in an `Authorization: Bearer` header of the handshake request.
    pub fn bearer_header(token: &'a str) -> Options<'a> {
        Options { bearer_header: Some(token), ..Options::default() }
    }
}

/// Connect with the token in the handshake `auth` object, as socket.io-client does.
pub async fn connect_token(base: &str, token: &str) -> Result<Client, ConnectError> {
    connect(base, Options::token(token)).await
}

/// Open `/socket.io/?EIO=4&transport=websocket` on `base` (`http://host:port`, `ws://...` or
/// `host:port`) over a new TCP connection and connect to the default namespace as `options`
/// say.
pub async fn connect(base: &str, options: Options<'_>) -> Result<Client, ConnectError> {
    let opening = async {
        let ws_base = ws_base(base);
        let authority = ws_base.split_once("://").map_or(ws_base.as_str(), |(_, rest)| rest);
        let addr = tokio::net::lookup_host(authority)
            .await
            .map_err(|e| ConnectError::Protocol(format!("cannot resolve {authority}: {e}")))?
            .next()
            .ok_or_else(|| ConnectError::Protocol(format!("no address for {authority}")))?;
        let socket = if addr.is_ipv4() { TcpSocket::new_v4() } else { TcpSocket::new_v6() };
        let io = |e: std::io::Error| ConnectError::Ws(e.into());
        let socket = socket.map_err(io)?;
        if let Some(ip) = options.from {
            socket.bind(SocketAddr::new(ip, 0)).map_err(io)?;
        }
        if let Some(bytes) = options.receive_buffer {
            socket.set_recv_buffer_size(bytes).map_err(io)?;
        }
        let tcp = socket.connect(addr).await.map_err(io)?;
        // Nagle off: small packets (acks, pongs) must not wait for the next one.
        tcp.set_nodelay(true).map_err(io)?;
        handshake(Box::new(tcp), &ws_base, options).await
    };
    tokio::time::timeout(TIMEOUT, opening).await.unwrap_or(Err(ConnectError::Timeout))
}

/// Like [`connect`], over a connection the caller opened (TLS, for `wss://`): `base` names the
/// server in the handshake request (`https://localhost:PORT`); `from` and `receive_buffer` are
/// the caller's to set on its connection.
pub async fn connect_over<S>(stream: S, base: &str, options: Options<'_>) -> Result<Client, ConnectError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let ws_base = ws_base(base);
    let opening = handshake(Box::new(stream), &ws_base, options);
    tokio::time::timeout(TIMEOUT, opening).await.unwrap_or(Err(ConnectError::Timeout))
}

/// The WebSocket upgrade, Engine.IO's open packet and Socket.IO's CONNECT on `stream`.
async fn handshake(stream: Box<dyn Io>, ws_base: &str, options: Options<'_>) -> Result<Client, ConnectError> {
    let mut url = format!("{ws_base}/socket.io/?EIO=4&transport=websocket");
    if let Some(token) = options.query_token {
        url.push_str("&token=");
        url.push_str(&url_encode(token));
    }
    let mut request = url.into_client_request().map_err(ConnectError::Ws)?;
    if let Some(token) = options.bearer_header {
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| ConnectError::Protocol(format!("bad header value: {e}")))?;
        request.headers_mut().insert("authorization", value);
    }
    let (ws, _response) = tokio_tungstenite::client_async(request, stream).await.map_err(ConnectError::Ws)?;
    let (mut sink, mut stream) = ws.split();

    // Engine.IO OPEN: `0{"sid":..,"pingInterval":..,"pingTimeout":..,"maxPayload":..}`.
    let text = next_text(&mut stream).await?;
    let Some(json) = text.strip_prefix('0') else {
        return Err(ConnectError::Protocol(format!("expected the Engine.IO open packet, got {text:?}")));
    };
    let handshake: Value = serde_json::from_str(json)
        .map_err(|e| ConnectError::Protocol(format!("bad Engine.IO open packet {text:?}: {e}")))?;
    if !handshake.is_object() {
        return Err(ConnectError::Protocol(format!("the Engine.IO open packet is not an object: {text:?}")));
    }

    // Socket.IO CONNECT to `/`, with the auth object as its data.
    let connect = match &options.auth {
        Some(auth) => format!("40{auth}"),
        None => "40".to_string(),
    };
    sink.send(Frame::text(connect)).await.map_err(ConnectError::Ws)?;

    // Until the server answers the CONNECT: events sent right after it are kept for later.
    let shared = Arc::new(Shared::default());
    let sid = loop {
        let text = next_text(&mut stream).await?;
        if text == "2" {
            sink.send(Frame::text("3")).await.map_err(ConnectError::Ws)?;
        } else if let Some(json) = text.strip_prefix("40") {
            let data: Value = serde_json::from_str(json)
                .map_err(|e| ConnectError::Protocol(format!("bad CONNECT answer {text:?}: {e}")))?;
            break data["sid"].as_str().unwrap_or_default().to_string();
        } else if let Some(json) = text.strip_prefix("44") {
            let data = serde_json::from_str(json).unwrap_or(Value::String(json.to_string()));
            return Err(ConnectError::Refused(data));
        } else if text == "1" || text.starts_with("41") {
            return Err(ConnectError::Protocol(format!("server closed during the handshake: {text:?}")));
        } else {
            dispatch(&shared, &text);
        }
    };

    let sink = Arc::new(tokio::sync::Mutex::new(sink));
    let client = Client {
        sid,
        handshake,
        sink,
        shared,
        next_ack: AtomicU64::new(1),
        unread: Mutex::new(Some(stream)),
        reader: Mutex::new(None),
    };
    if !options.paused {
        client.resume();
    }
    Ok(client)
}

/// The next text frame during the handshake; a close or error is a failure.
async fn next_text(stream: &mut SplitStream<Ws>) -> Result<String, ConnectError> {
    loop {
        match stream.next().await {
            Some(Ok(Frame::Text(text))) => return Ok(text.as_str().to_string()),
            Some(Ok(Frame::Close(frame))) => {
                return Err(ConnectError::Protocol(format!("WebSocket closed during the handshake: {frame:?}")));
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(ConnectError::Ws(e)),
            None => return Err(ConnectError::Protocol("connection ended during the handshake".into())),
        }
    }
}

async fn read_loop(mut stream: SplitStream<Ws>, sink: Arc<tokio::sync::Mutex<Sink>>, shared: Arc<Shared>) {
    let why = loop {
        match stream.next().await {
            Some(Ok(Frame::Text(text))) => {
                let text = text.as_str();
                match text.as_bytes().first() {
                    // Engine.IO ping: answer at once, or the server drops us after pingTimeout.
                    Some(b'2') => {
                        let _ = sink.lock().await.send(Frame::text("3")).await;
                    }
                    Some(b'1') => break "Engine.IO close packet".to_string(),
                    Some(b'4') if text.starts_with("41") => break format!("Socket.IO disconnect packet {text:?}"),
                    Some(b'4') => dispatch(&shared, text),
                    _ => {}
                }
            }
            Some(Ok(Frame::Close(frame))) => break format!("WebSocket close frame {frame:?}"),
            Some(Ok(_)) => {}
            Some(Err(e)) => break format!("WebSocket error: {e}"),
            None => break "connection ended".to_string(),
        }
    };
    shared.set_closed(why);
}

/// Split `42`/`43` packet text after its type digit into (ack id, JSON), skipping a namespace.
fn split_packet(rest: &str) -> (Option<u64>, &str) {
    let mut rest = rest;
    if rest.starts_with('/') {
        rest = rest.split_once(',').map_or("", |(_, after)| after);
    }
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let id = if digits > 0 { rest[..digits].parse().ok() } else { None };
    (id, &rest[digits..])
}

/// Handle one Engine.IO MESSAGE (`4...`) carrying a Socket.IO EVENT or ACK.
fn dispatch(shared: &Shared, text: &str) {
    if let Some(rest) = text.strip_prefix("42") {
        let (_, json) = split_packet(rest);
        let Ok(Value::Array(mut args)) = serde_json::from_str::<Value>(json) else {
            return;
        };
        if args.is_empty() {
            return;
        }
        let name = match args.remove(0) {
            Value::String(name) => name,
            other => other.to_string(),
        };
        let data = if args.is_empty() { Value::Null } else { args.swap_remove(0) };
        shared.lock().events.push_back((name, data));
        shared.changed.notify_waiters();
    } else if let Some(rest) = text.strip_prefix("43") {
        let (Some(id), json) = split_packet(rest) else {
            return;
        };
        let data = match serde_json::from_str::<Value>(json) {
            Ok(Value::Array(mut args)) if !args.is_empty() => args.swap_remove(0),
            Ok(_) => Value::Null,
            Err(_) => Value::String(json.to_string()),
        };
        if let Some(tx) = shared.lock().acks.remove(&id) {
            let _ = tx.send(data);
        }
    }
}

impl Client {
    /// Start reading what the server sends (queued events, acks, pings answered); a client
    /// connected with [`Options::paused`] reads nothing before this.
    pub fn resume(&self) {
        let unread = self.unread.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        if let Some(stream) = unread {
            let task = tokio::spawn(read_loop(stream, self.sink.clone(), self.shared.clone()));
            *self.reader.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(task);
        }
    }

    /// Send `42["event",data]`.
    pub async fn emit(&self, event: &str, data: Value) -> Result<(), SioError> {
        self.emit_raw(&format!("42{}", Value::Array(vec![Value::from(event), data]))).await
    }

    /// Send `text` as one WebSocket text frame, exactly as given (`42[...]`, `2`, garbage).
    pub async fn emit_raw(&self, text: &str) -> Result<(), SioError> {
        if let Some(why) = self.shared.lock().closed.clone() {
            return Err(SioError::Closed(why));
        }
        self.sink.lock().await.send(Frame::text(text)).await.map_err(SioError::Ws)
    }

    /// Send `42<id>["event",data]` and wait for the ack; its first argument back. Fails the test
    /// after [`TIMEOUT`] or when the connection closes.
    pub async fn emit_with_ack(&self, event: &str, data: Value) -> Value {
        match self.request(event, data, TIMEOUT).await {
            Ok(ack) => ack,
            Err(e) => panic!("{event}: no ack ({e})"),
        }
    }

    /// [`Client::emit_with_ack`] returning errors instead of failing, for tests where the ack may
    /// legitimately not come.
    pub async fn request(&self, event: &str, data: Value, timeout: Duration) -> Result<Value, SioError> {
        let id = self.next_ack.fetch_add(1, Ordering::Relaxed);
        let json = Value::Array(vec![Value::from(event), data]);
        self.request_raw(id, &format!("42{id}{json}"), timeout).await
    }

    /// Send `text`, which must carry ack id `id` (`42<id>[...]`), and wait for that ack: for
    /// malformed payloads that still ask for an ack. Take ids from [`Client::next_ack_id`].
    pub async fn request_raw(&self, id: u64, text: &str, timeout: Duration) -> Result<Value, SioError> {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.shared.lock();
            if let Some(why) = &state.closed {
                return Err(SioError::Closed(why.clone()));
            }
            state.acks.insert(id, tx);
        }
        if let Err(e) = self.sink.lock().await.send(Frame::text(text)).await {
            self.shared.lock().acks.remove(&id);
            return Err(SioError::Ws(e));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(ack)) => Ok(ack),
            Ok(Err(_)) => Err(SioError::Closed(self.close_reason().unwrap_or_default())),
            Err(_) => {
                self.shared.lock().acks.remove(&id);
                Err(SioError::Timeout)
            }
        }
    }

    /// A fresh ack id for [`Client::request_raw`].
    pub fn next_ack_id(&self) -> u64 {
        self.next_ack.fetch_add(1, Ordering::Relaxed)
    }

    /// The first queued event named `name` (removed; other events stay queued in order), waiting
    /// up to [`TIMEOUT`] for it. Fails the test, listing what did arrive, if it does not come.
    pub async fn wait_for(&self, name: &str) -> Value {
        match self.wait_for_timeout(name, TIMEOUT).await {
            Some(data) => data,
            None => panic!(
                "socket {}: no {name:?} event within {TIMEOUT:?} ({}); queued: {:?}",
                self.sid,
                self.close_reason().map_or("still connected".to_string(), |why| format!("closed: {why}")),
                self.queued()
            ),
        }
    }

    /// Like [`Client::wait_for`], but `None` after `timeout` or once the connection is closed
    /// with no such event queued.
    pub async fn wait_for_timeout(&self, name: &str, timeout: Duration) -> Option<Value> {
        self.wait_until(timeout, |state| {
            let i = state.events.iter().position(|(n, _)| n == name)?;
            state.events.remove(i).map(|(_, data)| data)
        })
        .await
    }

    /// Wait until `take` finds something in the queue; `None` after `timeout` or once the
    /// connection is closed with nothing for `take`.
    async fn wait_until<T>(&self, timeout: Duration, mut take: impl FnMut(&mut State) -> Option<T>) -> Option<T> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before looking, so an event arriving in between still wakes us.
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.shared.lock();
                if let Some(found) = take(&mut state) {
                    return Some(found);
                }
                if state.closed.is_some() {
                    return None;
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                return None;
            }
        }
    }

    /// Fail the test if an event named `name` is queued or arrives within `within` (use
    /// [`ABSENCE`]). Proving absence is the one place a bounded wait is right; prefer an
    /// ordering marker (wait for a later event, then check with [`Client::queued_named`]).
    pub async fn assert_no_event(&self, name: &str, within: Duration) {
        if let Some(data) = self.wait_for_timeout(name, within).await {
            panic!("socket {}: unexpected {name:?} event: {data}", self.sid);
        }
    }

    /// Remove and return every queued event named `name`, in arrival order (no waiting).
    pub fn take_queued(&self, name: &str) -> Vec<Value> {
        let mut state = self.shared.lock();
        let mut taken = Vec::new();
        state.events.retain(|(n, data)| {
            if n == name {
                taken.push(data.clone());
                false
            } else {
                true
            }
        });
        taken
    }

    /// Copies of the queued events named `name` (no waiting, nothing removed).
    pub fn queued_named(&self, name: &str) -> Vec<Value> {
        self.shared.lock().events.iter().filter(|(n, _)| n == name).map(|(_, data)| data.clone()).collect()
    }

    /// Copies of every queued event, oldest first (for failure messages).
    pub fn queued(&self) -> Vec<(String, Value)> {
        self.shared.lock().events.iter().cloned().collect()
    }

    /// Forget every queued event.
    pub fn clear(&self) {
        self.shared.lock().events.clear();
    }

    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    /// Why the connection ended, once it has.
    pub fn close_reason(&self) -> Option<String> {
        self.shared.lock().closed.clone()
    }

    /// Wait until the server (or the network) closes the connection; false after `timeout`.
    pub async fn wait_closed(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |state| state.closed.is_some().then_some(())).await.is_some() || self.is_closed()
    }

    /// Leave like socket.io-client's `disconnect()`: Socket.IO DISCONNECT, then a WebSocket close
    /// frame. Returns once both are sent; the server's side of the close follows asynchronously.
    pub async fn close(&self) {
        let mut sink = self.sink.lock().await;
        let _ = sink.send(Frame::text("41")).await;
        let _ = sink.send(Frame::Close(None)).await;
        let _ = sink.flush().await;
    }
}

//! Delivery is complete or visibly broken (issue 14): a Socket.IO client that stops reading
//! while a room is busy either receives every acknowledged message, in order, or is closed, is
//! counted in /metrics, and catches up over REST with `after=`. Never a silent gap.

use crate::common;
use crate::common::sio;
use std::time::Duration;

use crate::common::chat::{Account, account, history, room};
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Messages posted while the slow socket does not read: far more than its queue (64) plus what
/// the kernel buffers of one loopback connection hold (~700 of these).
const POSTED: usize = 2_000;
/// 4,000 characters, the largest message content.
const CONTENT_CHARS: usize = 4_000;
/// How long the slow reader waits for more before deciding nothing else is coming.
const SILENCE: Duration = Duration::from_secs(3);

type Ws = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A Socket.IO client over a TCP connection with a 4 KiB receive buffer, connected and
/// authenticated; the caller decides when (if ever) to read.
async fn slow_reader(base_addr: std::net::SocketAddr, token: &str) -> Ws {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let tcp = socket.connect(base_addr).await.expect("connect");
    let request =
        format!("ws://{base_addr}/socket.io/?EIO=4&transport=websocket").into_client_request().expect("request");
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp).await.expect("WebSocket handshake");
    let open = next_text(&mut ws).await.expect("Engine.IO open");
    assert!(open.starts_with('0'), "expected the Engine.IO open packet, got {open:?}");
    ws.send(Frame::text(format!("40{}", json!({ "token": token })))).await.expect("send CONNECT");
    loop {
        let text = next_text(&mut ws).await.expect("CONNECT answer");
        if text.starts_with("40") {
            return ws;
        }
        assert!(!text.starts_with("44"), "connection refused: {text}");
    }
}

async fn next_text(ws: &mut Ws) -> Option<String> {
    loop {
        match ws.next().await? {
            Ok(Frame::Text(text)) => return Some(text.as_str().to_string()),
            Ok(Frame::Close(_)) | Err(_) => return None,
            Ok(_) => {}
        }
    }
}

/// What the slow socket received once it read again: the ids of its `chat_response`s, and
/// whether the server closed it (`false`: it was still open after [`SILENCE`]).
async fn drain(ws: &mut Ws, expected: usize) -> (Vec<i64>, bool) {
    let mut ids = Vec::new();
    loop {
        if ids.len() == expected {
            return (ids, false);
        }
        let text = match tokio::time::timeout(SILENCE, next_text(ws)).await {
            Err(_) => return (ids, false),
            Ok(None) => return (ids, true),
            Ok(Some(text)) => text,
        };
        if text == "2" {
            let _ = ws.send(Frame::text("3")).await;
        } else if text == "1" || text.starts_with("41") {
            return (ids, true);
        } else if let Some(json) = text.strip_prefix("42") {
            let event: Value = serde_json::from_str(json).expect("event JSON");
            if event[0] == "chat_response" {
                ids.push(event[1]["id"].as_i64().expect("message id"));
            }
        }
    }
}

async fn slow_disconnects(server: &common::TestServer) -> String {
    let text = server.http.get(server.url("/metrics")).send().await.expect("GET /metrics").text().await.expect("body");
    text.lines().find(|l| l.starts_with("natter_socketio_slow_disconnects_total")).unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_that_stops_reading_gets_every_message_or_is_closed() {
    let server = common::spawn_with(|a| {
        a.metrics = true;
        a.socket_queue = 64;
    })
    .await;
    let poster: Account = account(&server, "poster").await;
    let reader: Account = account(&server, "reader").await;
    let room_id = room(&server, &poster, "busy", &[&reader]).await;
    assert_eq!(slow_disconnects(&server).await, "natter_socketio_slow_disconnects_total 0");

    let mut slow = slow_reader(server.addr, &reader.token).await;
    // The poster posts over REST, 32 at a time (its own socket, if it had one, would have to
    // read 2,000 broadcasts as fast as they come).
    let body = json!({ "content": "x".repeat(CONTENT_CHARS) });
    let path = format!("/chat/chat_rooms/{room_id}/messages");
    let posted: Vec<(reqwest::StatusCode, Value)> =
        stream::iter(0..POSTED).map(|_| server.post(&path, poster.tok(), &body)).buffer_unordered(32).collect().await;
    let mut acked: Vec<i64> = posted
        .iter()
        .map(|(status, message)| {
            assert_eq!(*status, reqwest::StatusCode::CREATED, "post failed: {message}");
            message["id"].as_i64().expect("id")
        })
        .collect();
    acked.sort_unstable();

    // The slow socket reads again: what it got must be the first acknowledged messages in commit
    // order, and all of them unless the server closed it.
    let (received, closed) = drain(&mut slow, POSTED).await;
    assert_eq!(received, acked[..received.len()], "the slow socket got messages out of order or with a gap");
    if !closed {
        assert_eq!(received.len(), POSTED, "the slow socket missed messages and was not closed");
    }
    // With a queue of 64 and ~8 MB of messages, this scenario always overflows.
    assert!(closed, "expected the overflowing socket to be closed; it got all {} messages", received.len());
    assert!(received.len() < POSTED);
    // Closed, it is counted, and no later message reaches it (the connection is gone).
    assert_eq!(slow_disconnects(&server).await, "natter_socketio_slow_disconnects_total 1");

    // The client reconnects and catches up from the last message it saw.
    let again = sio::connect_token(&server.base, &reader.token).await.expect("the reader reconnects");
    let mut caught_up = Vec::new();
    let mut after = received.last().copied().unwrap_or(0);
    loop {
        let page = history(&server, &reader, room_id, &format!("after={after}&limit=100")).await;
        if page.is_empty() {
            break;
        }
        caught_up.extend(page.iter().map(|m| m["id"].as_i64().expect("id")));
        after = *caught_up.last().expect("not empty");
    }
    let mut all = received.clone();
    all.extend(caught_up);
    assert_eq!(all, acked, "received + caught up must be every acknowledged message exactly once");
    // And the reconnected socket receives live messages again.
    let (status, live) = server.post(&path, poster.tok(), &json!({ "content": "still here?" })).await;
    assert_eq!(status, reqwest::StatusCode::CREATED);
    let got = again.wait_for("chat_response").await;
    assert_eq!(got["id"], live["id"]);
}

//! Delivery is complete or visibly broken: a Socket.IO client that stops reading
//! while a room is busy either receives every acknowledged message, in order, or is closed, is
//! counted in /metrics, and catches up over REST with `after=`. Never a silent gap.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{Account, account, connect, history, room};
use crate::common::sio::{self, Client, Options};

/// Messages posted while the slow socket does not read: far more than its queue (64) plus what
/// the kernel buffers of one loopback connection hold (~700 of these).
const POSTED: usize = 2_000;
/// 4,000 characters, the largest message content.
const CONTENT_CHARS: usize = 4_000;
/// How long the slow reader waits for more before deciding nothing else is coming.
const SILENCE: Duration = Duration::from_secs(3);

/// A Socket.IO client over a TCP connection with a 4 KiB receive buffer, connected and
/// authenticated, that reads nothing until [`drain`].
async fn slow_reader(server: &common::TestServer, token: &str) -> Client {
    let options = Options { receive_buffer: Some(4096), paused: true, ..Options::token(token) };
    sio::connect(&server.base, options).await.expect("the slow reader connects")
}

/// What the slow socket received once it read again: the ids of its `chat_response`s, and
/// whether the server closed it (`false`: it was still open after [`SILENCE`]).
async fn drain(slow: &Client, expected: usize) -> (Vec<i64>, bool) {
    slow.resume();
    let mut ids = Vec::new();
    while ids.len() < expected {
        match slow.wait_for_timeout("chat_response", SILENCE).await {
            Some(message) => ids.push(message["id"].as_i64().expect("message id")),
            None => return (ids, slow.is_closed()),
        }
    }
    (ids, false)
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

    let slow = slow_reader(&server, &reader.token).await;
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
    let (received, closed) = drain(&slow, POSTED).await;
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
    let again = connect(&server, &reader).await;
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

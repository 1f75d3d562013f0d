//! What a message costs the server when a script posts it to a bot's hook, against the same
//! message sent over Socket.IO, in one sitting on one server.
//!
//! One room of two people and a bot; the second person is connected and receives every message
//! (both paths end in the same `chat_response` to one socket). Then, one message in flight at a
//! time:
//! - **Socket.IO:** the first person sends `chat_message` and waits for the ack;
//! - **hook:** `POST /hooks/{token}` with a Slack body `{"text","channel"}` on one keep-alive
//!   HTTP/1.1 connection (benches/support/http.rs, which costs far less than reqwest), waiting for
//!   `ok`.
//! - **mention:** as Socket.IO, each message mentioning a bot whose webhook answers 204 at once on
//!   127.0.0.1 (the outgoing call, signed, is part of the server's cost).
//!
//! Server CPU (user + kernel, from /proc) per message is the figure; the server is the release
//! binary in its own process.
//!
//! ```text
//! cargo bench --bench webhook_cost              # BENCH_MESSAGES=5000 per path
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio_util::sync::CancellationToken;

// Shared with benches/socketio.rs, which uses all of it.
#[path = "support/client.rs"]
#[allow(dead_code)]
mod client;
#[path = "support/http.rs"]
mod http;
#[path = "support/mod.rs"]
mod support;
#[path = "support/world.rs"]
mod world;
use client::Client;
use http::Http;
use support::Server;

/// Read frames until cancelled, answering pings; how many `chat_response` frames arrived.
async fn listen(mut ws: Client, stop: CancellationToken) -> usize {
    let mut delivered = 0;
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => break,
            more = ws.read_more() => if !more.unwrap_or(false) { break },
        }
        while let Some((_, payload)) = ws.next_frame() {
            if ws.text(payload).starts_with("42[\"chat_response\"") {
                delivered += 1;
            }
        }
        let _ = ws.answer_ping().await;
    }
    ws.close().await;
    delivered
}

/// Wait until the server is idle (under 5% of a core over half a second).
async fn settle(server: &Server) {
    let started = Instant::now();
    loop {
        let before = server.cpu_seconds();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if server.cpu_seconds() - before < 0.025 || started.elapsed() > Duration::from_secs(60) {
            return;
        }
    }
}

/// `count` Socket.IO messages, one in flight; the text of each from `content(i)`.
async fn socket_messages(ws: &mut Client, room: i64, count: usize, content: impl Fn(usize) -> String) {
    for i in 0..count {
        let frame = format!("42{i}[\"chat_message\",{{\"room_id\":{room},\"content\":{}}}]", json!(content(i)));
        ws.send_text(&frame).await.expect("send");
        'ack: loop {
            assert!(ws.read_more().await.expect("read"), "the server closed the socket");
            while let Some((_, payload)) = ws.next_frame() {
                let text = ws.text(payload);
                if text.starts_with("43") {
                    assert!(text.contains("\"ok\":true"), "error ack: {text}");
                    break 'ack;
                }
            }
            ws.answer_ping().await.expect("pong");
        }
    }
}

/// A webhook receiver on 127.0.0.1 that answers 204 at once and counts the calls; its URL.
async fn webhook_receiver(calls: Arc<AtomicUsize>) -> String {
    let answer = move || {
        calls.fetch_add(1, Ordering::Relaxed);
        async { axum::http::StatusCode::NO_CONTENT }
    };
    let app = axum::Router::new().route("/hook", axum::routing::post(answer));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/hook")
}

fn report(name: &str, count: usize, cpu: f64, elapsed: Duration) {
    println!(
        "{name:<28} {count:>6} messages  {:>7.1} µs server CPU/message  {:>7.0} messages/s",
        cpu / count as f64 * 1e6,
        count as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let count: usize = std::env::var("BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let data = tempfile::tempdir().expect("a data folder");
    let folder = data.path().to_path_buf();
    // Made through the storage engine's blocking calls, off the runtime's threads.
    let world = tokio::task::spawn_blocking(move || world::make_world(&folder, 2, &[vec![0, 1]])).await.expect("world");
    let room = world.rooms[0];
    let server = Server::start_with(data.path(), &["--message-rate", "0", "--default-room", ""]);
    let admin = &world.tokens[0];
    let mut rest = Http::connect(&server.addr).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let webhook_url = webhook_receiver(calls.clone()).await;
    let mut tokens = Vec::new();
    for (name, webhook) in [("hookbot", None), ("askbot", Some(webhook_url))] {
        let (status, bot) =
            rest.json("POST", "/admin/bots", Some(admin), Some(&json!({"name": name, "webhook_url": webhook}))).await;
        assert_eq!(status, 201, "create {name}: {bot}");
        let path = format!("/chat/chat_rooms/{room}/members");
        let (status, body) = rest.json("POST", &path, Some(admin), Some(&json!({"username": name}))).await;
        assert_eq!(status, 200, "add {name}: {body}");
        tokens.push(bot["token"].as_str().expect("token").to_string());
    }

    let stop = CancellationToken::new();
    let listener = tokio::spawn(listen(Client::connect(&server.addr, &world.tokens[1]).await, stop.clone()));
    let mut sender = Client::connect(&server.addr, admin).await;
    // Warm up both paths (statement caches, connections, allocator).
    socket_messages(&mut sender, room, 200, |i| format!("warm-up {i}")).await;
    let hook_path = format!("/hooks/{}", tokens[0]);
    for i in 0..200 {
        let body = json!({"text": format!("warm-up hook {i}"), "channel": room});
        assert_eq!(rest.request("POST", &hook_path, None, Some(&body)).await, 200);
    }
    settle(&server).await;

    println!("webhook_cost: {count} messages per path, one in flight, one listener socket");
    let (cpu, at) = (server.cpu_seconds(), Instant::now());
    socket_messages(&mut sender, room, count, |i| format!("message {i} over the socket")).await;
    report("Socket.IO chat_message", count, server.cpu_seconds() - cpu, at.elapsed());
    settle(&server).await;

    let (cpu, at) = (server.cpu_seconds(), Instant::now());
    for i in 0..count {
        let body = json!({"text": format!("message {i} from a script"), "channel": room});
        let status = rest.request("POST", &hook_path, None, Some(&body)).await;
        assert_eq!((status, rest.body.as_slice()), (200, b"ok".as_slice()));
    }
    report("POST /hooks/{token}", count, server.cpu_seconds() - cpu, at.elapsed());
    settle(&server).await;

    let (cpu, at) = (server.cpu_seconds(), Instant::now());
    socket_messages(&mut sender, room, count, |i| format!("@askbot question {i}")).await;
    // The calls are made after the acks: wait for the last one to arrive, so all are counted.
    while calls.load(Ordering::Relaxed) < count {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    report("Socket.IO + webhook call", count, server.cpu_seconds() - cpu, at.elapsed());

    stop.cancel();
    let delivered = listener.await.expect("listener");
    println!("listener received {delivered} messages");
    server.stop();
}

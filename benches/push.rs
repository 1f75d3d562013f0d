//! What Web Push costs the server: CPU per push message with 1,000 members offline in one room
//! (each with one subscription), and memory with 10,000 subscriptions while a message goes to
//! all of them. The natter release binary runs as its own process (its CPU and RSS read from
//! `/proc`); the push service is a recording endpoint on 127.0.0.1 in this process that answers
//! 201 at once, so the figures are natter's side only: who to tell, RFC 8291 encryption (one
//! ECDH and two HKDFs per message per subscription), the VAPID header (signed once per push
//! service, then reused) and the HTTP request.
//!
//! ```text
//! cargo bench --bench push                  # both
//! cargo bench --bench push -- cpu           # one of them: cpu, memory
//! BENCH_SERVER_CPUS=0 cargo bench --bench push   # the server on one core
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::json;

#[path = "support/mod.rs"]
mod support;
#[path = "support/world.rs"]
mod world;
use support::Server;
use world::make_world;

/// The recording push service: counts the requests and their bytes, answers 201.
struct PushService {
    base: String,
    pushes: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    arrived: Arc<tokio::sync::Notify>,
}

async fn push_service() -> PushService {
    let pushes = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let (p, b, a) = (pushes.clone(), bytes.clone(), arrived.clone());
    let app = axum::Router::new().route(
        "/push/{n}",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (p, b, a) = (p.clone(), b.clone(), a.clone());
            async move {
                b.fetch_add(body.len() as u64, Ordering::Relaxed);
                p.fetch_add(1, Ordering::Relaxed);
                a.notify_waiters();
                axum::http::StatusCode::CREATED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    PushService { base, pushes, bytes, arrived }
}

impl PushService {
    async fn wait_for(&self, total: u64) {
        let deadline = Instant::now() + Duration::from_secs(600);
        while self.pushes.load(Ordering::Relaxed) < total {
            let notified = self.arrived.notified();
            let _ = tokio::time::timeout(Duration::from_millis(100), notified).await;
            assert!(
                Instant::now() < deadline,
                "only {} of {total} pushes arrived",
                self.pushes.load(Ordering::Relaxed)
            );
        }
    }
}

/// A world of `users` accounts in one room, user 0 the sender, every other one subscribed once.
fn world_with_subscriptions(data: &std::path::Path, users: usize, service: &str) -> world::World {
    let world = make_world(data, users, &[(0..users).collect()]);
    let mut secret = [0u8; 32];
    getrandom::fill(&mut secret).expect("random");
    let browser = p256::SecretKey::from_slice(&secret).expect("a key");
    let p256dh = base64_url(browser.public_key().to_encoded_point(false).as_bytes());
    let auth = base64_url(&[9u8; 16]);
    let db = natter::storage::db::Db::open(&data.join("natter.db"), natter::storage::db::DbOptions::default())
        .expect("open db");
    let service = service.to_string();
    db.write_blocking(move |conn| {
        // Users are ids 1..=users; user 1 sends.
        for id in 2..=users as i64 {
            let endpoint = format!("{service}/push/{id}");
            natter::storage::db::push::upsert(conn, id, &endpoint, &p256dh, &auth, "2026-01-01T00:00:00.000Z", 10)?;
        }
        Ok::<_, natter::storage::db::DbError>(())
    })
    .expect("subscriptions");
    db.shutdown_blocking();
    world
}

fn base64_url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn start(data: &std::path::Path) -> Server {
    Server::start_with(
        data,
        &["--push-service", "127.0.0.1", "--message-rate", "0", "--push-concurrency", "32", "--default-room", ""],
    )
}

async fn send(http: &reqwest::Client, server: &Server, token: &str, room: i64, n: usize) {
    let url = format!("http://{}/chat/chat_rooms/{room}/messages", server.addr);
    let response = http
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "content": format!("message {n}: the quick brown fox jumps over the lazy dog") }))
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 201);
}

/// Server CPU per push message, 1,000 subscribers offline in one room.
async fn cpu() {
    const SUBSCRIBERS: usize = 1000;
    const MESSAGES: usize = 20;
    let service = push_service().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The storage engine's blocking calls and the child's start must not run on a runtime thread.
    let world = tokio::task::block_in_place(|| world_with_subscriptions(dir.path(), SUBSCRIBERS + 1, &service.base));
    let server = tokio::task::block_in_place(|| start(dir.path()));
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    // Warm-up: connections to the push service, the VAPID header, caches.
    send(&http, &server, &world.tokens[0], world.rooms[0], 0).await;
    service.wait_for(SUBSCRIBERS as u64).await;
    let before = server.cpu_seconds();
    let (pushes_before, bytes_before) = (service.pushes.load(Ordering::Relaxed), service.bytes.load(Ordering::Relaxed));
    let started = Instant::now();
    for n in 1..=MESSAGES {
        send(&http, &server, &world.tokens[0], world.rooms[0], n).await;
    }
    service.wait_for(pushes_before + (SUBSCRIBERS * MESSAGES) as u64).await;
    let took = started.elapsed();
    let cpu = server.cpu_seconds() - before;
    let pushes = service.pushes.load(Ordering::Relaxed) - pushes_before;
    let bytes = service.bytes.load(Ordering::Relaxed) - bytes_before;
    println!("push cpu: {MESSAGES} messages to a room of {SUBSCRIBERS} offline subscribers = {pushes} pushes");
    println!(
        "  server CPU {:.2} s → {:.1} µs per push message; {:.0} pushes/s wall clock; {:.0} bytes per body; RSS {:.1} MB",
        cpu,
        cpu * 1e6 / pushes as f64,
        pushes as f64 / took.as_secs_f64(),
        bytes as f64 / pushes as f64,
        server.rss_kib() as f64 / 1024.0
    );
    server.stop();
}

/// RSS with 10,000 subscriptions, idle and while one message goes to all of them.
async fn memory() {
    const SUBSCRIBERS: usize = 10_000;
    let service = push_service().await;
    let dir = tempfile::tempdir().expect("temp dir");
    // The storage engine's blocking calls and the child's start must not run on a runtime thread.
    let world = tokio::task::block_in_place(|| world_with_subscriptions(dir.path(), SUBSCRIBERS + 1, &service.base));
    let server = tokio::task::block_in_place(|| start(dir.path()));
    let http = reqwest::Client::builder().no_proxy().build().expect("client");
    let idle = server.rss_kib();
    send(&http, &server, &world.tokens[0], world.rooms[0], 0).await;
    service.wait_for(SUBSCRIBERS as u64).await;
    let after = server.rss_kib();
    let peak = server.status_kb("VmHWM");
    println!("push memory: {SUBSCRIBERS} subscriptions (one per member of one room)");
    println!(
        "  RSS idle {:.1} MB; peak while pushing one message to all {:.1} MB; after {:.1} MB",
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        after as f64 / 1024.0
    );
    server.stop();
}

#[tokio::main]
async fn main() {
    let which: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let wants = |name: &str| which.is_empty() || which.iter().any(|w| w == name);
    if wants("cpu") {
        cpu().await;
    }
    if wants("memory") {
        memory().await;
    }
}

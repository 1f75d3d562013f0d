//! Socket.IO load generator (issue 4), with a lean client of its own.
//!
//! The official JS client costs ~10 µs of CPU per delivery and saturates a core near 100,000
//! deliveries/s, so it would measure itself. This one speaks Engine.IO v4 / Socket.IO v5 over
//! tokio-tungstenite directly and looks at each frame only as far as it must: an ack is `43<id>`,
//! a delivery is found by its `"content":"t<nanos>"` send stamp. The server is the release binary
//! in its own process; both sides' CPU is printed, so each figure says which side was the limit.
//!
//! Scenarios:
//! 1. 100 senders in 10 rooms of 10 members, each with one message in flight (durable ack).
//! 2. Fan-out: one room of 1,000 connected members, one message every 10 ms.
//!    2f. The same load against the floor (support/floor.rs): a stand-in that only writes one
//!    pre-built frame per delivery, so what it costs is the machine's price of a loopback send.
//! 3. 10,000 idle connections: server RSS per connection.
//!
//! ```text
//! cargo bench --bench socketio                              # all; BENCH_SECS=10 by default
//! cargo bench --bench socketio -- fanout                    # one of: senders, fanout, floor, idle
//! BENCH_MEMBERS=500 cargo bench --bench socketio -- fanout  # another room size
//! ```
//!
//! Users, rooms and tokens are made offline (straight through the storage engine, tokens signed
//! with the data folder's secret) so setting up thousands of users costs no password hashing.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use natter::db::users::{self, NewUser};
use natter::db::{Db, DbError, DbOptions, rooms};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

#[path = "support/floor.rs"]
mod floor;
#[path = "support/mod.rs"]
mod support;
use support::{Server, percentile, process_cpu_seconds};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Users and rooms made offline; `tokens[i]` is user i's access token.
struct World {
    tokens: Vec<String>,
    rooms: Vec<i64>,
}

/// `users` accounts and one group room per entry of `rooms` (member indexes), owned by its first
/// member. All through the storage engine, with one shared password hash.
fn make_world(data: &Path, users: usize, rooms: &[Vec<usize>]) -> World {
    std::fs::create_dir_all(data).expect("data dir");
    let db = Db::open(&data.join("natter.db"), DbOptions::default()).expect("open db");
    let hash = natter::auth::hash_password_blocking("password123").expect("hash");
    let user_records = db
        .write_blocking(move |conn| {
            (0..users)
                .map(|i| {
                    let (name, email) = (format!("user{i}"), format!("user{i}@example.com"));
                    users::insert(
                        conn,
                        &NewUser {
                            username: &name,
                            email: &email,
                            full_name: None,
                            password_hash: &hash,
                            admin: false,
                        },
                    )
                })
                .collect::<Result<Vec<_>, DbError>>()
        })
        .expect("users");
    let ids: Vec<i64> = user_records.iter().map(|u| u.id).collect();
    let mut room_ids = Vec::new();
    for (n, members) in rooms.iter().enumerate() {
        let member_ids: Vec<i64> = members.iter().map(|&m| ids[m]).collect();
        let room = db
            .write_blocking(move |conn| rooms::create_group(conn, &format!("room {n}"), member_ids[0], &member_ids))
            .expect("room");
        room_ids.push(room);
    }
    db.shutdown_blocking();
    let secret = natter::auth::load_or_create_secret(&data.join("jwt-secret")).expect("secret");
    let auth = natter::auth::Auth::new(&secret, Duration::from_secs(3600), 1);
    let tokens = user_records
        .iter()
        .map(|u| auth.issue_token(u).expect("token")["access_token"].as_str().expect("jwt").to_string())
        .collect();
    World { tokens, rooms: room_ids }
}

/// Engine.IO open + Socket.IO connect with `token`; returns the socket ready for events.
async fn connect(addr: &str, token: &str) -> Ws {
    let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("websocket");
    loop {
        match ws.next().await.expect("open packet").expect("frame") {
            Frame::Text(t) if t.starts_with('0') => break,
            _ => continue,
        }
    }
    ws.send(Frame::text(format!("40{{\"token\":\"{token}\"}}"))).await.expect("connect packet");
    loop {
        match ws.next().await.expect("connect answer").expect("frame") {
            Frame::Text(t) if t.starts_with("40") => return ws,
            Frame::Text(t) if t.starts_with("44") => panic!("refused: {t}"),
            _ => continue,
        }
    }
}

/// What one socket's reader saw.
#[derive(Default)]
struct Seen {
    deliveries: Vec<Duration>,
    acks: Vec<Duration>,
}

/// The send stamp of a `chat_response` frame, if this is one.
fn delivery_stamp(text: &str) -> Option<u64> {
    if !text.starts_with("42[\"chat_response\"") {
        return None;
    }
    let at = text.find("\"content\":\"t")? + "\"content\":\"t".len();
    let digits = &text[at..];
    let end = digits.find(|c: char| !c.is_ascii_digit())?;
    digits[..end].parse().ok()
}

fn since(origin: Instant, stamp: u64) -> Duration {
    origin.elapsed().saturating_sub(Duration::from_nanos(stamp))
}

fn chat_message(ack_id: u64, room: i64, origin: Instant) -> Frame {
    let stamp = origin.elapsed().as_nanos();
    Frame::text(format!("42{ack_id}[\"chat_message\",{{\"room_id\":{room},\"content\":\"t{stamp}\"}}]"))
}

/// Read frames until `stop`; answer pings, record deliveries. If `send_to` is set, keep one
/// `chat_message` in flight to that room and record each ack's latency.
async fn drive(mut ws: Ws, origin: Instant, stop: Arc<AtomicBool>, send_to: Option<i64>) -> Seen {
    let mut seen = Seen::default();
    let mut ack_id = 0u64;
    let mut sent_at = Instant::now();
    if let Some(room) = send_to {
        ws.send(chat_message(ack_id, room, origin)).await.expect("send");
    }
    let mut check = tokio::time::interval(Duration::from_millis(50));
    loop {
        let frame = tokio::select! {
            frame = ws.next() => frame,
            _ = check.tick() => {
                if stop.load(Ordering::Relaxed) { break; }
                continue;
            }
        };
        let Some(Ok(Frame::Text(text))) = frame else { break };
        if let Some(stamp) = delivery_stamp(&text) {
            seen.deliveries.push(since(origin, stamp));
        } else if text.starts_with("43") {
            seen.acks.push(sent_at.elapsed());
            assert!(text.contains("\"ok\":true"), "error ack: {text}");
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if let Some(room) = send_to {
                ack_id += 1;
                sent_at = Instant::now();
                ws.send(chat_message(ack_id, room, origin)).await.expect("send");
            }
        } else if text.as_str() == "2" {
            ws.send(Frame::text("3")).await.expect("pong");
        }
    }
    let _ = ws.close(None).await;
    seen
}

/// Wait until the server is idle (under 5% of a core over half a second); how long it took.
async fn settle(server: &Server) -> Duration {
    let started = Instant::now();
    loop {
        let before = server.cpu_seconds();
        tokio::time::sleep(Duration::from_millis(500)).await;
        if server.cpu_seconds() - before < 0.025 || started.elapsed() > Duration::from_secs(60) {
            return started.elapsed();
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Usage {
    server_user: f64,
    server_kernel: f64,
    client_cpu: f64,
    elapsed: Duration,
}

struct Mark {
    server: (f64, f64),
    client: f64,
    at: Instant,
}

fn measure_start(server: &Server) -> Mark {
    Mark { server: server.cpu_split(), client: process_cpu_seconds("/proc/self/stat"), at: Instant::now() }
}

fn measure_end(server: &Server, start: Mark) -> Usage {
    let (user, kernel) = server.cpu_split();
    Usage {
        server_user: user - start.server.0,
        server_kernel: kernel - start.server.1,
        client_cpu: process_cpu_seconds("/proc/self/stat") - start.client,
        elapsed: start.at.elapsed(),
    }
}

fn print_usage(usage: &Usage, deliveries: usize) {
    let per = |cpu: f64| cpu * 1e6 / deliveries.max(1) as f64;
    let server = usage.server_user + usage.server_kernel;
    println!(
        "  server CPU {:.2} s ({:.0}% of 2 cores) = {:.2} µs per delivery ({:.2} user + {:.2} kernel); \
         load generator CPU {:.2} s ({:.0}%) = {:.2} µs per delivery",
        server,
        server * 50.0 / usage.elapsed.as_secs_f64(),
        per(server),
        per(usage.server_user),
        per(usage.server_kernel),
        usage.client_cpu,
        usage.client_cpu * 50.0 / usage.elapsed.as_secs_f64(),
        per(usage.client_cpu),
    );
}

/// Scenario 1: 100 senders in 10 rooms of 10, one message in flight each.
async fn senders(secs: u64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rooms: Vec<Vec<usize>> = (0..10).map(|r| (r * 10..r * 10 + 10).collect()).collect();
    let world = tokio::task::block_in_place(|| make_world(dir.path(), 100, &rooms));
    let server = Server::start_with(dir.path(), &["--message-rate", "0"]);
    let mut sockets = Vec::new();
    for token in &world.tokens {
        sockets.push(connect(&server.addr, token).await);
    }
    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let start = measure_start(&server);
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, ws)| tokio::spawn(drive(ws, origin, stop.clone(), Some(world.rooms[i / 10]))))
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut acks, mut deliveries) = (Vec::new(), Vec::new());
    for task in tasks {
        let seen = task.await.expect("socket task");
        acks.extend(seen.acks);
        deliveries.extend(seen.deliveries);
    }
    let usage = measure_end(&server, start);
    acks.sort();
    deliveries.sort();
    let secs = usage.elapsed.as_secs_f64();
    println!("1. 100 senders, 10 rooms of 10 members, one durable message in flight per sender");
    println!(
        "  {:.0} acked msgs/s   ack p50 {:.2} ms p99 {:.2} ms   {:.0} deliveries/s   delivery p50 {:.2} ms p99 {:.2} ms",
        acks.len() as f64 / secs,
        ms(percentile(&acks, 0.5)),
        ms(percentile(&acks, 0.99)),
        deliveries.len() as f64 / secs,
        ms(percentile(&deliveries, 0.5)),
        ms(percentile(&deliveries, 0.99)),
    );
    print_usage(&usage, deliveries.len());
    println!("  targets: ≥ 10,000 acked msgs/s, ack p99 ≤ 25 ms");
    server.stop();
}

/// Scenario 2: one room of 1,000 connected members, one message every 10 ms.
/// Which server scenario 2 measures: natter, or the floor (one bare send per delivery).
#[derive(Clone, Copy, PartialEq)]
enum Against {
    Natter,
    Floor,
}

async fn fanout(secs: u64, against: Against) {
    let members: usize = std::env::var("BENCH_MEMBERS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, tokens, room) = match against {
        Against::Natter => {
            let world = tokio::task::block_in_place(|| make_world(dir.path(), members, &[(0..members).collect()]));
            (Server::start_with(dir.path(), &["--message-rate", "0"]), world.tokens, world.rooms[0])
        }
        Against::Floor => {
            let mut itself = Command::new(std::env::current_exe().expect("own path"));
            itself.env(floor::ROLE_VAR, floor::ROLE);
            (Server::spawn(itself), vec![String::from("any"); members], 1)
        }
    };
    let mut sockets = Vec::new();
    for token in &tokens {
        sockets.push(connect(&server.addr, token).await);
    }
    let sender = connect(&server.addr, &tokens[0]).await;
    let origin = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = sockets.into_iter().map(|ws| tokio::spawn(drive(ws, origin, stop.clone(), None))).collect();
    // 1,000 members coming online in one room is ~1,000,000 `user_status` deliveries (each
    // announced to the other 999). Let that storm drain before the measured window opens.
    let settled = settle(&server).await;
    println!("  (presence storm of {members} users coming online drained in {:.1} s)", settled.as_secs_f64());
    let start = measure_start(&server);
    let sent = Arc::new(AtomicU64::new(0));
    let stop_sending = Arc::new(AtomicBool::new(false));
    let sending = {
        let (stop_sending, sent) = (stop_sending.clone(), sent.clone());
        tokio::spawn(async move {
            let (mut sink, mut stream) = sender.split();
            let reader = tokio::spawn(async move { while let Some(Ok(_)) = stream.next().await {} });
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut id = 0;
            while !stop_sending.load(Ordering::Relaxed) {
                tick.tick().await;
                sink.send(chat_message(id, room, origin)).await.expect("send");
                id += 1;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            let _ = sink.close().await;
            reader.abort();
        })
    };
    let sending_started = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop_sending.store(true, Ordering::Relaxed);
    sending.await.expect("sender");
    let window = sending_started.elapsed();
    // Receivers keep reading until the last messages are in.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut deliveries = Vec::new();
    for task in receivers {
        deliveries.extend(task.await.expect("receiver").deliveries);
    }
    let usage = measure_end(&server, start);
    deliveries.sort();
    let sent = sent.load(Ordering::Relaxed);
    match against {
        Against::Natter => println!("2. fan-out: one room of {members} connected members, one message every 10 ms"),
        Against::Floor => println!(
            "2f. fan-out floor: the same load against a stand-in that only writes one pre-built frame per delivery"
        ),
    }
    println!(
        "  {sent} messages sent, {} deliveries ({:.1}% of expected)   {:.0} deliveries/s   delivery p50 {:.2} ms p99 {:.2} ms",
        deliveries.len(),
        deliveries.len() as f64 * 100.0 / (sent as f64 * members as f64).max(1.0),
        deliveries.len() as f64 / window.as_secs_f64(),
        ms(percentile(&deliveries, 0.5)),
        ms(percentile(&deliveries, 0.99)),
    );
    print_usage(&usage, deliveries.len());
    if against == Against::Natter {
        println!("  targets: ≥ 100,000 deliveries/s, delivery p99 ≤ 50 ms, ≤ 5 µs server CPU per delivery");
    }
    server.stop();
}

/// Scenario 3: 10,000 idle connections, server RSS per connection.
async fn idle() {
    const CONNECTIONS: usize = 10_000;
    const USERS: usize = 100;
    let dir = tempfile::tempdir().expect("tempdir");
    let rooms: Vec<Vec<usize>> = (0..10).map(|r| (r * 10..r * 10 + 10).collect()).collect();
    let world = tokio::task::block_in_place(|| make_world(dir.path(), USERS, &rooms));
    let server = Server::start(dir.path());
    // Warm up: allocator arenas, runtime threads, a first batch of connections.
    let warm: Vec<Ws> =
        futures_util::future::join_all((0..100).map(|i| connect(&server.addr, &world.tokens[i % USERS]))).await;
    drop(warm);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let before = server.rss_kib();
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(CONNECTIONS);
    for batch in 0..CONNECTIONS / 100 {
        let connecting = (0..100).map(|i| connect(&server.addr, &world.tokens[(batch * 100 + i) % USERS]));
        sockets.extend(futures_util::future::join_all(connecting).await);
    }
    let connect_time = started.elapsed();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.rss_kib();
    println!("3. {CONNECTIONS} idle connections ({USERS} users, each socket in its user's room and 1 chat room)");
    println!(
        "  connected in {:.1} s; server RSS {} MiB -> {} MiB = {:.1} KB per connection",
        connect_time.as_secs_f64(),
        before / 1024,
        after / 1024,
        (after.saturating_sub(before)) as f64 * 1024.0 / 1000.0 / CONNECTIONS as f64,
    );
    println!("  target: ≤ 18 KB of server RSS per idle connection");
    drop(sockets);
    server.stop();
}

fn main() {
    if std::env::var(floor::ROLE_VAR).as_deref() == Ok(floor::ROLE) {
        return floor::serve();
    }
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!("natter Socket.IO benchmark: {} cores, {secs} s per timed scenario", support::num_cpus());
    runtime.block_on(async {
        if wants("senders") {
            senders(secs).await;
        }
        if wants("fanout") {
            fanout(secs, Against::Natter).await;
        }
        if wants("floor") {
            fanout(secs, Against::Floor).await;
        }
        if wants("idle") {
            idle().await;
        }
    });
}

//! History paging benchmark: pages of 50 with `before` at random positions, from
//! concurrent keep-alive HTTP clients, in a room of 1,000,000 messages and in one of 1,000.
//! One message in five is a reply (to the message three before it) and another one in five
//! carries two reactions, so pages show ReplyRefs and Reactions as real rooms do.
//!
//! The server is the real release binary in its own process, so its CPU is measured apart from
//! this load generator's (both are printed: on a 2-core machine they share the cores). The big
//! room is filled through the storage engine's batch path (one write job per 20,000 rows)
//! while the server is stopped, then the server is started again on that data.
//!
//!     cargo bench --bench history     # BENCH_SECS=10 BENCH_CLIENTS=32 BENCH_SERVER_ARGS="--db-readers 4"
//!
//! A/B in one sitting: `BENCH_NATTER_BINS=old/natter,new/natter BENCH_ROUNDS=3` loads the same
//! data with each binary in turn (A B A B A B), so a comparison does not pay for a fill per
//! binary and the machine's drift falls on both.
//!
//! The HTTP client is `support/http.rs`'s, a few lines over a TcpStream.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::{Http, reader_with_rooms};
use natter::storage::db::{Db, DbError, DbOptions};
use support::{Server, percentile, process_cpu_seconds};

#[path = "support/http.rs"]
mod http;
#[path = "support/mod.rs"]
mod support;

const BIG_ROOM: i64 = 1_000_000;
const SMALL_ROOM: i64 = 1_000;
const PAGE: i64 = 50;

/// Fill `room_id` with `count` messages by `sender` through the engine's batch path: every fifth
/// a reply, every fifth (another one) with two reactions.
fn fill_room(db: &Db, room_id: i64, sender: i64, count: i64) {
    const BATCH: i64 = 20_000;
    let mut written = 0;
    while written < count {
        let n = BATCH.min(count - written);
        let first = written;
        db.write_blocking(move |conn| {
            let mut insert = conn.prepare_cached(
                "INSERT INTO messages (room_id, sender_id, content, created_at, reply_to, reply_to_sender)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
            )?;
            let mut react = conn.prepare_cached(
                "INSERT INTO reactions (room_id, message_id, emoji, user_id, seq) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let now = natter::storage::db::now();
            let mut recent = [0i64; 3];
            for i in first..first + n {
                let reply_to = (i % 5 == 0 && recent[0] > 0).then_some(recent[0]);
                let content = format!("message number {i} in a long history");
                let id: i64 = insert
                    .query_row((room_id, sender, content, &now, reply_to, reply_to.map(|_| sender)), |r| r.get(0))?;
                if i % 5 == 2 {
                    react.execute((room_id, id, "👍", sender, 1))?;
                    react.execute((room_id, id, "🎉", sender, 2))?;
                }
                recent = [recent[1], recent[2], id];
            }
            Ok::<_, DbError>(())
        })
        .expect("batch insert");
        written += n;
    }
}

struct Outcome {
    pages: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    server_cpu: f64,
    client_cpu: f64,
}

async fn run_load(
    server: &Server,
    token: &str,
    room_id: i64,
    newest_id: i64,
    oldest_id: i64,
    clients: usize,
    secs: u64,
) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let server_cpu = server.cpu_seconds();
    let client_cpu = process_cpu_seconds("/proc/self/stat");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (addr, token, stop) = (server.addr.clone(), token.to_string(), stop.clone());
        tasks.push(tokio::spawn(async move {
            let mut http = Http::connect(&addr).await;
            let mut latencies = Vec::with_capacity(100_000);
            // A cheap xorshift: random `before` positions without a rand dependency.
            let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ (client as u64 + 1);
            while !stop.load(Ordering::Relaxed) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let span = (newest_id - oldest_id - PAGE).max(1) as u64;
                let before = oldest_id + PAGE + (seed % span) as i64;
                let path = format!("/chat/chat_rooms/{room_id}/messages?limit={PAGE}&before={before}");
                let t = Instant::now();
                let status = http.request("GET", &path, Some(&token), None).await;
                latencies.push(t.elapsed());
                assert_eq!(status, 200, "history page failed: {}", String::from_utf8_lossy(&http.body));
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("client task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    Outcome {
        pages: latencies.len(),
        elapsed,
        latencies,
        server_cpu: server.cpu_seconds() - server_cpu,
        client_cpu: process_cpu_seconds("/proc/self/stat") - client_cpu,
    }
}

fn report(label: &str, o: &Outcome) {
    let rate = o.pages as f64 / o.elapsed.as_secs_f64();
    println!(
        "{label:<22} {rate:>9.0} pages/s   p50 {:>6.2} ms   p99 {:>6.2} ms   server CPU {:>5.1} µs/page ({:.0}% of 2 cores)   load generator CPU {:>5.1} µs/page",
        percentile(&o.latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
        o.server_cpu * 1e6 / o.pages.max(1) as f64,
        o.server_cpu * 100.0 / o.elapsed.as_secs_f64() / 2.0,
        o.client_cpu * 1e6 / o.pages.max(1) as f64,
    );
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let clients: usize = std::env::var("BENCH_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "natter history benchmark: {} cores, SQLite {}, {clients} clients, {secs} s per room",
        support::num_cpus(),
        rusqlite::version()
    );

    // 1. Accounts and rooms through the API.
    let server = Server::start(dir.path());
    let reader = runtime.block_on(reader_with_rooms(&server.addr, &["big", "small"]));
    let (token, big, small, user_id) = (reader.token, reader.rooms[0], reader.rooms[1], reader.user_id);
    server.stop();

    // 2. A million messages through the engine's batch path.
    let fill_started = Instant::now();
    let db = Db::open(&dir.path().join("natter.db"), DbOptions::default()).expect("open db");
    fill_room(&db, big, user_id, BIG_ROOM);
    fill_room(&db, small, user_id, SMALL_ROOM);
    db.shutdown_blocking();
    let fill = fill_started.elapsed();
    println!(
        "filled {BIG_ROOM} + {SMALL_ROOM} messages in {:.1} s ({:.0} rows/s)",
        fill.as_secs_f64(),
        (BIG_ROOM + SMALL_ROOM) as f64 / fill.as_secs_f64()
    );

    // 3. Load, with each binary in turn.
    let binaries: Vec<String> = std::env::var("BENCH_NATTER_BINS")
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_else(|_| vec![support::natter_binary()]);
    let rounds: usize = std::env::var("BENCH_ROUNDS").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    for round in 1..=rounds {
        for binary in &binaries {
            if binaries.len() > 1 || rounds > 1 {
                println!("round {round}, {binary}:");
            }
            load_both_rooms(&runtime, binary, dir.path(), &token, big, small, clients, secs);
        }
    }
    println!("targets: ≥ 10,000 pages/s and p99 ≤ 10 ms in both rooms");
}

/// Serve the filled data with `binary` and load each room for `secs`; its figures and RSS.
#[allow(clippy::too_many_arguments)]
fn load_both_rooms(
    runtime: &tokio::runtime::Runtime,
    binary: &str,
    data: &std::path::Path,
    token: &str,
    big: i64,
    small: i64,
    clients: usize,
    secs: u64,
) {
    let server = Server::start_binary(binary, data, &[]);
    runtime.block_on(async {
        for (room, label) in [(big, "1,000,000 messages"), (small, "1,000 messages")] {
            // A fresh connection per room: an idle keep-alive one is closed after --header-timeout.
            let mut http = Http::connect(&server.addr).await;
            let (_, newest) =
                http.json("GET", &format!("/chat/chat_rooms/{room}/messages?limit=1"), Some(token), None).await;
            let (_, oldest) =
                http.json("GET", &format!("/chat/chat_rooms/{room}/messages?limit=1&after=0"), Some(token), None).await;
            let newest_id = newest[0]["id"].as_i64().expect("newest id");
            let oldest_id = oldest[0]["id"].as_i64().expect("oldest id");
            // Warm up: connections, prepared statements, page cache.
            let _ = run_load(&server, token, room, newest_id, oldest_id, clients, 1).await;
            let outcome = run_load(&server, token, room, newest_id, oldest_id, clients, secs).await;
            report(label, &outcome);
        }
    });
    println!("server RSS after the runs: {} MiB", server.rss_kib() / 1024);
    server.stop();
}

//! Search benchmark: `GET /chat/search` in a room of 1,000,000 messages, from concurrent
//! keep-alive HTTP clients, for a common word, a rare word, a phrase and a five-letter word; the
//! common word again by a user whose one room is empty (what other people's messages cost a
//! search); and what the index costs: on disk (as a share of the database), while messages are
//! written, and when it is built for a database that had none (as a migration does).
//!
//! The messages are made-up text with the word frequencies of real text (Zipf's law over a
//! vocabulary of 5,000 words, 6–14 words a message), so the common word is in about half of
//! them, like "the". The rare word is in 20 messages; the phrase in 1,000, and its two words
//! alone in 10,000 more each. The room is filled through the storage engine's batch path (one
//! write job per 20,000 rows, the search index kept in step by the triggers) while the server
//! is stopped, then the server is started again on that data, as in `benches/history.rs`.
//!
//! Every figure comes from the server process (`BENCH_NATTER_BIN` may name another build; for
//! an A/B against an older commit, build this file in a checkout of that commit so the data is
//! written by that commit's schema). `--search-rate 0` is passed when the server has the flag.
//!
//!     cargo bench --bench search      # BENCH_SECS=10 BENCH_CLIENTS=16 BENCH_MESSAGES=1000000

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use http::{Http, reader_with_rooms};
use natter::storage::db::{Db, DbError, DbOptions};
use serde_json::json;
use support::{Server, percentile, serve_has_flag};

#[path = "support/http.rs"]
mod http;
#[path = "support/mod.rs"]
mod support;

const VOCABULARY: usize = 5_000;
const RARE: &str = "quokka";
const RARE_COUNT: i64 = 20;
const PHRASE: (&str, &str) = ("pancake", "recipe");

/// A made-up word for rank `k` (0 = the most frequent), from syllables; none of them is a prefix
/// of the planted words.
fn word(k: usize) -> String {
    const SYLLABLES: [&str; 24] = [
        "ba", "de", "fi", "go", "hu", "ja", "ke", "li", "mo", "nu", "sa", "te", "vi", "wo", "ze", "bri", "dra", "fle",
        "gro", "kla", "ste", "tru", "vlo", "zwi",
    ];
    let mut n = k + SYLLABLES.len();
    let mut out = String::new();
    while n > 0 {
        out.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    out
}

/// xorshift64: deterministic text without a rand dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Word ranks drawn with Zipf's law (frequency ∝ 1/rank).
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize) -> Zipf {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect::<Vec<_>>();
        Zipf { cumulative: cumulative.iter().map(|c| c / total).collect() }
    }
    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cumulative.partition_point(|c| *c < u).min(self.cumulative.len() - 1)
    }
}

/// Message `i` of `count`: Zipf text, with the rare word and the phrase planted where they go.
fn text(i: i64, count: i64, rng: &mut Rng, zipf: &Zipf, words: &[String]) -> String {
    let length = 6 + (rng.next() % 9) as usize;
    let mut parts: Vec<&str> = (0..length).map(|_| words[zipf.sample(rng)].as_str()).collect();
    let at = (rng.next() as usize) % parts.len();
    if i % (count / RARE_COUNT) == 7 {
        parts.insert(at, RARE);
    }
    match i % 1000 {
        3 => {
            parts.insert(at, PHRASE.1);
            parts.insert(at, PHRASE.0);
        }
        n if n % 100 == 50 => parts.insert(at, PHRASE.0),
        n if n % 100 == 60 => parts.insert(at, PHRASE.1),
        _ => {}
    }
    parts.join(" ")
}

fn fill_room(db: &Db, room_id: i64, sender: i64, count: i64) {
    const BATCH: i64 = 20_000;
    let zipf = Arc::new(Zipf::new(VOCABULARY));
    let words: Arc<Vec<String>> = Arc::new((0..VOCABULARY).map(word).collect());
    let mut written = 0;
    while written < count {
        let n = BATCH.min(count - written);
        let first = written;
        let (zipf, words) = (zipf.clone(), words.clone());
        db.write_blocking(move |conn| {
            let mut insert = conn.prepare_cached(
                "INSERT INTO messages (room_id, sender_id, content, created_at) VALUES (?1, ?2, ?3, ?4)",
            )?;
            let now = natter::storage::db::now();
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ first as u64);
            for i in first..first + n {
                insert.execute((room_id, sender, text(i, count, &mut rng, &zipf, &words), &now))?;
            }
            Ok::<_, DbError>(())
        })
        .expect("batch insert");
        written += n;
    }
}

/// Bytes of the search index and of the whole database file (SQLite's dbstat).
fn sizes(db: &Db) -> (i64, i64) {
    db.read_blocking(|conn| {
        let index: i64 = conn.query_row(
            "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE 'messages\\_fts%' ESCAPE '\\'",
            [],
            |r| r.get(0),
        )?;
        let total: i64 = conn.query_row("SELECT sum(pgsize) FROM dbstat", [], |r| r.get(0))?;
        Ok::<_, DbError>((index, total))
    })
    .expect("dbstat")
}

fn mib(bytes: i64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

struct Outcome {
    queries: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    server_cpu: f64,
    results: usize,
}

async fn run_load(server: &Server, token: &str, path: &str, clients: usize, secs: u64) -> Outcome {
    let stop = Arc::new(AtomicBool::new(false));
    let results = Arc::new(AtomicUsize::new(0));
    let server_cpu = server.cpu_seconds();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (addr, token, path, stop, results) =
            (server.addr.clone(), token.to_string(), path.to_string(), stop.clone(), results.clone());
        tasks.push(tokio::spawn(async move {
            let mut http = Http::connect(&addr).await;
            let mut latencies = Vec::with_capacity(100_000);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let status = http.request("GET", &path, Some(&token), None).await;
                latencies.push(t.elapsed());
                assert_eq!(status, 200, "search failed: {}", String::from_utf8_lossy(&http.body));
                if latencies.len() == 1 {
                    let found: serde_json::Value = serde_json::from_slice(&http.body).expect("JSON");
                    results.store(found.as_array().map_or(0, Vec::len), Ordering::Relaxed);
                }
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
        queries: latencies.len(),
        elapsed,
        latencies,
        server_cpu: server.cpu_seconds() - server_cpu,
        results: results.load(Ordering::Relaxed),
    }
}

fn main() {
    let secs: u64 = std::env::var("BENCH_SECS").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let clients: usize = std::env::var("BENCH_CLIENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(16);
    let count: i64 = std::env::var("BENCH_MESSAGES").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    println!(
        "natter search benchmark: {} cores, SQLite {}, {count} messages, {clients} clients, {secs} s per query",
        support::num_cpus(),
        rusqlite::version()
    );

    // 1. The accounts and their rooms through the API; the messages through the engine.
    let flags: &[&str] = if serve_has_flag("--search-rate") { &["--search-rate", "0"] } else { &[] };
    let server = Server::start_with(dir.path(), flags);
    let reader = runtime.block_on(reader_with_rooms(&server.addr, &["big"]));
    let outsider = runtime.block_on(outsider_in_an_empty_room(&server.addr));
    server.stop();
    let db = Db::open(&dir.path().join("natter.db"), DbOptions::default()).expect("open db");
    let fill_started = Instant::now();
    fill_room(&db, reader.rooms[0], reader.user_id, count);
    let fill = fill_started.elapsed();
    let (index, total) = sizes(&db);
    db.shutdown_blocking();
    println!(
        "filled {count} messages in {:.1} s ({:.0} rows/s, the index kept in step by the triggers)",
        fill.as_secs_f64(),
        count as f64 / fill.as_secs_f64()
    );
    println!(
        "index on disk: {:.1} MiB of {:.1} MiB ({:.1}% of the database)",
        mib(index),
        mib(total),
        100.0 * index as f64 / total as f64
    );

    // 2. Load, one query at a time.
    let common = word(0);
    // Rank 15: the first five-letter word, in about 1 message in 20.
    let five_letters = word(15);
    let phrase = format!("\"{} {}\"", PHRASE.0, PHRASE.1);
    let server = Server::start_with(dir.path(), flags);
    runtime.block_on(async {
        for (label, q, token) in [
            ("common word", common.as_str(), &reader.token),
            ("rare word", RARE, &reader.token),
            ("phrase", phrase.as_str(), &reader.token),
            ("5-letter word", five_letters.as_str(), &reader.token),
            ("empty room", common.as_str(), &outsider),
        ] {
            let path = format!("/chat/search?q={}&limit=20", urlencode(q));
            // Warm up: connections, prepared statements, page cache.
            let _ = run_load(&server, token, &path, clients, 1).await;
            let o = run_load(&server, token, &path, clients, secs).await;
            println!(
                "{:<13} {q:<18} {:>7.0} queries/s   p50 {:>7.2} ms   p99 {:>7.2} ms   server CPU {:>7.1} µs/query   {} results a page",
                label,
                o.queries as f64 / o.elapsed.as_secs_f64(),
                percentile(&o.latencies, 0.50).as_secs_f64() * 1e3,
                percentile(&o.latencies, 0.99).as_secs_f64() * 1e3,
                o.server_cpu * 1e6 / o.queries.max(1) as f64,
                o.results,
            );
        }
    });
    println!("server RSS after the runs: {} MiB", server.rss_kib() / 1024);
    server.stop();

    // 3. What a migration building the index does on a database of that size.
    let db = Db::open(&dir.path().join("natter.db"), DbOptions::default()).expect("open db");
    let rebuild_started = Instant::now();
    db.write_blocking(|conn| {
        conn.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');")?;
        Ok::<_, DbError>(())
    })
    .expect("rebuild");
    let rebuild = rebuild_started.elapsed();
    let (index, total) = sizes(&db);
    db.shutdown_blocking();
    println!(
        "building the index from scratch (as its migration does): {:.1} s; then {:.1} MiB ({:.1}% of the database)",
        rebuild.as_secs_f64(),
        mib(index),
        100.0 * index as f64 / total as f64
    );
}

/// A second account whose only room has no message: its token.
async fn outsider_in_an_empty_room(addr: &str) -> String {
    let mut http = Http::connect(addr).await;
    let body = json!({"username": "outsider", "email": "outsider@example.com", "password": "password123"});
    let (status, user) = http.json("POST", "/auth/signup", None, Some(&body)).await;
    assert_eq!(status, 201, "signup: {user}");
    let login = json!({"email": "outsider", "password": "password123"});
    let (_, token) = http.json("POST", "/auth/login", None, Some(&login)).await;
    let token = token["access_token"].as_str().expect("token").to_string();
    let (status, room) = http.json("POST", "/chat/chat_rooms", Some(&token), Some(&json!({"name": "empty"}))).await;
    assert_eq!(status, 201, "room: {room}");
    token
}

/// `q` as a query-string value.
fn urlencode(q: &str) -> String {
    q.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

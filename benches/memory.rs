//! Memory of the server process under signups and logins: the rows of the memory table in
//! docs/benchmarks.md, and a login storm sampled over time. Each row runs against a fresh release binary in
//! its own process and reads its RSS from `/proc/PID/status`.
//!
//! ```text
//! cargo bench --bench memory                 # both: table, storm
//! cargo bench --bench memory -- storm        # one of them
//! BENCH_NATTER_BIN=/tmp/natter-old cargo bench --bench memory   # the same against another build
//! BENCH_SERVER_CPUS=0 cargo bench --bench memory                # the server on one core
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

#[path = "support/mod.rs"]
mod support;
#[path = "support/world.rs"]
mod world;
use support::Server;
use world::{PASSWORD, make_world};

fn mib(kib: u64) -> String {
    format!("{:.1} MB", kib as f64 / 1024.0)
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(120)).build().expect("client")
}

/// POST `body` to `path`; the status.
async fn post(http: &reqwest::Client, server: &Server, path: &str, body: Value) -> u16 {
    let url = format!("http://{}{path}", server.addr);
    http.post(url).json(&body).send().await.map(|r| r.status().as_u16()).unwrap_or(0)
}

fn signup_body(name: &str) -> Value {
    json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD})
}

fn login_body(name: &str) -> Value {
    json!({"email": name, "password": PASSWORD})
}

/// Send every body to `path`, `parallel` at a time; the statuses seen, counted.
async fn burst(server: &Server, path: &str, bodies: Vec<Value>, parallel: usize) -> String {
    let client = http();
    let statuses: Vec<u16> = futures_util::stream::iter(bodies)
        .map(|body| post(&client, server, path, body))
        .buffer_unordered(parallel)
        .collect()
        .await;
    let mut counts = std::collections::BTreeMap::new();
    for status in statuses {
        *counts.entry(status).or_insert(0) += 1;
    }
    counts.iter().map(|(status, n)| format!("{n} × {status}")).collect::<Vec<_>>().join(", ")
}

/// Signups of `user0..count`, `parallel` at a time; the statuses seen.
async fn signups(server: &Server, count: usize, parallel: usize) -> String {
    let bodies = (0..count).map(|i| signup_body(&format!("user{i}"))).collect();
    burst(server, "/auth/signup", bodies, parallel).await
}

/// Logins of `user0..count`, `parallel` at a time; the statuses seen.
async fn logins(server: &Server, count: usize, parallel: usize) -> String {
    let bodies = (0..count).map(|i| login_body(&format!("user{i}"))).collect();
    burst(server, "/auth/login", bodies, parallel).await
}

/// A fresh server on a fresh data folder, with `accounts` users made offline (`user0`, ...).
fn fresh(accounts: usize, flags: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    if accounts > 0 {
        tokio::task::block_in_place(|| make_world(dir.path(), accounts, &[]));
    }
    let server = Server::start_with(dir.path(), flags);
    (dir, server)
}

fn row(what: &str, server: &Server, extra: &str) {
    println!("  {what:<62} {:>9}  ({} threads){extra}", mib(server.rss_kib()), server.status_kb("Threads"));
}

/// The rows of the table in docs/benchmarks.md.
async fn table() {
    println!("T. server RSS after each burst (fresh server per row)");
    let (_dir, server) = fresh(0, &[]);
    row("started, idle", &server, "");
    let result = signups(&server, 40, 40).await;
    row("after 40 signups sent in parallel", &server, &format!("  [{result}]"));
    server.stop();

    let (_dir, server) = fresh(0, &[]);
    signups(&server, 200, 8).await;
    let result = logins(&server, 200, 8).await;
    row("after 200 signups + 200 logins, 8 at a time", &server, &format!("  [{result}]"));
    server.stop();

    let (_dir, server) = fresh(0, &[]);
    signups(&server, 1000, 50).await;
    row("after 1,000 signups, 50 at a time (a load test's setup)", &server, "");
    server.stop();

    let (_dir, server) = fresh(200, &[]);
    let result = logins(&server, 200, 200).await;
    row("200 parallel logins", &server, &format!("  [{result}]"));
    server.stop();

    // Default flags: --auth-rate 30/min applies.
    let (_dir, server) = fresh(0, &["--auth-rate", "30/min"]);
    let unknown: Vec<Value> = (0..40).map(|i| login_body(&format!("nobody{i}@example.com"))).collect();
    let result = burst(&server, "/auth/login", unknown, 40).await;
    row("40 parallel logins for unknown emails, default --auth-rate", &server, &format!("  [{result}]"));
    tokio::time::sleep(Duration::from_secs(30)).await;
    row("  ... 30 s later", &server, "");
    server.stop();

    let (_dir, server) = fresh(60, &[]);
    let client = http();
    for i in 0..60 {
        let status = post(&client, &server, "/auth/login", login_body(&format!("user{i}"))).await;
        assert_eq!(status, 200, "login");
        if [4, 19, 59].contains(&i) {
            row(&format!("{} logins one at a time", i + 1), &server, "");
        }
    }
    server.stop();

    let (_dir, server) = fresh(0, &["--hash-concurrency", "1"]);
    let result = signups(&server, 30, 30).await;
    row("--hash-concurrency 1, 30 signups in parallel", &server, &format!("  [{result}]"));
    server.stop();
}

/// A login storm: 1,000 logins, 50 at a time, RSS sampled every 10 ms.
async fn storm() {
    const LOGINS: usize = 1000;
    const PARALLEL: usize = 50;
    let (_dir, server) = fresh(LOGINS, &[]);
    let start = server.rss_kib();
    let pid = server.pid();
    let peak = Arc::new(AtomicU64::new(start));
    let done = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(support::rss_kib_of(&format!("/proc/{pid}/status")), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let started = Instant::now();
    let result = logins(&server, LOGINS, PARALLEL).await;
    let took = started.elapsed();
    done.store(true, Ordering::Relaxed);
    sampler.join().expect("sampler");
    let end = server.rss_kib();
    tokio::time::sleep(Duration::from_secs(12)).await;
    let later = server.rss_kib();
    println!("L. login storm: {LOGINS} logins, {PARALLEL} at a time, in {:.1} s [{result}]", took.as_secs_f64());
    println!(
        "  server RSS start {}, peak {} (VmHWM {}), end {}, 12 s later {}",
        mib(start),
        mib(peak.load(Ordering::Relaxed)),
        mib(server.status_kb("VmHWM")),
        mib(end),
        mib(later)
    );
    server.stop();
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wants = |name: &str| only.is_empty() || only.iter().any(|o| o == name);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    println!(
        "natter memory benchmark: {} cores, server {}",
        support::num_cpus(),
        std::env::var("BENCH_NATTER_BIN").unwrap_or_else(|_| "this build".into())
    );
    runtime.block_on(async {
        if wants("table") {
            table().await;
        }
        if wants("storm") {
            storm().await;
        }
    });
}

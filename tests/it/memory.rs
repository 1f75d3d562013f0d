//! Memory stays bounded on a small board: the built binary as its own process, its
//! resident memory read from `/proc/PID/status` before and after a burst of work.
//!
//! These are bounds, not timings: a server that keeps every password hash's 19 MiB block (what
//! glibc's heap did before `password::HashMemory`) grows by ~740 MB over the first test and fails it.

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::json;

use crate::common;
use crate::common::process::ServerProcess;
use crate::common::sio;

/// How many requests or connections are in flight at once.
const PARALLEL: usize = 8;

/// `count` accounts `{prefix}{i}`, created `PARALLEL` at a time.
async fn signups(server: &ServerProcess, prefix: &str, count: usize) {
    futures_util::stream::iter(0..count)
        .map(|i| {
            let name = format!("{prefix}{i}");
            async move { server.try_signup(&name).await }
        })
        .buffer_unordered(PARALLEL)
        .for_each(|(status, body)| async move { assert_eq!(status, StatusCode::CREATED, "signup: {body}") })
        .await;
}

/// One login for each of `{prefix}0..count`, `PARALLEL` at a time; their access tokens.
async fn logins(server: &ServerProcess, prefix: &str, count: usize) -> Vec<String> {
    futures_util::stream::iter(0..count)
        .map(|i| {
            let name = format!("{prefix}{i}");
            async move { server.token(&name).await }
        })
        .buffer_unordered(PARALLEL)
        .map(|(token, _)| token)
        .collect()
        .await
}

#[tokio::test]
async fn memory_stays_bounded_over_200_signups_and_200_logins() {
    let data = tempfile::tempdir().expect("a temporary data folder");
    let server = ServerProcess::start(data.path(), &["--login-fail-rate", "0"]).await;
    let before = server.rss_kb();

    signups(&server, "user", 200).await;
    let after_signups = server.rss_kb();
    logins(&server, "user", 200).await;
    let after = server.rss_kb();
    let peak = server.status_kb("VmHWM");
    println!(
        "natter RSS: {before} kB at start, {after_signups} kB after 200 signups, {after} kB after 200 logins \
         (peak {peak} kB)"
    );
    let grown = after.saturating_sub(before);
    assert!(grown <= 64 * 1024, "RSS grew by {grown} kB over 200 signups and 200 logins (bound: 64 MB)");
    server.kill().await;
}

#[tokio::test]
async fn memory_returns_after_2000_socket_connections_open_and_close() {
    let data = tempfile::tempdir().expect("a temporary data folder");
    // Freed memory is handed back every `--memory-trim`; short here so the test need not wait.
    // No first room: what is measured is the connections themselves, not presence news.
    let args = ["--login-fail-rate", "0", "--memory-trim", "100ms", "--default-room", ""];
    let server = ServerProcess::start(data.path(), &args).await;
    signups(&server, "sock", 20).await;
    let tokens = logins(&server, "sock", 20).await;
    // One connection first, so that what every connection shares (the runtime's I/O driver, the
    // Socket.IO namespace) is already in the baseline.
    let first = sio::connect_token(&server.base, &tokens[0]).await.expect("connect");
    first.close().await;
    let sockets_before = server.open_sockets();
    wait_for_sockets(&server, sockets_before).await;
    let before = server.rss_kb();

    let clients: Vec<sio::Client> = futures_util::stream::iter(0..2000)
        .map(|i| sio::connect_token(&server.base, &tokens[i % tokens.len()]))
        .buffer_unordered(PARALLEL * 4)
        .map(|client| client.expect("connect"))
        .collect()
        .await;
    // Every CONNECT was answered; a round trip on the last proves the server still serves them.
    let ack = clients[1999].emit_with_ack("get_online_users", json!({"room_id": 1})).await;
    assert_eq!(ack["ok"], false, "no rooms exist: {ack}");
    let open = server.rss_kb();
    assert!(open > before + 8 * 1024, "2,000 sockets must show in RSS ({before} → {open} kB) or this proves nothing");
    for client in clients {
        client.close().await;
    }
    // Closed on our side; the server has let go of them when its open sockets are back to where
    // they were, and has given the memory back within a few trim rounds.
    wait_for_sockets(&server, sockets_before).await;
    let bound = before + 16 * 1024;
    let after = wait_for_rss_at_most(&server, bound).await;
    println!("natter RSS: {before} kB before, {open} kB with 2,000 sockets open, {after} kB after they closed");
    assert!(after <= bound, "RSS stayed at {after} kB, {before} kB before 2,000 sockets (bound: +16 MB)");
    server.kill().await;
}

/// Wait until the server's open sockets are back to `sockets` (nothing to await: the server
/// tells no one when it has closed a connection).
async fn wait_for_sockets(server: &ServerProcess, sockets: usize) {
    let deadline = std::time::Instant::now() + common::TIMEOUT;
    while server.open_sockets() > sockets {
        assert!(std::time::Instant::now() < deadline, "{} sockets open, {sockets} before", server.open_sockets());
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The server's RSS once it is at most `bound` kB, or after 5 s (many `--memory-trim` rounds).
async fn wait_for_rss_at_most(server: &ServerProcess, bound: u64) -> u64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let rss = server.rss_kb();
        if rss <= bound || std::time::Instant::now() > deadline {
            return rss;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

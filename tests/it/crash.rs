//! Crash safety: three cycles of the crash harness (`benches/crash.rs` runs 100
//! against the release binary) on the debug binary. Each cycle drives 20 acked Socket.IO
//! senders and 5 REST uploaders, `kill -9`s the server at a random moment, restarts it on the
//! same data and checks `PRAGMA integrity_check`, every acknowledged message (once, with its
//! content and id, in order per sender), every acknowledged upload (row and bytes) and that the
//! media folder holds no orphan. The scenario is [`scenario`], which `benches/crash.rs` shares.

pub mod scenario;

use std::time::{Duration, Instant};

use scenario::{Ledger, Rng};

use crate::common::process::ServerProcess;
// The scenario's senders speak through the tests' client (`super::sio` from there).
use crate::common::sio;

const FLAGS: &[&str] = &["--message-rate", "0"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_messages_and_uploads_survive_kill_9() {
    let seed = scenario::seed();
    eprintln!("crash seed {seed} (CRASH_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServerProcess::start(dir.path(), FLAGS).await;
    let mut addr = server.addr.to_string();
    let world = scenario::setup(&addr).await;
    let mut ledger = Ledger::default();
    let mut acked = 0;
    // CRASH_CYCLES runs more (the release figures come from `cargo bench --bench crash`).
    let cycles: usize = std::env::var("CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(3);
    for cycle in 1..=cycles {
        // The debug binary is slower: give the load time to get going before the kill.
        let kill_after = scenario::kill_moment(&mut rng, Duration::from_millis(300), Duration::from_millis(1500));
        let pid = server.pid;
        let ran = scenario::run_until_killed(&addr, &world, &mut ledger, cycle, &mut rng, kill_after, || {
            // SAFETY: kill(2) on our own child, which is not reaped yet (its pid is not reused).
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        })
        .await;
        server.kill().await;
        let restart = Instant::now();
        server = ServerProcess::start(dir.path(), FLAGS).await;
        let restart_ms = restart.elapsed().as_millis();
        // The restarted server listens on another port.
        addr = server.addr.to_string();
        let resent = scenario::resend_in_flight(&addr, &world, &mut ledger).await;
        let (checked, failures) = scenario::check(dir.path(), &world, &ledger);
        eprintln!(
            "cycle {cycle}: killed after {} ms, {} messages and {} uploads acked, {} in flight ({resent} resent), \
             restart {restart_ms} ms, checked {} messages, {} uploads, {} files",
            ran.kill_after.as_millis(),
            ran.acked_messages,
            ran.acked_uploads,
            ran.in_flight,
            checked.messages,
            checked.uploads,
            checked.files
        );
        assert!(failures.is_empty(), "cycle {cycle} (seed {seed}): {failures:#?}");
        acked += ran.acked_messages;
    }
    assert!(acked > 0, "no message was acknowledged before any of the kills: the cycles proved nothing");
    server.kill().await;
}

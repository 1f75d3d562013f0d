//! Crash safety: `kill -9` the release binary at a random moment under load, restart
//! it on the same data, and check that nothing acknowledged was lost (see
//! `tests/it/crash/scenario.rs` for the load and the checks). Prints each cycle and the totals; exits
//! non-zero if any check failed.
//!
//! ```text
//! cargo bench --bench crash              # 100 cycles
//! cargo bench --bench crash -- 10        # 10 cycles (or CRASH_CYCLES=10)
//! CRASH_SEED=123 cargo bench --bench crash   # replay the moments and sizes of a run
//! BENCH_NATTER_BIN=/tmp/natter-old cargo bench --bench crash   # another build
//! ```

use std::time::{Duration, Instant};

// The scenario and its Socket.IO client are the integration tests' (tests/it/crash.rs runs 3
// cycles of it on every `cargo test`).
#[path = "../tests/it/crash/scenario.rs"]
mod crash;
#[path = "../tests/it/common/sio.rs"]
#[allow(dead_code)]
mod sio;
#[path = "support/mod.rs"]
mod support;

use crash::{Ledger, Rng};
use support::Server;

/// The server's flags: no bound on one user's message rate (20 senders post as fast as acks
/// come back).
const FLAGS: &[&str] = &["--message-rate", "0"];

fn cycles() -> usize {
    let from_args = std::env::args().skip(1).find(|a| !a.starts_with('-')).and_then(|a| a.parse().ok());
    from_args.or_else(|| std::env::var("CRASH_CYCLES").ok().and_then(|c| c.parse().ok())).unwrap_or(100)
}

fn kill(pid: u32) {
    // SAFETY: a plain kill(2) on our own child's pid (not yet reaped, so not reused).
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let cycles = cycles();
    let seed = crash::seed();
    let mut rng = Rng::new(seed);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("crash: {cycles} cycles, seed {seed} (CRASH_SEED={seed} replays it), data in {}", dir.path().display());
    let mut server = tokio::task::block_in_place(|| Server::start_with(dir.path(), FLAGS));
    let world = crash::setup(&server.addr).await;
    let mut ledger = Ledger::default();
    let mut restarts = Vec::new();
    let mut failed_cycles = 0;
    let started = Instant::now();
    for cycle in 1..=cycles {
        let kill_after = crash::kill_moment(&mut rng, Duration::from_millis(50), Duration::from_millis(2000));
        let pid = server.pid();
        let ran =
            crash::run_until_killed(&server.addr, &world, &mut ledger, cycle, &mut rng, kill_after, || kill(pid)).await;
        server.stop();
        let restart = Instant::now();
        server = tokio::task::block_in_place(|| Server::start_with(dir.path(), FLAGS));
        let restart_time = restart.elapsed();
        restarts.push(restart_time);
        let resent = crash::resend_in_flight(&server.addr, &world, &mut ledger).await;
        let (checked, failures) = tokio::task::block_in_place(|| crash::check(dir.path(), &world, &ledger));
        println!(
            "cycle {cycle:3}: killed after {:4} ms: {:4} messages and {:3} uploads acked, {:2} in flight (resent {resent}); \
             restart {:5.0} ms; checked {} messages, {} uploads, {} files: {}",
            ran.kill_after.as_millis(),
            ran.acked_messages,
            ran.acked_uploads,
            ran.in_flight,
            restart_time.as_secs_f64() * 1000.0,
            checked.messages,
            checked.uploads,
            checked.files,
            if failures.is_empty() { "ok".to_string() } else { format!("{} FAILURES", failures.len()) }
        );
        if !failures.is_empty() {
            failed_cycles += 1;
            for failure in failures.iter().take(20) {
                println!("    {failure}");
            }
            // Keep checking later cycles against the same promises, without repeating these.
            ledger.failures.clear();
        }
    }
    server.stop();
    restarts.sort();
    let total: usize = ledger.messages.iter().map(Vec::len).sum();
    println!(
        "crash: {cycles} cycles in {:.0} s; {total} acknowledged messages and {} acknowledged uploads checked after every \
         restart; restart p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; failed cycles: {failed_cycles}",
        started.elapsed().as_secs_f64(),
        ledger.uploads.len(),
        support::percentile(&restarts, 0.5).as_secs_f64() * 1000.0,
        support::percentile(&restarts, 0.99).as_secs_f64() * 1000.0,
        restarts.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    if failed_cycles > 0 {
        // `exit` runs no destructors: remove the data folder first.
        drop(dir);
        std::process::exit(1);
    }
}

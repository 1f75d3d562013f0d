//! Storage benchmark: group commit against one transaction per message.
//!
//! Mode A ("group commit") is the real engine: `natter::storage::db::Db` with `DbOptions::default()`,
//! N tokio tasks each appending messages through `db.write(...)` as fast as their answers come
//! back. Mode B ("one transaction per message") is what the engine would be without group
//! commit: one plain `rusqlite::Connection` with the same schema and the same pragmas
//! (WAL, `synchronous=FULL`), shared behind a `std::sync::Mutex` and used from
//! `spawn_blocking`, each insert its own autocommit transaction (one fsync each).
//!
//! Every scenario gets a fresh database file; latency is the time from the call to its answer.
//! Run it on an otherwise idle machine. Mode B is bound by fsync; mode A with 100 writers is
//! bound by its one writer thread, so a concurrent `cargo build` on 2 cores hurts A far more
//! than B (the 100-writer ratio fell from 26-32x to 6-18x on the 2-core dev VM).
//!
//! Run: `cargo bench --bench storage` (each scenario lasts `BENCH_SECS` seconds, default 5).

use std::error::Error;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use natter::storage::db::{Db, DbError, DbOptions};
use rusqlite::{Connection, params};

type BoxError = Box<dyn Error + Send + Sync>;

const WRITERS: [usize; 3] = [1, 10, 100];
const DEFAULT_SECS: f64 = 5.0;

const INSERT_MESSAGE: &str = "INSERT INTO messages (room_id, sender_id, content, created_at) VALUES (?1, ?2, ?3, ?4)";
const INSERT_USER: &str = "INSERT INTO users (username, email, password_hash, password_changed_at, created_at)
     VALUES ('bench', 'bench@example.com', 'not-a-hash', 0, ?1)";
/// `activity_seq` keeps its default: messages inserted here do not move the room.
const INSERT_ROOM: &str = "INSERT INTO rooms (name, created_at) VALUES ('bench', ?1)";

/// Mode B's connection setup: the engine's own pragmas (see `PRAGMAS` in src/db/mod.rs), so
/// both modes pay for the same foreign-key checks and the same fsync per commit. The engine's
/// writer never checkpoints (`wal_autocheckpoint=0`, a separate thread does it), so neither does
/// this connection: if anything, that favours mode B.
const MODE_B_PRAGMAS: &str = "PRAGMA foreign_keys = ON;
     PRAGMA synchronous = FULL;
     PRAGMA busy_timeout = 5000;
     PRAGMA temp_store = MEMORY;
     PRAGMA cache_size = -16000;
     PRAGMA wal_autocheckpoint = 0;";

#[derive(Clone, Copy)]
enum Mode {
    GroupCommit,
    TxnPerMessage,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::GroupCommit => "A group commit",
            Mode::TxnPerMessage => "B one txn per message",
        }
    }
}

struct Outcome {
    writers: usize,
    messages: usize,
    elapsed: Duration,
    /// Per-write latency in microseconds, sorted.
    latencies_us: Vec<u64>,
    /// Writes per commit (mode A); `None` for mode B, where it is 1 by construction.
    writes_per_commit: Option<f64>,
}

impl Outcome {
    fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64()
    }

    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let rank = (p / 100.0 * self.latencies_us.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies_us.len()) - 1;
        self.latencies_us[index] as f64 / 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.latencies_us.last().map_or(f64::NAN, |&us| us as f64 / 1000.0)
    }
}

/// Where every message goes: the one user and the one room of the fixture.
#[derive(Clone, Copy)]
struct Target {
    room_id: i64,
    sender_id: i64,
}

fn insert_fixtures(conn: &Connection) -> rusqlite::Result<Target> {
    let now = natter::storage::db::now();
    conn.execute(INSERT_USER, [&now])?;
    let sender_id = conn.last_insert_rowid();
    conn.execute(INSERT_ROOM, [&now])?;
    let room_id = conn.last_insert_rowid();
    Ok(Target { room_id, sender_id })
}

fn bench_duration() -> Result<Duration, BoxError> {
    let Ok(s) = std::env::var("BENCH_SECS") else {
        return Ok(Duration::from_secs_f64(DEFAULT_SECS));
    };
    let secs: f64 = s.trim().parse().map_err(|e| format!("BENCH_SECS={s:?}: {e}"))?;
    if !(secs.is_finite() && secs > 0.0) {
        return Err(format!("BENCH_SECS={s:?}: must be a positive number of seconds").into());
    }
    Ok(Duration::from_secs_f64(secs))
}

fn sorted(per_task: Vec<Vec<u64>>) -> Vec<u64> {
    let mut all: Vec<u64> = per_task.into_iter().flatten().collect();
    all.sort_unstable();
    all
}

/// Mode A: the engine, `writers` tasks each appending through `db.write` until the deadline.
async fn run_group_commit(dir: &Path, writers: usize, secs: Duration) -> Result<Outcome, BoxError> {
    let db = Db::open(&dir.join("group-commit.db"), DbOptions::default())?;
    let target = db.write(|conn| insert_fixtures(conn).map_err(DbError::from)).await?;

    let commits_before = db.commit_count();
    let start = Instant::now();
    let deadline = start + secs;
    let mut tasks = Vec::with_capacity(writers);
    for task in 0..writers {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let content = format!("message {seq} from writer {task}");
                let at = natter::storage::db::now();
                let called = Instant::now();
                db.write(move |conn| {
                    conn.prepare_cached(INSERT_MESSAGE)?.execute(params![
                        target.room_id,
                        target.sender_id,
                        content,
                        at
                    ])?;
                    Ok::<_, DbError>(())
                })
                .await?;
                latencies.push(called.elapsed().as_micros() as u64);
                seq += 1;
            }
            Ok::<_, DbError>(latencies)
        }));
    }
    let mut per_task = Vec::with_capacity(writers);
    for task in tasks {
        per_task.push(task.await??);
    }
    let elapsed = start.elapsed();
    let commits = db.commit_count() - commits_before;
    db.shutdown().await;

    let latencies_us = sorted(per_task);
    let messages = latencies_us.len();
    Ok(Outcome {
        writers,
        messages,
        elapsed,
        writes_per_commit: Some(messages as f64 / commits.max(1) as f64),
        latencies_us,
    })
}

/// Mode B: one plain connection behind a mutex, each insert its own autocommit transaction.
async fn run_txn_per_message(dir: &Path, writers: usize, secs: Duration) -> Result<Outcome, BoxError> {
    let conn = Connection::open(dir.join("txn-per-message.db"))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("journal_mode is {mode}, not wal").into());
    }
    conn.execute_batch(MODE_B_PRAGMAS)?;
    conn.execute_batch(include_str!("../schema.sql"))?;
    let target = insert_fixtures(&conn)?;
    let conn = Arc::new(Mutex::new(conn));

    let start = Instant::now();
    let deadline = start + secs;
    let mut tasks = Vec::with_capacity(writers);
    for task in 0..writers {
        let conn = conn.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut seq = 0u64;
            while Instant::now() < deadline {
                let content = format!("message {seq} from writer {task}");
                let at = natter::storage::db::now();
                let conn = conn.clone();
                let called = Instant::now();
                tokio::task::spawn_blocking(move || {
                    let conn = conn.lock().map_err(|_| "mode B connection mutex poisoned")?;
                    conn.prepare_cached(INSERT_MESSAGE)?.execute(params![
                        target.room_id,
                        target.sender_id,
                        content,
                        at
                    ])?;
                    Ok::<_, BoxError>(())
                })
                .await??;
                latencies.push(called.elapsed().as_micros() as u64);
                seq += 1;
            }
            Ok::<_, BoxError>(latencies)
        }));
    }
    let mut per_task = Vec::with_capacity(writers);
    for task in tasks {
        per_task.push(task.await??);
    }
    let elapsed = start.elapsed();

    let latencies_us = sorted(per_task);
    Ok(Outcome { writers, messages: latencies_us.len(), elapsed, writes_per_commit: None, latencies_us })
}

fn print_row(mode: Mode, o: &Outcome) {
    let per_commit = match o.writes_per_commit {
        Some(w) => format!("{w:.2}"),
        None => "1 (by design)".to_string(),
    };
    println!(
        "{:<22} {:>7} {:>9} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>14}",
        mode.label(),
        o.writers,
        o.messages,
        o.rate(),
        o.percentile_ms(50.0),
        o.percentile_ms(99.0),
        o.max_ms(),
        per_commit,
    );
}

/// `12345.6` as `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

async fn run_all(secs: Duration) -> Result<(), BoxError> {
    let dir = tempfile::tempdir()?;
    println!("  temp dir:          {}", dir.path().display());
    println!();
    println!(
        "{:<22} {:>7} {:>9} {:>10} {:>8} {:>8} {:>8} {:>14}",
        "mode", "writers", "messages", "msgs/s", "p50 ms", "p99 ms", "max ms", "writes/commit"
    );
    println!("{}", "-".repeat(22 + 7 + 9 + 10 + 8 + 8 + 8 + 14 + 7));

    // A and B for the same N run back to back, so that a disturbance (another process taking
    // CPU or disk) is less likely to fall on only one side of a ratio.
    let (mut group, mut single) = (Vec::new(), Vec::new());
    for &n in &WRITERS {
        let scenario = tempfile::tempdir_in(dir.path())?;
        let outcome = run_group_commit(scenario.path(), n, secs).await?;
        print_row(Mode::GroupCommit, &outcome);
        group.push(outcome);

        let scenario = tempfile::tempdir_in(dir.path())?;
        let outcome = run_txn_per_message(scenario.path(), n, secs).await?;
        print_row(Mode::TxnPerMessage, &outcome);
        single.push(outcome);
    }

    println!();
    println!("speed-up of group commit (A) over one transaction per message (B)");
    println!("{:>7} {:>12} {:>12} {:>10}", "writers", "A msgs/s", "B msgs/s", "A / B");
    println!("{}", "-".repeat(7 + 12 + 12 + 10 + 3));
    for (a, b) in group.iter().zip(&single) {
        println!(
            "{:>7} {:>12} {:>12} {:>9.1}×",
            a.writers,
            thousands(a.rate()),
            thousands(b.rate()),
            a.rate() / b.rate()
        );
    }

    let a100 = group.iter().find(|o| o.writers == 100);
    let b100 = single.iter().find(|o| o.writers == 100);
    if let (Some(a), Some(b)) = (a100, b100) {
        let speedup = a.rate() / b.rate();
        let verdict = |ok: bool| if ok { "MET" } else { "NOT MET" };
        println!();
        println!("targets");
        println!(
            "  100 writers: group commit is {speedup:.1}× one-transaction-per-message (target ≥ 20×): {}",
            verdict(speedup >= 20.0)
        );
        println!(
            "  group commit with 100 writers: {} msgs/s (target ≥ 10,000): {}",
            thousands(a.rate()),
            verdict(a.rate() >= 10_000.0)
        );
    }
    Ok(())
}

fn main() -> Result<(), BoxError> {
    let secs = bench_duration()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let defaults = DbOptions::default();

    println!("natter storage benchmark");
    println!("  cores (nproc):     {cores}");
    println!("  SQLite:            {}", rusqlite::version());
    println!(
        "  engine (mode A):   DbOptions::default(): commit_batch {}, queue {}; WAL, synchronous=FULL",
        defaults.commit_batch, defaults.queue
    );
    println!("  baseline (mode B): one rusqlite connection, Mutex + spawn_blocking; WAL, synchronous=FULL");
    println!("  per scenario:      {} s (BENCH_SECS), fresh database each", secs.as_secs_f64());
    println!("  tokio:             multi-thread runtime, {cores} worker threads");

    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(cores).enable_all().build()?;
    runtime.block_on(run_all(secs))
}

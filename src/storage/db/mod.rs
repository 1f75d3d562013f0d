//! The storage engine: one writer thread with group commit, a pool of read-only readers.
//!
//! Why this shape (figures from `benches/storage.rs` on the 2-core dev VM, see docs/benchmarks.md):
//! - An acknowledged message must survive `kill -9` and power loss, so every commit runs with
//!   `synchronous=FULL`, which costs one fsync per commit: ~3,500 commits/s on the dev VM's disk
//!   (415 measured on a slower VM disk; a Raspberry Pi's SD card is slower still). One
//!   transaction per message caps natter at that rate whatever the number of writers: 3,647
//!   msgs/s with 100 writers, against 88,930 with group commit (24x, ~50 writes per commit).
//! - So one thread owns the only write connection and takes every queued write (up to
//!   `--commit-batch`) into one `BEGIN IMMEDIATE` transaction, each write inside its own
//!   `SAVEPOINT` so a failing write rolls back alone. It commits once, then answers every caller
//!   in queue order. Nobody is answered before the commit that holds their write: an ack always
//!   means "on disk". Under load the fsync is shared by the whole batch.
//! - Commit hooks run on the writer thread right after the commit, in commit order, before the
//!   caller is answered. The chat use cases publish their domain events from them, so the
//!   realtime fan-out sees messages in id order even when many senders share one commit. A hook
//!   may wait: the event channel is bounded, so a fan-out that falls behind holds the writer back
//!   instead of losing events (see `usecase::chat::events`).
//! - Readers are separate `query_only` connections in an r2d2 pool; WAL lets them read while the
//!   writer writes. Reads run on tokio's blocking threads, bounded by a semaphore the size of the
//!   pool so a burst of reads queues instead of parking hundreds of threads.
//! - The writer connection does not checkpoint by itself (`wal_autocheckpoint=0`); a checkpoint
//!   thread with its own connection does PASSIVE checkpoints (`--checkpoint-interval` after a
//!   write, at once past `--wal-limit`; see [`checkpoint_loop`] for the bytes that saves), so the
//!   fsync of the database file is off the write path. Only while the WAL stays past
//!   `--wal-limit`, because those checkpoints cannot catch up with sustained writes, does the
//!   writer copy the last frames itself between two transactions.
//! - SQLite's page cache is private to each connection, so it is bounded in total
//!   (`--db-cache`, shared out): with 16 MB per connection the history benchmark left the
//!   server at 85 MiB; with 16 MiB in all at 29 MiB and 4 MiB at 19 MiB, at the same pages/s
//!   (12,313 / 12,916 / 12,958), because the kernel's page cache holds the file anyway.

pub mod attachments;
pub mod backup;
pub mod bots;
pub mod invites;
pub mod known_addresses;
pub mod mentions;
pub mod messages;
pub mod migrate;
pub mod push;
pub mod reactions;
pub mod rooms;
pub mod search;
pub mod search_text;
pub mod settings;
pub mod users;

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::Connection;
use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::runtime::metrics::Metrics;

pub use rusqlite::OptionalExtension;

/// What went wrong in the storage engine. Each variant keeps its cause as its `source()` (print
/// the chain with `crate::error::Chain`); `Closed` and `Pool` mean "not now" rather than broken,
/// and the API answers them with 503.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// No read connection came free within the pool's timeout (every reader stayed busy).
    #[error("no database connection came free")]
    Pool(#[from] r2d2::Error),
    /// `BEGIN` failed, so the writes queued for that transaction never ran.
    #[error("the write transaction could not begin")]
    BeginFailed(#[source] Arc<rusqlite::Error>),
    /// `COMMIT` failed: every write of that transaction was rolled back.
    #[error("the commit failed")]
    CommitFailed(#[source] Arc<rusqlite::Error>),
    /// SQLite rolled the whole transaction back by itself when one of its writes failed (it may
    /// on a full disk or an I/O error): every write of that batch is lost, the ones before the
    /// failing write included, and the ones after it never ran.
    #[error("the write transaction was rolled back")]
    RolledBack(#[source] Arc<rusqlite::Error>),
    /// The blocking task running a read panicked or was cancelled before it answered.
    #[error("a database read did not finish")]
    ReadTask(#[source] tokio::task::JoinError),
    #[error("the storage engine has shut down")]
    Closed,
    /// Nobody waits for this read's answer any more (its future was dropped), so it was not run
    /// or its SQL was interrupted.
    #[error("the read was abandoned by its caller")]
    Abandoned,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl DbError {
    /// Whether the storage itself refused the write: a full disk (SQLite's `SQLITE_FULL`,
    /// `ENOSPC`, `EDQUOT`) or a read-only database or filesystem (`SQLITE_READONLY`, `EROFS`).
    pub fn storage_fault(&self) -> Option<StorageFault> {
        match self {
            DbError::Sqlite(e) => sqlite_fault(e),
            DbError::BeginFailed(e) | DbError::CommitFailed(e) | DbError::RolledBack(e) => sqlite_fault(e),
            DbError::Io(e) => StorageFault::of_io(e),
            _ => None,
        }
    }

    /// The `table.column` named by a UNIQUE constraint failure, if this is one.
    pub fn unique_violation(&self) -> Option<&str> {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, Some(msg)))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                msg.strip_prefix("UNIQUE constraint failed: ")
            }
            _ => None,
        }
    }
}

/// A write the storage refused, whatever layer noticed it (SQLite or a media file).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFault {
    /// No space left (or a disk quota reached).
    Full,
    /// The database or its filesystem is read-only.
    ReadOnly,
}

impl StorageFault {
    pub fn of_io(e: &std::io::Error) -> Option<StorageFault> {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => Some(StorageFault::Full),
            Some(libc::EROFS) => Some(StorageFault::ReadOnly),
            _ => None,
        }
    }
}

fn sqlite_fault(e: &rusqlite::Error) -> Option<StorageFault> {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull) => Some(StorageFault::Full),
        Some(rusqlite::ErrorCode::ReadOnly) => Some(StorageFault::ReadOnly),
        _ => None,
    }
}

/// Tuning of the engine; every number is a flag of `natter serve`.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub readers: u32,
    pub commit_batch: usize,
    /// Writes waiting for the writer before callers wait for room in the queue.
    pub queue: usize,
    /// How often the WAL is copied into the database file when something was written.
    pub checkpoint_interval: Duration,
    /// A WAL larger than this is checkpointed at once, without waiting for the interval, and
    /// truncated back to it afterwards.
    pub wal_limit: u64,
    /// SQLite's page cache for all connections together, in bytes: each of the writer and the
    /// readers gets an equal share (the checkpointer needs none).
    pub cache: u64,
    /// Where the writer records each commit's latency and batch size (`--metrics`).
    pub metrics: Metrics,
}

impl DbOptions {
    /// Each reader's and the writer's page cache, in KiB (at least 256).
    fn cache_kib_per_connection(&self) -> u64 {
        (self.cache / 1024 / (u64::from(self.readers) + 1)).max(256)
    }
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            readers: 8,
            commit_batch: 512,
            queue: 16_384,
            checkpoint_interval: Duration::from_secs(5),
            wal_limit: 4 << 20,
            cache: 8 << 20,
            metrics: Metrics::off(),
        }
    }
}

/// What the writer does with one queued write: run it inside the open transaction and return
/// whether it succeeded plus the continuation that answers its caller once the commit is known.
/// Given the failure to open the transaction instead, it does not run and answers at once.
type WriteJob = Box<dyn FnOnce(Result<&Connection, &TxFailure>) -> (bool, Finish) + Send>;
type Finish = Box<dyn FnOnce(Result<(), &TxFailure>) + Send>;

/// Why a batch's transaction did not commit: one SQLite error, shared by every write in it.
enum TxFailure {
    Begin(Arc<rusqlite::Error>),
    Commit(Arc<rusqlite::Error>),
    RolledBack(Arc<rusqlite::Error>),
}

impl TxFailure {
    fn error(&self) -> DbError {
        match self {
            TxFailure::Begin(e) => DbError::BeginFailed(e.clone()),
            TxFailure::Commit(e) => DbError::CommitFailed(e.clone()),
            TxFailure::RolledBack(e) => DbError::RolledBack(e.clone()),
        }
    }
}

enum WriterMsg {
    Write(WriteJob),
    Shutdown(oneshot::Sender<()>),
}

/// Handle to the engine; cheap to clone.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writes: mpsc::Sender<WriterMsg>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    read_permits: Arc<Semaphore>,
    writer: Mutex<Option<JoinHandle<()>>>,
    checkpointer: Mutex<Option<JoinHandle<()>>>,
    commits: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

const PRAGMAS: &str = "PRAGMA foreign_keys = ON;
     PRAGMA synchronous = FULL;
     PRAGMA busy_timeout = 5000;
     PRAGMA temp_store = MEMORY;";

/// A connection with natter's pragmas and a page cache of at most `cache_kib`.
fn open_connection(path: &Path, cache_kib: u64) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open(path)?;
    configure(&conn, cache_kib)?;
    Ok(conn)
}

fn configure(conn: &Connection, cache_kib: u64) -> Result<(), rusqlite::Error> {
    conn.execute_batch(PRAGMAS)?;
    // Negative: a size in KiB rather than in pages.
    conn.execute_batch(&format!("PRAGMA cache_size = -{cache_kib};"))
}

impl Db {
    /// Open (creating if needed) the database at `path`, migrate it, start the writer.
    pub fn open(path: &Path, options: DbOptions) -> Result<Db, DbError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        // 0600 before SQLite sees it: its -wal and -shm copy the database file's mode.
        crate::storage::file_modes::create_file(path)?;
        crate::storage::file_modes::tighten_database(path);
        let cache_kib = options.cache_kib_per_connection();
        let writer_conn = open_connection(path, cache_kib)?;
        writer_conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))?;
        writer_conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
        // The writer truncates the WAL file back to this when it starts it over after a
        // checkpoint, so a file longer than it means frames the checkpointer should copy now.
        writer_conn.execute_batch(&format!("PRAGMA journal_size_limit = {};", options.wal_limit))?;
        migrate::run(&writer_conn)?;

        let manager = SqliteConnectionManager::file(path).with_init(move |c| {
            configure(c, cache_kib)?;
            c.execute_batch("PRAGMA query_only = ON;")
        });
        let readers = r2d2::Pool::builder()
            .max_size(options.readers)
            .min_idle(Some(1))
            // A local file cannot drop a connection; the default check runs a query per checkout.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;

        let (writes, queue) = mpsc::channel(options.queue.max(1));
        let commits = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let batch = options.commit_batch.max(1);
        let writer_commits = commits.clone();
        let wal_oversized = Arc::new(AtomicBool::new(false));
        let writer_wal_oversized = wal_oversized.clone();
        let metrics = options.metrics.clone();
        let writer = std::thread::Builder::new().name("natter-db-writer".into()).spawn(move || {
            writer_loop(writer_conn, queue, batch, Committed { count: writer_commits, metrics }, writer_wal_oversized)
        })?;
        // Checkpoints copy pages from the WAL to the file without going through the cache.
        let checkpoint_conn = open_connection(path, 256)?;
        let (cp_commits, cp_stop) = (commits.clone(), stop.clone());
        let policy = CheckpointPolicy {
            every: options.checkpoint_interval,
            wal_limit: options.wal_limit,
            wal_path: wal_path(path),
        };
        let checkpointer = std::thread::Builder::new()
            .name("natter-db-checkpoint".into())
            .spawn(move || checkpoint_loop(checkpoint_conn, cp_commits, cp_stop, policy, wal_oversized))?;

        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writes,
                readers,
                read_permits: Arc::new(Semaphore::new(options.readers as usize)),
                writer: Mutex::new(Some(writer)),
                checkpointer: Mutex::new(Some(checkpointer)),
                commits,
                stop,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Transactions committed so far (each may hold many writes).
    pub fn commit_count(&self) -> u64 {
        self.inner.commits.load(Ordering::Relaxed)
    }

    /// Run `f` in the writer's transaction; returns once the transaction holding it committed.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        self.write_then(f, |_| {}).await
    }

    /// Like [`Db::write`], and `after_commit` runs on the writer thread right after the commit,
    /// in commit order, before the caller is answered.
    pub async fn write_then<T, E, F, H>(&self, f: F, after_commit: H) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
        H: FnOnce(&T) + Send + 'static,
    {
        let (job, answer) = make_job(f, after_commit);
        self.inner.writes.send(WriterMsg::Write(job)).await.map_err(|_| E::from(DbError::Closed))?;
        answer.await.unwrap_or_else(|_| Err(E::from(DbError::Closed)))
    }

    /// [`Db::write`] for code outside the async runtime (CLI subcommands).
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let (job, answer) = make_job(f, |_| {});
        self.inner.writes.blocking_send(WriterMsg::Write(job)).map_err(|_| E::from(DbError::Closed))?;
        answer.blocking_recv().unwrap_or_else(|_| Err(E::from(DbError::Closed)))
    }

    /// Run `f` on a read-only connection on a blocking thread.
    ///
    /// When the caller stops waiting (its future is dropped: the HTTP request timed out or its
    /// client went away), the SQL that `f` runs is interrupted at once (`SQLITE_INTERRUPT`)
    /// instead of holding a read connection and a core until it ends by itself: searches that
    /// outlived `--request-timeout` used to keep going, and six loops of them by one user took
    /// other people's history from 2 ms to 3 s. SQLite checks between VM instructions, so one
    /// long step inside a virtual table (an FTS5 prefix merge) still runs to its end. The
    /// connection goes back to the pool as good as before (the handler is removed first).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    {
        let abandoned = Arc::new(AtomicBool::new(false));
        // Set when this future is dropped, whether before, during or after the read.
        let _abandon_on_drop = AbandonOnDrop(abandoned.clone());
        let permit = self.inner.read_permits.clone().acquire_owned().await;
        let pool = self.inner.readers.clone();
        let result = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            if abandoned.load(Ordering::Relaxed) {
                return Err(E::from(DbError::Abandoned));
            }
            let conn = pool.get().map_err(DbError::from)?;
            let _interruptible = Interruptible::install(&conn, abandoned).map_err(DbError::from)?;
            f(&conn)
        })
        .await;
        result.unwrap_or_else(|e| Err(E::from(DbError::ReadTask(e))))
    }

    /// [`Db::read`] for code outside the async runtime.
    pub fn read_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        E: From<DbError>,
        F: FnOnce(&Connection) -> Result<T, E>,
    {
        let conn = self.inner.readers.get().map_err(DbError::from)?;
        f(&conn)
    }

    /// Finish every queued write, checkpoint, and stop the writer. Later writes fail with
    /// [`DbError::Closed`]. Safe to call more than once.
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.inner.writes.send(WriterMsg::Shutdown(done)).await.is_ok() {
            let _ = finished.await;
        }
        self.join_threads();
    }

    /// [`Db::shutdown`] outside the async runtime.
    pub fn shutdown_blocking(&self) {
        let (done, finished) = oneshot::channel();
        if self.inner.writes.blocking_send(WriterMsg::Shutdown(done)).is_ok() {
            let _ = finished.blocking_recv();
        }
        self.join_threads();
    }

    fn join_threads(&self) {
        self.inner.stop.store(true, Ordering::Relaxed);
        for slot in [&self.inner.writer, &self.inner.checkpointer] {
            let handle = slot.lock().map(|mut h| h.take()).unwrap_or(None);
            if let Some(handle) = handle {
                let _ = handle.join();
            }
        }
    }
}

/// Marks a read abandoned when the future waiting for it is dropped.
struct AbandonOnDrop(Arc<AtomicBool>);

impl Drop for AbandonOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A progress handler that interrupts the connection's statements once its read is abandoned,
/// removed again (even if the read panics) before the connection goes back to the pool, with
/// any transaction the read left open rolled back.
struct Interruptible<'c>(&'c Connection);

impl<'c> Interruptible<'c> {
    /// SQLite calls the handler every this many VM instructions: a few microseconds apart, and
    /// one relaxed load each is nothing next to the instructions themselves.
    const EVERY: std::ffi::c_int = 1000;

    fn install(conn: &'c Connection, abandoned: Arc<AtomicBool>) -> rusqlite::Result<Self> {
        conn.progress_handler(Self::EVERY, Some(move || abandoned.load(Ordering::Relaxed)))?;
        Ok(Interruptible(conn))
    }
}

impl Drop for Interruptible<'_> {
    fn drop(&mut self) {
        let _ = self.0.progress_handler(0, None::<fn() -> bool>);
        // A read transaction left open (its end interrupted, or a panic) would pin the next
        // read of this connection to an old snapshot.
        if !self.0.is_autocommit() {
            let _ = self.0.execute_batch("ROLLBACK");
        }
    }
}

impl Drop for Inner {
    /// The last handle is gone: the writer stops by itself once its queue closes; tell the
    /// checkpoint thread too.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn make_job<T, E, F, H>(f: F, after_commit: H) -> (WriteJob, oneshot::Receiver<Result<T, E>>)
where
    T: Send + 'static,
    E: From<DbError> + Send + 'static,
    F: FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    H: FnOnce(&T) + Send + 'static,
{
    let (reply, answer) = oneshot::channel();
    let job: WriteJob = Box::new(move |conn| match conn.map(f) {
        Err(failure) => {
            let _ = reply.send(Err(E::from(failure.error())));
            (false, Box::new(|_| {}))
        }
        Ok(Ok(value)) => {
            let finish: Finish = Box::new(move |commit| {
                let result = match commit {
                    Ok(()) => {
                        after_commit(&value);
                        Ok(value)
                    }
                    Err(failure) => Err(E::from(failure.error())),
                };
                let _ = reply.send(result);
            });
            (true, finish)
        }
        Ok(Err(e)) => {
            let finish: Finish = Box::new(move |_| {
                let _ = reply.send(Err(e));
            });
            (false, finish)
        }
    });
    (job, answer)
}

/// Where the writer counts its commits: the engine's own count, and `--metrics`.
struct Committed {
    count: Arc<AtomicU64>,
    metrics: Metrics,
}

fn writer_loop(
    conn: Connection,
    mut queue: mpsc::Receiver<WriterMsg>,
    max_batch: usize,
    commits: Committed,
    wal_oversized: Arc<AtomicBool>,
) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(max_batch);
    let mut shutdown: Option<oneshot::Sender<()>> = None;
    while shutdown.is_none() {
        match queue.blocking_recv() {
            Some(WriterMsg::Write(job)) => batch.push(job),
            Some(WriterMsg::Shutdown(done)) => shutdown = Some(done),
            None => break,
        }
        // Take everything already queued, up to the bound; after a shutdown request keep
        // draining so that every write queued before it is committed.
        while shutdown.is_some() || batch.len() < max_batch {
            match queue.try_recv() {
                Ok(WriterMsg::Write(job)) => batch.push(job),
                Ok(WriterMsg::Shutdown(done)) => shutdown = Some(done),
                Err(_) => break,
            }
            if batch.len() >= max_batch {
                commit_batch(&conn, &mut batch, &commits);
            }
        }
        if !batch.is_empty() {
            commit_batch(&conn, &mut batch, &commits);
        }
        if wal_oversized.swap(false, Ordering::Relaxed) {
            // Between transactions nothing is appended while it copies, so this one completes
            // and the next transaction starts the WAL over (see `checkpoint_loop`).
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::warn!(error = %e, "WAL checkpoint by the writer failed");
            }
        }
    }
    queue.close();
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);");
    drop(conn);
    if let Some(done) = shutdown {
        let _ = done.send(());
    }
}

fn commit_batch(conn: &Connection, batch: &mut Vec<WriteJob>, commits: &Committed) {
    let started = std::time::Instant::now();
    let writes = batch.len();
    let mut finishers: Vec<Finish> = Vec::with_capacity(batch.len());
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let failure = TxFailure::Begin(Arc::new(e));
        for job in batch.drain(..) {
            // Answered without running: the caller sees the failure to start the transaction.
            let _ = job(Err(&failure));
        }
        return;
    }
    let mut rolled_back: Option<TxFailure> = None;
    for job in batch.drain(..) {
        if let Some(failure) = &rolled_back {
            // The transaction is gone: running the rest would commit each on its own
            // (autocommit), behind the back of a batch that is reported as failed.
            let _ = job(Err(failure));
            continue;
        }
        let savepoint = conn.prepare_cached("SAVEPOINT write").and_then(|mut s| s.execute([]));
        if let Err(e) = savepoint {
            tracing::error!(error = %e, "could not open a savepoint");
        }
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| job(Ok(conn))));
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (it may on SQLITE_FULL or an I/O error):
            // the writes before this one are undone too. Its error is the cause.
            let failure = TxFailure::RolledBack(Arc::new(last_error(conn)));
            tracing::error!(error = %failure.error_chain(), "the write transaction was rolled back by SQLite");
            if let Ok((_, finish)) = outcome {
                finishers.push(finish);
            }
            rolled_back = Some(failure);
            continue;
        }
        let ok = matches!(&outcome, Ok((true, _)));
        let rollback =
            if ok { Ok(0) } else { conn.prepare_cached("ROLLBACK TO write").and_then(|mut s| s.execute([])) };
        // Prepared once: this runs for every write on the one serial stage of the engine.
        let release = rollback.and_then(|_| conn.prepare_cached("RELEASE write").and_then(|mut s| s.execute([])));
        if let Err(e) = release {
            tracing::error!(error = %e, "could not close a savepoint");
        }
        match outcome {
            Ok((_, finish)) => finishers.push(finish),
            Err(_) => tracing::error!("a write panicked; its savepoint was rolled back"),
        }
    }
    let committed = match rolled_back {
        Some(failure) => Err(failure),
        None => conn.execute_batch("COMMIT").map_err(|e| TxFailure::Commit(Arc::new(with_system_error(conn, e)))),
    };
    if let Err(failure) = &committed {
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        if matches!(failure, TxFailure::Commit(_)) {
            tracing::error!(error = %failure.error_chain(), writes, "a commit failed; its writes were rolled back");
        }
    } else {
        commits.count.fetch_add(1, Ordering::Relaxed);
        commits.metrics.commit(writes, started.elapsed());
    }
    for finish in finishers {
        finish(committed.as_ref().map(|_| ()));
    }
}

impl TxFailure {
    fn error_chain(&self) -> String {
        crate::error::Chain(&self.error()).to_string()
    }
}

/// The error of the last statement that failed on `conn`, rebuilt from SQLite's error code and
/// message (the statement's own error went to the write that ran it).
fn last_error(conn: &Connection) -> rusqlite::Error {
    // SAFETY: the handle is only used for these two calls, on the thread that owns `conn`, while
    // `conn` is borrowed; `sqlite3_errmsg` returns a NUL-terminated string owned by SQLite that is
    // copied before any other call on the connection.
    let error = unsafe {
        let handle = conn.handle();
        let code = rusqlite::ffi::sqlite3_extended_errcode(handle);
        let message = std::ffi::CStr::from_ptr(rusqlite::ffi::sqlite3_errmsg(handle)).to_string_lossy().into_owned();
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message))
    };
    with_system_error(conn, error)
}

/// SQLite reports a write that the filesystem refused as read-only (`EROFS`, e.g. a card the
/// kernel remounted read-only after an error) as a plain I/O error, and a full disk found while
/// syncing likewise: look at the system error behind an `SQLITE_IOERR` and name it, as
/// `SQLITE_READONLY` or `SQLITE_FULL`, so that clients get 503 `storage_read_only` or 507
/// `storage_full` rather than 500 (the original code stays in the message).
fn with_system_error(conn: &Connection, error: rusqlite::Error) -> rusqlite::Error {
    if error.sqlite_error_code() != Some(rusqlite::ErrorCode::SystemIoFailure) {
        return error;
    }
    // SAFETY: a read of the connection's last system errno, on the thread that owns `conn`.
    let errno = unsafe { rusqlite::ffi::sqlite3_system_errno(conn.handle()) };
    let code = match errno {
        libc::EROFS => rusqlite::ffi::SQLITE_READONLY,
        libc::ENOSPC | libc::EDQUOT => rusqlite::ffi::SQLITE_FULL,
        _ => return error,
    };
    let message = format!("{error} ({})", std::io::Error::from_raw_os_error(errno));
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message))
}

/// When the checkpointer copies the WAL into the database file.
struct CheckpointPolicy {
    every: Duration,
    wal_limit: u64,
    wal_path: PathBuf,
}

/// `natter.db` → `natter.db-wal`.
fn wal_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}

/// Checkpoints, off the write path: PASSIVE after `every` when something was committed, or at
/// once when the WAL has grown past `wal_limit`. Every checkpoint writes each page changed since
/// the last one into the database file again and fsyncs it, so on a quiet server a short
/// interval multiplies the bytes written per message (measured, one message every 200 ms:
/// 36.9 KB per message with a checkpoint every 250 ms, 25.3 KB every 1 s, 21.8 KB every 5 s).
///
/// A checkpoint from this thread never holds the writer up, and under sustained writes it never
/// catches up: frames arrive while it copies, so the WAL is never wholly copied and never starts
/// over. Measured: 4 minutes of scenario 1 (~28,000 messages/s) grew the WAL to 7.7 GB and its
/// index (`-shm`, mapped into the server) to 15 MB. A RESTART checkpoint from here does not help
/// either: it waits for the write lock, which the writer takes again after every commit, and
/// times out. So when the WAL is still past `wal_limit` after a round, this thread asks the
/// writer (`wal_oversized`) to copy the last frames itself between two transactions; the next
/// transaction then starts the WAL over and `journal_size_limit` truncates it to `wal_limit`.
/// That puts one checkpoint on the write path, only while the WAL is oversized (at most once
/// per round, and most frames are copied already).
fn checkpoint_loop(
    conn: Connection,
    commits: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    policy: CheckpointPolicy,
    wal_oversized: Arc<AtomicBool>,
) {
    const POLL: Duration = Duration::from_millis(250);
    let mut seen = commits.load(Ordering::Relaxed);
    let mut last = std::time::Instant::now();
    let wal_len = || std::fs::metadata(&policy.wal_path).map(|m| m.len()).unwrap_or(0);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(POLL.min(policy.every));
        let now = commits.load(Ordering::Relaxed);
        if now == seen {
            continue;
        }
        if last.elapsed() >= policy.every || wal_len() > policy.wal_limit {
            seen = now;
            last = std::time::Instant::now();
            if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(PASSIVE);") {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
            if wal_len() > policy.wal_limit {
                wal_oversized.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// A query that needs nothing: whether a connection answers at all.
pub fn ping(conn: &Connection) -> Result<(), DbError> {
    conn.query_row("SELECT 1", [], |_| Ok(()))?;
    Ok(())
}

/// Whether any account exists (a first run has none): one index probe.
pub fn any_account(conn: &Connection) -> Result<bool, DbError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |row| row.get(0))?)
}

/// Current time as the SPEC's RFC 3339 UTC string with milliseconds.
/// Bytes of heap SQLite holds now, over every connection: page caches (bounded in all by
/// `--db-cache`), schema and prepared statements.
pub fn sqlite_memory_bytes() -> u64 {
    // SAFETY: sqlite3_memory_used only reads SQLite's own memory statistics (thread-safe).
    let used = unsafe { rusqlite::ffi::sqlite3_memory_used() };
    u64::try_from(used).unwrap_or(0)
}

pub fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

pub fn format_time(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes share commits, and one that fails after changing rows leaves nothing behind while
    /// the others in its transaction are kept: each write runs in its own savepoint.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_rolls_back_alone() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbOptions::default()).unwrap();
        let writes: Vec<_> = (0..200)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |conn| {
                        conn.execute("INSERT INTO settings (key, value) VALUES (?1, 'x')", [format!("k{i}")])?;
                        if i % 5 == 0 {
                            // Changed a row, then failed: the savepoint must undo the insert.
                            return Err(DbError::Closed);
                        }
                        Ok(i)
                    })
                    .await
                })
            })
            .collect();
        let mut ok = 0;
        for write in writes {
            if write.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 160);
        let stored: i64 = db
            .read(|c| Ok::<_, DbError>(c.query_row("SELECT count(*) FROM settings", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(stored, 160, "exactly the successful writes are stored");
        let failed_kept: i64 = db
            .read(|c| {
                Ok::<_, DbError>(c.query_row(
                    "SELECT count(*) FROM settings WHERE CAST(substr(key, 2) AS INTEGER) % 5 = 0",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(failed_kept, 0, "no failed write left a row");
        assert!(db.commit_count() < 200, "writes shared commits ({} commits for 200 writes)", db.commit_count());
        db.shutdown().await;
    }

    /// When SQLite rolls the whole transaction back by itself (it may on a full disk or an I/O
    /// error; a write that runs ROLLBACK stands in for it here), the writes queued after it in
    /// the same batch must not run in autocommit: each write is stored if and only if its caller
    /// was told so. Before the fix the later writes were committed one by one and then reported
    /// as failed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_transaction_rolled_back_by_sqlite_fails_the_whole_batch() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbOptions::default()).unwrap();
        // Hold the writer so that every later write lands in one batch.
        let (held, release) = std::sync::mpsc::channel::<()>();
        let first = {
            let db = db.clone();
            tokio::spawn(async move {
                db.write(move |_| {
                    let _ = release.recv_timeout(Duration::from_secs(10));
                    Ok::<_, DbError>(())
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let writes: Vec<_> = (0..40)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |conn| {
                        conn.execute("INSERT INTO settings (key, value) VALUES (?1, 'x')", [format!("k{i}")])?;
                        if i == 10 {
                            conn.execute_batch("ROLLBACK")?;
                            return Err(DbError::Closed);
                        }
                        Ok(i)
                    })
                    .await
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        held.send(()).unwrap();
        first.await.unwrap().unwrap();
        let mut answered_ok = Vec::new();
        for (i, write) in writes.into_iter().enumerate() {
            let result = write.await.unwrap();
            if i > 10 {
                assert!(matches!(result, Err(DbError::RolledBack(_))), "write {i}: {result:?}");
            }
            if result.is_ok() {
                answered_ok.push(format!("k{i}"));
            }
        }
        let stored: Vec<String> = db
            .read(|c| {
                let mut s =
                    c.prepare("SELECT key FROM settings WHERE key LIKE 'k%' ORDER BY CAST(substr(key, 2) AS INTEGER)")?;
                Ok::<_, DbError>(s.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?)
            })
            .await
            .unwrap();
        assert_eq!(stored, answered_ok, "stored exactly the writes that were acknowledged");
        // The writer goes on: the next write commits.
        db.write(|c| settings::set(c, "after", "1")).await.unwrap();
        db.shutdown().await;
    }

    /// Under writes that never pause, the WAL still starts over once it passes `wal_limit`
    /// (PASSIVE checkpoints alone never catch up: it grew to 7.7 GB in 4 minutes of load).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_sustained_writes() {
        const LIMIT: u64 = 256 << 10;
        const WRITTEN: usize = 48 << 20;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let options = DbOptions { wal_limit: LIMIT, ..DbOptions::default() };
        let db = Db::open(&path, options).unwrap();
        db.write(|c| Ok::<_, DbError>(c.execute_batch("CREATE TABLE blobs (b BLOB)")?)).await.unwrap();
        let wal = wal_path(&path);
        let writers: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    for _ in 0..WRITTEN / 4 / 4096 {
                        db.write(|c| Ok::<_, DbError>(c.execute("INSERT INTO blobs VALUES (zeroblob(4096))", [])?))
                            .await
                            .unwrap();
                    }
                })
            })
            .collect();
        let mut largest = 0;
        while !writers.iter().all(|w| w.is_finished()) {
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Between two polls of the checkpointer (250 ms) the writer appends several MB more (11.5
        // measured here); without the writer's checkpoint the WAL outgrows what was written.
        assert!(largest < (WRITTEN / 2) as u64, "the WAL reached {largest} bytes for {WRITTEN} bytes written");
        db.shutdown().await;
    }

    /// A read whose caller stops waiting (a request past `--request-timeout`, a client gone) stops
    /// too, and its connection serves the next read: with one reader, a query that would run for
    /// minutes is dropped, and the next read on that same connection answers. Before, the
    /// abandoned query kept the only reader until it ended by itself.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_abandoned_read_is_interrupted_and_its_connection_reused() {
        // Counts to a billion: about a minute of one core (measured ~60 ns a row) if nothing
        // stops it.
        const ENDLESS: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000)
                               SELECT count(*) FROM c";
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbOptions { readers: 1, ..DbOptions::default() }).unwrap();
        let (started, running) = oneshot::channel();
        let endless = db.read(move |c| {
            let _ = started.send(());
            Ok::<i64, DbError>(c.query_row(ENDLESS, [], |r| r.get(0))?)
        });
        tokio::select! {
            done = endless => panic!("the endless read finished first: {done:?}"),
            _ = running => {}
        }
        // `endless` is dropped: the one connection must come back for this read. The bound only
        // turns a hang into a failure; an interrupted read frees it within milliseconds.
        let next = tokio::time::timeout(
            Duration::from_secs(20),
            db.read(|c| Ok::<i64, DbError>(c.query_row("SELECT 41 + 1", [], |r| r.get(0))?)),
        )
        .await
        .expect("the abandoned read still holds the only read connection");
        assert_eq!(next.unwrap(), 42);
        // And it is a whole connection again: a long query on it runs to its end.
        let counted = db
            .read(|c| {
                Ok::<i64, DbError>(c.query_row(
                    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) SELECT count(*) FROM c",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        assert_eq!(counted, 100_000);
        db.shutdown().await;
    }

    /// A read that panics is reported as a failed read, not as a failed commit.
    #[tokio::test]
    async fn a_panicking_read_is_a_read_failure() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbOptions::default()).unwrap();
        let read: Result<(), DbError> = db.read(|_| panic!("a read that panics")).await;
        assert!(matches!(read, Err(DbError::ReadTask(_))), "{read:?}");
        db.shutdown().await;
    }

    /// After shutdown every queued write has been answered and later ones fail cleanly.
    #[tokio::test]
    async fn shutdown_drains_then_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), DbOptions::default()).unwrap();
        db.write(|c| settings::set(c, "a", "1")).await.unwrap();
        db.shutdown().await;
        let late = db.write(|c| settings::set(c, "b", "2")).await;
        assert!(matches!(late, Err(DbError::Closed)), "{late:?}");
    }
}

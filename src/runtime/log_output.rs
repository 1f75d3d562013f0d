//! Where log lines go: standard output, written in batches by one thread.
//!
//! Every HTTP request leaves an access line. Written straight to standard output, each line is a
//! `write(2)` on the runtime's worker thread that also wakes whatever reads the pipe (journald,
//! a terminal, a log shipper): measured with `cargo bench --bench history`, the server served
//! 8,921 pages/s writing each line itself and 10,312 with `natter::access=off`.
//!
//! Here a line is appended to a buffer under a lock, and one thread writes what gathered, at
//! most every [`FLUSH_EVERY`]: one `write` for many lines, no wake-up per line. Lines keep their
//! order (one buffer, written by one writer at a time); the start message goes through the same
//! buffer ([`write_now`]). Leaving `serve` and a panic write out what is pending; a `kill -9`
//! or a power cut loses at most the last [`FLUSH_EVERY`] of lines, which is also what a pipe's
//! reader would not have read yet. When standard output stops taking lines (a reader that
//! stalled), they wait here up to [`BUFFER_LIMIT`]; past it whoever logs waits, as a blocking
//! write to the pipe did before.
//!
//! Why not `tracing-appender`'s non-blocking writer: it was tried in its place (a channel to one
//! writer thread, lines written as the channel runs dry, nothing dropped). In the history
//! benchmark, four rounds side by side with this module on the same data (2026-12-06), the
//! server spent 376 µs of CPU per page against 309 (+22%) in the big room and 301 against 278
//! (+8%) in the small one, higher in every one of the eight pairs: a channel send and a wake-up
//! of the writer per line, where this buffer wakes it at most once per [`FLUSH_EVERY`]. That
//! machine was shared and a second sitting was not run, so this says "not shown equal" rather
//! than a firm ratio; until a quiet sitting shows them equal, this module stays.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long lines may gather before they are written.
pub const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// Bytes of lines held at most while standard output does not take them.
pub const BUFFER_LIMIT: usize = 256 * 1024;
/// What the two buffers keep of their capacity after a burst.
const KEPT_CAPACITY: usize = 16 * 1024;

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    /// The writer thread is waiting for lines (and must be woken for the next one).
    writer_idle: bool,
    /// Loggers waiting for room in a full buffer.
    blocked: usize,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    lines_arrived: Condvar,
    room_made: Condvar,
    /// Held while a batch is taken and written, so batches reach standard output in the order
    /// they were taken; it keeps the other buffer, swapped in each time.
    output: Mutex<Vec<u8>>,
}

static OUTPUT: OnceLock<Arc<Shared>> = OnceLock::new();

/// The batched standard output, for `tracing_subscriber::fmt::layer().with_writer(...)`.
#[derive(Clone)]
pub struct BatchedStdout {
    shared: Arc<Shared>,
}

/// Start the writer thread (once) and return the writer loggers use.
pub fn start() -> std::io::Result<BatchedStdout> {
    if let Some(shared) = OUTPUT.get() {
        return Ok(BatchedStdout { shared: shared.clone() });
    }
    let shared = Arc::new(Shared::default());
    let writer = shared.clone();
    std::thread::Builder::new().name("natter-log".into()).spawn(move || writer.write_out())?;
    let shared = OUTPUT.get_or_init(|| shared).clone();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        // A panic while this thread holds a lock here must not deadlock on it: skip instead.
        if let Some(shared) = OUTPUT.get() {
            shared.write_pending_if_free();
        }
        previous(info);
    }));
    Ok(BatchedStdout { shared })
}

/// Write out every line logged so far, now (before leaving `serve`).
pub fn flush() {
    if let Some(shared) = OUTPUT.get() {
        shared.write_pending();
    }
}

/// Write `text` to standard output after the lines already logged, now (the start message).
pub fn write_now(text: &[u8]) {
    match OUTPUT.get() {
        Some(shared) => {
            shared.append(text);
            shared.write_pending();
        }
        None => {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(text).and_then(|()| out.flush());
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    fn append(&self, line: &[u8]) {
        let mut pending = lock(&self.pending);
        while pending.bytes.len() >= BUFFER_LIMIT {
            pending.blocked += 1;
            pending = self.room_made.wait(pending).unwrap_or_else(PoisonError::into_inner);
            pending.blocked -= 1;
        }
        pending.bytes.extend_from_slice(line);
        // Waking is a system call: only when the writer sleeps for want of lines.
        if pending.writer_idle {
            pending.writer_idle = false;
            self.lines_arrived.notify_one();
        }
    }

    /// The writer thread: wait for lines, write them, let the next ones gather.
    fn write_out(&self) {
        loop {
            {
                let mut pending = lock(&self.pending);
                while pending.bytes.is_empty() {
                    pending.writer_idle = true;
                    pending = self.lines_arrived.wait(pending).unwrap_or_else(PoisonError::into_inner);
                }
            }
            self.write_pending();
            std::thread::sleep(FLUSH_EVERY);
        }
    }

    fn write_pending(&self) {
        self.write_batch(lock(&self.output));
    }

    fn write_pending_if_free(&self) {
        let output = match self.output.try_lock() {
            Ok(output) => output,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if self.pending.try_lock().is_ok() {
            self.write_batch(output);
        }
    }

    fn write_batch(&self, mut batch: MutexGuard<'_, Vec<u8>>) {
        {
            let mut pending = lock(&self.pending);
            std::mem::swap(&mut pending.bytes, &mut *batch);
            if pending.blocked > 0 {
                self.room_made.notify_all();
            }
        }
        if batch.is_empty() {
            return;
        }
        let mut out = std::io::stdout().lock();
        // Nowhere to report a failed write of the log itself (a closed pipe): the lines go.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        batch.shrink_to(KEPT_CAPACITY);
    }
}

impl std::io::Write for BatchedStdout {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.shared.append(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchedStdout {
    type Writer = BatchedStdout;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_come_out_whole_and_in_order_from_many_threads() {
        // The buffer alone (no thread, no standard output): appends from four threads, then
        // one batch holds every line once, each line whole, each thread's lines in order.
        let shared = Arc::new(Shared::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let shared = shared.clone();
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        shared.append(format!("thread {t} line {i}\n").as_bytes());
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let mut batch = Vec::new();
        std::mem::swap(&mut lock(&shared.pending).bytes, &mut batch);
        let text = String::from_utf8(batch).unwrap();
        let mut next = [0; 4];
        for line in text.lines() {
            let words: Vec<&str> = line.split(' ').collect();
            let (t, i): (usize, usize) = (words[1].parse().unwrap(), words[3].parse().unwrap());
            assert_eq!(i, next[t], "{line}");
            next[t] += 1;
        }
        assert_eq!(next, [1000; 4]);
    }

    #[test]
    fn a_full_buffer_makes_the_logger_wait_until_a_batch_is_taken() {
        let shared = Arc::new(Shared::default());
        shared.append(&vec![b'x'; BUFFER_LIMIT]);
        let logger = {
            let shared = shared.clone();
            std::thread::spawn(move || shared.append(b"after\n"))
        };
        // The logger waits for room: it cannot finish before a batch is taken.
        while lock(&shared.pending).blocked == 0 {
            std::thread::yield_now();
        }
        assert!(!logger.is_finished());
        let mut batch = Vec::new();
        {
            let mut pending = lock(&shared.pending);
            std::mem::swap(&mut pending.bytes, &mut batch);
            shared.room_made.notify_all();
        }
        logger.join().unwrap();
        assert_eq!(batch.len(), BUFFER_LIMIT);
        assert_eq!(lock(&shared.pending).bytes, b"after\n");
    }
}

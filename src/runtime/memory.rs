//! Giving memory that was freed back to the operating system.
//!
//! glibc's allocator keeps what the program frees and returns it to the kernel only when the
//! free space sits at the top of a heap. A burst of Socket.IO connections (each ~17 KB of
//! channels, tasks and buffers, spread over the runtime's threads and arenas) leaves the freed
//! memory in the middle of the heaps when they close, and RSS stays at its peak: measured, 2,000
//! sockets opened and closed left the server at 49.5 MB from 15.8 MB before (`tests/it/memory.rs`).
//! On a 512 MB board the peak of the worst hour would then be the figure forever.
//!
//! `malloc_trim(0)` walks glibc's arenas and gives every free whole page back (`MADV_DONTNEED`).
//! It is not free (it takes each arena's lock while it walks it), so it runs only when something
//! that holds real memory went away (a socket closed), at most once per `--memory-trim`
//! interval, on a blocking thread. Other allocators (musl, or a non-glibc target) need nothing
//! here: the call compiles to nothing there.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

/// Notes that memory was freed; [`MemoryTrim::run`] trims after it.
#[derive(Default)]
pub struct MemoryTrim {
    /// Trims still due: two after each note, because what a closed socket holds (its tasks,
    /// channels and buffers) is freed a moment after the disconnect is noted, possibly after
    /// the next round has already run.
    due: AtomicU8,
}

impl MemoryTrim {
    /// Something that held memory (a connection, a socket) is going away.
    pub fn note_freed(&self) {
        self.due.store(2, Ordering::Relaxed);
    }

    /// Every `every`, if anything was freed since the last round, return free pages to the
    /// operating system. `every == 0` never trims (and returns at once).
    pub async fn run(self: Arc<Self>, every: Duration) {
        if every.is_zero() {
            return;
        }
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let due = self.due.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
            if due.is_ok() {
                let _ = tokio::task::spawn_blocking(release_free_pages).await;
            }
        }
    }
}

/// Give the free pages of every allocator arena back to the operating system.
pub fn release_free_pages() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only reorganises glibc's own free lists; it takes the arenas' locks
    // and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// What the allocator holds: bytes handed out and not yet freed (`in_use`, direct `mmap`s
/// included), and bytes freed but kept in its arenas (`free`). Telling the two apart tells a
/// leak (in use grows) from fragmentation (free grows). glibc only (its `mallinfo`, which
/// walks every arena's free lists: for a scrape, not a hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapStats {
    pub in_use: u64,
    pub free: u64,
}

/// The allocator's figures now; `None` where the allocator is not glibc's.
pub fn heap_stats() -> Option<HeapStats> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // `mallinfo`, not `mallinfo2`: the latter needs glibc 2.33, older than some boards'
        // systems; its int fields are enough below 2 GiB.
        // SAFETY: mallinfo only reads glibc's own statistics, under the arenas' locks.
        let info = unsafe { libc::mallinfo() };
        let bytes = |field: libc::c_int| u64::try_from(field).unwrap_or(0);
        Some(HeapStats { in_use: bytes(info.uordblks) + bytes(info.hblkhd), free: bytes(info.fordblks) })
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        None
    }
}

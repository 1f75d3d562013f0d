//! Locks that go on when a holder panicked.
//!
//! A std `Mutex` is poisoned when a thread panics while holding it. natter's mutexes guard counts
//! and maps that each critical section changes with one operation (a rate window, a user's
//! socket count, the pool of hash work areas), so a panic cannot leave their data half-changed,
//! and [`lock`] goes on with it. Giving up instead would be worse in exactly the code that must
//! not fail open: a rate limiter that lets everything through, or a presence registry that says
//! everyone is offline, because some unrelated request panicked.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Lock `mutex`, poisoned or not.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Poison `mutex` the way a panicking holder would (for tests).
#[cfg(test)]
pub fn poison<T: Send>(mutex: &Mutex<T>) {
    std::thread::scope(|scope| {
        let holder = scope.spawn(|| {
            let _guard = mutex.lock();
            panic!("a holder of the lock panics");
        });
        assert!(holder.join().is_err());
    });
    assert!(mutex.is_poisoned());
}

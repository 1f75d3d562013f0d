//! Fixed-window rate limits keyed by client address, account or user.
//!
//! Hand-written rather than tower_governor: the SPEC needs three different keys (client address
//! for signup/login, account for failed logins, user for socket messages), one of them counted
//! only on failure, and every one answering with the seconds to wait. A mutex-guarded map of
//! windows does all of that in a few lines; stale windows are swept when the map grows.
//! A limit never fails open: a poisoned lock goes on counting (see [`crate::runtime::mutexes`]).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{ApiError, ApiResult};

/// A bound of `count` events per `per`; `count == 0` means unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    pub const UNLIMITED: Rate = Rate { count: 0, per: Duration::from_secs(1) };
    pub fn is_unlimited(&self) -> bool {
        self.count == 0
    }
}

/// A number of bytes per period (`--upload-min-rate`); `bytes == 0` means unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRate {
    pub bytes: u64,
    pub per: Duration,
}

impl ByteRate {
    pub const UNLIMITED: ByteRate = ByteRate { bytes: 0, per: Duration::from_secs(1) };
    pub fn is_unlimited(&self) -> bool {
        self.bytes == 0
    }
}

pub struct RateLimiter {
    rate: Rate,
    windows: Mutex<HashMap<String, Window>>,
}

#[derive(Clone, Copy)]
struct Window {
    started: Instant,
    count: u32,
}

const SWEEP_AT: usize = 10_000;

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        Self { rate, windows: Mutex::new(HashMap::new()) }
    }

    /// Count one event for `key`; `Err(seconds to wait)` when the bound is already reached.
    pub fn hit(&self, key: &str) -> Result<(), u64> {
        self.apply(key, true)
    }

    /// Count one event of the user `user_id`: the SPEC's 429 `rate_limited`, with the seconds
    /// to wait, when the bound is already reached. What every per-user bound answers.
    pub fn admit_user(&self, user_id: i64) -> ApiResult<()> {
        self.hit(&user_id.to_string()).map_err(|retry_after| ApiError::RateLimited { retry_after })
    }

    /// Like `hit` without counting: is `key` already over its bound?
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.apply(key, false)
    }

    /// Forget `key` (e.g. a successful login clears the failure count).
    pub fn reset(&self, key: &str) {
        self.windows().remove(key);
    }

    fn windows(&self) -> MutexGuard<'_, HashMap<String, Window>> {
        crate::runtime::mutexes::lock(&self.windows)
    }

    fn apply(&self, key: &str, count: bool) -> Result<(), u64> {
        if self.rate.is_unlimited() {
            return Ok(());
        }
        let now = Instant::now();
        let per = self.rate.per;
        let mut windows = self.windows();
        if windows.len() >= SWEEP_AT {
            windows.retain(|_, w| now.duration_since(w.started) < per);
        }
        let window = windows.entry(key.to_string()).or_insert(Window { started: now, count: 0 });
        if now.duration_since(window.started) >= per {
            *window = Window { started: now, count: 0 };
        }
        if window.count >= self.rate.count {
            let wait = per.saturating_sub(now.duration_since(window.started));
            return Err(wait.as_secs() + u64::from(wait.subsec_nanos() > 0));
        }
        if count {
            window.count += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bound_then_wait() {
        let limiter = RateLimiter::new(Rate { count: 2, per: Duration::from_secs(60) });
        assert!(limiter.hit("a").is_ok());
        assert!(limiter.hit("a").is_ok());
        let wait = limiter.hit("a").unwrap_err();
        assert!((59..=60).contains(&wait));
        assert!(limiter.hit("b").is_ok(), "keys are independent");
        limiter.reset("a");
        assert!(limiter.check("a").is_ok());
    }

    #[test]
    fn a_poisoned_lock_does_not_lift_the_limit() {
        let limiter = RateLimiter::new(Rate { count: 1, per: Duration::from_secs(60) });
        assert!(limiter.hit("a").is_ok());
        crate::runtime::mutexes::poison(&limiter.windows);
        assert!(limiter.hit("a").is_err(), "still limited after the lock was poisoned");
        assert!(limiter.check("a").is_err());
    }

    #[test]
    fn zero_is_unlimited() {
        let limiter = RateLimiter::new(Rate::UNLIMITED);
        for _ in 0..1000 {
            assert!(limiter.hit("a").is_ok());
        }
    }
}

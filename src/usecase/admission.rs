//! Admission: how much one user or one client address may open and ask of the realtime layer.
//!
//! - Open sockets are capped per user (`--max-sockets-per-user`: tabs and devices, not an
//!   unbounded number of them), counted from the Socket.IO CONNECT, which is when the user is
//!   known; a socket over the cap is refused with `connect_error` `{"message": "rate_limited"}`.
//! - Open sessions are capped per client address (`--max-sockets-per-address`: one machine
//!   cannot hold the whole server's memory and file descriptors), counted from the session's
//!   first request, the WebSocket upgrade or the first long-polling request, whether or not it
//!   ever sends a CONNECT. Counting only connected sockets let one address open 10,000
//!   WebSockets, never CONNECT, and hold every connection the server had; now the one past the
//!   cap is refused before it is a session (429 `rate_limited`), and `--handshake-timeout`
//!   closes those that never CONNECT. A session is counted by a [`SessionSlot`] that the
//!   transport keeps for the session's life.
//! - `typing` (`--typing-rate`) and `get_online_users` (`--online-users-rate`) are bounded per
//!   user like `chat_message` (`--message-rate`, in the chat use case, shared with REST posts):
//!   each is a broadcast or a database read per event, so a flood from one socket would cost
//!   everybody else.
//!
//! Addresses are plain `IpAddr`s: where the address comes from (the peer, or a trusted proxy's
//! header) is the transport's business.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use crate::error::{ApiError, ApiResult};
use crate::usecase::auth::Caller;
use crate::usecase::limits::Rate;
use crate::usecase::limits::RateLimiter;

/// The bounds, from the flags (0 = no bound).
#[derive(Debug, Clone, Copy)]
pub struct AdmissionRules {
    pub max_sockets_per_user: u32,
    pub max_sockets_per_address: u32,
    pub typing_rate: Rate,
    pub online_users_rate: Rate,
}

pub struct Admission {
    rules: AdmissionRules,
    per_user: Mutex<HashMap<i64, u32>>,
    per_address: Arc<Mutex<HashMap<IpAddr, u32>>>,
    typing: RateLimiter,
    online_users: RateLimiter,
}

/// One open session from an address, counted against `--max-sockets-per-address` until dropped.
pub struct SessionSlot {
    per_address: Arc<Mutex<HashMap<IpAddr, u32>>>,
    address: IpAddr,
}

impl Drop for SessionSlot {
    fn drop(&mut self) {
        decrement(&mut crate::runtime::mutexes::lock(&self.per_address), self.address);
    }
}

impl Admission {
    pub fn new(rules: AdmissionRules) -> Admission {
        Admission {
            rules,
            per_user: Mutex::default(),
            per_address: Arc::default(),
            typing: RateLimiter::new(rules.typing_rate),
            online_users: RateLimiter::new(rules.online_users_rate),
        }
    }

    /// Count one more session from `address`, unless it is at `--max-sockets-per-address`; the
    /// count goes down when the slot is dropped.
    pub fn open_session(&self, address: IpAddr) -> ApiResult<SessionSlot> {
        let mut per_address = crate::runtime::mutexes::lock(&self.per_address);
        if at_cap(per_address.get(&address), self.rules.max_sockets_per_address) {
            return Err(too_many("Too many open connections from this address."));
        }
        *per_address.entry(address).or_insert(0) += 1;
        Ok(SessionSlot { per_address: self.per_address.clone(), address })
    }

    /// Sessions open from `address` now.
    pub fn sessions_from(&self, address: IpAddr) -> u32 {
        crate::runtime::mutexes::lock(&self.per_address).get(&address).copied().unwrap_or(0)
    }

    /// Count one more open socket for `user`, unless the user is at its cap. Every `Ok` must be
    /// matched by one [`Admission::socket_closed`].
    pub fn open_socket(&self, user: i64) -> ApiResult<()> {
        let mut per_user = crate::runtime::mutexes::lock(&self.per_user);
        if at_cap(per_user.get(&user), self.rules.max_sockets_per_user) {
            return Err(too_many(
                "This account has too many open connections; close one (another tab or device) first.",
            ));
        }
        *per_user.entry(user).or_insert(0) += 1;
        Ok(())
    }

    /// One socket counted by [`Admission::open_socket`] closed.
    pub fn socket_closed(&self, user: i64) {
        decrement(&mut crate::runtime::mutexes::lock(&self.per_user), user);
    }

    /// Count one `typing` event of `caller` (`--typing-rate`).
    pub fn typing(&self, caller: Caller) -> ApiResult<()> {
        self.typing.admit_user(caller.id)
    }

    /// Count one `get_online_users` of `caller` (`--online-users-rate`).
    pub fn online_users(&self, caller: Caller) -> ApiResult<()> {
        self.online_users.admit_user(caller.id)
    }
}

fn at_cap(count: Option<&u32>, cap: u32) -> bool {
    cap != 0 && count.copied().unwrap_or(0) >= cap
}

fn too_many(detail: &'static str) -> ApiError {
    tracing::debug!(detail, "socket refused");
    // Try again once another socket has closed; a second is as good a guess as any.
    ApiError::RateLimited { retry_after: 1 }
}

fn decrement<K: Hash + Eq>(counts: &mut HashMap<K, u32>, key: K) {
    if let Entry::Occupied(mut entry) = counts.entry(key) {
        *entry.get_mut() -= 1;
        if *entry.get() == 0 {
            entry.remove();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(per_user: u32, per_address: u32) -> AdmissionRules {
        AdmissionRules {
            max_sockets_per_user: per_user,
            max_sockets_per_address: per_address,
            typing_rate: Rate::UNLIMITED,
            online_users_rate: Rate::UNLIMITED,
        }
    }

    #[test]
    fn caps_per_user_and_per_address() {
        let admission = Admission::new(rules(2, 3));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        admission.open_socket(1).unwrap();
        admission.open_socket(1).unwrap();
        assert!(admission.open_socket(1).is_err(), "user 1 is at 2");
        admission.open_socket(2).unwrap();
        admission.socket_closed(1);
        admission.open_socket(1).unwrap();
        admission.socket_closed(2);
        assert_eq!(admission.per_user.lock().unwrap().get(&2), None, "a count that reaches zero is forgotten");

        let first = admission.open_session(a).unwrap();
        let _second = admission.open_session(a).unwrap();
        let _third = admission.open_session(a).unwrap();
        assert!(admission.open_session(a).is_err(), "address a is at 3");
        let _other = admission.open_session(b).expect("address b has its own");
        drop(first);
        assert_eq!(admission.sessions_from(a), 2);
        let _fourth = admission.open_session(a).expect("a closed session makes room");
    }

    #[test]
    fn zero_is_no_cap() {
        let admission = Admission::new(rules(0, 0));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let mut slots = Vec::new();
        for _ in 0..10_000 {
            admission.open_socket(1).unwrap();
            slots.push(admission.open_session(a).unwrap());
        }
        drop(slots);
        assert_eq!(admission.sessions_from(a), 0);
    }
}

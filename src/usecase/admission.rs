//! Admission: how much one user or one client address may open and ask of the realtime layer.
//!
//! - Open sockets are capped per user (`--max-sockets-per-user`: tabs and devices, not an
//!   unbounded number of them) and per client address (`--max-sockets-per-address`: one machine
//!   cannot hold the whole server's memory and file descriptors). A socket over either cap is
//!   refused at connect with `connect_error` `{"message": "rate_limited"}`.
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
use std::sync::Mutex;

use crate::auth::Caller;
use crate::config::Rate;
use crate::error::{ApiError, ApiResult};
use crate::limits::RateLimiter;

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
    open: Mutex<OpenSockets>,
    typing: RateLimiter,
    online_users: RateLimiter,
}

#[derive(Default)]
struct OpenSockets {
    per_user: HashMap<i64, u32>,
    per_address: HashMap<IpAddr, u32>,
}

impl Admission {
    pub fn new(rules: AdmissionRules) -> Admission {
        Admission {
            rules,
            open: Mutex::default(),
            typing: RateLimiter::new(rules.typing_rate),
            online_users: RateLimiter::new(rules.online_users_rate),
        }
    }

    /// Count one more open socket for `user` from `address`, unless either is at its cap. Every
    /// `Ok` must be matched by one [`Admission::socket_closed`].
    pub fn open_socket(&self, user: i64, address: IpAddr) -> ApiResult<()> {
        let mut open = crate::sync::lock(&self.open);
        let at_cap = |count: Option<&u32>, cap: u32| cap != 0 && count.copied().unwrap_or(0) >= cap;
        if at_cap(open.per_user.get(&user), self.rules.max_sockets_per_user) {
            return Err(too_many(
                "This account has too many open connections; close one (another tab or device) first.",
            ));
        }
        if at_cap(open.per_address.get(&address), self.rules.max_sockets_per_address) {
            return Err(too_many("Too many open connections from this address."));
        }
        *open.per_user.entry(user).or_insert(0) += 1;
        *open.per_address.entry(address).or_insert(0) += 1;
        Ok(())
    }

    /// One socket counted by [`Admission::open_socket`] closed.
    pub fn socket_closed(&self, user: i64, address: IpAddr) {
        let mut open = crate::sync::lock(&self.open);
        decrement(&mut open.per_user, user);
        decrement(&mut open.per_address, address);
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
        admission.open_socket(1, a).unwrap();
        admission.open_socket(1, b).unwrap();
        assert!(admission.open_socket(1, a).is_err(), "user 1 is at 2");
        admission.open_socket(2, a).unwrap();
        admission.open_socket(3, a).unwrap();
        assert!(admission.open_socket(4, a).is_err(), "address a is at 3");
        admission.socket_closed(2, a);
        admission.open_socket(4, a).unwrap();
        admission.socket_closed(1, b);
        admission.open_socket(1, b).unwrap();
        let open = admission.open.lock().unwrap();
        assert_eq!(open.per_user.get(&2), None, "a count that reaches zero is forgotten");
    }

    #[test]
    fn zero_is_no_cap() {
        let admission = Admission::new(rules(0, 0));
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..10_000 {
            admission.open_socket(1, a).unwrap();
        }
    }
}

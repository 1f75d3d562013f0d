//! Who is online: a count of connected sockets per user (tabs and devices each count).
//! The realtime layer fills it; REST reads it for the `online` flags.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::model::UserPublic;

#[derive(Default)]
pub struct Presence {
    sockets: Mutex<HashMap<i64, usize>>,
}

impl Presence {
    /// One more socket for `user`; true when it is their first (they just came online).
    pub fn connect(&self, user: i64) -> bool {
        let Ok(mut sockets) = self.sockets.lock() else {
            return false;
        };
        let count = sockets.entry(user).or_insert(0);
        *count += 1;
        *count == 1
    }

    /// One socket fewer; true when it was their last (they just went offline).
    pub fn disconnect(&self, user: i64) -> bool {
        let Ok(mut sockets) = self.sockets.lock() else {
            return false;
        };
        match sockets.get_mut(&user) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                sockets.remove(&user);
                true
            }
            None => false,
        }
    }

    pub fn is_online(&self, user: i64) -> bool {
        self.sockets.lock().map(|s| s.contains_key(&user)).unwrap_or(false)
    }

    pub fn online_count(&self) -> usize {
        self.sockets.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// `user` with its `online` flag set from the registry.
    pub fn public(&self, mut user: UserPublic) -> UserPublic {
        user.online = self.is_online(user.id);
        user
    }
}

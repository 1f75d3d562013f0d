//! Presence: who is online, when they were last seen, who is typing, and who is told.
//!
//! Online means at least one connected socket (tabs and devices each count): the registry counts
//! sockets per user, in memory. A user's first socket makes them come online and their last one
//! go offline (`last_seen` is stored then); either way a `user_status` goes to everyone who
//! shares a room with them, never to their own sockets. The realtime layer calls these functions
//! when sockets come and go and emits what they return; REST reads the `online` flags through
//! [`Presence::public`]. Whoever shares no room with a user learns neither their `online` nor
//! their `last_seen` from anywhere ([`Presence::hidden`]): not from `user_status`, not from the
//! user search.
//!
//! The registry never fails open or shut: a poisoned lock goes on with its counts (see
//! [`crate::runtime::mutexes`]).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::error::{ApiResult, Chain};
use crate::model::{Typing, UserPublic, UserStatus, UserUpdated};
use crate::runtime::metrics::Metrics;
use crate::storage::db::{self, Db, rooms, users};
use crate::usecase::auth::Caller;
use crate::usecase::ensure_member;

pub struct Presence {
    db: Db,
    sockets: Mutex<HashMap<i64, usize>>,
    /// Open sockets and online users (`--metrics`).
    metrics: Metrics,
}

/// A `user_status` and the users to tell (by their personal rooms).
#[derive(Debug, Clone)]
pub struct StatusNotice {
    pub status: UserStatus,
    pub tell: Vec<i64>,
}

impl Presence {
    pub fn new(db: Db, metrics: Metrics) -> Presence {
        Presence { db, sockets: Mutex::default(), metrics }
    }

    fn sockets(&self) -> MutexGuard<'_, HashMap<i64, usize>> {
        crate::runtime::mutexes::lock(&self.sockets)
    }

    /// One more socket for `user`; true when it is their first (they just came online).
    pub fn connect(&self, user: i64) -> bool {
        let mut sockets = self.sockets();
        let count = sockets.entry(user).or_insert(0);
        *count += 1;
        let first = *count == 1;
        self.metrics.socket(true, sockets.len());
        first
    }

    /// `user` came online (their first socket is connected): the `user_status` and who to tell.
    /// `last_seen` is when they were last online before now.
    pub async fn came_online(&self, user: i64, username: &str, last_seen: Option<String>) -> ApiResult<StatusNotice> {
        self.notice(user, username, true, last_seen).await
    }

    /// One socket fewer for `user`. When it was their last, they went offline: `last_seen` is
    /// stored as now, and the `user_status` and who to tell come back.
    pub async fn disconnect(&self, user: i64, username: &str) -> ApiResult<Option<StatusNotice>> {
        if !self.leave(user) {
            return Ok(None);
        }
        let now = db::now();
        let at = now.clone();
        if let Err(e) = self.db.write(move |conn| users::set_last_seen(conn, user, &at)).await {
            // They are offline whether or not the time was stored; tell the others anyway.
            tracing::warn!(error = %Chain(&e), user, "could not store last_seen");
        }
        self.notice(user, username, false, Some(now)).await.map(Some)
    }

    /// Forget one socket of `user`; true when it was their last.
    fn leave(&self, user: i64) -> bool {
        let mut sockets = self.sockets();
        let last = match sockets.get_mut(&user) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                sockets.remove(&user);
                true
            }
            None => return false,
        };
        self.metrics.socket(false, sockets.len());
        last
    }

    /// The `user_status` of `user` (with their display name and avatar as they are now) and who
    /// is told of it.
    async fn notice(
        &self,
        user: i64,
        username: &str,
        online: bool,
        last_seen: Option<String>,
    ) -> ApiResult<StatusNotice> {
        let (tell, profile) = self.contacts_and_profile(user).await?;
        let (display_name, avatar_url) = profile.unwrap_or_default();
        let status =
            UserStatus { user_id: user, username: username.to_string(), display_name, avatar_url, online, last_seen };
        Ok(StatusNotice { tell, status })
    }

    /// Who is told about `user` (everyone who shares a room with them, them excluded), and
    /// their display name and avatar as they are now.
    async fn contacts_and_profile(&self, user: i64) -> ApiResult<(Vec<i64>, Option<(Option<String>, Option<String>)>)> {
        Ok(self
            .db
            .read(move |conn| {
                let tell = rooms::contacts_of(conn, user)?;
                let profile = users::by_id(conn, user)?.map(|u| {
                    let public = u.to_public();
                    (public.display_name, public.avatar_url)
                });
                Ok::<_, crate::storage::db::DbError>((tell, profile))
            })
            .await?)
    }

    /// `user_updated`: the user as others see them now, and who is told (everyone who shares a
    /// room with them). `None` when the user is gone.
    pub async fn profile_notice(&self, user: i64) -> ApiResult<Option<(UserUpdated, Vec<i64>)>> {
        let found = self
            .db
            .read(move |conn| {
                let Some(record) = users::by_id(conn, user)? else { return Ok(None) };
                Ok::<_, crate::storage::db::DbError>(Some((record.to_public(), rooms::contacts_of(conn, user)?)))
            })
            .await?;
        Ok(found.map(|(public, tell)| (UserUpdated { user: self.public(public) }, tell)))
    }

    /// The members of a room the caller belongs to who are online now (`get_online_users`).
    pub async fn online_members(&self, caller: Caller, room_id: i64) -> ApiResult<Vec<UserPublic>> {
        let members = self
            .db
            .read(move |conn| {
                ensure_member(conn, caller, room_id)?;
                Ok::<_, crate::error::ApiError>(rooms::members(conn, room_id)?)
            })
            .await?;
        Ok(members
            .into_iter()
            .map(|member| self.public(member.user.to_public()))
            .filter(|member| member.online)
            .collect())
    }

    /// The caller is (or stopped) typing in a room they belong to: what its other members see.
    pub async fn typing(&self, caller: Caller, room_id: i64, typing: bool) -> ApiResult<Typing> {
        let (account, _) = self.db.read(move |conn| ensure_member(conn, caller, room_id)).await?;
        Ok(Typing { room_id, user_id: caller.id, username: account.username, typing })
    }

    pub fn is_online(&self, user: i64) -> bool {
        self.sockets().contains_key(&user)
    }

    /// Users with at least one connected socket.
    pub fn online_count(&self) -> usize {
        self.sockets().len()
    }

    /// `user` with its `online` flag set from the registry.
    pub fn public(&self, mut user: UserPublic) -> UserPublic {
        user.online = self.is_online(user.id);
        user
    }

    /// `user` as someone who shares no room with them sees it: the same fields, without presence
    /// (`online` false, `last_seen` null), since `user_status` never tells such a person either.
    pub fn hidden(mut user: UserPublic) -> UserPublic {
        user.online = false;
        user.last_seen = None;
        user
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sockets_are_counted_per_user_and_a_poisoned_lock_keeps_the_counts() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.db"), db::DbOptions::default()).unwrap();
        let presence = Presence::new(db.clone(), Metrics::off());
        assert!(presence.connect(7), "the first socket comes online");
        assert!(!presence.connect(7), "a second tab is not news");
        crate::runtime::mutexes::poison(&presence.sockets);
        assert!(presence.is_online(7), "still online after the lock was poisoned");
        assert!(!presence.leave(7), "one tab left");
        assert!(presence.leave(7), "the last socket goes offline");
        assert_eq!(presence.online_count(), 0);
        db.shutdown().await;
    }
}

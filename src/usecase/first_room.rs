//! The first room: where everyone on a new server meets without anyone having to find it.
//!
//! A second person who signs up to a new natter would otherwise land in an empty app with no
//! room they can find or join, and the administrator would not know that anyone arrived.
//! Campfire's answer is that everyone lands in the same room; natter's (SPEC §3 "The first
//! room") is an open room named by `--default-room` (default `general`), made on the first
//! start of a database that has no room yet, owned by the first account, and joined by every
//! account created while it exists (signup and `natter user add` alike). An administrator may
//! rename it, make it private or leave it like any room; once its last member leaves it is gone,
//! and new accounts join nothing.
//!
//! Which room it is, or that this server has none, is recorded in the settings table on that
//! first start, so it is decided once: a later start with another `--default-room` changes
//! nothing, and a server upgraded from a natter without rooms directory (it has rooms already)
//! gets none.

use rusqlite::Connection;

use crate::model::{Role, Visibility};
use crate::storage::db::rooms::{self, NewGroup};
use crate::storage::db::{Db, DbError, settings, users};

/// Settings key: the first room's id, or `""` when this server has none.
const SETTING: &str = "first_room_id";

/// On the first start of a database: make the first room called `name` (`""`: none), and let in
/// the accounts made before it (by `natter user add` before the server ever ran), the first of
/// them as its owner. Any later start leaves everything as it is.
pub async fn prepare(db: &Db, name: String) -> Result<(), DbError> {
    db.write(move |conn| {
        if settings::get(conn, SETTING)?.is_some() {
            return Ok(());
        }
        if name.is_empty() || rooms::any(conn)? {
            return settings::set(conn, SETTING, "");
        }
        let group = NewGroup { name: &name, topic: None, visibility: Visibility::Open };
        let room_id = rooms::create_group(conn, &group, None, &[])?;
        settings::set(conn, SETTING, &room_id.to_string())?;
        for account in users::list(conn)? {
            admit(conn, account.id)?;
        }
        tracing::info!(room_id, name = %name, "made the first room, which every new account joins");
        Ok(())
    })
    .await
}

/// Make a new account a member of the first room, if it still exists: its first member becomes
/// its owner, the others members who have read its history so far. The room's id when the
/// account joined it.
pub fn admit(conn: &Connection, user_id: i64) -> Result<Option<i64>, DbError> {
    let Some(room_id) = settings::get(conn, SETTING)?.and_then(|id| id.parse::<i64>().ok()) else {
        return Ok(None);
    };
    if rooms::get(conn, room_id)?.is_none() || !rooms::join(conn, room_id, user_id, Role::Member)? {
        return Ok(None);
    }
    rooms::claim_ownership(conn, room_id, user_id)?;
    Ok(Some(room_id))
}

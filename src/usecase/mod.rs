//! The use cases: every rule of natter, behind one small struct per area, shared by every
//! transport. `POST /auth/signup` and `natter user add` call the same [`accounts::Accounts`]
//! function; a REST post and a Socket.IO `chat_message` the same `Chat` one. Only how the input
//! arrives and how the answer is rendered differs.
//!
//! Each struct holds only what its area needs (a database handle, the password hasher, a limit),
//! is built once by `natter::build` (the CLI builds the ones it uses), and is cheap to share.
//! Nothing here knows HTTP or sockets: use cases take validated input types (`crate::input`),
//! talk to the storage engine (`crate::storage::db`), return model objects (`crate::model`) or an
//! `ApiError`, and publish domain events after the commit that made a change durable.

pub mod accounts;
pub mod admission;
pub mod auth;
pub mod backups;
pub mod bots;
pub mod chat;
pub mod first_room;
pub mod invites;
pub mod limits;
pub mod media;
pub mod operations;
pub mod password;
pub mod pictures;
pub mod presence;
pub mod profiles;
pub mod push;
pub mod sessions;

use rusqlite::Connection;

use crate::error::{ApiError, ApiResult};
use crate::storage::db::rooms::{self, Membership};
use crate::storage::db::users::UserRecord;
use crate::usecase::auth::Caller;

/// Every room that is missing or that the caller is not in: the same 404, so a room's existence
/// is never revealed.
pub(crate) fn room_not_found() -> ApiError {
    ApiError::not_found("Room")
}

/// The check behind every request and event that names a room: the caller's token still speaks
/// for their account, and they are a member of the room. Their account and membership back.
pub(crate) fn ensure_member(conn: &Connection, caller: Caller, room_id: i64) -> ApiResult<(UserRecord, Membership)> {
    let account = caller.verify(conn)?;
    let membership = rooms::membership(conn, room_id, caller.id)?.ok_or_else(room_not_found)?;
    Ok((account, membership))
}

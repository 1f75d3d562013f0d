//! Room and private-chat objects as one user sees them (members, last message, unread count).

use rusqlite::Connection;

use crate::db::rooms::{self, Membership, RoomRecord};
use crate::db::{DbError, messages};
use crate::model::{Member, PrivateChat, Room, UserPublic};
use crate::presence::Presence;

pub fn room(
    conn: &Connection,
    presence: &Presence,
    room: &RoomRecord,
    viewer: i64,
    membership: Membership,
) -> Result<Room, DbError> {
    let members: Vec<Member> = rooms::members(conn, room.id)?
        .into_iter()
        .map(|(user, role)| Member { user: presence.public(user.to_public()), role })
        .collect();
    let peer = if room.is_private { peer_of(&members, viewer) } else { None };
    Ok(Room {
        id: room.id,
        name: room.name.clone(),
        is_private: room.is_private,
        owner_id: room.owner_id,
        created_at: room.created_at.clone(),
        last_message: messages::last(conn, room.id)?,
        unread_count: messages::unread_count(conn, room.id, viewer, membership.last_read_id)?,
        members,
        peer,
    })
}

/// The room by id as `viewer` sees it; None when they are not a member.
pub fn room_by_id(conn: &Connection, presence: &Presence, room_id: i64, viewer: i64) -> Result<Option<Room>, DbError> {
    let Some(membership) = rooms::membership(conn, room_id, viewer)? else { return Ok(None) };
    let Some(record) = rooms::get(conn, room_id)? else { return Ok(None) };
    room(conn, presence, &record, viewer, membership).map(Some)
}

fn peer_of(members: &[Member], viewer: i64) -> Option<UserPublic> {
    members.iter().find(|m| m.user.id != viewer).map(|m| m.user.clone())
}

pub fn private_chat(room: Room) -> Option<PrivateChat> {
    Some(PrivateChat {
        id: room.id,
        is_private: true,
        peer: room.peer?,
        last_message: room.last_message,
        unread_count: room.unread_count,
    })
}

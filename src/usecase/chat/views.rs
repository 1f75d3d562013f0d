//! Room and private-chat objects as one user sees them (members with their read markers, last
//! message, unread counts).
//!
//! What every member sees alike (the room, its members with their online flags, its last
//! message) is read once (`Shared`); what differs per viewer (the unread count, the peer of a
//! private chat) is added for each, so rendering a room for all of its members at once (the
//! `room_added` of a new room) reads the members once instead of once per member.

use rusqlite::Connection;

use crate::model::{Member, Message, NotifyLevel, PrivateChat, Room};
use crate::storage::db::rooms::{self, Membership, RoomRecord};
use crate::storage::db::{DbError, mentions, messages};
use crate::usecase::presence::Presence;

/// What every member of a room sees alike.
struct Shared {
    record: RoomRecord,
    members: Vec<Member>,
    /// Each member's own notification level, in the order of `members`.
    levels: Vec<NotifyLevel>,
    last_message: Option<Message>,
}

impl Shared {
    fn read(conn: &Connection, presence: &Presence, record: RoomRecord) -> Result<Shared, DbError> {
        let records = rooms::members(conn, record.id)?;
        let levels = records.iter().map(|member| member.standing.notify).collect();
        let members = records
            .into_iter()
            .map(|member| Member {
                user: presence.public(member.user.to_public()),
                role: member.standing.role,
                last_read_id: (member.standing.last_read_id > 0).then_some(member.standing.last_read_id),
            })
            .collect();
        let last_message = messages::last(conn, record.id)?;
        Ok(Shared { record, members, levels, last_message })
    }

    /// The room as `viewer` sees it; `None` for someone who is not a member (an administrator
    /// changing an open room): nothing of it is unread for them.
    fn seen_from(&self, conn: &Connection, viewer: i64, membership: Option<Membership>) -> Result<Room, DbError> {
        let record = &self.record;
        let peer = if record.is_private {
            self.members.iter().find(|m| m.user.id != viewer).map(|m| m.user.clone())
        } else {
            None
        };
        Ok(Room {
            id: record.id,
            name: record.name.clone(),
            is_private: record.is_private,
            owner_id: record.owner_id,
            created_at: record.created_at.clone(),
            visibility: record.visibility,
            topic: record.topic.clone(),
            last_message: self.last_message.clone(),
            unread_count: match membership {
                Some(m) => messages::unread_count(conn, record.id, viewer, m.last_read_id)?,
                None => 0,
            },
            unread_mentions: match membership {
                Some(m) => mentions::unread(conn, viewer, record.id, m.last_read_id)?,
                None => 0,
            },
            notify: membership.map(|m| m.notify).unwrap_or_default(),
            members: self.members.clone(),
            peer,
        })
    }
}

/// `record` as `viewer`, a member with `membership`, sees it.
pub fn room(
    conn: &Connection,
    presence: &Presence,
    record: RoomRecord,
    viewer: i64,
    membership: Membership,
) -> Result<Room, DbError> {
    Shared::read(conn, presence, record)?.seen_from(conn, viewer, Some(membership))
}

/// `record` as `viewer` sees it, member or not (see [`Shared::seen_from`]).
pub fn room_seen_from(
    conn: &Connection,
    presence: &Presence,
    record: RoomRecord,
    viewer: i64,
    membership: Option<Membership>,
) -> Result<Room, DbError> {
    Shared::read(conn, presence, record)?.seen_from(conn, viewer, membership)
}

/// The room by id as each of `viewers` sees it, for those who are members (a viewer who is not,
/// or a room that is gone, is left out).
pub fn room_for_each(
    conn: &Connection,
    presence: &Presence,
    room_id: i64,
    viewers: &[i64],
) -> Result<Vec<(i64, Room)>, DbError> {
    let Some(record) = rooms::get(conn, room_id)? else { return Ok(Vec::new()) };
    let shared = Shared::read(conn, presence, record)?;
    let mut seen = Vec::with_capacity(viewers.len());
    for &viewer in viewers {
        if let Some(membership) = rooms::membership(conn, room_id, viewer)? {
            seen.push((viewer, shared.seen_from(conn, viewer, Some(membership))?));
        }
    }
    Ok(seen)
}

/// The room by id as each of its members sees it: what `room_updated` carries.
pub fn room_for_members(conn: &Connection, presence: &Presence, room_id: i64) -> Result<Vec<(i64, Room)>, DbError> {
    let Some(record) = rooms::get(conn, room_id)? else { return Ok(Vec::new()) };
    let shared = Shared::read(conn, presence, record)?;
    let mut seen = Vec::with_capacity(shared.members.len());
    for (member, &notify) in shared.members.iter().zip(&shared.levels) {
        let membership = Membership { role: member.role, last_read_id: member.last_read_id.unwrap_or(0), notify };
        seen.push((member.user.id, shared.seen_from(conn, member.user.id, Some(membership))?));
    }
    Ok(seen)
}

/// A private chat as a Room, as the SPEC's PrivateChat object; None for a group room.
pub fn private_chat(room: Room) -> Option<PrivateChat> {
    Some(PrivateChat {
        id: room.id,
        is_private: true,
        peer: room.peer?,
        last_message: room.last_message,
        unread_count: room.unread_count,
        unread_mentions: room.unread_mentions,
    })
}

//! Rooms (group and private) and their members.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::DbError;
use super::users::{self, UserRecord, user_columns};
use crate::model::{NotifyLevel, Role, Visibility};

#[derive(Debug, Clone)]
pub struct RoomRecord {
    pub id: i64,
    pub name: Option<String>,
    pub is_private: bool,
    pub owner_id: Option<i64>,
    pub created_at: String,
    pub visibility: Visibility,
    pub topic: Option<String>,
}

/// The caller's standing in a room.
#[derive(Debug, Clone, Copy)]
pub struct Membership {
    pub role: Role,
    pub last_read_id: i64,
    pub notify: NotifyLevel,
}

/// The columns [`room`] reads, of `rooms r` (a macro: queries stay `&'static str`).
macro_rules! room_columns {
    () => {
        "r.id, r.name, r.is_private, r.owner_id, r.created_at, r.visibility, r.topic"
    };
}

/// A room row from [`room_columns`], which come first in the row.
fn room(row: &Row) -> rusqlite::Result<RoomRecord> {
    Ok(RoomRecord {
        id: row.get(0)?,
        name: row.get(1)?,
        is_private: row.get(2)?,
        owner_id: row.get(3)?,
        created_at: row.get(4)?,
        visibility: Visibility::parse(&row.get::<_, String>(5)?),
        topic: row.get(6)?,
    })
}

/// `m.role, m.last_read_id, m.notify` at columns `at` to `at + 2`.
fn membership_at(row: &Row, at: usize) -> rusqlite::Result<Membership> {
    Ok(Membership {
        role: Role::parse(&row.get::<_, String>(at)?),
        last_read_id: row.get(at + 1)?,
        notify: NotifyLevel::parse(&row.get::<_, String>(at + 2)?),
    })
}

/// What a new group room is called and who may find it.
pub struct NewGroup<'a> {
    pub name: &'a str,
    pub topic: Option<&'a str>,
    pub visibility: Visibility,
}

/// A group room owned by `owner`, with `members` (the owner is added if missing). With no
/// owner (the first room, made before anyone signed up) it starts empty.
pub fn create_group(conn: &Connection, room: &NewGroup, owner: Option<i64>, members: &[i64]) -> Result<i64, DbError> {
    let now = super::now();
    let id: i64 = conn.query_row(
        "INSERT INTO rooms (name, is_private, owner_id, created_at, activity_seq, visibility, topic)
         VALUES (?1, 0, ?2, ?3, (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'messages'), ?4, ?5)
         RETURNING id",
        params![room.name, owner, now, room.visibility.as_str(), room.topic],
        |r| r.get(0),
    )?;
    if let Some(owner) = owner {
        insert_member(conn, id, owner, Role::Owner)?;
    }
    for &member in members.iter().filter(|&&m| Some(m) != owner) {
        insert_member(conn, id, member, Role::Member)?;
    }
    Ok(id)
}

/// A group room's new name, topic and visibility (each `None` leaves it as it is; a topic of
/// `Some(None)` clears it).
pub struct RoomChange<'a> {
    pub name: Option<&'a str>,
    pub topic: Option<Option<&'a str>>,
    pub visibility: Option<Visibility>,
}

/// Apply `change` to a group room; whether anything changed.
pub fn update(conn: &Connection, room_id: i64, change: &RoomChange) -> Result<bool, DbError> {
    let changed = conn
        .prepare_cached(
            "UPDATE rooms SET
                 name = CASE WHEN ?2 THEN ?3 ELSE name END,
                 topic = CASE WHEN ?4 THEN ?5 ELSE topic END,
                 visibility = coalesce(?6, visibility)
             WHERE id = ?1 AND is_private = 0
               AND (CASE WHEN ?2 THEN ?3 ELSE name END IS NOT name
                    OR CASE WHEN ?4 THEN ?5 ELSE topic END IS NOT topic
                    OR coalesce(?6, visibility) IS NOT visibility)",
        )?
        .execute(params![
            room_id,
            change.name.is_some(),
            change.name,
            change.topic.is_some(),
            change.topic.flatten(),
            change.visibility.map(Visibility::as_str),
        ])?;
    Ok(changed == 1)
}

/// An open room as the directory lists it.
#[derive(Debug, Clone)]
pub struct Listing {
    pub id: i64,
    pub name: String,
    pub topic: Option<String>,
    pub member_count: i64,
    pub last_activity_at: String,
    pub joined: bool,
}

/// Every open room, most recent activity first, with whether `viewer` is in it. Served by the
/// partial index of open rooms; the newest message's time is one step down `messages_by_room`.
pub fn open_rooms(conn: &Connection, viewer: i64) -> Result<Vec<Listing>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT r.id, r.name, r.topic,
                (SELECT count(*) FROM room_members WHERE room_id = r.id),
                coalesce((SELECT created_at FROM messages WHERE room_id = r.id ORDER BY id DESC LIMIT 1), r.created_at),
                EXISTS (SELECT 1 FROM room_members WHERE room_id = r.id AND user_id = ?1)
         FROM rooms r INDEXED BY rooms_open_by_activity
         WHERE r.visibility = 'open'
         ORDER BY r.activity_seq DESC, r.id DESC",
    )?;
    let rows = stmt.query_map([viewer], |r| {
        Ok(Listing {
            id: r.get(0)?,
            name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
            topic: r.get(2)?,
            member_count: r.get(3)?,
            last_activity_at: r.get(4)?,
            joined: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Make `user_id` a member who has read everything there is so far (joining a room, or being
/// let into the first room: its history is context, not news); false when already one.
pub fn join(conn: &Connection, room_id: i64, user_id: i64, role: Role) -> Result<bool, DbError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO room_members (room_id, user_id, role, joined_at, last_read_id)
             VALUES (?1, ?2, ?3, ?4, (SELECT coalesce(max(id), 0) FROM messages WHERE room_id = ?1))
             ON CONFLICT(room_id, user_id) DO NOTHING",
        )?
        .execute(params![room_id, user_id, role.as_str(), super::now()])?;
    Ok(inserted == 1)
}

/// Make `user_id` the owner of a room that has none (the first room, when its first member
/// arrives).
pub fn claim_ownership(conn: &Connection, room_id: i64, user_id: i64) -> Result<bool, DbError> {
    if conn.execute("UPDATE rooms SET owner_id = ?2 WHERE id = ?1 AND owner_id IS NULL", [room_id, user_id])? == 0 {
        return Ok(false);
    }
    conn.execute("UPDATE room_members SET role = 'owner' WHERE room_id = ?1 AND user_id = ?2", [room_id, user_id])?;
    Ok(true)
}

/// Whether any room exists (the first room is made only on a server that has none).
pub fn any(conn: &Connection) -> Result<bool, DbError> {
    Ok(conn.query_row("SELECT EXISTS (SELECT 1 FROM rooms)", [], |r| r.get(0))?)
}

/// The private chat of `a` and `b`, created if it does not exist; `true` when created.
/// The UNIQUE `pair_key` makes this safe however the calls interleave.
pub fn find_or_create_private(conn: &Connection, a: i64, b: i64) -> Result<(i64, bool), DbError> {
    let key = format!("{}:{}", a.min(b), a.max(b));
    let now = super::now();
    let created: Option<i64> = conn
        .query_row(
            "INSERT INTO rooms (name, is_private, owner_id, pair_key, created_at, activity_seq)
             VALUES (NULL, 1, NULL, ?1, ?2, (SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'messages'))
             ON CONFLICT(pair_key) DO NOTHING RETURNING id",
            params![key, now],
            |r| r.get(0),
        )
        .optional()?;
    if let Some(id) = created {
        insert_member(conn, id, a, Role::Member)?;
        insert_member(conn, id, b, Role::Member)?;
        return Ok((id, true));
    }
    let id = conn.query_row("SELECT id FROM rooms WHERE pair_key = ?1", [key], |r| r.get(0))?;
    Ok((id, false))
}

fn insert_member(conn: &Connection, room_id: i64, user_id: i64, role: Role) -> Result<bool, DbError> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO room_members (room_id, user_id, role, joined_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(room_id, user_id) DO NOTHING",
        )?
        .execute(params![room_id, user_id, role.as_str(), super::now()])?;
    Ok(inserted == 1)
}

/// Add `user_id` as a member; false when already one.
pub fn add_member(conn: &Connection, room_id: i64, user_id: i64) -> Result<bool, DbError> {
    insert_member(conn, room_id, user_id, Role::Member)
}

pub fn get(conn: &Connection, room_id: i64) -> Result<Option<RoomRecord>, DbError> {
    Ok(conn
        .prepare_cached(concat!("SELECT ", room_columns!(), " FROM rooms r WHERE r.id = ?1"))?
        .query_row([room_id], room)
        .optional()?)
}

/// `user_id`'s membership of `room_id`, if any: the check behind every room endpoint.
pub fn membership(conn: &Connection, room_id: i64, user_id: i64) -> Result<Option<Membership>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT m.role, m.last_read_id, m.notify FROM room_members m WHERE m.room_id = ?1 AND m.user_id = ?2",
        )?
        .query_row([room_id, user_id], |r| membership_at(r, 0))
        .optional()?)
}

/// A member of a room: the account and its standing.
pub struct MemberRecord {
    pub user: UserRecord,
    pub standing: Membership,
}

/// Members in join order (the longest-standing first), each with their standing.
pub fn members(conn: &Connection, room_id: i64) -> Result<Vec<MemberRecord>, DbError> {
    const USER_COLUMNS: usize = 12;
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        user_columns!(),
        ", m.role, m.last_read_id, m.notify
         FROM room_members m JOIN users u ON u.id = m.user_id
         WHERE m.room_id = ?1 ORDER BY m.rowid"
    ))?;
    let rows = stmt.query_map([room_id], |r| {
        Ok(MemberRecord { user: users::record(r)?, standing: membership_at(r, USER_COLUMNS)? })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Set `user_id`'s notification level for `room_id`; false when they are not a member.
pub fn set_notify(conn: &Connection, room_id: i64, user_id: i64, level: NotifyLevel) -> Result<bool, DbError> {
    let changed = conn
        .prepare_cached("UPDATE room_members SET notify = ?3 WHERE room_id = ?1 AND user_id = ?2")?
        .execute(params![room_id, user_id, level.as_str()])?;
    Ok(changed > 0)
}

/// The members of `room_id` other than `sender` whom a push may reach: each id with their level
/// (a level of `none` is left out here already).
pub fn notify_levels(conn: &Connection, room_id: i64, sender: i64) -> Result<Vec<(i64, NotifyLevel)>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT user_id, notify FROM room_members WHERE room_id = ?1 AND user_id != ?2 AND notify != 'none' ORDER BY rowid",
    )?;
    let rows =
        stmt.query_map(params![room_id, sender], |r| Ok((r.get(0)?, NotifyLevel::parse(&r.get::<_, String>(1)?))))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The id of the member of `room_id` called `username` (any case), if there is one.
pub fn member_named(conn: &Connection, room_id: i64, username: &str) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached(
            "SELECT u.id FROM users u JOIN room_members m ON m.user_id = u.id
             WHERE u.username = ?2 AND m.room_id = ?1",
        )?
        .query_row(params![room_id, username], |r| r.get(0))
        .optional()?)
}

pub fn member_ids(conn: &Connection, room_id: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT user_id FROM room_members WHERE room_id = ?1 ORDER BY rowid")?;
    let rows = stmt.query_map([room_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The rooms of `user_id` (private chats or group rooms), most recent activity first, each with
/// the caller's membership.
pub fn rooms_of(conn: &Connection, user_id: i64, private: bool) -> Result<Vec<(RoomRecord, Membership)>, DbError> {
    const ROOM_COLUMNS: usize = 7;
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        room_columns!(),
        ", m.role, m.last_read_id, m.notify
         FROM room_members m JOIN rooms r ON r.id = m.room_id
         WHERE m.user_id = ?1 AND r.is_private = ?2
         ORDER BY r.activity_seq DESC, r.id DESC"
    ))?;
    let rows = stmt.query_map(params![user_id, private], |r| Ok((room(r)?, membership_at(r, ROOM_COLUMNS)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every room id of `user_id`, group and private: what a new socket joins.
pub fn room_ids_of(conn: &Connection, user_id: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached("SELECT room_id FROM room_members WHERE user_id = ?1")?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Ids of everyone who shares at least one room with `user_id` (them excluded).
pub fn contacts_of(conn: &Connection, user_id: i64) -> Result<Vec<i64>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT DISTINCT other.user_id FROM room_members mine
         JOIN room_members other ON other.room_id = mine.room_id
         WHERE mine.user_id = ?1 AND other.user_id != ?1",
    )?;
    let rows = stmt.query_map([user_id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Whether `a` and `b` are members of one room together (a group room or their private chat).
pub fn share_a_room(conn: &Connection, a: i64, b: i64) -> Result<bool, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM room_members mine
         JOIN room_members other ON other.room_id = mine.room_id AND other.user_id = ?2
         WHERE mine.user_id = ?1)",
    )?;
    Ok(stmt.query_row([a, b], |r| r.get(0))?)
}

/// What removing a member did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Removal {
    pub removed: bool,
    pub new_owner: Option<i64>,
    pub room_deleted: bool,
}

/// Remove `user_id`; an owner leaving hands ownership to the longest-standing member, and a
/// group room left empty is deleted (its messages with it).
pub fn remove_member(conn: &Connection, room_id: i64, user_id: i64) -> Result<Removal, DbError> {
    let role: Option<String> = conn
        .query_row(
            "DELETE FROM room_members WHERE room_id = ?1 AND user_id = ?2 RETURNING role",
            [room_id, user_id],
            |r| r.get(0),
        )
        .optional()?;
    let Some(role) = role else { return Ok(Removal::default()) };
    let mut outcome = Removal { removed: true, ..Removal::default() };
    let heir: Option<i64> = conn
        .query_row("SELECT user_id FROM room_members WHERE room_id = ?1 ORDER BY rowid LIMIT 1", [room_id], |r| {
            r.get(0)
        })
        .optional()?;
    match heir {
        None => {
            conn.execute("DELETE FROM rooms WHERE id = ?1 AND is_private = 0", [room_id])?;
            outcome.room_deleted = true;
        }
        Some(heir) if Role::parse(&role) == Role::Owner => {
            conn.execute(
                "UPDATE room_members SET role = 'owner' WHERE room_id = ?1 AND user_id = ?2",
                [room_id, heir],
            )?;
            conn.execute("UPDATE rooms SET owner_id = ?2 WHERE id = ?1", [room_id, heir])?;
            outcome.new_owner = Some(heir);
        }
        Some(_) => {}
    }
    Ok(outcome)
}

/// Move the read marker forward to `message_id`, capped at the room's newest message; it never
/// moves backwards. The marker's new place when it moved.
pub fn mark_read(conn: &Connection, room_id: i64, user_id: i64, message_id: i64) -> Result<Option<i64>, DbError> {
    Ok(conn
        .prepare_cached(
            "UPDATE room_members
             SET last_read_id = min(?3, (SELECT coalesce(max(id), 0) FROM messages WHERE room_id = ?1))
             WHERE room_id = ?1 AND user_id = ?2
               AND last_read_id < min(?3, (SELECT coalesce(max(id), 0) FROM messages WHERE room_id = ?1))
             RETURNING last_read_id",
        )?
        .query_row([room_id, user_id, message_id], |r| r.get(0))
        .optional()?)
}

/// A new message `message_id` makes the room the most recently active.
pub fn touch(conn: &Connection, room_id: i64, message_id: i64) -> Result<(), DbError> {
    conn.prepare_cached("UPDATE rooms SET activity_seq = ?2 WHERE id = ?1")?.execute([room_id, message_id])?;
    Ok(())
}

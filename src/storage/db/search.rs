//! Full-text search over the messages of a user's rooms (the FTS5 index of migration 4).
//!
//! A search costs what the caller's rooms hold, not what the server holds. It reads in two
//! steps, both newest first (`ORDER BY rowid DESC` is FTS5's own order, so nothing is sorted):
//!
//! 1. The newest matches of the whole index from the newest message of the caller's rooms back
//!    (no match of theirs is newer; rooms without messages end the search here), each kept if
//!    its room is one of the caller's (a sorted list read once per query), at most
//!    [`SCAN_FIRST`] of them. Someone searching rooms that hold most of the matches (one big
//!    team room, the common case) has a page after a few dozen, as fast as before migration 4.
//! 2. When those were not enough, the rest comes from the caller's rooms alone: the index has
//!    the room of every message as a second column, so the rooms are part of the FTS5 query,
//!    `{room_id} : ("3" OR "8") AND {content} : (<words>)`, and FTS5 skips the postings of other
//!    rooms inside the index without reading their messages.
//!
//! Why both (figures from `benches/search.rs`, 1,000,000 messages, docs/benchmarks-search.md):
//! before, only step 1 existed, unbounded, so a user in one empty room searching a word that
//! half the messages contain read all 500,000 matches (0.9 s of CPU a query). Step 2 alone costs
//! that user nothing, but skipping through a big room's postings newest first is slower than
//! reading them: for the rare word in the benchmark's one room of a million messages, 1.9 ms of
//! CPU a query against 0.3 ms for step 1. So step 1 runs first, bounded.
//!
//! Every word is a prefix; migration 4's prefix index makes a prefix of up to four letters one
//! doclist read newest first instead of a merge of every term that starts with it (see the
//! migration for the figures).
//!
//! A user in very many rooms ([`MAX_ROOMS_IN_QUERY`]) has step 1 unbounded instead of step 2:
//! FTS5 evaluates an OR of rooms by stepping every one of them for every match (measured on
//! 200,000 messages: 59 rooms ~2 ms, 300 rooms 10-20 ms, 1,000 rooms 40-60 ms a query), and
//! someone in that many rooms usually belongs to most of the server's messages, when step 1
//! stops early.
//!
//! `before` is a rowid bound that FTS5 applies inside the index.

use rusqlite::{Connection, params};

use super::messages::{message, message_columns, message_joins};
use super::{DbError, reactions};
use crate::model::Message;

/// The largest page [`matching`] returns.
pub const MAX_PAGE: usize = 50;

/// Rooms a search names inside the FTS5 query; a user in more is searched by filtering the
/// matches of the whole index instead (see the module doc for the measured cost of each room).
pub const MAX_ROOMS_IN_QUERY: usize = 64;

/// Matches of the whole index a search reads (newest first, keeping those in the caller's rooms)
/// before it asks FTS5 for the caller's rooms alone; see the module doc.
pub const SCAN_FIRST: usize = 256;

/// Messages matching `fts_query` (FTS5 syntax, built by the search use case) in the rooms
/// `user_id` belongs to, or only in `room_id` (if they belong to it), older than `before`, newest
/// first, at most `limit` (capped at [`MAX_PAGE`]).
pub fn matching(
    conn: &Connection,
    user_id: i64,
    fts_query: &str,
    room_id: Option<i64>,
    before: i64,
    limit: usize,
) -> Result<Vec<Message>, DbError> {
    // One snapshot for the statements below, as the single statement before had: a message
    // deleted between finding its id and reading its row must not turn into an error.
    let _snapshot = conn.unchecked_transaction()?;
    let (rooms, newest) = rooms_of(conn, user_id, room_id)?;
    let take = limit.min(MAX_PAGE);
    // No match can be newer than the newest message of the rooms: start there.
    let Some(newest) = newest else { return Ok(Vec::new()) };
    let before = before.min(newest.saturating_add(1));
    if take == 0 {
        return Ok(Vec::new());
    }
    let in_text = format!("{{content}} : ({fts_query})");
    // 1. The newest matches of the whole index, kept when they are in one of the rooms.
    let (mut ids, scan) = newest_in_rooms(conn, &in_text, &rooms, before, take, Some(SCAN_FIRST))?;
    // 2. Not enough among them: the rest from the caller's rooms alone.
    if let (Scan::Stopped { last }, true) = (scan, ids.len() < take) {
        let more = if rooms.len() <= MAX_ROOMS_IN_QUERY {
            newest_of_rooms(conn, &in_rooms(&rooms, fts_query), last, take - ids.len())?
        } else {
            newest_in_rooms(conn, &in_text, &rooms, last, take - ids.len(), None)?.0
        };
        ids.extend(more);
    }
    let mut found = Vec::with_capacity(ids.len());
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        message_columns!(),
        " FROM messages m ",
        message_joins!(),
        " WHERE m.id = ?1"
    ))?;
    for id in ids {
        found.push(stmt.query_row([id], message)?);
    }
    reactions::attach_each(conn, &mut found)?;
    Ok(found)
}

/// How far [`newest_in_rooms`] read the matches.
enum Scan {
    /// Every match older than `before` was read.
    Finished,
    /// It stopped with the page full or at its bound, after the match `last`.
    Stopped { last: i64 },
}

/// Up to `take` ids of messages matching `query` in `rooms` (sorted), older than `before`,
/// newest first: the matches of the whole index read newest first, at most `bound` of them.
fn newest_in_rooms(
    conn: &Connection,
    query: &str,
    rooms: &[i64],
    before: i64,
    take: usize,
    bound: Option<usize>,
) -> Result<(Vec<i64>, Scan), DbError> {
    // CROSS JOIN keeps the index as the outer loop; no LIMIT, the loop below stops reading.
    let mut stmt = conn.prepare_cached(
        "SELECT f.rowid, m.room_id FROM messages_fts f CROSS JOIN messages m ON m.id = f.rowid
         WHERE messages_fts MATCH ?1 AND f.rowid < ?2 ORDER BY f.rowid DESC",
    )?;
    let mut rows = stmt.query(params![query, before])?;
    let mut ids = Vec::with_capacity(take);
    let mut read = 0;
    while let Some(row) = rows.next()? {
        let (id, room): (i64, i64) = (row.get(0)?, row.get(1)?);
        read += 1;
        if rooms.binary_search(&room).is_ok() {
            ids.push(id);
        }
        if ids.len() == take || bound.is_some_and(|bound| read >= bound) {
            return Ok((ids, Scan::Stopped { last: id }));
        }
    }
    Ok((ids, Scan::Finished))
}

/// Up to `take` ids of messages matching `query` (one naming its rooms, see [`in_rooms`]),
/// older than `before`, newest first: FTS5 steps through those rooms' postings only.
fn newest_of_rooms(conn: &Connection, query: &str, before: i64, take: usize) -> Result<Vec<i64>, DbError> {
    // A constant LIMIT: a bound one makes SQLite 3.53 re-prepare the statement (see
    // `messages::history`).
    let mut stmt = conn.prepare_cached(
        "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT 50",
    )?;
    let ids = stmt.query_map(params![query, before], |r| r.get(0))?.take(take).collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

/// The rooms a search covers (the user's rooms, or `room_id` alone if it is one of them), sorted,
/// and the id of the newest message in them (`None` when they have none): one index probe each.
fn rooms_of(conn: &Connection, user_id: i64, room_id: Option<i64>) -> Result<(Vec<i64>, Option<i64>), DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT rm.room_id, (SELECT max(m.id) FROM messages m WHERE m.room_id = rm.room_id)
         FROM room_members rm WHERE rm.user_id = ?1 AND (?2 IS NULL OR rm.room_id = ?2) ORDER BY rm.room_id",
    )?;
    let mut rooms = Vec::new();
    let mut newest: Option<i64> = None;
    for row in stmt.query_map(params![user_id, room_id], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?)))? {
        let (room, last) = row?;
        rooms.push(room);
        newest = newest.max(last);
    }
    Ok((rooms, newest))
}

/// The FTS5 query for `fts_query`'s words in the `content` column of messages of `rooms` (ids are
/// digits, so each is one unicode61 token, quoted like any FTS5 string).
fn in_rooms(rooms: &[i64], fts_query: &str) -> String {
    let rooms = rooms.iter().map(|id| format!("\"{id}\"")).collect::<Vec<_>>().join(" OR ");
    format!("{{room_id}} : ({rooms}) AND {{content}} : ({fts_query})")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::super::search_text::fts_query;
    use super::*;

    /// A migrated database in a temporary folder (kept alive by the returned guard).
    fn database() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("t.db")).unwrap();
        crate::storage::db::migrate::run(&conn).unwrap();
        (dir, conn)
    }

    fn add_user(conn: &Connection, id: i64) {
        conn.execute(
            "INSERT INTO users (id, username, email, password_hash, password_changed_at, created_at)
             VALUES (?1, 'user' || ?1, 'user' || ?1 || '@example.com', 'x', 0, '2026-11-25T10:00:00.000Z')",
            [id],
        )
        .unwrap();
    }

    fn add_room(conn: &Connection, id: i64, members: &[i64]) {
        conn.execute("INSERT INTO rooms (id, name, created_at) VALUES (?1, 'room', '2026-11-25T10:00:00.000Z')", [id])
            .unwrap();
        for member in members {
            conn.execute(
                "INSERT INTO room_members (room_id, user_id, role, joined_at)
                 VALUES (?1, ?2, 'member', '2026-11-25T10:00:00.000Z')",
                [id, *member],
            )
            .unwrap();
        }
    }

    fn post(conn: &Connection, room: i64, sender: i64, content: &str) {
        conn.execute(
            "INSERT INTO messages (room_id, sender_id, content, created_at)
             VALUES (?1, ?2, ?3, '2026-11-25T10:00:00.000Z')",
            params![room, sender, content],
        )
        .unwrap();
    }

    fn ids(found: &[Message]) -> Vec<i64> {
        found.iter().map(|m| m.id).collect()
    }

    /// SQLite VM instructions `run` executes on `conn`.
    fn vm_steps<T>(conn: &Connection, run: impl FnOnce() -> T) -> (u64, T) {
        let steps = Arc::new(AtomicU64::new(0));
        let counter = steps.clone();
        conn.progress_handler(
            1,
            Some(move || {
                counter.fetch_add(1, Ordering::Relaxed);
                false
            }),
        )
        .unwrap();
        let value = run();
        conn.progress_handler(0, None::<fn() -> bool>).unwrap();
        (steps.load(Ordering::Relaxed), value)
    }

    /// A search's cost must not grow with the messages of rooms the searcher is not in: a user
    /// whose one room has three matches (older than other people's, and a newer message that does
    /// not match) searches a word that other people's room holds 300 and then 3,000 times.
    /// Before, every one of those matches was read, joined to its message and checked against the
    /// user's rooms: the work grew tenfold with them.
    #[test]
    fn the_cost_of_a_search_does_not_grow_with_other_peoples_messages() {
        let (_dir, conn) = database();
        for user in 1..=3 {
            add_user(&conn, user);
        }
        add_room(&conn, 1, &[1]);
        add_room(&conn, 2, &[2, 3]);
        for n in 0..3 {
            post(&conn, 1, 1, &format!("my common note {n}"));
        }
        let query = fts_query("common").unwrap();
        // One segment each time, so FTS5's own lookups (SQL statements of their own, counted
        // too) are the same whatever order the rows came in.
        let optimize = || conn.execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('optimize');").unwrap();
        let mut steps = Vec::new();
        for others in [300, 3_000] {
            while conn.query_row("SELECT count(*) FROM messages WHERE room_id = 2", [], |r| r.get::<_, i64>(0)).unwrap()
                < others
            {
                post(&conn, 2, 2, "a common word in someone else's room");
            }
            // The user's newest message is newer than all of those (and does not match).
            post(&conn, 1, 1, "nothing to find here");
            optimize();
            let (counted, found) = vm_steps(&conn, || matching(&conn, 1, &query, None, i64::MAX, 20).unwrap());
            assert_eq!(found.len(), 3, "the user's own three matches");
            steps.push(counted);
        }
        assert!(
            steps[1] <= steps[0] + steps[0] / 10,
            "the search's work grew with other rooms' messages: {} VM steps with 300 of them, {} with 3,000",
            steps[0],
            steps[1]
        );
        // A user in one empty room, the same: nothing to read.
        add_user(&conn, 4);
        add_room(&conn, 3, &[4]);
        optimize();
        let (empty, found) = vm_steps(&conn, || matching(&conn, 4, &query, None, i64::MAX, 20).unwrap());
        assert!(found.is_empty());
        assert!(empty <= steps[0], "an empty room cost {empty} VM steps, a room with 3 matches {}", steps[0]);
    }

    /// The query shape of migration 2's index (text only, rooms checked on every match), run on
    /// an index built as migration 2 built it: what search answered before migration 4.
    fn before_migration_4(
        conn: &Connection,
        user_id: i64,
        fts_query: &str,
        room_id: Option<i64>,
        before: i64,
        limit: usize,
    ) -> Vec<i64> {
        let mut stmt = conn
            .prepare_cached(
                "SELECT m.id FROM old_fts f CROSS JOIN messages m ON m.id = f.rowid
                 WHERE old_fts MATCH ?1 AND f.rowid < ?2
                   AND m.room_id IN (SELECT room_id FROM room_members WHERE user_id = ?3)
                   AND (?4 IS NULL OR m.room_id = ?4)
                 ORDER BY f.rowid DESC LIMIT 50",
            )
            .unwrap();
        let rows = stmt.query_map(params![fts_query, before, user_id, room_id], |r| r.get(0)).unwrap();
        rows.take(limit.min(MAX_PAGE)).collect::<Result<Vec<i64>, _>>().unwrap()
    }

    /// Migration 4 changed how a search runs, not what it finds: for words, prefixes, phrases,
    /// digits that are also room ids, operators, diacritics and scripts, in every room or one,
    /// paged with `before` and `limit`, for a user in one room, in several, in more than
    /// [`MAX_ROOMS_IN_QUERY`] and in none, the answer is the one the old shape gives.
    #[test]
    fn searches_find_what_they_found_before_migration_4() {
        let (_dir, conn) = database();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE old_fts USING fts5(
                 content, content = 'messages', content_rowid = 'id', columnsize = 0,
                 tokenize = 'unicode61 remove_diacritics 2');",
        )
        .unwrap();
        let many: Vec<i64> = (10..10 + MAX_ROOMS_IN_QUERY as i64 + 6).collect();
        for user in 1..=5 {
            add_user(&conn, user);
        }
        // 1: rooms 1-3; 2: rooms 2 and 4; 3: every room from 10 on; 4: room 5 (empty); 5: none.
        add_room(&conn, 1, &[1]);
        add_room(&conn, 2, &[1, 2]);
        add_room(&conn, 3, &[1, 3]);
        add_room(&conn, 4, &[2]);
        add_room(&conn, 5, &[4]);
        for room in &many {
            add_room(&conn, *room, &[3]);
        }
        const WORDS: [&str; 24] = [
            "Crème",
            "brûlée",
            "creme",
            "CREME",
            "note",
            "notes",
            "notebook",
            "3",
            "12",
            "1",
            "a",
            "AND",
            "NEAR(x",
            "don't",
            "e-mail",
            "🙂",
            "naïve",
            "Über",
            "uber",
            "Ελληνικά",
            "x*",
            "recipe",
            "pancake",
            "b",
        ];
        let rooms: Vec<i64> = [1, 2, 3, 4].into_iter().chain(many.iter().copied()).collect();
        let mut seed = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Enough that a common word has more matches than a search reads before it turns to the
        // caller's rooms alone ([`SCAN_FIRST`]), so both ways are compared.
        for _ in 0..4000 {
            let room = rooms[(next() % rooms.len() as u64) as usize];
            let length = 1 + next() % 6;
            let text: Vec<&str> = (0..length).map(|_| WORDS[(next() % WORDS.len() as u64) as usize]).collect();
            post(&conn, room, 1, &text.join(" "));
        }
        // Edits and deletes go through the index's triggers too.
        conn.execute("UPDATE messages SET content = 'pancake recipe ' || content WHERE id % 7 = 0", []).unwrap();
        conn.execute("DELETE FROM messages WHERE id % 11 = 0", []).unwrap();
        conn.execute_batch("INSERT INTO old_fts (old_fts) VALUES ('rebuild');").unwrap();

        let texts = [
            "creme",
            "CRÈME",
            "bru",
            "note",
            "not",
            "n",
            "3",
            "1",
            "12",
            "crème brûlée",
            "\"creme brulee\"",
            "\"brulee creme\"",
            "\"pancake recipe\"",
            "pancake rec",
            "don't",
            "e-mail",
            "AND",
            "NEAR(",
            "a",
            "b",
            "-note",
            "x*",
            "\"unbalanced",
            "naive",
            "uber",
            "🙂 x",
            "ελλ",
            "room 3",
            "notebook notes",
            "zzz",
        ];
        let mut compared = 0;
        for user in 1..=5 {
            let mut scopes = vec![None];
            scopes.extend(
                conn.prepare("SELECT room_id FROM room_members WHERE user_id = ?1")
                    .unwrap()
                    .query_map([user], |r| r.get::<_, i64>(0))
                    .unwrap()
                    .map(|r| Some(r.unwrap()))
                    .take(3),
            );
            scopes.push(Some(4)); // not every user's
            for text in texts {
                // Text with nothing searchable never reaches the index (the use case answers []).
                let Some(query) = fts_query(text) else { continue };
                for room in &scopes {
                    for (before, limit) in [(i64::MAX, 20), (i64::MAX, 50), (i64::MAX, 1), (900, 7), (300, 50)] {
                        let now = ids(&matching(&conn, user, &query, *room, before, limit).unwrap());
                        let then = before_migration_4(&conn, user, &query, *room, before, limit);
                        assert_eq!(
                            now, then,
                            "user {user}, {text:?} ({query}), room {room:?}, before {before}, limit {limit}"
                        );
                        compared += usize::from(!then.is_empty());
                    }
                }
            }
        }
        assert!(compared > 500, "only {compared} of the comparisons found anything");
    }
}

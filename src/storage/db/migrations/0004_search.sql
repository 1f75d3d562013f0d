-- Migration 4: the search index is rebuilt so that a search costs what the caller's own rooms
-- hold, not what the whole server holds. Applied on top of migrations 1-2 (3 is another change);
-- the rows already stored are indexed by code right after this script (`rebuild`).
--
-- What changes, and why (figures: benches/search.rs, 1,000,000 messages, see
-- docs/benchmarks.md):
-- - The room is indexed with the text (`room_id`, a second column), so a search can AND the
--   caller's rooms with the words inside FTS5, which skips from one posting of those rooms to
--   the next and never reads other rooms' messages (src/db/search.rs). Before, every match of
--   the whole server was joined to `messages` and checked against the caller's rooms: a user in
--   one empty room searching a common word read 500,000 matches, 1 s of CPU a query.
-- - `prefix='1 2 3 4'`: every word of a search is a prefix (SPEC §3). Without a prefix index
--   FTS5 answers `word*` by merging the doclists of every term starting with it into one buffer
--   before the first row comes out (the whole server's, whatever the LIMIT): 43 ms of CPU and
--   1,080 ms at p99 under load for a word in half the messages. With an index for that prefix
--   length it reads the prefix's doclist newest first and stops at the page's end: 0.46 ms and
--   10.5 ms. Words of 1-4 letters (the common words of any language) are covered; a longer
--   prefix is rarer, so its merge is smaller.
-- - The price: the index grows from 22% to 57% of the database, inserts through the triggers
--   take up to 2.4 times as long, and building it takes 14-23 s per million messages.
-- - The rest as in migration 2: external content (the text lives only in `messages`), no
--   per-row sizes (results are ordered by id, never ranked), unicode61 folding case and
--   diacritics.
DROP TRIGGER messages_search_insert;
DROP TRIGGER messages_search_update;
DROP TRIGGER messages_delete;
DROP TABLE messages_fts;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    room_id,
    content = 'messages',
    content_rowid = 'id',
    columnsize = 0,
    prefix = '1 2 3 4',
    tokenize = 'unicode61 remove_diacritics 2'
);

-- As in migration 2, with the room indexed too (a message never changes room).
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content, room_id) VALUES (new.id, new.content, new.room_id);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, room_id) VALUES ('delete', old.id, old.content, old.room_id);
    INSERT INTO messages_fts (rowid, content, room_id) VALUES (new.id, new.content, new.room_id);
END;
CREATE TRIGGER messages_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content, room_id) VALUES ('delete', old.id, old.content, old.room_id);
    DELETE FROM reactions WHERE room_id = old.room_id AND message_id = old.id;
    DELETE FROM mentions
    WHERE user_id IN (SELECT value FROM json_each(old.mentions)) AND room_id = old.room_id AND message_id = old.id;
END;

-- Migration 2: replies, reactions, mentions and full-text search.
-- Applied once on top of schema.sql (migration 1); later changes are new migrations.

-- A reply names its original by id, without a foreign key: the original may be deleted, and
-- the reply then keeps pointing at it (shown as deleted). The original's sender is kept with
-- the reply for that case; while the original exists, its excerpt is read from it, so an edit
-- of the original shows in every reply.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN reply_to_sender INTEGER;
-- The ids of the room members the content names as @username, a JSON array such as '[3,7]'
-- (NULL when none): a history page renders them from the row it reads anyway.
ALTER TABLE messages ADD COLUMN mentions TEXT;

-- Reactions, clustered by room and message: the reactions of a history page (one room, one
-- window of ids) are one range scan of this key, however big the room or the server. `seq`
-- numbers a message's reactions in the order they were made: reactions show in the order of
-- first use, and each one's users in the order they reacted.
CREATE TABLE reactions (
    room_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    emoji      TEXT NOT NULL,
    user_id    INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (room_id, message_id, emoji, user_id)
) WITHOUT ROWID;

-- Who was named by someone else, and where: `unread_mentions` counts one key range
-- (user, room, message id past the read marker). A sender naming themself is not stored.
CREATE TABLE mentions (
    user_id    INTEGER NOT NULL,
    room_id    INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (user_id, room_id, message_id)
) WITHOUT ROWID;

-- Full-text search over message content. External content (the text stays in `messages`
-- only); no per-row sizes (`columnsize=0`: results are ordered by id, never ranked).
-- unicode61 with remove_diacritics 2 folds case and diacritics: "creme" finds "Crème".
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content,
    content = 'messages',
    content_rowid = 'id',
    columnsize = 0,
    tokenize = 'unicode61 remove_diacritics 2'
);

-- The index, reactions and mentions follow every insert, edit and delete in the statement that
-- makes it, so in the same transaction. Deletes include those cascaded from a deleted room.
CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_search_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content);
END;
CREATE TRIGGER messages_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);
    DELETE FROM reactions WHERE room_id = old.room_id AND message_id = old.id;
    DELETE FROM mentions
    WHERE user_id IN (SELECT value FROM json_each(old.mentions)) AND room_id = old.room_id AND message_id = old.id;
END;

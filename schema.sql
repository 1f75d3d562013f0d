-- natter's whole schema, applied once by migration 1 (PRAGMA user_version).
-- Later changes are appended as new migrations in src/db/migrate.rs, never edited here in place.
-- Times are RFC 3339 UTC strings with milliseconds ('2026-11-25T10:00:00.123Z'), so text order
-- is time order.

CREATE TABLE users (
    id                  INTEGER PRIMARY KEY,
    -- ASCII only ([A-Za-z0-9_.-]), so NOCASE makes the uniqueness case-insensitive and lets the
    -- prefix search use the index.
    username            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    email               TEXT NOT NULL UNIQUE,            -- stored lower-case
    full_name           TEXT,
    password_hash       TEXT NOT NULL,                   -- argon2id PHC string
    is_admin            INTEGER NOT NULL DEFAULT 0,
    disabled            INTEGER NOT NULL DEFAULT 0,
    -- Unix seconds of the last password change: tokens issued before it are refused.
    password_changed_at INTEGER NOT NULL,
    created_at          TEXT NOT NULL,
    last_seen           TEXT
);

-- AUTOINCREMENT on rooms and messages: ids are never reused after a delete, so `after=<id>`
-- catch-up and read markers stay right when the newest row is deleted.
CREATE TABLE rooms (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT,                                    -- NULL for private chats
    is_private  INTEGER NOT NULL DEFAULT 0,
    owner_id    INTEGER REFERENCES users(id) ON DELETE SET NULL,
    -- 'lowid:highid' for private chats: one private chat per pair, enforced by UNIQUE so two
    -- users opening it at the same moment still get one room.
    pair_key    TEXT UNIQUE,
    created_at  TEXT NOT NULL,
    -- The order of room lists: the id of the newest message, or at creation the newest message
    -- id anywhere (ties go to the newer room). Unlike a timestamp it never ties within a
    -- millisecond, which group commit makes common.
    activity_seq INTEGER NOT NULL DEFAULT 0
);

-- rowid order is join order: the longest-standing member has the smallest rowid.
CREATE TABLE room_members (
    room_id      INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role         TEXT NOT NULL CHECK (role IN ('owner', 'member')),
    joined_at    TEXT NOT NULL,
    last_read_id INTEGER NOT NULL DEFAULT 0,
    UNIQUE (room_id, user_id)
);
CREATE INDEX room_members_by_user ON room_members(user_id, room_id);

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    uploader_id  INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    stored_name  TEXT NOT NULL UNIQUE,                   -- 32 hex digits + '.' + extension
    content_type TEXT NOT NULL,
    size         INTEGER NOT NULL,
    filename     TEXT NOT NULL,                          -- sanitized client name, metadata only
    created_at   TEXT NOT NULL
);
CREATE INDEX attachments_by_uploader ON attachments(uploader_id);

CREATE TABLE messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id       INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    sender_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    content       TEXT NOT NULL,
    attachment_id INTEGER REFERENCES attachments(id) ON DELETE SET NULL,
    client_id     TEXT,
    created_at    TEXT NOT NULL,
    edited_at     TEXT
);
-- History paging (before/after/newest) and unread counts are range scans of this index.
CREATE INDEX messages_by_room ON messages(room_id, id);
-- Idempotent retries: the same sender + room + client_id can only be stored once.
CREATE UNIQUE INDEX messages_client_id ON messages(room_id, sender_id, client_id)
    WHERE client_id IS NOT NULL;

CREATE TABLE invites (
    code       TEXT PRIMARY KEY,
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    uses_left  INTEGER NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

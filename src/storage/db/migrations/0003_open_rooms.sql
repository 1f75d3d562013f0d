-- Migration 3: open rooms, their topics, and the first room.
-- Applied once on top of migrations 1 and 2; later changes are new migrations.

-- Who may find and join a group room: 'open' rooms are listed in the directory and anyone on
-- the server may join them; 'private' ones (every room made before this migration, and every
-- private chat) only by being added. `is_private` keeps meaning "a 1:1 chat".
ALTER TABLE rooms ADD COLUMN visibility TEXT NOT NULL DEFAULT 'private'
    CHECK (visibility IN ('open', 'private'));
-- A line under the room's name (0-250 characters; NULL when it has none).
ALTER TABLE rooms ADD COLUMN topic TEXT;
-- The directory lists open rooms by recent activity: a partial index holds just those, in
-- that order, so the listing never reads the private rooms and chats.
CREATE INDEX rooms_open_by_activity ON rooms(activity_seq DESC, id DESC) WHERE visibility = 'open';

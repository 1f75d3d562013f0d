-- Bots: accounts that scripts, home automation and CI post through (SPEC §3 "Bots and webhooks").
-- Applied once on top of the earlier migrations; later changes are new migrations.

-- A bot is an account like any other (rooms, messages, mentions and search need nothing new),
-- marked so that it cannot log in and so that clients can badge it.
ALTER TABLE users ADD COLUMN is_bot INTEGER NOT NULL DEFAULT 0;

-- What only bots have. The token is the hook URL's secret and the key of the outgoing webhook's
-- signature; it is kept as issued because the administrator is shown it again (GET /admin/bots).
-- Deleting a bot deletes this row (its token stops working) and disables the account, whose
-- messages stay.
CREATE TABLE bots (
    user_id     INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    token       TEXT NOT NULL UNIQUE,
    webhook_url TEXT,
    -- The room `POST /hooks/{token}` posts to without a `channel`; it does not make the bot a member.
    room_id     INTEGER REFERENCES rooms(id) ON DELETE SET NULL,
    created_at  TEXT NOT NULL
);

-- Notification levels per room and Web Push subscriptions.
-- Applied once on top of the earlier migrations; later changes are new migrations.

-- Each member's own level for the room: what reaches them when they are not looking (Web Push,
-- and in the web UI the in-page notification and the tab-title count). It changes no unread count.
ALTER TABLE room_members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all'
    CHECK (notify IN ('all', 'mentions', 'none'));

-- One row per browser (a PushSubscription): where its push service accepts messages and the
-- keys they are encrypted to. The endpoint is unique: a browser that subscribes again (or for
-- another account, after a log out and in) replaces the row. At most --push-subscriptions-per-user
-- per account: the oldest go when a new one comes (the use case trims them).
CREATE TABLE push_subscriptions (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    endpoint   TEXT NOT NULL UNIQUE,
    p256dh     TEXT NOT NULL,                       -- base64url, the browser's P-256 public key
    auth       TEXT NOT NULL,                       -- base64url, 16 bytes of authentication secret
    created_at TEXT NOT NULL                        -- RFC 3339 UTC
);
CREATE INDEX push_subscriptions_by_user ON push_subscriptions(user_id, id);

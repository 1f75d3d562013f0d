-- The client addresses that logged into each account.
-- Applied once on top of the earlier migrations; later changes are new migrations.

-- Once an account's failed logins reach --login-fail-account-rate, only addresses that logged
-- into it successfully in the last 30 days may still try: the owner's usual devices. Kept here,
-- not in memory, so that a restart does not forget them and lock the owner out with the rest.
-- At most the 20 newest per account are kept (older and expired ones are dropped when one is
-- added), and a row is rewritten at most once a day per address, so logging in stays cheap.
CREATE TABLE known_addresses (
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    address       TEXT NOT NULL,                    -- the client address, as text
    last_login_at TEXT NOT NULL,                    -- RFC 3339 UTC, so text order is time order
    PRIMARY KEY (user_id, address)
) WITHOUT ROWID;

//! The client addresses that logged into each account, and when they last did.
//!
//! The login bounds (`usecase::sessions`) let an account's usual addresses through once
//! strangers' failures have closed it to everyone else. Kept in the database so that a restart
//! does not forget them: in memory, a restart followed by 110 wrong passwords from 11 addresses
//! locked the owner's own address out for 15 minutes. Bounded per account on every insert, so
//! an account that logs in from everywhere holds a handful of rows, not one per address ever.

use rusqlite::{Connection, OptionalExtension, params};

use super::DbError;

/// When `address` last logged into `user_id`, if it ever did and is still kept.
pub fn last_login(conn: &Connection, user_id: i64, address: &str) -> Result<Option<String>, DbError> {
    Ok(conn
        .prepare_cached("SELECT last_login_at FROM known_addresses WHERE user_id = ?1 AND address = ?2")?
        .query_row(params![user_id, address], |r| r.get(0))
        .optional()?)
}

/// Record that `address` logged into `user_id` at `at`; then keep only the account's `keep`
/// newest addresses among those that logged in at `forget_before` or later.
pub fn remember(
    conn: &Connection,
    user_id: i64,
    address: &str,
    at: &str,
    forget_before: &str,
    keep: usize,
) -> Result<(), DbError> {
    conn.prepare_cached(
        "INSERT INTO known_addresses (user_id, address, last_login_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, address) DO UPDATE SET last_login_at = excluded.last_login_at",
    )?
    .execute(params![user_id, address, at])?;
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "DELETE FROM known_addresses WHERE user_id = ?1 AND (last_login_at < ?2 OR address NOT IN (
             SELECT address FROM known_addresses WHERE user_id = ?1
             ORDER BY last_login_at DESC, address LIMIT ?3))",
    )?
    .execute(params![user_id, forget_before, keep])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::db::users::{self, NewUser};

    fn database() -> (Connection, i64) {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("PRAGMA foreign_keys = ON;").unwrap();
        crate::storage::db::migrate::run(&conn).unwrap();
        let new = NewUser {
            username: "carol",
            email: "carol@example.com",
            full_name: None,
            password_hash: "x",
            admin: false,
        };
        let id = users::insert(&conn, &new).unwrap().id;
        (conn, id)
    }

    fn kept(conn: &Connection, user_id: i64) -> Vec<String> {
        let mut stmt = conn.prepare("SELECT address FROM known_addresses WHERE user_id = ?1 ORDER BY address").unwrap();
        stmt.query_map([user_id], |r| r.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
    }

    #[test]
    fn an_account_keeps_its_newest_addresses_and_forgets_expired_ones() {
        let (conn, carol) = database();
        for n in 0..25 {
            let at = format!("2026-12-01T10:00:{n:02}.000Z");
            remember(&conn, carol, &format!("10.0.0.{n:02}"), &at, "2026-11-01T00:00:00.000Z", 20).unwrap();
        }
        let addresses = kept(&conn, carol);
        assert_eq!(addresses.len(), 20, "{addresses:?}");
        assert_eq!(addresses.first().map(String::as_str), Some("10.0.0.05"), "the five oldest went: {addresses:?}");
        assert_eq!(last_login(&conn, carol, "10.0.0.24").unwrap().as_deref(), Some("2026-12-01T10:00:24.000Z"));
        assert_eq!(last_login(&conn, carol, "10.0.0.00").unwrap(), None);

        // A login again refreshes its row; a month later everything older than 30 days goes.
        remember(&conn, carol, "10.0.0.07", "2026-12-31T10:00:00.000Z", "2026-12-01T10:00:10.000Z", 20).unwrap();
        let addresses = kept(&conn, carol);
        assert_eq!(addresses.len(), 16, "07 and 10 to 24: {addresses:?}");
        assert!(addresses.contains(&"10.0.0.07".to_string()), "{addresses:?}");
        assert!(!addresses.contains(&"10.0.0.08".to_string()), "{addresses:?}");
    }

    #[test]
    fn deleting_an_account_deletes_its_addresses() {
        let (conn, carol) = database();
        remember(&conn, carol, "10.0.0.1", "2026-12-01T10:00:00.000Z", "2026-11-01T00:00:00.000Z", 20).unwrap();
        conn.execute("DELETE FROM users WHERE id = ?1", [carol]).unwrap();
        assert!(kept(&conn, carol).is_empty());
    }
}

//! Web Push subscriptions: where each browser of an account takes push messages.

use rusqlite::{Connection, params};

use super::DbError;

/// A stored subscription: the push service's URL and the keys the message is encrypted to
/// (base64url, as the browser gave them).
#[derive(Debug, Clone)]
pub struct SubscriptionRecord {
    pub id: i64,
    pub user_id: i64,
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Store a subscription of `user_id`, or replace the keys and owner of the one with the same
/// endpoint (the browser subscribed again, maybe after someone else logged in on it). Then keep
/// only the account's `keep` newest. True when the endpoint was new.
pub fn upsert(
    conn: &Connection,
    user_id: i64,
    endpoint: &str,
    p256dh: &str,
    auth: &str,
    at: &str,
    keep: usize,
) -> Result<bool, DbError> {
    let existed = conn.prepare_cached("SELECT 1 FROM push_subscriptions WHERE endpoint = ?1")?.exists([endpoint])?;
    conn.prepare_cached(
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (endpoint) DO UPDATE SET user_id = excluded.user_id, p256dh = excluded.p256dh,
                                              auth = excluded.auth",
    )?
    .execute(params![user_id, endpoint, p256dh, auth, at])?;
    let keep = i64::try_from(keep).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "DELETE FROM push_subscriptions WHERE user_id = ?1 AND id NOT IN (
             SELECT id FROM push_subscriptions WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)",
    )?
    .execute(params![user_id, keep])?;
    Ok(!existed)
}

/// Forget `user_id`'s subscription at `endpoint` (someone else's is left alone).
pub fn remove(conn: &Connection, user_id: i64, endpoint: &str) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM push_subscriptions WHERE user_id = ?1 AND endpoint = ?2")?
        .execute(params![user_id, endpoint])?;
    Ok(())
}

/// Forget the subscription `id`: its push service said it is gone (404 or 410).
pub fn remove_gone(conn: &Connection, id: i64) -> Result<(), DbError> {
    conn.prepare_cached("DELETE FROM push_subscriptions WHERE id = ?1")?.execute([id])?;
    Ok(())
}

/// Every subscription of the users in `user_ids`.
pub fn of_users(conn: &Connection, user_ids: &[i64]) -> Result<Vec<SubscriptionRecord>, DbError> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, user_id, endpoint, p256dh, auth FROM push_subscriptions WHERE user_id = ?1 ORDER BY id",
    )?;
    let mut found = Vec::new();
    for &user_id in user_ids {
        let rows = stmt.query_map([user_id], |r| {
            Ok(SubscriptionRecord {
                id: r.get(0)?,
                user_id: r.get(1)?,
                endpoint: r.get(2)?,
                p256dh: r.get(3)?,
                auth: r.get(4)?,
            })
        })?;
        for row in rows {
            found.push(row?);
        }
    }
    Ok(found)
}

/// How many subscriptions are stored (`natter_push_subscriptions`).
pub fn count(conn: &Connection) -> Result<i64, DbError> {
    Ok(conn.prepare_cached("SELECT count(*) FROM push_subscriptions")?.query_row([], |r| r.get(0))?)
}

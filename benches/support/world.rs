//! Accounts, rooms and tokens made offline, straight through the storage engine (tokens signed
//! with the data folder's secret), so that setting up thousands of users costs no server work.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use natter::storage::db::users::{self, NewUser};
use natter::storage::db::{Db, DbError, DbOptions, rooms};

/// The password of every account [`make_world`] creates.
pub const PASSWORD: &str = "password123";

/// Users and rooms made offline; `tokens[i]` is user i's access token.
pub struct World {
    pub tokens: Vec<String>,
    pub rooms: Vec<i64>,
}

/// `users` accounts and one group room per entry of `rooms` (member indexes), owned by its first
/// member. All through the storage engine, with one shared password hash.
pub fn make_world(data: &Path, users: usize, rooms: &[Vec<usize>]) -> World {
    std::fs::create_dir_all(data).expect("data dir");
    let db = Db::open(&data.join("natter.db"), DbOptions::default()).expect("open db");
    let hash = natter::usecase::password::hash_blocking(PASSWORD).expect("hash");
    let user_records = db
        .write_blocking(move |conn| {
            (0..users)
                .map(|i| {
                    let (name, email) = (format!("user{i}"), format!("user{i}@example.com"));
                    users::insert(
                        conn,
                        &NewUser {
                            username: &name,
                            email: &email,
                            full_name: None,
                            password_hash: &hash,
                            admin: false,
                        },
                    )
                })
                .collect::<Result<Vec<_>, DbError>>()
        })
        .expect("users");
    let ids: Vec<i64> = user_records.iter().map(|u| u.id).collect();
    let mut room_ids = Vec::new();
    for (n, members) in rooms.iter().enumerate() {
        let member_ids: Vec<i64> = members.iter().map(|&m| ids[m]).collect();
        let room = db
            .write_blocking(move |conn| {
                let name = format!("room {n}");
                let group =
                    rooms::NewGroup { name: &name, topic: None, visibility: natter::model::Visibility::Private };
                rooms::create_group(conn, &group, Some(member_ids[0]), &member_ids)
            })
            .expect("room");
        room_ids.push(room);
    }
    db.shutdown_blocking();
    let secret = natter::usecase::auth::load_or_create_secret(&data.join("jwt-secret")).expect("secret");
    let auth = natter::usecase::auth::Auth::new(&secret, Duration::from_secs(3600), 1, usize::MAX).expect("auth");
    let tokens = user_records.iter().map(|u| auth.issue_token(u).expect("token").access_token).collect();
    World { tokens, rooms: room_ids }
}

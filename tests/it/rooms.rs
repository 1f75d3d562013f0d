//! SPEC §3 "Chats" over real HTTP: group rooms and their members, private chats, messages,
//! history windows, edits, deletes, read markers and unread counts, and the rules every
//! `{room_id}` endpoint shares (outsiders get 404, no token gets 401, trailing slashes).

use std::collections::HashSet;

use futures_util::future::join_all;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{
    Account, account, array, create_room, get_room, history, id_of, ids, mark_read, post_message,
};
use crate::common::spec::{assert_message, assert_private_chat, assert_room, keys, set};
use crate::common::{TestServer, assert_error, read_json};

// ---- small helpers ----

/// These tests are about the rooms people make and the lists they see: the first room (which
/// every account joins, see `tests/open_rooms.rs`) is off, so each test sees only what it made.
async fn spawn() -> TestServer {
    common::spawn_without_first_room().await
}

async fn list_rooms(server: &TestServer, user: &Account) -> Vec<Value> {
    let (status, body) = server.get("/chat/chat_rooms/", user.tok()).await;
    assert_eq!(status, StatusCode::OK, "list rooms of {}: {body}", user.name);
    let rooms = array(&body);
    for room in &rooms {
        assert_room(room);
        assert_eq!(room["is_private"], json!(false), "private chat in the group room list: {room}");
    }
    rooms
}

async fn list_private_chats(server: &TestServer, user: &Account) -> Vec<Value> {
    let (status, body) = server.get("/chat/private_chats/", user.tok()).await;
    assert_eq!(status, StatusCode::OK, "list private chats of {}: {body}", user.name);
    let chats = array(&body);
    for chat in &chats {
        assert_private_chat(chat);
    }
    chats
}

async fn open_private(server: &TestServer, caller: &Account, peer: &str) -> (StatusCode, Value) {
    server.post("/chat/private_chats/", caller.tok(), &json!({ "username": peer })).await
}

/// The unread count `user` sees for `room` in their group room list.
async fn unread_in_list(server: &TestServer, user: &Account, room: i64) -> i64 {
    let rooms = list_rooms(server, user).await;
    let entry = rooms.iter().find(|r| id_of(r) == room).unwrap_or_else(|| panic!("room {room} not listed: {rooms:?}"));
    entry["unread_count"].as_i64().expect("unread_count is an integer")
}

/// The unread count `user` sees for private chat `room` in their private chat list.
async fn unread_in_private_list(server: &TestServer, user: &Account, room: i64) -> i64 {
    let chats = list_private_chats(server, user).await;
    let entry = chats.iter().find(|c| id_of(c) == room).unwrap_or_else(|| panic!("chat {room} not listed: {chats:?}"));
    entry["unread_count"].as_i64().expect("unread_count is an integer")
}

/// A request with a raw body sent as `application/json`.
async fn send_raw(
    server: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value) {
    let response = server
        .request(method, path, token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("send the request");
    read_json(response).await
}

/// A 422 `validation_error` whose `fields` names `field`.
#[track_caller]
fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_error(status, body, 422, "validation_error");
    assert!(body["fields"][field].is_string(), "422 should name the field {field:?} in `fields`: {body}");
}

/// `(user id, role)` of each member, in the server's order.
fn roles(room: &Value) -> Vec<(i64, String)> {
    room["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| (id_of(m), m["role"].as_str().expect("role").to_string()))
        .collect()
}

fn member_ids(room: &Value) -> HashSet<i64> {
    roles(room).into_iter().map(|(id, _)| id).collect()
}

fn role_of(room: &Value, user: &Account) -> Option<String> {
    roles(room).into_iter().find(|(id, _)| *id == user.id).map(|(_, role)| role)
}

// ---- group rooms ----

#[tokio::test]
async fn create_group_room_returns_room_with_creator_as_owner() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;

    let (status, room) =
        server.post("/chat/chat_rooms/", alice.tok(), &json!({ "name": "General", "members": ["bob", "carol"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    assert_room(&room);
    assert_eq!(room["name"], json!("General"));
    assert_eq!(room["is_private"], json!(false));
    assert_eq!(room["owner_id"], json!(alice.id));
    assert_eq!(room["last_message"], Value::Null);
    assert_eq!(room["unread_count"], json!(0));
    let mut got = roles(&room);
    got.sort();
    let mut want =
        vec![(alice.id, "owner".to_string()), (bob.id, "member".to_string()), (carol.id, "member".to_string())];
    want.sort();
    assert_eq!(got, want, "creator is owner and member, the others members: {room}");
    for member in room["members"].as_array().unwrap() {
        assert_eq!(member["online"], json!(false), "nobody has a socket open: {member}");
    }
    let names: HashSet<&str> =
        room["members"].as_array().unwrap().iter().filter_map(|m| m["username"].as_str()).collect();
    assert_eq!(names, HashSet::from(["alice", "bob", "carol"]));

    // Listing the creator among the members, or a name twice, does not duplicate anyone.
    let room2 = create_room(&server, &alice, "Dups", &["alice", "bob", "bob"]).await;
    let mut got = roles(&room2);
    got.sort();
    let mut want = vec![(alice.id, "owner".to_string()), (bob.id, "member".to_string())];
    want.sort();
    assert_eq!(got, want, "{room2}");

    // A room with no other members at all.
    let solo = create_room(&server, &alice, "Solo", &[]).await;
    assert_eq!(roles(&solo), vec![(alice.id, "owner".to_string())]);

    // What the creator sees afterwards is the same room.
    let fetched = get_room(&server, &alice, id_of(&room)).await;
    assert_eq!(fetched["id"], room["id"]);
    assert_eq!(fetched["name"], room["name"]);
    assert_eq!(fetched["created_at"], room["created_at"]);
    assert_eq!(fetched["owner_id"], room["owner_id"]);
}

#[tokio::test]
async fn create_room_validates_the_name() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;

    for name in ["", " ", "   \t\n "] {
        let (status, body) =
            server.post("/chat/chat_rooms/", alice.tok(), &json!({ "name": name, "members": [] })).await;
        assert_invalid(status, &body, "name");
    }
    let long = "x".repeat(101);
    let (status, body) = server.post("/chat/chat_rooms/", alice.tok(), &json!({ "name": long, "members": [] })).await;
    assert_invalid(status, &body, "name");
    // Characters, not bytes: 101 two-byte characters are too many as well.
    let (status, body) =
        server.post("/chat/chat_rooms/", alice.tok(), &json!({ "name": "é".repeat(101), "members": [] })).await;
    assert_invalid(status, &body, "name");
    let (status, body) = server.post("/chat/chat_rooms/", alice.tok(), &json!({ "members": [] })).await;
    assert_invalid(status, &body, "name");
    assert!(list_rooms(&server, &alice).await.is_empty(), "no room was created by the failures");

    let exact = "y".repeat(100);
    let room = create_room(&server, &alice, &exact, &[]).await;
    assert_eq!(room["name"], json!(exact));
    let wide = "é".repeat(100);
    let room = create_room(&server, &alice, &wide, &[]).await;
    assert_eq!(room["name"], json!(wide));
    assert_eq!(list_rooms(&server, &alice).await.len(), 2);
}

#[tokio::test]
async fn create_room_with_unknown_usernames_is_422_listing_them() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let _bob = account(&server, "bob").await;

    let (status, body) = server
        .post(
            "/chat/chat_rooms/",
            alice.tok(),
            &json!({ "name": "Team", "members": ["bob", "ghost_one", "ghost.two"] }),
        )
        .await;
    assert_invalid(status, &body, "members");
    let problem = body["fields"]["members"].as_str().unwrap();
    assert!(problem.contains("ghost_one"), "fields.members lists ghost_one: {body}");
    assert!(problem.contains("ghost.two"), "fields.members lists ghost.two: {body}");
    assert!(!problem.contains("bob"), "fields.members lists only the unknown names: {body}");
    assert!(list_rooms(&server, &alice).await.is_empty(), "nothing is created when a name is unknown");
}

#[tokio::test]
async fn list_rooms_shows_only_the_callers_rooms_most_recent_activity_first() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;

    assert!(list_rooms(&server, &alice).await.is_empty());
    let older = create_room(&server, &alice, "Older", &["bob"]).await;
    let newer = create_room(&server, &alice, "Newer", &[]).await;
    let carols = create_room(&server, &carol, "Carol's", &[]).await;
    let (older, newer, carols) = (id_of(&older), id_of(&newer), id_of(&carols));

    assert_eq!(ids(&list_rooms(&server, &alice).await), vec![newer, older], "newest first");
    assert_eq!(ids(&list_rooms(&server, &bob).await), vec![older], "only bob's rooms");
    assert_eq!(ids(&list_rooms(&server, &carol).await), vec![carols], "only carol's rooms");

    // A message in the older room moves it to the top.
    let message = post_message(&server, &bob, older, "bump").await;
    let rooms = list_rooms(&server, &alice).await;
    assert_eq!(ids(&rooms), vec![older, newer], "the room with the latest message comes first");
    assert_eq!(rooms[0]["last_message"]["id"], message["id"], "last_message is the newest message");
    assert_eq!(rooms[1]["last_message"], Value::Null);

    // And back again.
    post_message(&server, &alice, newer, "bump back").await;
    assert_eq!(ids(&list_rooms(&server, &alice).await), vec![newer, older]);

    // Private chats are not group rooms.
    let (status, _) = open_private(&server, &alice, "bob").await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(ids(&list_rooms(&server, &alice).await), vec![newer, older]);
}

#[tokio::test]
async fn room_detail_for_a_member() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room = create_room(&server, &alice, "Detail", &["bob"]).await;
    let room_id = id_of(&room);

    let seen_by_bob = get_room(&server, &bob, room_id).await;
    assert_eq!(seen_by_bob["id"], json!(room_id));
    assert_eq!(seen_by_bob["name"], json!("Detail"));
    assert_eq!(seen_by_bob["owner_id"], json!(alice.id));
    assert_eq!(member_ids(&seen_by_bob), HashSet::from([alice.id, bob.id]));
    assert_eq!(seen_by_bob["last_message"], Value::Null);

    let message = post_message(&server, &alice, room_id, "hello").await;
    let seen_by_bob = get_room(&server, &bob, room_id).await;
    assert_eq!(seen_by_bob["last_message"], message, "last_message is the posted Message");
    assert_eq!(seen_by_bob["unread_count"], json!(1));
    assert_eq!(get_room(&server, &alice, room_id).await["unread_count"], json!(0), "own messages never count");
}

#[tokio::test]
async fn only_the_owner_adds_members() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let dave = account(&server, "dave").await;
    let room_id = id_of(&create_room(&server, &alice, "Club", &["bob"]).await);
    let members_path = format!("/chat/chat_rooms/{room_id}/members");

    // A member who is not the owner may not add anyone.
    let (status, body) = server.post(&members_path, bob.tok(), &json!({ "username": "carol" })).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server.get(&format!("/chat/chat_rooms/{room_id}"), carol.tok()).await;
    assert_error(status, &body, 404, "not_found");

    // An unknown username.
    let (status, body) = server.post(&members_path, alice.tok(), &json!({ "username": "nobody_here" })).await;
    assert_error(status, &body, 404, "not_found");
    // A missing username.
    let (status, body) = server.post(&members_path, alice.tok(), &json!({})).await;
    assert_invalid(status, &body, "username");

    // The owner adds carol: the Room comes back with her in it.
    let (status, room) = server.post(&members_path, alice.tok(), &json!({ "username": "carol" })).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    assert_room(&room);
    assert_eq!(id_of(&room), room_id);
    assert_eq!(member_ids(&room), HashSet::from([alice.id, bob.id, carol.id]));
    assert_eq!(role_of(&room, &carol).as_deref(), Some("member"));
    assert_eq!(role_of(&room, &alice).as_deref(), Some("owner"));

    // Carol now sees the room, in her list too; dave still does not.
    get_room(&server, &carol, room_id).await;
    assert_eq!(ids(&list_rooms(&server, &carol).await), vec![room_id]);
    assert!(list_rooms(&server, &dave).await.is_empty());

    // Adding a current member again changes nothing.
    let (status, room) = server.post(&members_path, alice.tok(), &json!({ "username": "carol" })).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    assert_eq!(room["members"].as_array().unwrap().len(), 3, "no duplicate member: {room}");
}

#[tokio::test]
async fn owner_removes_a_member_who_then_gets_404() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let room_id = id_of(&create_room(&server, &alice, "Club", &["bob", "carol"]).await);
    post_message(&server, &alice, room_id, "before the removal").await;

    let (status, body) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", bob.id), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null);

    for path in [format!("/chat/chat_rooms/{room_id}"), format!("/chat/chat_rooms/{room_id}/messages")] {
        let (status, body) = server.get(&path, bob.tok()).await;
        assert_error(status, &body, 404, "not_found");
    }
    let (status, body) =
        server.post(&format!("/chat/chat_rooms/{room_id}/messages"), bob.tok(), &json!({ "content": "hi?" })).await;
    assert_error(status, &body, 404, "not_found");
    assert!(list_rooms(&server, &bob).await.is_empty(), "the room left bob's list");
    let room = get_room(&server, &alice, room_id).await;
    assert_eq!(member_ids(&room), HashSet::from([alice.id, carol.id]));

    // Removing someone who is not (or no longer) a member.
    let (status, body) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", bob.id), alice.tok()).await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn a_member_may_leave_but_not_remove_others() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let room_id = id_of(&create_room(&server, &alice, "Club", &["bob", "carol"]).await);

    for target in [&carol, &alice] {
        let (status, body) =
            server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", target.id), bob.tok()).await;
        assert_error(status, &body, 403, "forbidden");
    }
    assert_eq!(member_ids(&get_room(&server, &alice, room_id).await), HashSet::from([alice.id, bob.id, carol.id]));

    // Bob leaves.
    let (status, body) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", bob.id), bob.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, body) = server.get(&format!("/chat/chat_rooms/{room_id}"), bob.tok()).await;
    assert_error(status, &body, 404, "not_found");
    let room = get_room(&server, &carol, room_id).await;
    assert_eq!(member_ids(&room), HashSet::from([alice.id, carol.id]));
    assert_eq!(room["owner_id"], json!(alice.id), "a member leaving does not change the owner");
}

#[tokio::test]
async fn owner_leaving_passes_ownership_to_the_longest_standing_member() {
    let server = spawn().await;
    // Sign-up order and names differ from join order, so neither the lowest id nor the first
    // name can pass for the longest-standing member.
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let dave = account(&server, "dave").await;
    let room_id = id_of(&create_room(&server, &alice, "Relay", &["dave"]).await);
    for name in ["carol", "bob"] {
        let (status, body) = server
            .post(&format!("/chat/chat_rooms/{room_id}/members"), alice.tok(), &json!({ "username": name }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // Join order: alice (owner), dave, carol, bob.

    let (status, body) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", alice.id), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let room = get_room(&server, &bob, room_id).await;
    assert_eq!(room["owner_id"], json!(dave.id), "dave joined first after alice: {room}");
    assert_eq!(member_ids(&room), HashSet::from([bob.id, carol.id, dave.id]));
    assert_eq!(role_of(&room, &dave).as_deref(), Some("owner"));
    assert_eq!(role_of(&room, &carol).as_deref(), Some("member"));
    assert_eq!(role_of(&room, &bob).as_deref(), Some("member"));
    let (status, body) = server.get(&format!("/chat/chat_rooms/{room_id}"), alice.tok()).await;
    assert_error(status, &body, 404, "not_found");

    // The new owner has the owner's powers; the old one has none.
    let (status, body) =
        server.post(&format!("/chat/chat_rooms/{room_id}/members"), dave.tok(), &json!({ "username": "alice" })).await;
    assert_eq!(status, StatusCode::OK, "the new owner adds members: {body}");
    assert_eq!(role_of(&body, &alice).as_deref(), Some("member"), "a returning owner is a plain member: {body}");
    let (status, body) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", bob.id), alice.tok()).await;
    assert_error(status, &body, 403, "forbidden");

    // Dave leaves too: carol (next in join order) owns it, not alice (who rejoined last).
    let (status, body) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", dave.id), dave.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let room = get_room(&server, &alice, room_id).await;
    assert_eq!(room["owner_id"], json!(carol.id), "{room}");
    let owners: Vec<i64> = roles(&room).into_iter().filter(|(_, r)| r == "owner").map(|(id, _)| id).collect();
    assert_eq!(owners, vec![carol.id], "exactly one owner: {room}");
}

#[tokio::test]
async fn a_room_left_by_its_last_member_is_deleted() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Ephemeral", &["bob"]).await);
    let message = post_message(&server, &bob, room_id, "soon gone").await;

    let (status, _) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", bob.id), bob.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = server.delete(&format!("/chat/chat_rooms/{room_id}/members/{}", alice.id), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    for user in [&alice, &bob] {
        let (status, body) = server.get(&format!("/chat/chat_rooms/{room_id}"), user.tok()).await;
        assert_error(status, &body, 404, "not_found");
        assert!(list_rooms(&server, user).await.is_empty(), "no list holds the deleted room");
    }
    // The room and its messages are gone from the database, not merely hidden.
    let record: Result<_, natter::storage::db::DbError> =
        server.db.read(move |conn| natter::storage::db::rooms::get(conn, room_id)).await;
    assert!(record.expect("read the room").is_none(), "the room row is deleted");
    let message_id = id_of(&message);
    let stored: Result<_, natter::storage::db::DbError> =
        server.db.read(move |conn| natter::storage::db::messages::get(conn, message_id)).await;
    assert!(stored.expect("read the message").is_none(), "its messages went with it");
    // And nobody can re-add anyone to it.
    let (status, body) =
        server.post(&format!("/chat/chat_rooms/{room_id}/members"), alice.tok(), &json!({ "username": "bob" })).await;
    assert_error(status, &body, 404, "not_found");
}

// ---- private chats ----

#[tokio::test]
async fn private_chat_is_created_once_and_found_from_either_side() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;

    let (status, chat) = open_private(&server, &alice, "bob").await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    assert_private_chat(&chat);
    assert_eq!(
        keys(&chat),
        set(&["id", "is_private", "peer", "last_message", "unread_count", "unread_mentions"]),
        "{chat}"
    );
    assert_eq!(chat["peer"]["id"], json!(bob.id));
    assert_eq!(chat["peer"]["username"], json!("bob"));
    assert_eq!(chat["last_message"], Value::Null);
    assert_eq!(chat["unread_count"], json!(0));
    let chat_id = id_of(&chat);

    let (status, again) = open_private(&server, &alice, "bob").await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(id_of(&again), chat_id);

    let (status, from_bob) = open_private(&server, &bob, "alice").await;
    assert_eq!(status, StatusCode::OK, "{from_bob}");
    assert_private_chat(&from_bob);
    assert_eq!(id_of(&from_bob), chat_id, "one private chat per pair");
    assert_eq!(from_bob["peer"]["id"], json!(alice.id), "bob's peer is alice");

    // The existing chat comes back with its state.
    let message = post_message(&server, &bob, chat_id, "hi alice").await;
    let (status, again) = open_private(&server, &alice, "bob").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["last_message"], message);
    assert_eq!(again["unread_count"], json!(1));

    assert_eq!(ids(&list_private_chats(&server, &alice).await), vec![chat_id]);
    assert_eq!(ids(&list_private_chats(&server, &bob).await), vec![chat_id]);
}

#[tokio::test]
async fn private_chat_with_an_unknown_or_invalid_username() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;

    let (status, body) = open_private(&server, &alice, "nobody_here").await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.post("/chat/private_chats/", alice.tok(), &json!({})).await;
    assert_invalid(status, &body, "username");
    // With oneself: the server answers 422 (documented choice).
    let (status, body) = open_private(&server, &alice, "alice").await;
    assert_invalid(status, &body, "username");
    assert!(list_private_chats(&server, &alice).await.is_empty());
}

#[tokio::test]
async fn private_chats_are_listed_most_recent_activity_first() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let _carol = account(&server, "carol").await;
    let dave = account(&server, "dave").await;

    assert!(list_private_chats(&server, &alice).await.is_empty());
    let (_, with_bob) = open_private(&server, &alice, "bob").await;
    let (_, with_carol) = open_private(&server, &alice, "carol").await;
    let (with_bob, with_carol) = (id_of(&with_bob), id_of(&with_carol));

    let chats = list_private_chats(&server, &alice).await;
    assert_eq!(ids(&chats), vec![with_carol, with_bob]);
    assert_eq!(chats[0]["peer"]["username"], json!("carol"));
    assert_eq!(chats[1]["peer"]["username"], json!("bob"));

    let message = post_message(&server, &bob, with_bob, "ping").await;
    let chats = list_private_chats(&server, &alice).await;
    assert_eq!(ids(&chats), vec![with_bob, with_carol], "the chat with the latest message first");
    assert_eq!(chats[0]["last_message"], message);

    assert_eq!(ids(&list_private_chats(&server, &bob).await), vec![with_bob], "only bob's chats");
    assert!(list_private_chats(&server, &dave).await.is_empty());
    assert!(list_rooms(&server, &alice).await.is_empty(), "private chats are not group rooms");
}

#[tokio::test]
async fn private_chat_as_a_room_has_no_name_and_a_peer() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let (_, chat) = open_private(&server, &alice, "bob").await;
    let chat_id = id_of(&chat);

    let room = get_room(&server, &alice, chat_id).await;
    assert_eq!(room["is_private"], json!(true));
    assert_eq!(room["name"], Value::Null);
    assert_eq!(room["peer"]["id"], json!(bob.id));
    assert_eq!(room["peer"]["username"], json!("bob"));
    assert_eq!(member_ids(&room), HashSet::from([alice.id, bob.id]));

    let room = get_room(&server, &bob, chat_id).await;
    assert_eq!(room["peer"]["id"], json!(alice.id));
    assert_eq!(room["name"], Value::Null);
}

#[tokio::test]
async fn private_chat_members_cannot_be_added_or_removed() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let _carol = account(&server, "carol").await;
    let (_, chat) = open_private(&server, &alice, "bob").await;
    let chat_id = id_of(&chat);

    let (status, body) =
        server.post(&format!("/chat/chat_rooms/{chat_id}/members"), alice.tok(), &json!({ "username": "carol" })).await;
    assert_error(status, &body, 403, "forbidden");
    for (caller, target) in [(&alice, &bob), (&alice, &alice), (&bob, &bob), (&bob, &alice)] {
        let (status, body) =
            server.delete(&format!("/chat/chat_rooms/{chat_id}/members/{}", target.id), caller.tok()).await;
        assert_error(status, &body, 403, "forbidden");
    }
    let room = get_room(&server, &alice, chat_id).await;
    assert_eq!(member_ids(&room), HashSet::from([alice.id, bob.id]), "still exactly the two: {room}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_private_chat_creation_yields_one_room() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;

    let requests = (0..20).map(|i| {
        let (caller, peer) = if i % 2 == 0 { (&alice, "bob") } else { (&bob, "alice") };
        let server = &server;
        async move { open_private(server, caller, peer).await }
    });
    let answers = join_all(requests).await;
    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    let existing = answers.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    assert_eq!((created, existing), (1, 19), "exactly one 201, the rest 200: {answers:?}");
    let room_ids: HashSet<i64> = answers.iter().map(|(_, chat)| id_of(chat)).collect();
    assert_eq!(room_ids.len(), 1, "one room id for everyone: {room_ids:?}");
    let chat_id = *room_ids.iter().next().unwrap();
    assert_eq!(ids(&list_private_chats(&server, &alice).await), vec![chat_id]);
    assert_eq!(ids(&list_private_chats(&server, &bob).await), vec![chat_id]);
}

// ---- messages ----

#[tokio::test]
async fn post_message_returns_a_message_sent_by_the_caller() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Talk", &["bob"]).await);

    // Older clients send `sender` and `timestamp`: ignored, the server sets both.
    let (status, message) = server
        .post(
            &format!("/chat/chat_rooms/{room_id}/messages"),
            bob.tok(),
            &json!({
                "content": "hello",
                "client_id": "c-1",
                "sender": "alice",
                "timestamp": "1999-01-01T00:00:00.000Z",
                "something_else": {"nested": true},
            }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    assert_message(&message);
    assert_eq!(message["room_id"], json!(room_id));
    assert_eq!(message["sender"]["id"], json!(bob.id), "the sender is the caller, whatever the body says");
    assert_eq!(message["sender"]["username"], json!("bob"));
    assert!(message["sender"].get("online").is_none(), "sender has no `online`: {message}");
    assert_eq!(message["content"], json!("hello"));
    assert_eq!(message["attachment"], Value::Null);
    assert_eq!(message["client_id"], json!("c-1"));
    assert_eq!(message["edited_at"], Value::Null);
    let created_at = common::parse_time(message["created_at"].as_str().unwrap());
    assert!(created_at.year() >= 2024, "created_at is the server's clock, not the client's timestamp: {message}");
    assert!((time::OffsetDateTime::now_utc() - created_at).whole_minutes().abs() < 5, "created_at is now: {message}");

    // Without a client_id.
    let plain = post_message(&server, &alice, room_id, "no key").await;
    assert_eq!(plain["client_id"], Value::Null);
    assert!(id_of(&plain) > id_of(&message), "ids grow");

    // History holds both, exactly as returned.
    let page = history(&server, &alice, room_id, "").await;
    assert_eq!(page, vec![message, plain]);
}

#[tokio::test]
async fn content_is_validated_on_its_trimmed_length() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Lengths", &[]).await);
    let path = format!("/chat/chat_rooms/{room_id}/messages");

    for content in ["", " ", "\n\t  \r\n"] {
        let (status, body) = server.post(&path, alice.tok(), &json!({ "content": content })).await;
        assert_invalid(status, &body, "content");
    }
    let (status, body) = server.post(&path, alice.tok(), &json!({ "content": "a".repeat(4001) })).await;
    assert_invalid(status, &body, "content");
    let (status, body) = server.post(&path, alice.tok(), &json!({ "content": "😀".repeat(4001) })).await;
    assert_invalid(status, &body, "content");
    let (status, body) = server.post(&path, alice.tok(), &json!({ "client_id": "x" })).await;
    assert_invalid(status, &body, "content");
    let (status, body) = server.post(&path, alice.tok(), &json!({ "content": 42 })).await;
    assert_invalid(status, &body, "content");
    assert!(history(&server, &alice, room_id, "").await.is_empty(), "nothing stored by the failures");

    // 4000 characters after trimming is fine, surrounding whitespace included and kept.
    let padded = format!("  \n{}\t ", "a".repeat(4000));
    let message = post_message(&server, &alice, room_id, &padded).await;
    assert_eq!(message["content"], json!(padded));
    // Characters, not bytes: 4000 four-byte emoji are 4000 characters.
    let emoji = "😀".repeat(4000);
    let message = post_message(&server, &alice, room_id, &emoji).await;
    assert_eq!(message["content"], json!(emoji));
    assert_eq!(history(&server, &alice, room_id, "").await.len(), 2);
}

#[tokio::test]
async fn malformed_json_is_400_invalid_json() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Json", &[]).await);

    for body in ["{\"content\": \"unterminated", "not json at all", "{\"content\": \"x\",}"] {
        let (status, answer) =
            send_raw(&server, Method::POST, &format!("/chat/chat_rooms/{room_id}/messages"), alice.tok(), body).await;
        assert_error(status, &answer, 400, "invalid_json");
    }
    let (status, answer) = send_raw(&server, Method::POST, "/chat/chat_rooms/", alice.tok(), "{name:").await;
    assert_error(status, &answer, 400, "invalid_json");
    assert!(history(&server, &alice, room_id, "").await.is_empty());
}

#[tokio::test]
async fn content_is_stored_and_returned_byte_exact() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Exact", &["bob"]).await);

    let samples = [
        "   leading and trailing whitespace \t\n",
        "\n\nline one\r\nline two\n\n",
        "emoji 👋🏽 👨‍👩‍👧‍👦 🇫🇷 and astral 𝄞",
        "RTL: שלום עולם — مرحبا بالعالم \u{202E}override\u{202C}",
        "combining: e\u{0301} a\u{0308} (not normalised to é ä) and Z̤͔ͧ̑̓ä͖̭̈̇",
        "zero width: a\u{200B}b\u{200D}c\u{FEFF}d",
        "<script>alert(1)</script>",
        "<b>bold</b> & \"quotes\" 'single' \\backslash\\ &amp; &lt;",
        "json-ish: {\"content\": \"nested\"} \u{0001}\u{001F}\u{007F}",
    ];
    let mut posted = Vec::new();
    for sample in samples {
        let message = post_message(&server, &alice, room_id, sample).await;
        assert_eq!(message["content"].as_str(), Some(sample), "POST answer is byte-exact");
        posted.push(message);
    }
    let page = history(&server, &bob, room_id, "").await;
    let contents: Vec<&str> = page.iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, samples.to_vec(), "history is byte-exact");
    assert_eq!(page, posted);

    // The raw bytes on the wire decode to the same string, and the last message agrees.
    let response = server
        .request(Method::GET, &format!("/chat/chat_rooms/{room_id}/messages"), bob.tok())
        .send()
        .await
        .expect("send");
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "JSON content type");
    let raw = response.bytes().await.unwrap();
    let parsed: Vec<Value> = serde_json::from_slice(&raw).unwrap();
    assert_eq!(parsed.last().unwrap()["content"].as_str(), samples.last().copied());
    let room = get_room(&server, &bob, room_id).await;
    assert_eq!(room["last_message"]["content"].as_str(), samples.last().copied());
}

#[tokio::test]
async fn client_id_longer_than_64_is_rejected() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Keys", &[]).await);
    let path = format!("/chat/chat_rooms/{room_id}/messages");

    let (status, body) = server.post(&path, alice.tok(), &json!({ "content": "x", "client_id": "k".repeat(65) })).await;
    assert_invalid(status, &body, "client_id");
    let (status, body) = server.post(&path, alice.tok(), &json!({ "content": "x", "client_id": "é".repeat(65) })).await;
    assert_invalid(status, &body, "client_id");
    assert!(history(&server, &alice, room_id, "").await.is_empty());

    let key = "k".repeat(64);
    let (status, body) = server.post(&path, alice.tok(), &json!({ "content": "x", "client_id": key })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["client_id"], json!(key));
}

#[tokio::test]
async fn client_id_makes_posting_idempotent_per_sender_and_room() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Retry", &["bob"]).await);
    let other_room = id_of(&create_room(&server, &alice, "Other", &[]).await);
    let path = format!("/chat/chat_rooms/{room_id}/messages");

    let (status, first) = server.post(&path, alice.tok(), &json!({ "content": "original", "client_id": "abc" })).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");

    // A retry, even with different content, gets the first message back with 200.
    let (status, again) = server.post(&path, alice.tok(), &json!({ "content": "changed", "client_id": "abc" })).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_message(&again);
    assert_eq!(again, first, "the very same message");
    assert_eq!(again["content"], json!("original"));

    // Another sender with the same key gets their own message.
    let (status, bobs) = server.post(&path, bob.tok(), &json!({ "content": "bob's", "client_id": "abc" })).await;
    assert_eq!(status, StatusCode::CREATED, "{bobs}");
    assert_ne!(id_of(&bobs), id_of(&first));
    assert_eq!(bobs["sender"]["id"], json!(bob.id));

    // The same sender with the same key in another room too.
    let (status, elsewhere) = server
        .post(
            &format!("/chat/chat_rooms/{other_room}/messages"),
            alice.tok(),
            &json!({ "content": "elsewhere", "client_id": "abc" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{elsewhere}");
    assert_ne!(id_of(&elsewhere), id_of(&first));

    let page = history(&server, &alice, room_id, "").await;
    assert_eq!(ids(&page), vec![id_of(&first), id_of(&bobs)], "the retry stored nothing");
    assert_eq!(unread_in_list(&server, &bob, room_id).await, 1, "bob has one unread message, not two");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_identical_posts_with_one_client_id_store_one_message() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Storm", &[]).await);
    let path = format!("/chat/chat_rooms/{room_id}/messages");
    let body = json!({ "content": "only once", "client_id": "storm-1" });

    let answers = join_all((0..20).map(|_| server.post(&path, alice.tok(), &body))).await;
    let created = answers.iter().filter(|(status, _)| *status == StatusCode::CREATED).count();
    let existing = answers.iter().filter(|(status, _)| *status == StatusCode::OK).count();
    assert_eq!((created, existing), (1, 19), "exactly one 201, the others 200: {answers:?}");
    let message_ids: HashSet<i64> = answers.iter().map(|(_, m)| id_of(m)).collect();
    assert_eq!(message_ids.len(), 1, "every answer is the same message: {message_ids:?}");

    let page = history(&server, &alice, room_id, "limit=200").await;
    let with_key: Vec<&Value> = page.iter().filter(|m| m["client_id"] == json!("storm-1")).collect();
    assert_eq!(with_key.len(), 1, "one stored message with that client_id: {page:?}");
    assert_eq!(page.len(), 1);
    assert!(message_ids.contains(&id_of(with_key[0])));
}

// ---- history ----

#[tokio::test]
async fn history_of_an_empty_room_is_an_empty_list() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Empty", &[]).await);
    let (status, body) = server.get(&format!("/chat/chat_rooms/{room_id}/messages"), alice.tok()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));
    assert!(history(&server, &alice, room_id, "after=0").await.is_empty());
    assert!(history(&server, &alice, room_id, "before=1000").await.is_empty());
}

#[tokio::test]
async fn history_windows_over_120_messages() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Busy", &["bob"]).await);
    // Noise in another room, so that ids of one room are not contiguous.
    let noise_room = id_of(&create_room(&server, &bob, "Noise", &[]).await);

    let mut all = Vec::new();
    for i in 0..120 {
        let sender = if i % 2 == 0 { &alice } else { &bob };
        all.push(id_of(&post_message(&server, sender, room_id, &format!("message {i}")).await));
        if i % 7 == 0 {
            post_message(&server, &bob, noise_room, "noise").await;
        }
    }

    // Default: the newest 50, oldest first.
    let page = history(&server, &bob, room_id, "").await;
    assert_eq!(ids(&page), all[70..].to_vec());
    assert_eq!(page[0]["content"], json!("message 70"));
    assert_eq!(page[49]["content"], json!("message 119"));
    assert_eq!(ids(&history(&server, &bob, room_id, "limit=200").await), all);
    assert_eq!(ids(&history(&server, &bob, room_id, "limit=1").await), vec![all[119]]);
    assert_eq!(ids(&history(&server, &bob, room_id, "limit=200&after=0").await), all);

    // Edges.
    assert!(history(&server, &bob, room_id, &format!("before={}", all[0])).await.is_empty());
    assert!(history(&server, &bob, room_id, &format!("after={}", all[119])).await.is_empty());
    assert_eq!(ids(&history(&server, &bob, room_id, &format!("before={}&limit=10", all[60])).await), all[50..60]);
    assert_eq!(ids(&history(&server, &bob, room_id, &format!("after={}&limit=10", all[60])).await), all[61..71]);
    assert_eq!(ids(&history(&server, &bob, room_id, "after=0").await), all[..50], "after=0: the oldest 50");

    // Paging back with `before` until empty visits every message once, in order.
    let mut seen: Vec<i64> = Vec::new();
    let mut sizes = Vec::new();
    let mut query = "limit=50".to_string();
    loop {
        let page = history(&server, &alice, room_id, &query).await;
        sizes.push(page.len());
        if page.is_empty() {
            break;
        }
        let mut page_ids = ids(&page);
        page_ids.append(&mut seen);
        seen = page_ids;
        query = format!("limit=50&before={}", id_of(&page[0]));
        assert!(sizes.len() < 10, "paging back does not end: {sizes:?}");
    }
    assert_eq!(sizes, vec![50, 50, 20, 0]);
    assert_eq!(seen, all, "every message exactly once, in order");

    // Paging forward with `after` from the first message visits the rest.
    let mut seen: Vec<i64> = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor = all[0];
    loop {
        let page = history(&server, &alice, room_id, &format!("after={cursor}&limit=50")).await;
        sizes.push(page.len());
        let Some(last) = page.last() else { break };
        cursor = id_of(last);
        seen.extend(ids(&page));
        assert!(sizes.len() < 10, "paging forward does not end: {sizes:?}");
    }
    assert_eq!(sizes, vec![50, 50, 19, 0]);
    assert_eq!(seen, all[1..].to_vec());

    // The other room's messages never leak in.
    let noise = history(&server, &bob, noise_room, "limit=200").await;
    assert_eq!(noise.len(), 18);
}

#[tokio::test]
async fn history_query_parameters_are_validated() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Params", &[]).await);
    let first = id_of(&post_message(&server, &alice, room_id, "one").await);
    let path = format!("/chat/chat_rooms/{room_id}/messages");

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=-5", "limit"),
        ("limit=abc", "limit"),
        ("limit=", "limit"),
        ("limit=1.5", "limit"),
        ("before=abc", "before"),
        ("before=0", "before"),
        ("before=-1", "before"),
        ("after=xyz", "after"),
        ("after=-1", "after"),
    ] {
        let (status, body) = server.get(&format!("{path}?{query}"), alice.tok()).await;
        assert_invalid(status, &body, field);
    }
    // `before` and `after` together: the oldest `limit` between them.
    let second = id_of(&post_message(&server, &alice, room_id, "two").await);
    let third = id_of(&post_message(&server, &alice, room_id, "three").await);
    let between = history(&server, &alice, room_id, &format!("after={first}&before={third}")).await;
    assert_eq!(between.iter().map(id_of).collect::<Vec<_>>(), [second]);
    let from_start = history(&server, &alice, room_id, &format!("after=0&before={third}&limit=1")).await;
    assert_eq!(from_start.iter().map(id_of).collect::<Vec<_>>(), [first]);

    assert_eq!(history(&server, &alice, room_id, "limit=200").await.len(), 3, "limit=200 is allowed");
}

#[tokio::test]
async fn deleted_messages_are_not_in_history() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Deletes", &[]).await);
    let mut all = Vec::new();
    for i in 0..6 {
        all.push(id_of(&post_message(&server, &alice, room_id, &format!("m{i}")).await));
    }
    for id in [all[1], all[3], all[5]] {
        let (status, body) = server.delete(&format!("/chat/messages/{id}"), alice.tok()).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    }
    let kept = vec![all[0], all[2], all[4]];
    assert_eq!(ids(&history(&server, &alice, room_id, "").await), kept);
    assert_eq!(ids(&history(&server, &alice, room_id, "after=0").await), kept);
    // A deleted message still works as a cursor.
    assert_eq!(ids(&history(&server, &alice, room_id, &format!("before={}", all[3])).await), vec![all[0], all[2]]);
    assert_eq!(ids(&history(&server, &alice, room_id, &format!("after={}", all[3])).await), vec![all[4]]);
    // And the room's last message is the newest one still there.
    assert_eq!(get_room(&server, &alice, room_id).await["last_message"]["id"], json!(all[4]));
}

// ---- edits and deletes ----

#[tokio::test]
async fn only_the_sender_edits_a_message() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let outsider = account(&server, "outsider").await;
    let room_id = id_of(&create_room(&server, &alice, "Edits", &["bob"]).await);
    let original = post_message(&server, &bob, room_id, "typo").await;
    let id = id_of(&original);
    let path = format!("/chat/messages/{id}");

    // The room owner is not the sender: still 403.
    let (status, body) = server.patch(&path, alice.tok(), &json!({ "content": "hijack" })).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server.patch(&path, outsider.tok(), &json!({ "content": "hijack" })).await;
    assert_error(status, &body, 404, "not_found");
    for content in ["", "   \n"] {
        let (status, body) = server.patch(&path, bob.tok(), &json!({ "content": content })).await;
        assert_invalid(status, &body, "content");
    }
    let (status, body) = server.patch(&path, bob.tok(), &json!({ "content": "z".repeat(4001) })).await;
    assert_invalid(status, &body, "content");
    let (status, body) = server.patch(&path, bob.tok(), &json!({})).await;
    assert_invalid(status, &body, "content");
    let (status, body) = send_raw(&server, Method::PATCH, &path, bob.tok(), "{oops").await;
    assert_error(status, &body, 400, "invalid_json");
    assert_eq!(history(&server, &alice, room_id, "").await, vec![original.clone()], "nothing changed yet");

    let (status, edited) = server.patch(&path, bob.tok(), &json!({ "content": "  fixed  " })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_message(&edited);
    assert_eq!(id_of(&edited), id);
    assert_eq!(edited["content"], json!("  fixed  "), "stored exactly as sent");
    assert_eq!(edited["created_at"], original["created_at"]);
    assert_eq!(edited["sender"]["id"], json!(bob.id));
    let edited_at = edited["edited_at"].as_str().expect("edited_at is set");
    assert!(common::parse_time(edited_at) >= common::parse_time(original["created_at"].as_str().unwrap()));
    assert_eq!(history(&server, &alice, room_id, "").await, vec![edited]);

    // Unknown and malformed ids.
    let (status, body) = server.patch("/chat/messages/999999999", bob.tok(), &json!({ "content": "x" })).await;
    assert_error(status, &body, 404, "not_found");
    for bad in ["abc", "0", "-1", "1.5", "99999999999999999999999"] {
        let (status, body) =
            server.patch(&format!("/chat/messages/{bad}"), bob.tok(), &json!({ "content": "x" })).await;
        assert_error(status, &body, 404, "not_found");
    }
}

#[tokio::test]
async fn the_sender_or_the_room_owner_deletes_a_message() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let outsider = account(&server, "outsider").await;
    let room_id = id_of(&create_room(&server, &alice, "Deletes", &["bob", "carol"]).await);
    let by_bob_1 = id_of(&post_message(&server, &bob, room_id, "bob one").await);
    let by_bob_2 = id_of(&post_message(&server, &bob, room_id, "bob two").await);
    let by_carol = id_of(&post_message(&server, &carol, room_id, "carol").await);

    // Another plain member: 403. An outsider: 404.
    let (status, body) = server.delete(&format!("/chat/messages/{by_bob_1}"), carol.tok()).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server.delete(&format!("/chat/messages/{by_carol}"), bob.tok()).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server.delete(&format!("/chat/messages/{by_bob_1}"), outsider.tok()).await;
    assert_error(status, &body, 404, "not_found");
    assert_eq!(ids(&history(&server, &alice, room_id, "").await), vec![by_bob_1, by_bob_2, by_carol]);

    // The sender.
    let (status, body) = server.delete(&format!("/chat/messages/{by_bob_1}"), bob.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(body, Value::Null);
    assert_eq!(ids(&history(&server, &carol, room_id, "").await), vec![by_bob_2, by_carol]);
    // The room owner, who did not send it.
    let (status, body) = server.delete(&format!("/chat/messages/{by_bob_2}"), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(ids(&history(&server, &carol, room_id, "").await), vec![by_carol]);

    // Gone means gone: deleting or editing it again is 404.
    let (status, body) = server.delete(&format!("/chat/messages/{by_bob_1}"), bob.tok()).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) =
        server.patch(&format!("/chat/messages/{by_bob_1}"), bob.tok(), &json!({ "content": "x" })).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.delete("/chat/messages/999999999", bob.tok()).await;
    assert_error(status, &body, 404, "not_found");
    for bad in ["abc", "0", "-1", "99999999999999999999999"] {
        let (status, body) = server.delete(&format!("/chat/messages/{bad}"), bob.tok()).await;
        assert_error(status, &body, 404, "not_found");
    }
}

#[tokio::test]
async fn in_a_private_chat_only_the_sender_deletes() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let (_, chat) = open_private(&server, &alice, "bob").await;
    let chat_id = id_of(&chat);
    let message = id_of(&post_message(&server, &alice, chat_id, "mine").await);

    let (status, body) = server.delete(&format!("/chat/messages/{message}"), bob.tok()).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) =
        server.patch(&format!("/chat/messages/{message}"), bob.tok(), &json!({ "content": "x" })).await;
    assert_error(status, &body, 403, "forbidden");
    assert_eq!(ids(&history(&server, &bob, chat_id, "").await), vec![message]);

    let (status, body) = server.delete(&format!("/chat/messages/{message}"), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(history(&server, &bob, chat_id, "").await.is_empty());
}

// ---- read markers and unread counts ----

#[tokio::test]
async fn read_markers_and_unread_counts_in_a_group_room() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Unread", &["bob"]).await);

    let mut sent = Vec::new();
    for i in 1..=3 {
        sent.push(id_of(&post_message(&server, &bob, room_id, &format!("b{i}")).await));
    }
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 3);
    assert_eq!(unread_in_list(&server, &bob, room_id).await, 0, "own messages never count");
    assert_eq!(get_room(&server, &alice, room_id).await["unread_count"], json!(3));

    mark_read(&server, &alice, room_id, sent[1]).await;
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 1);
    assert_eq!(unread_in_list(&server, &bob, room_id).await, 0, "alice's marker is hers alone");

    // Never backwards.
    mark_read(&server, &alice, room_id, sent[0]).await;
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 1);

    // Alice's own message does not count either.
    post_message(&server, &alice, room_id, "mine").await;
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 1);

    // A huge id is capped at the newest message: a later message is unread again.
    mark_read(&server, &alice, room_id, 999_999_999).await;
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 0);
    post_message(&server, &bob, room_id, "after the cap").await;
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 1, "the marker was capped, not set to 999999999");
    assert_eq!(get_room(&server, &alice, room_id).await["unread_count"], json!(1));
}

#[tokio::test]
async fn read_markers_and_unread_counts_in_a_private_chat() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let (_, chat) = open_private(&server, &alice, "bob").await;
    let chat_id = id_of(&chat);

    let mut sent = Vec::new();
    for i in 1..=3 {
        sent.push(id_of(&post_message(&server, &bob, chat_id, &format!("b{i}")).await));
    }
    assert_eq!(unread_in_private_list(&server, &alice, chat_id).await, 3);
    assert_eq!(unread_in_private_list(&server, &bob, chat_id).await, 0);

    mark_read(&server, &alice, chat_id, sent[1]).await;
    assert_eq!(unread_in_private_list(&server, &alice, chat_id).await, 1);
    mark_read(&server, &alice, chat_id, sent[0]).await;
    assert_eq!(unread_in_private_list(&server, &alice, chat_id).await, 1);
    mark_read(&server, &alice, chat_id, 999_999_999).await;
    assert_eq!(unread_in_private_list(&server, &alice, chat_id).await, 0);
    post_message(&server, &bob, chat_id, "b4").await;
    assert_eq!(unread_in_private_list(&server, &alice, chat_id).await, 1);
    let (status, again) = open_private(&server, &alice, "bob").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["unread_count"], json!(1));
}

#[tokio::test]
async fn mark_read_needs_a_positive_message_id() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Marks", &[]).await);
    let path = format!("/chat/chat_rooms/{room_id}/read");

    for body in [json!({}), json!({ "message_id": 0 }), json!({ "message_id": -3 }), json!({ "message_id": "abc" })] {
        let (status, answer) = server.post(&path, alice.tok(), &body).await;
        assert_invalid(status, &answer, "message_id");
    }
    let (status, answer) = send_raw(&server, Method::POST, &path, alice.tok(), "{\"message_id\":").await;
    assert_error(status, &answer, 400, "invalid_json");
    // On an empty room a valid marker is simply accepted.
    mark_read(&server, &alice, room_id, 5).await;
}

// ---- outsiders, bad ids, missing tokens, trailing slashes ----

/// Every `{room_id}` endpoint (and PATCH/DELETE of `message`), as `caller`: all must be 404.
async fn assert_all_room_endpoints_404(
    server: &TestServer,
    caller: &Account,
    room: i64,
    message: i64,
    member: i64,
    what: &str,
) {
    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, format!("/chat/chat_rooms/{room}"), None),
        (Method::POST, format!("/chat/chat_rooms/{room}/members"), Some(json!({ "username": caller.name }))),
        (Method::DELETE, format!("/chat/chat_rooms/{room}/members/{member}"), None),
        (Method::DELETE, format!("/chat/chat_rooms/{room}/members/{}", caller.id), None),
        (Method::GET, format!("/chat/chat_rooms/{room}/messages"), None),
        (Method::GET, format!("/chat/chat_rooms/{room}/messages?after=0"), None),
        (Method::POST, format!("/chat/chat_rooms/{room}/messages"), Some(json!({ "content": "let me in" }))),
        (Method::POST, format!("/chat/chat_rooms/{room}/read"), Some(json!({ "message_id": message }))),
        (Method::PATCH, format!("/chat/messages/{message}"), Some(json!({ "content": "defaced" }))),
        (Method::DELETE, format!("/chat/messages/{message}"), None),
    ];
    for (method, path, body) in calls {
        let (status, answer) = server.call(method.clone(), &path, caller.tok(), body.as_ref()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{what}: {method} {path}: {answer}");
        assert_error(status, &answer, 404, "not_found");
    }
}

#[tokio::test]
async fn outsiders_get_404_on_every_room_endpoint() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let eve = account(&server, "eve").await;
    let room_id = id_of(&create_room(&server, &alice, "Secret", &["bob"]).await);
    let message = post_message(&server, &bob, room_id, "confidential").await;
    let (_, chat) = open_private(&server, &alice, "bob").await;
    let chat_id = id_of(&chat);
    let private_message = post_message(&server, &alice, chat_id, "just us").await;

    assert_all_room_endpoints_404(&server, &eve, room_id, id_of(&message), bob.id, "outsider, group room").await;
    assert_all_room_endpoints_404(&server, &eve, chat_id, id_of(&private_message), bob.id, "outsider, private chat")
        .await;

    // Nothing changed behind the 404s.
    assert_eq!(history(&server, &alice, room_id, "").await, vec![message]);
    assert_eq!(history(&server, &alice, chat_id, "").await, vec![private_message]);
    let room = get_room(&server, &alice, room_id).await;
    assert_eq!(member_ids(&room), HashSet::from([alice.id, bob.id]));
    assert!(list_rooms(&server, &eve).await.is_empty());
    assert!(list_private_chats(&server, &eve).await.is_empty());

    // A room id that does not exist answers exactly like a room one is not in.
    let missing_room = room_id + chat_id + 1000;
    assert_all_room_endpoints_404(&server, &alice, missing_room, 999_999, bob.id, "nonexistent room").await;
}

#[tokio::test]
async fn ids_that_are_not_positive_integers_are_404() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = id_of(&create_room(&server, &alice, "Real", &[]).await);

    for bad in ["abc", "0", "-1", "1.5", "1e3", "99999999999999999999999", "%20", "null"] {
        let calls: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/chat/chat_rooms/{bad}"), None),
            (Method::GET, format!("/chat/chat_rooms/{bad}/messages"), None),
            (Method::POST, format!("/chat/chat_rooms/{bad}/messages"), Some(json!({ "content": "x" }))),
            (Method::POST, format!("/chat/chat_rooms/{bad}/members"), Some(json!({ "username": "alice" }))),
            (Method::DELETE, format!("/chat/chat_rooms/{bad}/members/{}", alice.id), None),
            (Method::DELETE, format!("/chat/chat_rooms/{room_id}/members/{bad}"), None),
            (Method::POST, format!("/chat/chat_rooms/{bad}/read"), Some(json!({ "message_id": 1 }))),
        ];
        for (method, path, body) in calls {
            let (status, answer) = server.call(method.clone(), &path, alice.tok(), body.as_ref()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
            assert_error(status, &answer, 404, "not_found");
        }
    }
    assert_eq!(get_room(&server, &alice, room_id).await["members"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn every_chat_endpoint_needs_a_token() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let _bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Locked", &[]).await);
    let message = id_of(&post_message(&server, &alice, room_id, "hi").await);

    let calls: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, "/chat/private_chats/".into(), None),
        (Method::POST, "/chat/private_chats/".into(), Some(json!({ "username": "bob" }))),
        (Method::GET, "/chat/chat_rooms/".into(), None),
        (Method::POST, "/chat/chat_rooms/".into(), Some(json!({ "name": "x", "members": [] }))),
        (Method::GET, format!("/chat/chat_rooms/{room_id}"), None),
        (Method::POST, format!("/chat/chat_rooms/{room_id}/members"), Some(json!({ "username": "bob" }))),
        (Method::DELETE, format!("/chat/chat_rooms/{room_id}/members/{}", alice.id), None),
        (Method::GET, format!("/chat/chat_rooms/{room_id}/messages"), None),
        (Method::POST, format!("/chat/chat_rooms/{room_id}/messages"), Some(json!({ "content": "x" }))),
        (Method::POST, format!("/chat/chat_rooms/{room_id}/read"), Some(json!({ "message_id": message }))),
        (Method::PATCH, format!("/chat/messages/{message}"), Some(json!({ "content": "x" }))),
        (Method::DELETE, format!("/chat/messages/{message}"), None),
    ];
    for (method, path, body) in &calls {
        let (status, answer) = server.call(method.clone(), path, None, body.as_ref()).await;
        assert_error(status, &answer, 401, "unauthorized");
        let mut builder = server.request(method.clone(), path, None).header("authorization", "Bearer not.a.jwt");
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let (status, answer) = read_json(builder.send().await.expect("send")).await;
        assert_error(status, &answer, 401, "unauthorized");
    }
    // Nothing happened.
    assert_eq!(ids(&history(&server, &alice, room_id, "").await), vec![message]);
    assert_eq!(history(&server, &alice, room_id, "").await[0]["content"], json!("hi"));
    assert_eq!(list_rooms(&server, &alice).await.len(), 1);
    assert!(list_private_chats(&server, &alice).await.is_empty());
}

#[tokio::test]
async fn list_endpoints_answer_with_and_without_a_trailing_slash() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let _bob = account(&server, "bob").await;
    let _carol = account(&server, "carol").await;

    // Creation both ways.
    let (status, first) = server.post("/chat/chat_rooms", alice.tok(), &json!({ "name": "a", "members": [] })).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    let (status, second) = server.post("/chat/chat_rooms/", alice.tok(), &json!({ "name": "b", "members": [] })).await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    let (status, chat1) = server.post("/chat/private_chats", alice.tok(), &json!({ "username": "bob" })).await;
    assert_eq!(status, StatusCode::CREATED, "{chat1}");
    let (status, chat2) = server.post("/chat/private_chats/", alice.tok(), &json!({ "username": "carol" })).await;
    assert_eq!(status, StatusCode::CREATED, "{chat2}");

    for base in ["/chat/chat_rooms", "/chat/private_chats"] {
        let (status_plain, plain) = server.get(base, alice.tok()).await;
        let (status_slash, slash) = server.get(&format!("{base}/"), alice.tok()).await;
        assert_eq!(status_plain, StatusCode::OK, "{base}: {plain}");
        assert_eq!(status_slash, StatusCode::OK, "{base}/: {slash}");
        assert_eq!(plain, slash, "{base} with and without the slash");
        assert_eq!(plain.as_array().map(Vec::len), Some(2), "{base}: {plain}");
    }
    let expected_rooms = HashSet::from([id_of(&first), id_of(&second)]);
    assert_eq!(ids(&list_rooms(&server, &alice).await).into_iter().collect::<HashSet<_>>(), expected_rooms);
    let expected_chats = HashSet::from([id_of(&chat1), id_of(&chat2)]);
    assert_eq!(ids(&list_private_chats(&server, &alice).await).into_iter().collect::<HashSet<_>>(), expected_chats);

    // Room paths too.
    let room_id = id_of(&first);
    let (status, _) = server.get(&format!("/chat/chat_rooms/{room_id}/"), alice.tok()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) =
        server.post(&format!("/chat/chat_rooms/{room_id}/messages/"), alice.tok(), &json!({ "content": "x" })).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(history(&server, &alice, room_id, "").await.len(), 1);
}

// ---- regressions of bugs the suite found: id reuse after delete, same-millisecond activity ----

/// Deleting the newest message lets the next message reuse its id (`messages.id` is an
/// `INTEGER PRIMARY KEY` without `AUTOINCREMENT`, so SQLite hands out max(id)+1 again). A client
/// catching up with `after=<last id it saw>` then misses the new message, and a read marker
/// placed on the deleted message swallows it.
#[tokio::test]
async fn message_ids_are_never_reused_after_a_delete() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = id_of(&create_room(&server, &alice, "Reuse", &["bob"]).await);
    post_message(&server, &bob, room_id, "m1").await;
    let m2 = id_of(&post_message(&server, &bob, room_id, "m2").await);
    // Alice has seen everything up to m2 and marked it read.
    assert_eq!(ids(&history(&server, &alice, room_id, "").await).last(), Some(&m2));
    mark_read(&server, &alice, room_id, m2).await;
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 0);

    // Bob deletes m2 while alice is offline, then writes again.
    let (status, body) = server.delete(&format!("/chat/messages/{m2}"), bob.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let m3 = id_of(&post_message(&server, &bob, room_id, "m3").await);

    assert!(m3 > m2, "a new message gets a new id, not the deleted message's id {m2} (got {m3})");
    assert_eq!(
        ids(&history(&server, &alice, room_id, &format!("after={m2}")).await),
        vec![m3],
        "catching up after the last id seen finds the new message"
    );
    assert_eq!(unread_in_list(&server, &alice, room_id).await, 1, "the new message is unread");
}

/// Room lists are ordered by `activity_at` (a millisecond timestamp) and then by room id, so rooms
/// active within the same millisecond (common when many writes share one group commit) are listed
/// in room-id order, not in the order their messages were written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn room_list_follows_message_order_within_one_millisecond() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let mut rooms = Vec::new();
    for i in 0..10 {
        rooms.push(id_of(&create_room(&server, &alice, &format!("r{i}"), &[]).await));
    }
    // One message in each room at once: most land in one commit, within a millisecond.
    let answers = join_all(rooms.iter().rev().map(|room| {
        let (server, alice, path) = (&server, &alice, format!("/chat/chat_rooms/{room}/messages"));
        async move { server.post(&path, alice.tok(), &json!({ "content": "x" })).await }
    }))
    .await;
    for (status, message) in &answers {
        assert_eq!(*status, StatusCode::CREATED, "{message}");
    }
    let listed = list_rooms(&server, &alice).await;
    let last_ids: Vec<i64> = listed.iter().map(|room| id_of(&room["last_message"])).collect();
    let mut newest_first = last_ids.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(last_ids, newest_first, "rooms ordered by their latest message, newest first: {listed:?}");
}

//! SPEC §3 "Open rooms and the directory" and "The first room", over real HTTP and Socket.IO:
//! visibility and topics, `PATCH /chat/chat_rooms/{id}` by owner, administrator and others,
//! `GET /chat/directory`, `POST …/join`, `room_updated` to every member, and the first room
//! that every new account (signup, invite, `natter user add`) joins.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{Account, account, array, connect, create_room, get_room, id_of, post_message};
use crate::common::spec::assert_room;
use crate::common::{TestServer, assert_error, natter_user_ok, spawn, spawn_in, spawn_with, spawn_without_first_room};

// ---- helpers ----

/// `POST /chat/chat_rooms/` with a full body; the raw answer.
async fn try_create(server: &TestServer, owner: &Account, body: Value) -> (StatusCode, Value) {
    server.post("/chat/chat_rooms/", owner.tok(), &body).await
}

/// An open room owned by `owner` with `members`; its id.
async fn open_room(server: &TestServer, owner: &Account, name: &str, members: &[&str]) -> i64 {
    let (status, room) =
        try_create(server, owner, json!({ "name": name, "members": members, "visibility": "open" })).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    assert_room(&room);
    assert_eq!(room["visibility"], "open", "{room}");
    id_of(&room)
}

async fn patch(server: &TestServer, who: &Account, room: i64, body: Value) -> (StatusCode, Value) {
    server.patch(&format!("/chat/chat_rooms/{room}"), who.tok(), &body).await
}

async fn join(server: &TestServer, who: &Account, room: i64) -> (StatusCode, Value) {
    server.post(&format!("/chat/chat_rooms/{room}/join"), who.tok(), &json!({})).await
}

async fn directory(server: &TestServer, who: &Account, query: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/chat/directory{query}"), who.tok()).await;
    assert_eq!(status, StatusCode::OK, "directory {query}: {body}");
    let listings = array(&body);
    for listing in &listings {
        let mut keys: Vec<&str> = listing.as_object().expect("an object").keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["id", "joined", "last_activity_at", "member_count", "name", "topic"], "{listing}");
        assert!(listing["last_activity_at"].as_str().is_some_and(common::is_spec_time), "{listing}");
    }
    listings
}

fn names(listings: &[Value]) -> Vec<&str> {
    listings.iter().map(|l| l["name"].as_str().expect("a name")).collect()
}

fn member_ids(room: &Value) -> Vec<i64> {
    room["members"].as_array().expect("members").iter().map(id_of).collect()
}

// ---- creating with visibility and topic ----

#[tokio::test]
async fn rooms_are_private_unless_made_open_and_keep_their_topic() {
    let server = spawn_without_first_room().await;
    let ann = account(&server, "ann").await;
    let room = create_room(&server, &ann, "quiet", &[]).await;
    assert_eq!(room["visibility"], "private", "the default: {room}");
    assert_eq!(room["topic"], Value::Null, "{room}");

    let (status, room) =
        try_create(&server, &ann, json!({"name": "club", "visibility": "open", "topic": "  Saturdays at 10  "})).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    assert_eq!((room["visibility"].as_str(), room["topic"].as_str()), (Some("open"), Some("Saturdays at 10")));

    let (status, body) = try_create(&server, &ann, json!({"name": "x", "visibility": "public"})).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["visibility"].is_string(), "{body}");
    let (status, body) = try_create(&server, &ann, json!({"name": "x", "topic": "t".repeat(251)})).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["topic"].is_string(), "{body}");
    // A private chat is always private.
    let bob = account(&server, "bob").await;
    let (status, chat) = server.post("/chat/private_chats/", ann.tok(), &json!({"username": "bob"})).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    let as_room = get_room(&server, &bob, id_of(&chat)).await;
    assert_eq!(as_room["visibility"], "private", "{as_room}");
}

#[tokio::test]
async fn room_names_lose_hidden_controls_and_must_show_something() {
    let server = spawn_without_first_room().await;
    let ann = account(&server, "ann").await;
    let (status, room) = try_create(&server, &ann, json!({"name": "team\u{202E}txt.exe\u{0}\u{7}"})).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    assert_eq!(room["name"], "teamtxt.exe", "bidi and control characters are stripped: {room}");
    for invisible in ["\u{200B}\u{200C}", "\u{202E}", " \u{3164} ", "\u{2060}\u{FEFF}"] {
        let (status, body) = try_create(&server, &ann, json!({ "name": invisible })).await;
        assert_error(status, &body, 422, "validation_error");
        assert!(body["fields"]["name"].is_string(), "{invisible:?}: {body}");
    }
    let id = id_of(&room);
    let (status, body) = patch(&server, &ann, id, json!({"name": "\u{200B}"})).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["name"].is_string(), "{body}");
    let (status, body) = patch(&server, &ann, id, json!({"name": "r\u{202E}ed"})).await;
    assert_eq!((status, body["name"].as_str()), (StatusCode::OK, Some("red")), "{body}");
}

// ---- PATCH ----

#[tokio::test]
async fn the_owner_or_an_administrator_changes_a_room_and_nobody_else() {
    let server = spawn_without_first_room().await;
    let admin = account(&server, "admin").await; // the first account: an administrator
    let owner = account(&server, "owner").await;
    let member = account(&server, "member").await;
    let outsider = account(&server, "outsider").await;
    let private = id_of(&create_room(&server, &owner, "secret", &["member"]).await);

    let (status, room) = patch(&server, &owner, private, json!({"name": "renamed", "topic": "A topic"})).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    assert_room(&room);
    assert_eq!((room["name"].as_str(), room["topic"].as_str()), (Some("renamed"), Some("A topic")));
    assert_eq!(room["visibility"], "private", "unnamed fields stay: {room}");

    let (status, body) = patch(&server, &member, private, json!({"name": "mine now"})).await;
    assert_error(status, &body, 403, "forbidden");
    // An outsider of a private room learns nothing: 404, like every room endpoint.
    let (status, body) = patch(&server, &outsider, private, json!({"name": "x"})).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = patch(&server, &admin, private, json!({"name": "x"})).await;
    assert_error(status, &body, 404, "not_found");

    // Open: outsiders see it exists, so they get 403; an administrator may change it.
    let (status, room) = patch(&server, &owner, private, json!({"visibility": "open"})).await;
    assert_eq!((status, room["visibility"].as_str()), (StatusCode::OK, Some("open")), "{room}");
    let (status, body) = patch(&server, &outsider, private, json!({"topic": "spam"})).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, room) = patch(&server, &admin, private, json!({"topic": "Moderated"})).await;
    assert_eq!((status, room["topic"].as_str()), (StatusCode::OK, Some("Moderated")), "{room}");
    assert_eq!(room["unread_count"], 0, "{room}");

    // `""` and `null` clear the topic; a missing field leaves it.
    let (_, room) = patch(&server, &owner, private, json!({"topic": ""})).await;
    assert_eq!(room["topic"], Value::Null, "{room}");
    patch(&server, &owner, private, json!({"topic": "back"})).await;
    let (_, room) = patch(&server, &owner, private, json!({"topic": null})).await;
    assert_eq!(room["topic"], Value::Null, "{room}");
    let (_, room) = patch(&server, &owner, private, json!({})).await;
    assert_eq!(room["name"], "renamed", "{room}");

    // Bounds: the topic is at most 250 characters, visibility one of two words.
    let (status, room) = patch(&server, &owner, private, json!({"topic": "é".repeat(250)})).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    let (status, body) = patch(&server, &owner, private, json!({"topic": "é".repeat(251)})).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["topic"].is_string(), "{body}");
    let (status, body) = patch(&server, &owner, private, json!({"visibility": "everyone"})).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["visibility"].is_string(), "{body}");
    let (status, body) = patch(&server, &owner, private, json!({"name": ""})).await;
    assert_error(status, &body, 422, "validation_error");
    let (status, body) = patch(&server, &owner, private, json!({"name": "n".repeat(101)})).await;
    assert_error(status, &body, 422, "validation_error");
    let (status, body) = server.patch("/chat/chat_rooms/99999", owner.tok(), &json!({"name": "x"})).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.patch(&format!("/chat/chat_rooms/{private}"), None, &json!({"name": "x"})).await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn a_private_chat_cannot_be_renamed_or_opened() {
    let server = spawn_without_first_room().await;
    let ann = account(&server, "ann").await;
    let _bob = account(&server, "bob").await;
    let carl = account(&server, "carl").await;
    let (_, chat) = server.post("/chat/private_chats/", ann.tok(), &json!({"username": "bob"})).await;
    let chat = id_of(&chat);
    let (status, body) = patch(&server, &ann, chat, json!({"visibility": "open"})).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = patch(&server, &carl, chat, json!({"visibility": "open"})).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = join(&server, &carl, chat).await;
    assert_error(status, &body, 404, "not_found");
}

// ---- the directory and joining ----

#[tokio::test]
async fn the_directory_lists_open_rooms_by_activity_and_filters_by_name() {
    let server = spawn_without_first_room().await;
    let ann = account(&server, "ann").await;
    let bob = account(&server, "bob").await;
    let football = open_room(&server, &ann, "Football", &["bob"]).await;
    let chess = open_room(&server, &ann, "Schach-Straße", &[]).await;
    let _hidden = create_room(&server, &ann, "Football secrets", &[]).await;
    let greek = open_room(&server, &bob, "ΟΔΟΣ", &[]).await;
    patch(&server, &ann, chess, json!({"topic": "Tuesdays"})).await;

    // Most recent activity first: rooms made later are more recent until a message moves one up.
    let all = directory(&server, &bob, "").await;
    assert_eq!(names(&all), ["ΟΔΟΣ", "Schach-Straße", "Football"], "private rooms are not listed: {all:?}");
    post_message(&server, &ann, football, "kick-off at 3").await;
    let all = directory(&server, &bob, "").await;
    assert_eq!(names(&all), ["Football", "ΟΔΟΣ", "Schach-Straße"], "{all:?}");
    let by_id = |id: i64| all.iter().find(|l| id_of(l) == id).expect("listed").clone();
    let football_listing = by_id(football);
    assert_eq!(
        (football_listing["member_count"].as_i64(), football_listing["joined"].as_bool()),
        (Some(2), Some(true))
    );
    assert_eq!(by_id(chess)["joined"], false);
    assert_eq!(by_id(chess)["topic"], "Tuesdays");
    assert_eq!(by_id(greek)["topic"], Value::Null);
    let last = post_message(&server, &ann, football, "again").await;
    let listing = directory(&server, &bob, "").await.into_iter().find(|l| id_of(l) == football).expect("listed");
    assert_eq!(listing["last_activity_at"], last["created_at"], "the newest message's time");
    let created = get_room(&server, &bob, greek).await;
    let listing = directory(&server, &bob, "").await.into_iter().find(|l| id_of(l) == greek).expect("listed");
    assert_eq!(listing["last_activity_at"], created["created_at"], "no message yet: its creation");

    // `q`: contained in the name, case ignored in every script.
    assert_eq!(names(&directory(&server, &bob, "?q=foot").await), ["Football"]);
    assert_eq!(names(&directory(&server, &bob, "?q=BALL").await), ["Football"]);
    assert_eq!(names(&directory(&server, &bob, "?q=strasse").await), ["Schach-Straße"]);
    assert_eq!(names(&directory(&server, &bob, "?q=%CE%BF%CE%B4%CF%8C%CF%82").await), Vec::<&str>::new());
    assert_eq!(names(&directory(&server, &bob, "?q=%CE%BF%CE%B4%CE%BF%CF%82").await), ["ΟΔΟΣ"], "οδος");
    assert_eq!(names(&directory(&server, &bob, "?q=secrets").await), Vec::<&str>::new());
    assert_eq!(directory(&server, &bob, "?q=").await.len(), 3, "an empty q lists everything");
    let (status, body) = server.get("/chat/directory", None).await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn joining_an_open_room_twice_changes_nothing_and_private_rooms_stay_hidden() {
    let server = spawn_without_first_room().await;
    let ann = account(&server, "ann").await;
    let bob = account(&server, "bob").await;
    let open = open_room(&server, &ann, "open", &[]).await;
    let private = id_of(&create_room(&server, &ann, "private", &[]).await);
    for n in 0..3 {
        post_message(&server, &ann, open, &format!("before {n}")).await;
    }

    let (status, room) = join(&server, &bob, open).await;
    assert_eq!(status, StatusCode::OK, "{room}");
    assert_room(&room);
    assert_eq!(member_ids(&room), [ann.id, bob.id], "{room}");
    assert_eq!(room["unread_count"], 0, "history from before joining is context, not news: {room}");
    let bob_member = room["members"].as_array().unwrap().iter().find(|m| id_of(m) == bob.id).unwrap().clone();
    assert_eq!(bob_member["role"], "member");
    let (status, again) = join(&server, &bob, open).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(member_ids(&again), [ann.id, bob.id], "joining twice: unchanged");
    // Ann's later message is unread for Bob.
    post_message(&server, &ann, open, "after").await;
    assert_eq!(get_room(&server, &bob, open).await["unread_count"], 1);

    let (status, body) = join(&server, &bob, private).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = join(&server, &bob, 999_999).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.get(&format!("/chat/chat_rooms/{private}"), bob.tok()).await;
    assert_error(status, &body, 404, "not_found");
    let (status, body) = server.post(&format!("/chat/chat_rooms/{open}/join"), None, &json!({})).await;
    assert_error(status, &body, 401, "unauthorized");

    // A room made private again is closed to newcomers; its members stay.
    patch(&server, &ann, open, json!({"visibility": "private"})).await;
    let carl = account(&server, "carl").await;
    let (status, body) = join(&server, &carl, open).await;
    assert_error(status, &body, 404, "not_found");
    assert!(directory(&server, &carl, "").await.is_empty());
    assert_eq!(get_room(&server, &bob, open).await["visibility"], "private");
}

// ---- room_updated ----

#[tokio::test]
async fn every_change_of_a_room_sends_room_updated_to_every_member() {
    let server = spawn_without_first_room().await;
    let ann = account(&server, "ann").await;
    let bob = account(&server, "bob").await;
    let carl = account(&server, "carl").await;
    let dora = account(&server, "dora").await;
    let room = open_room(&server, &ann, "club", &["bob"]).await;
    let ann_socket = connect(&server, &ann).await;
    let bob_socket = connect(&server, &bob).await;
    let carl_socket = connect(&server, &carl).await;
    let dora_socket = connect(&server, &dora).await;

    // A change of name, topic or visibility: the whole Room to every member.
    patch(&server, &ann, room, json!({"name": "club house", "topic": "Fridays"})).await;
    for socket in [&ann_socket, &bob_socket] {
        let mut updated = socket.wait_for("room_updated").await;
        // The room's creation sends room_updated too, rendered by the realtime task after the
        // HTTP answer: a socket that connected right after may still get that one, first.
        if updated["name"] == "club" && updated["topic"].is_null() {
            updated = socket.wait_for("room_updated").await;
        }
        assert_room(&updated);
        assert_eq!((updated["name"].as_str(), updated["topic"].as_str()), (Some("club house"), Some("Fridays")));
    }
    // Nothing changed: nobody is told (checked below by what arrives next).
    patch(&server, &ann, room, json!({"topic": "Fridays"})).await;

    // Joining: the joiner gets room_added, every member room_updated with the new member list.
    join(&server, &carl, room).await;
    let added = carl_socket.wait_for("room_added").await;
    assert_eq!(id_of(&added), room);
    for socket in [&ann_socket, &bob_socket, &carl_socket] {
        let updated = socket.wait_for("room_updated").await;
        assert_eq!(member_ids(&updated), [ann.id, bob.id, carl.id], "{updated}");
    }
    // Each sees their own unread count.
    post_message(&server, &bob, room, "hello").await;
    patch(&server, &ann, room, json!({"visibility": "private"})).await;
    let for_ann = ann_socket.wait_for("room_updated").await;
    let for_bob = bob_socket.wait_for("room_updated").await;
    assert_eq!((for_ann["unread_count"].as_i64(), for_bob["unread_count"].as_i64()), (Some(1), Some(0)));
    assert_eq!(carl_socket.wait_for("room_updated").await["visibility"], "private");

    // Added by the owner, and leaving: the same.
    server.post(&format!("/chat/chat_rooms/{room}/members"), ann.tok(), &json!({"username": "dora"})).await;
    assert_eq!(id_of(&dora_socket.wait_for("room_added").await), room);
    for socket in [&ann_socket, &bob_socket, &carl_socket, &dora_socket] {
        assert_eq!(member_ids(&socket.wait_for("room_updated").await), [ann.id, bob.id, carl.id, dora.id]);
    }
    let (status, _) = server.delete(&format!("/chat/chat_rooms/{room}/members/{}", carl.id), carl.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(carl_socket.wait_for("room_removed").await["room_id"], room);
    for socket in [&ann_socket, &bob_socket, &dora_socket] {
        assert_eq!(member_ids(&socket.wait_for("room_updated").await), [ann.id, bob.id, dora.id]);
    }
    // The unchanged PATCH above sent nothing: every room_updated is accounted for.
    for socket in [&ann_socket, &bob_socket, &carl_socket, &dora_socket] {
        assert!(socket.queued_named("room_updated").is_empty(), "{:?}", socket.queued());
    }
    // Carl is out: he hears nothing more of the room.
    patch(&server, &ann, room, json!({"topic": "members only"})).await;
    ann_socket.wait_for("room_updated").await;
    bob_socket.wait_for("room_updated").await;
    dora_socket.wait_for("room_updated").await;
    assert!(carl_socket.queued_named("room_updated").is_empty(), "{:?}", carl_socket.queued());
}

// ---- the first room ----

#[tokio::test]
async fn every_new_account_lands_in_the_first_room_owned_by_the_first_one() {
    let server = spawn().await;
    let ann = account(&server, "ann").await;
    let (status, rooms) = server.get("/chat/chat_rooms/", ann.tok()).await;
    assert_eq!(status, StatusCode::OK);
    let rooms = array(&rooms);
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    let general = &rooms[0];
    assert_room(general);
    assert_eq!((general["name"].as_str(), general["visibility"].as_str()), (Some("general"), Some("open")));
    assert_eq!(general["owner_id"], ann.id, "the first account owns it: {general}");
    let id = id_of(general);

    let ann_socket = connect(&server, &ann).await;
    let bob = account(&server, "bob").await;
    let room = get_room(&server, &bob, id).await;
    assert_eq!(member_ids(&room), [ann.id, bob.id]);
    assert_eq!(room["members"][1]["role"], "member");
    // The administrator hears that someone arrived.
    let updated = ann_socket.wait_for("room_updated").await;
    assert_eq!(member_ids(&updated), [ann.id, bob.id]);

    // `natter user add` (another process, on the same data) joins it too.
    natter_user_ok(server.data_dir(), &["add", "carl", "--email", "carl@example.com", "--password", common::PASSWORD])
        .await;
    let carl = Account { token: server.token("carl").await.0, id: 3, name: "carl".into() };
    assert_eq!(member_ids(&get_room(&server, &carl, id).await), [ann.id, bob.id, carl.id]);
    // It is in the directory like any open room.
    let listed = directory(&server, &carl, "").await;
    assert_eq!(names(&listed), ["general"]);
    assert_eq!(listed[0]["member_count"], 3);
}

#[tokio::test]
async fn the_first_room_joins_invited_accounts_and_counts_its_history_as_read() {
    let server = spawn_with(|args| args.registration = natter::config::Registration::Invite).await;
    let code = server.operator_invite(2, 3600).await;
    let body = |name: &str| json!({"username": name, "email": format!("{name}@example.com"), "password": common::PASSWORD, "invite": code});
    let (status, _) = server.post("/auth/signup", None, &body("ann")).await;
    assert_eq!(status, StatusCode::CREATED);
    let ann = Account { token: server.token("ann").await.0, id: 1, name: "ann".into() };
    let general = id_of(&array(&server.get("/chat/chat_rooms/", ann.tok()).await.1)[0]);
    for n in 0..5 {
        post_message(&server, &ann, general, &format!("welcome {n}")).await;
    }
    let (status, _) = server.post("/auth/signup", None, &body("bob")).await;
    assert_eq!(status, StatusCode::CREATED);
    let bob = Account { token: server.token("bob").await.0, id: 2, name: "bob".into() };
    let room = get_room(&server, &bob, general).await;
    assert_eq!(room["unread_count"], 0, "a newcomer's first room holds no unread backlog: {room}");
    assert_eq!(member_ids(&room), [ann.id, bob.id]);
}

#[tokio::test]
async fn no_first_room_with_an_empty_default_room_and_none_made_later() {
    let server = spawn_without_first_room().await;
    let ann = account(&server, "ann").await;
    let (_, rooms) = server.get("/chat/chat_rooms/", ann.tok()).await;
    assert_eq!(rooms, json!([]));
    // A later start with a first room named changes nothing: it is decided on the first start.
    let dir = server.stop().await;
    let server = spawn_in(dir, |args| args.default_room = "lobby".into()).await;
    let bob = account(&server, "bob").await;
    let (_, rooms) = server.get("/chat/chat_rooms/", bob.tok()).await;
    assert_eq!(rooms, json!([]));
    assert!(directory(&server, &bob, "").await.is_empty());
}

#[tokio::test]
async fn the_first_room_is_named_by_the_flag_and_may_be_renamed_or_left() {
    let server = spawn_with(|args| args.default_room = "Lobby".into()).await;
    let ann = account(&server, "ann").await;
    let lobby = id_of(&array(&server.get("/chat/chat_rooms/", ann.tok()).await.1)[0]);
    assert_eq!(get_room(&server, &ann, lobby).await["name"], "Lobby");
    // The owner renames it: still the room new accounts join.
    patch(&server, &ann, lobby, json!({"name": "Hall"})).await;
    let bob = account(&server, "bob").await;
    assert_eq!(get_room(&server, &bob, lobby).await["name"], "Hall");
    // Everyone leaves: it is gone, and new accounts join nothing.
    for who in [&ann, &bob] {
        let (status, _) = server.delete(&format!("/chat/chat_rooms/{lobby}/members/{}", who.id), who.tok()).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    let carl = account(&server, "carl").await;
    assert_eq!(server.get("/chat/chat_rooms/", carl.tok()).await.1, json!([]));
    // A restart does not bring it back.
    let dir = server.stop().await;
    let server = spawn_in(dir, |_| {}).await;
    let dan = account(&server, "dan").await;
    assert_eq!(server.get("/chat/chat_rooms/", dan.tok()).await.1, json!([]));
}

#[tokio::test]
async fn accounts_made_before_the_first_start_join_the_first_room() {
    let data = tempfile::tempdir().expect("a temporary data folder");
    // The operator makes the first accounts before ever starting the server.
    for name in ["root", "rita"] {
        natter_user_ok(
            data.path(),
            &["add", name, "--email", &format!("{name}@example.com"), "--password", common::PASSWORD],
        )
        .await;
    }
    let server = spawn_in(data, |_| {}).await;
    let (token, _) = server.token("rita").await;
    let (_, rooms) = server.get("/chat/chat_rooms/", Some(&token)).await;
    let rooms = array(&rooms);
    assert_eq!(rooms.len(), 1, "{rooms:?}");
    assert_eq!(rooms[0]["name"], "general");
    assert_eq!(rooms[0]["owner_id"], 1, "the first account owns it: {}", rooms[0]);
    assert_eq!(member_ids(&rooms[0]), [1, 2]);
}

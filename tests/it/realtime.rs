//! SPEC §4 Socket.IO against a real server over real WebSockets: connect auth, `chat_message`
//! acks and broadcasts, ordering, idempotency, presence, typing, live membership, REST-driven
//! events, read markers, bad input, limits, token expiry and reconnect catch-up.
//!
//! Absence ("X must not get Y") is proved with ordering markers wherever possible: the server
//! emits every domain event in commit order, so once a later marker event has arrived, an
//! earlier unwanted one would have been queued before it.

use std::collections::BTreeSet;
use std::time::Duration;

use natter::config::Rate;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{
    Account, account, alice_and_bob, connect, emit_message, get_room, history, post_message, room,
};
use crate::common::sio::{self, ABSENCE, Client, ConnectError, Options, TIMEOUT};
use crate::common::spec::{assert_message_from, keys, set};
use crate::common::{
    TestServer, assert_error_ack, is_spec_time, jwt_claims, jwt_secret, natter_user_ok, next_clock_second,
    past_issue_second, sign_jwt, spawn, spawn_with, unix_now, wait_past_second,
};

// ---- helpers ----

fn refused_data(result: Result<Client, ConnectError>, what: &str) -> Value {
    match result {
        Err(ConnectError::Refused(data)) => data,
        Err(e) => panic!("{what}: expected connect_error, got {e}"),
        Ok(client) => panic!("{what}: connected (sid {}) but must be refused", client.sid),
    }
}

// ---- connect auth ----

#[tokio::test]
async fn connect_accepts_the_token_in_auth_query_or_bearer_header() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let room_id = room(&server, &alice, "general", &[]).await;

    let by_auth = sio::connect(&server.base, Options::token(&alice.token)).await;
    let by_query = sio::connect(&server.base, Options::query_token(&alice.token)).await;
    let by_header = sio::connect(&server.addr.to_string(), Options::bearer_header(&alice.token)).await;
    for (how, client) in [("auth.token", by_auth), ("?token=", by_query), ("Authorization header", by_header)] {
        let client = client.unwrap_or_else(|e| panic!("connect with {how}: {e}"));
        assert!(!client.sid.is_empty(), "{how}: CONNECT answer has a sid");
        // The socket speaks for alice: a message it sends is hers.
        let message = emit_message(&client, room_id, &format!("via {how}")).await;
        assert_message_from(&message, room_id, &alice, &format!("via {how}"));
    }
}

#[tokio::test]
async fn connect_refuses_missing_and_bad_tokens_with_unauthorized() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let secret = jwt_secret(server.data_dir());
    let now = unix_now();
    let sub = alice.id.to_string();
    let good = sign_jwt(&secret, &json!({ "sub": sub, "iat": now, "exp": now + 3600 }));
    let expired = sign_jwt(&secret, &json!({ "sub": sub, "iat": now, "exp": now - 60 }));
    let wrong_key =
        sign_jwt(b"not-the-server-secret-not-the-server-secret", &json!({ "sub": sub, "iat": now, "exp": now + 3600 }));
    let unknown_user = sign_jwt(&secret, &json!({ "sub": "999999", "iat": now, "exp": now + 3600 }));
    let header = common::b64url_encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = common::b64url_encode(json!({ "sub": sub, "iat": now, "exp": now + 3600 }).to_string().as_bytes());
    let alg_none = format!("{header}.{payload}.");

    // Control: a token signed like the server's own is accepted, so the refusals below are
    // about what is wrong with each token, not about self-signed tokens as such.
    sio::connect_token(&server.base, &good).await.expect("a well-signed token connects");

    let unauthorized = json!({ "message": "unauthorized" });
    // (what, auth object, ?token=, Authorization: Bearer)
    type Case<'a> = (&'a str, Option<Value>, Option<&'a str>, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("no token at all", None, None, None),
        ("empty auth object", Some(json!({})), None, None),
        ("auth.token not a string", Some(json!({ "token": 12345 })), None, None),
        ("garbage auth.token", Some(json!({ "token": "garbage" })), None, None),
        ("expired auth.token", Some(json!({ "token": expired })), None, None),
        ("wrongly signed auth.token", Some(json!({ "token": wrong_key })), None, None),
        ("alg none auth.token", Some(json!({ "token": alg_none })), None, None),
        ("token for a user that does not exist", Some(json!({ "token": unknown_user })), None, None),
        ("garbage ?token=", None, Some("garbage"), None),
        ("expired ?token=", None, Some(&expired), None),
        ("garbage bearer header", None, None, Some("garbage")),
        ("wrongly signed bearer header", None, None, Some(&wrong_key)),
    ];
    for (what, auth, query, header) in cases {
        let data = refused_data(
            sio::connect(
                &server.base,
                Options { auth, query_token: query, bearer_header: header, ..Options::default() },
            )
            .await,
            what,
        );
        assert_eq!(data, unauthorized, "{what}: connect_error data");
    }
}

// ---- chat_message ----

#[tokio::test]
async fn chat_message_is_acked_stored_and_pushed_to_every_member_socket_only() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let general = room(&server, &alice, "general", &[&bob]).await;
    let side = room(&server, &alice, "side", &[&carol]).await;

    let alice_tab1 = connect(&server, &alice).await;
    let alice_tab2 = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;
    let carol_socket = connect(&server, &carol).await;

    let ack = alice_tab1.emit_with_ack("chat_message", json!({ "room_id": general, "content": "hello" })).await;
    assert_eq!(keys(&ack), set(&["ok", "message"]), "ack shape: {ack}");
    assert_eq!(ack["ok"], true, "{ack}");
    let message = &ack["message"];
    assert_message_from(message, general, &alice, "hello");
    assert!(message["client_id"].is_null(), "{message}");

    // Stored before the ack: history has it already.
    let stored = history(&server, &bob, general, "").await;
    assert_eq!(stored.last(), Some(message), "history right after the ack");

    // To every socket of every member, the sender's own sockets included.
    for (who, socket) in [("alice tab 1", &alice_tab1), ("alice tab 2", &alice_tab2), ("bob", &bob_socket)] {
        assert_eq!(&socket.wait_for("chat_response").await, message, "{who}'s chat_response");
    }

    // Not to carol: the next chat_response she gets is the one in the room she is in.
    let marker = emit_message(&alice_tab1, side, "marker").await;
    let first = carol_socket.wait_for("chat_response").await;
    assert_eq!(first, marker, "carol's first chat_response must be the marker, not the general message");
}

#[tokio::test]
async fn chat_message_accepts_the_older_field_names_room_and_message() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    let ack = alice_socket.emit_with_ack("chat_message", json!({ "room": general, "message": "old style" })).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_message_from(&ack["message"], general, &alice, "old style");
    assert_eq!(bob_socket.wait_for("chat_response").await, ack["message"]);

    // Older clients also send sender and timestamp; the server sets both itself.
    let ack = alice_socket
        .emit_with_ack(
            "chat_message",
            json!({ "room": general, "message": "with extras", "sender": bob.id, "timestamp": "2001-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_message_from(&ack["message"], general, &alice, "with extras");
    assert_ne!(ack["message"]["created_at"], "2001-01-01T00:00:00Z");

    // Both names at once: the current ones win.
    let both = json!({ "room_id": general, "room": 999_999, "content": "new name", "message": "old name" });
    let ack = alice_socket.emit_with_ack("chat_message", both).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_message_from(&ack["message"], general, &alice, "new name");
}

#[tokio::test]
async fn concurrent_senders_every_receiver_gets_every_message_once_in_id_order() {
    const USERS: usize = 6;
    const EACH: usize = 40;
    let server = spawn().await;
    let mut accounts = Vec::new();
    for i in 0..USERS {
        accounts.push(account(&server, &format!("user{i}")).await);
    }
    let others: Vec<&Account> = accounts[1..].iter().collect();
    let room_id = room(&server, &accounts[0], "busy", &others).await;
    let mut clients = Vec::new();
    for who in &accounts {
        clients.push(connect(&server, who).await);
    }

    // Everyone sends at once; each sender waits for its ack before its next message.
    let sends = clients.iter().enumerate().map(|(i, client)| async move {
        let mut ids = Vec::new();
        for n in 0..EACH {
            ids.push(emit_message(client, room_id, &format!("user{i} #{n}")).await["id"].as_i64().expect("id"));
        }
        ids
    });
    let acked: Vec<Vec<i64>> = futures_util::future::join_all(sends).await;
    for ids in &acked {
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "one sender's acked ids increase: {ids:?}");
    }
    let all_acked: BTreeSet<i64> = acked.iter().flatten().copied().collect();
    assert_eq!(all_acked.len(), USERS * EACH, "every message got its own id");

    for (i, client) in clients.iter().enumerate() {
        let mut seen = Vec::with_capacity(USERS * EACH);
        for _ in 0..USERS * EACH {
            seen.push(client.wait_for("chat_response").await["id"].as_i64().expect("id"));
        }
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "user{i} must see chat_responses in strictly increasing id order: {seen:?}"
        );
        assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), all_acked, "user{i} sees exactly the acked messages");
    }

    // Exactly once: after the 240, the next chat_response everyone gets is a fresh marker.
    let marker = emit_message(&clients[0], room_id, "marker").await;
    for (i, client) in clients.iter().enumerate() {
        assert_eq!(
            client.wait_for("chat_response").await["id"],
            marker["id"],
            "user{i}: no duplicate before the marker"
        );
    }
}

#[tokio::test]
async fn client_id_retry_returns_the_first_message_and_broadcasts_nothing() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    let payload = json!({ "room_id": general, "content": "once", "client_id": "c-1" });
    let first = alice_socket.emit_with_ack("chat_message", payload.clone()).await;
    assert_eq!(first["ok"], true, "{first}");
    assert_eq!(first["message"]["client_id"], "c-1", "{first}");
    assert_eq!(bob_socket.wait_for("chat_response").await, first["message"]);

    let retry = alice_socket.emit_with_ack("chat_message", payload).await;
    assert_eq!(retry["ok"], true, "{retry}");
    assert_eq!(retry["message"], first["message"], "a retry gets the first message back");

    // A REST retry with the same client_id is the same message too (200, not 201).
    let path = format!("/chat/chat_rooms/{general}/messages");
    let (status, body) =
        server.post(&path, Some(&alice.token), &json!({ "content": "once", "client_id": "c-1" })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, first["message"]);

    let marker = emit_message(&alice_socket, general, "marker").await;
    assert_eq!(bob_socket.wait_for("chat_response").await, marker, "no chat_response for either retry");
    assert_eq!(alice_socket.wait_for("chat_response").await, first["message"]);
    assert_eq!(alice_socket.wait_for("chat_response").await, marker, "the sender got no duplicate either");
    assert_eq!(history(&server, &alice, general, "").await.len(), 2, "one message stored plus the marker");
}

// ---- presence ----

#[tokio::test]
async fn presence_online_with_the_first_socket_offline_with_the_last() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let general = room(&server, &alice, "general", &[&bob, &carol]).await;
    let alice_socket = connect(&server, &alice).await;

    let bob_before = get_room(&server, &alice, general).await;
    let member = |room: &Value, id: i64| {
        room["members"].as_array().expect("members").iter().find(|m| m["id"] == id).cloned().expect("member")
    };
    assert_eq!(member(&bob_before, bob.id)["online"], false, "bob is offline before connecting");

    // Bob's first socket: alice hears he is online.
    let bob_tab1 = connect(&server, &bob).await;
    let status = alice_socket.wait_for("user_status").await;
    assert_eq!(
        keys(&status),
        set(&["user_id", "username", "display_name", "avatar_url", "online", "last_seen"]),
        "user_status shape: {status}"
    );
    assert_eq!(status["user_id"], bob.id, "{status}");
    assert_eq!(status["username"], "bob", "{status}");
    assert_eq!(status["online"], true, "{status}");
    assert!(status["last_seen"].is_null() || status["last_seen"].as_str().is_some_and(is_spec_time), "{status}");
    let now = get_room(&server, &alice, general).await;
    assert_eq!(member(&now, bob.id)["online"], true, "REST sees bob online");
    assert_eq!(member(&now, alice.id)["online"], true, "REST sees alice online with her socket");

    // A second tab is not news.
    let bob_tab2 = connect(&server, &bob).await;
    let marker = emit_message(&bob_tab2, general, "tab 2 is here").await;
    assert_eq!(alice_socket.wait_for("chat_response").await, marker);
    assert_eq!(alice_socket.queued_named("user_status"), Vec::<Value>::new(), "no user_status for a second tab");
    alice_socket.assert_no_event("user_status", ABSENCE).await;

    // get_online_users: with an ack, and without (answered by an online_users event).
    let ack = alice_socket.emit_with_ack("get_online_users", json!({ "room_id": general })).await;
    assert_eq!(keys(&ack), set(&["ok", "room_id", "users"]), "{ack}");
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(ack["room_id"], general, "{ack}");
    let online: BTreeSet<i64> =
        ack["users"].as_array().expect("users").iter().map(|u| u["id"].as_i64().expect("id")).collect();
    assert_eq!(online, BTreeSet::from([alice.id, bob.id]), "online members (carol is offline): {ack}");
    for user in ack["users"].as_array().expect("users") {
        assert_eq!(
            keys(user),
            set(&["id", "username", "online", "last_seen", "display_name", "avatar_url", "is_bot"]),
            "UserPublic: {user}"
        );
        assert_eq!(user["online"], true, "{user}");
    }
    alice_socket.emit("get_online_users", json!({ "room_id": general })).await.expect("emit");
    assert_eq!(alice_socket.wait_for("online_users").await, ack, "online_users event has the ack's body");

    // Closing one of two tabs: still online.
    bob_tab1.close().await;
    assert!(bob_tab1.wait_closed(TIMEOUT).await, "the server closes its side of tab 1");
    let marker = emit_message(&bob_tab2, general, "tab 1 is gone").await;
    assert_eq!(alice_socket.wait_for("chat_response").await, marker);
    alice_socket.assert_no_event("user_status", ABSENCE).await;
    assert_eq!(member(&get_room(&server, &alice, general).await, bob.id)["online"], true, "one tab left: online");

    // The last tab: offline, with last_seen now and persisted.
    bob_tab2.close().await;
    let status = alice_socket.wait_for("user_status").await;
    assert_eq!(status["user_id"], bob.id, "{status}");
    assert_eq!(status["username"], "bob", "{status}");
    assert_eq!(status["online"], false, "{status}");
    let last_seen = status["last_seen"].as_str().unwrap_or_else(|| panic!("offline last_seen: {status}"));
    let age = time::OffsetDateTime::now_utc() - common::parse_time(last_seen);
    assert!(age.whole_seconds().abs() < 60, "last_seen {last_seen} is not now");
    let bob_after = member(&get_room(&server, &alice, general).await, bob.id);
    assert_eq!(bob_after["online"], false, "REST: bob is offline: {bob_after}");
    assert_eq!(bob_after["last_seen"], last_seen, "REST: last_seen persisted: {bob_after}");

    // Bob comes back: his own socket never hears about himself, only about others.
    let bob_again = connect(&server, &bob).await;
    let status = alice_socket.wait_for("user_status").await;
    assert_eq!((status["user_id"].as_i64(), &status["online"]), (Some(bob.id), &json!(true)), "{status}");
    let carol_socket = connect(&server, &carol).await;
    let about_carol = bob_again.wait_for("user_status").await;
    assert_eq!(about_carol["user_id"], carol.id, "bob's first user_status is about carol: {about_carol}");
    let marker = emit_message(&carol_socket, general, "carol is here").await;
    assert_eq!(carol_socket.wait_for("chat_response").await, marker);
    carol_socket.assert_no_event("user_status", ABSENCE).await;
}

/// `viewer`'s user search for `username`: that user's UserPublic.
async fn found_by_search(server: &TestServer, viewer: &Account, username: &str) -> Value {
    let (status, body) = server.get(&format!("/auth/users/?q={username}"), viewer.tok()).await;
    assert_eq!(status, StatusCode::OK, "search as {}: {body}", viewer.name);
    let found = body.as_array().and_then(|list| list.iter().find(|u| u["username"] == username)).cloned();
    let user = found.unwrap_or_else(|| panic!("{username} not found by {}: {body}", viewer.name));
    assert_eq!(
        keys(&user),
        set(&["id", "username", "online", "last_seen", "display_name", "avatar_url", "is_bot"]),
        "UserPublic: {user}"
    );
    user
}

/// The issue's finding: the user search showed `online` and `last_seen` of people the caller
/// shares no room with, who never get their `user_status`.
#[tokio::test]
async fn user_search_shows_presence_only_to_people_who_share_a_room() {
    let server = common::spawn_without_first_room().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let together = room(&server, &alice, "together", &[&bob]).await;
    let alice_socket = connect(&server, &alice).await;

    // Bob comes and goes once (so that he has a last_seen), then comes back.
    let bob_socket = connect(&server, &bob).await;
    assert_eq!(alice_socket.wait_for("user_status").await["online"], true);
    bob_socket.close().await;
    let went = alice_socket.wait_for("user_status").await;
    assert_eq!(went["online"], false, "{went}");
    let last_seen = went["last_seen"].as_str().expect("a last_seen").to_string();
    let _bob_socket = connect(&server, &bob).await;
    assert_eq!(alice_socket.wait_for("user_status").await["online"], true);

    // Alice shares a room with bob: she sees him online, and when he was last seen.
    let seen = found_by_search(&server, &alice, "bob").await;
    assert_eq!((&seen["online"], seen["last_seen"].as_str()), (&json!(true), Some(last_seen.as_str())), "{seen}");
    // Carol shares none: the same fields, no presence.
    let seen = found_by_search(&server, &carol, "bob").await;
    assert_eq!(seen["id"], bob.id);
    assert_eq!((&seen["online"], &seen["last_seen"]), (&json!(false), &Value::Null), "a stranger's view: {seen}");

    // Once carol is in a room with him, she sees what alice sees.
    let (status, body) = server
        .post(&format!("/chat/chat_rooms/{together}/members"), alice.tok(), &json!({ "username": "carol" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let seen = found_by_search(&server, &carol, "bob").await;
    assert_eq!((&seen["online"], seen["last_seen"].as_str()), (&json!(true), Some(last_seen.as_str())), "{seen}");
}

#[tokio::test]
async fn get_online_users_for_a_room_the_user_is_not_in_is_not_found() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let secret_room = room(&server, &alice, "secret", &[]).await;
    let bob_socket = connect(&server, &bob).await;
    for payload in [json!({ "room_id": secret_room }), json!({ "room_id": 999_999 })] {
        let ack = bob_socket.emit_with_ack("get_online_users", payload.clone()).await;
        assert_error_ack(&ack, "not_found", &format!("get_online_users {payload}"));
    }
    let ack = bob_socket.emit_with_ack("get_online_users", json!("nope")).await;
    assert_error_ack(&ack, "validation_error", "get_online_users with a string");
}

// ---- typing ----

#[tokio::test]
async fn typing_goes_to_the_other_members_only() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let general = room(&server, &alice, "general", &[&bob]).await;
    let side = room(&server, &carol, "side", &[&alice, &bob]).await;
    let alice_tab1 = connect(&server, &alice).await;
    let alice_tab2 = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;
    let carol_socket = connect(&server, &carol).await;

    alice_tab1.emit("typing", json!({ "room_id": general, "typing": true })).await.expect("emit typing");
    let typing = bob_socket.wait_for("typing").await;
    assert_eq!(typing, json!({ "room_id": general, "user_id": alice.id, "username": "alice", "typing": true }));
    alice_tab1.emit("typing", json!({ "room_id": general, "typing": false })).await.expect("emit typing");
    let typing = bob_socket.wait_for("typing").await;
    assert_eq!(typing["typing"], false, "{typing}");

    // Markers: bob types in the side room, which every socket here is in.
    bob_socket.emit("typing", json!({ "room_id": side, "typing": true })).await.expect("emit typing");
    for (who, socket) in [("alice tab 1", &alice_tab1), ("alice tab 2", &alice_tab2), ("carol", &carol_socket)] {
        let first = socket.wait_for("typing").await;
        assert_eq!(first["user_id"], bob.id, "{who}: the first typing event must be bob's marker, got {first}");
        assert_eq!(first["room_id"], side, "{who}: {first}");
    }
    assert_eq!(bob_socket.queued_named("typing"), Vec::<Value>::new(), "the typer gets no echo");
}

// ---- live membership ----

#[tokio::test]
async fn adding_and_removing_a_member_updates_their_connected_sockets_at_once() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let carol = account(&server, "carol").await;
    let general = room(&server, &alice, "general", &[]).await;
    let side = room(&server, &alice, "side", &[&carol]).await;
    let alice_socket = connect(&server, &alice).await;
    let carol_tab1 = connect(&server, &carol).await;
    let carol_tab2 = connect(&server, &carol).await;

    let (status, body) = server
        .post(&format!("/chat/chat_rooms/{general}/members"), Some(&alice.token), &json!({ "username": "carol" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for (who, socket) in [("carol tab 1", &carol_tab1), ("carol tab 2", &carol_tab2)] {
        let added = socket.wait_for("room_added").await;
        assert_eq!(added["id"], general, "{who}: room_added {added}");
        assert_eq!(added["name"], "general", "{who}: {added}");
        assert_eq!(added["is_private"], false, "{who}: {added}");
        let members: BTreeSet<i64> =
            added["members"].as_array().expect("members").iter().map(|m| m["id"].as_i64().expect("id")).collect();
        assert_eq!(members, BTreeSet::from([alice.id, carol.id]), "{who}: {added}");
    }
    assert_eq!(alice_socket.queued_named("room_added"), Vec::<Value>::new(), "only the added user gets room_added");

    // The sockets joined the room: the next message reaches carol, and carol can post there.
    let message = emit_message(&alice_socket, general, "welcome carol").await;
    assert_eq!(carol_tab1.wait_for("chat_response").await, message);
    assert_eq!(carol_tab2.wait_for("chat_response").await, message);
    let reply = emit_message(&carol_tab1, general, "thanks").await;
    assert_eq!(alice_socket.wait_for("chat_response").await, message);
    assert_eq!(alice_socket.wait_for("chat_response").await, reply);

    let (status, body) =
        server.delete(&format!("/chat/chat_rooms/{general}/members/{}", carol.id), Some(&alice.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for (who, socket) in [("carol tab 1", &carol_tab1), ("carol tab 2", &carol_tab2)] {
        assert_eq!(socket.wait_for("room_removed").await, json!({ "room_id": general }), "{who}");
    }

    // Left at once: no more messages from that room, and posting there is not_found.
    emit_message(&alice_socket, general, "carol is gone").await;
    let marker = emit_message(&alice_socket, side, "marker").await;
    for (who, socket) in [("carol tab 1", &carol_tab1), ("carol tab 2", &carol_tab2)] {
        assert_eq!(socket.wait_for("chat_response").await, reply, "{who}: her own reply, sent while a member");
        assert_eq!(socket.wait_for("chat_response").await, marker, "{who}: nothing from general after removal");
    }
    let ack = carol_tab1.emit_with_ack("chat_message", json!({ "room_id": general, "content": "let me in" })).await;
    assert_error_ack(&ack, "not_found", "posting to a room carol was removed from");
}

#[tokio::test]
async fn opening_a_private_chat_while_connected_joins_both_users() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    let (status, chat) = server.post("/chat/private_chats/", Some(&alice.token), &json!({ "username": "bob" })).await;
    assert_eq!(status, StatusCode::CREATED, "{chat}");
    let chat_id = chat["id"].as_i64().expect("id");
    for (who, socket) in [("alice", &alice_socket), ("bob", &bob_socket)] {
        let added = socket.wait_for("room_added").await;
        assert_eq!(added["id"], chat_id, "{who}: {added}");
        assert_eq!(added["is_private"], true, "{who}: {added}");
    }
    let message = emit_message(&alice_socket, chat_id, "psst").await;
    assert_eq!(bob_socket.wait_for("chat_response").await, message);
    assert_eq!(alice_socket.wait_for("chat_response").await, message);

    // A private chat that existed before connecting is joined on connect.
    drop(bob_socket);
    let bob_socket = connect(&server, &bob).await;
    let message = emit_message(&alice_socket, chat_id, "still there?").await;
    assert_eq!(bob_socket.wait_for("chat_response").await, message);
}

// ---- REST-driven events ----

#[tokio::test]
async fn rest_post_edit_and_delete_are_pushed_like_socket_events() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    let posted = post_message(&server, &alice, general, "from REST").await;
    assert_eq!(bob_socket.wait_for("chat_response").await, posted);
    assert_eq!(alice_socket.wait_for("chat_response").await, posted, "the sender's own socket too");

    let id = posted["id"].as_i64().expect("id");
    let (status, edited) =
        server.patch(&format!("/chat/messages/{id}"), Some(&alice.token), &json!({ "content": "edited" })).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert!(edited["edited_at"].as_str().is_some_and(is_spec_time), "{edited}");
    for (who, socket) in [("alice", &alice_socket), ("bob", &bob_socket)] {
        let updated = socket.wait_for("message_updated").await;
        assert_eq!(updated, edited, "{who}: message_updated is the edited Message");
        assert_eq!(updated["content"], "edited");
    }

    let (status, body) = server.delete(&format!("/chat/messages/{id}"), Some(&alice.token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    for (who, socket) in [("alice", &alice_socket), ("bob", &bob_socket)] {
        assert_eq!(socket.wait_for("message_deleted").await, json!({ "id": id, "room_id": general }), "{who}");
    }
}

// ---- mark_read ----

#[tokio::test]
async fn mark_read_by_ack_moves_the_unread_count() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(emit_message(&bob_socket, general, &format!("unread {n}")).await["id"].clone());
    }
    assert_eq!(get_room(&server, &alice, general).await["unread_count"], 3);

    let ack = alice_socket.emit_with_ack("mark_read", json!({ "room_id": general, "message_id": ids[1] })).await;
    assert_eq!(ack, json!({ "ok": true }));
    assert_eq!(get_room(&server, &alice, general).await["unread_count"], 1, "read up to the second message");

    let ack = alice_socket.emit_with_ack("mark_read", json!({ "room_id": general, "message_id": ids[2] })).await;
    assert_eq!(ack, json!({ "ok": true }));
    assert_eq!(get_room(&server, &alice, general).await["unread_count"], 0);

    let outsider_room = room(&server, &bob, "bob alone", &[]).await;
    let ack = alice_socket.emit_with_ack("mark_read", json!({ "room_id": outsider_room, "message_id": ids[2] })).await;
    assert_error_ack(&ack, "not_found", "mark_read in a room alice is not in");
    let ack = alice_socket.emit_with_ack("mark_read", json!({ "room_id": general })).await;
    assert_error_ack(&ack, "validation_error", "mark_read without message_id");
}

// ---- bad input ----

#[tokio::test]
async fn bad_chat_messages_get_error_acks_store_nothing_and_keep_the_connection() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let bobs_room = room(&server, &bob, "bob only", &[]).await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    let validation: Vec<(&str, Value)> = vec![
        ("a string payload", json!("a string")),
        ("an array payload", json!([general, "hi"])),
        ("a number payload", json!(42)),
        ("a null payload", Value::Null),
        ("no content", json!({ "room_id": general })),
        ("no room_id", json!({ "content": "hi" })),
        ("empty content", json!({ "room_id": general, "content": "" })),
        ("blank content", json!({ "room_id": general, "content": " \n\t " })),
        ("content of 4001 characters", json!({ "room_id": general, "content": "x".repeat(4001) })),
        ("content not a string", json!({ "room_id": general, "content": 7 })),
        ("non-numeric room_id", json!({ "room_id": "abc", "content": "hi" })),
        ("room_id an object", json!({ "room_id": { "id": general }, "content": "hi" })),
        ("client_id of 65 characters", json!({ "room_id": general, "content": "hi", "client_id": "c".repeat(65) })),
    ];
    for (what, payload) in validation {
        let ack = alice_socket.emit_with_ack("chat_message", payload).await;
        assert_error_ack(&ack, "validation_error", what);
    }
    // No data at all: `42<id>["chat_message"]`.
    let id = alice_socket.next_ack_id();
    let ack = alice_socket.request_raw(id, &format!("42{id}[\"chat_message\"]"), TIMEOUT).await.expect("an ack");
    assert_error_ack(&ack, "validation_error", "no payload at all");

    for (what, room_id) in [("an unknown room", 999_999), ("a room alice is not in", bobs_room)] {
        let ack = alice_socket.emit_with_ack("chat_message", json!({ "room_id": room_id, "content": "hi" })).await;
        assert_error_ack(&ack, "not_found", what);
    }
    // Ids are positive: either answer is fair for a negative one, as long as it is an error.
    let ack = alice_socket.emit_with_ack("chat_message", json!({ "room_id": -1, "content": "hi" })).await;
    let code = ack["error"]["code"].as_str().unwrap_or_default();
    assert!(["validation_error", "not_found"].contains(&code), "negative room_id: {ack}");
    assert_error_ack(&ack, code, "negative room_id");
    // Unknown events and bad payloads of other events are harmless too.
    alice_socket.emit("no_such_event", json!({ "x": 1 })).await.expect("emit");
    alice_socket.emit("typing", json!("not an object")).await.expect("emit");
    alice_socket.emit_raw("42[\"chat_message\",\"no ack asked\"]").await.expect("emit raw");

    // Still connected and working; nothing of the above was stored or broadcast.
    let content_4000 = format!("  {}  ", "y".repeat(4000));
    let ok = emit_message(&alice_socket, general, &content_4000).await;
    assert_eq!(ok["content"], content_4000.as_str(), "4000 characters after trimming are fine, stored as sent");
    assert!(!alice_socket.is_closed());
    assert_eq!(bob_socket.wait_for("chat_response").await, ok, "nothing was broadcast before the valid message");
    assert_eq!(history(&server, &alice, general, "").await, vec![ok], "only the valid message is stored");
    assert_eq!(history(&server, &bob, bobs_room, "").await, Vec::<Value>::new());
}

#[tokio::test]
async fn chat_message_is_rate_limited_per_user() {
    let server = spawn_with(|args| args.message_rate = Rate { count: 5, per: Duration::from_secs(60) }).await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let alice_tab1 = connect(&server, &alice).await;
    let alice_tab2 = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    for n in 0..5 {
        let tab = if n % 2 == 0 { &alice_tab1 } else { &alice_tab2 };
        emit_message(tab, general, &format!("allowed {n}")).await;
    }
    // Per user, not per socket: the 6th from either tab is refused.
    for tab in [&alice_tab1, &alice_tab2] {
        let ack = tab.emit_with_ack("chat_message", json!({ "room_id": general, "content": "one too many" })).await;
        assert_error_ack(&ack, "rate_limited", "the 6th message within the minute");
    }
    assert_eq!(history(&server, &alice, general, "").await.len(), 5, "the refused messages were not stored");
    // Other users have their own budget.
    emit_message(&bob_socket, general, "bob is fine").await;
    assert!(!alice_tab1.is_closed(), "rate limiting does not drop the connection");
}

#[tokio::test]
async fn oversized_socket_packets_are_refused_and_store_nothing() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let general = room(&server, &alice, "general", &[]).await;
    let alice_socket = connect(&server, &alice).await;
    let cap = server.state.config.max_socket_payload as usize;

    // Valid content, padded past the cap with a field the server ignores: only the size is wrong.
    let payload = json!({ "room_id": general, "content": "big packet", "padding": "p".repeat(cap + 36 * 1024) });
    let outcome = alice_socket.request("chat_message", payload, TIMEOUT).await;
    match &outcome {
        Err(sio::SioError::Closed(why)) => eprintln!("oversized packet: the server closed the connection ({why})"),
        Ok(ack) => {
            eprintln!("oversized packet: ack {ack}");
            assert_eq!(
                ack["ok"], false,
                "a packet over --max-socket-payload ({cap} bytes) must not be accepted: {ack}"
            );
        }
        Err(e) => panic!("oversized packet: neither an error ack nor a close: {e}"),
    }
    assert_eq!(history(&server, &alice, general, "").await, Vec::<Value>::new(), "nothing stored");
}

#[tokio::test]
async fn a_socket_whose_token_expired_is_disconnected_at_its_next_event() {
    let server = spawn_with(|args| args.token_ttl = Duration::from_secs(3)).await;
    let body = server.signup_only("alice").await;
    let id = body["id"].as_i64().expect("id");
    // A long-lived token, signed like the server's, for the REST setup.
    let now = unix_now();
    let long =
        sign_jwt(&jwt_secret(server.data_dir()), &json!({ "sub": id.to_string(), "iat": now, "exp": now + 3600 }));
    let alice = Account { token: long, id, name: "alice".into() };
    let general = room(&server, &alice, "general", &[]).await;

    // Issued at the start of a clock second, the short token is good for almost all of its 3 s:
    // time enough to connect and send once.
    next_clock_second().await;
    let (short, _) = server.token("alice").await;
    let exp = jwt_claims(&short)["exp"].as_i64().expect("exp");
    let socket = sio::connect_token(&server.base, &short).await.expect("connect with the fresh token");
    let ack = socket.emit_with_ack("chat_message", json!({ "room_id": general, "content": "in time" })).await;
    assert_eq!(ack["ok"], true, "a message while the token is good: {ack}");
    assert!(unix_now() < exp, "the first message was sent before the token expired");

    wait_past_second(exp).await;
    let late = socket.emit_with_ack("chat_message", json!({ "room_id": general, "content": "too late" })).await;
    assert_error_ack(&late, "unauthorized", "a message with an expired token");
    assert!(socket.wait_closed(TIMEOUT).await, "the socket is disconnected after its token expired");
    let stored: Vec<Value> = history(&server, &alice, general, "").await;
    let contents: Vec<&str> = stored.iter().filter_map(|m| m["content"].as_str()).collect();
    assert_eq!(contents, ["in time"], "nothing posted with the expired token");

    // And the expired token cannot connect again.
    let data = refused_data(sio::connect_token(&server.base, &short).await, "reconnect with the expired token");
    assert_eq!(data, json!({ "message": "unauthorized" }));
}

#[tokio::test]
async fn a_listening_socket_is_disconnected_when_its_account_is_disabled_or_its_password_changes() {
    let server = spawn_with(|args| args.socket_recheck = Duration::from_millis(200)).await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let general = room(&server, &alice, "general", &[&bob, &carol]).await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;
    let carol_socket = connect(&server, &carol).await;

    // Both changes come from another process, as an operator would make them.
    past_issue_second(&carol.token).await;
    natter_user_ok(server.data_dir(), &["disable", "bob"]).await;
    natter_user_ok(server.data_dir(), &["passwd", "carol", "--password", "newpassword1"]).await;
    // Neither socket sends anything: the periodic re-check has to find them.
    assert!(bob_socket.wait_closed(TIMEOUT).await, "bob's socket is closed once his account is disabled");
    assert!(carol_socket.wait_closed(TIMEOUT).await, "carol's socket is closed once her password changed");

    // Control: alice's account did not change; her socket survived those rounds and still works.
    assert!(!alice_socket.is_closed(), "alice's socket stays");
    let message = emit_message(&alice_socket, general, "still here").await;
    assert_eq!(alice_socket.wait_for("chat_response").await["id"], message["id"]);
}

#[tokio::test]
async fn a_socket_is_disconnected_at_its_next_event_once_its_account_is_disabled() {
    // Re-checks off: the event itself must notice.
    let server = spawn_with(|args| args.socket_recheck = Duration::ZERO).await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let bob_socket = connect(&server, &bob).await;
    emit_message(&bob_socket, general, "before").await;

    natter_user_ok(server.data_dir(), &["disable", "bob"]).await;
    let ack = bob_socket.emit_with_ack("chat_message", json!({ "room_id": general, "content": "after" })).await;
    assert_error_ack(&ack, "unauthorized", "chat_message from a disabled account");
    assert!(bob_socket.wait_closed(TIMEOUT).await, "the socket is disconnected after the refused event");
    let stored: Vec<Value> = history(&server, &alice, general, "").await;
    let contents: Vec<&str> = stored.iter().filter_map(|m| m["content"].as_str()).collect();
    assert_eq!(contents, ["before"], "nothing stored from the disabled account");
}

// ---- reconnect ----

#[tokio::test]
async fn after_a_reconnect_history_after_the_last_seen_id_catches_up() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let alice_socket = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    let seen = emit_message(&alice_socket, general, "before").await;
    assert_eq!(bob_socket.wait_for("chat_response").await, seen);
    bob_socket.close().await;
    assert!(bob_socket.wait_closed(TIMEOUT).await);

    let missed = vec![
        emit_message(&alice_socket, general, "missed 1").await,
        emit_message(&alice_socket, general, "missed 2").await,
    ];
    let bob_socket = connect(&server, &bob).await;
    let caught_up = history(&server, &bob, general, &format!("after={}", seen["id"])).await;
    assert_eq!(caught_up, missed, "history after the last seen id is exactly what was missed");
    let last = caught_up.last().expect("missed messages")["id"].clone();
    assert_eq!(history(&server, &bob, general, &format!("after={last}")).await, Vec::<Value>::new());

    let live = emit_message(&alice_socket, general, "after").await;
    assert_eq!(bob_socket.wait_for("chat_response").await, live, "the new socket is live again");
}

// ---- the CONNECT answer means ready ----

/// A client may emit as soon as it has the CONNECT answer (socket.io-client flushes its buffer
/// right then), and from then on it is in its rooms: nothing it sends or should receive is lost.
#[tokio::test]
async fn a_socket_is_fully_set_up_when_its_connect_is_answered() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let alice_socket = connect(&server, &alice).await;
    for n in 0..30 {
        let bob_socket = connect(&server, &bob).await;
        // Immediately: an event of bob's own, and a message bob must receive.
        let ack = bob_socket.request("get_online_users", json!({ "room_id": general }), TIMEOUT).await;
        let ack = ack.unwrap_or_else(|e| panic!("connection {n}: get_online_users sent right after connect: {e}"));
        assert_eq!(ack["ok"], true, "connection {n}: {ack}");
        let message = emit_message(&alice_socket, general, &format!("message {n}")).await;
        let got = bob_socket.wait_for_timeout("chat_response", TIMEOUT).await;
        assert_eq!(got.as_ref(), Some(&message), "connection {n}: the message sent right after bob connected");
    }
}

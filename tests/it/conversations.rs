//! SPEC §3 "Conversations" and §4's `read` against a real server: replies, reactions, mentions,
//! search and read receipts, over REST and Socket.IO, each rule with its exact status and code;
//! and migration 2 building the search index for a database written by an older natter.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{
    Account, account, alice_and_bob, array, connect, get_room, history, id_of, ids, mark_read, post_message, react,
    react_ok, reaction_path, reply, room, try_post,
};
use crate::common::sio::ABSENCE;
use crate::common::spec::{assert_message, assert_private_chat};
use crate::common::{TestServer, assert_error, spawn};

// ---- helpers ----

/// `[(emoji, [user ids])]` of a Message.
fn reactions_of(message: &Value) -> Vec<(String, Vec<i64>)> {
    array(&message["reactions"])
        .iter()
        .map(|r| {
            let users: Vec<i64> = array(&r["user_ids"]).iter().map(|u| u.as_i64().expect("a user id")).collect();
            assert_eq!(r["count"].as_i64(), Some(users.len() as i64), "count matches user_ids: {r}");
            (r["emoji"].as_str().expect("an emoji").to_string(), users)
        })
        .collect()
}

fn mentions_of(message: &Value) -> Vec<i64> {
    array(&message["mentions"]).iter().map(|id| id.as_i64().expect("a user id")).collect()
}

/// `GET /chat/search?{query}`; the raw answer.
async fn search(server: &TestServer, who: &Account, query: &[(&str, &str)]) -> (StatusCode, Value) {
    let request = server.request(Method::GET, "/chat/search", who.tok()).query(query);
    let (status, _, body) = common::send(request).await;
    (status, body)
}

/// A search that must answer 200 with Messages, newest first; their contents.
async fn found(server: &TestServer, who: &Account, query: &[(&str, &str)]) -> Vec<String> {
    let (status, body) = search(server, who, query).await;
    assert_eq!(status, StatusCode::OK, "search {query:?} as {}: {body}", who.name);
    let results = array(&body);
    for message in &results {
        assert_message(message);
    }
    let order = ids(&results);
    assert!(order.windows(2).all(|w| w[0] > w[1]), "search results are newest first: {order:?}");
    results.iter().map(|m| m["content"].as_str().expect("content").to_string()).collect()
}

/// The Room as `who` sees it: `unread_mentions` and each member's `last_read_id`.
async fn unread_mentions(server: &TestServer, who: &Account, room: i64) -> i64 {
    get_room(server, who, room).await["unread_mentions"].as_i64().expect("unread_mentions")
}

fn last_read_of(room: &Value, user: &Account) -> Value {
    array(&room["members"]).into_iter().find(|m| m["id"] == user.id).expect("a member")["last_read_id"].clone()
}

// ---- replies ----

#[tokio::test]
async fn a_reply_carries_its_original_in_every_message_and_in_history() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let long: String = "é".repeat(150) + &"x".repeat(150);
    let original = post_message(&server, &alice, general, &long).await;
    assert!(original["reply_to"].is_null(), "{original}");

    let answer = reply(&server, &bob, general, id_of(&original), "agreed").await;
    let reply_ref = &answer["reply_to"];
    assert_eq!(reply_ref["id"], original["id"]);
    assert_eq!(reply_ref["sender"], json!({ "id": alice.id, "username": "alice" }));
    assert_eq!(reply_ref["deleted"], false);
    let expected: String = long.chars().take(200).collect();
    assert_eq!(reply_ref["excerpt"], expected.as_str(), "the first 200 characters");

    // History shows the same ReplyRef, for every reply on the page, with one page.
    for n in 0..5 {
        reply(&server, &alice, general, id_of(&answer), &format!("nested {n}")).await;
    }
    let page = history(&server, &bob, general, "limit=50").await;
    assert_eq!(page.len(), 7);
    assert_eq!(page[1]["reply_to"], *reply_ref);
    for nested in &page[2..] {
        assert_eq!(nested["reply_to"]["id"], answer["id"], "{nested}");
        assert_eq!(nested["reply_to"]["excerpt"], "agreed");
        assert_eq!(nested["reply_to"]["sender"]["username"], "bob");
    }
    assert!(page[0]["reply_to"].is_null());

    // Over Socket.IO: `reply_to` on chat_message, in the ack and in chat_response.
    let socket = connect(&server, &alice).await;
    let ack = socket
        .emit_with_ack(
            "chat_message",
            json!({ "room_id": general, "content": "over the socket", "reply_to": original["id"] }),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    let expected_ref = json!({ "id": original["id"], "sender": { "id": alice.id, "username": "alice" }, "excerpt": expected, "deleted": false });
    assert_eq!(ack["message"]["reply_to"], expected_ref);
    let pushed = socket.wait_for("chat_response").await;
    assert_eq!(pushed, ack["message"]);
}

#[tokio::test]
async fn reply_to_must_name_a_message_of_the_same_room() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let other = room(&server, &alice, "other", &[&bob]).await;
    let elsewhere = post_message(&server, &alice, other, "in another room").await;
    let gone = post_message(&server, &alice, general, "soon deleted").await;
    let (status, _) = server.delete(&format!("/chat/messages/{}", id_of(&gone)), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    for (what, target) in [
        ("a message of another room", json!(id_of(&elsewhere))),
        ("a deleted message", json!(id_of(&gone))),
        ("a message that never existed", json!(999_999)),
        ("zero", json!(0)),
        ("a negative id", json!(-3)),
    ] {
        let (status, body) = try_post(&server, &bob, general, &json!({ "content": "re", "reply_to": target })).await;
        assert_error(status, &body, 422, "validation_error");
        assert!(body["fields"]["reply_to"].is_string(), "{what}: fields.reply_to in {body}");
    }
    let (status, body) = try_post(&server, &bob, general, &json!({ "content": "re", "reply_to": "seven" })).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["reply_to"].is_string(), "{body}");

    // The same over Socket.IO: an error ack naming the field; nothing is stored.
    let socket = connect(&server, &bob).await;
    let ack = socket
        .emit_with_ack("chat_message", json!({ "room_id": general, "content": "re", "reply_to": id_of(&elsewhere) }))
        .await;
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["error"]["code"], "validation_error");
    assert!(ack["error"]["fields"]["reply_to"].is_string(), "{ack}");
    assert!(history(&server, &bob, general, "").await.is_empty(), "nothing was stored");

    // A room the caller is not in is still 404, whatever the reply names.
    let carol = account(&server, "carol").await;
    let (status, body) =
        try_post(&server, &carol, general, &json!({ "content": "re", "reply_to": id_of(&gone) })).await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn a_reply_keeps_its_original_once_deleted_and_follows_its_edits() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let original = post_message(&server, &alice, general, "first draft").await;
    let answer = reply(&server, &bob, general, id_of(&original), "hm").await;

    let (status, edited) = server
        .patch(&format!("/chat/messages/{}", id_of(&original)), alice.tok(), &json!({ "content": "final" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let page = history(&server, &bob, general, "").await;
    assert_eq!(page[1]["reply_to"]["excerpt"], "final", "the excerpt follows the original's edit");

    let (status, _) = server.delete(&format!("/chat/messages/{}", id_of(&original)), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let page = history(&server, &bob, general, "").await;
    assert_eq!(ids(&page), vec![id_of(&answer)]);
    assert_eq!(
        page[0]["reply_to"],
        json!({ "id": original["id"], "sender": { "id": alice.id, "username": "alice" }, "excerpt": "", "deleted": true })
    );
}

// ---- reactions ----

#[tokio::test]
async fn reactions_are_idempotent_ordered_and_pushed_as_message_updated() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let message = id_of(&post_message(&server, &alice, general, "party tonight").await);
    let bob_socket = connect(&server, &bob).await;

    let once = react_ok(&server, &alice, message, "👍", Method::PUT).await;
    assert_eq!(reactions_of(&once), vec![("👍".to_string(), vec![alice.id])]);
    let updated = bob_socket.wait_for("message_updated").await;
    assert_eq!(updated, once, "message_updated carries the whole Message");

    // Again: unchanged, 200, and nobody is told.
    let twice = react_ok(&server, &alice, message, "👍", Method::PUT).await;
    assert_eq!(twice, once);

    // Others add theirs: emoji in order of first use, users in the order they reacted.
    react_ok(&server, &bob, message, "🎉", Method::PUT).await;
    react_ok(&server, &bob, message, "👍", Method::PUT).await;
    let all = react_ok(&server, &alice, message, "🎉", Method::PUT).await;
    assert_eq!(
        reactions_of(&all),
        vec![("👍".to_string(), vec![alice.id, bob.id]), ("🎉".to_string(), vec![bob.id, alice.id])]
    );
    // Three changes, three pushes (none for the repeated PUT: the first push after it is bob's 🎉).
    let mut seen = Vec::new();
    for _ in 0..3 {
        seen.push(bob_socket.wait_for("message_updated").await);
    }
    assert_eq!(reactions_of(&seen[0]), vec![("👍".to_string(), vec![alice.id]), ("🎉".to_string(), vec![bob.id])]);
    assert_eq!(seen[2], all);

    // Removing: the reaction goes; removing again changes nothing. The first use of 🎉 now
    // comes before the remaining 👍.
    let removed = react_ok(&server, &alice, message, "👍", Method::DELETE).await;
    assert_eq!(
        reactions_of(&removed),
        vec![("🎉".to_string(), vec![bob.id, alice.id]), ("👍".to_string(), vec![bob.id])]
    );
    assert_eq!(bob_socket.wait_for("message_updated").await, removed);
    let again = react_ok(&server, &alice, message, "👍", Method::DELETE).await;
    assert_eq!(again, removed);
    let never = react_ok(&server, &alice, message, "🦀", Method::DELETE).await;
    assert_eq!(never, removed);
    bob_socket.assert_no_event("message_updated", ABSENCE).await;

    // History and the room's last message show the same reactions.
    let page = history(&server, &bob, general, "").await;
    assert_eq!(page[0], removed);
    assert_eq!(get_room(&server, &bob, general).await["last_message"], removed);

    // Short codes are reactions too; the path is percent-decoded.
    let coded = react_ok(&server, &bob, message, "+1", Method::PUT).await;
    assert_eq!(reactions_of(&coded).last().map(|(e, _)| e.as_str()), Some("+1"));
}

#[tokio::test]
async fn reactions_of_a_page_belong_to_its_messages_only() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let other = room(&server, &bob, "other", &[]).await;
    // Interleaved ids: the other room's messages sit between general's.
    let mut mine = Vec::new();
    for n in 0..6 {
        mine.push(id_of(&post_message(&server, &alice, general, &format!("general {n}")).await));
        let theirs = id_of(&post_message(&server, &bob, other, &format!("other {n}")).await);
        react_ok(&server, &bob, theirs, "🙈", Method::PUT).await;
    }
    react_ok(&server, &bob, mine[1], "❤️", Method::PUT).await;
    react_ok(&server, &alice, mine[4], "🔥", Method::PUT).await;
    let page = history(&server, &alice, general, "").await;
    let shown: Vec<Vec<(String, Vec<i64>)>> = page.iter().map(reactions_of).collect();
    let mut expected = vec![Vec::new(); 6];
    expected[1] = vec![("❤️".to_string(), vec![bob.id])];
    expected[4] = vec![("🔥".to_string(), vec![alice.id])];
    assert_eq!(shown, expected);
    // Paged windows too.
    let older = history(&server, &alice, general, &format!("before={}&limit=3", mine[3])).await;
    assert_eq!(older.iter().map(reactions_of).collect::<Vec<_>>(), expected[..3].to_vec());
}

#[tokio::test]
async fn reactions_from_outsiders_are_not_found() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let mallory = account(&server, "mallory").await;
    let general = room(&server, &alice, "general", &[]).await;
    let message = id_of(&post_message(&server, &alice, general, "members only").await);
    for method in [Method::PUT, Method::DELETE] {
        let (status, body) = react(&server, &mallory, message, "👍", method.clone()).await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = react(&server, &alice, 999_999, "👍", method.clone()).await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = react(&server, &alice, message, "👍", method.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = server.call(method, &reaction_path(message, "👍"), None, None).await;
        assert_error(status, &body, 401, "unauthorized");
    }
    let page = history(&server, &alice, general, "").await;
    assert!(page[0]["reactions"].as_array().unwrap().is_empty(), "{}", page[0]);
}

#[tokio::test]
async fn emoji_must_be_1_to_32_characters_without_spaces() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let general = room(&server, &alice, "general", &[]).await;
    let message = id_of(&post_message(&server, &alice, general, "react to me").await);
    let longest = "🙂".repeat(32);
    react_ok(&server, &alice, message, &longest, Method::PUT).await;
    for bad in
        ["🙂".repeat(33), "x".repeat(33), "a b".into(), "👍 ".into(), "\t".into(), "a\u{0}b".into(), "\u{7f}".into()]
    {
        for method in [Method::PUT, Method::DELETE] {
            let (status, body) = react(&server, &alice, message, &bad, method).await;
            assert_error(status, &body, 422, "validation_error");
            assert!(body["fields"]["emoji"].is_string(), "{bad:?}: fields.emoji in {body}");
        }
    }
    // Bytes that are not UTF-8 are no emoji either, and still get the SPEC's error body.
    let (status, body) =
        server.call(Method::PUT, &format!("/chat/messages/{message}/reactions/%FF%FE"), alice.tok(), None).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["emoji"].is_string(), "{body}");
    let page = history(&server, &alice, general, "").await;
    assert_eq!(reactions_of(&page[0]), vec![(longest, vec![alice.id])]);
}

#[tokio::test]
async fn a_message_holds_at_most_twenty_distinct_reactions() {
    let server = spawn().await;
    let (alice, bob, general) = alice_and_bob(&server).await;
    let message = id_of(&post_message(&server, &alice, general, "so many feelings").await);
    let emoji: Vec<String> = (0..21).map(|n| char::from_u32(0x1F600 + n).unwrap().to_string()).collect();
    for e in &emoji[..20] {
        react_ok(&server, &alice, message, e, Method::PUT).await;
    }
    let (status, body) = react(&server, &bob, message, &emoji[20], Method::PUT).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["emoji"].is_string(), "{body}");
    // One of the twenty is still open to everyone, and again once one is gone.
    let joined = react_ok(&server, &bob, message, &emoji[3], Method::PUT).await;
    assert_eq!(reactions_of(&joined).len(), 20);
    assert_eq!(reactions_of(&joined)[3].1, vec![alice.id, bob.id]);
    react_ok(&server, &alice, message, &emoji[0], Method::DELETE).await;
    let room_made = react_ok(&server, &bob, message, &emoji[20], Method::PUT).await;
    assert_eq!(reactions_of(&room_made).len(), 20);
}

// ---- mentions ----

#[tokio::test]
async fn mentions_name_members_only_in_any_case() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let dave = account(&server, "dave.smith").await;
    let outsider = account(&server, "eve").await;
    let general = room(&server, &alice, "general", &[&bob, &carol, &dave]).await;

    let cases = [
        ("hi @bob", vec![bob.id]),
        ("@BOB and @Carol, see @eve", vec![bob.id, carol.id]),
        ("mail bob@example.com or @nobody", vec![]),
        ("(@carol) @bob. @bob again @dave.smith.", vec![carol.id, bob.id, dave.id]),
        ("note to self @alice", vec![alice.id]),
    ];
    for (content, expected) in cases {
        let message = post_message(&server, &alice, general, content).await;
        assert_eq!(mentions_of(&message), expected, "{content:?}");
    }
    let page = history(&server, &bob, general, "").await;
    assert_eq!(mentions_of(&page[1]), vec![bob.id, carol.id]);
    assert_eq!(
        mentions_of(&post_message(&server, &outsider, room(&server, &outsider, "solo", &[]).await, "@bob").await),
        Vec::<i64>::new(),
        "bob is not a member of eve's room"
    );

    // Unread mentions: bob was named in three messages, carol in two, alice (by herself) in none.
    assert_eq!(unread_mentions(&server, &bob, general).await, 3);
    assert_eq!(unread_mentions(&server, &carol, general).await, 2);
    assert_eq!(unread_mentions(&server, &alice, general).await, 0, "naming yourself is no mention to read");
    let newest = id_of(&page[page.len() - 1]);
    mark_read(&server, &bob, general, id_of(&page[1])).await;
    assert_eq!(unread_mentions(&server, &bob, general).await, 1, "only the mention past the marker");
    mark_read(&server, &bob, general, newest).await;
    assert_eq!(unread_mentions(&server, &bob, general).await, 0);
    // The room list shows them too.
    let (_, rooms) = server.get("/chat/chat_rooms/", carol.tok()).await;
    assert_eq!(array(&rooms)[0]["unread_mentions"], 2);
}

#[tokio::test]
async fn edits_and_deletes_update_mentions_and_unread_mentions() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let general = room(&server, &alice, "general", &[&bob, &carol]).await;
    let message = post_message(&server, &alice, general, "ping @bob").await;
    assert_eq!(unread_mentions(&server, &bob, general).await, 1);
    let bob_socket = connect(&server, &bob).await;

    let (status, edited) = server
        .patch(&format!("/chat/messages/{}", id_of(&message)), alice.tok(), &json!({ "content": "ping @carol" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(mentions_of(&edited), vec![carol.id]);
    assert_eq!(bob_socket.wait_for("message_updated").await, edited);
    assert_eq!(unread_mentions(&server, &bob, general).await, 0);
    assert_eq!(unread_mentions(&server, &carol, general).await, 1);

    let (status, edited) = server
        .patch(&format!("/chat/messages/{}", id_of(&message)), alice.tok(), &json!({ "content": "@Carol @BOB both" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(mentions_of(&edited), vec![carol.id, bob.id]);
    assert_eq!(unread_mentions(&server, &bob, general).await, 1);
    assert_eq!(unread_mentions(&server, &carol, general).await, 1);

    let (status, _) = server.delete(&format!("/chat/messages/{}", id_of(&message)), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(unread_mentions(&server, &bob, general).await, 0);
    assert_eq!(unread_mentions(&server, &carol, general).await, 0);

    // Private chats count them as well.
    let (status, chat) = server.post("/chat/private_chats/", alice.tok(), &json!({ "username": "bob" })).await;
    assert_eq!(status, StatusCode::CREATED);
    let private = id_of(&chat);
    post_message(&server, &alice, private, "hey @bob").await;
    post_message(&server, &alice, private, "hey again").await;
    let (_, chats) = server.get("/chat/private_chats/", bob.tok()).await;
    let chat = array(&chats).into_iter().find(|c| id_of(c) == private).expect("the private chat");
    assert_private_chat(&chat);
    assert_eq!(chat["unread_count"], 2);
    assert_eq!(chat["unread_mentions"], 1);
}

// ---- search ----

/// alice and bob share "kitchen"; alice alone has "diary"; bob alone has "garage".
async fn searchable_world(server: &TestServer) -> (Account, Account, i64, i64, i64) {
    let alice = account(server, "alice").await;
    let bob = account(server, "bob").await;
    let kitchen = room(server, &alice, "kitchen", &[&bob]).await;
    let diary = room(server, &alice, "diary", &[]).await;
    let garage = room(server, &bob, "garage", &[]).await;
    for (who, room, text) in [
        (&alice, kitchen, "Crème brûlée for dessert tonight"),
        (&bob, kitchen, "The CREME was perfect"),
        (&alice, kitchen, "a message about messaging"),
        (&alice, diary, "dear diary, crème again"),
        (&bob, garage, "crème in the garage fridge"),
        (&bob, kitchen, "brûlée creme: the words the other way round"),
    ] {
        post_message(server, who, room, text).await;
    }
    (alice, bob, kitchen, diary, garage)
}

#[tokio::test]
async fn search_ignores_case_and_diacritics_matches_prefixes_and_phrases() {
    let server = spawn().await;
    let (alice, bob, kitchen, diary, _) = searchable_world(&server).await;

    let creme = found(&server, &alice, &[("q", "creme")]).await;
    assert_eq!(
        creme,
        [
            "brûlée creme: the words the other way round",
            "dear diary, crème again",
            "The CREME was perfect",
            "Crème brûlée for dessert tonight",
        ],
        "alice's rooms only, newest first"
    );
    assert_eq!(found(&server, &alice, &[("q", "CRÈME")]).await, creme);
    assert_eq!(found(&server, &alice, &[("q", "bru")]).await.len(), 2, "prefix");
    assert_eq!(found(&server, &alice, &[("q", "mess")]).await, ["a message about messaging"]);
    assert_eq!(found(&server, &alice, &[("q", "creme tonight")]).await, ["Crème brûlée for dessert tonight"]);
    assert_eq!(found(&server, &alice, &[("q", "\"creme brulee\"")]).await, ["Crème brûlée for dessert tonight"]);
    assert_eq!(
        found(&server, &alice, &[("q", "\"brulee creme\"")]).await,
        ["brûlée creme: the words the other way round"]
    );
    assert!(found(&server, &alice, &[("q", "\"creme tonight\"")]).await.is_empty(), "a phrase is a phrase");
    assert!(found(&server, &alice, &[("q", "garage")]).await.is_empty(), "bob's own room is not alice's");
    assert_eq!(found(&server, &bob, &[("q", "garage")]).await, ["crème in the garage fridge"]);

    // room_id narrows; a room the caller is not in is 404, existing or not.
    assert_eq!(
        found(&server, &alice, &[("q", "creme"), ("room_id", &diary.to_string())]).await,
        ["dear diary, crème again"]
    );
    assert_eq!(found(&server, &bob, &[("q", "creme"), ("room_id", &kitchen.to_string())]).await.len(), 3);
    for room in [diary.to_string(), "999999".to_string()] {
        let (status, body) = search(&server, &bob, &[("q", "creme"), ("room_id", &room)]).await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = search(&server, &bob, &[("q", "\"\""), ("room_id", &room)]).await;
        assert_error(status, &body, 404, "not_found");
    }
}

#[tokio::test]
async fn search_pages_back_with_before_and_limit() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let notes = room(&server, &alice, "notes", &[]).await;
    let mut posted = Vec::new();
    for n in 0..45 {
        posted.push(id_of(&post_message(&server, &alice, notes, &format!("note number {n}")).await));
    }
    posted.reverse();
    let (status, body) = search(&server, &alice, &[("q", "note")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&array(&body)), posted[..20].to_vec(), "20 by default, newest first");
    let before = posted[19].to_string();
    let (_, body) = search(&server, &alice, &[("q", "note"), ("before", &before), ("limit", "50")]).await;
    assert_eq!(ids(&array(&body)), posted[20..].to_vec());
    let (_, body) = search(&server, &alice, &[("q", "note"), ("limit", "1")]).await;
    assert_eq!(ids(&array(&body)), posted[..1].to_vec());

    for (query, field) in [
        (vec![("limit", "5")], "q"),
        (vec![("q", "")], "q"),
        (vec![("q", "   ")], "q"),
        (vec![("q", "note"), ("limit", "0")], "limit"),
        (vec![("q", "note"), ("limit", "51")], "limit"),
        (vec![("q", "note"), ("limit", "ten")], "limit"),
        (vec![("q", "note"), ("before", "0")], "before"),
        (vec![("q", "note"), ("room_id", "general")], "room_id"),
    ] {
        let (status, body) = search(&server, &alice, &query).await;
        assert_error(status, &body, 422, "validation_error");
        assert!(body["fields"][field].is_string(), "{query:?}: fields.{field} in {body}");
    }
    let longest = "n".repeat(200);
    assert!(found(&server, &alice, &[("q", &longest)]).await.is_empty());
    let (status, body) = search(&server, &alice, &[("q", &"n".repeat(201))]).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["q"].is_string(), "{body}");
    let (status, body) = server.get("/chat/search?q=note", None).await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn hostile_queries_are_taken_literally() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let notes = room(&server, &alice, "notes", &[]).await;
    for text in ["a AND b", "NEAR(x y) and OR", "x* y^ z:", "'; DROP TABLE messages; --", "plain"] {
        post_message(&server, &alice, notes, text).await;
    }
    let hostile = [
        "\"",
        "\"\"",
        "\"\"\"",
        "AND",
        "OR",
        "NOT",
        "NEAR(",
        "NEAR(a b, 2)",
        "*",
        "a*b*",
        "'; DROP TABLE messages; --",
        "-",
        "-plain",
        ":",
        "content:plain",
        "^",
        "^plain",
        "(",
        ")",
        "(plain",
        "\"unbalanced quote",
        "two \"quotes\" and \"one",
        "{content}: x",
        "a + b",
        "\u{0}",
        "plain\u{0}text",
        "\\",
        "🙂",
        "%",
        "x AND (y OR",
    ];
    for q in hostile {
        let (status, body) = search(&server, &alice, &[("q", q)]).await;
        assert_eq!(status, StatusCode::OK, "{q:?} → {status} {body}");
        assert!(body.is_array(), "{q:?} → {body}");
    }
    let long = "\"(*^:-".repeat(33) + "ab";
    assert_eq!(long.chars().count(), 200);
    let (status, _) = search(&server, &alice, &[("q", &long)]).await;
    assert_eq!(status, StatusCode::OK);
    // Operators are words to look for.
    assert_eq!(found(&server, &alice, &[("q", "AND")]).await, ["NEAR(x y) and OR", "a AND b"]);
    assert_eq!(found(&server, &alice, &[("q", "NEAR(")]).await, ["NEAR(x y) and OR"]);
    assert_eq!(found(&server, &alice, &[("q", "DROP TABLE")]).await, ["'; DROP TABLE messages; --"]);
    assert_eq!(found(&server, &alice, &[("q", "-plain")]).await, ["plain"], "- is no NOT");
    assert_eq!(history(&server, &alice, notes, "").await.len(), 5, "the table is still there");
}

#[tokio::test]
async fn search_never_returns_left_rooms_deleted_or_edited_away_messages() {
    let server = spawn().await;
    let (alice, bob, kitchen, _, _) = searchable_world(&server).await;
    let secret = post_message(&server, &alice, kitchen, "the secret recipe").await;
    let edited = post_message(&server, &alice, kitchen, "old wording").await;
    assert_eq!(found(&server, &bob, &[("q", "secret")]).await, ["the secret recipe"]);

    let (status, _) = server.delete(&format!("/chat/messages/{}", id_of(&secret)), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(found(&server, &bob, &[("q", "secret")]).await.is_empty(), "deleted messages are gone from search");
    let (status, _) = server
        .patch(&format!("/chat/messages/{}", id_of(&edited)), alice.tok(), &json!({ "content": "new phrasing" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(found(&server, &bob, &[("q", "wording")]).await.is_empty(), "an edit takes the old words out");
    assert_eq!(found(&server, &bob, &[("q", "phrasing")]).await, ["new phrasing"]);

    // Bob leaves the kitchen: none of its messages are his to find any more.
    let (status, _) = server.delete(&format!("/chat/chat_rooms/{kitchen}/members/{}", bob.id), bob.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(found(&server, &bob, &[("q", "creme")]).await, ["crème in the garage fridge"]);
    assert!(found(&server, &bob, &[("q", "phrasing")]).await.is_empty());
    let (status, body) = search(&server, &bob, &[("q", "creme"), ("room_id", &kitchen.to_string())]).await;
    assert_error(status, &body, 404, "not_found");
    assert_eq!(found(&server, &alice, &[("q", "phrasing")]).await, ["new phrasing"]);

    // A deleted room takes its messages out of the index with it.
    let (status, _) = server.delete(&format!("/chat/chat_rooms/{kitchen}/members/{}", alice.id), alice.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let indexed: i64 = server
        .db
        .read(move |c| {
            Ok::<_, natter::storage::db::DbError>(c.query_row(
                "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '\"phrasing\"'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(indexed, 0);
}

// ---- read receipts ----

#[tokio::test]
async fn read_receipts_go_to_the_other_members_and_never_move_back() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    let general = room(&server, &alice, "general", &[&bob, &carol]).await;
    let elsewhere = room(&server, &alice, "elsewhere", &[]).await;
    let posted: Vec<i64> = {
        let mut ids = Vec::new();
        for n in 0..4 {
            ids.push(id_of(&post_message(&server, &alice, general, &format!("m{n}")).await));
        }
        ids
    };
    let room_view = get_room(&server, &bob, general).await;
    assert!(last_read_of(&room_view, &bob).is_null(), "nothing read yet: {room_view}");
    let alice_socket = connect(&server, &alice).await;
    let carol_socket = connect(&server, &carol).await;
    let bob_socket = connect(&server, &bob).await;
    let bob_tab = connect(&server, &bob).await;
    let outsider = account(&server, "dave").await;
    let dave_socket = connect(&server, &outsider).await;

    // REST: the others are told; bob's own sockets are not.
    mark_read(&server, &bob, general, posted[1]).await;
    let expected = json!({ "room_id": general, "user_id": bob.id, "message_id": posted[1] });
    assert_eq!(alice_socket.wait_for("read").await, expected);
    assert_eq!(carol_socket.wait_for("read").await, expected);
    assert_eq!(last_read_of(&get_room(&server, &alice, general).await, &bob), posted[1]);

    // Socket.IO mark_read: the same receipt.
    let ack = bob_socket.emit_with_ack("mark_read", json!({ "room_id": general, "message_id": posted[2] })).await;
    assert_eq!(ack, json!({ "ok": true }));
    let expected = json!({ "room_id": general, "user_id": bob.id, "message_id": posted[2] });
    assert_eq!(carol_socket.wait_for("read").await, expected);
    assert_eq!(alice_socket.wait_for("read").await, expected);

    // Never backwards, and not again for the same place: no receipt, the marker stays.
    mark_read(&server, &bob, general, posted[0]).await;
    let ack = bob_socket.emit_with_ack("mark_read", json!({ "room_id": general, "message_id": posted[2] })).await;
    assert_eq!(ack, json!({ "ok": true }));
    assert_eq!(last_read_of(&get_room(&server, &carol, general).await, &bob), posted[2]);

    // Past the newest message: capped at it.
    mark_read(&server, &bob, general, 1_000_000).await;
    let expected = json!({ "room_id": general, "user_id": bob.id, "message_id": posted[3] });
    // The next receipt alice gets is this one: the refused moves above sent nothing.
    assert_eq!(alice_socket.wait_for("read").await, expected);
    assert_eq!(carol_socket.wait_for("read").await, expected);
    assert_eq!(last_read_of(&get_room(&server, &alice, general).await, &bob), posted[3]);

    // Carol reads: bob is told now (on both of his sockets), alice too.
    mark_read(&server, &carol, general, posted[3]).await;
    let expected = json!({ "room_id": general, "user_id": carol.id, "message_id": posted[3] });
    assert_eq!(bob_socket.wait_for("read").await, expected);
    assert_eq!(bob_tab.wait_for("read").await, expected);
    assert_eq!(alice_socket.wait_for("read").await, expected);
    // Bob's own receipts never reached his sockets; nobody outside the room heard anything.
    assert!(bob_socket.take_queued("read").is_empty() && bob_tab.take_queued("read").is_empty());
    carol_socket.assert_no_event("read", ABSENCE).await;
    dave_socket.assert_no_event("read", ABSENCE).await;
    alice_socket.assert_no_event("read", ABSENCE).await;

    // Another room's marker is that room's business.
    let mine = id_of(&post_message(&server, &alice, elsewhere, "alone").await);
    mark_read(&server, &alice, elsewhere, mine).await;
    bob_socket.assert_no_event("read", ABSENCE).await;
}

// ---- migration 2 ----

/// A database written by natter before migration 2 (schema.sql, user_version 1) with messages
/// in it: the server starts on it, builds the search index for those messages, and everything
/// new works on the old rows.
#[tokio::test]
async fn migration_2_indexes_the_messages_of_an_older_database() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "ab".repeat(32);
    {
        let conn = rusqlite::Connection::open(dir.path().join("natter.db")).unwrap();
        conn.execute_batch(include_str!("../../schema.sql")).unwrap();
        conn.execute_batch(
            "PRAGMA user_version = 1;
             INSERT INTO users (id, username, email, password_hash, password_changed_at, created_at)
             VALUES (1, 'alice', 'alice@example.com', 'x', 0, '2026-11-25T10:00:00.000Z'),
                    (2, 'bob', 'bob@example.com', 'x', 0, '2026-11-25T10:00:00.000Z');
             INSERT INTO rooms (id, name, is_private, owner_id, created_at) VALUES (1, 'old', 0, 1, '2026-11-25T10:00:00.000Z');
             INSERT INTO room_members (room_id, user_id, role, joined_at)
             VALUES (1, 1, 'owner', '2026-11-25T10:00:00.000Z'), (1, 2, 'member', '2026-11-25T10:00:00.000Z');
             INSERT INTO messages (room_id, sender_id, content, created_at) VALUES
               (1, 1, 'Crème brûlée from the old days', '2026-11-25T10:00:01.000Z'),
               (1, 2, 'plain old text', '2026-11-25T10:00:02.000Z'),
               (1, 1, '@bob written before mentions existed', '2026-11-25T10:00:03.000Z');",
        )
        .unwrap();
    }
    std::fs::write(dir.path().join("jwt-secret"), &secret).unwrap();
    let server = common::spawn_in(dir, |_| {}).await;
    let version: i64 = server
        .db
        .read(|c| Ok::<_, natter::storage::db::DbError>(c.query_row("PRAGMA user_version", [], |r| r.get(0))?))
        .await
        .unwrap();
    assert_eq!(version as usize, natter::storage::db::migrate::latest());
    let now = common::unix_now();
    let token =
        |id: i64| common::sign_jwt(secret.as_bytes(), &json!({ "sub": id.to_string(), "iat": now, "exp": now + 3600 }));
    let alice = Account { token: token(1), id: 1, name: "alice".into() };
    let bob = Account { token: token(2), id: 2, name: "bob".into() };

    assert_eq!(found(&server, &alice, &[("q", "creme")]).await, ["Crème brûlée from the old days"]);
    assert_eq!(found(&server, &bob, &[("q", "old")]).await, ["plain old text", "Crème brûlée from the old days"]);
    let page = history(&server, &bob, 1, "").await;
    assert_eq!(page.len(), 3);
    assert!(page.iter().all(|m| m["reply_to"].is_null() && mentions_of(m).is_empty()), "old rows have none");
    // The old rows take replies and reactions; new messages are indexed as they come.
    react_ok(&server, &bob, id_of(&page[0]), "👍", Method::PUT).await;
    let answer = reply(&server, &bob, 1, id_of(&page[0]), "brand new").await;
    assert_eq!(answer["reply_to"]["excerpt"], "Crème brûlée from the old days");
    assert_eq!(found(&server, &alice, &[("q", "brand")]).await, ["brand new"]);
}

//! Accounts, rooms, messages and uploads made over the REST API (and messages over Socket.IO),
//! each call checked, for tests whose subject is something else.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::sio;
use super::spec::{assert_message, assert_room};
use super::{Api, read_json};

/// A signed-up, logged-in account.
#[derive(Clone)]
pub struct Account {
    pub token: String,
    pub id: i64,
    pub name: String,
}

impl Account {
    /// The token, as the request helpers take it.
    pub fn tok(&self) -> Option<&str> {
        Some(&self.token)
    }
}

/// Sign `name` up (see [`Api::signup`]) and log in.
pub async fn account(server: &Api, name: &str) -> Account {
    let (token, user) = server.signup(name).await;
    let id = user["id"].as_i64().unwrap_or_else(|| panic!("signup {name}: no id in {user}"));
    Account { token, id, name: name.to_string() }
}

/// Log in as `name`, an account made some other way (in a browser, by `natter user add`).
pub async fn log_in(server: &Api, name: &str) -> Account {
    let (token, body) = server.token(name).await;
    let id = body["user"]["id"].as_i64().unwrap_or_else(|| panic!("login {name}: no user id in {body}"));
    Account { token, id, name: name.to_string() }
}

/// alice and bob, and alice's room "general" with bob in it: where many tests start.
pub async fn alice_and_bob(server: &Api) -> (Account, Account, i64) {
    let alice = account(server, "alice").await;
    let bob = account(server, "bob").await;
    let general = room(server, &alice, "general", &[&bob]).await;
    (alice, bob, general)
}

/// `who` connected over Socket.IO with their token, as the web UI connects.
pub async fn connect(server: &Api, who: &Account) -> sio::Client {
    sio::connect_token(&server.base, &who.token).await.unwrap_or_else(|e| panic!("{} could not connect: {e}", who.name))
}

/// `chat_message` over `client` with an ack that must succeed; the stored Message.
pub async fn emit_message(client: &sio::Client, room: i64, content: &str) -> Value {
    let ack = client.emit_with_ack("chat_message", json!({ "room_id": room, "content": content })).await;
    assert_eq!(ack["ok"], true, "chat_message {content:?} to room {room} failed: {ack}");
    assert_message(&ack["message"]);
    ack["message"].clone()
}

#[track_caller]
pub fn id_of(value: &Value) -> i64 {
    value["id"].as_i64().unwrap_or_else(|| panic!("no integer id in {value}"))
}

pub fn ids(list: &[Value]) -> Vec<i64> {
    list.iter().map(id_of).collect()
}

#[track_caller]
pub fn array(body: &Value) -> Vec<Value> {
    body.as_array().unwrap_or_else(|| panic!("expected a JSON array, got {body}")).clone()
}

/// `POST /chat/chat_rooms/` with member usernames, which must answer 201 with a Room.
pub async fn create_room(server: &Api, owner: &Account, name: &str, members: &[&str]) -> Value {
    let (status, room) =
        server.post("/chat/chat_rooms/", owner.tok(), &json!({ "name": name, "members": members })).await;
    assert_eq!(status, StatusCode::CREATED, "create room {name:?}: {room}");
    assert_room(&room);
    room
}

/// A group room owned by `owner` with `members`; its id.
pub async fn room(server: &Api, owner: &Account, name: &str, members: &[&Account]) -> i64 {
    let names: Vec<&str> = members.iter().map(|m| m.name.as_str()).collect();
    id_of(&create_room(server, owner, name, &names).await)
}

/// `POST /chat/chat_rooms/{room}/messages` with `body`: the raw answer.
pub async fn try_post(server: &Api, sender: &Account, room: i64, body: &Value) -> (StatusCode, Value) {
    server.post(&format!("/chat/chat_rooms/{room}/messages"), sender.tok(), body).await
}

/// `POST /chat/chat_rooms/{room}/messages` with `body`, which must answer 201 with a Message.
pub async fn post(server: &Api, sender: &Account, room: i64, body: Value) -> Value {
    let (status, message) = try_post(server, sender, room, &body).await;
    assert_eq!(status, StatusCode::CREATED, "post {body} to room {room} as {}: {message}", sender.name);
    assert_message(&message);
    message
}

/// A text message, which must be stored (201): the Message.
pub async fn post_message(server: &Api, sender: &Account, room: i64, content: &str) -> Value {
    post(server, sender, room, json!({ "content": content })).await
}

/// A reply to message `original`, which must be stored (201): the Message.
pub async fn reply(server: &Api, sender: &Account, room: i64, original: i64, content: &str) -> Value {
    post(server, sender, room, json!({ "content": content, "reply_to": original })).await
}

/// A message carrying `attachment` (an uploaded file), which must be stored (201): the Message.
pub async fn post_attachment(server: &Api, sender: &Account, room: i64, content: &str, attachment: &Value) -> Value {
    post(server, sender, room, json!({ "content": content, "attachment_id": id_of(attachment) })).await
}

/// `who` has read `room` up to `message_id` (204, no body).
pub async fn mark_read(server: &Api, who: &Account, room: i64, message_id: i64) {
    let path = format!("/chat/chat_rooms/{room}/read");
    let (status, body) = server.post(&path, who.tok(), &json!({ "message_id": message_id })).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "mark read {message_id} in {room} as {}: {body}", who.name);
    assert_eq!(body, Value::Null, "204 has no body");
}

/// `/chat/messages/{message}/reactions/{emoji}`, the emoji percent-encoded (every byte that is
/// not unreserved).
pub fn reaction_path(message: i64, emoji: &str) -> String {
    let encoded: String = emoji
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("/chat/messages/{message}/reactions/{encoded}")
}

/// `PUT` (add) or `DELETE` (remove) `who`'s reaction `emoji` on `message`: the raw answer.
pub async fn react(server: &Api, who: &Account, message: i64, emoji: &str, method: Method) -> (StatusCode, Value) {
    server.call(method, &reaction_path(message, emoji), who.tok(), None).await
}

/// A reaction change that must answer 200 with the Message.
pub async fn react_ok(server: &Api, who: &Account, message: i64, emoji: &str, method: Method) -> Value {
    let (status, body) = react(server, who, message, emoji, method.clone()).await;
    assert_eq!(status, StatusCode::OK, "{method} {emoji:?} on {message} by {}: {body}", who.name);
    assert_message(&body);
    assert_eq!(id_of(&body), message);
    body
}

/// The private chat of `caller` and `peer`, opened now (201) or found (200): its id.
pub async fn private_chat(server: &Api, caller: &Account, peer: &Account) -> i64 {
    let (status, chat) = server.post("/chat/private_chats/", caller.tok(), &json!({ "username": peer.name })).await;
    assert!(status == StatusCode::CREATED || status == StatusCode::OK, "private chat with {}: {chat}", peer.name);
    id_of(&chat)
}

/// `GET /chat/chat_rooms/{room}/messages?{query}`, which must answer 200 with Messages of that
/// room, oldest first.
pub async fn history(server: &Api, reader: &Account, room: i64, query: &str) -> Vec<Value> {
    let (status, body) = server.get(&format!("/chat/chat_rooms/{room}/messages?{query}"), reader.tok()).await;
    assert_eq!(status, StatusCode::OK, "history of room {room} ?{query}: {body}");
    let page = array(&body);
    for message in &page {
        assert_message(message);
        assert_eq!(message["room_id"].as_i64(), Some(room), "message of another room in history: {message}");
    }
    let page_ids = ids(&page);
    assert!(page_ids.windows(2).all(|w| w[0] < w[1]), "history must be oldest first: {page_ids:?}");
    page
}

/// `GET /chat/chat_rooms/{room}`, which must answer 200 with a Room.
pub async fn get_room(server: &Api, user: &Account, room: i64) -> Value {
    let (status, body) = server.get(&format!("/chat/chat_rooms/{room}"), user.tok()).await;
    assert_eq!(status, StatusCode::OK, "room {room} as {}: {body}", user.name);
    assert_room(&body);
    body
}

/// Where files are uploaded.
pub const UPLOAD: &str = "/chat/upload_media/";

/// `POST /chat/upload_media/` with `part` as the `file` part and the bearer `token`, if any: a
/// request to send (or to add to) as the test needs.
pub fn upload_request(server: &Api, token: Option<&str>, part: Part) -> reqwest::RequestBuilder {
    server.request(Method::POST, UPLOAD, token).multipart(Form::new().part("file", part))
}

/// Upload `bytes` as a file named `filename` that the client says is of type `mime`: the raw
/// answer.
pub async fn upload_as(
    server: &Api,
    token: Option<&str>,
    bytes: Vec<u8>,
    filename: &str,
    mime: &str,
) -> (StatusCode, Value) {
    let part = Part::bytes(bytes).file_name(filename.to_string()).mime_str(mime).expect("a valid mime type");
    read_json(upload_request(server, token, part).send().await.expect("send the upload")).await
}

/// Upload `bytes` as `filename`, sent as `application/octet-stream` (natter goes by the bytes,
/// not by what the client says): the raw answer.
pub async fn upload(server: &Api, token: &str, bytes: Vec<u8>, filename: &str) -> (StatusCode, Value) {
    upload_as(server, Some(token), bytes, filename, "application/octet-stream").await
}

/// An upload that must succeed: the Attachment.
pub async fn upload_ok(server: &Api, token: &str, bytes: Vec<u8>, filename: &str) -> Value {
    let (status, body) = upload(server, token, bytes, filename).await;
    assert_eq!(status, StatusCode::CREATED, "upload {filename}: {body}");
    body
}

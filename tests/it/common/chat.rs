//! Accounts, rooms and messages made over the REST API (and messages over Socket.IO), each call
//! checked, for tests whose subject is something else.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::Api;
use super::sio;
use super::spec::{assert_message, assert_room};

/// A signed-up, logged-in account.
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

/// `POST /chat/chat_rooms/{room}/messages`, which must answer 201 with a Message.
pub async fn post_message(server: &Api, sender: &Account, room: i64, content: &str) -> Value {
    let (status, message) =
        server.post(&format!("/chat/chat_rooms/{room}/messages"), sender.tok(), &json!({ "content": content })).await;
    assert_eq!(status, StatusCode::CREATED, "post {content:?} to room {room}: {message}");
    assert_message(&message);
    message
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

//! Checks of the SPEC's objects (§2): the exact fields, their types, and nothing leaked.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::chat::Account;
use super::is_spec_time;

/// The keys of a JSON object.
#[track_caller]
pub fn keys(value: &Value) -> BTreeSet<String> {
    value.as_object().unwrap_or_else(|| panic!("expected a JSON object, got {value}")).keys().cloned().collect()
}

/// A set of key names, to compare with [`keys`].
pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|k| k.to_string()).collect()
}

#[track_caller]
pub fn assert_time_or_null(value: &Value, what: &str) {
    match value {
        Value::Null => {}
        Value::String(t) => assert!(is_spec_time(t), "{what} is not a SPEC time: {t:?}"),
        other => panic!("{what} must be a time or null, got {other}"),
    }
}

/// UserPublic, exactly: `id`, `username`, `online` (bool), `last_seen` (time or null).
#[track_caller]
pub fn assert_user_public(user: &Value) {
    assert_eq!(keys(user), set(&["id", "username", "online", "last_seen"]), "UserPublic shape: {user}");
    assert!(user["id"].as_i64().is_some_and(|id| id > 0), "UserPublic id: {user}");
    assert!(user["username"].is_string(), "UserPublic username: {user}");
    assert!(user["online"].is_boolean(), "UserPublic online must be a bool: {user}");
    assert_time_or_null(&user["last_seen"], "UserPublic last_seen");
}

/// A room member: a UserPublic plus `role` ("owner" or "member").
#[track_caller]
pub fn assert_member(member: &Value) {
    let role = member["role"].as_str().unwrap_or_default();
    assert!(role == "owner" || role == "member", "member role must be owner or member: {member}");
    let mut user = member.clone();
    user.as_object_mut().expect("a member is an object").remove("role");
    assert_user_public(&user);
}

/// Message, with a sender that is UserPublic *without* `online`.
#[track_caller]
pub fn assert_message(message: &Value) {
    assert_eq!(
        keys(message),
        set(&["id", "room_id", "sender", "content", "attachment", "client_id", "created_at", "edited_at"]),
        "Message fields: {message}"
    );
    assert!(message["id"].as_i64().is_some_and(|id| id > 0), "Message id: {message}");
    assert!(message["room_id"].as_i64().is_some_and(|id| id > 0), "Message room_id: {message}");
    assert_eq!(keys(&message["sender"]), set(&["id", "username", "last_seen"]), "Message sender: {message}");
    assert!(message["sender"]["id"].as_i64().is_some(), "sender id: {message}");
    assert!(message["sender"]["username"].is_string(), "sender username: {message}");
    assert_time_or_null(&message["sender"]["last_seen"], "sender last_seen");
    assert!(message["content"].is_string(), "Message content: {message}");
    assert!(message["client_id"].is_null() || message["client_id"].is_string(), "client_id: {message}");
    assert!(message["created_at"].as_str().is_some_and(is_spec_time), "Message created_at: {message}");
    assert_time_or_null(&message["edited_at"], "Message edited_at");
}

/// A fresh, unedited text Message that `sender` sent to `room_id` with `content`.
#[track_caller]
pub fn assert_message_from(message: &Value, room_id: i64, sender: &Account, content: &str) {
    assert_message(message);
    assert_eq!(message["room_id"], room_id, "{message}");
    assert_eq!(message["sender"]["id"], sender.id, "{message}");
    assert_eq!(message["sender"]["username"], sender.name.as_str(), "{message}");
    assert_eq!(message["content"], content, "{message}");
    assert!(message["attachment"].is_null(), "{message}");
    assert!(message["edited_at"].is_null(), "{message}");
}

/// Room: the SPEC fields, members with roles, a last message that is a Message.
#[track_caller]
pub fn assert_room(room: &Value) {
    let k = keys(room);
    for key in ["id", "name", "is_private", "owner_id", "created_at", "members", "last_message", "unread_count"] {
        assert!(k.contains(key), "Room lacks {key}: {room}");
    }
    assert!(room["id"].as_i64().is_some_and(|id| id > 0), "Room id: {room}");
    assert!(room["is_private"].is_boolean(), "Room is_private: {room}");
    assert!(room["owner_id"].is_null() || room["owner_id"].is_i64(), "Room owner_id: {room}");
    assert!(room["created_at"].as_str().is_some_and(is_spec_time), "Room created_at: {room}");
    assert!(room["unread_count"].as_i64().is_some_and(|n| n >= 0), "Room unread_count: {room}");
    let members = room["members"].as_array().unwrap_or_else(|| panic!("Room members must be an array: {room}"));
    for member in members {
        assert_member(member);
    }
    if !room["last_message"].is_null() {
        assert_message(&room["last_message"]);
    }
    if room["is_private"] == json!(true) {
        assert!(room["name"].is_null(), "a private chat as a Room has a null name: {room}");
        assert_user_public(&room["peer"]);
    } else {
        assert!(room["name"].is_string(), "a group room has a name: {room}");
        assert!(!k.contains("peer"), "a group room has no peer: {room}");
    }
}

/// PrivateChat: `id`, `is_private: true`, `peer`, `last_message`, `unread_count`.
#[track_caller]
pub fn assert_private_chat(chat: &Value) {
    let k = keys(chat);
    for key in ["id", "is_private", "peer", "last_message", "unread_count"] {
        assert!(k.contains(key), "PrivateChat lacks {key}: {chat}");
    }
    assert!(chat["id"].as_i64().is_some_and(|id| id > 0), "PrivateChat id: {chat}");
    assert_eq!(chat["is_private"], json!(true), "PrivateChat is_private: {chat}");
    assert_user_public(&chat["peer"]);
    assert!(chat["unread_count"].as_i64().is_some_and(|n| n >= 0), "PrivateChat unread_count: {chat}");
    if !chat["last_message"].is_null() {
        assert_message(&chat["last_message"]);
    }
}

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
    assert_eq!(
        keys(user),
        set(&["id", "username", "online", "last_seen", "display_name", "avatar_url", "is_bot"]),
        "UserPublic shape: {user}"
    );
    assert!(user["is_bot"].is_boolean(), "UserPublic is_bot must be a bool: {user}");
    assert!(user["id"].as_i64().is_some_and(|id| id > 0), "UserPublic id: {user}");
    assert!(user["username"].is_string(), "UserPublic username: {user}");
    assert!(user["online"].is_boolean(), "UserPublic online must be a bool: {user}");
    assert_time_or_null(&user["last_seen"], "UserPublic last_seen");
}

/// A room member: a UserPublic plus `role` ("owner" or "member") and `last_read_id` (a
/// positive id, or null before they read anything).
#[track_caller]
pub fn assert_member(member: &Value) {
    let role = member["role"].as_str().unwrap_or_default();
    assert!(role == "owner" || role == "member", "member role must be owner or member: {member}");
    let marker = &member["last_read_id"];
    assert!(
        marker.is_null() || marker.as_i64().is_some_and(|id| id > 0),
        "member last_read_id must be a positive id or null: {member}"
    );
    let mut user = member.clone();
    let fields = user.as_object_mut().expect("a member is an object");
    assert!(fields.remove("last_read_id").is_some(), "a member has last_read_id: {member}");
    fields.remove("role");
    assert_user_public(&user);
}

/// Message, with a sender that is UserPublic *without* `online`, its ReplyRef (or null), its
/// Reactions and its mentions.
#[track_caller]
pub fn assert_message(message: &Value) {
    assert_eq!(
        keys(message),
        set(&[
            "id",
            "room_id",
            "sender",
            "content",
            "attachment",
            "client_id",
            "created_at",
            "edited_at",
            "reply_to",
            "reactions",
            "mentions"
        ]),
        "Message fields: {message}"
    );
    assert!(message["id"].as_i64().is_some_and(|id| id > 0), "Message id: {message}");
    assert!(message["room_id"].as_i64().is_some_and(|id| id > 0), "Message room_id: {message}");
    assert_eq!(
        keys(&message["sender"]),
        set(&["id", "username", "last_seen", "display_name", "avatar_url", "is_bot"]),
        "Message sender: {message}"
    );
    assert!(message["sender"]["is_bot"].is_boolean(), "sender is_bot: {message}");
    assert!(message["sender"]["id"].as_i64().is_some(), "sender id: {message}");
    assert!(message["sender"]["username"].is_string(), "sender username: {message}");
    assert_time_or_null(&message["sender"]["last_seen"], "sender last_seen");
    assert!(message["content"].is_string(), "Message content: {message}");
    assert!(message["client_id"].is_null() || message["client_id"].is_string(), "client_id: {message}");
    assert!(message["created_at"].as_str().is_some_and(is_spec_time), "Message created_at: {message}");
    assert_time_or_null(&message["edited_at"], "Message edited_at");
    if !message["reply_to"].is_null() {
        assert_reply_ref(&message["reply_to"]);
    }
    let reactions = message["reactions"].as_array().unwrap_or_else(|| panic!("Message reactions: {message}"));
    for reaction in reactions {
        assert_reaction(reaction);
    }
    let mentions = message["mentions"].as_array().unwrap_or_else(|| panic!("Message mentions: {message}"));
    assert!(mentions.iter().all(|id| id.as_i64().is_some_and(|id| id > 0)), "mentions are user ids: {message}");
}

/// ReplyRef: `id`, `sender` {`id`, `username`}, `excerpt` (at most 200 characters, empty once
/// deleted), `deleted`.
#[track_caller]
pub fn assert_reply_ref(reply: &Value) {
    assert_eq!(keys(reply), set(&["id", "sender", "excerpt", "deleted"]), "ReplyRef fields: {reply}");
    assert!(reply["id"].as_i64().is_some_and(|id| id > 0), "ReplyRef id: {reply}");
    assert_eq!(keys(&reply["sender"]), set(&["id", "username"]), "ReplyRef sender: {reply}");
    let excerpt = reply["excerpt"].as_str().unwrap_or_else(|| panic!("ReplyRef excerpt: {reply}"));
    assert!(excerpt.chars().count() <= 200, "ReplyRef excerpt is at most 200 characters: {reply}");
    let deleted = reply["deleted"].as_bool().unwrap_or_else(|| panic!("ReplyRef deleted: {reply}"));
    assert!(!deleted || excerpt.is_empty(), "a deleted original has an empty excerpt: {reply}");
}

/// Reaction: `emoji`, `count`, `user_ids` (as many as the count, no one twice).
#[track_caller]
pub fn assert_reaction(reaction: &Value) {
    assert_eq!(keys(reaction), set(&["emoji", "count", "user_ids"]), "Reaction fields: {reaction}");
    assert!(reaction["emoji"].as_str().is_some_and(|e| !e.is_empty()), "Reaction emoji: {reaction}");
    let users: Vec<i64> = reaction["user_ids"].as_array().expect("user_ids").iter().filter_map(Value::as_i64).collect();
    assert_eq!(reaction["count"].as_i64(), Some(users.len() as i64), "Reaction count: {reaction}");
    assert!(users.iter().enumerate().all(|(i, u)| !users[..i].contains(u)), "no one reacts twice: {reaction}");
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
    for key in [
        "id",
        "name",
        "is_private",
        "owner_id",
        "created_at",
        "members",
        "last_message",
        "unread_count",
        "unread_mentions",
        "visibility",
        "topic",
        "notify",
    ] {
        assert!(k.contains(key), "Room lacks {key}: {room}");
    }
    assert!(["all", "mentions", "none"].iter().any(|level| room["notify"] == json!(level)), "Room notify: {room}");
    assert!(room["visibility"] == json!("open") || room["visibility"] == json!("private"), "Room visibility: {room}");
    assert!(room["topic"].is_null() || room["topic"].is_string(), "Room topic: {room}");
    assert!(room["id"].as_i64().is_some_and(|id| id > 0), "Room id: {room}");
    assert!(room["is_private"].is_boolean(), "Room is_private: {room}");
    assert!(room["owner_id"].is_null() || room["owner_id"].is_i64(), "Room owner_id: {room}");
    assert!(room["created_at"].as_str().is_some_and(is_spec_time), "Room created_at: {room}");
    assert!(room["unread_count"].as_i64().is_some_and(|n| n >= 0), "Room unread_count: {room}");
    assert!(room["unread_mentions"].as_i64().is_some_and(|n| n >= 0), "Room unread_mentions: {room}");
    let members = room["members"].as_array().unwrap_or_else(|| panic!("Room members must be an array: {room}"));
    for member in members {
        assert_member(member);
    }
    if !room["last_message"].is_null() {
        assert_message(&room["last_message"]);
    }
    if room["is_private"] == json!(true) {
        assert!(room["name"].is_null(), "a private chat as a Room has a null name: {room}");
        assert_eq!(room["visibility"], json!("private"), "a private chat is always private: {room}");
        assert_user_public(&room["peer"]);
    } else {
        assert!(room["name"].is_string(), "a group room has a name: {room}");
        assert!(!k.contains("peer"), "a group room has no peer: {room}");
    }
}

/// PrivateChat: `id`, `is_private: true`, `peer`, `last_message`, `unread_count`,
/// `unread_mentions`.
#[track_caller]
pub fn assert_private_chat(chat: &Value) {
    let k = keys(chat);
    for key in ["id", "is_private", "peer", "last_message", "unread_count", "unread_mentions"] {
        assert!(k.contains(key), "PrivateChat lacks {key}: {chat}");
    }
    assert!(chat["id"].as_i64().is_some_and(|id| id > 0), "PrivateChat id: {chat}");
    assert_eq!(chat["is_private"], json!(true), "PrivateChat is_private: {chat}");
    assert_user_public(&chat["peer"]);
    assert!(chat["unread_count"].as_i64().is_some_and(|n| n >= 0), "PrivateChat unread_count: {chat}");
    assert!(chat["unread_mentions"].as_i64().is_some_and(|n| n >= 0), "PrivateChat unread_mentions: {chat}");
    if !chat["last_message"].is_null() {
        assert_message(&chat["last_message"]);
    }
}

//! `static/openapi.json` (served verbatim at `GET /openapi.json`) describes every REST endpoint of
//! SPEC §3, its references resolve, and every documented operation exists on the real server with
//! the authentication the document claims.

mod common;

use reqwest::{Method, StatusCode};
use serde_json::Value;

const DOCUMENT: &str = include_str!("../static/openapi.json");

/// Every REST endpoint of SPEC §3, with the path exactly as the SPEC writes it.
const SPEC_ENDPOINTS: &[(&str, &str)] = &[
    ("post", "/auth/signup"),
    ("post", "/auth/login"),
    ("post", "/auth/token"),
    ("get", "/auth/users/me"),
    ("get", "/auth/users/"),
    ("get", "/chat/private_chats/"),
    ("post", "/chat/private_chats/"),
    ("get", "/chat/chat_rooms/"),
    ("post", "/chat/chat_rooms/"),
    ("get", "/chat/chat_rooms/{room_id}"),
    ("post", "/chat/chat_rooms/{room_id}/members"),
    ("delete", "/chat/chat_rooms/{room_id}/members/{user_id}"),
    ("get", "/chat/chat_rooms/{room_id}/messages"),
    ("post", "/chat/chat_rooms/{room_id}/messages"),
    ("patch", "/chat/messages/{id}"),
    ("delete", "/chat/messages/{id}"),
    ("post", "/chat/chat_rooms/{room_id}/read"),
    ("post", "/chat/upload_media/"),
    ("get", "/media/{name}"),
    ("get", "/healthz"),
    ("get", "/openapi.json"),
    ("get", "/metrics"),
    ("post", "/admin/invites"),
];

const METHODS: &[&str] = &["get", "put", "post", "delete", "options", "head", "patch", "trace"];

fn document() -> Value {
    serde_json::from_str(DOCUMENT).unwrap_or_else(|e| panic!("static/openapi.json is not valid JSON: {e}"))
}

/// `(method, path, operation)` for every operation in the document.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let paths = doc["paths"].as_object().expect("`paths` is an object");
    let mut out = Vec::new();
    for (path, item) in paths {
        let item = item.as_object().unwrap_or_else(|| panic!("path item {path} is not an object"));
        for (method, operation) in item {
            if METHODS.contains(&method.as_str()) {
                out.push((method.clone(), path.clone(), operation.clone()));
            }
        }
    }
    out
}

/// Every `$ref` string anywhere in `value`, with the JSON pointer of where it sits.
fn refs(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    let target = child.as_str().unwrap_or_else(|| panic!("{at}/$ref is not a string"));
                    out.push((at.to_string(), target.to_string()));
                } else {
                    refs(child, &format!("{at}/{key}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                refs(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn is_secured(doc: &Value, operation: &Value) -> bool {
    let security = operation.get("security").or_else(|| doc.get("security"));
    security.and_then(Value::as_array).is_some_and(|list| !list.is_empty())
}

#[test]
fn document_is_complete_and_consistent() {
    let doc = document();
    let version = doc["openapi"].as_str().expect("`openapi` is a string");
    assert!(version.starts_with("3."), "openapi version {version}");
    assert_eq!(doc["info"]["title"], "natter");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"), "info.version follows Cargo.toml");

    for (method, path) in SPEC_ENDPOINTS {
        let operation = doc["paths"].get(*path).and_then(|item| item.get(*method));
        assert!(
            operation.is_some_and(Value::is_object),
            "SPEC endpoint {} {path} is not documented",
            method.to_uppercase()
        );
    }

    let mut found = Vec::new();
    refs(&doc, "#", &mut found);
    assert!(!found.is_empty(), "the document uses no $ref at all");
    for (at, target) in &found {
        let pointer = target
            .strip_prefix("#/components/")
            .map(|rest| format!("/components/{rest}"))
            .unwrap_or_else(|| panic!("{at}: $ref {target} does not point into #/components"));
        assert!(doc.pointer(&pointer).is_some(), "{at}: $ref {target} points at nothing");
    }

    let operations = operations(&doc);
    assert!(operations.len() >= SPEC_ENDPOINTS.len());
    for (method, path, operation) in &operations {
        let responses =
            operation["responses"].as_object().unwrap_or_else(|| panic!("{method} {path} has no responses"));
        assert!(
            responses.keys().any(|status| status.starts_with('2')),
            "{} {path} documents no 2xx response: {:?}",
            method.to_uppercase(),
            responses.keys().collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn served_document_is_the_file_and_matches_the_routes() {
    let server = common::spawn().await;
    let response = server.request(Method::GET, "/openapi.json", None).send().await.expect("GET /openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let served = response.text().await.expect("read the body");
    assert_eq!(served, DOCUMENT, "GET /openapi.json is not static/openapi.json verbatim");
    let (_, parsed) = server.get("/openapi.json", None).await;
    assert_eq!(parsed, document());

    // Every documented operation is routed (no 405, no "No route" 404), and asks for a token
    // exactly when the document says it does. No token and no body are sent.
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        let concrete = path
            .replace("{room_id}", "1")
            .replace("{user_id}", "1")
            .replace("{id}", "1")
            .replace("{name}", "00000000000000000000000000000000.png");
        let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = server.request(http_method, &concrete, None).send().await.expect("send the request");
        let (status, body) = common::read_json(response).await;
        let what = format!("{} {concrete} without a token → {status} {body}", method.to_uppercase());
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{what}");
        let detail = body["detail"].as_str().unwrap_or("");
        assert!(!detail.starts_with("No route"), "{what}");
        if is_secured(&doc, &operation) {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}");
        } else {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{what}");
        }
    }
}

//! The OpenAPI document (`GET /openapi.json`), generated from the code, against the real
//! server: the router and the document list the same operations (both ways, the router's list
//! read from the router itself), every reference resolves, every secured operation asks for a
//! token, and real responses of every endpoint validate against the document's schemas.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{Account, account};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

async fn served_document(server: &common::TestServer) -> Value {
    let response = server.request(Method::GET, "/openapi.json", None).send().await.expect("GET /openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/json"), "content type {content_type}");
    let document: Value = response.json().await.expect("the document is JSON");
    let generated = serde_json::to_value(natter::transport::api::docs::document()).unwrap();
    assert_eq!(document, generated, "/openapi.json is the generated document");
    document
}

/// `(method, path)` of every operation in the document.
fn documented(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("`paths` is an object") {
        for method in item.as_object().expect("a path item").keys() {
            assert!(METHODS.contains(&method.as_str()), "{path}: unexpected key {method}");
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

/// Every path of the REST router, read from the router itself. axum has no public listing of
/// its routes; its `Debug` output names each one (`RouteId(3): "/chat/..."`), so this reads the
/// quoted strings that start with `/` and fails if there are none (a changed format must not
/// make the test pass vacuously).
fn router_paths(state: &natter::AppState) -> BTreeSet<String> {
    let router = natter::transport::api::routes(state.clone());
    let text = format!("{router:?}");
    let mut paths = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find("\"/") {
        let tail = &rest[start + 1..];
        let end = tail.find('"').expect("a closing quote");
        let path = &tail[..end];
        if !path.contains("__private__") {
            paths.insert(path.to_string());
        }
        rest = &tail[end + 1..];
    }
    assert!(paths.len() > 10, "could not read the router's paths from its Debug output:\n{text}");
    paths
}

/// The path with each `{param}` (and `{*rest}`) filled in.
fn concrete(path: &str) -> String {
    path.split('/').map(|segment| if segment.starts_with('{') { "1" } else { segment }).collect::<Vec<_>>().join("/")
}

/// Whether the real server routes `method path` (anything but 405 and the fallback's 404).
async fn routed(server: &common::TestServer, method: &str, path: &str) -> bool {
    let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
    let response = server.request(http_method, &concrete(path), None).send().await.expect("send");
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    status != StatusCode::METHOD_NOT_ALLOWED && !body.contains("No route for")
}

#[tokio::test]
async fn the_router_and_the_document_list_the_same_operations() {
    let server = common::spawn().await;
    let doc = served_document(&server).await;
    let in_document = documented(&doc);

    // The router's operations: each of its paths, with every method it does not answer 405.
    let mut in_router = BTreeSet::new();
    let mut undocumented = BTreeSet::new();
    for path in router_paths(&server.state) {
        for method in METHODS {
            if routed(&server, method, &path).await {
                if natter::transport::api::UNDOCUMENTED.contains(&path.as_str()) {
                    undocumented.insert(path.clone());
                } else {
                    in_router.insert((method.to_string(), path.clone()));
                }
            }
        }
    }
    let missing: Vec<_> = in_router.difference(&in_document).collect();
    assert!(missing.is_empty(), "routed but not in the OpenAPI document (annotate them): {missing:?}");
    let phantom: Vec<_> = in_document.difference(&in_router).collect();
    assert!(phantom.is_empty(), "in the OpenAPI document but not routed: {phantom:?}");
    let listed: BTreeSet<String> = natter::transport::api::UNDOCUMENTED.iter().map(|p| p.to_string()).collect();
    assert_eq!(undocumented, listed, "every route left out of the document on purpose exists");
    // The SPEC's operations are all there (a sample of each area, as the SPEC writes them).
    for (method, path) in [
        ("post", "/auth/token"),
        ("get", "/chat/chat_rooms/{room_id}/messages"),
        ("put", "/chat/messages/{id}/reactions/{emoji}"),
        ("get", "/chat/search"),
        ("post", "/chat/upload_media"),
        ("patch", "/admin/users/{id}"),
        ("delete", "/admin/invites/{code}"),
        ("get", "/metrics"),
    ] {
        assert!(in_document.contains(&(method.to_string(), path.to_string())), "{method} {path} is missing");
    }
}

/// Every `$ref` string anywhere in `value`.
fn refs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if key == "$ref" {
                    out.push(child.as_str().expect("a $ref is a string").to_string());
                } else {
                    refs(child, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|child| refs(child, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_consistent_and_says_which_operations_need_a_token() {
    let server = common::spawn().await;
    let doc = served_document(&server).await;
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
    assert_eq!(doc["info"]["title"], "natter");
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["oauth2"]["flows"]["password"]["tokenUrl"], "/auth/token");
    let codes: Vec<&str> = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for code in
        ["invalid_json", "unauthorized", "forbidden", "not_found", "validation_error", "rate_limited", "internal"]
    {
        assert!(codes.contains(&code), "error code {code} is not documented: {codes:?}");
    }

    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(!found.is_empty());
    for target in &found {
        let pointer = target.strip_prefix('#').unwrap_or_else(|| panic!("{target} points outside the document"));
        assert!(doc.pointer(pointer).is_some(), "$ref {target} points at nothing");
    }

    for (method, path) in documented(&doc) {
        let operation = &doc["paths"][&path][&method];
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.keys().any(|s| s.starts_with('2')), "{method} {path} has no 2xx response");
        for status in ["500", "503"] {
            assert!(responses.contains_key(status), "{method} {path} does not document {status}");
        }
        if operation.get("requestBody").is_some() {
            assert!(responses.contains_key("422"), "{method} {path} reads a body but has no 422");
        }
        let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
        assert!(!secured || responses.contains_key("401"), "{method} {path} needs a token but documents no 401");
        // What the document says about the token is what the server does without one.
        let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let (status, _, body) = common::send(server.request(http_method, &concrete(&path), None)).await;
        if secured {
            common::assert_error(status, &body, 401, "unauthorized");
        } else {
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{method} {path} is documented without security: {body}");
        }
    }
}

// ---- real responses against the document's schemas ----

/// Validates responses against the document and remembers which operations answered 2xx.
struct Checker {
    doc: Value,
    exercised: BTreeSet<(String, String)>,
    checked: usize,
}

enum Body {
    None,
    Json(Value),
    Form(&'static [(&'static str, &'static str)]),
    Text(&'static str, &'static str),
    /// A `text/plain` body.
    Plain(&'static str),
}

impl Checker {
    fn new(doc: Value) -> Checker {
        Checker { doc, exercised: BTreeSet::new(), checked: 0 }
    }

    fn resolve<'a>(&'a self, value: &'a Value) -> &'a Value {
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => self.resolve(self.doc.pointer(&target[1..]).unwrap_or_else(|| panic!("bad $ref {target}"))),
            None => value,
        }
    }

    /// Send `method` to `url` (the concrete path of the documented `path`), check the status is
    /// documented and a JSON body matches its schema; the status and body back.
    async fn call(
        &mut self,
        server: &common::TestServer,
        method: &str,
        path: &str,
        url: &str,
        token: Option<&str>,
        body: Body,
    ) -> (StatusCode, Value) {
        let http_method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let mut request = server.request(http_method, url, token);
        request = match body {
            Body::None => request,
            Body::Json(value) => request.json(&value),
            Body::Form(pairs) => request.form(pairs),
            Body::Plain(text) => request.header(reqwest::header::CONTENT_TYPE, "text/plain").body(text),
            Body::Text(name, text) => request.multipart(
                reqwest::multipart::Form::new()
                    .part("file", reqwest::multipart::Part::bytes(text.as_bytes().to_vec()).file_name(name)),
            ),
        };
        let response = request.send().await.expect("send");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let bytes = response.bytes().await.expect("body");
        let what = format!("{} {url} → {status}", method.to_uppercase());
        let operation = self.doc["paths"][path][method].clone();
        assert!(operation.is_object(), "{what}: {method} {path} is not in the document");
        let documented = self.resolve(&operation["responses"][status.as_str()]).clone();
        assert!(documented.is_object(), "{what}: status {status} is not documented for {method} {path}");
        let body = if content_type.starts_with("application/json") {
            let body: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{what}: not JSON: {e}"));
            let schema = documented["content"]["application/json"]["schema"].clone();
            assert!(schema.is_object(), "{what}: answered JSON, but the document has no JSON schema for it");
            self.validate(&schema, &body, &what);
            body
        } else {
            let documented_types: Vec<&String> =
                documented["content"].as_object().map(|c| c.keys().collect()).unwrap_or_default();
            assert!(
                bytes.is_empty() || !documented_types.is_empty(),
                "{what}: answered {content_type} but the document says it has no body"
            );
            // The served type itself must be documented (its parameters, such as a charset, aside):
            // found by schemathesis, when /media was documented as application/octet-stream only.
            let essence = content_type.split(';').next().unwrap_or("").trim();
            assert!(
                bytes.is_empty()
                    || documented_types.iter().any(|t| t.split(';').next().unwrap_or("").trim() == essence),
                "{what}: answered {content_type}, which is not among the documented {documented_types:?}"
            );
            Value::Null
        };
        if status.is_success() {
            self.exercised.insert((method.to_string(), path.to_string()));
        }
        (status, body)
    }

    fn validate(&mut self, schema: &Value, instance: &Value, what: &str) {
        let mut root = schema.clone();
        root["components"] = self.doc["components"].clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        let validator = jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("{what}: bad schema {schema}: {e}"));
        let errors: Vec<String> =
            validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
        assert!(
            errors.is_empty(),
            "{what}: the body does not match the document's schema:\n{}\n{instance}",
            errors.join("\n")
        );
        let mut undeclared = Vec::new();
        self.undeclared(schema, instance, "", &mut undeclared);
        assert!(undeclared.is_empty(), "{what}: fields the document does not declare: {undeclared:?}\n{instance}");
        self.checked += 1;
    }

    /// The properties `schema` declares (through `$ref`, `allOf` and the object branches of
    /// `oneOf`/`anyOf`), with their schemas; `None` when it is not an object schema.
    fn properties(&self, schema: &Value) -> Option<BTreeMap<String, Value>> {
        let schema = self.resolve(schema);
        let mut found: Option<BTreeMap<String, Value>> = None;
        if let Some(props) = schema["properties"].as_object() {
            found.get_or_insert_with(BTreeMap::new).extend(props.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
        for key in ["allOf", "oneOf", "anyOf"] {
            for branch in schema[key].as_array().into_iter().flatten() {
                if let Some(props) = self.properties(branch) {
                    found.get_or_insert_with(BTreeMap::new).extend(props);
                }
            }
        }
        found
    }

    /// Every key of `instance` (recursively) that `schema` does not declare.
    fn undeclared(&self, schema: &Value, instance: &Value, at: &str, out: &mut Vec<String>) {
        let schema = self.resolve(schema);
        match instance {
            Value::Object(map) => {
                let Some(props) = self.properties(schema) else { return };
                for (key, value) in map {
                    match props.get(key) {
                        Some(child) => self.undeclared(child, value, &format!("{at}/{key}"), out),
                        None => out.push(format!("{at}/{key}")),
                    }
                }
            }
            Value::Array(items) => {
                let item_schema = ["items"].iter().find_map(|k| schema.get(*k)).or_else(|| {
                    schema["oneOf"].as_array()?.iter().map(|b| self.resolve(b)).find_map(|b| b.get("items"))
                });
                if let Some(item_schema) = item_schema {
                    for (i, item) in items.iter().enumerate() {
                        self.undeclared(item_schema, item, &format!("{at}/{i}"), out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn tok(account: &Account) -> Option<&str> {
    account.tok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_responses_of_every_endpoint_match_the_documented_schemas() {
    let server = common::spawn_with(|a| a.metrics = true).await;
    let doc = served_document(&server).await;
    let mut c = Checker::new(doc.clone());
    let s = &server;

    // Authentication.
    let signup =
        |name: &str| json!({"username": name, "email": format!("{name}@example.com"), "password": common::PASSWORD});
    let (status, _) = c.call(s, "post", "/auth/signup", "/auth/signup", None, Body::Json(signup("root"))).await;
    assert_eq!(status, 201);
    let (status, _) = c.call(s, "post", "/auth/signup", "/auth/signup/", None, Body::Json(signup("root"))).await;
    assert_eq!(status, 409);
    let (status, _) = c.call(s, "post", "/auth/signup", "/auth/signup", None, Body::Json(json!({"username": 5}))).await;
    assert_eq!(status, 422);
    let login = json!({"email": "root", "password": common::PASSWORD});
    let (status, _) = c.call(s, "post", "/auth/login", "/auth/login", None, Body::Json(login)).await;
    assert_eq!(status, 200);
    let wrong = json!({"email": "root", "password": "wrong password"});
    let (status, _) = c.call(s, "post", "/auth/login", "/auth/login", None, Body::Json(wrong)).await;
    assert_eq!(status, 401);
    let form: &'static [(&str, &str)] =
        &[("grant_type", "password"), ("username", "root"), ("password", common::PASSWORD)];
    let (status, _) = c.call(s, "post", "/auth/token", "/auth/token", None, Body::Form(form)).await;
    assert_eq!(status, 200);
    let root = Account { token: server.token("root").await.0, id: 1, name: "root".into() };
    let bob = account(s, "bob").await;
    let carol = account(s, "carol").await;
    let (status, _) = c.call(s, "get", "/auth/users/me", "/auth/users/me", tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let (status, _) = c.call(s, "get", "/auth/users/me", "/auth/users/me", None, Body::None).await;
    assert_eq!(status, 401);
    let profile = Body::Json(json!({"display_name": "  Root of all  "}));
    let (status, _) = c.call(s, "patch", "/auth/users/me", "/auth/users/me", tok(&root), profile).await;
    assert_eq!(status, 200);
    let avatar = Body::Json(json!({"avatar_attachment_id": 999_999}));
    let (status, _) = c.call(s, "patch", "/auth/users/me", "/auth/users/me", tok(&root), avatar).await;
    assert_eq!(status, 422);
    let (status, users) = c.call(s, "get", "/auth/users", "/auth/users/?q=b", tok(&root), Body::None).await;
    assert_eq!((status.as_u16(), users.as_array().map(Vec::len)), (200, Some(1)));

    // Chats.
    let (status, _) = c
        .call(
            s,
            "post",
            "/chat/private_chats",
            "/chat/private_chats/",
            tok(&root),
            Body::Json(json!({"username": "bob"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = c
        .call(
            s,
            "post",
            "/chat/private_chats",
            "/chat/private_chats",
            tok(&root),
            Body::Json(json!({"username": "bob"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c.call(s, "get", "/chat/private_chats", "/chat/private_chats/", tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let new_room = json!({"name": "club", "members": ["bob"]});
    let (status, room) =
        c.call(s, "post", "/chat/chat_rooms", "/chat/chat_rooms/", tok(&root), Body::Json(new_room)).await;
    assert_eq!(status, 201);
    let room_id = room["id"].as_i64().unwrap();
    let room_url = format!("/chat/chat_rooms/{room_id}");
    let (status, _) = c.call(s, "get", "/chat/chat_rooms", "/chat/chat_rooms/", tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let (status, _) = c.call(s, "get", "/chat/chat_rooms/{room_id}", &room_url, tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let (status, _) = c.call(s, "get", "/chat/chat_rooms/{room_id}", &room_url, tok(&carol), Body::None).await;
    assert_eq!(status, 404);
    let members = format!("{room_url}/members");
    let (status, _) = c
        .call(
            s,
            "post",
            "/chat/chat_rooms/{room_id}/members",
            &members,
            tok(&root),
            Body::Json(json!({"username": "carol"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .call(
            s,
            "post",
            "/chat/chat_rooms/{room_id}/members",
            &members,
            tok(&bob),
            Body::Json(json!({"username": "carol"})),
        )
        .await;
    assert_eq!(status, 403);
    let leave = format!("{members}/{}", carol.id);
    let (status, _) =
        c.call(s, "delete", "/chat/chat_rooms/{room_id}/members/{user_id}", &leave, tok(&carol), Body::None).await;
    assert_eq!(status, 204);

    // Open rooms: the owner opens the room and gives it a topic; carol finds it and joins.
    let change = json!({"visibility": "open", "topic": "Saturday football"});
    let (status, _) = c.call(s, "patch", "/chat/chat_rooms/{room_id}", &room_url, tok(&root), Body::Json(change)).await;
    assert_eq!(status, 200);
    let (status, _) =
        c.call(s, "patch", "/chat/chat_rooms/{room_id}", &room_url, tok(&bob), Body::Json(json!({"name": "x"}))).await;
    assert_eq!(status, 403);
    let (status, _) = c.call(s, "get", "/chat/directory", "/chat/directory?q=CLU", tok(&carol), Body::None).await;
    assert_eq!(status, 200);
    let join = format!("{room_url}/join");
    let (status, _) = c.call(s, "post", "/chat/chat_rooms/{room_id}/join", &join, tok(&carol), Body::None).await;
    assert_eq!(status, 200);

    // Media and messages.
    let (status, attachment) = c
        .call(s, "post", "/chat/upload_media", "/chat/upload_media/", tok(&root), Body::Text("notes.txt", "hello"))
        .await;
    assert_eq!(status, 201);
    let messages = format!("{room_url}/messages");
    let post = "/chat/chat_rooms/{room_id}/messages";
    let (status, first) = c
        .call(s, "post", post, &messages, tok(&bob), Body::Json(json!({"content": "hello @root", "client_id": "a1"})))
        .await;
    assert_eq!(status, 201);
    let (status, _) = c
        .call(s, "post", post, &messages, tok(&bob), Body::Json(json!({"content": "hello @root", "client_id": "a1"})))
        .await;
    assert_eq!(status, 200);
    let reply = json!({"content": "see the notes", "attachment_id": attachment["id"], "reply_to": first["id"]});
    let (status, second) = c.call(s, "post", post, &messages, tok(&root), Body::Json(reply)).await;
    assert_eq!(status, 201);
    assert!(second["reply_to"].is_object() && second["attachment"].is_object(), "{second}");
    let (status, _) = c.call(s, "post", post, &messages, tok(&root), Body::Json(json!({"content": "  "}))).await;
    assert_eq!(status, 422);
    let (status, page) = c.call(s, "get", post, &format!("{messages}?limit=10"), tok(&bob), Body::None).await;
    assert_eq!((status.as_u16(), page.as_array().map(Vec::len)), (200, Some(2)));
    let (status, _) = c.call(s, "get", post, &format!("{messages}?limit=0"), tok(&bob), Body::None).await;
    assert_eq!(status, 422);
    let message_url = format!("/chat/messages/{}", second["id"]);
    let (status, _) = c
        .call(
            s,
            "patch",
            "/chat/messages/{id}",
            &message_url,
            tok(&root),
            Body::Json(json!({"content": "see the notes!"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = c
        .call(s, "patch", "/chat/messages/{id}", &message_url, tok(&bob), Body::Json(json!({"content": "mine now"})))
        .await;
    assert_eq!(status, 403);
    let reaction = "/chat/messages/{id}/reactions/{emoji}";
    let reaction_url = format!("{message_url}/reactions/%F0%9F%91%8D");
    let (status, reacted) = c.call(s, "put", reaction, &reaction_url, tok(&bob), Body::None).await;
    assert_eq!(status, 200);
    assert_eq!(reacted["reactions"][0]["count"], 1, "{reacted}");
    let (status, _) = c.call(s, "delete", reaction, &reaction_url, tok(&bob), Body::None).await;
    assert_eq!(status, 200);
    let (status, found) = c.call(s, "get", "/chat/search", "/chat/search?q=note", tok(&bob), Body::None).await;
    assert_eq!((status.as_u16(), found.as_array().map(Vec::len)), (200, Some(1)));
    let (status, _) = c.call(s, "get", "/chat/search", "/chat/search", tok(&bob), Body::None).await;
    assert_eq!(status, 422);
    let read = format!("{room_url}/read");
    let (status, _) = c
        .call(
            s,
            "post",
            "/chat/chat_rooms/{room_id}/read",
            &read,
            tok(&bob),
            Body::Json(json!({"message_id": second["id"]})),
        )
        .await;
    assert_eq!(status, 204);
    let media_url = attachment["url"].as_str().unwrap().to_string();
    let (status, _) = c.call(s, "get", "/media/{name}", &media_url, None, Body::None).await;
    assert_eq!(status, 200);
    let (status, _) =
        c.call(s, "get", "/media/{name}", "/media/00000000000000000000000000000000.png", None, Body::None).await;
    assert_eq!(status, 404);
    let (status, _) = c.call(s, "delete", "/chat/messages/{id}", &message_url, tok(&root), Body::None).await;
    assert_eq!(status, 204);

    // Notifications: a level, and a subscription on a default push service (deleted before the
    // test push, so nothing leaves the machine).
    let notifications = format!("{room_url}/notifications");
    let level = Body::Json(json!({"level": "mentions"}));
    let (status, _) =
        c.call(s, "put", "/chat/chat_rooms/{room_id}/notifications", &notifications, tok(&bob), level).await;
    assert_eq!(status, 200);
    let loud = Body::Json(json!({"level": "loud"}));
    let (status, _) =
        c.call(s, "put", "/chat/chat_rooms/{room_id}/notifications", &notifications, tok(&bob), loud).await;
    assert_eq!(status, 422);
    let (status, _) = c.call(s, "get", "/push/key", "/push/key", tok(&bob), Body::None).await;
    assert_eq!(status, 200);
    let browser = {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        let secret = p256::SecretKey::from_slice(&[7u8; 32]).unwrap();
        common::b64url_encode(secret.public_key().to_encoded_point(false).as_bytes())
    };
    let endpoint = "https://fcm.googleapis.com/fcm/send/openapi-test";
    let subscription =
        json!({"endpoint": endpoint, "keys": {"p256dh": browser, "auth": common::b64url_encode(&[1u8; 16])}});
    let (status, _) = c
        .call(s, "post", "/push/subscriptions", "/push/subscriptions", tok(&bob), Body::Json(subscription.clone()))
        .await;
    assert_eq!(status, 201);
    let (status, _) =
        c.call(s, "post", "/push/subscriptions", "/push/subscriptions", tok(&bob), Body::Json(subscription)).await;
    assert_eq!(status, 200);
    let bad = json!({"endpoint": "https://evil.example/x", "keys": {"p256dh": browser, "auth": "AAAA"}});
    let (status, _) = c.call(s, "post", "/push/subscriptions", "/push/subscriptions", tok(&bob), Body::Json(bad)).await;
    assert_eq!(status, 422);
    let gone = Body::Json(json!({"endpoint": endpoint}));
    let (status, _) = c.call(s, "delete", "/push/subscriptions", "/push/subscriptions", tok(&bob), gone).await;
    assert_eq!(status, 204);
    let (status, _) = c.call(s, "post", "/push/test", "/push/test", tok(&bob), Body::None).await;
    assert_eq!(status, 202);

    // Administration.
    let (status, invite) = c
        .call(
            s,
            "post",
            "/admin/invites",
            "/admin/invites",
            tok(&root),
            Body::Json(json!({"uses": 2, "expires_in": "1d"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = c.call(s, "post", "/admin/invites", "/admin/invites", tok(&bob), Body::Json(json!({}))).await;
    assert_eq!(status, 403);
    let (status, _) = c.call(s, "get", "/admin/invites", "/admin/invites/", tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let revoke = format!("/admin/invites/{}", invite["code"].as_str().unwrap());
    let (status, _) = c.call(s, "delete", "/admin/invites/{code}", &revoke, tok(&root), Body::None).await;
    assert_eq!(status, 204);
    let (status, _) = c.call(s, "delete", "/admin/invites/{code}", &revoke, tok(&root), Body::None).await;
    assert_eq!(status, 404);
    let (status, _) = c.call(s, "get", "/admin/users", "/admin/users", tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let bob_url = format!("/admin/users/{}", bob.id);
    let (status, _) =
        c.call(s, "patch", "/admin/users/{id}", &bob_url, tok(&root), Body::Json(json!({"is_admin": true}))).await;
    assert_eq!(status, 200);
    let (status, _) = c
        .call(s, "patch", "/admin/users/{id}", "/admin/users/1", tok(&root), Body::Json(json!({"disabled": true})))
        .await;
    assert_eq!(status, 422);

    // Bots and their hooks.
    let (status, bot) = c
        .call(
            s,
            "post",
            "/admin/bots",
            "/admin/bots",
            tok(&root),
            Body::Json(json!({"name": "hookbot", "room_id": null})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) =
        c.call(s, "post", "/admin/bots", "/admin/bots", tok(&carol), Body::Json(json!({"name": "x"}))).await;
    assert_eq!(status, 403);
    let (status, _) = c.call(s, "get", "/admin/bots", "/admin/bots", tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let bot_url = format!("/admin/bots/{}", bot["id"]);
    let bots_room = common::chat::room(s, &root, "bots", &[]).await;
    let (status, _) =
        c.call(s, "patch", "/admin/bots/{id}", &bot_url, tok(&root), Body::Json(json!({"room_id": bots_room}))).await;
    assert_eq!(status, 200);
    let bot_account = Account { token: String::new(), id: bot["id"].as_i64().unwrap(), name: "hookbot".into() };
    let (status, _) = s
        .post(&format!("/chat/chat_rooms/{bots_room}/members"), tok(&root), &json!({"username": bot_account.name}))
        .await;
    assert_eq!(status, 200);
    let (status, bot) =
        c.call(s, "post", "/admin/bots/{id}/token", &format!("{bot_url}/token"), tok(&root), Body::None).await;
    assert_eq!(status, 200);
    let hook = format!("/hooks/{}", bot["token"].as_str().unwrap());
    let (status, _) = c.call(s, "post", "/hooks/{token}", &hook, None, Body::Json(json!({"text": "hello"}))).await;
    assert_eq!(status, 200);
    let (status, _) =
        c.call(s, "post", "/hooks/{token}", "/hooks/unknown", None, Body::Json(json!({"text": "hello"}))).await;
    assert_eq!(status, 404);
    let (status, _) = c.call(s, "post", "/hooks/{token}", &hook, None, Body::Json(json!({"text": " "}))).await;
    assert_eq!(status, 422);
    let room_hook = format!("{hook}/rooms/{bots_room}");
    let (status, _) = c.call(s, "post", "/hooks/{token}/rooms/{room_id}", &room_hook, None, Body::Plain("plain")).await;
    assert_eq!(status, 201);
    let (status, _) =
        c.call(s, "post", "/hooks/{token}/rooms/{room_id}", &room_hook, None, Body::Text("note.txt", "a file")).await;
    assert_eq!(status, 201);
    let (status, _) = c.call(s, "delete", "/admin/bots/{id}", &bot_url, tok(&root), Body::None).await;
    assert_eq!(status, 204);

    // Operations.
    for path in ["/healthz", "/metrics", "/openapi.json"] {
        let (status, _) = c.call(s, "get", path, path, None, Body::None).await;
        assert_eq!(status, 200, "{path}");
    }

    let untested: Vec<_> = documented(&doc).difference(&c.exercised).cloned().collect();
    assert!(untested.is_empty(), "documented operations this test never saw succeed (add them): {untested:?}");
    assert!(c.checked >= 40, "only {} JSON bodies were validated", c.checked);
}

/// The checks above are not vacuous: a wrong type, a missing field and an undeclared field (also
/// deep inside an object) each fail them.
#[test]
fn the_schema_checks_catch_wrong_missing_and_undeclared_fields() {
    let doc = serde_json::to_value(natter::transport::api::docs::document()).unwrap();
    let user = json!({"id": 1, "username": "a", "email": "a@b.c", "created_at": "2026-01-01T00:00:00.000Z", "is_admin": false});
    let schema = json!({"$ref": "#/components/schemas/UserAccount"});
    let mut account = user.clone();
    account["disabled"] = json!(false);
    account["last_seen"] = Value::Null;
    Checker::new(doc.clone()).validate(&schema, &account, "a good UserAccount");
    let token = json!({"$ref": "#/components/schemas/Token"});
    let good_token = json!({"access_token": "x", "token_type": "bearer", "expires_in": 60, "user": user});
    Checker::new(doc.clone()).validate(&token, &good_token, "a good Token");

    let mut wrong_type = account.clone();
    wrong_type["id"] = json!("1");
    let mut missing = account.clone();
    missing.as_object_mut().unwrap().remove("disabled");
    let mut undeclared = account.clone();
    undeclared["password_hash"] = json!("$argon2id$...");
    let mut deep = good_token.clone();
    deep["user"]["password_hash"] = json!("$argon2id$...");
    for (what, schema, bad) in [
        ("wrong type", &schema, wrong_type),
        ("missing", &schema, missing),
        ("undeclared", &schema, undeclared),
        ("deep", &token, deep),
    ] {
        let checker = std::panic::AssertUnwindSafe(Checker::new(doc.clone()));
        let caught = std::panic::catch_unwind(move || {
            let mut checker = checker;
            checker.0.validate(schema, &bad, what);
        });
        assert!(caught.is_err(), "{what}: the check passed");
    }
}

/// `GET /media/{name}` documents exactly the types natter can serve (found by schemathesis: the
/// document said application/octet-stream, the server answered image/png).
#[test]
fn the_media_types_served_are_the_documented_ones() {
    let doc = serde_json::to_value(natter::transport::api::docs::document()).expect("the document as JSON");
    let served: BTreeSet<String> = natter::storage::media_folder::MediaKind::ALL
        .iter()
        .map(|k| k.content_type().split(';').next().unwrap_or("").trim().to_string())
        .collect();
    for status in ["200", "206"] {
        let content = &doc["paths"]["/media/{name}"]["get"]["responses"][status]["content"];
        let documented: BTreeSet<String> = content.as_object().expect("content").keys().cloned().collect();
        assert_eq!(documented, served, "GET /media/{{name}} {status}");
    }
}

/// A validator for `schema` (a `$ref` into the document, or a schema of it) as the JSON Schema
/// 2020-12 dialect the document declares, with the document's components to resolve against.
fn input_validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let mut root = schema.clone();
    root["components"] = doc["components"].clone();
    root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
    jsonschema::validator_for(&root).unwrap_or_else(|e| panic!("bad schema {schema}: {e}"))
}

/// Every string of up to three characters over an alphabet of the characters the rules treat
/// differently (letters, digits, the username punctuation, `@`, blanks of several kinds,
/// controls, bidi and zero-width characters, non-ASCII letters, an emoji), and strings around
/// each length bound, padded with blanks or not.
fn tricky_strings() -> Vec<String> {
    const ALPHABET: &[char] = &[
        'a', 'Z', '0', '_', '.', '-', '@', ' ', '\t', '\n', '\u{0}', '\u{1f}', '\u{7f}', '\u{85}', '\u{a0}', '\u{ad}',
        '\u{200b}', '\u{202e}', '\u{2028}', '\u{3000}', '\u{feff}', 'é', '👍', '%',
    ];
    let mut out = vec![String::new()];
    let mut previous = vec![String::new()];
    for _ in 0..3 {
        let next: Vec<String> = previous.iter().flat_map(|s| ALPHABET.iter().map(move |c| format!("{s}{c}"))).collect();
        out.extend(next.iter().cloned());
        previous = next;
    }
    for n in [
        2, 3, 7, 8, 31, 32, 33, 63, 64, 65, 99, 100, 101, 127, 128, 129, 199, 200, 201, 249, 250, 251, 3999, 4000, 4001,
    ] {
        for fill in ["a", "é", "👍", " ", "\u{200b}"] {
            let body = fill.repeat(n);
            out.extend([
                body.clone(),
                format!(" {body}"),
                format!("{body}\n"),
                format!("x{body}"),
                format!("\u{3000}{body}\u{3000}"),
            ]);
        }
        out.push(format!("a{}a", " ".repeat(n.saturating_sub(2))));
    }
    out
}

fn property(doc: &Value, schema: &str, field: &str) -> Value {
    let found = doc["components"]["schemas"][schema]["properties"][field].clone();
    assert!(found.is_object(), "{schema}.{field} is not in the document");
    found
}

/// Each bound of the input types is stated by the document exactly as the server checks it:
/// for every probe, the field's schema accepts it if and only if the server's rule does
/// (usernames, emails, passwords, room names and topics, message content with and without an
/// attachment, reactions, search text, logins, invites, history and search pages).
#[test]
fn the_input_schemas_state_the_servers_bounds() {
    use natter::input::validate;
    let doc = serde_json::to_value(natter::transport::api::docs::document()).expect("the document as JSON");
    let strings = tricky_strings();
    let agree = |what: &str, schema: &Value, probes: &mut dyn Iterator<Item = (Value, bool)>| {
        let validator = input_validator(&doc, schema);
        let mut count = 0;
        for (probe, server) in probes {
            assert_eq!(validator.is_valid(&probe), server, "{what}: schema and server disagree on {probe}");
            count += 1;
        }
        assert!(count > 100, "{what}: only {count} probes");
    };
    let each = |rule: fn(&str) -> bool| strings.iter().map(move |s| (json!(s), rule(s)));

    agree("username", &property(&doc, "NewAccount", "username"), &mut each(|s| validate::username(s).is_ok()));
    agree("members[]", &property(&doc, "NewRoom", "members")["items"], &mut each(|s| validate::username(s).is_ok()));
    agree("password", &property(&doc, "NewAccount", "password"), &mut each(|s| validate::password(s).is_ok()));
    let full_name = |s: &str| validate::text_length(s, 0, validate::MAX_FULL_NAME_CHARS).is_ok();
    agree("full_name", &property(&doc, "NewAccount", "full_name"), &mut each(full_name));
    let max_name = natter::input::validate::MAX_ROOM_NAME_CHARS;
    let name = |s: &str| validate::display_name(s, natter::input::validate::MAX_ROOM_NAME_CHARS).is_ok();
    agree("room name", &property(&doc, "NewRoom", "name"), &mut each(name));
    agree("new room name", &property(&doc, "RoomChange", "name"), &mut each(name));
    assert!(!name(&"x".repeat(max_name + 1)));
    // The one difference, which `natter::input::patterns` explains: a class cannot name the
    // invisible characters beyond U+FFFF in a way every regex engine reads alike, so a name of
    // tag characters only fits the pattern and is refused.
    let tags = "\u{e0061}\u{e0062}";
    assert!(!name(tags) && input_validator(&doc, &property(&doc, "NewRoom", "name")).is_valid(&json!(tags)));
    let topic = |s: &str| validate::topic(s, validate::MAX_TOPIC_CHARS).is_ok();
    agree("topic", &property(&doc, "NewRoom", "topic"), &mut each(topic));
    agree("topic change", &property(&doc, "RoomChange", "topic"), &mut each(topic));

    // Emails: the alphabet's strings (almost all invalid) and addresses built part by part.
    let mut emails: Vec<String> = strings.clone();
    let (longest, too_long, wide) = ("l".repeat(64), "l".repeat(65), "é".repeat(64));
    let locals = ["a", "a.b+c", "é", "a b", "a\u{0}", "a@b", "", &longest, &too_long, &wide];
    let long_domain = format!("{}.co", "d".repeat(185));
    let domains = ["b.co", "b", ".b.co", "b.co.", "b..co", "b@c.co", "ü.de", "b.c\u{7f}o", "b.c o", &long_domain];
    for local in locals {
        for domain in domains {
            for (before, after) in [("", ""), (" ", "\t"), ("\u{3000}", ""), ("", "\u{feff}")] {
                emails.push(format!("{before}{local}@{domain}{after}"));
            }
        }
    }
    emails.push(format!("{}@{}.co ", "l".repeat(64), "d".repeat(186)));
    agree(
        "email",
        &property(&doc, "NewAccount", "email"),
        &mut emails.iter().map(|s| (json!(s), validate::email(s).is_ok())),
    );

    // Content, on its own (an edit, whose message may have an attachment) and in a new message
    // with and without one.
    let content = |s: &str, attachment: bool| natter::usecase::chat::check_content(s, attachment).is_ok();
    agree(
        "edited content",
        &property(&doc, "Edit", "content"),
        &mut strings.iter().map(|s| (json!(s), content(s, true))),
    );
    let post = json!({"$ref": "#/components/schemas/PostBody"});
    agree("message without attachment", &post, &mut strings.iter().map(|s| (json!({"content": s}), content(s, false))));
    agree(
        "message with attachment",
        &post,
        &mut strings.iter().map(|s| (json!({"content": s, "attachment_id": 7, "client_id": null}), content(s, true))),
    );
    let ids = [json!(null), json!(1), json!(0), json!(-3), json!("1")];
    let mut bodies = Vec::new();
    for attachment in &ids {
        for reply in &ids {
            for client_id in [json!(null), json!(""), json!("k".repeat(64)), json!("é".repeat(65)), json!(5)] {
                for content in [None, Some(""), Some(" "), Some("hi")] {
                    let mut body = json!({"attachment_id": attachment, "reply_to": reply, "client_id": client_id});
                    if let Some(content) = content {
                        body["content"] = json!(content);
                    }
                    bodies.push(body);
                }
            }
        }
    }
    bodies.push(json!({}));
    bodies.push(json!({"sender": "x", "timestamp": 1, "content": "older clients"}));
    let server_post = |body: &Value| {
        natter::input::from_value::<natter::input::PostBody>(body.clone()).is_ok_and(|post| {
            let post = post.into_post(1);
            let client_id_ok =
                post.client_id.as_ref().is_none_or(|c| c.chars().count() <= validate::MAX_CLIENT_ID_CHARS);
            // Ids that name nothing are refused when looked up; below 1 nothing can exist.
            let ids_ok = post.attachment_id.is_none_or(|id| id >= 1) && post.reply_to.is_none_or(|id| id >= 1);
            content(&post.content, post.attachment_id.is_some()) && client_id_ok && ids_ok
        })
    };
    agree("message fields", &post, &mut bodies.iter().map(|b| (b.clone(), server_post(b))));

    // A reaction in the path, and a search's text.
    let emoji = doc["paths"]["/chat/messages/{id}/reactions/{emoji}"]["put"]["parameters"][1]["schema"].clone();
    agree("emoji", &emoji, &mut each(|s| natter::usecase::chat::check_emoji(s).is_ok()));
    let q = doc["paths"]["/chat/search"]["get"]["parameters"][0].clone();
    assert_eq!((q["name"].as_str(), q["required"].as_bool()), (Some("q"), Some(true)), "{q}");
    agree(
        "search text",
        &q["schema"],
        &mut each(|s| validate::text_length(s.trim(), 1, validate::MAX_SEARCH_CHARS).is_ok()),
    );

    // Logins: which field names the account, blank or not, with or without a password.
    let values = [None, Some(""), Some(" "), Some("\u{3000}"), Some("alice"), Some(" a@b.co ")];
    let mut logins = Vec::new();
    for email in values {
        for username in values {
            for password in [None, Some(""), Some("x"), Some(" ")] {
                let mut body = json!({"grant_type": "password"});
                for (key, value) in [("email", email), ("username", username), ("password", password)] {
                    if let Some(value) = value {
                        body[key] = json!(value);
                    }
                }
                logins.push(body);
            }
        }
    }
    let login_ok = |body: &Value| {
        natter::input::from_value::<natter::input::LoginForm>(body.clone()).and_then(|f| f.into_login()).is_ok()
    };
    agree(
        "login",
        &json!({"$ref": "#/components/schemas/LoginForm"}),
        &mut logins.iter().map(|b| (b.clone(), login_ok(b))),
    );

    // Invites: how many uses, and for how long (seconds, or a duration with a unit).
    let max = natter::input::units::MAX_DURATION_SECS;
    let mut expiries = vec![
        json!(null),
        json!(0),
        json!(1),
        json!(max),
        json!(max + 1),
        json!(-1),
        json!(1.5),
        json!(60.0),
        json!(true),
    ];
    for (unit, seconds) in [
        ("ms", 0),
        ("", 1),
        ("s", 1),
        ("sec", 1),
        ("m", 60),
        ("min", 60),
        ("h", 3600),
        ("d", 86400),
        ("w", 604800),
        ("mins", 60),
    ] {
        // Milliseconds (`seconds` 0): from one second's worth up to the longest in ms.
        let limit = max.checked_div(seconds).unwrap_or(max * 1000);
        let lowest = if seconds == 0 { 1000 } else { 1 };
        for n in [0, 1, 7, lowest - 1, lowest, limit - 1, limit, limit + 1, limit * 10] {
            for spelled in
                [format!("{n}{unit}"), format!(" {n} {unit} "), format!("00{n}{unit}"), format!("{n}\u{3000}{unit}")]
            {
                expiries.push(json!(spelled));
            }
        }
    }
    expiries
        .extend(["", "d", "7 d s", "7d7", "７d", "1e3", "+7d", "-7d", "99999999999999999999d", "7D"].map(|s| json!(s)));
    let invite_ok = |body: &Value| {
        natter::input::from_value::<natter::input::NewInvite>(body.clone())
            .is_ok_and(|i| i.uses().is_ok() && i.ttl().is_ok())
    };
    let invite = json!({"$ref": "#/components/schemas/NewInvite"});
    agree(
        "invite expiry",
        &invite,
        &mut expiries.iter().map(|e| json!({"expires_in": e})).map(|b| (b.clone(), invite_ok(&b))),
    );
    let uses = [
        json!(null),
        json!(0),
        json!(1),
        json!(10000),
        json!(10001),
        json!(-1),
        json!(5.0),
        json!(4294967296u64),
        json!("3"),
    ];
    let mut invites: Vec<Value> = uses.iter().map(|u| json!({"uses": u})).collect();
    invites
        .extend(uses.iter().flat_map(|u| expiries.iter().take(12).map(move |e| json!({"uses": u, "expires_in": e}))));
    agree("invite", &invite, &mut invites.iter().map(|b| (b.clone(), invite_ok(b))));

    // History and search pages: the documented ranges are the ones the decoders accept.
    let numbers = (-3i64..260).chain([i64::MAX]);
    for (path, name, decode) in [
        ("/chat/chat_rooms/{room_id}/messages", "limit", "history"),
        ("/chat/chat_rooms/{room_id}/messages", "before", "history"),
        ("/chat/chat_rooms/{room_id}/messages", "after", "history"),
        ("/chat/search", "limit", "search"),
        ("/chat/search", "before", "search"),
        ("/chat/search", "room_id", "search"),
    ] {
        let parameters = doc["paths"][path]["get"]["parameters"].as_array().expect("parameters");
        let parameter = parameters.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{path} {name}"));
        let accepts = |n: i64| {
            let query = format!("q=x&{name}={n}");
            match decode {
                "history" => natter::input::from_form::<natter::input::HistoryQuery>(query.as_bytes())
                    .and_then(natter::input::HistoryQuery::into_history)
                    .is_ok(),
                _ => natter::input::from_form::<natter::input::MessageSearchQuery>(query.as_bytes())
                    .and_then(natter::input::MessageSearchQuery::into_search)
                    .is_ok(),
            }
        };
        agree(&format!("{path} {name}"), &parameter["schema"], &mut numbers.clone().map(|n| (json!(n), accepts(n))));
    }
}

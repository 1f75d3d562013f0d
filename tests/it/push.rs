//! Web Push (SPEC §3, Notifications): a push service on 127.0.0.1 in this process records what
//! natter posts to it. Every body is decrypted here with an RFC 8291 implementation of the
//! test's own (p256 + hkdf + aes-gcm, not the server's code) and every VAPID JWT is verified with
//! the key `GET /push/key` gives. Deliveries run one at a time (`--push-concurrency 1`) where
//! the order matters, so that "nobody else got one" is proved by a later push arriving, not by a
//! wait.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{Aead, KeyInit};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use hkdf::Hkdf;
use natter::config::Switch;
use natter::usecase::push::ServiceHost;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};

use crate::common::chat::{self, Account};
use crate::common::{self, TIMEOUT, TestServer, assert_error, b64url_decode, b64url_encode};

/// How the recording push service answers one subscription.
#[derive(Clone, Copy)]
enum Answer {
    Created,
    Status(u16),
    /// Never answers (until the test ends).
    Hang,
}

/// A request natter made to the push service.
struct Pushed {
    name: String,
    headers: HeaderMap,
    body: Bytes,
}

#[derive(Clone)]
struct Recorder {
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    seen: mpsc::UnboundedSender<Pushed>,
    /// Hanging requests wait for this to be dropped.
    release: Arc<Mutex<Option<oneshot::Receiver<()>>>>,
    hung: Arc<tokio::sync::Notify>,
}

/// The recording push service: `POST /push/{name}`.
struct PushService {
    base: String,
    answers: Arc<Mutex<HashMap<String, Answer>>>,
    seen: mpsc::UnboundedReceiver<Pushed>,
    hung: Arc<tokio::sync::Notify>,
    _release: oneshot::Sender<()>,
}

async fn record(
    State(recorder): State<Recorder>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let answer = recorder.answers.lock().unwrap().get(&name).copied().unwrap_or(Answer::Created);
    let _ = recorder.seen.send(Pushed { name, headers, body });
    match answer {
        Answer::Created => StatusCode::CREATED,
        Answer::Status(code) => StatusCode::from_u16(code).unwrap(),
        Answer::Hang => {
            let release = recorder.release.lock().unwrap().take();
            recorder.hung.notify_one();
            if let Some(release) = release {
                let _ = release.await;
            } else {
                std::future::pending::<()>().await;
            }
            StatusCode::CREATED
        }
    }
}

impl PushService {
    async fn start() -> PushService {
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let (release_tx, release_rx) = oneshot::channel();
        let answers = Arc::new(Mutex::new(HashMap::new()));
        let hung = Arc::new(tokio::sync::Notify::new());
        let recorder = Recorder {
            answers: answers.clone(),
            seen: seen_tx,
            release: Arc::new(Mutex::new(Some(release_rx))),
            hung: hung.clone(),
        };
        let app = axum::Router::new().route("/push/{name}", axum::routing::post(record)).with_state(recorder);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        PushService { base, answers, seen, hung, _release: release_tx }
    }

    fn answer(&self, name: &str, answer: Answer) {
        self.answers.lock().unwrap().insert(name.to_string(), answer);
    }

    async fn next(&mut self) -> Pushed {
        tokio::time::timeout(TIMEOUT, self.seen.recv()).await.expect("a push arrives in time").expect("push service up")
    }
}

/// A browser's push subscription: its key pair and authentication secret.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
    endpoint: String,
}

impl Browser {
    fn new(service: &PushService, name: &str) -> Browser {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        let secret = SecretKey::from_slice(&bytes).expect("a P-256 key");
        let mut auth = [0u8; 16];
        getrandom::fill(&mut auth).unwrap();
        Browser { secret, auth, endpoint: format!("{}/push/{name}", service.base) }
    }

    fn public(&self) -> Vec<u8> {
        self.secret.public_key().to_encoded_point(false).as_bytes().to_vec()
    }

    fn subscription(&self) -> Value {
        json!({
            "endpoint": self.endpoint,
            "expirationTime": null,
            "keys": {"p256dh": b64url_encode(&self.public()), "auth": b64url_encode(&self.auth)},
        })
    }

    /// RFC 8291 §3.4 backwards: the plaintext of an `aes128gcm` body encrypted to this browser.
    fn decrypt(&self, body: &[u8]) -> Value {
        assert!(body.len() > 86, "too short for an aes128gcm header: {} bytes", body.len());
        let (salt, rest) = body.split_at(16);
        let record_size = u32::from_be_bytes(rest[..4].try_into().unwrap());
        assert!(record_size >= 18, "record size {record_size}");
        assert_eq!(rest[4], 65, "the key id is the server's uncompressed P-256 key");
        let server_public = &rest[5..70];
        let sealed = &rest[70..];
        let server_key = PublicKey::from_sec1_bytes(server_public).expect("the key id is a P-256 point");
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), server_key.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(&self.public());
        info.extend_from_slice(server_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut key, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut key).unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let mut plain = Aes128Gcm::new_from_slice(&key)
            .unwrap()
            .decrypt(&aes_gcm::Nonce::from(nonce), sealed)
            .expect("the body decrypts with the browser's keys");
        // The last record ends with the delimiter 2, then any zero padding.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "the last record's delimiter");
        assert!(plain.len() <= 3000, "payload of {} bytes", plain.len());
        serde_json::from_slice(&plain).expect("the payload is JSON")
    }
}

/// Check the VAPID `Authorization` of `pushed` (RFC 8292) against the server's public key.
fn assert_vapid(pushed: &Pushed, public_key: &str, audience: &str) {
    let header = pushed.headers["authorization"].to_str().unwrap();
    let rest = header.strip_prefix("vapid ").unwrap_or_else(|| panic!("not a vapid Authorization: {header}"));
    let mut token = None;
    let mut key = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(t) = part.strip_prefix("t=") {
            token = Some(t);
        } else if let Some(k) = part.strip_prefix("k=") {
            key = Some(k);
        }
    }
    assert_eq!(key, Some(public_key), "k= is the key GET /push/key gives");
    let point = b64url_decode(public_key);
    assert_eq!(point.len(), 65);
    let decoding =
        jsonwebtoken::DecodingKey::from_ec_components(&b64url_encode(&point[1..33]), &b64url_encode(&point[33..]))
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<Value>(token.expect("t="), &decoding, &validation)
        .expect("the VAPID JWT verifies with the server's public key")
        .claims;
    assert_eq!(claims["sub"], "mailto:ops@example.org");
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > common::unix_now() && exp <= common::unix_now() + 24 * 3600, "exp within 24 hours: {exp}");
}

async fn server_for(service: &PushService, configure: impl FnOnce(&mut natter::config::ServeArgs)) -> TestServer {
    let _ = service;
    common::spawn_with(|args| {
        args.push_service = vec![ServiceHost::parse("127.0.0.1").unwrap()];
        args.push_subject = Some("mailto:ops@example.org".into());
        args.push_concurrency = 1;
        args.metrics = true;
        configure(args);
    })
    .await
}

async fn subscribe(server: &TestServer, who: &Account, browser: &Browser) {
    let (status, body) = server.post("/push/subscriptions", who.tok(), &browser.subscription()).await;
    assert_eq!(status, 201, "subscribe {}: {body}", who.name);
}

async fn set_level(server: &TestServer, who: &Account, room: i64, level: &str) -> Value {
    let path = format!("/chat/chat_rooms/{room}/notifications");
    let (status, body) = server.call(Method::PUT, &path, who.tok(), Some(&json!({ "level": level }))).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn public_key(server: &TestServer, who: &Account) -> String {
    let (status, body) = server.get("/push/key", who.tok()).await;
    assert_eq!(status, 200, "{body}");
    body["public_key"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn levels_decide_who_is_pushed_and_connected_members_and_the_sender_are_not() {
    let mut service = PushService::start().await;
    let server = server_for(&service, |_| {}).await;
    let alice = chat::account(&server, "alice").await;
    let bob = chat::account(&server, "bob").await;
    let carol = chat::account(&server, "carol").await;
    let dave = chat::account(&server, "dave").await;
    let erin = chat::account(&server, "erin").await;
    let room = chat::room(&server, &alice, "general", &[&bob, &carol, &dave, &erin]).await;
    let browsers: HashMap<&str, Browser> = ["alice", "bob", "carol", "dave", "erin"]
        .into_iter()
        .map(|name| (name, Browser::new(&service, name)))
        .collect();
    for who in [&alice, &bob, &carol, &dave, &erin] {
        subscribe(&server, who, &browsers[who.name.as_str()]).await;
    }
    assert_eq!(chat::get_room(&server, &bob, room).await["notify"], "all", "the default level");
    let changed = set_level(&server, &carol, room, "mentions").await;
    common::spec::assert_room(&changed);
    assert_eq!(changed["notify"], "mentions");
    assert_eq!(set_level(&server, &dave, room, "none").await["notify"], "none");
    assert_eq!(chat::get_room(&server, &bob, room).await["notify"], "all", "a level is the member's own");
    // Pushes name alice as people see her: by her display name.
    let (status, me) = server.patch("/auth/users/me", alice.tok(), &json!({"display_name": "Alice L."})).await;
    assert_eq!(status, 200, "{me}");
    // erin has natter open: no push for her.
    let erin_socket = chat::connect(&server, &erin).await;
    let key = public_key(&server, &alice).await;

    // alice has no socket either: the sender is never pushed.
    let hello = chat::post_message(&server, &alice, room, "hello").await;
    let mention = chat::post_message(&server, &alice, room, "look @carol").await;
    let private = chat::private_chat(&server, &alice, &carol).await;
    assert_eq!(set_level(&server, &carol, private, "mentions").await["notify"], "mentions");
    let whisper = chat::post_message(&server, &alice, private, "just us").await;
    // The marker: dave's level for this private chat is the default.
    let to_dave = chat::private_chat(&server, &alice, &dave).await;
    let marker = chat::post_message(&server, &alice, to_dave, "marker").await;

    let expected = [
        ("bob", &hello, "general", "Alice L.: hello", "normal"),
        ("bob", &mention, "general", "Alice L.: look @carol", "normal"),
        ("carol", &mention, "general", "Alice L.: look @carol", "high"),
        ("carol", &whisper, "Alice L.", "Alice L.: just us", "high"),
        ("dave", &marker, "Alice L.", "Alice L.: marker", "high"),
    ];
    for (name, message, title, body, urgency) in expected {
        let pushed = service.next().await;
        assert_eq!(pushed.name, name, "pushes in order; expected {name} for {body:?}");
        assert_eq!(pushed.headers["ttl"], "86400");
        assert_eq!(pushed.headers["urgency"], urgency, "{name}: {body}");
        assert_eq!(pushed.headers["content-encoding"], "aes128gcm");
        assert_vapid(&pushed, &key, &service.base);
        let payload = browsers[name].decrypt(&pushed.body);
        let room_id = message["room_id"].as_i64().unwrap();
        assert_eq!(
            payload,
            json!({
                "title": title,
                "body": body,
                "room_id": room_id,
                "message_id": message["id"],
                "url": format!("/#/chat/{room_id}"),
            })
        );
    }
    assert!(erin_socket.queued_named("chat_response").len() >= 2, "erin saw the messages live instead");
    assert!(service.seen.try_recv().is_err(), "no push beyond those");
    erin_socket.close().await;
}

#[tokio::test]
async fn a_gone_subscription_is_deleted_and_a_test_notification_reaches_every_device() {
    let mut service = PushService::start().await;
    let server = server_for(&service, |_| {}).await;
    let (alice, bob, room) = chat::alice_and_bob(&server).await;
    let carol = chat::account(&server, "carol").await;
    let private = chat::private_chat(&server, &alice, &carol).await;
    let old_phone = Browser::new(&service, "bob-old");
    let laptop = Browser::new(&service, "bob-laptop");
    subscribe(&server, &bob, &old_phone).await;
    subscribe(&server, &bob, &laptop).await;
    subscribe(&server, &carol, &Browser::new(&service, "carol")).await;
    service.answer("bob-old", Answer::Status(410));

    chat::post_message(&server, &alice, room, "first").await;
    assert_eq!(service.next().await.name, "bob-old");
    assert_eq!(service.next().await.name, "bob-laptop");
    chat::post_message(&server, &alice, room, "second").await;
    chat::post_message(&server, &alice, private, "marker").await;
    // One at a time, so the 410's deletion came before the second message was looked at.
    assert_eq!(service.next().await.name, "bob-laptop", "the gone subscription got nothing more");
    assert_eq!(service.next().await.name, "carol");

    // The test notification goes to every device of the caller, connected or not.
    let bob_socket = chat::connect(&server, &bob).await;
    let (status, body) = server.post("/push/test", bob.tok(), &json!({})).await;
    assert_eq!(status, 202, "{body}");
    let pushed = service.next().await;
    assert_eq!(pushed.name, "bob-laptop");
    let payload = laptop.decrypt(&pushed.body);
    assert_eq!(payload["title"], "natter");
    assert!(payload["body"].as_str().unwrap().contains("test"), "{payload}");
    assert_eq!(payload["room_id"], Value::Null);
    assert_eq!(payload["message_id"], Value::Null);
    assert!(payload["url"].as_str().unwrap().starts_with('/'));
    bob_socket.close().await;

    let metrics = common::client().get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
    for line in ["natter_push_failed_total{reason=\"gone\"} 1", "natter_push_subscriptions 2"] {
        assert!(metrics.lines().any(|l| l == line), "no {line:?} in /metrics:\n{metrics}");
    }
    // The test push may be counted just after the push service saw it: the three before it are.
    let sent =
        metrics.lines().find_map(|l| l.strip_prefix("natter_push_sent_total ")).and_then(|v| v.parse::<u64>().ok());
    assert!(sent.is_some_and(|n| (3..=4).contains(&n)), "natter_push_sent_total {sent:?}");
}

#[tokio::test]
async fn subscriptions_are_checked_and_need_a_token() {
    let service = PushService::start().await;
    let server = server_for(&service, |_| {}).await;
    let bob = chat::account(&server, "bob").await;
    let browser = Browser::new(&service, "bob");

    for (method, path) in [
        (Method::GET, "/push/key"),
        (Method::POST, "/push/subscriptions"),
        (Method::DELETE, "/push/subscriptions"),
        (Method::POST, "/push/test"),
    ] {
        let (status, body) = server.call(method.clone(), path, None, Some(&browser.subscription())).await;
        assert_error(status, &body, 401, "unauthorized");
    }
    let key = b64url_decode(&public_key(&server, &bob).await);
    assert_eq!(key.len(), 65, "an uncompressed P-256 point");
    assert_eq!(key[0], 4);

    let with = |f: &dyn Fn(&mut Value)| {
        let mut body = browser.subscription();
        f(&mut body);
        body
    };
    let refused = [
        (with(&|b| b["keys"]["p256dh"] = json!(b64url_encode(&[4u8; 65]))), "keys.p256dh"),
        (with(&|b| b["keys"]["p256dh"] = json!("short")), "keys.p256dh"),
        (with(&|b| b["keys"]["auth"] = json!(b64url_encode(&[1u8; 15]))), "keys.auth"),
        (with(&|b| b["endpoint"] = json!("https://evil.example/push/1")), "endpoint"),
        (with(&|b| b["endpoint"] = json!("ftp://127.0.0.1/push/1")), "endpoint"),
        (with(&|b| b["endpoint"] = json!("not a url")), "endpoint"),
        (with(&|b| b["endpoint"] = json!(format!("http://127.0.0.1/{}", "x".repeat(2100)))), "endpoint"),
        (with(&|b| b.as_object_mut().unwrap().remove("keys").map(drop).unwrap_or(())), "keys"),
    ];
    for (body, field) in refused {
        let (status, answer) = server.post("/push/subscriptions", bob.tok(), &body).await;
        assert_error(status, &answer, 422, "validation_error");
        assert!(answer["fields"].get(field).is_some(), "422 names {field}: {answer}");
    }

    let (status, _) = server.post("/push/subscriptions", bob.tok(), &browser.subscription()).await;
    assert_eq!(status, 201);
    let (status, _) = server.post("/push/subscriptions", bob.tok(), &browser.subscription()).await;
    assert_eq!(status, 200, "the same endpoint again replaces its keys");
    let gone = json!({ "endpoint": browser.endpoint });
    let (status, _) = server.call(Method::DELETE, "/push/subscriptions", bob.tok(), Some(&gone)).await;
    assert_eq!(status, 204);
    let (status, _) = server.call(Method::DELETE, "/push/subscriptions", bob.tok(), Some(&gone)).await;
    assert_eq!(status, 204, "an unknown endpoint is 204 too");

    // A level must be one of the three, for a room of the caller's.
    let path = format!(
        "/chat/chat_rooms/{}/notifications",
        chat::private_chat(&server, &bob, &chat::account(&server, "zoe").await).await
    );
    let (status, body) = server.call(Method::PUT, &path, bob.tok(), Some(&json!({"level": "loud"}))).await;
    assert_error(status, &body, 422, "validation_error");
    let (status, body) = server
        .call(Method::PUT, "/chat/chat_rooms/999999/notifications", bob.tok(), Some(&json!({"level": "none"})))
        .await;
    assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn the_key_is_made_once_with_mode_0600_and_push_off_makes_none() {
    let server = common::spawn().await;
    let bob = chat::account(&server, "bob").await;
    let key = public_key(&server, &bob).await;
    let path = server.data_dir().join("vapid-key.pem");
    assert_eq!(common::mode(&path), 0o600);
    let dir = server.stop().await;
    let server = common::spawn_in(dir, |_| {}).await;
    let bob = chat::log_in(&server, "bob").await;
    assert_eq!(public_key(&server, &bob).await, key, "the same key after a restart");

    let off = common::spawn_with(|args| args.push = Switch::Off).await;
    let carol = chat::account(&off, "carol").await;
    for (method, path) in [
        (Method::GET, "/push/key"),
        (Method::POST, "/push/subscriptions"),
        (Method::DELETE, "/push/subscriptions"),
        (Method::POST, "/push/test"),
    ] {
        let (status, body) = off
            .call(method.clone(), path, carol.tok(), Some(&json!({"endpoint": "https://fcm.googleapis.com/x"})))
            .await;
        assert_error(status, &body, 404, "not_found");
        let (status, body) = off.call(method, path, None, None).await;
        assert_error(status, &body, 404, "not_found");
    }
    assert!(!off.data_dir().join("vapid-key.pem").exists(), "--push off makes no key");
}

#[tokio::test]
async fn a_hanging_push_service_delays_no_send_and_its_queue_stays_bounded() {
    let mut service = PushService::start().await;
    let server = server_for(&service, |args| {
        args.push_queue = 2;
        args.push_timeout = Duration::from_secs(600);
    })
    .await;
    let (alice, bob, room) = chat::alice_and_bob(&server).await;
    subscribe(&server, &bob, &Browser::new(&service, "bob")).await;
    service.answer("bob", Answer::Hang);
    let alice_socket = chat::connect(&server, &alice).await;
    let hung = service.hung.clone();
    let hanging = hung.notified();
    tokio::pin!(hanging);
    hanging.as_mut().enable();
    chat::emit_message(&alice_socket, room, "the push of this one hangs").await;
    hanging.await;
    assert_eq!(service.next().await.name, "bob");
    // The push service holds the only delivery slot; every send is still acked at once.
    for n in 0..10 {
        chat::emit_message(&alice_socket, room, &format!("message {n}")).await;
    }
    // Delivered to sockets too.
    for _ in 0..11 {
        alice_socket.wait_for("chat_response").await;
    }
    assert!(service.seen.try_recv().is_err(), "the push service is still hanging on the first push");
    // At most 2 wait, one is being resolved: the rest were dropped, and counted.
    let dropped = tokio::time::timeout(TIMEOUT, async {
        loop {
            let metrics = common::client().get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
            let dropped = metrics
                .lines()
                .find_map(|l| l.strip_prefix("natter_push_dropped_total "))
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0);
            // The fan-out queues each message after its ack may already have come back.
            if dropped >= 7 {
                break dropped;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the dropped pushes are counted");
    assert!(dropped <= 8, "dropped {dropped}");
    alice_socket.close().await;
}

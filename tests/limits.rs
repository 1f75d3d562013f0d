//! Rate limits and caps (issue 14, SPEC §5): one `--message-rate` for REST posts and Socket.IO
//! `chat_message` together, bounds on `typing` and `get_online_users`, failed logins bounded per
//! account and address and per account overall without locking the owner out, and caps on open
//! sockets per user and per address. Other client addresses are real: 127.0.0.2, 127.0.0.3, ...
//! are loopback addresses too, so a client bound to one of them is another address to the server.

mod common;
#[path = "common/sio.rs"]
mod sio;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::chat::{Account, account, history, room};
use common::{PASSWORD, TestServer, assert_error, spawn_with};
use futures_util::{SinkExt, StreamExt};
use natter::config::Rate;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sio::Client;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message as Frame;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn per_minute(count: u32) -> Rate {
    Rate { count, per: Duration::from_secs(60) }
}

fn per_15_minutes(count: u32) -> Rate {
    Rate { count, per: Duration::from_secs(15 * 60) }
}

/// An HTTP client whose connections come from `ip` (a loopback address).
fn client_from(ip: &str) -> reqwest::Client {
    let ip: IpAddr = ip.parse().expect("ip");
    reqwest::Client::builder().no_proxy().local_address(ip).timeout(common::TIMEOUT).build().expect("client")
}

/// `POST /auth/login` from `client`: status, `Retry-After`, body.
async fn login_from(
    server: &TestServer,
    client: &reqwest::Client,
    login: &str,
    password: &str,
) -> (StatusCode, Option<u64>, Value) {
    let request = client.post(server.url("/auth/login")).json(&json!({ "email": login, "password": password }));
    let (status, headers, body) = common::send(request).await;
    let retry_after = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (status, retry_after, body)
}

async fn connect(server: &TestServer, who: &Account) -> Client {
    sio::connect_token(&server.base, &who.token).await.unwrap_or_else(|e| panic!("{} could not connect: {e}", who.name))
}

fn assert_error_ack(ack: &Value, code: &str) {
    assert_eq!(ack["ok"], false, "expected an error ack {code}: {ack}");
    assert_eq!(ack["error"]["code"], code, "{ack}");
    assert!(ack["error"]["detail"].as_str().is_some_and(|d| !d.is_empty()), "{ack}");
}

#[tokio::test]
async fn rest_posts_and_socket_messages_share_one_message_rate() {
    let server = spawn_with(|a| a.message_rate = per_minute(4)).await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let general = room(&server, &alice, "general", &[&bob]).await;
    let socket = connect(&server, &alice).await;
    let path = format!("/chat/chat_rooms/{general}/messages");

    for n in 0..2 {
        let (status, body) = server.post(&path, alice.tok(), &json!({ "content": format!("rest {n}") })).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let ack =
            socket.emit_with_ack("chat_message", json!({ "room_id": general, "content": format!("socket {n}") })).await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    // Four sent, two each way: the fifth is refused whichever way it comes.
    let request = server.request(reqwest::Method::POST, &path, alice.tok()).json(&json!({ "content": "one too many" }));
    let (status, headers, body) = common::send(request).await;
    assert_error(status, &body, 429, "rate_limited");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    let ack = socket.emit_with_ack("chat_message", json!({ "room_id": general, "content": "one too many" })).await;
    assert_error_ack(&ack, "rate_limited");
    assert_eq!(history(&server, &alice, general, "").await.len(), 4, "nothing refused was stored");
    // Per user: bob has his own budget.
    let (status, _) = server.post(&path, bob.tok(), &json!({ "content": "bob is fine" })).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn typing_and_get_online_users_are_bounded_per_user() {
    let server = spawn_with(|a| {
        a.typing_rate = per_minute(3);
        a.online_users_rate = per_minute(3);
    })
    .await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let general = room(&server, &alice, "general", &[&bob]).await;
    let tab1 = connect(&server, &alice).await;
    let tab2 = connect(&server, &alice).await;
    let bob_socket = connect(&server, &bob).await;

    for n in 0..3 {
        let tab = if n % 2 == 0 { &tab1 } else { &tab2 };
        let ack = tab.emit_with_ack("typing", json!({ "room_id": general, "typing": true })).await;
        assert_eq!(ack["ok"], true, "{ack}");
        assert_eq!(bob_socket.wait_for("typing").await["user_id"], alice.id);
        let ack = tab.emit_with_ack("get_online_users", json!({ "room_id": general })).await;
        assert_eq!(ack["ok"], true, "{ack}");
    }
    // Per user, across tabs.
    for tab in [&tab1, &tab2] {
        let ack = tab.emit_with_ack("typing", json!({ "room_id": general, "typing": false })).await;
        assert_error_ack(&ack, "rate_limited");
        let ack = tab.emit_with_ack("get_online_users", json!({ "room_id": general })).await;
        assert_error_ack(&ack, "rate_limited");
    }
    // A refused `typing` is not broadcast; bob's own budget is untouched.
    let ack = bob_socket.emit_with_ack("typing", json!({ "room_id": general, "typing": true })).await;
    assert_eq!(ack["ok"], true, "{ack}");
    assert_eq!(tab1.wait_for("typing").await["user_id"], bob.id);
    bob_socket.assert_no_event("typing", sio::ABSENCE).await;
    assert!(!tab1.is_closed(), "a bound does not drop the connection");
}

/// The finding: 10 wrong passwords for carol from one address locked carol out
/// everywhere for 15 minutes.
#[tokio::test]
async fn a_strangers_wrong_passwords_do_not_lock_the_owner_out() {
    let server = spawn_with(|a| {
        a.login_fail_rate = per_15_minutes(10);
        a.login_fail_account_rate = per_15_minutes(100);
    })
    .await;
    server.signup("carol").await;
    let attacker = client_from("127.0.0.2");
    for _ in 0..10 {
        let (status, _, body) = login_from(&server, &attacker, "carol", "wrong-password").await;
        assert_error(status, &body, 401, "unauthorized");
    }
    // The attacker's address is done for 15 minutes, even with the right password.
    for password in ["wrong-password", PASSWORD] {
        let (status, retry_after, body) = login_from(&server, &attacker, "carol@example.com", password).await;
        assert_error(status, &body, 429, "rate_limited");
        assert!(retry_after.is_some_and(|s| (1..=900).contains(&s)), "Retry-After {retry_after:?}");
    }
    // Carol, from her own address (never seen before), logs in.
    let owner = client_from("127.0.0.1");
    let (status, _, body) = login_from(&server, &owner, "carol", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Another stranger has their own 10 tries.
    let (status, _, body) = login_from(&server, &client_from("127.0.0.3"), "carol", "nope-nope").await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn the_account_wide_bound_stops_spread_out_guessing_but_not_the_owners_known_address() {
    let server = spawn_with(|a| {
        a.login_fail_rate = per_15_minutes(2);
        a.login_fail_account_rate = per_15_minutes(3);
    })
    .await;
    server.signup("carol").await;
    let home = client_from("127.0.0.1");
    let (status, _, body) = login_from(&server, &home, "carol", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Three failures from two addresses reach the account-wide bound.
    for (ip, tries) in [("127.0.0.2", 2), ("127.0.0.3", 1)] {
        let client = client_from(ip);
        for _ in 0..tries {
            let (status, _, body) = login_from(&server, &client, "carol", "wrong-password").await;
            assert_error(status, &body, 401, "unauthorized");
        }
    }
    // A new address is refused, even with the right password...
    let (status, retry_after, body) = login_from(&server, &client_from("127.0.0.4"), "carol", PASSWORD).await;
    assert_error(status, &body, 429, "rate_limited");
    assert!(retry_after.is_some_and(|s| (1..=900).contains(&s)), "Retry-After {retry_after:?}");
    // ...and so is 127.0.0.3, which has one try left of its own but is not known to the account.
    let (status, _, body) = login_from(&server, &client_from("127.0.0.3"), "carol", PASSWORD).await;
    assert_error(status, &body, 429, "rate_limited");
    // Carol's address, where she logged in before, still works.
    let (status, _, body) = login_from(&server, &home, "carol", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Other accounts are not affected.
    server.signup("dave").await;
    let (status, _, body) = login_from(&server, &client_from("127.0.0.4"), "dave", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Open a Socket.IO connection from `ip` with `token`: `Ok` once connected, `Err(connect_error
/// data)` when refused. The WebSocket is returned so that it stays open.
async fn connect_from(
    addr: SocketAddr,
    ip: &str,
    token: &str,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, Value> {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.bind(SocketAddr::new(ip.parse().expect("ip"), 0)).expect("bind");
    let tcp = socket.connect(addr).await.expect("connect");
    let request = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket").into_client_request().expect("request");
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp).await.expect("WebSocket handshake");
    ws.send(Frame::text(format!("40{}", json!({ "token": token })))).await.expect("send CONNECT");
    loop {
        let frame = tokio::time::timeout(sio::TIMEOUT, ws.next()).await.expect("an answer").expect("open").expect("ok");
        let Frame::Text(text) = frame else { continue };
        if text.starts_with("40") {
            return Ok(ws);
        }
        if let Some(data) = text.strip_prefix("44") {
            return Err(serde_json::from_str(data).expect("connect_error data"));
        }
    }
}

#[tokio::test]
async fn open_sockets_are_capped_per_user_and_per_address() {
    let server = spawn_with(|a| {
        a.max_sockets_per_user = 2;
        a.max_sockets_per_address = 3;
    })
    .await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let refused = json!({ "message": "rate_limited" });

    let first = connect(&server, &alice).await;
    let _second = connect(&server, &alice).await;
    match sio::connect_token(&server.base, &alice.token).await {
        Err(sio::ConnectError::Refused(data)) => assert_eq!(data, refused),
        Ok(_) => panic!("a third socket for alice was accepted"),
        Err(e) => panic!("unexpected: {e}"),
    }
    // Per user, from any address.
    assert_eq!(connect_from(server.addr, "127.0.0.2", &alice.token).await.err(), Some(refused.clone()));
    // Closing one makes room (once the server has seen the close).
    first.close().await;
    let deadline = tokio::time::Instant::now() + sio::TIMEOUT;
    let _third = loop {
        match sio::connect_token(&server.base, &alice.token).await {
            Ok(client) => break client,
            Err(sio::ConnectError::Refused(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => panic!("alice could not connect after closing a socket: {e}"),
        }
    };

    // 127.0.0.1 holds alice's two, once the refused attempts' connections have closed (a
    // session counts against its address from its first request until its connection closes,
    // CONNECT or not).
    let localhost: IpAddr = "127.0.0.1".parse().expect("ip");
    while server.state.admission.sessions_from(localhost) != 2 {
        assert!(tokio::time::Instant::now() < deadline, "{} sessions", server.state.admission.sessions_from(localhost));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Bob gets the third, not a fourth: that one is refused at the WebSocket handshake, before
    // it is a session, with the SPEC's 429.
    let _bob1 = connect(&server, &bob).await;
    match sio::connect_token(&server.base, &bob.token).await {
        Err(sio::ConnectError::Ws(tokio_tungstenite::tungstenite::Error::Http(response))) => {
            assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
            let body: Value = serde_json::from_slice(response.body().as_deref().unwrap_or_default()).expect("JSON");
            assert_eq!(body["code"], "rate_limited", "{body}");
            assert!(response.headers().contains_key("retry-after"), "{:?}", response.headers());
        }
        Ok(_) => panic!("a fourth socket from 127.0.0.1 was accepted"),
        Err(e) => panic!("unexpected: {e}"),
    }
    // From another address, bob connects.
    let _bob2 = connect_from(server.addr, "127.0.0.2", &bob.token).await.expect("bob from 127.0.0.2");
}

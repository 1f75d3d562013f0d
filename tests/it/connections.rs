//! Issue 14, the accept loop's part: a header-read timeout (slowloris), idle keep-alive
//! connections closed, and a bound on open connections. Raw TCP, so the test controls every
//! byte and sees exactly when the server closes.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common;

/// Read until the server closes the connection (EOF or reset); what was read.
async fn read_until_closed(tcp: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(common::TIMEOUT, tcp.read(&mut buf)).await.expect("the server closes in time") {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

#[tokio::test]
async fn slowloris_headers_are_cut_off_after_the_header_timeout() {
    let server = common::spawn_with(|args| args.header_timeout = Duration::from_secs(2)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    // One byte a second, never finishing the head; the writer stops when the server closes.
    let request =
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    let (mut read, mut write) = tcp.split();
    let drip = async {
        for byte in request {
            if write.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let mut buf = [0u8; 1024];
    let closed = async {
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => return started.elapsed(),
                Ok(_) => {}
            }
        }
    };
    let elapsed = tokio::select! {
        elapsed = closed => elapsed,
        () = drip => panic!("the whole slow header was accepted"),
    };
    println!("slowloris connection closed after {elapsed:?} (--header-timeout 2s)");
    assert!(elapsed >= Duration::from_secs(2), "closed before the timeout: {elapsed:?}");
    assert!(elapsed < Duration::from_secs(request.len() as u64), "{elapsed:?}");
}

#[tokio::test]
async fn idle_keep_alive_connections_are_closed() {
    let server = common::spawn_with(|args| args.header_timeout = Duration::from_secs(1)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let answered = Instant::now();
    let bytes = read_until_closed(&mut tcp).await;
    let elapsed = answered.elapsed();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.starts_with("HTTP/1.1 200"), "the request was answered first: {text}");
    println!("idle keep-alive connection closed {elapsed:?} after its response (--header-timeout 1s)");
    assert!(elapsed >= Duration::from_secs(1), "{elapsed:?}");
    // A silent connection (nothing ever sent) is closed too.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    assert!(read_until_closed(&mut silent).await.is_empty());
}

#[tokio::test]
async fn open_connections_are_bounded() {
    let server = common::spawn_with(|args| {
        args.max_connections = 2;
        args.header_timeout = Duration::from_secs(60);
    })
    .await;
    let first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    // The second one is served (so both are accepted and counted).
    second.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(common::TIMEOUT, second.read(&mut buf)).await.unwrap().unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // A third waits in the kernel's queue: its request gets no answer while two are open…
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(waited.is_err(), "the third connection was served beyond --max-connections 2");
    // …and is served as soon as one closes.
    drop(first);
    let answer = read_until_closed(&mut third).await;
    assert!(String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&answer));
}

/// What the server answers to `request` sent raw: the status line's code, the head, and the
/// body parsed as JSON.
async fn raw_answer(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String, serde_json::Value) {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    let answer = String::from_utf8(read_until_closed(&mut tcp).await).expect("a text answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {answer:?}"));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
    let body = serde_json::from_str(body).unwrap_or_else(|e| panic!("body {body:?} is not JSON: {e}"));
    (status, head.to_ascii_lowercase(), body)
}

/// Requests hyper refuses before natter's router sees them still get the SPEC error body
/// (the hardening round: "a 1 MB header → 431, a 100 KB query → 414, a bad request line → 400, each with
/// an empty body").
#[tokio::test]
async fn requests_hyper_cannot_parse_get_the_spec_error_body() {
    let server = common::spawn().await;
    let many_headers: String = (0..120).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(), 431, "headers_too_large"),
        (format!("GET /healthz?{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000)).into_bytes(), 414, "uri_too_long"),
        (b"BLAH\r\n\r\n".to_vec(), 400, "bad_request"),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(), 400, "bad_request"),
        (b"GET /healthz HTTP/1.1\r\nBad Header\r\n\r\n".to_vec(), 400, "bad_request"),
    ];
    for (request, status, code) in cases {
        let (got, head, body) = raw_answer(server.addr, &request).await;
        assert_eq!((got, body["code"].as_str()), (status, Some(code)), "{head}");
        assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
        assert!(head.contains("\r\ncontent-type: application/json"), "{head}");
        assert!(head.contains("\r\nx-content-type-options: nosniff"), "{head}");
        assert!(head.contains("\r\nconnection: close"), "{head}");
    }
    // The server's own errors are untouched (one JSON body, not rewritten twice).
    let (status, _, body) =
        raw_answer(server.addr, b"GET /nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

/// A request body that stops arriving is the client's doing: past `--request-timeout` it gets
/// 408 `request_timeout` and the connection is closed, as a stalled upload does (it was 500
/// `internal`, as if the server had failed).
#[tokio::test]
async fn a_body_that_stops_arriving_gets_408_not_500() {
    let server = common::spawn_with(|args| args.request_timeout = Duration::from_secs(1)).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(
        b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 60\r\n\r\n{\"email\":",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let answer = String::from_utf8(read_until_closed(&mut tcp).await).expect("a text answer");
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_else(|| panic!("no head in {answer:?}"));
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{body:?}: {e}"));
    println!("a stalled body was answered after {:?}: {head:?} {body}", started.elapsed());
    assert!(head.starts_with("HTTP/1.1 408"), "{head}");
    assert_eq!(body["code"], "request_timeout", "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    assert!(head.to_ascii_lowercase().contains("\r\nconnection: close"), "{head}");
}

// ---- Socket.IO connections that never CONNECT ----

/// The result of opening `/socket.io/?EIO=4&transport=websocket` from 127.0.0.1 and sending
/// nothing: the open WebSocket, or the refusal's status and JSON body.
async fn open_websocket(
    addr: std::net::SocketAddr,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, (u16, serde_json::Value)> {
    use tokio_tungstenite::tungstenite::{Error, client::IntoClientRequest};
    let request = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket").into_client_request().unwrap();
    let opening = async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        tokio_tungstenite::client_async(request, tcp).await
    };
    match tokio::time::timeout(Duration::from_secs(5), opening).await {
        Ok(Ok((ws, _))) => Ok(ws),
        Ok(Err(Error::Http(response))) => {
            let body = response.body().as_deref().unwrap_or_default();
            let json = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
            Err((response.status().as_u16(), json))
        }
        Ok(Err(e)) => panic!("the WebSocket handshake failed: {e}"),
        // Waiting in the kernel's queue: every connection the server allows is taken.
        Err(_) => Err((0, serde_json::Value::Null)),
    }
}

/// Open `count` WebSockets that never CONNECT: those accepted, and the statuses of the others.
async fn hold_websockets(
    addr: std::net::SocketAddr,
    count: usize,
) -> (Vec<tokio_tungstenite::WebSocketStream<TcpStream>>, Vec<(u16, serde_json::Value)>) {
    let (mut held, mut refused) = (Vec::new(), Vec::new());
    for _ in 0..count {
        match open_websocket(addr).await {
            Ok(ws) => held.push(ws),
            Err((0, _)) => break,
            Err(refusal) => refused.push(refusal),
        }
    }
    (held, refused)
}

/// Whether `GET /healthz` answers 200 within 5 s on a fresh connection.
async fn healthz_answers(server: &common::TestServer) -> bool {
    let fresh = reqwest::Client::builder().no_proxy().build().unwrap();
    let request = fresh.get(server.url("/healthz")).timeout(Duration::from_secs(5)).send();
    matches!(request.await, Ok(response) if response.status() == 200)
}

/// One address opening WebSockets and never sending the Socket.IO CONNECT filled every
/// connection slot (10,026 open files at 10,000 sockets) and `/healthz` took 20 s. Now it counts
/// against `--max-sockets-per-address` from the upgrade, and the server stays reachable.
#[tokio::test]
async fn one_address_cannot_fill_the_server_with_sockets_that_never_connect() {
    let server = common::spawn_with(|args| {
        args.max_connections = 300;
        args.max_sockets_per_address = 50;
        // Long enough that none is closed while the test holds them.
        args.handshake_timeout = Duration::from_secs(60);
    })
    .await;
    let (held, refused) = hold_websockets(server.addr, 300).await;
    let answered = healthz_answers(&server).await;
    println!(
        "--max-connections 300, --max-sockets-per-address 50: {} pre-CONNECT WebSockets held, {} refused, /healthz answered: {answered}",
        held.len(),
        refused.len()
    );
    assert!(answered, "/healthz did not answer while one address held {} sockets that never connected", held.len());
    assert_eq!(held.len(), 50, "one address held more sockets than --max-sockets-per-address");
    assert_eq!(refused.len(), 250);
    for (status, body) in &refused {
        assert_eq!((*status, body["code"].as_str()), (429, Some("rate_limited")), "{body}");
    }
    // Another address is not affected.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let tcp = socket.connect(server.addr).await.unwrap();
    let request = tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://{}/socket.io/?EIO=4&transport=websocket",
        server.addr
    ))
    .unwrap();
    tokio_tungstenite::client_async(request, tcp).await.expect("a socket from 127.0.0.2");
    // Closing makes room again, once the server has seen the close.
    drop(held);
    let deadline = Instant::now() + common::TIMEOUT;
    while server.state.admission.sessions_from("127.0.0.1".parse().unwrap()) != 0 {
        assert!(Instant::now() < deadline, "closed sockets still count against their address");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    open_websocket(server.addr).await.expect("a socket once the others closed");
}

/// With the per-address cap off (or many addresses), realtime connections may take only
/// `--max-connections` less `--http-reserve`: the rest get 503, and plain HTTP keeps its share.
#[tokio::test]
async fn plain_http_keeps_its_reserve_when_websockets_take_the_rest() {
    let server = common::spawn_with(|args| {
        args.max_connections = 300;
        args.handshake_timeout = Duration::from_secs(60);
    })
    .await;
    // Made before the sockets take their share (logging in is tried after), on a connection
    // that is closed before they do: every connection is the test's to count.
    let signup = common::Api::new(server.addr);
    assert_eq!(signup.try_signup("alice").await.0, 201);
    drop(signup);
    let deadline = Instant::now() + common::TIMEOUT;
    while !server.state.connections.is_empty() {
        assert!(Instant::now() < deadline, "the signup's connection stays open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (held, refused) = hold_websockets(server.addr, 300).await;
    let answered = healthz_answers(&server).await;
    println!(
        "--max-connections 300, no per-address cap: {} pre-CONNECT WebSockets held, {} refused, /healthz answered: {answered}",
        held.len(),
        refused.len()
    );
    assert!(answered, "/healthz did not answer while {} WebSockets were open", held.len());
    assert_eq!(held.len(), 270, "the default --http-reserve is 10% of --max-connections");
    assert_eq!(refused.len(), 30);
    for (status, body) in &refused {
        assert_eq!((*status, body["code"].as_str()), (503, Some("unavailable")), "{body}");
    }
    let fresh = common::Api::new(server.addr);
    let (status, body) = fresh.login("alice", common::PASSWORD).await;
    assert_eq!(status, 200, "{body}");
}

/// A socket that never sends its CONNECT, or whose CONNECT was refused, is closed after
/// `--handshake-timeout` (socketioxide's default was 45 s), and stops counting against its
/// address; so does a long-polling session.
#[tokio::test]
async fn sessions_that_do_not_connect_are_closed_after_the_handshake_timeout() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = common::spawn_with(|args| args.handshake_timeout = Duration::from_secs(1)).await;
    let localhost = "127.0.0.1".parse().unwrap();
    let silent = open_websocket(server.addr).await.expect("a WebSocket");
    let mut refused = open_websocket(server.addr).await.expect("a WebSocket");
    refused.send(Message::text(r#"40{"token":"not a token"}"#)).await.unwrap();
    let polling = server.http.get(server.url("/socket.io/?EIO=4&transport=polling")).send().await.unwrap();
    assert_eq!(polling.status(), 200);
    let open = polling.text().await.unwrap();
    let sid = open.split("\"sid\":\"").nth(1).and_then(|rest| rest.split('"').next()).expect("a sid").to_string();
    let started = Instant::now();

    // Each WebSocket sees its open packet (and the refused one its connect_error), then the end.
    let until_closed = |mut ws: tokio_tungstenite::WebSocketStream<TcpStream>| async move {
        let mut texts = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
                Err(_) => return (texts, None),
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return (texts, Some(started.elapsed())),
                Ok(Some(Ok(Message::Text(text)))) => texts.push(text.to_string()),
                Ok(Some(Ok(_))) => {}
            }
        }
    };
    let ((silent_texts, silent_closed), (refused_texts, refused_closed)) =
        tokio::join!(until_closed(silent), until_closed(refused));
    println!(
        "--handshake-timeout 1s: silent socket closed after {silent_closed:?}, refused one after {refused_closed:?}"
    );
    assert!(silent_texts.first().is_some_and(|t| t.starts_with('0')), "{silent_texts:?}");
    assert!(refused_texts.iter().any(|t| t.starts_with("44")), "{refused_texts:?}");
    for closed in [silent_closed, refused_closed] {
        let closed = closed.expect("the server closed the socket within 10 s");
        assert!(closed < Duration::from_secs(5), "{closed:?}");
    }
    // The polling session is gone too.
    let deadline = Instant::now() + common::TIMEOUT;
    while server.state.admission.sessions_from(localhost) != 0 {
        assert!(Instant::now() < deadline, "closed sessions still count against their address");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let poll = server.http.get(server.url(&format!("/socket.io/?EIO=4&transport=polling&sid={sid}"))).send().await;
    assert_eq!(poll.unwrap().status(), 400, "the polling session outlived the handshake timeout");
}

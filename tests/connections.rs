//! Issue 14, the accept loop's part: a header-read timeout (slowloris), idle keep-alive
//! connections closed, and a bound on open connections. Raw TCP, so the test controls every
//! byte and sees exactly when the server closes.

mod common;

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
/// (issue 14: "a 1 MB header → 431, a 100 KB query → 414, a bad request line → 400, each with
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


//! Issue 14, input and files: private file modes, no secret in any log line, stalled uploads
//! (idle-body timeout, in-flight bytes in the quota), canonical ids, RFC 9110 ranges, bidi
//! controls in filenames, and security headers on every response.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::header::{
    CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_TYPE, RANGE, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common;
use crate::common::chat::{self, Account, UPLOAD, upload, upload_ok};
use crate::common::process::ServerProcess;
use crate::common::sio::{self, Options};
use crate::common::{TIMEOUT, TestServer, assert_error, mode, natter_cmd, read_json, spawn, spawn_with};

// ---- 1. Private data is not world-readable ----

/// Run the command under umask 000, the most permissive an operator can have.
#[cfg(unix)]
fn umask_000(command: &mut tokio::process::Command) {
    // SAFETY: `umask` is async-signal-safe and touches only the child's own state.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
}

#[cfg(unix)]
fn side(db: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", db.display()))
}

#[cfg(unix)]
fn assert_private(data: &Path, media_file: &Path) {
    let db = data.join("natter.db");
    for (path, expected) in [
        (data.to_path_buf(), 0o700),
        (data.join("media"), 0o700),
        (db.clone(), 0o600),
        (side(&db, "-wal"), 0o600),
        (side(&db, "-shm"), 0o600),
        (data.join("jwt-secret"), 0o600),
        (data.join("natter.lock"), 0o600),
        (media_file.to_path_buf(), 0o600),
    ] {
        assert_eq!(mode(&path), expected, "mode of {}: {:o}", path.display(), mode(&path));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn private_files_are_0600_and_folders_0700_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    // The folder exists already, as an operator's `mkdir` (0755) leaves it: natter tightens it.
    let data = dir.path().join("data");
    std::fs::create_dir(&data).expect("mkdir data");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let server = ServerProcess::start_with(&data, &[], umask_000).await;
    let (token, _) = server.signup("alice").await;
    let attachment = upload_ok(&server, &token, b"private notes".to_vec(), "notes.txt").await;
    let stored = attachment["url"].as_str().expect("url").trim_start_matches("/media/").to_string();
    let media_file = data.join("media").join(&stored);
    assert_private(&data, &media_file);

    // `natter backup`, under the same umask, while the server runs.
    let backup = dir.path().join("copy.db");
    let data_arg = data.to_str().unwrap();
    let mut command = natter_cmd(dir.path(), &["backup", backup.to_str().unwrap(), "--data-dir", data_arg]);
    umask_000(&mut command);
    let output = tokio::time::timeout(TIMEOUT, command.output()).await.expect("backup in time").expect("run backup");
    assert!(output.status.success(), "backup: {}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(mode(&backup), 0o600, "backup mode {:o}", mode(&backup));
    server.kill().await;

    // An install from before: everything world-readable. The next start tightens it.
    let open = |path: &Path, m: u32| std::fs::set_permissions(path, std::fs::Permissions::from_mode(m)).unwrap();
    let db = data.join("natter.db");
    for path in [db.clone(), side(&db, "-wal"), side(&db, "-shm"), data.join("jwt-secret"), media_file.clone()] {
        if path.exists() {
            open(&path, 0o644);
        }
    }
    open(&data, 0o755);
    open(&data.join("media"), 0o755);
    let server = ServerProcess::start(&data, &[]).await;
    let (token, _) = server.signup("bob").await;
    assert_eq!(server.get("/auth/users/me", Some(&token)).await.0, StatusCode::OK);
    assert_private(&data, &media_file);
    server.kill().await;
}

// ---- 2. No secret in any log line, at any level ----

#[tokio::test]
async fn no_token_password_secret_or_capability_is_logged_even_at_trace() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = ServerProcess::start(dir.path(), &["--log", "trace"]).await;
    let password = "hunter2-correct-horse";
    let (status, _) = server
        .post("/auth/signup", None, &json!({"username": "alice", "email": "alice@example.com", "password": password}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = server.login("alice", password).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["access_token"].as_str().expect("token").to_string();
    // The OAuth2 form carries the password too.
    let form = server.http.post(server.url("/auth/token")).form(&[("username", "alice"), ("password", password)]);
    assert_eq!(form.send().await.expect("token").status(), StatusCode::OK);
    // REST with the bearer token.
    assert_eq!(server.get("/auth/users/me", Some(&token)).await.0, StatusCode::OK);
    let alice = Account { token: token.clone(), id: body["user"]["id"].as_i64().unwrap(), name: "alice".into() };
    let room = chat::room(&server, &alice, "secrets", &[]).await;

    // Sockets: the token in `auth`, in `?token=`, and in an Authorization header.
    let by_auth = sio::connect_token(&server.base, &token).await.expect("connect with auth");
    let by_query = sio::connect(&server.base, Options::query_token(&token)).await.expect("connect with ?token=");
    let by_header = sio::connect(&server.base, Options::bearer_header(&token)).await.expect("connect with header");

    // An upload, a message that carries it (so its URL goes out over every socket) and a download.
    let attachment = upload_ok(&server, &token, b"the capability is the name".to_vec(), "cap.txt").await;
    let url = attachment["url"].as_str().expect("url").to_string();
    let capability = url.trim_start_matches("/media/").split('.').next().unwrap().to_string();
    let ack = by_auth
        .emit_with_ack(
            "chat_message",
            json!({"room_id": room, "content": "see file", "attachment_id": attachment["id"]}),
        )
        .await;
    assert_eq!(ack["ok"], true, "{ack}");
    for socket in [&by_auth, &by_query, &by_header] {
        let message = socket.wait_for("chat_response").await;
        assert_eq!(message["attachment"]["url"], url.as_str());
    }
    let response = server.http.get(server.url(&url)).send().await.expect("download");
    assert_eq!(response.status(), StatusCode::OK);
    // A missing file by a well-formed name, and a Range on the real one.
    let response = server.http.get(server.url(&url)).header(RANGE, "bytes=0-3").send().await.expect("range");
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    by_auth.close().await;
    by_query.close().await;
    by_header.close().await;
    // One more request after the sockets closed, so their close is logged before we read.
    assert_eq!(server.get("/healthz", None).await.0, StatusCode::OK);

    let secret = String::from_utf8(std::fs::read(dir.path().join("jwt-secret")).expect("secret")).unwrap();
    let signature = token.rsplit('.').next().unwrap().to_string();
    let logs = server.logs();
    assert!(logs.len() > 20, "trace logging produced only {} lines", logs.len());
    assert!(logs.iter().any(|l| l.contains("TRACE") || l.contains("DEBUG")), "nothing below info was logged");
    for (what, needle) in [
        ("the token", token.as_str()),
        ("the token's signature", signature.as_str()),
        ("the password", password),
        ("the JWT secret", secret.trim()),
        ("the media capability", capability.as_str()),
    ] {
        let leaks: Vec<&String> = logs.iter().filter(|line| line.contains(needle)).collect();
        assert!(leaks.is_empty(), "{what} is in {} log lines, e.g. {:?}", leaks.len(), leaks.first());
    }
    server.kill().await;
}

// ---- 3. Stalled uploads ----

/// A raw HTTP/1.1 upload that declares a `declared`-byte file and sends the headers and the
/// first `sent` bytes of it.
async fn start_raw_upload(server: &TestServer, token: &str, declared: usize, sent: usize) -> TcpStream {
    let boundary = "stall-boundary-3c9e";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.txt\"\r\n\
         Content-Type: text/plain\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let length = head.len() + declared + tail.len();
    let request = format!(
        "POST {UPLOAD} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n{head}",
        server.addr
    );
    let mut stream = TcpStream::connect(server.addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("send the head");
    stream.write_all(&vec![b'a'; sent]).await.expect("send part of the file");
    stream
}

/// The answer on a raw connection: status and JSON body, then (if `then_close`, waiting for it)
/// whether the server closed the connection.
async fn read_raw_answer(stream: &mut TcpStream, then_close: bool) -> (u16, Value, bool) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut closed = false;
    let (status, body) = loop {
        let n = tokio::time::timeout(TIMEOUT, stream.read(&mut chunk)).await.expect("an answer in time");
        let n = match n {
            Ok(0) | Err(_) => {
                closed = true;
                0
            }
            Ok(n) => n,
        };
        buffer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buffer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                .and_then(|v| v.parse::<usize>().ok());
            if let Some(length) = length
                && body.len() >= length
            {
                let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status");
                break (status, serde_json::from_str(&body[..length]).expect("a JSON body"));
            }
        }
        assert!(!closed, "closed before a whole answer: {text:?}");
    };
    if !closed && then_close {
        // After the answer: EOF (or a reset) means the server closed the connection.
        closed = matches!(tokio::time::timeout(TIMEOUT, stream.read(&mut chunk)).await, Ok(Ok(0)) | Ok(Err(_)));
    }
    (status, body, closed)
}

fn temp_uploads(server: &TestServer) -> Vec<(PathBuf, u64)> {
    std::fs::read_dir(server.state.config.data.media_path())
        .expect("list media")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(".upload-"))
        .map(|e| (e.path(), e.metadata().map(|m| m.len()).unwrap_or(0)))
        .collect()
}

/// Wait until the server has written `bytes` of temporary upload data in all (it reads what
/// the raw clients sent at its own pace; there is no event to wait for).
async fn until_temp_bytes(server: &TestServer, bytes: u64) {
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let total: u64 = temp_uploads(server).iter().map(|(_, n)| n).sum();
        if total >= bytes {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "only {total} of {bytes} temporary bytes written");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn bytes_of_uploads_in_flight_count_against_the_quota() {
    const MB: usize = 1_000_000;
    let server = spawn_with(|args| {
        args.media_quota = 3 * MB as u64;
        args.upload_idle_timeout = Duration::from_secs(600);
    })
    .await;
    let (token, _) = server.signup("alice").await;
    // Eight uploads of 2 MB files that each send 1 MB and stall: the first three fit in the
    // quota, every later one is refused at once instead of holding more disk.
    let mut stalled = Vec::new();
    for i in 0..8 {
        let mut stream = start_raw_upload(&server, &token, 2 * MB, MB).await;
        if i < 3 {
            // Most of the 1 MB (the multipart reader holds back a boundary's length).
            until_temp_bytes(&server, ((i + 1) * MB - 1000) as u64).await;
            stalled.push(stream);
        } else {
            let (status, body, closed) = read_raw_answer(&mut stream, true).await;
            assert_eq!(status, 413, "upload {i}: {body}");
            assert_eq!(body["code"], "payload_too_large", "{body}");
            assert!(body["detail"].as_str().unwrap().contains("quota"), "{body}");
            assert!(closed, "upload {i}: the connection stays open");
        }
    }
    let held: u64 = temp_uploads(&server).iter().map(|(_, n)| n).sum();
    assert!(held <= 3 * MB as u64, "{held} bytes in temporary files past a quota of {}", 3 * MB);
    assert_eq!(temp_uploads(&server).len(), 3);

    // The stalled clients go away: their files and reservations go too, and the quota is free.
    drop(stalled);
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    while !temp_uploads(&server).is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "temporary files stay after their clients left");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let (status, body) = upload(&server, &token, vec![b'b'; 2 * MB + MB / 2], "fits.txt").await;
        if status == StatusCode::CREATED {
            break;
        }
        // The handler notices the closed connection at its next read; until then it holds it.
        assert_error(status, &body, 413, "payload_too_large");
        assert!(tokio::time::Instant::now() < deadline, "the quota was not given back: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_upload_whose_body_stops_is_cut_off_by_the_idle_timeout() {
    const MB: usize = 1_000_000;
    let server = spawn_with(|args| {
        args.upload_idle_timeout = Duration::from_secs(1);
        args.media_quota = 2 * MB as u64;
    })
    .await;
    let (token, _) = server.signup("alice").await;
    let mut stream = start_raw_upload(&server, &token, 2 * MB, MB).await;
    let (status, body, closed) = read_raw_answer(&mut stream, true).await;
    assert_eq!(status, 408, "{body}");
    assert_eq!(body["code"], "request_timeout", "{body}");
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
    assert!(closed, "the connection of a stalled upload stays open");
    assert!(temp_uploads(&server).is_empty(), "the temporary file stays: {:?}", temp_uploads(&server));
    // Its 1 MB is no longer held against the quota: a file of 2 MB (the whole quota) fits.
    upload_ok(&server, &token, vec![b'c'; 2 * MB], "whole.txt").await;
    // A slow upload that keeps sending (each pause shorter than the timeout) is not cut off.
    let boundary = "slow-boundary";
    let head = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.txt\"\r\n\r\n");
    let tail = format!("\r\n--{boundary}--\r\n");
    let (_, token2) = (0, server.signup("bob").await.0);
    let content = vec![b'd'; 3000];
    let request = format!(
        "POST {UPLOAD} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token2}\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        head.len() + content.len() + tail.len()
    );
    let mut slow = TcpStream::connect(server.addr).await.expect("connect");
    slow.write_all(request.as_bytes()).await.unwrap();
    for piece in content.chunks(1000) {
        slow.write_all(piece).await.unwrap();
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    slow.write_all(tail.as_bytes()).await.unwrap();
    let (status, body, _) = read_raw_answer(&mut slow, false).await;
    assert_eq!(status, 201, "{body}");
}

// ---- 4. Ids only in canonical form ----

#[tokio::test]
async fn ids_are_accepted_only_in_canonical_form() {
    // No first room: the table below spells the ids of the rooms this test makes.
    let server = common::spawn_without_first_room().await;
    let alice = chat::account(&server, "alice").await; // id 1, the admin
    let bob = chat::account(&server, "bob").await;
    let room = chat::room(&server, &alice, "club", &[&bob]).await;
    let message = chat::id_of(&chat::post_message(&server, &bob, room, "original").await);
    assert_eq!((room, message, bob.id), (1, 1, 2), "the table below spells these ids");

    let loose = |id: i64| {
        vec![
            format!("0{id}"),
            format!("+{id}"),
            format!("%20{id}"),
            format!("{id}.0"),
            format!("0x{id}"),
            format!("{id}%20"),
        ]
    };
    let mut calls: Vec<(Method, String, Option<Value>, &Account)> = Vec::new();
    for r in loose(room) {
        calls.push((Method::GET, format!("/chat/chat_rooms/{r}"), None, &alice));
        calls.push((Method::POST, format!("/chat/chat_rooms/{r}/members"), Some(json!({"username": "carol"})), &alice));
        calls.push((Method::DELETE, format!("/chat/chat_rooms/{r}/members/{}", bob.id), None, &alice));
        calls.push((Method::GET, format!("/chat/chat_rooms/{r}/messages"), None, &alice));
        calls.push((Method::POST, format!("/chat/chat_rooms/{r}/messages"), Some(json!({"content": "x"})), &alice));
        calls.push((Method::POST, format!("/chat/chat_rooms/{r}/read"), Some(json!({"message_id": message})), &alice));
    }
    for u in loose(bob.id) {
        calls.push((Method::DELETE, format!("/chat/chat_rooms/{room}/members/{u}"), None, &alice));
        calls.push((Method::PATCH, format!("/admin/users/{u}"), Some(json!({"disabled": true})), &alice));
    }
    for m in loose(message) {
        calls.push((Method::PATCH, format!("/chat/messages/{m}"), Some(json!({"content": "changed"})), &bob));
        calls.push((Method::DELETE, format!("/chat/messages/{m}"), None, &bob));
        calls.push((Method::PUT, format!("/chat/messages/{m}/reactions/%F0%9F%91%8D"), None, &bob));
        calls.push((Method::DELETE, format!("/chat/messages/{m}/reactions/%F0%9F%91%8D"), None, &bob));
    }
    let _carol = chat::account(&server, "carol").await;
    for (method, path, body, who) in &calls {
        let (status, answer) = server.call(method.clone(), path, who.tok(), body.as_ref()).await;
        assert_error(status, &answer, 404, "not_found");
        let _ = (method, path);
    }
    // Nothing changed.
    let room_now = chat::get_room(&server, &alice, room).await;
    let members: Vec<&str> =
        room_now["members"].as_array().unwrap().iter().map(|m| m["username"].as_str().unwrap()).collect();
    assert_eq!(members, ["alice", "bob"]);
    assert!(room_now["members"].as_array().unwrap().iter().all(|m| m["last_read_id"].is_null()), "{room_now}");
    let history = chat::history(&server, &alice, room, "").await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0]["content"], "original");
    assert_eq!(history[0]["reactions"], json!([]));
    let (_, users) = server.get("/admin/users", alice.tok()).await;
    assert!(users.as_array().unwrap().iter().all(|u| u["disabled"] == false), "{users}");
    // The canonical spelling works.
    assert_eq!(server.get(&format!("/chat/chat_rooms/{room}"), alice.tok()).await.0, StatusCode::OK);
    // Ids in the query string too: 422 naming the parameter.
    for query in ["before=01", "after=+1", "limit=%2050", "before=1.0", "after=0x1"] {
        let (status, body) = server.get(&format!("/chat/chat_rooms/{room}/messages?{query}"), alice.tok()).await;
        assert_error(status, &body, 422, "validation_error");
        let field = query.split('=').next().unwrap();
        assert!(body["fields"][field].is_string(), "{query}: {body}");
    }
    let (status, body) = server.get(&format!("/chat/search?q=original&room_id=0{room}"), alice.tok()).await;
    assert_error(status, &body, 422, "validation_error");
    // Over Socket.IO, a digit string must be canonical too.
    let socket = chat::connect(&server, &bob).await;
    let ack = socket.emit_with_ack("mark_read", json!({"room_id": "01", "message_id": message})).await;
    assert_eq!(ack["ok"], false, "{ack}");
    assert_eq!(ack["error"]["code"], "validation_error", "{ack}");
    let ack = socket.emit_with_ack("mark_read", json!({"room_id": "1", "message_id": message})).await;
    assert_eq!(ack["ok"], true, "{ack}");
}

// ---- 5. Range per RFC 9110 ----

#[tokio::test]
async fn ranges_are_clamped_and_unsatisfiable_ones_get_416() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let bytes: Vec<u8> = (0..100).map(|i| b'a' + (i % 26) as u8).collect();
    let url = upload_ok(&server, &token, bytes.clone(), "abc.txt").await["url"].as_str().unwrap().to_string();
    let get = |range: &'static str| {
        let request = server.http.get(server.url(&url)).header(RANGE, range);
        async move { request.send().await.expect("GET") }
    };
    for (range, start, end) in [
        ("bytes=0-99999999999999999999", 0, 99),
        ("bytes=10-99999999999999999999", 10, 99),
        ("bytes=-99999999999999999999", 0, 99),
        ("bytes=-10", 90, 99),
        ("bytes=95-", 95, 99),
        ("bytes=0-0", 0, 0),
    ] {
        let response = get(range).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        let content_range = response.headers()[CONTENT_RANGE].to_str().unwrap().to_string();
        assert_eq!(content_range, format!("bytes {start}-{end}/100"), "{range}");
        assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[start..=end], "{range}");
    }
    for range in ["bytes=99999999999999999999-", "bytes=99999999999999999999-99999999999999999999", "bytes=100-"] {
        let response = get(range).await;
        assert_eq!(response.headers()[CONTENT_RANGE], "bytes */100", "{range}");
        let (status, body) = read_json(response).await;
        assert_error(status, &body, 416, "validation_error");
    }
    // Several ranges: the whole file. Malformed: ignored, the whole file.
    for range in
        ["bytes=0-1,5-6", "bytes=abc", "bytes=5-1", "bytes 0-1", "bytes=0x1-2", "bytes=", "bytes=-", "bytes=1-2-3"]
    {
        let response = get(range).await;
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        assert!(response.headers().get(CONTENT_RANGE).is_none(), "{range}");
        assert_eq!(response.bytes().await.unwrap().as_ref(), &bytes[..], "{range}");
    }
}

// ---- 6. Bidi and other control characters leave filenames ----

#[tokio::test]
async fn bidi_controls_are_stripped_from_filenames() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let sent = "invoice\u{202E}txt.exe\u{2066}\u{2069}\u{200E}\u{200F}\u{061C}\u{202A}\u{202B}\u{202C}\u{202D}\u{2067}\u{2068}\u{0085}\u{2028}.txt";
    let attachment = upload_ok(&server, &token, b"hello".to_vec(), sent).await;
    assert_eq!(attachment["filename"], "invoicetxt.exe.txt", "{attachment}");
    let response = server.http.get(server.url(attachment["url"].as_str().unwrap())).send().await.expect("GET");
    let disposition = response.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_string();
    assert_eq!(disposition, "attachment; filename=\"invoicetxt.exe.txt\"; filename*=UTF-8''invoicetxt.exe.txt");
    // Joiners inside emoji stay.
    let attachment = upload_ok(&server, &token, b"hi".to_vec(), "\u{1F469}\u{200D}\u{1F4BB}.txt").await;
    assert_eq!(attachment["filename"], "\u{1F469}\u{200D}\u{1F4BB}.txt");
}

// ---- 7. Security headers on every response ----

#[tokio::test]
async fn every_response_carries_nosniff_and_a_referrer_policy() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let url = upload_ok(&server, &token, b"x".to_vec(), "x.txt").await["url"].as_str().unwrap().to_string();
    let requests: Vec<(Method, String, Option<&str>, u16)> = vec![
        (Method::GET, "/healthz".into(), None, 200),
        (Method::GET, "/auth/users/me".into(), Some(&token), 200),
        (Method::GET, "/auth/users/me".into(), None, 401),
        (Method::GET, "/chat/chat_rooms/99".into(), Some(&token), 404),
        (Method::POST, "/no/such/route".into(), None, 404),
        (Method::PUT, "/healthz".into(), None, 405),
        (Method::GET, "/openapi.json".into(), None, 200),
        (Method::GET, url.clone(), None, 200),
        (Method::GET, "/media/0123456789abcdef0123456789abcdef.png".into(), None, 404),
        (Method::GET, "/socket.io/?EIO=4&transport=polling".into(), None, 200),
        (Method::GET, "/".into(), None, 200),
    ];
    for (method, path, token, status) in requests {
        let mut request = server.request(method.clone(), &path, token);
        if method == Method::POST {
            request = request.header(CONTENT_TYPE, "application/json").body("{}");
        }
        let response = request.send().await.expect("send");
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let headers = response.headers();
        assert_eq!(
            headers.get(X_CONTENT_TYPE_OPTIONS).map(|v| v.to_str().unwrap()),
            Some("nosniff"),
            "{method} {path}"
        );
        let policy = headers.get(REFERRER_POLICY).map(|v| v.to_str().unwrap().to_string());
        let expected = if path == "/" { "same-origin" } else { "no-referrer" };
        assert_eq!(policy.as_deref(), Some(expected), "{method} {path}");
    }
    // A bad JSON body's 400 too.
    let response = server
        .request(Method::POST, "/auth/login", None)
        .header(CONTENT_TYPE, "application/json")
        .body("{nope")
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()[X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(response.headers()[REFERRER_POLICY], "no-referrer");
}

//! Disk faults: the database and the media folder on a filesystem that fills up, and
//! on one that the kernel turns read-only. Writes get the SPEC error body (507 `storage_full`,
//! 503 `storage_read_only`, with `Retry-After`), Socket.IO `chat_message` an error ack with the
//! same code, uploads the same status with no file left behind; reads keep working, the process
//! never panics or stops, the writer thread is never stuck, and once space returns the next
//! writes succeed with nothing acknowledged lost.
//!
//! Both need root (they mount a small tmpfs, or an ext4 image on a loop device), so they are
//! ignored by a bare `cargo test`; `.ci/run` runs as root and runs them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{Account, account, connect, room, upload};
use crate::common::process::ServerProcess;
use crate::crash::scenario;

/// A filesystem mounted for one test; unmounted when dropped.
struct Mount {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Mount {
    fn run(args: &[&str]) {
        let status = Command::new(args[0]).args(&args[1..]).status().unwrap_or_else(|e| panic!("{args:?}: {e}"));
        assert!(status.success(), "{args:?} failed (these tests need root)");
    }

    /// A tmpfs of `size` (e.g. `24m`).
    fn tmpfs(size: &str) -> Mount {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        Mount::run(&["mount", "-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs", path.to_str().unwrap()]);
        Mount { path, _dir: dir }
    }

    /// An ext4 image of `mib` MiB on a loop device, which the kernel remounts read-only at the
    /// first filesystem error (`errors=remount-ro`, as on many Raspberry Pi images).
    fn ext4(mib: u64) -> Mount {
        let dir = tempfile::tempdir().unwrap();
        let image = dir.path().join("fs.img");
        std::fs::File::create(&image).unwrap().set_len(mib << 20).unwrap();
        Mount::run(&["mkfs.ext4", "-q", image.to_str().unwrap()]);
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).unwrap();
        Mount::run(&["mount", "-o", "loop,errors=remount-ro", image.to_str().unwrap(), path.to_str().unwrap()]);
        Mount { path, _dir: dir }
    }

    /// What the kernel does when it finds an ext4 inconsistency: remount it read-only at once,
    /// files open for writing included.
    fn trigger_ext4_error(&self) {
        let out = Command::new("findmnt").args(["-no", "SOURCE"]).arg(&self.path).output().expect("findmnt");
        let source = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let device = Path::new(&source).file_name().expect("a device").to_string_lossy().into_owned();
        std::fs::write(format!("/sys/fs/ext4/{device}/trigger_fs_error"), "1").expect("trigger an ext4 error");
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Fill the filesystem holding `dir` until a write fails for lack of space; the filler file.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    for chunk in [1 << 20, 4096, 1] {
        let bytes = vec![0u8; chunk];
        loop {
            match file.write_all(&bytes) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(e) => panic!("fill: {e}"),
            }
        }
    }
    path
}

/// `POST /chat/chat_rooms/{room}/messages`: status, `Retry-After`, body.
async fn post(server: &ServerProcess, who: &Account, room: i64, content: &str) -> (StatusCode, Option<String>, Value) {
    let request = server
        .request(Method::POST, &format!("/chat/chat_rooms/{room}/messages"), who.tok())
        .json(&json!({ "content": content }));
    let (status, headers, body) = common::send(request).await;
    let retry = headers.get("retry-after").map(|v| v.to_str().unwrap_or_default().to_string());
    (status, retry, body)
}

/// The SPEC error body with `code`, and nothing of the cause.
#[track_caller]
fn assert_error(body: &Value, code: &str) {
    assert_eq!(body["code"], code, "{body}");
    let keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["code", "detail"], "{body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(!detail.contains("SQLITE") && !detail.contains("os error"), "internals leaked: {detail}");
}

/// Files of the media folder that are not stored uploads (temporary files left behind).
fn temp_files(media: &Path) -> Vec<String> {
    std::fs::read_dir(media)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

/// Every id in `acked` is stored once with its content; integrity_check is ok.
fn assert_stored(db: &Path, acked: &[(i64, String)]) {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(integrity, "ok");
    for (id, content) in acked {
        let stored: Vec<String> = conn
            .prepare("SELECT content FROM messages WHERE id = ?1")
            .unwrap()
            .query_map([id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(stored, std::slice::from_ref(content), "acknowledged message {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root to mount a small tmpfs (CI runs as root)"]
async fn a_full_disk_gets_507_and_error_acks_then_recovers_by_itself() {
    let mount = Mount::tmpfs("24m");
    let data = mount.path.clone();
    let server = ServerProcess::start(&data, &["--message-rate", "0"]).await;
    let alice = account(&server.api, "alice").await;
    let room = room(&server.api, &alice, "full", &[]).await;
    let mut acked: Vec<(i64, String)> = Vec::new();
    for i in 0..5 {
        let content = format!("before the disk filled up {i}");
        let (status, _, body) = post(&server, &alice, room, &content).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        acked.push((body["id"].as_i64().unwrap(), content));
    }

    let filler = fill(&data);
    // The WAL may still have room in pages it allocated earlier: post until the disk says no.
    let big = "x".repeat(3900);
    let mut refused = None;
    for i in 0..5000 {
        let content = format!("{i} {big}");
        let (status, retry, body) = post(&server, &alice, room, &content).await;
        match status {
            StatusCode::CREATED => acked.push((body["id"].as_i64().unwrap(), content)),
            _ => {
                refused = Some((status, retry, body));
                break;
            }
        }
    }
    let (status, retry, body) = refused.expect("a full disk refused a post");
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert_error(&body, "storage_full");
    assert!(retry.is_some(), "Retry-After on 507");

    // Socket.IO: an error ack with the same code (a write may still fit in space the failed
    // transaction allocated; every ok ack counts as acknowledged).
    let socket = connect(&server.api, &alice).await;
    let mut refusal = None;
    for i in 0..50u64 {
        let message = scenario::Outgoing { client_id: format!("full-{i}"), content: format!("socket {i} {big}") };
        match scenario::send(&socket, room, &message).await.expect("the socket stays connected") {
            Ok(id) => acked.push((id, message.content)),
            Err(ack) => {
                refusal = Some(ack);
                break;
            }
        }
    }
    let refusal = refusal.expect("an error ack on a full disk");
    assert_eq!(refusal["ok"], false, "{refusal}");
    assert_eq!(refusal["error"]["code"], "storage_full", "{refusal}");

    // An upload: 507, and no temporary file stays in the media folder.
    let (status, body) = upload(&server, &alice.token, scenario::upload_bytes(7, 256 * 1024), "photo.png").await;
    assert_eq!(status, StatusCode::INSUFFICIENT_STORAGE, "{body}");
    assert_error(&body, "storage_full");
    assert_eq!(temp_files(&data.join("media")), Vec::<String>::new());

    // Reads still work, and so does the server.
    let (status, _) = server.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, history) = server.get(&format!("/chat/chat_rooms/{room}/messages?limit=5"), alice.tok()).await;
    assert_eq!(status, StatusCode::OK, "{history}");

    // Space returns: the very next writes succeed, with nobody restarting anything.
    std::fs::remove_file(&filler).unwrap();
    let (status, _, body) = post(&server, &alice, room, "space is back").await;
    assert_eq!(status, StatusCode::CREATED, "the first post after space returned: {body}");
    acked.push((body["id"].as_i64().unwrap(), "space is back".to_string()));
    let message = scenario::Outgoing { client_id: "after".into(), content: "over the socket again".into() };
    let id = scenario::send(&socket, room, &message).await.unwrap().expect("an ok ack once space is back");
    acked.push((id, message.content));
    let (status, body) = upload(&server, &alice.token, scenario::upload_bytes(7, 256 * 1024), "photo.png").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // Nothing acknowledged was lost, not even across a kill -9.
    server.kill().await;
    assert_stored(&data.join("natter.db"), &acked);
    let server = ServerProcess::start(&data, &[]).await;
    let (status, _) = server.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    server.kill().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs root to mount an ext4 image on a loop device (CI runs as root)"]
async fn a_filesystem_turned_read_only_gets_503_and_error_acks_and_keeps_serving_reads() {
    let mount = Mount::ext4(64);
    let data = mount.path.clone();
    let server = ServerProcess::start(&data, &[]).await;
    let alice = account(&server.api, "alice").await;
    let room = room(&server.api, &alice, "ro", &[]).await;
    let mut acked = Vec::new();
    for i in 0..3 {
        let content = format!("before {i}");
        let (status, _, body) = post(&server, &alice, room, &content).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        acked.push((body["id"].as_i64().unwrap(), content));
    }
    let socket = connect(&server.api, &alice).await;

    mount.trigger_ext4_error();

    let (status, retry, body) = post(&server, &alice, room, "after the remount").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "storage_read_only");
    assert!(retry.is_some(), "Retry-After on 503");
    let message = scenario::Outgoing { client_id: "ro".into(), content: "over the socket".into() };
    let refusal = scenario::send(&socket, room, &message).await.unwrap().expect_err("an error ack");
    assert_eq!(refusal["error"]["code"], "storage_read_only", "{refusal}");
    let (status, body) = upload(&server, &alice.token, scenario::upload_bytes(7, 1024), "photo.png").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_error(&body, "storage_read_only");

    // Reads keep working, again and again (the writer is not stuck either: it answers each).
    for _ in 0..3 {
        let (status, history) = server.get(&format!("/chat/chat_rooms/{room}/messages"), alice.tok()).await;
        assert_eq!(status, StatusCode::OK, "{history}");
        assert_eq!(history.as_array().map(Vec::len), Some(3), "{history}");
        let (status, _, body) = post(&server, &alice, room, "still read-only").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    }
    let (status, _) = server.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    server.kill().await;
    // What was acknowledged before is still there (read back above while serving); the image
    // itself needs an fsck and a remount before natter can write to it again.
    assert_eq!(acked.len(), 3);
}

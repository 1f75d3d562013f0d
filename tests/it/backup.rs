//! `natter backup` / `natter restore` with the media (`--with-media`) against a running server:
//! messages and uploads made before and during the backup come back in a fresh data folder and
//! are served; the backup is private to its owner; temporary uploads are not copied; refusals
//! change nothing; the progress line shows only on a terminal.

use std::collections::BTreeSet;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;

use crate::common;
use crate::common::chat::{Account, account, history, id_of, post_attachment, room, upload_ok};
use crate::common::{
    TestServer, assert_one_line_error, mode, names_in, path_str, run_natter, run_natter_ok, spawn_in, stderr,
};

/// Every message of `room`, oldest first, paging forward.
async fn all_messages(server: &TestServer, who: &Account, room: i64) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let after = all.last().map(|m| format!("&after={}", id_of(m))).unwrap_or_default();
        let page = history(server, who, room, &format!("limit=200{after}")).await;
        if page.is_empty() {
            return all;
        }
        all.extend(page);
    }
}

/// GET a `/media/...` URL: status and bytes.
async fn fetch(server: &TestServer, url: &str) -> (StatusCode, Vec<u8>) {
    let response = server.http.get(server.url(url)).send().await.expect("GET media");
    let status = response.status();
    (status, response.bytes().await.expect("media body").to_vec())
}

/// A stored file's URL path (`/media/<name>`) and name.
fn media_name(attachment: &Value) -> String {
    let url = attachment["url"].as_str().unwrap_or_else(|| panic!("no url in {attachment}"));
    url.strip_prefix("/media/").unwrap_or_else(|| panic!("not a /media/ url: {url}")).to_string()
}

#[tokio::test]
async fn backup_with_media_of_a_running_server_restores_into_a_fresh_folder() {
    let server = spawn_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let data = server.data_dir().to_path_buf();
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = room(&server, &alice, "family", &[&bob]).await;
    for i in 0..40 {
        let who = if i % 2 == 0 { &alice } else { &bob };
        common::chat::post_message(&server, who, room_id, &format!("message {i} ✓")).await;
    }
    let note = upload_ok(&server, &alice.token, b"the shopping list\n".to_vec(), "notes.txt").await;
    post_attachment(&server, &alice, room_id, "see the list", &note).await;
    let photo_text = "x".repeat(300_000);
    let big = upload_ok(&server, &bob.token, photo_text.clone().into_bytes(), "notes.txt").await;
    post_attachment(&server, &bob, room_id, "", &big).await;
    // What a crash in the middle of an upload leaves: never part of a backup.
    let media = data.join("media");
    std::fs::write(media.join(".upload-0123456789abcdef.tmp"), b"half an upload").unwrap();

    let before = all_messages(&server, &alice, room_id).await;

    // Messages with uploads keep arriving while the backup runs.
    let writer = {
        let api = common::Api::new(server.addr);
        let alice = alice.clone();
        tokio::spawn(async move {
            for sent in 0.. {
                let attachment = upload_ok(&api, &alice.token, format!("during {sent}").into_bytes(), "d.txt").await;
                post_attachment(&api, &alice, room_id, &format!("during {sent}"), &attachment).await;
            }
        })
    };

    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("natter-2026-12-03.db");
    let out =
        run_natter_ok(scratch.path(), &["backup", path_str(&file), "--with-media", "--data-dir", path_str(&data)])
            .await;
    writer.abort();
    let _ = writer.await;
    assert!(out.contains("backed up"), "{out}");
    let copied = scratch.path().join("natter-2026-12-03.db-media");
    assert!(out.contains(path_str(&copied)), "the report names the media folder: {out}");
    let backed_up = names_in(&copied);
    assert!(backed_up.contains(&media_name(&note)) && backed_up.contains(&media_name(&big)), "{backed_up:?}");
    assert!(backed_up.iter().all(|n| !n.starts_with('.')), "no temporary file in the backup: {backed_up:?}");
    assert_eq!(names_in(scratch.path()).len(), 2, "the database and its media folder, no leftover");
    #[cfg(unix)]
    {
        assert_eq!(mode(&file), 0o600, "the database copy is private");
        assert_eq!(mode(&copied), 0o700, "the media folder of the backup is private");
        assert_eq!(mode(&copied.join(media_name(&note))), 0o600);
    }

    // Something after the backup, which the restore does not have.
    common::chat::post_message(&server, &alice, room_id, "after the backup").await;

    // Restore into a folder that has never seen natter; the server starts on it.
    let fresh = tempfile::tempdir().unwrap();
    let out = run_natter_ok(
        scratch.path(),
        &["restore", path_str(&file), "--with-media", "--data-dir", path_str(fresh.path())],
    )
    .await;
    assert!(out.contains("restored"), "{out}");
    let restored = spawn_in(fresh, |_| {}).await;
    let (token, _) = restored.token("alice").await;
    let alice_again = Account { token, id: alice.id, name: "alice".into() };
    let messages = all_messages(&restored, &alice_again, room_id).await;
    assert_eq!(messages[..before.len()], before[..], "the messages from before the backup, exactly");
    assert!(messages.iter().all(|m| m["content"] != "after the backup"), "nothing written after the backup");
    // The messages sent while the backup ran: those in it are a prefix of what was sent, each
    // with its file.
    for (i, m) in messages[before.len()..].iter().enumerate() {
        assert_eq!(m["content"], format!("during {i}"), "{m}");
    }
    let mut with_files = 0;
    for message in &messages {
        if let Some(attachment) = message.get("attachment").filter(|a| !a.is_null()) {
            let url = attachment["url"].as_str().expect("attachment url");
            let (status, bytes) = fetch(&restored, url).await;
            assert_eq!(status, StatusCode::OK, "{url} of message {} is served after the restore", message["id"]);
            let (_, original) = fetch(&server, url).await;
            assert_eq!(bytes, original, "{url}: the same bytes");
            with_files += 1;
        }
    }
    assert!(with_files >= 2, "the uploads were checked");
    let (_, bytes) = fetch(&restored, &format!("/media/{}", media_name(&big))).await;
    assert_eq!(bytes, photo_text.as_bytes());

    // Without --with-media the database comes back but its files do not: the flag is what
    // brings them.
    let bare = tempfile::tempdir().unwrap();
    run_natter_ok(scratch.path(), &["restore", path_str(&file), "--data-dir", path_str(bare.path())]).await;
    let bare = spawn_in(bare, |_| {}).await;
    let (status, _) = fetch(&bare, &format!("/media/{}", media_name(&note))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn refusals_change_nothing_and_a_second_backup_copies_only_what_is_new() {
    let server = spawn_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let data = server.data_dir().to_path_buf();
    let d = path_str(&data).to_string();
    let alice = account(&server, "alice").await;
    let first = upload_ok(&server, &alice.token, b"first\n".to_vec(), "notes.txt").await;

    let scratch = tempfile::tempdir().unwrap();
    let file = scratch.path().join("b.db");
    let f = path_str(&file).to_string();
    let folder = PathBuf::from(format!("{f}-media"));
    run_natter_ok(scratch.path(), &["backup", &f, "--with-media", "--data-dir", &d]).await;
    assert_eq!(names_in(&folder), BTreeSet::from([media_name(&first)]));

    // The media folder of an earlier backup is not overwritten without --force.
    std::fs::remove_file(&file).unwrap();
    let again = run_natter(scratch.path(), &["backup", &f, "--with-media", "--data-dir", &d]).await;
    let line = assert_one_line_error(&again, "backup over an existing media folder");
    assert!(line.contains("--force"), "{line}");
    assert!(!file.exists(), "a refused backup writes nothing");

    // With --force the folder is brought up to date: the new file copied, the old one kept.
    let second = upload_ok(&server, &alice.token, b"second\n".to_vec(), "notes.txt").await;
    let out = run_natter_ok(scratch.path(), &["backup", &f, "--with-media", "--force", "--data-dir", &d]).await;
    assert!(out.contains("copied 2 media files") && out.contains("1 were already there"), "{out}");
    assert_eq!(names_in(&folder), BTreeSet::from([media_name(&first), media_name(&second)]));

    // A restore --with-media without the folder is refused before anything changes.
    let data = server.stop().await;
    let lone = scratch.path().join("lone.db");
    run_natter_ok(scratch.path(), &["backup", path_str(&lone), "--data-dir", &d]).await;
    let before = std::fs::read(data.path().join("natter.db")).unwrap();
    let refused = run_natter(scratch.path(), &["restore", path_str(&lone), "--with-media", "--data-dir", &d]).await;
    let line = assert_one_line_error(&refused, "restore --with-media without a media backup");
    assert!(line.contains("lone.db-media"), "{line}");
    assert_eq!(std::fs::read(data.path().join("natter.db")).unwrap(), before, "the database is untouched");

    // --with-media without a media folder to copy.
    let empty = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(empty.path().join("data")).unwrap();
    std::fs::copy(data.path().join("natter.db"), empty.path().join("data/natter.db")).unwrap();
    let none = run_natter(
        empty.path(),
        &[
            "backup",
            path_str(&empty.path().join("x.db")),
            "--with-media",
            "--data-dir",
            path_str(&empty.path().join("data")),
        ],
    )
    .await;
    let line = assert_one_line_error(&none, "backup --with-media without a media folder");
    assert!(line.contains("media"), "{line}");
    assert!(!empty.path().join("x.db").exists());
}

/// `script` runs the command on a pseudo-terminal: there the progress shows; in a pipe it does
/// not.
#[tokio::test]
#[ignore = "needs script(1) from util-linux (Debian: bsdutils), which .ci/run installs when missing"]
async fn progress_shows_only_on_a_terminal() {
    let server = spawn_in(tempfile::tempdir().unwrap(), |_| {}).await;
    let alice = account(&server, "alice").await;
    upload_ok(&server, &alice.token, b"a file\n".to_vec(), "notes.txt").await;
    let data = server.data_dir().to_path_buf();
    let scratch = tempfile::tempdir().unwrap();

    let piped = scratch.path().join("piped.db");
    let output =
        run_natter(scratch.path(), &["backup", path_str(&piped), "--with-media", "--data-dir", path_str(&data)]).await;
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "no progress in a pipe");

    let on_tty = scratch.path().join("tty.db");
    let command = format!(
        "'{}' backup '{}' --with-media --data-dir '{}'",
        path_str(&common::natter_bin()),
        path_str(&on_tty),
        path_str(&data)
    );
    let output = tokio::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("run script(1) from util-linux");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text} {}", stderr(&output));
    let line = text
        .split(['\r', '\n'])
        .find(|l| l.starts_with("database: 100% ("))
        .unwrap_or_else(|| panic!("a finished database progress line: {text:?}"));
    let pages: Vec<&str> =
        line.split(['(', ' ']).filter(|w| w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty()).collect();
    assert_eq!(pages.len(), 2, "{line}");
    assert_eq!(pages[0], pages[1], "every page copied: {line}");
    assert!(text.contains("media: 100% (7 bytes of 7 bytes)"), "{text:?}");
    assert!(on_tty.exists());
}

/// Rolling back an upgrade is a restore: an older natter refuses a database a newer one has
/// migrated, and leaves it as it is.
#[tokio::test]
async fn a_database_from_a_newer_natter_is_refused_and_left_alone() {
    let server = spawn_in(tempfile::tempdir().unwrap(), |_| {}).await;
    account(&server, "alice").await;
    let data = server.stop().await;
    let db = data.path().join("natter.db");
    let newer = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {};", current + 1)).unwrap();
        current + 1
    };
    let d = path_str(data.path());
    for args in [&["serve", "--bind", "127.0.0.1:0", "--data-dir", d][..], &["user", "list", "--data-dir", d][..]] {
        let output = run_natter(data.path(), args).await;
        let line = assert_one_line_error(&output, &format!("{args:?} on a newer schema"));
        assert!(line.contains("newer natter") && line.contains(&format!("version {newer}")), "{line}");
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, newer, "the database is left as it was");
}

//! SPEC §5 against the built binary: help and version, one-line flag errors, `user`, `backup`,
//! `restore`, `healthcheck`, and durability of acknowledged writes across `kill -9`.

use std::path::Path;
use std::process::Output;

use reqwest::StatusCode;

use crate::common::process::ServerProcess;
use crate::common::{
    PASSWORD, assert_one_line_error, natter_user_ok, path_str, run_natter, run_natter_ok, spawn_in, stderr, user_args,
};

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn help_and_version_exit_zero() {
    let cwd = tempfile::tempdir().unwrap();
    let help = run_natter(cwd.path(), &["--help"]).await;
    assert!(help.status.success(), "--help: {}", stderr(&help));
    let text = stdout(&help);
    for word in ["serve", "user", "backup", "restore", "--bind", "--data-dir"] {
        assert!(text.contains(word), "--help mentions {word}: {text}");
    }

    let version = run_natter(cwd.path(), &["--version"]).await;
    assert!(version.status.success(), "--version: {}", stderr(&version));
    assert_eq!(stdout(&version).trim(), format!("natter {}", env!("CARGO_PKG_VERSION")));
    assert!(!cwd.path().join("natter-data").exists(), "help and version touch no data");
}

#[tokio::test]
async fn bad_flags_fail_with_one_line_and_no_panic() {
    let cwd = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (&["--bind", "not-an-address"], "--bind"),
        (&["--max-upload", "lots"], "--max-upload"),
        (&["serve", "--max-upload", "lots"], "--max-upload"),
        (&["--token-ttl", "3 weeks"], "--token-ttl"),
        (&["--registration", "sometimes"], "--registration"),
    ];
    for (args, flag) in cases {
        let output = run_natter(cwd.path(), args).await;
        let line = assert_one_line_error(&output, &format!("{args:?}"));
        assert!(line.contains(flag), "{args:?}: the error names {flag}: {line}");
    }
    assert!(!cwd.path().join("natter-data").exists(), "a refused command line creates no data folder");
}

#[tokio::test]
async fn user_add_then_list() {
    let data = tempfile::tempdir().unwrap();
    let out = natter_user_ok(data.path(), &["add", "bob", "--email", "Bob@Example.com", "--password", PASSWORD]).await;
    assert!(out.contains("bob"), "{out}");
    natter_user_ok(data.path(), &["add", "carol", "--email", "carol@example.com", "--password", PASSWORD]).await;

    let list = natter_user_ok(data.path(), &["list"]).await;
    let bob = list
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == "bob"))
        .unwrap_or_else(|| panic!("bob is listed: {list}"));
    assert!(bob.contains("bob@example.com"), "email stored lower-case: {bob}");
    assert!(bob.contains("admin"), "the first account is an admin: {bob}");
    let carol = list
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == "carol"))
        .unwrap_or_else(|| panic!("carol is listed: {list}"));
    assert!(!carol.contains("admin"), "{carol}");

    // Same name in another case, a bad email, a short password, an unknown user: refused, one
    // line each.
    let refused: [(&[&str], &str); 4] = [
        (&["add", "BOB", "--email", "b2@example.com", "--password", PASSWORD], "taken username"),
        (&["add", "dan", "--email", "nope", "--password", PASSWORD], "bad email"),
        (&["add", "dan", "--email", "dan@example.com", "--password", "short"], "short password"),
        (&["passwd", "nobody", "--password", PASSWORD], "unknown user"),
    ];
    for (action, what) in refused {
        let output = run_natter(data.path(), &user_args(data.path(), action)).await;
        assert_one_line_error(&output, what);
    }
    let list = natter_user_ok(data.path(), &["list"]).await;
    assert_eq!(list.lines().count(), 3, "header, bob and carol only: {list}");

    // The accounts work on a server over the same data.
    let server = spawn_in(data, |_| {}).await;
    let (status, body) = server.login("bob@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["user"]["is_admin"], true);
}

/// SPEC §5: "Every subcommand takes --data-dir", written after the subcommand like every other
/// flag (`backup FILE --data-dir D` works).
#[tokio::test]
async fn user_actions_take_data_dir_after_the_action() {
    let data = tempfile::tempdir().unwrap();
    let d = path_str(data.path());
    run_natter_ok(
        data.path(),
        &["user", "add", "bob", "--email", "bob@example.com", "--password", PASSWORD, "--data-dir", d],
    )
    .await;
    run_natter_ok(data.path(), &["user", "passwd", "bob", "--password", "newpassword1", "--data-dir", d]).await;
    let list = run_natter_ok(data.path(), &["user", "list", "--data-dir", d]).await;
    assert!(list.contains("bob"), "{list}");
}

#[tokio::test]
async fn backup_and_restore() {
    let data = tempfile::tempdir().unwrap();
    let d = path_str(data.path()).to_string();
    let scratch = tempfile::tempdir().unwrap();
    let backup = scratch.path().join("natter-backup.db");
    let backup_s = path_str(&backup).to_string();
    let add = |name: &'static str| {
        let d = d.clone();
        let email = format!("{name}@example.com");
        async move { natter_user_ok(Path::new(&d), &["add", name, "--email", &email, "--password", PASSWORD]).await }
    };
    add("bob").await;

    // Backup while a server is running on the data (SPEC: "server may be running").
    let server = spawn_in(data, |_| {}).await;
    let (_, _) = server.signup("alice").await;
    run_natter_ok(scratch.path(), &["backup", &backup_s, "--data-dir", &d]).await;
    let size = std::fs::metadata(&backup).expect("the backup file exists").len();
    assert!(size > 0, "the backup is not empty");

    let again = run_natter(scratch.path(), &["backup", &backup_s, "--data-dir", &d]).await;
    let line = assert_one_line_error(&again, "backup over an existing file");
    assert!(line.contains("--force"), "{line}");
    run_natter_ok(scratch.path(), &["backup", &backup_s, "--force", "--data-dir", &d]).await;

    // Restore is refused while the server holds the data folder.
    let refused = run_natter(scratch.path(), &["restore", &backup_s, "--data-dir", &d]).await;
    assert_one_line_error(&refused, "restore under a running server");
    let data = server.stop().await;

    // Something written after the backup, then the restore rolls it back.
    add("carol").await;
    let list = natter_user_ok(data.path(), &["list"]).await;
    assert!(list.contains("carol"), "{list}");

    // A file that is not a database is refused and the data stays as it was.
    let junk = scratch.path().join("junk.db");
    std::fs::write(&junk, b"this is not an SQLite database, not even close").unwrap();
    let output = run_natter(scratch.path(), &["restore", path_str(&junk), "--data-dir", &d]).await;
    assert_one_line_error(&output, "restore from junk");
    let list = natter_user_ok(data.path(), &["list"]).await;
    assert!(list.contains("carol"), "a refused restore changes nothing: {list}");

    run_natter_ok(scratch.path(), &["restore", &backup_s, "--data-dir", &d]).await;
    let list = natter_user_ok(data.path(), &["list"]).await;
    let names: Vec<&str> = list.lines().skip(1).filter_map(|l| l.split_whitespace().nth(1)).collect();
    assert_eq!(names, ["bob", "alice"], "the backup's accounts exactly: {list}");

    // A server on the restored data logs in the backed-up accounts.
    let server = spawn_in(data, |_| {}).await;
    let (status, body) = server.login("alice", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = server.login("carol", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let data = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data.path(), &[]).await;
    let base = server.base.clone();

    let healthy = run_natter(data.path(), &["healthcheck", "--url", &base]).await;
    assert!(healthy.status.success(), "healthcheck: {}", stderr(&healthy));
    assert_eq!(stdout(&healthy).trim(), "ok");
    // Like every subcommand it takes the data flags (SPEC §5), so one set of flags fits all.
    let data_dir = data.path().to_str().expect("utf-8 path");
    let with_data = run_natter(data.path(), &["healthcheck", "--url", &base, "--data-dir", data_dir]).await;
    assert!(with_data.status.success(), "healthcheck --data-dir: {}", stderr(&with_data));
    // A server that answers something else than 200 (here a 404 for /nope/healthz) is unhealthy.
    let wrong = run_natter(data.path(), &["healthcheck", "--url", &format!("{base}/nope")]).await;
    assert_one_line_error(&wrong, "healthcheck on a path without natter");

    let mut users = Vec::new();
    for name in ["kim", "lou", "max"] {
        let user = server.signup_only(name).await;
        users.push(user);
    }
    let (token, _) = server.token("kim").await;

    // SIGKILL right after the last acknowledged write: no shutdown, no final checkpoint.
    server.kill().await;

    let server = ServerProcess::start(data.path(), &[]).await;
    for (name, user) in ["kim", "lou", "max"].iter().zip(&users) {
        let (status, body) = server.login(name, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{name} after kill -9: {body}");
        assert_eq!(body["user"], *user);
    }
    let (status, body) = server.get("/auth/users/me", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "a token from before the crash: {body}");
    server.kill().await;
}

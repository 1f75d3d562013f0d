//! schemathesis (PyPI) against the live server's `/openapi.json`: it generates requests for
//! every documented operation from the document itself (valid and invalid ones, then stateful
//! sequences following the document's links) and runs all its checks (`--checks all`): no
//! response is a 5xx, every response matches the document (status, content type, headers, body
//! schema), every request that fits the document is accepted and every one that does not is
//! refused, authentication is enforced, deleted things stay deleted and created ones can be
//! found. `tests/it/schemathesis.toml` lists the few refusals that depend on what is stored (a
//! `reply_to` of another room, a username that does not exist, ...), each the SPEC's answer.
//!
//! Needs the `schemathesis` command (4.x): `$SCHEMATHESIS`, else
//! `target/schemathesis-venv/bin/schemathesis` (where `.ci/run` installs it), else `PATH`.
//! Bounded by `SCHEMATHESIS_MAX_EXAMPLES` (default 15 per operation and phase: about 1,400
//! requests, half a minute on the 2-core VM) and seeded by `SCHEMATHESIS_SEED` (default fixed,
//! so CI is reproducible; set another to explore). Reports go to `target/schemathesis-report/`.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::common;

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHEMATHESIS") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-venv/bin/schemathesis");
    if venv.exists() { venv } else { PathBuf::from("schemathesis") }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis from PyPI (installed by .ci/run)"]
async fn schemathesis_with_all_checks_finds_nothing() {
    let server = common::spawn().await;
    // An admin (the first account) with a room, a member and a message, so that the generated
    // requests reach more than 404s.
    let (token, _) = server.signup("alice").await;
    server.signup("bob").await;
    let (_, room) =
        server.post("/chat/chat_rooms/", Some(&token), &json!({"name": "general", "members": ["bob"]})).await;
    let room = room["id"].as_i64().expect("room id");
    server.post(&format!("/chat/chat_rooms/{room}/messages"), Some(&token), &json!({"content": "hello"})).await;

    let max_examples = std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| "15".into());
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| "14".into());
    let report = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-report");
    let command = schemathesis();
    let mut run = tokio::process::Command::new(&command);
    // Its example database (`.schemathesis/`) goes under target/, not into the source tree.
    let workdir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    std::fs::create_dir_all(&workdir).expect("create target/");
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it/schemathesis.toml");
    run.current_dir(&workdir)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(server.url("/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all"])
        .args(["--max-examples", &max_examples, "--seed", &seed, "--workers", "2"])
        .args(["--request-timeout", "30", "--no-color"])
        .arg("--report-dir")
        .arg(&report)
        .args(["--report", "junit"])
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(900), run.output())
        .await
        .expect("schemathesis finishes within 15 minutes")
        .unwrap_or_else(|e| panic!("cannot run {} ({e}): install it with .ci/run or pip", command.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    // The summary, for the test log.
    let summary: Vec<&str> = stdout.lines().rev().take(40).collect::<Vec<_>>().into_iter().rev().collect();
    println!("{}", summary.join("\n"));
    assert!(
        output.status.success(),
        "schemathesis found problems ({}):\n{stdout}\n{stderr}\nreport: {}",
        output.status,
        report.display()
    );
    // It really ran: every operation was tested.
    assert!(stdout.contains("Tested:"), "no summary from schemathesis:\n{stdout}\n{stderr}");
}

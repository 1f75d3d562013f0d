//! Operating natter: `/metrics` parsed as Prometheus text, and the log lines as an operator's
//! file or log shipper gets them.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common;
use crate::common::chat::{account, connect, emit_message, post_message, room, upload_ok};
use crate::common::sio::{self, Options};

/// One sample of a metrics text: its name, its labels and its value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parse Prometheus / OpenMetrics text: `# HELP` and `# TYPE` lines (the families), samples
/// `name{label="value",...} number`. Anything else fails the test.
fn parse_metrics(text: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let mut types = BTreeMap::new();
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {line:?}"));
            types.insert(family.to_string(), kind.to_string());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line {line:?}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_string(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                let mut labels = BTreeMap::new();
                for pair in split_labels(body) {
                    let (key, quoted) = pair.split_once('=').unwrap_or_else(|| panic!("bad label in {line:?}"));
                    let value = quoted.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
                    labels
                        .insert(key.to_string(), value.unwrap_or_else(|| panic!("unquoted label in {line:?}")).into());
                }
                (name.to_string(), labels)
            }
        };
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'), "bad metric name in {line:?}");
        samples.push(Sample { name, labels, value });
    }
    (types, samples)
}

/// `a="x",b="y,z"` → the pairs (commas inside quotes stay).
fn split_labels(body: &str) -> Vec<String> {
    let (mut out, mut current, mut quoted, mut escaped) = (Vec::new(), String::new(), false, false);
    for c in body.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn value_of(samples: &[Sample], name: &str) -> f64 {
    samples.iter().filter(|s| s.name == name).map(|s| s.value).sum()
}

async fn scrape(base: &str) -> (BTreeMap<String, String>, Vec<Sample>) {
    let response = common::client().get(format!("{base}/metrics")).send().await.expect("GET /metrics");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string();
    assert!(content_type.starts_with("application/openmetrics-text"), "{content_type}");
    parse_metrics(&response.text().await.expect("metrics text"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_a_message_a_socket_and_an_upload() {
    let server = common::spawn_with(|a| a.metrics = true).await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let room_id = room(&server, &alice, "club", &[&bob]).await;
    let (_, before) = scrape(&server.base).await;
    let messages_before = value_of(&before, "natter_messages_total");

    post_message(&server, &alice, room_id, "over REST").await;
    let socket = connect(&server, &bob).await;
    emit_message(&socket, room_id, "over Socket.IO").await;
    let text = b"twelve bytes";
    let attachment = upload_ok(&server, &alice.token, text.to_vec(), "note.txt").await;
    let media_name = attachment["url"].as_str().unwrap().trim_start_matches("/media/").to_string();
    let (status, _) = server.get(&format!("/chat/chat_rooms/{room_id}/messages?limit=5"), alice.tok()).await;
    assert_eq!(status, StatusCode::OK);
    let file = server.request(Method::GET, &format!("/media/{media_name}"), None).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);

    let (types, samples) = scrape(&server.base).await;
    let families = [
        ("natter_http_requests", "counter"),
        ("natter_http_request_duration_seconds", "histogram"),
        ("natter_socketio_connections", "gauge"),
        ("natter_online_users", "gauge"),
        ("natter_messages", "counter"),
        ("natter_db_commits", "counter"),
        ("natter_db_commit_duration_seconds", "histogram"),
        ("natter_db_commit_batch_size", "histogram"),
        ("natter_upload_bytes", "counter"),
        ("natter_events_queued", "gauge"),
        ("natter_sqlite_memory_bytes", "gauge"),
        ("natter_heap_in_use_bytes", "gauge"),
        ("natter_heap_free_bytes", "gauge"),
        ("process_cpu_seconds", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
    ];
    for (family, kind) in families {
        assert_eq!(types.get(family).map(String::as_str), Some(kind), "family {family}: {types:?}");
    }
    // What the dashboards query: the sample names.
    for name in [
        "natter_http_requests_total",
        "natter_http_request_duration_seconds_bucket",
        "natter_messages_total",
        "natter_db_commit_duration_seconds_count",
        "natter_db_commit_batch_size_sum",
        "natter_upload_bytes_total",
        "process_cpu_seconds_total",
    ] {
        assert!(samples.iter().any(|s| s.name == name), "no sample {name}");
    }
    assert_eq!(value_of(&samples, "natter_messages_total") - messages_before, 2.0, "one REST and one socket message");
    assert_eq!(value_of(&samples, "natter_socketio_connections"), 1.0);
    assert_eq!(value_of(&samples, "natter_online_users"), 1.0);
    assert_eq!(value_of(&samples, "natter_upload_bytes_total"), text.len() as f64);
    assert!(value_of(&samples, "natter_db_commit_duration_seconds_count") >= 5.0, "signups, room, messages, upload");
    assert!(
        value_of(&samples, "natter_db_commits_total") >= value_of(&samples, "natter_db_commit_duration_seconds_count")
    );
    assert!(value_of(&samples, "process_resident_memory_bytes") > 1e6);
    let sqlite = value_of(&samples, "natter_sqlite_memory_bytes");
    assert!(sqlite > 0.0 && sqlite < value_of(&samples, "process_resident_memory_bytes"), "{sqlite}");
    // SQLite allocates through the same allocator, so its heap is part of what is in use.
    assert!(value_of(&samples, "natter_heap_in_use_bytes") > sqlite);
    assert!(value_of(&samples, "process_open_fds") > 3.0);
    assert!(value_of(&samples, "process_cpu_seconds_total") > 0.0);

    // Requests are labelled by route template, with no id, name or token in any label.
    let requests: Vec<&Sample> = samples.iter().filter(|s| s.name == "natter_http_requests_total").collect();
    let has = |method: &str, route: &str, status: &str| {
        requests
            .iter()
            .any(|s| s.labels["method"] == method && s.labels["route"] == route && s.labels["status"] == status)
    };
    assert!(has("POST", "/chat/chat_rooms/{room_id}/messages", "201"), "{requests:#?}");
    assert!(has("GET", "/chat/chat_rooms/{room_id}/messages", "200"), "{requests:#?}");
    assert!(has("POST", "/chat/upload_media", "201"), "{requests:#?}");
    assert!(has("GET", "/media/{name}", "200"), "{requests:#?}");
    assert!(has("GET", "/socket.io/", "101"), "the WebSocket upgrade: {requests:#?}");
    for sample in &samples {
        for (key, value) in &sample.labels {
            if key == "le" || key == "status" {
                continue;
            }
            let has_digits =
                value.split('/').any(|segment| !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()));
            assert!(!has_digits, "a raw id in {}{{{key}={value:?}}}", sample.name);
            assert!(!value.contains(&media_name), "a media name in {}", sample.name);
            assert!(!value.contains(&alice.token) && !value.contains('?'), "a query in {}", sample.name);
        }
    }

    // The socket closing is counted too.
    socket.close().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let (_, samples) = scrape(&server.base).await;
        if value_of(&samples, "natter_socketio_connections") == 0.0 {
            assert_eq!(value_of(&samples, "natter_online_users"), 0.0);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the closed socket is still counted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn metrics_are_off_unless_asked_for() {
    let server = common::spawn().await;
    let (status, body) = server.get("/metrics", None).await;
    common::assert_error(status, &body, 404, "not_found");
}

#[tokio::test]
async fn metrics_bind_serves_them_on_their_own_address_only() {
    let server = common::spawn_with(|a| a.metrics_bind = Some("127.0.0.1:0".parse().unwrap())).await;
    let (status, body) = server.get("/metrics", None).await;
    common::assert_error(status, &body, 404, "not_found");
    let addr = server.metrics_addr.expect("--metrics-bind is bound");
    assert_ne!(addr, server.addr);
    let (types, _) = scrape(&format!("http://{addr}")).await;
    assert_eq!(types.get("natter_messages").map(String::as_str), Some("counter"));
    // Only /metrics lives there.
    let other = common::client().get(format!("http://{addr}/healthz")).send().await.unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

// ---- logs ----

/// `natter serve` with its standard output written to a file (as systemd or `> natter.log` do),
/// run through `scenario` against its address; the file's text back once the server stopped.
async fn logged_run<F, Fut>(dir: &Path, extra: &[&str], scenario: F) -> String
where
    F: FnOnce(common::Api) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let log_path = dir.join("natter.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let data = dir.join("data");
    let mut args = vec!["serve", "--bind", "127.0.0.1:0", "--auth-rate", "0", "--data-dir", data.to_str().unwrap()];
    args.extend_from_slice(extra);
    let mut child = common::natter_cmd(dir, &args)
        .env_remove("NO_COLOR")
        .stdout(std::process::Stdio::from(log.try_clone().unwrap()))
        .stderr(std::process::Stdio::from(log))
        .spawn()
        .expect("start natter");
    let deadline = tokio::time::Instant::now() + common::TIMEOUT;
    let addr = loop {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        let found = text.lines().find(|l| l.contains("natter is listening")).and_then(|line| {
            let rest = line.split("address").nth(1)?;
            let start = rest.find(|c: char| c.is_ascii_digit())?;
            rest[start..].split(|c: char| c == '"' || c.is_whitespace()).next()?.parse::<std::net::SocketAddr>().ok()
        });
        if let Some(addr) = found {
            break addr;
        }
        assert!(tokio::time::Instant::now() < deadline, "natter did not log its address:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    scenario(common::Api::new(addr)).await;
    // SIGTERM, as systemd stops it; the last lines are written before it exits.
    let pid = child.id().expect("pid");
    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    tokio::time::timeout(common::TIMEOUT, child.wait()).await.expect("natter stops").unwrap();
    std::fs::read_to_string(&log_path).unwrap()
}

/// Requests that would leak secrets into a careless log: a password, a token in a header and in
/// a Socket.IO query string, a media capability name.
async fn secret_traffic(api: common::Api) -> (String, String) {
    let alice = account(&api, "alice").await;
    let attachment = upload_ok(&api, &alice.token, b"secret note".to_vec(), "n.txt").await;
    let url = attachment["url"].as_str().unwrap().to_string();
    let file = api.request(Method::GET, &format!("{url}?token={}", alice.token), None).send().await.unwrap();
    assert_eq!(file.status(), StatusCode::OK);
    let socket = sio::connect(&api.base, Options::query_token(&alice.token)).await.expect("socket by query token");
    socket.close().await;
    let (status, _) = api.get("/nowhere/42", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    (alice.token, url.trim_start_matches("/media/").to_string())
}

fn assert_no_secrets(log: &str, token: &str, media_name: &str, data_dir: &Path) {
    assert!(!log.contains(token), "a token in the log:\n{log}");
    assert!(!log.contains(common::PASSWORD), "a password in the log");
    assert!(!log.contains(media_name), "a media capability name in the log:\n{log}");
    let secret = String::from_utf8(common::jwt_secret(data_dir)).unwrap();
    assert!(!log.contains(&secret), "the JWT secret in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_logs_in_a_file_are_plain_with_one_access_line_per_request() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = std::sync::Mutex::new(None);
    let log = logged_run(dir.path(), &[], |api| async {
        *secrets.lock().unwrap() = Some(secret_traffic(api).await);
    })
    .await;
    let (token, media_name) = secrets.into_inner().unwrap().expect("the scenario ran");
    assert!(!log.contains('\u{1b}'), "escape codes in a log file:\n{log}");
    assert_no_secrets(&log, &token, &media_name, &dir.path().join("data"));
    let access: Vec<&str> = log.lines().filter(|l| l.contains("natter::access")).collect();
    for expected in [
        "method=POST route=/auth/signup status=201",
        "method=POST route=/chat/upload_media status=201",
        "method=GET route=/media/{name} status=200",
        "method=GET route=/socket.io/ status=101",
        "method=GET route=unmatched status=404",
    ] {
        assert!(
            access.iter().any(|l| l.contains(" INFO ") && l.contains(expected)),
            "no access line with {expected}:\n{log}"
        );
    }
    assert!(access.iter().all(|l| l.contains("duration_ms=")), "{access:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = std::sync::Mutex::new(None);
    let log = logged_run(dir.path(), &["--log-format", "json"], |api| async {
        *secrets.lock().unwrap() = Some(secret_traffic(api).await);
    })
    .await;
    let (token, media_name) = secrets.into_inner().unwrap().expect("the scenario ran");
    assert_no_secrets(&log, &token, &media_name, &dir.path().join("data"));
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line:?}")))
        .collect();
    assert!(lines.iter().all(|l| l["timestamp"].is_string() && l["level"].is_string()), "{lines:#?}");
    let listening = lines.iter().find(|l| l["message"] == "natter is listening").expect("the start line");
    assert!(listening["address"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{listening}");
    let access: Vec<&Value> = lines.iter().filter(|l| l["target"] == "natter::access").collect();
    let upload = access
        .iter()
        .find(|l| l["route"] == "/chat/upload_media")
        .unwrap_or_else(|| panic!("no access line for the upload: {access:#?}"));
    assert_eq!(upload["method"], "POST");
    assert_eq!(upload["status"], 201);
    assert_eq!(upload["level"], "INFO");
    assert!(upload["duration_ms"].as_f64().is_some_and(|ms| ms > 0.0), "{upload}");
    assert!(access.iter().any(|l| l["route"] == "/media/{name}" && l["status"] == 200), "{access:#?}");
}

//! Test harness shared by every integration test: boots a real natter server in-process on
//! `127.0.0.1:0` with its data in a temporary folder, plus small HTTP, JWT, clock and CLI
//! helpers. [`chat`] makes accounts, rooms and messages over the API; [`spec`] checks the SPEC's
//! objects.
//!
//! Tests that must see the process itself (its memory, a kill -9, a restart) run the built binary
//! instead: [`process::ServerProcess`], which speaks the same [`Api`].
//!
//! Usage:
//! ```ignore
//! mod common;
//! let server = common::spawn().await;
//! let (token, user) = server.signup("alice").await;
//! let (status, body) = server.get("/auth/users/me", Some(&token)).await;
//! ```

pub mod chat;
pub mod process;
pub mod sio;
pub mod spec;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use natter::config::{DataArgs, Rate, ServeArgs};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The password every [`TestServer::signup`] account gets.
pub const PASSWORD: &str = "password123";

/// How long any single HTTP request or CLI run may take before the test fails instead of hanging.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// A natter server running in this process; its HTTP helpers are [`Api`]'s.
pub struct TestServer {
    pub addr: SocketAddr,
    pub api: Api,
    /// The data folder (database, media, `jwt-secret`); deleted when dropped.
    pub dir: TempDir,
    /// The running server's state (config and use cases).
    pub state: natter::AppState,
    /// Its storage engine, for tests that look at what is stored.
    pub db: natter::storage::db::Db,
    /// Where `--metrics-bind` serves `/metrics`, when it was given.
    pub metrics_addr: Option<SocketAddr>,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Deref for TestServer {
    type Target = Api;
    fn deref(&self) -> &Api {
        &self.api
    }
}

/// HTTP to one natter server, in this process or not.
pub struct Api {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// A client for this server (connections are pooled; clone it freely).
    pub http: reqwest::Client,
}

/// A server with the test defaults (see [`spawn_in`]).
pub async fn spawn() -> TestServer {
    spawn_with(|_| {}).await
}

/// A server with the test defaults but no first room (`--default-room ""`), for tests whose
/// subject needs a server where nobody shares a room until the test says so (exact room lists
/// and ids, presence between strangers, sockets without rooms).
pub async fn spawn_without_first_room() -> TestServer {
    spawn_with(|args| args.default_room = String::new()).await
}

/// A server with the test defaults, then `configure` applied to its flags.
pub async fn spawn_with(configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
    let dir = tempfile::tempdir().expect("create a temporary data folder");
    spawn_in(dir, configure).await
}

/// A server on the data in `dir` (e.g. what [`TestServer::stop`] returned, for a restart).
///
/// Test defaults, applied before `configure`: `ServeArgs::default()` with the data under `dir`
/// and every rate limit (signups and logins, failed logins, messages, searches, edits,
/// reactions, read markers, room changes and creations, uploads, typing, online users) and the
/// socket caps off, because tests create many accounts, rooms and sockets from 127.0.0.1 in a
/// hurry.
pub async fn spawn_in(dir: TempDir, configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
    spawn_in_at(dir, "127.0.0.1:0".parse().expect("an address"), configure).await
}

/// Like [`spawn_in`], listening on `addr`: a restart on the port a browser already has open.
pub async fn spawn_in_at(dir: TempDir, addr: SocketAddr, configure: impl FnOnce(&mut ServeArgs)) -> TestServer {
    let mut args = ServeArgs {
        data: DataArgs::at(dir.path()),
        auth_rate: Rate::UNLIMITED,
        login_fail_rate: Rate::UNLIMITED,
        login_fail_account_rate: Rate::UNLIMITED,
        message_rate: Rate::UNLIMITED,
        search_rate: Rate::UNLIMITED,
        edit_rate: Rate::UNLIMITED,
        reaction_rate: Rate::UNLIMITED,
        read_rate: Rate::UNLIMITED,
        room_rate: Rate::UNLIMITED,
        new_room_rate: Rate::UNLIMITED,
        upload_rate: Rate::UNLIMITED,
        typing_rate: Rate::UNLIMITED,
        online_users_rate: Rate::UNLIMITED,
        max_sockets_per_user: 0,
        max_sockets_per_address: 0,
        ..ServeArgs::default()
    };
    configure(&mut args);

    let app = natter::build(args).unwrap_or_else(|e| panic!("natter::build failed: {e}"));
    let (state, db, metrics_addr) = (app.state.clone(), app.db.clone(), app.metrics_addr());
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let addr = listener.local_addr().expect("listener address");
    let (shutdown, stop) = oneshot::channel::<()>();
    // Dropping the sender (the TestServer) also resolves `stop`, so a dropped server shuts down.
    let task = tokio::spawn(natter::serve(listener, app, async move {
        let _ = stop.await;
    }));
    TestServer { addr, api: Api::new(addr), dir, state, db, metrics_addr, shutdown, task }
}

/// An HTTP client for tests: no proxy (a proxy from the environment must not see 127.0.0.1
/// traffic), a timeout so a stuck request fails the test instead of hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(TIMEOUT).build().expect("build the HTTP client")
}

/// Status and JSON body of a response; an empty body is `Value::Null`. A non-JSON body fails
/// the test (every natter response but media, the UI and metrics is JSON).
pub async fn read_json(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let bytes = response.bytes().await.expect("read the response body");
    if bytes.is_empty() {
        return (status, Value::Null);
    }
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    (status, body)
}

/// Send a request; its status, headers and JSON body (see [`read_json`]).
pub async fn send(request: reqwest::RequestBuilder) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = request.send().await.expect("send the request");
    let headers = response.headers().clone();
    let (status, body) = read_json(response).await;
    (status, headers, body)
}

impl Api {
    pub fn new(addr: SocketAddr) -> Api {
        Api { base: format!("http://{addr}"), http: client() }
    }

    /// `base` + `path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A request to `path` with the bearer `token`, if any; add a body and send it yourself.
    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, self.url(path));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Send `method path` with an optional JSON body; status and JSON body back.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> (StatusCode, Value) {
        let mut builder = self.request(method, path, token);
        if let Some(body) = body {
            builder = builder.json(body);
        }
        let (status, _, body) = send(builder).await;
        (status, body)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> (StatusCode, Value) {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        self.call(Method::DELETE, path, token, None).await
    }

    /// `POST /auth/signup` for `username` with email `{username}@example.com` and [`PASSWORD`];
    /// the raw answer, for tests about signup itself.
    pub async fn try_signup(&self, username: &str) -> (StatusCode, Value) {
        self.post(
            "/auth/signup",
            None,
            &json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": PASSWORD,
            }),
        )
        .await
    }

    /// `POST /auth/login` with JSON `{"email": login, "password"}`; the raw answer.
    pub async fn login(&self, login: &str, password: &str) -> (StatusCode, Value) {
        self.post("/auth/login", None, &json!({ "email": login, "password": password })).await
    }

    /// Log in as `login` with [`PASSWORD`]: `(access token, Token body)`.
    pub async fn token(&self, login: &str) -> (String, Value) {
        let (status, body) = self.login(login, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "login {login}: {body}");
        let token = body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("login {login}: no access_token in {body}"))
            .to_string();
        (token, body)
    }

    /// Create `username` (see [`Api::try_signup`]), which must answer 201, without logging in:
    /// the User.
    pub async fn signup_only(&self, username: &str) -> Value {
        let (status, user) = self.try_signup(username).await;
        assert_eq!(status, StatusCode::CREATED, "signup {username}: {user}");
        user
    }

    /// Create `username` (see [`Api::try_signup`]) and log in: `(access token, User)`.
    pub async fn signup(&self, username: &str) -> (String, Value) {
        let user = self.signup_only(username).await;
        let (token, _) = self.token(&format!("{username}@example.com")).await;
        (token, user)
    }
}

impl TestServer {
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// An invite code for `uses` signups valid for `seconds`, made as `natter invite` makes one.
    pub async fn operator_invite(&self, uses: u32, seconds: u64) -> String {
        let request = natter::input::NewInvite { uses: Some(uses), expires_in: Some(seconds.into()) };
        let invites = &self.state.invites;
        let invite = invites.create(natter::usecase::invites::Issuer::Operator, request, "http://localhost").await;
        invite.expect("create an invite").code
    }

    /// Shut the server down (as SIGTERM would), wait until it has drained its storage engine
    /// and released the data folder, and hand the folder back for [`spawn_in`].
    pub async fn stop(self) -> TempDir {
        let TestServer { dir, state, db, api, shutdown, task, .. } = self;
        // Our pooled keep-alive connections and state handles must not keep the server busy.
        drop(api);
        drop(state);
        drop(db);
        let _ = shutdown.send(());
        tokio::time::timeout(TIMEOUT, task)
            .await
            .expect("the server stops within the timeout")
            .expect("the serve task did not panic")
            .expect("natter::serve returned an error");
        dir
    }
}

/// Check a SPEC error: the status, the `code`, and a non-empty `detail` sentence.
#[track_caller]
pub fn assert_error(status: StatusCode, body: &Value, expected_status: u16, expected_code: &str) {
    assert_eq!(status.as_u16(), expected_status, "expected {expected_status} {expected_code}, got {status}: {body}");
    assert_eq!(body["code"].as_str(), Some(expected_code), "error code of {status}: {body}");
    let detail = body["detail"].as_str().unwrap_or_default();
    assert!(!detail.trim().is_empty(), "error detail must be a non-empty string: {body}");
}

/// Check a Socket.IO error ack: `{"ok": false, "error": {"code", "detail"}}` with `code` and a
/// non-empty detail; `what` says which emit it answers.
#[track_caller]
pub fn assert_error_ack(ack: &Value, code: &str, what: &str) {
    assert_eq!(ack["ok"], false, "{what}: expected an error ack {code}, got {ack}");
    assert_eq!(ack["error"]["code"], code, "{what}: error code in {ack}");
    assert!(ack["error"]["detail"].as_str().is_some_and(|d| !d.trim().is_empty()), "{what}: detail in {ack}");
}

/// The CRC-32 of PNG chunks, ZIP entries and gzip (ISO 3309), for test files built by hand.
/// flate2's, not natter's own: a test file must not share a mistake with the code it tests.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = flate2::Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// True for the SPEC's time format: RFC 3339 UTC with milliseconds, `2026-11-25T10:00:00.123Z`.
pub fn is_spec_time(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
        && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

/// Parse a SPEC time.
pub fn parse_time(text: &str) -> time::OffsetDateTime {
    assert!(is_spec_time(text), "not a SPEC time: {text:?}");
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

// ---- JWT pieces, for tests that forge or inspect tokens ----

const B64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64url without padding, as JWTs use.
pub fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(B64URL[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// Inverse of [`b64url_encode`].
pub fn b64url_decode(text: &str) -> Vec<u8> {
    let sextets: Vec<u32> = text
        .trim_end_matches('=')
        .bytes()
        .map(|c| B64URL.iter().position(|x| *x == c).unwrap_or_else(|| panic!("not base64url: {text:?}")) as u32)
        .collect();
    let mut out = Vec::new();
    for chunk in sextets.chunks(4) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, s)| n | (s << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    out
}

/// The claims of a JWT, unverified.
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has three parts");
    serde_json::from_slice(&b64url_decode(payload)).expect("JWT payload is JSON")
}

/// The server's JWT secret, as stored in `<data dir>/jwt-secret`.
pub fn jwt_secret(data_dir: &Path) -> Vec<u8> {
    std::fs::read(data_dir.join("jwt-secret")).expect("read <data dir>/jwt-secret")
}

/// An HS256 token over `claims` signed with `secret`.
pub fn sign_jwt(secret: &[u8], claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret),
    )
    .expect("sign a JWT")
}

pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock after 1970").as_secs() as i64
}

// ---- The clock ----
//
// Tokens carry whole seconds (`iat`, `exp`), and so does a password change. A test that needs a
// change to land in a later second than a token, or a token's whole lifetime ahead of it, waits
// for the clock: a justified bounded wait (at most a second), as there is nothing else to await.

/// Wait until the clock is past `second` (Unix seconds).
pub async fn wait_past_second(second: i64) {
    while unix_now() <= second {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Wait until a new clock second has begun.
pub async fn next_clock_second() {
    wait_past_second(unix_now()).await;
}

/// Wait until the clock is past `token`'s `iat` second.
pub async fn past_issue_second(token: &str) {
    wait_past_second(jwt_claims(token)["iat"].as_i64().expect("iat")).await;
}

// ---- Files ----

/// A temporary path as the `&str` a command line takes.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 temp path")
}

/// The names in `folder`, hidden ones included.
pub fn names_in(folder: &Path) -> BTreeSet<String> {
    std::fs::read_dir(folder)
        .unwrap_or_else(|e| panic!("list {}: {e}", folder.display()))
        .map(|e| e.expect("a folder entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// The permission bits of `path` (`0o600`, ...).
#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display())).permissions().mode() & 0o777
}

// ---- The built binary ----

pub fn natter_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_natter"))
}

/// A `natter` command with `args`, run in `cwd`, without colours, killed if its handle drops.
pub fn natter_cmd(cwd: &Path, args: &[&str]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(natter_bin());
    cmd.args(args)
        .current_dir(cwd)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// Run `natter args...` in `cwd` to completion (failing the test after [`TIMEOUT`]).
pub async fn run_natter(cwd: &Path, args: &[&str]) -> Output {
    let output = natter_cmd(cwd, args).output();
    tokio::time::timeout(TIMEOUT, output)
        .await
        .unwrap_or_else(|_| panic!("natter {args:?} did not finish within {TIMEOUT:?}"))
        .expect("run the natter binary")
}

/// Like [`run_natter`], and the command must succeed; its stdout back.
pub async fn run_natter_ok(cwd: &Path, args: &[&str]) -> String {
    let output = run_natter(cwd, args).await;
    assert!(
        output.status.success(),
        "natter {args:?} failed ({}): stdout {:?} stderr {:?}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Where the npm packages the tests use (socket.io-client, axe-core) are installed:
/// `$NATTER_JS_MODULES` (set by .ci/run), else target/js/node_modules.
pub fn js_modules() -> PathBuf {
    std::env::var_os("NATTER_JS_MODULES")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/js/node_modules"))
}

/// What every socket.io-client script starts with: the client's `io`, `once(socket, event)` (a
/// promise of the event's data), and an async function whose `out` object is printed as one
/// JSON line at its end.
const NODE_PRELUDE: &str = r#"const { io } = require("socket.io-client");
const once = (socket, event) => new Promise((resolve) => socket.once(event, resolve));
(async () => {
  const out = {};
"#;

/// ...and ends with (a failure exits 1 with the error on stderr).
const NODE_EPILOGUE: &str = r#"
  console.log(JSON.stringify(out));
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// Run `body` with node: JavaScript that fills `out` (see [`NODE_PRELUDE`]) and finds `args` in
/// `process.argv.slice(2)`, from a file in `dir`, with npm's socket.io-client (see
/// [`js_modules`]) on its path and `env` added; `out` back. Fails the test when the client is
/// not installed, or node fails or takes longer than [`TIMEOUT`].
pub async fn run_node_script(dir: &Path, body: &str, args: &[&str], env: &[(&str, &Path)]) -> Value {
    let modules = js_modules();
    assert!(modules.join("socket.io-client").is_dir(), "socket.io-client is not installed under {}", modules.display());
    let file = dir.join("client.js");
    std::fs::write(&file, format!("{NODE_PRELUDE}{body}{NODE_EPILOGUE}")).expect("write the script");
    let mut command = tokio::process::Command::new("node");
    command.arg(&file).args(args).env("NODE_PATH", &modules).kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let output =
        tokio::time::timeout(TIMEOUT, command.output()).await.expect("node finishes in time").expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "node failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_str(stdout.trim()).expect("the script prints one JSON line")
}

/// A command's stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The command failed with exactly one non-empty stderr line that says "error", and no panic;
/// that line back.
#[track_caller]
pub fn assert_one_line_error(output: &Output, what: &str) -> String {
    let err = stderr(output);
    assert!(!output.status.success(), "{what} must fail; stderr: {err}");
    assert!(!err.contains("panicked"), "{what} panicked: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{what}: one stderr line, got {err:?}");
    assert!(lines[0].to_lowercase().contains("error"), "{what}: {:?}", lines[0]);
    lines[0].to_string()
}

/// The arguments of `natter user <action...>` on the data in `data_dir`.
///
/// `natter user <action...> --data-dir D`: the data flags come after the action, as an operator types them.
pub fn user_args<'a>(data_dir: &'a Path, action: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["user"];
    args.extend_from_slice(action);
    args.extend(["--data-dir", data_dir.to_str().expect("UTF-8 data path")]);
    args
}

/// `natter user <action...>` on `data_dir`, which must succeed; its stdout back.
pub async fn natter_user_ok(data_dir: &Path, action: &[&str]) -> String {
    run_natter_ok(data_dir, &user_args(data_dir, action)).await
}

/// `text` without ANSI colour escapes (`ESC [ ... letter`).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

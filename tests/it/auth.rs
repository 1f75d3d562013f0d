//! SPEC §1 conventions and §3 Authentication against a real server: signup, login, the OAuth2
//! token endpoint, `me`, user search, registration modes, rate limits, token revocation, restart.

use std::collections::BTreeSet;
use std::time::Duration;

use natter::config::{Rate, Registration};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common;
use crate::common::spec::{assert_user_public, keys, set};
use crate::common::{
    PASSWORD, TestServer, assert_error, b64url_encode, jwt_claims, jwt_secret, natter_user_ok, past_issue_second,
    read_json, sign_jwt, spawn, spawn_in, spawn_with, unix_now,
};

/// The SPEC's User object, exactly (no password hash or other extra field leaks).
#[track_caller]
fn assert_user(user: &Value, username: &str, email: &str) {
    assert_eq!(
        keys(user),
        set(&["id", "username", "email", "created_at", "is_admin", "display_name", "avatar_url"]),
        "User shape: {user}"
    );
    assert!(user["id"].as_i64().is_some_and(|id| id > 0), "id: {user}");
    assert_eq!(user["username"], username, "{user}");
    assert_eq!(user["email"], email, "{user}");
    assert!(user["is_admin"].is_boolean(), "{user}");
    let created = common::parse_time(user["created_at"].as_str().unwrap_or_default());
    let age = time::OffsetDateTime::now_utc() - created;
    assert!(age.whole_seconds().abs() < 120, "created_at {created} is not now");
}

/// The SPEC's Token object for `user`, with a HS256 JWT whose claims match it.
#[track_caller]
fn assert_token(token: &Value, user: &Value) {
    assert_eq!(keys(token), set(&["access_token", "token_type", "expires_in", "user"]), "Token shape: {token}");
    assert_eq!(token["token_type"], "bearer");
    assert_eq!(token["user"], *user, "the token's user is the account");
    let jwt = token["access_token"].as_str().expect("access_token string");
    let header: Value = serde_json::from_slice(&common::b64url_decode(jwt.split('.').next().unwrap_or_default()))
        .expect("JWT header is JSON");
    assert_eq!(header["alg"], "HS256", "JWT header {header}");
    let claims = jwt_claims(jwt);
    assert_eq!(claims["sub"], user["id"].to_string(), "sub is the user id as a string");
    let (iat, exp) = (claims["iat"].as_i64(), claims["exp"].as_i64());
    let (iat, exp) = (iat.expect("iat"), exp.expect("exp"));
    assert!((iat - unix_now()).abs() < 120, "iat {iat} is not now");
    assert_eq!(token["expires_in"].as_i64(), Some(exp - iat), "expires_in is the JWT lifetime: {token} {claims}");
}

async fn me(server: &TestServer, token: &str) -> (StatusCode, Value) {
    server.get("/auth/users/me", Some(token)).await
}

/// `POST path` with `form` as `application/x-www-form-urlencoded`: the raw answer.
async fn post_form(server: &TestServer, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let response = server.request(Method::POST, path, None).form(form).send().await.expect("send");
    read_json(response).await
}

async fn signup_body(server: &TestServer, body: Value) -> (StatusCode, Value) {
    server.post("/auth/signup", None, &body).await
}

// ---- signup ----

#[tokio::test]
async fn signup_returns_the_user_and_only_the_first_account_is_admin() {
    let server = spawn().await;
    let (status, first) = signup_body(
        &server,
        json!({"username": "Alice", "email": "Alice@Example.COM", "password": PASSWORD,
               "full_name": "Alice Liddell"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_user(&first, "Alice", "alice@example.com");
    assert_eq!(first["is_admin"], true, "the first account is an admin");

    let second = server.signup_only("bob").await;
    assert_user(&second, "bob", "bob@example.com");
    assert_eq!(second["is_admin"], false, "later accounts are not admins");
    assert_ne!(first["id"], second["id"]);
}

#[tokio::test]
async fn signup_conflicts_are_case_insensitive_and_name_the_field() {
    let server = spawn().await;
    server.signup_only("Carol").await;

    let (status, body) =
        signup_body(&server, json!({"username": "cAROL", "email": "other@example.com", "password": PASSWORD})).await;
    assert_error(status, &body, 409, "conflict");
    assert_eq!(keys(&body["fields"]), set(&["username"]), "{body}");

    let (status, body) =
        signup_body(&server, json!({"username": "carol2", "email": "CAROL@EXAMPLE.COM", "password": PASSWORD})).await;
    assert_error(status, &body, 409, "conflict");
    assert_eq!(keys(&body["fields"]), set(&["email"]), "{body}");

    // Neither refused signup created an account.
    let (status, _) = server.login("other@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = server.login("carol2", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signup_validation_names_each_bad_field() {
    let server = spawn().await;
    let (long_name, long_password) = ("x".repeat(33), "p".repeat(129));
    let ok = Some(PASSWORD);
    // (case, username, email, password, the fields named); `None` leaves the field out.
    type Case<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>, &'a [&'a str]);
    let cases: Vec<Case> = vec![
        ("short username", Some("ab"), Some("ab@example.com"), ok, &["username"]),
        ("bad characters", Some("bad name!"), Some("bn@example.com"), ok, &["username"]),
        ("non-ASCII letters", Some("émile"), Some("em@example.com"), ok, &["username"]),
        ("33-character username", Some(&long_name), Some("x33@example.com"), ok, &["username"]),
        ("no @", Some("dave"), Some("not-an-email"), ok, &["email"]),
        ("no dot in the domain", Some("dave"), Some("dave@localhost"), ok, &["email"]),
        ("space in the email", Some("dave"), Some("da ve@example.com"), ok, &["email"]),
        ("7-character password", Some("dave"), Some("dave@example.com"), Some("1234567"), &["password"]),
        ("7 characters in 14 bytes", Some("dave"), Some("dave@example.com"), Some("ééééééé"), &["password"]),
        ("129-character password", Some("dave"), Some("dave@example.com"), Some(&long_password), &["password"]),
        ("missing password", Some("dave"), Some("dave@example.com"), None, &["password"]),
        ("missing username", None, Some("dave@example.com"), ok, &["username"]),
        ("several problems at once", Some("a"), Some("nope"), Some("short"), &["username", "email", "password"]),
    ];
    for (case, username, email, password, fields) in cases {
        let fields_given = [("username", username), ("email", email), ("password", password)];
        let body: serde_json::Map<String, Value> =
            fields_given.into_iter().filter_map(|(key, value)| Some((key.to_string(), json!(value?)))).collect();
        let (status, answer) = signup_body(&server, Value::Object(body)).await;
        assert_error(status, &answer, 422, "validation_error");
        let named = keys(&answer["fields"]);
        assert_eq!(named, set(fields), "{case}: {answer}");
        for field in fields {
            assert!(
                answer["fields"][field].as_str().is_some_and(|p| !p.is_empty()),
                "{case}: the problem with {field} is a phrase: {answer}"
            );
        }
    }

    // The bounds themselves are accepted (lengths in characters, not bytes), and nothing above
    // created "dave".
    let accepted = [
        json!({"username": "abc", "email": "abc@example.com", "password": "12345678"}),
        json!({"username": "y".repeat(32), "email": "y32@example.com", "password": "p".repeat(128)}),
        json!({"username": "a.b-c_9", "email": "abc9@example.com", "password": "éééééééé"}),
        json!({"username": "dave", "email": "dave@example.com", "password": PASSWORD}),
    ];
    for body in accepted {
        let (status, answer) = signup_body(&server, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{body} → {answer}");
    }
    let (status, body) = server.login("abc9@example.com", "éééééééé").await;
    assert_eq!(status, StatusCode::OK, "non-ASCII password logs in: {body}");
}

#[tokio::test]
async fn signup_rejects_malformed_json_and_other_content_types() {
    let server = spawn().await;
    let malformed = server
        .request(Method::POST, "/auth/signup", None)
        .header(CONTENT_TYPE, "application/json")
        .body(r#"{"username": "alice", "email": "#)
        .send()
        .await
        .expect("send");
    let (status, body) = read_json(malformed).await;
    assert_error(status, &body, 400, "invalid_json");

    let valid_json_as_text = json!({"username": "alice", "email": "alice@example.com",
                                    "password": PASSWORD})
    .to_string();
    let text = server
        .request(Method::POST, "/auth/signup", None)
        .header(CONTENT_TYPE, "text/plain")
        .body(valid_json_as_text)
        .send()
        .await
        .expect("send");
    let (status, body) = read_json(text).await;
    assert_error(status, &body, 415, "unsupported_media_type");

    // Over `--max-body` (64 KiB by default).
    let huge = json!({"username": "alice", "email": "alice@example.com", "password": PASSWORD,
                      "full_name": "x".repeat(100 * 1024)});
    let (status, body) = signup_body(&server, huge).await;
    assert_error(status, &body, 413, "payload_too_large");

    // None of them created the account.
    server.signup_only("alice").await;
}

// ---- login and tokens ----

#[tokio::test]
async fn login_by_email_in_any_case_or_by_username() {
    let server = spawn().await;
    let user = server.signup_only("Grace").await;

    for login in ["Grace@example.com", "grace@EXAMPLE.com", "Grace", "grace"] {
        let (status, token) = server.login(login, PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "login as {login}: {token}");
        assert_token(&token, &user);
        let (status, me_body) = me(&server, token["access_token"].as_str().unwrap()).await;
        assert_eq!(status, StatusCode::OK, "{me_body}");
        assert_eq!(me_body, user);
    }
}

#[tokio::test]
async fn login_accepts_the_oauth2_form_too() {
    let server = spawn().await;
    let user = server.signup_only("heidi").await;
    for login in ["heidi@example.com", "heidi"] {
        let (status, token) = post_form(&server, "/auth/login", &[("username", login), ("password", PASSWORD)]).await;
        assert_eq!(status, StatusCode::OK, "form login as {login}: {token}");
        assert_token(&token, &user);
    }
}

#[tokio::test]
async fn token_endpoint_takes_the_oauth2_password_form_and_json() {
    let server = spawn().await;
    let user = server.signup_only("ivan").await;

    // What Swagger UI sends (`grant_type=password&username=ivan%40example.com&...&scope=&...`):
    // extra OAuth2 fields, some of them empty.
    let swagger = [
        ("grant_type", "password"),
        ("username", "ivan@example.com"),
        ("password", PASSWORD),
        ("scope", ""),
        ("client_id", ""),
        ("client_secret", ""),
    ];
    let (status, token) = post_form(&server, "/auth/token", &swagger).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_token(&token, &user);
    let (status, body) = me(&server, token["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, token) =
        post_form(&server, "/auth/token", &[("username", "ivan"), ("password", PASSWORD), ("grant_type", "password")])
            .await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_token(&token, &user);

    let (status, token) =
        server.post("/auth/token", None, &json!({"email": "ivan@example.com", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_token(&token, &user);

    // A wrong password on the form is the usual 401.
    let form = [("username", "ivan"), ("password", "wrong-password"), ("grant_type", "password")];
    let (status, body) = post_form(&server, "/auth/token", &form).await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn unknown_account_and_wrong_password_get_the_same_401() {
    let server = spawn().await;
    server.signup("judy").await;

    let (s1, unknown_email) = server.login("nobody@example.com", PASSWORD).await;
    let (s2, wrong_password) = server.login("judy@example.com", "wrong-password").await;
    let (s3, unknown_name) = server.login("nobody", PASSWORD).await;
    let (s4, wrong_by_name) = server.login("judy", "wrong-password").await;
    assert_error(s1, &unknown_email, 401, "unauthorized");
    for (status, body) in [(s2, &wrong_password), (s3, &unknown_name), (s4, &wrong_by_name)] {
        assert_eq!(status, s1);
        assert_eq!(body, &unknown_email, "every failed login gets the identical body");
    }
}

#[tokio::test]
async fn login_without_credentials_is_a_validation_error() {
    let server = spawn().await;
    let (status, body) = server.post("/auth/login", None, &json!({})).await;
    assert_error(status, &body, 422, "validation_error");
    assert_eq!(keys(&body["fields"]), set(&["email", "password"]), "{body}");
}

// ---- me and token checks ----

#[tokio::test]
async fn me_returns_the_caller() {
    let server = spawn().await;
    let (token, user) = server.signup("ken").await;
    let (status, body) = me(&server, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_user(&body, "ken", "ken@example.com");
    assert_eq!(body, user);

    // The auth scheme is case-insensitive (RFC 9110 §11.1).
    let response = server
        .request(Method::GET, "/auth/users/me", None)
        .header("Authorization", format!("bearer {token}"))
        .send()
        .await
        .expect("send");
    let (status, body) = read_json(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn me_refuses_missing_malformed_forged_and_expired_tokens() {
    let server = spawn().await;
    let (token, user) = server.signup("leo").await;
    let (_, other) = server.signup("mia").await;
    let secret = jwt_secret(server.data_dir());
    let now = unix_now();
    let claims_for = |sub: &Value| json!({"sub": sub.to_string(), "iat": now, "exp": now + 3600});

    // Positive control: a token we sign with the server's secret is accepted, so the refusals
    // below are about what we changed and not about the secret.
    let forged_ok = sign_jwt(&secret, &claims_for(&other["id"]));
    let (status, body) = me(&server, &forged_ok).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, other);

    let mut refused: Vec<(&str, Option<String>)> = vec![
        ("no Authorization header", None),
        ("garbage token", Some("Bearer not.a.jwt".into())),
        ("empty bearer", Some("Bearer ".into())),
        ("wrong scheme", Some(format!("Basic {token}"))),
        ("token without scheme", Some(token.clone())),
    ];
    for alg in ["none", "None", "NONE"] {
        let header = b64url_encode(json!({"alg": alg, "typ": "JWT"}).to_string().as_bytes());
        let payload = b64url_encode(claims_for(&user["id"]).to_string().as_bytes());
        refused.push(("alg none", Some(format!("Bearer {header}.{payload}."))));
    }
    let other_key = sign_jwt(b"a-completely-different-secret-0123456789abcdef", &claims_for(&user["id"]));
    refused.push(("signed with another key", Some(format!("Bearer {other_key}"))));

    let hs512 = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512),
        &claims_for(&user["id"]),
        &jsonwebtoken::EncodingKey::from_secret(&secret),
    )
    .expect("sign HS512");
    refused.push(("HS512 instead of HS256", Some(format!("Bearer {hs512}"))));

    // A real token with its payload swapped for another user's id, signature kept.
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = jwt_claims(&token);
    claims["sub"] = json!(other["id"].to_string());
    let tampered = format!("{}.{}.{}", parts[0], b64url_encode(claims.to_string().as_bytes()), parts[2]);
    refused.push(("tampered payload", Some(format!("Bearer {tampered}"))));
    // The same token with one signature character changed.
    let mut bad_sig = token.clone();
    let last = bad_sig.pop().expect("non-empty token");
    bad_sig.push(if last == 'A' { 'B' } else { 'A' });
    refused.push(("altered signature", Some(format!("Bearer {bad_sig}"))));

    let expired = sign_jwt(&secret, &json!({"sub": user["id"].to_string(), "iat": now - 7200, "exp": now - 60}));
    refused.push(("expired", Some(format!("Bearer {expired}"))));
    let no_exp = sign_jwt(&secret, &json!({"sub": user["id"].to_string(), "iat": now}));
    refused.push(("no exp claim", Some(format!("Bearer {no_exp}"))));
    let no_such_user = sign_jwt(&secret, &claims_for(&json!(999_999)));
    refused.push(("unknown user id", Some(format!("Bearer {no_such_user}"))));
    let not_an_id = sign_jwt(&secret, &json!({"sub": "leo", "iat": now, "exp": now + 3600}));
    refused.push(("non-numeric sub", Some(format!("Bearer {not_an_id}"))));

    for (case, authorization) in refused {
        let mut request = server.request(Method::GET, "/auth/users/me", None);
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let (status, body) = read_json(request.send().await.expect("send")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{case}: {body}");
        assert_error(status, &body, 401, "unauthorized");
    }

    // And the real token still works after all that.
    let (status, body) = me(&server, &token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_password_change_revokes_older_tokens() {
    let server = spawn().await;
    let (old_token, _) = server.signup("nina").await;
    let (status, _) = me(&server, &old_token).await;
    assert_eq!(status, StatusCode::OK);

    // A token issued in the same second as a password change is (by design) still accepted:
    // the change must land in a later second than the token.
    past_issue_second(&old_token).await;

    let out = natter_user_ok(server.data_dir(), &["passwd", "nina", "--password", "newpassword1"]).await;
    assert!(out.contains("nina"), "passwd output: {out}");

    let (status, body) = me(&server, &old_token).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = server.login("nina", PASSWORD).await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, token) = server.login("nina", "newpassword1").await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let (status, body) = me(&server, token["access_token"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::OK, "the new token works: {body}");
}

#[tokio::test]
async fn a_disabled_account_loses_its_tokens_and_logins() {
    let server = spawn().await;
    let (token, _) = server.signup("oscar").await;
    let (watcher, _) = server.signup("olga").await;

    natter_user_ok(server.data_dir(), &["disable", "oscar"]).await;
    let (status, body) = me(&server, &token).await;
    assert_error(status, &body, 401, "unauthorized");
    // The right password: told the account is disabled (403), not that the password is wrong.
    let (status, body) = server.login("oscar", PASSWORD).await;
    assert_error(status, &body, 403, "forbidden");
    assert!(body["detail"].as_str().is_some_and(|d| d.contains("disabled")), "{body}");
    // A wrong one: the same 401 as for anyone, so a disabled account is no easier to probe.
    let (status, body) = server.login("oscar", "not-the-password").await;
    assert_error(status, &body, 401, "unauthorized");
    let (status, body) = server.get("/auth/users?q=o", Some(&watcher)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!([]), "a disabled account is not offered to start chats");

    natter_user_ok(server.data_dir(), &["enable", "oscar"]).await;
    let (status, body) = server.login("oscar", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "enabled again: {body}");
}

#[tokio::test]
async fn every_chat_endpoint_refuses_a_disabled_accounts_token() {
    let server = spawn().await;
    let (owner, _) = server.signup("paula").await;
    let (token, user) = server.signup("quinn").await;
    let (status, room) =
        server.post("/chat/chat_rooms/", Some(&owner), &json!({ "name": "team", "members": ["quinn"] })).await;
    assert_eq!(status, StatusCode::CREATED, "{room}");
    let room = room["id"].as_i64().expect("room id");
    let path = format!("/chat/chat_rooms/{room}/messages");
    let (status, message) = server.post(&path, Some(&token), &json!({ "content": "before" })).await;
    assert_eq!(status, StatusCode::CREATED, "{message}");
    let message = message["id"].as_i64().expect("message id");
    let quinn = user["id"].as_i64().expect("user id");

    natter_user_ok(server.data_dir(), &["disable", "quinn"]).await;
    let body = json!({ "content": "after", "name": "x", "members": [], "username": "paula", "message_id": message });
    let calls: Vec<(Method, String)> = vec![
        (Method::GET, "/chat/chat_rooms/".into()),
        (Method::POST, "/chat/chat_rooms/".into()),
        (Method::GET, format!("/chat/chat_rooms/{room}")),
        (Method::POST, format!("/chat/chat_rooms/{room}/members")),
        (Method::DELETE, format!("/chat/chat_rooms/{room}/members/{quinn}")),
        (Method::GET, path.clone()),
        (Method::POST, path.clone()),
        (Method::POST, format!("/chat/chat_rooms/{room}/read")),
        (Method::PATCH, format!("/chat/messages/{message}")),
        (Method::DELETE, format!("/chat/messages/{message}")),
        (Method::GET, "/chat/private_chats/".into()),
        (Method::POST, "/chat/private_chats/".into()),
        (Method::GET, "/auth/users/me".into()),
        (Method::GET, "/auth/users/?q=p".into()),
    ];
    for (method, target) in calls {
        let (status, answer) = server.call(method.clone(), &target, Some(&token), Some(&body)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {target} with a disabled account's token: {answer}");
        assert_eq!(answer["code"], "unauthorized", "{method} {target}: {answer}");
    }
    // Nothing changed: the room still has both members and only the first message.
    let (status, history) = server.get(&path, Some(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    let contents: Vec<&str> = history.as_array().expect("list").iter().filter_map(|m| m["content"].as_str()).collect();
    assert_eq!(contents, ["before"]);
    let (_, room) = server.get(&format!("/chat/chat_rooms/{room}"), Some(&owner)).await;
    assert_eq!(room["members"].as_array().map(Vec::len), Some(2), "{room}");
}

#[tokio::test]
async fn a_request_over_the_time_limit_gets_the_spec_500_body() {
    // Hashing a password takes far longer than a millisecond, so signup always runs over.
    let server = spawn_with(|args| args.request_timeout = Duration::from_millis(1)).await;
    let signup = json!({ "username": "slow", "email": "slow@example.com", "password": PASSWORD });
    let (status, headers, body) = common::send(server.request(Method::POST, "/auth/signup", None).json(&signup)).await;
    assert_error(status, &body, 500, "internal");
    assert_eq!(headers[CONTENT_TYPE], "application/json; charset=utf-8");
    assert!(!body["detail"].as_str().unwrap_or("").contains("signup"), "no internals in the detail: {body}");
}

#[tokio::test]
async fn a_write_to_a_closed_storage_engine_is_503_with_retry_after() {
    let server = spawn().await;
    let (token, _) = server.signup("wendy").await;
    // What a request that arrives while the server drains its storage engine meets.
    server.db.shutdown().await;
    let room = json!({ "name": "late", "members": [] });
    let request = server.request(Method::POST, "/chat/chat_rooms/", Some(&token)).json(&room);
    let (status, headers, body) = common::send(request).await;
    assert_error(status, &body, 503, "unavailable");
    let retry_after = headers.get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|s| s.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s > 0), "Retry-After in seconds: {headers:?}");
}

// ---- user search ----

#[tokio::test]
async fn user_search_is_a_case_insensitive_prefix_match_without_the_caller() {
    let server = spawn().await;
    let (token, me_user) = server.signup("sam").await;
    for name in ["Samuel", "samantha", "SAMWISE", "bob", "isam"] {
        server.signup_only(name).await;
    }

    let mut answers = Vec::new();
    for path in ["/auth/users/?q=sA", "/auth/users?q=sA"] {
        let (status, body) = server.get(path, Some(&token)).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        let list = body.as_array().expect("a JSON array");
        for user in list {
            assert_user_public(user);
            assert_ne!(user["id"], me_user["id"], "the caller is left out");
        }
        let names: BTreeSet<String> = list.iter().filter_map(|u| u["username"].as_str().map(String::from)).collect();
        assert_eq!(names, set(&["Samuel", "samantha", "SAMWISE"]), "{path}");
        answers.push(body);
    }
    assert_eq!(answers[0], answers[1], "with and without the trailing slash");

    let (status, body) = server.get("/auth/users/?q=zzz", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([]));

    let (status, body) = server.get("/auth/users/?q=sa", None).await;
    assert_error(status, &body, 401, "unauthorized");
}

#[tokio::test]
async fn user_search_returns_at_most_20() {
    let server = spawn().await;
    // 22 accounts match, the caller among them: 21 candidates, 20 returned.
    let (token, me_user) = server.signup("zed00").await;
    for i in 1..22 {
        server.signup_only(&format!("zed{i:02}")).await;
    }
    let (status, body) = server.get("/auth/users/?q=ZED", Some(&token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let list = body.as_array().expect("array");
    assert_eq!(list.len(), 20, "{body}");
    assert!(list.iter().all(|u| u["id"] != me_user["id"]));
    let distinct: BTreeSet<i64> = list.iter().filter_map(|u| u["id"].as_i64()).collect();
    assert_eq!(distinct.len(), 20, "no duplicates");
}

// ---- registration modes and invites ----

#[tokio::test]
async fn closed_registration_refuses_signups() {
    let server = spawn_with(|a| a.registration = Registration::Closed).await;
    // The web UI learns who may sign up from /healthz.
    let (_, health) = server.get("/healthz", None).await;
    assert_eq!(health["registration"], json!("closed"), "{health}");
    let (status, body) = server.try_signup("paul").await;
    assert_error(status, &body, 403, "forbidden");
    let (status, _) = server.login("paul", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "no account was created");
}

#[tokio::test]
async fn invite_registration_needs_a_valid_code_from_an_admin() {
    // The admin signs up while registration is open, then the server restarts invite-only.
    let server = spawn().await;
    server.signup_only("admin").await;
    let dir = server.stop().await;
    let server = spawn_in(dir, |a| a.registration = Registration::Invite).await;
    let (admin, _) = server.token("admin").await;

    let signup = |name: &str, invite: Option<&str>| {
        let mut body = json!({"username": name, "email": format!("{name}@example.com"),
                              "password": PASSWORD});
        if let Some(code) = invite {
            body["invite"] = json!(code);
        }
        body
    };
    for invite in [None, Some(""), Some("not-a-real-code")] {
        let (status, body) = signup_body(&server, signup("quinn", invite)).await;
        assert_error(status, &body, 403, "forbidden");
    }

    let (status, invite) = server.post("/admin/invites", Some(&admin), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    assert_eq!(keys(&invite), set(&["code", "url", "uses_left", "expires_at"]), "{invite}");
    let code = invite["code"].as_str().expect("code string");
    assert!(!code.is_empty());
    assert!(invite["url"].as_str().is_some_and(|u| u.contains(code)), "the url carries the code: {invite}");
    assert_eq!(invite["uses_left"], 1, "one use by default");
    let expires = common::parse_time(invite["expires_at"].as_str().unwrap_or_default());
    assert!(expires > time::OffsetDateTime::now_utc() + Duration::from_secs(3600), "expires in the future: {invite}");

    // A refused signup (name taken) does not use the invite up.
    let (status, body) = signup_body(&server, signup("admin", Some(code))).await;
    assert_error(status, &body, 409, "conflict");
    let (status, guest) = signup_body(&server, signup("quinn", Some(code))).await;
    assert_eq!(status, StatusCode::CREATED, "{guest}");
    assert_eq!(guest["is_admin"], false);
    let (status, body) = signup_body(&server, signup("rita", Some(code))).await;
    assert_error(status, &body, 403, "forbidden");

    // A code for two signups.
    let (status, invite) = server.post("/admin/invites", Some(&admin), &json!({"uses": 2, "expires_in": "1h"})).await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    assert_eq!(invite["uses_left"], 2);
    let code = invite["code"].as_str().expect("code");
    for name in ["rita", "sven"] {
        let (status, body) = signup_body(&server, signup(name, Some(code))).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
    }
    let (status, body) = signup_body(&server, signup("tess", Some(code))).await;
    assert_error(status, &body, 403, "forbidden");

    // Only admins create invites.
    let (guest_token, _) = server.token("quinn").await;
    let (status, body) = server.post("/admin/invites", Some(&guest_token), &json!({})).await;
    assert_error(status, &body, 403, "forbidden");
    let (status, body) = server.post("/admin/invites", None, &json!({})).await;
    assert_error(status, &body, 401, "unauthorized");
}

// ---- rate limits ----

#[tokio::test]
async fn signup_and_login_attempts_per_address_are_bounded() {
    let server = spawn_with(|a| a.auth_rate = Rate { count: 3, per: Duration::from_secs(60) }).await;
    let (status, body) = server.try_signup("uma").await;
    assert_eq!(status, StatusCode::CREATED, "attempt 1: {body}");
    let (status, body) = server.login("uma", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "attempt 2: {body}");
    let (status, body) = server.login("uma", "wrong-password").await;
    assert_error(status, &body, 401, "unauthorized");

    // Attempt 4, whether signup or login, correct or not.
    let attempts = [
        server.request(Method::POST, "/auth/login", None).json(&json!({"email": "uma", "password": PASSWORD})),
        server
            .request(Method::POST, "/auth/signup", None)
            .json(&json!({"username": "vera", "email": "vera@example.com", "password": PASSWORD})),
        server.request(Method::POST, "/auth/token", None).form(&[("username", "uma"), ("password", PASSWORD)]),
        // Malformed attempts are attempts too: bounded before their body is even read.
        server.request(Method::POST, "/auth/signup", None).header(CONTENT_TYPE, "application/json").body("{not json"),
        server.request(Method::POST, "/auth/login", None).json(&json!({"email": 5})),
    ];
    for attempt in attempts {
        let response = attempt.send().await.expect("send");
        let retry_after =
            response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
        let (status, body) = read_json(response).await;
        assert_error(status, &body, 429, "rate_limited");
        assert!(
            retry_after.is_some_and(|s| (1..=60).contains(&s)),
            "Retry-After is a number of seconds within the window: {retry_after:?}"
        );
    }
    // Authenticated requests are not signup/login attempts.
    let (status, body) = server.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn two_failures_per_15_minutes(args: &mut natter::config::ServeArgs) {
    args.login_fail_rate = Rate { count: 2, per: Duration::from_secs(15 * 60) };
}

#[tokio::test]
async fn failed_logins_per_account_are_bounded() {
    let server = spawn_with(two_failures_per_15_minutes).await;
    server.try_signup("wendy").await;
    server.try_signup("xavier").await;

    for _ in 0..2 {
        let (status, body) = server.login("wendy@example.com", "wrong-password").await;
        assert_error(status, &body, 401, "unauthorized");
    }
    let response = server
        .request(Method::POST, "/auth/login", None)
        .json(&json!({"email": "wendy@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("send");
    let retry_after = response.headers().get(RETRY_AFTER).cloned();
    let (status, body) = read_json(response).await;
    assert_error(status, &body, 429, "rate_limited");
    let seconds = retry_after
        .and_then(|v| v.to_str().ok().and_then(|v| v.parse::<u64>().ok()))
        .expect("a numeric Retry-After header");
    assert!((1..=900).contains(&seconds), "Retry-After {seconds}");

    // Other accounts are not affected.
    let (status, body) = server.login("xavier@example.com", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A successful login clears the failures: fail, succeed, fail, succeed.
    for _ in 0..2 {
        let (status, _) = server.login("xavier@example.com", "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, body) = server.login("xavier@example.com", PASSWORD).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}

#[tokio::test]
async fn failed_logins_count_per_account_whatever_name_is_typed() {
    let server = spawn_with(two_failures_per_15_minutes).await;
    server.try_signup("yara").await;
    for _ in 0..2 {
        let (status, _) = server.login("yara@example.com", "wrong-password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // Same account by its username: still the same account's bound.
    let (status, body) = server.login("yara", PASSWORD).await;
    assert_error(status, &body, 429, "rate_limited");
}

// ---- restart ----

#[tokio::test]
async fn accounts_and_tokens_survive_a_restart() {
    let server = spawn().await;
    let (token, user) = server.signup("zoe").await;
    let secret = jwt_secret(server.data_dir());

    let dir = server.stop().await;
    let server = spawn_in(dir, |_| {}).await;
    assert_eq!(jwt_secret(server.data_dir()), secret, "the JWT secret is kept");

    let (status, body) = me(&server, &token).await;
    assert_eq!(status, StatusCode::OK, "the old token still works: {body}");
    assert_eq!(body, user);
    let (status, token) = server.login("zoe", PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    assert_token(&token, &user);
    let (status, body) = server.try_signup("zoe").await;
    assert_error(status, &body, 409, "conflict");
}

// ---- routing conventions (SPEC §1) ----

#[tokio::test]
async fn unknown_routes_and_wrong_methods_get_json_errors() {
    let server = spawn().await;
    for (method, path) in [
        (Method::GET, "/no/such/route"),
        (Method::POST, "/no/such/route"),
        (Method::GET, "/auth/nothing"),
        (Method::DELETE, "/chat/nothing/here"),
    ] {
        let response = server.request(method.clone(), path, None).send().await.expect("send");
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let (status, body) = read_json(response).await;
        assert_error(status, &body, 404, "not_found");
        assert!(
            content_type.is_some_and(|c| c.to_str().unwrap_or("") == "application/json; charset=utf-8"),
            "{method} {path}: JSON content type"
        );
    }
    for (method, path) in [
        (Method::GET, "/auth/signup"),
        (Method::DELETE, "/healthz"),
        (Method::PUT, "/auth/login"),
        (Method::POST, "/auth/users/me"),
    ] {
        let (status, body) = server.call(method.clone(), path, None, None).await;
        assert_error(status, &body, 405, "method_not_allowed");
    }
}

#[tokio::test]
async fn healthz_and_trailing_slashes() {
    let server = spawn().await;
    for path in ["/healthz", "/healthz/"] {
        let response = server.request(Method::GET, path, None).send().await.expect("send");
        let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        assert_eq!(content_type.as_deref(), Some("application/json; charset=utf-8"));
        let (status, body) = read_json(response).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        // Bound to 127.0.0.1: no other device can reach it, so nothing to share.
        let expected = json!({"status": "ok", "version": env!("CARGO_PKG_VERSION"), "first_run": true,
            "registration": "open", "share_url": null});
        assert_eq!(body, expected, "{path}");
    }

    let (status, user) = server
        .post("/auth/signup/", None, &json!({"username": "abel", "email": "abel@example.com", "password": PASSWORD}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "/auth/signup/: {user}");
    assert_user(&user, "abel", "abel@example.com");
    // The first account ends the first run.
    let (status, body) = server.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["first_run"], json!(false), "{body}");
    let (status, body) = server
        .post("/auth/signup/", None, &json!({"username": "ABEL", "email": "abel2@example.com", "password": PASSWORD}))
        .await;
    assert_error(status, &body, 409, "conflict");

    let (status, token) = server.post("/auth/login/", None, &json!({"email": "abel", "password": PASSWORD})).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    let token = token["access_token"].as_str().expect("token");
    let (status, body) = server.get("/auth/users/me/", Some(token)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, user);
}

#[tokio::test]
async fn closed_registration_refuses_before_looking_at_the_body() {
    let server = spawn_with(|a| a.registration = Registration::Closed).await;
    let bad = json!({"username": "x", "email": "nope", "password": "short"});
    let (status, body) = server.post("/auth/signup", None, &bad).await;
    assert_error(status, &body, 403, "forbidden");
}

#[tokio::test]
async fn an_empty_body_is_an_empty_object() {
    let server = spawn().await;
    let (admin, _) = server.signup("admin").await;
    // Every field of POST /admin/invites is optional: no body at all is a default invite.
    let response = server.request(Method::POST, "/admin/invites", Some(&admin)).send().await.expect("send");
    let (status, invite) = read_json(response).await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    assert_eq!(invite["uses_left"], 1);
    // Where fields are required, an empty body names them instead of claiming bad JSON.
    let response = server.request(Method::POST, "/auth/signup", None).send().await.expect("send");
    let (status, body) = read_json(response).await;
    assert_error(status, &body, 422, "validation_error");
    assert_eq!(body["fields"]["username"], "is required", "{body}");
}

#[tokio::test]
async fn a_form_login_without_its_username_names_username() {
    let server = spawn().await;
    let form = [("grant_type", "password"), ("username", ""), ("password", PASSWORD)];
    let (status, body) = post_form(&server, "/auth/token", &form).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["username"].is_string(), "{body}");
    assert!(body["fields"].get("email").is_none(), "{body}");
}

//! SPEC §3 Operations for administrators: accounts (`/admin/users`) and invites
//! (`/admin/invites`), with their 403s, 422s and links, and `natter invite`'s link.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{Account, account, connect};
use crate::common::sio;
use crate::common::spec::{keys, set};

/// The first account is the administrator.
async fn admin_and_guest(server: &common::TestServer) -> (Account, Account) {
    let admin = account(server, "root").await;
    let guest = account(server, "guest").await;
    (admin, guest)
}

#[tokio::test]
async fn every_admin_endpoint_is_403_for_others_and_401_without_a_token() {
    let server = common::spawn().await;
    let (admin, guest) = admin_and_guest(&server).await;
    let (status, invite) = server.post("/admin/invites", admin.tok(), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let code = invite["code"].as_str().unwrap().to_string();
    let endpoints: Vec<(reqwest::Method, String, Option<Value>)> = vec![
        (reqwest::Method::GET, "/admin/users".into(), None),
        (reqwest::Method::PATCH, format!("/admin/users/{}", admin.id), Some(json!({"disabled": true}))),
        (reqwest::Method::GET, "/admin/invites".into(), None),
        (reqwest::Method::POST, "/admin/invites".into(), Some(json!({}))),
        (reqwest::Method::DELETE, format!("/admin/invites/{code}"), None),
    ];
    for (method, path, body) in &endpoints {
        let (status, error) = server.call(method.clone(), path, guest.tok(), body.as_ref()).await;
        common::assert_error(status, &error, 403, "forbidden");
        let (status, error) = server.call(method.clone(), path, None, body.as_ref()).await;
        common::assert_error(status, &error, 401, "unauthorized");
    }
    // Nothing changed: the admin is enabled, the invite still there.
    let (status, users) = server.get("/admin/users", admin.tok()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(users[0]["disabled"], false, "{users}");
    let (_, invites) = server.get("/admin/invites", admin.tok()).await;
    assert_eq!(invites.as_array().unwrap().len(), 1, "{invites}");
}

#[tokio::test]
async fn users_are_listed_in_id_order_as_admins_see_them() {
    let server = common::spawn().await;
    let (admin, guest) = admin_and_guest(&server).await;
    let (status, users) = server.get("/admin/users/", admin.tok()).await;
    assert_eq!(status, StatusCode::OK, "{users}");
    let users = users.as_array().unwrap().clone();
    assert_eq!(users.len(), 2);
    for user in &users {
        assert_eq!(
            keys(user),
            set(&[
                "id",
                "username",
                "email",
                "created_at",
                "is_admin",
                "display_name",
                "avatar_url",
                "disabled",
                "last_seen"
            ])
        );
    }
    assert_eq!((users[0]["id"].as_i64(), users[1]["id"].as_i64()), (Some(admin.id), Some(guest.id)));
    assert_eq!((users[0]["is_admin"].as_bool(), users[1]["is_admin"].as_bool()), (Some(true), Some(false)));
    assert_eq!(users[1]["email"], "guest@example.com");
    assert!(users[1]["last_seen"].is_null(), "never connected");
}

#[tokio::test]
async fn an_admin_cannot_disable_or_demote_themself() {
    let server = common::spawn().await;
    let (admin, _) = admin_and_guest(&server).await;
    let me = format!("/admin/users/{}", admin.id);
    let (status, error) = server.patch(&me, admin.tok(), &json!({"disabled": true})).await;
    common::assert_error(status, &error, 422, "validation_error");
    assert!(error["fields"]["disabled"].is_string(), "{error}");
    let (status, error) = server.patch(&me, admin.tok(), &json!({"is_admin": false})).await;
    common::assert_error(status, &error, 422, "validation_error");
    assert!(error["fields"]["is_admin"].is_string(), "{error}");
    // Enabling yourself or staying an admin changes nothing and is fine.
    let (status, me_now) = server.patch(&me, admin.tok(), &json!({"disabled": false, "is_admin": true})).await;
    assert_eq!(status, StatusCode::OK, "{me_now}");
    assert_eq!((me_now["disabled"].as_bool(), me_now["is_admin"].as_bool()), (Some(false), Some(true)));
    let (status, error) = server.patch("/admin/users/999", admin.tok(), &json!({"disabled": true})).await;
    common::assert_error(status, &error, 404, "not_found");
    let (status, error) = server.patch("/admin/users/x", admin.tok(), &json!({})).await;
    common::assert_error(status, &error, 404, "not_found");
    let (status, error) = server.patch(&me, admin.tok(), &json!({"disabled": "yes"})).await;
    common::assert_error(status, &error, 422, "validation_error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_refuses_tokens_at_once_and_closes_sockets_within_a_second() {
    // No periodic re-check: only the disabling itself may close the socket.
    let server = common::spawn_with(|a| a.socket_recheck = Duration::ZERO).await;
    let (admin, guest) = admin_and_guest(&server).await;
    let socket = connect(&server, &guest).await;
    let other_tab = connect(&server, &guest).await;
    let admins = connect(&server, &admin).await;

    let started = Instant::now();
    let (status, changed) =
        server.patch(&format!("/admin/users/{}", guest.id), admin.tok(), &json!({"disabled": true})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["disabled"], true);
    assert_eq!(changed["id"], guest.id);
    let (status, error) = server.get("/auth/users/me", guest.tok()).await;
    common::assert_error(status, &error, 401, "unauthorized");
    assert!(socket.wait_closed(Duration::from_secs(1)).await, "the guest's socket is still open");
    assert!(other_tab.wait_closed(Duration::from_secs(1)).await, "the guest's other socket is still open");
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert!(!admins.is_closed(), "the admin's own socket stays");
    let (status, body) = server.login("guest", common::PASSWORD).await;
    common::assert_error(status, &body, 403, "forbidden");
    let refused = sio::connect_token(&server.base, &guest.token).await;
    assert!(refused.is_err(), "a disabled account's token cannot connect");

    // Enabled again: logging in works; promoted: the admin endpoints open up.
    let (status, changed) = server
        .patch(&format!("/admin/users/{}", guest.id), admin.tok(), &json!({"disabled": false, "is_admin": true}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let (token, _) = server.token("guest").await;
    let (status, _) = server.get("/admin/users", Some(&token)).await;
    assert_eq!(status, StatusCode::OK);
    admins.close().await;
}

#[tokio::test]
async fn invites_link_to_sign_up_and_can_be_listed_and_revoked() {
    let server = common::spawn().await;
    let (admin, _) = admin_and_guest(&server).await;
    let (status, first) = server.post("/admin/invites", admin.tok(), &json!({"uses": 3})).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(keys(&first), set(&["code", "url", "uses_left", "expires_at"]));
    let code = first["code"].as_str().unwrap();
    // Without --public-url the link is the host the request was sent to.
    assert_eq!(first["url"], format!("http://{}/#invite={code}", server.addr), "{first}");
    let (_, second) = server.post("/admin/invites", admin.tok(), &json!({"expires_in": "1h"})).await;
    let (status, listed) = server.get("/admin/invites", admin.tok()).await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<&str> = listed.as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap()).collect();
    assert_eq!(codes, [second["code"].as_str().unwrap(), code], "newest first");
    assert_eq!(listed[1]["url"], first["url"]);
    assert_eq!(listed[1]["uses_left"], 3);

    let (status, body) = server.delete(&format!("/admin/invites/{code}"), admin.tok()).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let (status, error) = server.delete(&format!("/admin/invites/{code}"), admin.tok()).await;
    common::assert_error(status, &error, 404, "not_found");
    let (_, listed) = server.get("/admin/invites", admin.tok()).await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn revoked_and_used_up_invites_sign_nobody_up_and_are_not_listed() {
    let server = common::spawn_with(|a| a.registration = natter::config::Registration::Invite).await;
    let admin = natter::input::NewAccount {
        username: "root".into(),
        email: "root@example.com".into(),
        password: common::PASSWORD.into(),
        full_name: None,
        invite: None,
    };
    server.state.accounts.add(admin, true).await.expect("the operator adds the admin");
    let (token, _) = server.token("root").await;
    let (_, invite) = server.post("/admin/invites", Some(&token), &json!({})).await;
    let (status, _) =
        server.delete(&format!("/admin/invites/{}", invite["code"].as_str().unwrap()), Some(&token)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let body = json!({"username": "late", "email": "late@example.com", "password": common::PASSWORD, "invite": invite["code"]});
    let (status, error) = server.post("/auth/signup", None, &body).await;
    common::assert_error(status, &error, 403, "forbidden");

    let (_, one) = server.post("/admin/invites", Some(&token), &json!({"uses": 1})).await;
    let body = json!({"username": "newbie", "email": "newbie@example.com", "password": common::PASSWORD, "invite": one["code"]});
    let (status, _) = server.post("/auth/signup", None, &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, listed) = server.get("/admin/invites", Some(&token)).await;
    assert_eq!(listed, json!([]), "the used-up invite is gone from the list");
}

#[tokio::test]
async fn the_public_url_makes_the_links_and_natter_invite_prints_them() {
    let server = common::spawn_with(|a| a.public_url = Some("https://chat.example.org/natter".into())).await;
    let (admin, _) = admin_and_guest(&server).await;
    let (status, invite) = server.post("/admin/invites", admin.tok(), &json!({})).await;
    assert_eq!(status, StatusCode::CREATED);
    let code = invite["code"].as_str().unwrap();
    assert_eq!(invite["url"], format!("https://chat.example.org/natter/#invite={code}"));

    // `natter invite` beside the running server prints the link with the server's --public-url.
    let data = server.data_dir().to_str().unwrap().to_string();
    let printed = common::run_natter_ok(server.data_dir(), &["invite", "--uses", "2", "--data-dir", &data]).await;
    let link = printed.trim();
    let code = link.strip_prefix("https://chat.example.org/natter/#invite=").unwrap_or_else(|| panic!("{printed:?}"));
    let (_, listed) = server.get("/admin/invites", admin.tok()).await;
    let made = listed.as_array().unwrap().iter().find(|i| i["code"] == code).expect("the printed code exists");
    assert_eq!(made["uses_left"], 2);
    // --public-url on the command line wins.
    let printed = common::run_natter_ok(
        server.data_dir(),
        &["invite", "--public-url", "http://10.0.0.2:8000/", "--data-dir", &data],
    )
    .await;
    assert!(printed.trim().starts_with("http://10.0.0.2:8000/#invite="), "{printed:?}");
}

/// Without `--public-url`, `natter invite` beside a running server prints the address that
/// server printed, with its own port (here it listens on 127.0.0.1 and a port of its choosing),
/// not the default `localhost:8000`.
#[tokio::test]
async fn natter_invite_prints_the_running_servers_own_address() {
    let server = common::spawn().await;
    // Once it answers, it has recorded its address (that happens before it accepts anything).
    let (status, _) = server.get("/healthz", None).await;
    assert_eq!(status, StatusCode::OK);
    let data = server.data_dir().to_str().unwrap().to_string();
    let printed = common::run_natter_ok(server.data_dir(), &["invite", "--data-dir", &data]).await;
    let expected = format!("http://127.0.0.1:{}/#invite=", server.addr.port());
    assert!(printed.trim().starts_with(&expected), "{printed:?} should start with {expected}");
}

#[tokio::test]
async fn natter_invite_without_a_public_url_links_to_localhost() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let printed = common::run_natter_ok(dir.path(), &["invite", "--data-dir", data]).await;
    assert!(printed.trim().starts_with("http://localhost:8000/#invite="), "{printed:?}");
    let bad = common::run_natter(dir.path(), &["invite", "--public-url", "chat.example.org", "--data-dir", data]).await;
    assert_eq!(bad.status.code(), Some(2), "a URL without a scheme is refused");
}

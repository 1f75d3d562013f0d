//! `--cors-origin`: browsers on the listed origins may call the REST API and use Socket.IO's
//! long-polling transport; without the flag there is no CORS at all, and an OPTIONS request is
//! just another method the route does not accept.

use reqwest::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_REQUEST_METHOD, ORIGIN};
use reqwest::{Method, StatusCode};

use crate::common;
use crate::common::{assert_error, read_json, spawn, spawn_with};

const APP: &str = "https://app.example.org";

#[tokio::test]
async fn without_cors_origin_options_is_an_unaccepted_method_and_no_origin_is_allowed() {
    let server = spawn().await;
    let preflight = server
        .request(Method::OPTIONS, "/chat/chat_rooms/", None)
        .header(ORIGIN, APP)
        .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .send()
        .await
        .expect("send");
    assert!(preflight.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{:?}", preflight.headers());
    let (status, body) = read_json(preflight).await;
    assert_error(status, &body, 405, "method_not_allowed");

    let (status, body) =
        read_json(server.request(Method::OPTIONS, "/no/such/path", None).send().await.expect("send")).await;
    assert_error(status, &body, 404, "not_found");

    let response = server.request(Method::GET, "/healthz", None).header(ORIGIN, APP).send().await.expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{:?}", response.headers());
}

#[tokio::test]
async fn a_listed_origin_passes_the_pre_check_and_others_do_not() {
    let server = spawn_with(|args| args.cors_origin = vec![APP.to_string()]).await;
    let preflight = |origin: &'static str| {
        server
            .request(Method::OPTIONS, "/chat/chat_rooms/", None)
            .header(ORIGIN, origin)
            .header(ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .send()
    };
    let allowed = preflight(APP).await.expect("send");
    assert_eq!(allowed.status(), StatusCode::OK);
    assert_eq!(allowed.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()), Some(APP.as_bytes()));

    let other = preflight("https://evil.example.net").await.expect("send");
    assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{:?}", other.headers());

    let response = server.request(Method::GET, "/healthz", None).header(ORIGIN, APP).send().await.expect("send");
    assert_eq!(response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()), Some(APP.as_bytes()));
}

/// The Engine.IO handshake over long-polling, as a browser on `origin` sends it first.
async fn polling_handshake(server: &common::TestServer, origin: &str) -> reqwest::Response {
    let response = server
        .request(Method::GET, "/socket.io/?EIO=4&transport=polling", None)
        .header(ORIGIN, origin)
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), StatusCode::OK);
    response
}

#[tokio::test]
async fn socket_io_long_polling_gets_cors_headers_for_a_listed_origin_only() {
    let server = spawn_with(|args| args.cors_origin = vec![APP.to_string()]).await;
    let allowed = polling_handshake(&server, APP).await;
    assert_eq!(allowed.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.as_bytes()), Some(APP.as_bytes()));
    let open = allowed.text().await.expect("body");
    assert!(open.starts_with("0{") && open.contains("\"sid\""), "not an Engine.IO open packet: {open}");

    let other = polling_handshake(&server, "https://evil.example.net").await;
    assert!(other.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{:?}", other.headers());

    let without_flag = spawn().await;
    let response = polling_handshake(&without_flag, APP).await;
    assert!(response.headers().get(ACCESS_CONTROL_ALLOW_ORIGIN).is_none(), "{:?}", response.headers());
}

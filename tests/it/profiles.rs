//! SPEC §3 "Profiles, avatars and thumbnails" and §4 `user_updated`: display names (bounds and
//! cleaning), avatars (a 256 × 256 centre crop, upright, without metadata; only of the caller's
//! own pictures), the fields wherever a user appears, and who is told of a change.

use std::time::Duration;

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

use crate::common::chat::{account, connect, post_message, room, upload_ok};
use crate::common::{assert_error, spawn, spawn_without_first_room};
use crate::thumbnails::{encode, fetch};

const ME: &str = "/auth/users/me";

/// A picture in three vertical bands, red, green and blue: its centre square is all green.
fn bands(width: u32, height: u32) -> Vec<u8> {
    let rgb = RgbImage::from_fn(width, height, |x, _| match x * 3 / width {
        0 => Rgb([230, 20, 20]),
        1 => Rgb([20, 200, 20]),
        _ => Rgb([20, 20, 230]),
    });
    encode(DynamicImage::ImageRgb8(rgb), ImageFormat::Jpeg)
}

#[tokio::test]
async fn a_display_name_is_cleaned_bounded_and_cleared() {
    let server = spawn().await;
    let (token, user) = server.signup("alice").await;
    assert!(user["display_name"].is_null() && user["avatar_url"].is_null(), "{user}");
    let (status, me) = server.patch(ME, Some(&token), &json!({"display_name": "  Al\u{202E}ice \u{7}Smith  "})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "Alice Smith");
    assert_eq!(me["username"], "alice", "the username stays");
    // 64 characters after trimming, blanks around them allowed; 65 refused.
    let sixty_four = "é".repeat(64);
    let (status, me) = server.patch(ME, Some(&token), &json!({"display_name": format!("  {sixty_four}  ")})).await;
    assert_eq!((status, me["display_name"].as_str()), (StatusCode::OK, Some(sixty_four.as_str())));
    let (status, body) = server.patch(ME, Some(&token), &json!({"display_name": "é".repeat(65)})).await;
    assert_error(status, &body, 422, "validation_error");
    assert!(body["fields"]["display_name"].is_string(), "{body}");
    // A field left out stays as it is; "" and null clear it.
    let (_, me) = server.patch(ME, Some(&token), &json!({})).await;
    assert_eq!(me["display_name"].as_str(), Some(sixty_four.as_str()));
    for cleared in [json!(""), json!("   "), Value::Null] {
        server.patch(ME, Some(&token), &json!({"display_name": "Someone"})).await;
        let (status, me) = server.patch(ME, Some(&token), &json!({ "display_name": cleared })).await;
        assert_eq!(status, StatusCode::OK);
        assert!(me["display_name"].is_null(), "{cleared} clears it: {me}");
    }
    let (status, _) = server.patch(ME, None, &json!({"display_name": "x"})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_fields_appear_wherever_the_user_does() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let general = room(&server, &alice, "team", &[&bob]).await;
    let picture = upload_ok(&server, &alice.token, bands(300, 300), "me.jpg").await;
    let (status, me) = server
        .patch(ME, alice.tok(), &json!({"display_name": "Alice A.", "avatar_attachment_id": picture["id"]}))
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let avatar = me["avatar_url"].as_str().expect("avatar_url").to_string();
    let message = post_message(&server, &alice, general, "hello").await;
    assert_eq!(
        (message["sender"]["display_name"].as_str(), message["sender"]["avatar_url"].as_str()),
        (Some("Alice A."), Some(avatar.as_str()))
    );
    let history = crate::common::chat::history(&server, &bob, general, "").await;
    assert_eq!(history.last().unwrap()["sender"]["display_name"], "Alice A.");
    assert_eq!(history.last().unwrap()["sender"]["avatar_url"], avatar.as_str());
    let room = crate::common::chat::get_room(&server, &bob, general).await;
    let member = room["members"].as_array().unwrap().iter().find(|m| m["id"] == alice.id).unwrap().clone();
    assert_eq!(
        (member["display_name"].as_str(), member["avatar_url"].as_str()),
        (Some("Alice A."), Some(avatar.as_str()))
    );
    let (_, found) = server.get("/auth/users?q=ali", bob.tok()).await;
    assert_eq!(found[0]["display_name"], "Alice A.", "{found}");
    let (_, me_again) = server.get(ME, alice.tok()).await;
    assert_eq!(me_again["avatar_url"], avatar.as_str());
}

#[tokio::test]
async fn an_avatar_is_an_upright_256_px_centre_crop_without_metadata() {
    let server = spawn().await;
    let (token, _) = server.signup("alice").await;
    let wide = upload_ok(&server, &token, bands(900, 300), "wide.jpg").await;
    let (status, me) = server.patch(ME, Some(&token), &json!({"avatar_attachment_id": wide["id"]})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let url = me["avatar_url"].as_str().unwrap().to_string();
    assert!(url.starts_with("/media/") && url != wide["url"].as_str().unwrap(), "a copy of its own: {url}");
    let (status, headers, body) = fetch(&server, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(!body.windows(4).any(|w| w == b"Exif"), "no EXIF in the avatar");
    let avatar = image::load_from_memory(&body).unwrap().to_rgb8();
    assert_eq!(avatar.dimensions(), (256, 256));
    for (x, y) in [(3, 3), (252, 3), (128, 128), (3, 252), (252, 252)] {
        let [r, g, b] = avatar.get_pixel(x, y).0;
        assert!(g > 150 && r < 80 && b < 80, "the centre band only, at ({x}, {y}): {r},{g},{b}");
    }
    // A phone photo stored sideways (Orientation 6) makes an upright avatar: 64 × 48 stored,
    // 48 × 64 shown, and its centre square is the same either way; the test is that it decodes
    // through the tag, square.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/fixtures/phone.jpg");
    let phone = upload_ok(&server, &token, std::fs::read(path).unwrap(), "phone.jpg").await;
    let (status, me) = server.patch(ME, Some(&token), &json!({"avatar_attachment_id": phone["id"]})).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (_, _, body) = fetch(&server, me["avatar_url"].as_str().unwrap()).await;
    assert_eq!(image::load_from_memory(&body).unwrap().width(), 256);
    // The replaced avatar is gone; removing the avatar removes its file too.
    assert_eq!(fetch(&server, &url).await.0, StatusCode::NOT_FOUND, "the replaced avatar");
    let second = me["avatar_url"].as_str().unwrap().to_string();
    let (status, me) = server.patch(ME, Some(&token), &json!({"avatar_attachment_id": null})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(me["avatar_url"].is_null(), "{me}");
    assert_eq!(fetch(&server, &second).await.0, StatusCode::NOT_FOUND, "a removed avatar");
}

#[tokio::test]
async fn an_avatar_must_be_a_picture_the_caller_uploaded() {
    let server = spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let bobs = upload_ok(&server, &bob.token, bands(90, 90), "bob.jpg").await;
    let text = upload_ok(&server, &alice.token, b"not a picture\n".to_vec(), "a.txt").await;
    let mut broken = bands(90, 90);
    broken.truncate(200);
    let broken = upload_ok(&server, &alice.token, broken, "broken.jpg").await;
    for id in [bobs["id"].clone(), text["id"].clone(), broken["id"].clone(), json!(999_999)] {
        let (status, body) = server.patch(ME, alice.tok(), &json!({"avatar_attachment_id": id})).await;
        assert_error(status, &body, 422, "validation_error");
        assert!(body["fields"]["avatar_attachment_id"].is_string(), "{id}: {body}");
    }
    let (_, me) = server.get(ME, alice.tok()).await;
    assert!(me["avatar_url"].is_null());
}

#[tokio::test]
async fn an_avatar_outlives_the_upload_it_was_made_from() {
    let server = crate::common::spawn_with(|args| {
        args.unattached_upload_age = Duration::from_secs(1);
        args.unattached_sweep_interval = Duration::from_millis(100);
    })
    .await;
    let (token, _) = server.signup("alice").await;
    let upload = upload_ok(&server, &token, bands(120, 120), "me.jpg").await;
    let (_, me) = server.patch(ME, Some(&token), &json!({"avatar_attachment_id": upload["id"]})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while fetch(&server, upload["url"].as_str().unwrap()).await.0 != StatusCode::NOT_FOUND {
        assert!(std::time::Instant::now() < deadline, "the unattached upload was not swept");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fetch(&server, me["avatar_url"].as_str().unwrap()).await.0, StatusCode::OK);
}

#[tokio::test]
async fn user_updated_goes_to_room_mates_only() {
    let server = spawn_without_first_room().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let carol = account(&server, "carol").await;
    room(&server, &alice, "pair", &[&bob]).await;
    let bob_socket = connect(&server, &bob).await;
    let carol_socket = connect(&server, &carol).await;
    let alice_socket = connect(&server, &alice).await;
    let (status, _) = server.patch(ME, alice.tok(), &json!({"display_name": "Alice ✨"})).await;
    assert_eq!(status, StatusCode::OK);
    let event = bob_socket.wait_for("user_updated").await;
    let user = &event["user"];
    assert_eq!((user["id"].as_i64(), user["display_name"].as_str()), (Some(alice.id), Some("Alice ✨")), "{event}");
    crate::common::spec::assert_user_public(user);
    assert_eq!(user["online"], true);
    alice_socket.wait_for("user_updated").await;
    carol_socket.assert_no_event("user_updated", Duration::from_millis(500)).await;
    // Nothing changed: nobody is told.
    server.patch(ME, alice.tok(), &json!({"display_name": "Alice ✨"})).await;
    bob_socket.assert_no_event("user_updated", Duration::from_millis(300)).await;
    // user_status carries the fields too.
    bob_socket.take_queued("user_status");
    drop(alice_socket);
    let status = bob_socket.wait_for("user_status").await;
    assert_eq!(status["display_name"], "Alice ✨", "{status}");
}

//! The web UI in a real browser: Debian's Chromium, headless, driven through chromedriver.
//! Two people in two separate browser profiles sign up, chat live, upload, edit, delete, lose
//! the network and get it back; every screen is checked with axe-core and photographed (desktop
//! and phone, light and dark) into target/screenshots/.
//!
//! Needs `chromium` and `chromium-driver` (apt) and npm's `axe-core` in target/js, which cargo
//! cannot provide, so every test here is ignored by default; `.ci/run` installs them and runs
//! `cargo test -- --include-ignored`. To run just these: `cargo test --test it browser --
//! --include-ignored` (`CHROMIUM` / `CHROMEDRIVER` override the binaries' paths).

mod harness;

use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use harness::{Driver, LOG, Person, button, chat_link, dialog, keys, message, textbox};
use reqwest::Method;
use serde_json::{Value, json};

use crate::common;
use crate::common::chat::{
    self, Account, account, connect, history, id_of, mark_read, post_attachment, post_message, private_chat, react_ok,
    reply, room, upload_ok,
};

/// Run `scenario` with people in their own browsers (one test's browsers at a time), and close
/// every browser whatever happens.
async fn with_browsers<const N: usize>(base: &str, names: [&str; N], scenario: impl AsyncFnOnce(&[Person; N])) {
    let _one = harness::one_at_a_time().await;
    let driver = Driver::start().await;
    let mut people = Vec::new();
    for name in names {
        people.push(Person::open(&driver, base, name).await);
    }
    let Ok(people) = <[Person; N]>::try_from(people) else { unreachable!("one browser per name") };
    match AssertUnwindSafe(scenario(&people)).catch_unwind().await {
        Ok(()) => {
            for person in people {
                person.close().await;
            }
        }
        // The browsers went down with the scenario; dropping the driver ends them.
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A reload with the server down still opens natter (from the service worker's cache), which
/// says it is reconnecting.
async fn reload_while_the_server_is_down(person: &Person) {
    person.reload().await;
    person.find("//nav[@aria-label='Chats']").await;
    person
        .find("//*[@role='status'][contains(., 'Reconnecting') or contains(., 'Connecting') or contains(., 'Offline')]")
        .await;
}

async fn sign_up(person: &Person, username: &str) {
    // A page opened before any account existed is on sign-up already (first run).
    let either = format!("{} | {}", button("Create an account"), button("Sign up"));
    person.find(&either).await;
    if person.count(&button("Create an account")).await > 0 {
        person.click_button("Create an account").await;
    }
    person.type_in("Username", username).await;
    person.type_in("Email", &format!("{username}@example.com")).await;
    person.type_in("Password", common::PASSWORD).await;
    person.click_button("Sign up").await;
    person.find("//nav[@aria-label='Chats']").await;
}

async fn log_in(person: &Person, username: &str) {
    // The form offers the last username already; replace whatever is there.
    person.type_in("Email or username", &format!("{}a{}{username}", keys::CONTROL, keys::RELEASE)).await;
    person.type_in("Password", common::PASSWORD).await;
    person.click_button("Log in").await;
    person.find("//nav[@aria-label='Chats']").await;
}

/// A message that the server has acknowledged (no longer pending) in the open chat.
fn delivered(text: &str) -> String {
    format!("{}[not(contains(., 'Sending…')) and not(contains(., 'Waiting for the connection'))]", message(text))
}

/// Type `text` into the composer, press Enter, and wait for the server's acknowledgement.
async fn say(person: &Person, text: &str) {
    say_shown(person, text, text).await;
}

/// Like [`say`] for text that formatting changes: `shown` is part of what the log shows.
async fn say_shown(person: &Person, text: &str, shown: &str) {
    person.type_in("Message", &format!("{text}{}", keys::ENTER)).await;
    person.find(&delivered(shown)).await;
}

/// Go to a message as the keyboard does (the log's arrow keys land on it; Enter goes into its
/// actions, which shows them) and press one of them.
async fn message_action(person: &Person, text: &str, action: &str) {
    let article = person.find(&message(text)).await;
    person.js("arguments[0].scrollIntoView({ block: 'center' }); arguments[0].focus();", vec![json!(article)]).await;
    person.press(keys::ENTER).await;
    person.click(&format!("{}{}", message(text), button(action))).await;
}

/// A send the server refuses, made for real: `person` answers `original_text` (message
/// `original_id`, someone else's) while offline, `deleter` deletes the original meanwhile, and
/// the queued reply is refused once the connection is back: "Not sent", and the original goes.
/// (A message over 4,000 characters no longer serves: the composer keeps it instead.)
async fn refused_send(
    server: &common::TestServer,
    person: &Person,
    deleter: &Account,
    original: (i64, &str),
    reply_text: &str,
) {
    message_action(person, original.1, "Reply").await;
    person.offline(true).await;
    person.find("//*[@role='status'][contains(., 'Offline') or contains(., 'Reconnecting')]").await;
    person.type_in("Message", &format!("{reply_text}{}", keys::ENTER)).await;
    person.find(&format!("{}[contains(., 'Waiting for the connection')]", message(reply_text))).await;
    let (status, body) = server.delete(&format!("/chat/messages/{}", original.0), deleter.tok()).await;
    assert_eq!(status, 204, "delete the original: {body}");
    person.offline(false).await;
    person.find(&format!("{}[contains(., 'Not sent')][contains(., 'was deleted')]", message(reply_text))).await;
    // The catch-up after the reconnect removes the original, even when it was the newest message.
    person.gone(&message(original.1)).await;
}

async fn open_chat(person: &Person, name: &str) {
    person.click(&chat_link(name)).await;
    person.find(&format!("//h1[normalize-space(.)={}]", harness::lit(name))).await;
}

/// Messages in a room whose content is exactly `content`, as the server has them.
async fn stored(server: &common::TestServer, reader: &Account, room_id: i64, content: &str) -> usize {
    let page = history(server, reader, room_id, "limit=200").await;
    let found = page.iter().filter(|m| m["content"] == content).count();
    if found != 1 {
        eprintln!("room {room_id}: {}", serde_json::to_string_pretty(&page).unwrap_or_default());
    }
    found
}

/// The id of the message `content` in a room, as the server has it.
async fn stored_id(server: &common::TestServer, reader: &Account, room_id: i64, content: &str) -> i64 {
    let page = history(server, reader, room_id, "limit=200").await;
    let found = page.iter().find(|m| m["content"] == content);
    found.map(id_of).unwrap_or_else(|| panic!("no message {content:?} in room {room_id}"))
}

fn room_id_from(url: &str) -> i64 {
    url.rsplit("#/chat/").next().and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("no chat id in {url}"))
}

/// The network errors a browser logs while it is offline, and nothing else.
fn offline_noise(line: &str) -> bool {
    [
        "ERR_INTERNET_DISCONNECTED",
        "ERR_NETWORK_CHANGED",
        "ERR_CONNECTION_REFUSED",
        "WebSocket connection to",
        "socket.io",
    ]
    .iter()
    .any(|noise| line.contains(noise))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn two_people_chat_live_in_two_browsers() {
    let server = common::spawn().await;
    let picture = tempfile::tempdir().unwrap();
    let image = picture.path().join("sunset.png");
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/static/icons/icon-192.png"), &image).unwrap();

    let image = image.as_path();
    with_browsers(&server.base, ["alice", "bob"], async |[alice, bob]| {
        // Both sign up in their own browsers.
        sign_up(alice, "alice").await;
        sign_up(bob, "bob").await;

        // Alice creates a room with Bob in it; it appears in Bob's list without a reload.
        alice.click_button("New room").await;
        alice.find(&dialog("New room")).await;
        alice.type_in("Room name", "book club").await;
        alice.type_in("Members", "bob").await;
        alice.click_button("Create").await;
        alice.find("//h1[normalize-space(.)='book club']").await;
        alice.gone(&dialog("New room")).await;
        bob.find(&chat_link("book club")).await;
        open_chat(bob, "book club").await;
        let room_id = room_id_from(alice.client.current_url().await.unwrap().as_str());

        // Messages go both ways, live; each shows the sender's name and the time.
        say(alice, "Hello Bob! Page 42 tonight?").await;
        bob.find(&message("Hello Bob! Page 42 tonight?")).await;
        bob.type_in("Message", "Yes, see you there").await;
        bob.click_button("Send").await;
        bob.find(&delivered("Yes, see you there")).await;
        alice.find(&message("Yes, see you there")).await;
        let shown = alice.text(&message("Yes, see you there")).await;
        assert!(shown.contains("bob"), "the sender's name is shown: {shown:?}");
        assert_eq!(alice.count(&format!("{}//time[@datetime]", message("Yes, see you there"))).await, 1);

        // Shift+Enter makes a new line; Enter sends.
        alice
            .type_in(
                "Message",
                &format!("line one{}{}{}line two{}", keys::SHIFT, keys::ENTER, keys::RELEASE, keys::ENTER),
            )
            .await;
        bob.find(&message("line one\nline two")).await;

        // Markup in a message is text, never HTML.
        let payload = "<img src=x onerror=alert(1)> <b>bold</b>";
        say(alice, payload).await;
        bob.find(&message(payload)).await;
        assert_eq!(bob.count(&format!("{LOG}//img[@src='x']")).await, 0, "no <img> was created");
        assert_eq!(bob.count(&format!("{LOG}//b")).await, 0, "no <b> was created");
        // Formatting is built from text: a link (safe schemes only), code and emphasis.
        say_shown(
            alice,
            "see https://example.com/a_(b). and `x < y` *nice* javascript:alert(1)",
            "see https://example.com",
        )
        .await;
        let link = format!("{LOG}//a[@href='https://example.com/a_(b)'][@rel='noopener noreferrer'][@target='_blank']");
        bob.find(&link).await;
        bob.find(&format!("{LOG}//code[.='x < y']")).await;
        bob.find(&format!("{LOG}//em[.='nice']")).await;
        assert_eq!(bob.count(&format!("{LOG}//a[starts-with(@href, 'javascript')]")).await, 0);

        // An image sent by Alice shows inline for Bob.
        let file = alice.find("//input[@type='file'][@aria-label='Attach file']").await;
        file.send_keys(image.to_str().unwrap()).await.unwrap();
        alice.find("//ul[@aria-label='Attachments']//li[contains(., 'ready')]").await;
        say(alice, "the cover").await;
        let img = format!("{}//img[@alt='sunset.png']", message("the cover"));
        bob.find(&img).await;
        bob.until(
            "the image to load",
            &format!(
                "document.evaluate({}, document, null, 9, null).singleNodeValue?.naturalWidth > 0",
                serde_json::to_string(&img).unwrap()
            ),
        )
        .await;
        // Clicking it opens it large; Esc closes.
        bob.click(&format!("{}{}", message("the cover"), button("View image sunset.png larger"))).await;
        bob.find(&format!("{}//img[@alt='sunset.png']", dialog("sunset.png"))).await;
        bob.press(keys::ESCAPE).await;
        bob.gone(&dialog("sunset.png")).await;

        // Bob types: Alice sees it.
        bob.type_in("Message", "thinking").await;
        alice.find("//*[contains(@class, 'typing')][contains(., 'bob')][contains(., 'is typing')]").await;

        // Edits and deletions are seen live.
        message_action(alice, "Hello Bob! Page 42 tonight?", "Edit message").await;
        let select_all = format!("{}a{}", keys::CONTROL, keys::RELEASE);
        alice.type_in("Edit message", &format!("{select_all}Hello Bob! Page 43 tonight?{}", keys::ENTER)).await;
        bob.find(&format!("{}[contains(., '(edited)')]", message("Page 43 tonight?"))).await;
        bob.gone(&message("Page 42")).await;
        say(alice, "oops, wrong room").await;
        bob.find(&message("oops, wrong room")).await;
        message_action(alice, "oops, wrong room", "Delete message").await;
        alice.click(&format!("{}{}", dialog("Delete this message?"), button("Delete"))).await;
        alice.gone(&message("oops, wrong room")).await;
        bob.gone(&message("oops, wrong room")).await;
        // ↑ in the empty composer edits your last message; Esc cancels.
        alice.type_in("Message", keys::UP).await;
        alice.visible(&textbox("Edit message")).await;
        alice.press(keys::ESCAPE).await;
        alice.gone(&textbox("Edit message")).await;

        // A private chat: Bob starts it by picking a suggestion (one choice, no second Enter);
        // it appears for Alice, with Bob online.
        bob.click_button("New private chat").await;
        bob.type_in("Username", "ali").await;
        bob.click(&format!(
            "{}//ul[@aria-label='Suggestions']//button[contains(., 'alice')]",
            dialog("New private chat")
        ))
        .await;
        bob.gone(&dialog("New private chat")).await;
        bob.find("//h1[normalize-space(.)='alice']").await;
        say(bob, "psst, a surprise for the club").await;
        alice.find(&format!("{}[contains(., 'online')][contains(., '1 unread message')]", chat_link("bob"))).await;
        open_chat(alice, "bob").await;
        alice.find(&message("psst, a surprise for the club")).await;

        // The draft Bob left in the room is still there when he comes back to it.
        open_chat(bob, "book club").await;
        bob.until("the draft to come back", "document.getElementById('composer-input').value === 'thinking'").await;
        bob.type_in("Message", &format!("{}a{}{}", keys::CONTROL, keys::RELEASE, keys::BACKSPACE)).await;

        // A reload keeps the session, the open chat and its history.
        bob.reload().await;
        bob.find("//h1[normalize-space(.)='book club']").await;
        bob.find(&message("Page 43 tonight?")).await;
        bob.find("//*[@role='status'][normalize-space(.)='Connected']").await;
        alice.assert_no_console_errors().await;
        bob.assert_no_console_errors().await;

        // Bob's network drops. Alice keeps talking; Bob sends one message while offline.
        open_chat(alice, "book club").await;
        bob.offline(true).await;
        bob.find("//*[@role='status'][contains(., 'Offline') or contains(., 'Reconnecting')]").await;
        say(alice, "while you were away (1)").await;
        say(alice, "while you were away (2)").await;
        bob.type_in("Message", &format!("sent while offline{}", keys::ENTER)).await;
        bob.find(&format!("{}[contains(., 'Waiting for the connection')]", message("sent while offline"))).await;
        // The network comes back: everything arrives without a reload, and once.
        bob.offline(false).await;
        bob.find("//*[@role='status'][normalize-space(.)='Connected']").await;
        bob.find(&message("while you were away (1)")).await;
        bob.find(&message("while you were away (2)")).await;
        bob.find(&delivered("sent while offline")).await;
        alice.find(&message("sent while offline")).await;
        let alice_account = chat::log_in(&server, "alice").await;
        assert_eq!(stored(&server, &alice_account, room_id, "sent while offline").await, 1, "stored exactly once");
        assert_eq!(alice.count(&message("sent while offline")).await, 1, "shown once to Alice");
        assert_eq!(bob.count(&message("sent while offline")).await, 1, "shown once to Bob");
        assert_eq!(bob.count(&message("while you were away (1)")).await, 1);
        let noise = bob.console_errors(offline_noise).await;
        assert!(noise.is_empty(), "bob: console errors around the outage:\n{}", noise.join("\n"));

        // Log out: back to sign-in, and a reload stays signed out.
        alice.assert_no_console_errors().await;
        alice.click_button("Log out").await;
        alice.find(&button("Log in")).await;
        alice.reload().await;
        alice.find(&button("Log in")).await;
        alice.assert_no_console_errors().await;
        bob.assert_no_console_errors().await;
    })
    .await;
}

/// Sign-up by invite link, an expired session, the keyboard, and the phone layout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn invite_link_expiry_keyboard_and_phone() {
    let server = common::spawn_with(|args| args.registration = natter::config::Registration::Invite).await;
    let code = server.operator_invite(5, 3600).await;

    let code = code.as_str();
    with_browsers(&server.base, ["carol"], async |[carol]| {
        // No account yet on an invite-only server: the page opens on sign-up, with the invite
        // field; without an invite, sign-up says why it failed, in an alert.
        carol.find("//h1[normalize-space(.)='Create an account']").await;
        carol.find(&harness::textbox("Invite code")).await;
        carol.type_in("Username", "carol").await;
        carol.type_in("Email", "carol@example.com").await;
        carol.type_in("Password", common::PASSWORD).await;
        carol.click_button("Sign up").await;
        carol.find("//*[@role='alert'][contains(., 'nvite')]").await;
        // The invite link opens sign-up with the code filled in.
        carol.goto(&format!("/#invite={code}")).await;
        carol.reload().await;
        carol.find("//h1[normalize-space(.)='Create an account']").await;
        let filled = carol.js("return document.getElementById('signup-invite').value;", vec![]).await;
        assert_eq!(filled, json!(code));
        carol.type_in("Username", "carol").await;
        carol.type_in("Email", "carol@example.com").await;
        carol.type_in("Password", common::PASSWORD).await;
        carol.click_button("Sign up").await;
        carol.find("//nav[@aria-label='Chats']").await;
        let _ = carol.console_errors(|line| line.contains("403")).await;
        // A brand-new account lands in the first room, which an invited account joins too.
        carol.find("//h1[normalize-space(.)='general']").await;
        carol.assert_accessible("a newcomer in general").await;
        carol.screenshot("desktop-light-newcomer").await;

        // Rooms to move between (made by another member over the API).
        let (dave_status, _) = server
            .post(
                "/auth/signup",
                None,
                &json!({"username": "dave", "email": "dave@example.com", "password": common::PASSWORD, "invite": code}),
            )
            .await;
        assert_eq!(dave_status, 201);
        let dave = chat::log_in(&server, "dave").await;
        for name in ["alpha", "beta", "gamma"] {
            chat::create_room(&server, &dave, name, &["carol"]).await;
        }
        carol.find(&chat_link("gamma")).await;
        // Most recent activity first; a new message moves its room to the top.
        let rooms = "//nav[@aria-label='Chats']//ul[@aria-labelledby='rooms-heading']/li[1]/a";
        assert!(carol.text(rooms).await.starts_with("gamma,"), "the newest room first");
        let (status, list) = server.get("/chat/chat_rooms/", dave.tok()).await;
        assert_eq!(status, 200);
        let alpha = list.as_array().unwrap().iter().find(|r| r["name"] == "alpha").unwrap()["id"].as_i64().unwrap();
        post_message(&server, &dave, alpha, "alpha is busy now").await;
        carol
            .until(
                "alpha to move to the top",
                &format!(
                    "document.evaluate({}, document, null, 9, null).singleNodeValue?.textContent.startsWith('alpha,')",
                    json!(rooms)
                ),
            )
            .await;

        // Ctrl+K: the chat switcher; type, Enter opens; Alt+↓ / Alt+↑ step through the list.
        carol.press(&format!("{}k{}", keys::CONTROL, keys::RELEASE)).await;
        carol.find(&dialog("Jump to a chat")).await;
        carol.type_in("Find a chat", &format!("bet{}", keys::ENTER)).await;
        carol.find("//h1[normalize-space(.)='beta']").await;
        carol.gone(&dialog("Jump to a chat")).await;
        // The order is now alpha, gamma, beta.
        carol.press(&format!("{}{}{}", keys::ALT, keys::UP, keys::RELEASE)).await;
        carol.find("//h1[normalize-space(.)='gamma']").await;
        carol.press(&format!("{}{}{}", keys::ALT, keys::DOWN, keys::RELEASE)).await;
        carol.find("//h1[normalize-space(.)='beta']").await;
        // Esc closes a dialog and gives the focus back.
        carol.click_button("New room").await;
        carol.find(&dialog("New room")).await;
        carol.press(keys::ESCAPE).await;
        carol.gone(&dialog("New room")).await;
        let focused = carol.js("return document.activeElement.getAttribute('aria-label');", vec![]).await;
        assert_eq!(focused, json!("New room"), "focus returns to the button that opened the dialog");

        // Phone: one pane at a time, a back button, no sideways scrolling.
        carol.viewport(390, 844, true).await;
        carol.assert_no_horizontal_scroll("phone chat").await;
        carol.click("//a[@aria-label='Back to chats']").await;
        carol.visible("//nav[@aria-label='Chats']").await;
        carol.assert_no_horizontal_scroll("phone chat list").await;
        open_chat(carol, "gamma").await;
        carol.visible(&textbox("Message")).await;
        carol.assert_no_console_errors().await;

        // An expired token: back to sign-in, saying so.
        let secret = common::jwt_secret(server.data_dir());
        let now = common::unix_now();
        let me = chat::log_in(&server, "carol").await;
        let expired = common::sign_jwt(&secret, &json!({"sub": me.id.to_string(), "iat": now - 7200, "exp": now - 60}));
        carol
            .js(
                "const s = JSON.parse(localStorage.getItem('natter.session'));
                 s.token = arguments[0]; s.expiresAt = Date.now() + 3600e3;
                 localStorage.setItem('natter.session', JSON.stringify(s));",
                vec![Value::String(expired)],
            )
            .await;
        carol.reload().await;
        carol.find("//*[@role='alert'][contains(., 'session has expired')]").await;
        carol.find(&button("Log in")).await;
        let _ = carol.console_errors(|line| line.contains("401")).await;
        log_in(carol, "carol").await;
        carol.assert_no_console_errors().await;
    })
    .await;
}

/// Every screen (sign-in, sign-up, chat, members, each dialog; desktop and phone; light and
/// dark) passes axe-core's WCAG 2.2 AA rules, fits a 390 px phone without sideways scrolling,
/// logs no console error, and is photographed into target/screenshots/.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and npm's axe-core (installed by .ci/run)"]
async fn every_screen_is_accessible_and_photographed() {
    let server = common::spawn().await;

    // A lived-in server: five people, three rooms, private chats, a photo, a file, code.
    let maya = account(&server, "maya").await;
    let jonas = account(&server, "jonas").await;
    let priya = account(&server, "priya").await;
    let tomasz = account(&server, "tomasz.lewandowski").await;
    let sam = account(&server, "sam").await;
    // Faces drawn here (see drawn_face) and display names, for all but one person: the
    // screenshots show pictures, names with their usernames, and initials side by side.
    for (who, name, skin, hair, background) in [
        (&maya, "Maya Okafor", [141, 85, 36], [30, 20, 15], [250, 214, 165]),
        (&jonas, "Jonas", [241, 194, 160], [200, 150, 60], [190, 220, 200]),
        (&priya, "Priya Raman", [198, 134, 66], [20, 15, 10], [220, 200, 240]),
        (&tomasz, "Tomasz Lewandowski", [255, 219, 172], [120, 80, 40], [200, 225, 245]),
    ] {
        let face = upload_ok(&server, &who.token, drawn_face(400, skin, hair, background), "me.png").await;
        let change = json!({"display_name": name, "avatar_attachment_id": face["id"]});
        let (status, body) = server.patch("/auth/users/me", who.tok(), &change).await;
        assert_eq!(status, 200, "{body}");
    }
    let trip = room(&server, &maya, "weekend-trip", &[&jonas, &priya, &tomasz, &sam]).await;
    let books = room(&server, &priya, "book-club", &[&maya, &sam]).await;
    let chores = room(&server, &jonas, "house-chores", &[&maya]).await;
    post_message(&server, &jonas, chores, "Bins go out on Thursday this week.").await;
    post_message(&server, &priya, books, "Next pick: *The Left Hand of Darkness*").await;
    let with_sam = private_chat(&server, &maya, &sam).await;
    post_message(&server, &sam, with_sam, "Thanks for the recipe!").await;
    let forecast = post_message(&server, &jonas, trip, "Morning all! The forecast for Saturday looks great ☀️").await;
    let cabin_link = "Finally! I booked the cabin by the lake: https://example.com/cabins/lakeside-7";
    let cabin = post_message(&server, &priya, trip, cabin_link).await;
    for (who, emoji) in [(&maya, "👍"), (&priya, "👍"), (&sam, "👍"), (&tomasz, "☀️")] {
        react_ok(&server, who, id_of(&forecast), emoji, Method::PUT).await;
    }
    reply(&server, &sam, trip, id_of(&cabin), "Amazing, thank you @priya! Is there a sauna?").await;
    post_message(&server, &priya, trip, "Check-in is at *3 pm*, so we can leave after lunch. @maya can you drive?")
        .await;
    post_message(&server, &maya, trip, "Perfect. I'll bring the big cooler and the board games.").await;
    let photo = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/browser/lake.png")).unwrap();
    let photo = upload_ok(&server, &tomasz.token, photo, "lake.png").await;
    let seen = post_attachment(&server, &tomasz, trip, "The view from last year's trip 🏔️", &photo).await;
    mark_read(&server, &maya, trip, id_of(&seen)).await;
    post_message(&server, &sam, trip, "Packing list so far:\n```\n- sleeping bags\n- headlamps\n- coffee (lots)\n```")
        .await;
    let plan = upload_ok(&server, &jonas.token, b"08:30 leave\n10:00 coffee stop\n".to_vec(), "itinerary.txt").await;
    post_attachment(&server, &jonas, trip, "Route and stops are in here. Leaving at `08:30` sharp!", &plan).await;
    // A link longer than a phone's width, with nowhere to break: it must wrap, not scroll sideways.
    let long_link =
        "Directions: https://maps.example.org/dir/Leeds/Keswick/Lakeside+Cabin/@54.6013,-3.1347,11z/data=!4m2!4m1!3e0";
    post_message(&server, &priya, trip, long_link).await;
    let with_priya = private_chat(&server, &maya, &priya).await;
    post_message(&server, &maya, with_priya, "Can I borrow your headlamp?").await;
    let with_jonas = private_chat(&server, &jonas, &maya).await;
    post_message(&server, &jonas, with_jonas, "Are you bringing the tent?").await;
    post_message(&server, &priya, books, "Meeting at mine on the 14th?").await;
    // Jonas and Priya are online (a socket each), the others are not.
    let jonas_socket = connect(&server, &jonas).await;
    let _priya_socket = connect(&server, &priya).await;

    with_browsers(&server.base, ["maya"], async |[maya]| {
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            maya.color_scheme(dark).await;
            maya.find(&button("Log in")).await;
            maya.assert_accessible(&format!("sign-in ({scheme})")).await;
            maya.screenshot(&format!("desktop-{scheme}-signin")).await;
            maya.click_button("Create an account").await;
            maya.find(&button("Sign up")).await;
            maya.assert_accessible(&format!("sign-up ({scheme})")).await;
            // The server's field errors, next to their fields.
            maya.type_in("Username", "x").await;
            maya.type_in("Email", "not-an-email").await;
            maya.type_in("Password", "short").await;
            maya.click_button("Sign up").await;
            maya.find("//*[@role='alert']").await;
            maya.find("//input[@aria-invalid='true']").await;
            maya.assert_accessible(&format!("sign-up errors ({scheme})")).await;
            maya.screenshot(&format!("desktop-{scheme}-signup-errors")).await;
            let _ = maya.console_errors(|line| line.contains("422")).await;
            maya.click_button("Log in instead").await;
        }
        maya.color_scheme(false).await;
        log_in(maya, "maya").await;
        maya.find(&chat_link("weekend-trip")).await;
        maya.assert_accessible("welcome").await;
        maya.screenshot("desktop-light-welcome").await;

        open_chat(maya, "weekend-trip").await;
        maya.find(&format!("{LOG}//a[@download='itinerary.txt'][contains(., 'itinerary.txt')][contains(., '30 B')]"))
            .await;
        let photo = format!("{LOG}//img[@alt='lake.png']");
        maya.find(&photo).await;
        maya.until("the photo to load", "[...document.images].every((i) => i.complete && i.naturalWidth > 0)").await;
        maya.find(&format!("{}[contains(., ', online,')]", chat_link("Jonas"))).await;
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            maya.color_scheme(dark).await;
            jonas_socket.emit("typing", json!({"room_id": trip, "typing": true})).await.unwrap();
            maya.find("//*[contains(@class, 'typing')][contains(., 'jonas')][contains(., 'is typing')]").await;
            maya.assert_accessible(&format!("chat ({scheme})")).await;
            maya.screenshot(&format!("desktop-{scheme}-chat")).await;
            maya.click_button("Members").await;
            maya.find("//aside[@aria-label='Members']//li[contains(., 'tomasz.lewandowski')]").await;
            maya.assert_accessible(&format!("members ({scheme})")).await;
            maya.screenshot(&format!("desktop-{scheme}-members")).await;
            maya.click_button("Close members").await;
        }
        maya.color_scheme(false).await;

        // A message's actions, the edit box, a refused send, an upload waiting to be sent.
        let article = maya.find(&message("I'll bring the big cooler")).await;
        maya.js("arguments[0].scrollIntoView({ block: 'center' }); arguments[0].focus();", vec![json!(article)]).await;
        maya.press(keys::ENTER).await;
        maya.visible(&format!("{}{}", message("I'll bring the big cooler"), button("Edit message"))).await;
        maya.screenshot("desktop-light-message-actions").await;
        maya.click(&format!("{}{}", message("I'll bring the big cooler"), button("Edit message"))).await;
        maya.visible(&textbox("Edit message")).await;
        maya.assert_accessible("editing a message").await;
        maya.screenshot("desktop-light-editing").await;
        maya.press(keys::ESCAPE).await;
        maya.gone(&textbox("Edit message")).await;
        let doomed = id_of(&post_message(&server, &jonas, trip, "This one will be gone").await);
        maya.find(&message("This one will be gone")).await;
        refused_send(&server, maya, &jonas, (doomed, "This one will be gone"), "Answering a deleted message").await;
        let lake = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/browser/lake.png");
        let file = maya.find("//input[@type='file'][@aria-label='Attach file']").await;
        file.send_keys(lake.to_str().unwrap()).await.unwrap();
        maya.find("//ul[@aria-label='Attachments']//li[contains(., 'ready')]").await;
        maya.assert_accessible("failed send and upload").await;
        maya.screenshot("desktop-light-failed-and-upload").await;
        maya.click_button("Remove lake.png").await;
        maya.click(&format!("{LOG}//article[contains(., 'Not sent')]{}", button("Discard"))).await;
        maya.gone(&format!("{LOG}//article[contains(., 'Not sent')]")).await;

        // Each dialog.
        maya.click_button("New room").await;
        maya.type_in("Room name", "climbing").await;
        maya.type_in("Members", "pri").await;
        maya.find("//ul[@aria-label='Suggestions']//button[contains(., 'priya')]").await;
        maya.assert_accessible("new room dialog").await;
        maya.screenshot("desktop-light-new-room").await;
        maya.press(keys::ESCAPE).await;
        maya.press(keys::ESCAPE).await;
        maya.gone(&dialog("New room")).await;
        maya.click_button("New private chat").await;
        maya.type_in("Username", "t").await;
        maya.find("//ul[@aria-label='Suggestions']//button[contains(., 'tomasz')]").await;
        maya.assert_accessible("new private chat dialog").await;
        maya.click_button("Cancel").await;
        maya.press(&format!("{}k{}", keys::CONTROL, keys::RELEASE)).await;
        maya.find(&dialog("Jump to a chat")).await;
        maya.assert_accessible("chat switcher").await;
        maya.screenshot("desktop-light-switcher").await;
        maya.press(keys::ESCAPE).await;
        maya.click(&button("View image lake.png larger")).await;
        maya.find(&dialog("lake.png")).await;
        maya.assert_accessible("image viewer").await;
        maya.press(keys::ESCAPE).await;
        message_action(maya, "I'll bring the big cooler", "Delete message").await;
        maya.find(&dialog("Delete this message?")).await;
        maya.assert_accessible("delete confirmation").await;
        maya.click(&format!("{}{}", dialog("Delete this message?"), button("Cancel"))).await;

        // The phone: list and chat, light and dark, no sideways scrolling.
        maya.viewport(390, 844, true).await;
        maya.js("document.activeElement?.blur();", vec![]).await;
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            maya.color_scheme(dark).await;
            maya.goto("/#/").await;
            maya.visible("//nav[@aria-label='Chats']").await;
            maya.assert_no_horizontal_scroll("phone chat list").await;
            maya.assert_accessible(&format!("phone chat list ({scheme})")).await;
            maya.screenshot(&format!("phone-{scheme}-list")).await;
            open_chat(maya, "weekend-trip").await;
            maya.find(&photo).await;
            maya.until("the photo to load", "[...document.images].every((i) => i.complete && i.naturalWidth > 0)")
                .await;
            maya.assert_no_horizontal_scroll("phone chat").await;
            maya.assert_accessible(&format!("phone chat ({scheme})")).await;
            maya.screenshot(&format!("phone-{scheme}-chat")).await;
        }
        maya.click_button("Members").await;
        maya.visible("//aside[@aria-label='Members']").await;
        maya.assert_no_horizontal_scroll("phone members").await;
        maya.screenshot("phone-dark-members").await;
        maya.click_button("Close members").await;
        // The smallest phones, and a tablet with the members panel open.
        maya.color_scheme(false).await;
        maya.viewport(360, 640, true).await;
        maya.assert_no_horizontal_scroll("360 px chat").await;
        maya.screenshot("phone-light-chat-360").await;
        maya.viewport(820, 1180, true).await;
        maya.click_button("Members").await;
        maya.visible("//aside[@aria-label='Members']").await;
        maya.visible(&textbox("Message")).await;
        maya.assert_no_horizontal_scroll("tablet with members").await;
        maya.assert_accessible("tablet with members").await;
        maya.screenshot("tablet-light-members").await;
        maya.click_button("Close members").await;
        maya.viewport(390, 844, true).await;
        maya.click("//a[@aria-label='Back to chats']").await;
        maya.click_button("Log out").await;
        maya.find(&button("Log in")).await;
        maya.assert_no_horizontal_scroll("phone sign-in").await;
        maya.screenshot("phone-dark-signin").await;
        maya.assert_no_console_errors().await;
    })
    .await;
}

/// Issue 12 in the browser: reply (the quote jumps to the original), react (quick emoji, a
/// click toggles, who reacted), @mention autocomplete and highlight, search (Ctrl+F; a result
/// far back in the history opens there, "Jump to latest" comes back), "Seen by"; each screen
/// checked with axe-core and photographed on desktop and phone, light and dark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and npm's axe-core (installed by .ci/run)"]
async fn replies_reactions_mentions_search_and_receipts() {
    let server = common::spawn().await;
    let alice = account(&server, "alice").await;
    let bob = account(&server, "bob").await;
    let bernadette = account(&server, "bernadette").await;
    account(&server, "benedict").await;
    let trip = room(&server, &alice, "road-trip", &[&bob, &bernadette]).await;
    let old = id_of(&post_message(&server, &bob, trip, "The crème brûlée recipe is in the old notes").await);
    for n in 1..=200 {
        post_message(&server, if n % 2 == 0 { &alice } else { &bob }, trip, &format!("planning message {n:03}")).await;
    }
    let question = id_of(&post_message(&server, &bob, trip, "Who brings the map?").await);
    // Alice has read it all (otherwise opening the room would load back to her first unread
    // message, the whole room, and the search below would find its result already loaded).
    mark_read(&server, &alice, trip, question).await;
    // In the scenario, `alice` is her browser.
    let alice_account = &alice;

    with_browsers(&server.base, ["alice", "bob"], async |[alice, bob]| {
        log_in(alice, "alice").await;
        log_in(bob, "bob").await;
        open_chat(alice, "road-trip").await;
        open_chat(bob, "road-trip").await;

        // Reply: "Reply" on Bob's question, the bar above the composer, the quote on the answer.
        message_action(alice, "Who brings the map?", "Reply").await;
        alice.find("//*[contains(@class, 'reply-bar')][contains(., 'Replying to bob')]").await;
        let described = alice
            .js("return document.getElementById('composer-input').getAttribute('aria-describedby');", vec![])
            .await;
        assert_eq!(described, json!("reply-bar-text"), "the composer says what it answers");
        alice.assert_accessible("replying").await;
        alice.screenshot("desktop-light-replying").await;
        say(alice, "I do, it is in the glovebox").await;
        alice.gone("//*[contains(@class, 'reply-bar')]").await;
        let quote =
            format!("{}{}", message("I do, it is in the glovebox"), button("In reply to bob: Who brings the map?"));
        bob.find(&quote).await;
        let (_, page) = server.get(&format!("/chat/chat_rooms/{trip}/messages?limit=1"), alice_account.tok()).await;
        assert_eq!(page[0]["reply_to"]["id"], question, "stored as a reply: {page}");
        // Esc cancels a reply.
        message_action(bob, "planning message 200", "Reply").await;
        bob.find("//*[contains(@class, 'reply-bar')]").await;
        bob.type_in("Message", keys::ESCAPE).await;
        bob.gone("//*[contains(@class, 'reply-bar')]").await;

        // React: quick emoji from "Add reaction"; a click on a reaction toggles yours.
        message_action(bob, "I do, it is in the glovebox", "Add reaction").await;
        bob.find("//*[@role='group'][@aria-label='Quick reactions']").await;
        bob.assert_accessible("reaction picker").await;
        bob.screenshot("desktop-light-reaction-picker").await;
        bob.click_button("React with 🎉").await;
        let party = |count: u32| {
            format!("{}//button[starts-with(@aria-label, '🎉 {count}:')]", message("I do, it is in the glovebox"))
        };
        bob.find(&format!("{}[@aria-pressed='true'][contains(@title, 'you reacted')]", party(1))).await;
        alice.find(&format!("{}[@aria-pressed='false'][contains(@aria-label, 'bob reacted with 🎉')]", party(1))).await;
        alice.click(&party(1)).await;
        alice.find(&format!("{}[@aria-pressed='true']", party(2))).await;
        bob.find(&format!("{}[contains(@aria-label, 'alice and you')]", party(2))).await;
        alice.click(&party(2)).await;
        alice.find(&format!("{}[@aria-pressed='false']", party(1))).await;
        bob.find(&party(1)).await;
        // Keyboard only: Esc closes the picker and gives the focus back.
        message_action(alice, "Who brings the map?", "Add reaction").await;
        alice.find("//*[@role='group'][@aria-label='Quick reactions']").await;
        alice.press(keys::ESCAPE).await;
        alice.gone("//*[@role='group'][@aria-label='Quick reactions']").await;
        let focused = alice.js("return document.activeElement.getAttribute('aria-label');", vec![]).await;
        assert_eq!(focused, json!("Add reaction"));

        // Mentions: `@be` suggests the members whose name starts so; Enter inserts one.
        alice.click(&textbox("Message")).await;
        alice.type_in("Message", "thanks @be").await;
        let list = "//ul[@role='listbox'][@aria-label='People to mention']";
        alice.find(&format!("{list}//li[@role='option'][contains(., 'bernadette')]")).await;
        assert_eq!(alice.count(&format!("{list}//li[contains(., 'benedict')]")).await, 0, "benedict is not a member");
        assert_eq!(alice.count(&format!("{list}//li[contains(., 'bob')]")).await, 0);
        alice.assert_accessible("mention suggestions").await;
        alice.screenshot("desktop-light-mention-suggestions").await;
        alice.type_in("Message", keys::ENTER).await;
        alice.gone(list).await;
        let typed = alice.js("return document.getElementById('composer-input').value;", vec![]).await;
        assert_eq!(typed, json!("thanks @bernadette "));
        // A whole name typed (any case) needs no suggestion: Enter sends.
        say(alice, "and @BOB").await;
        let both = message("thanks @bernadette and @BOB");
        bob.find(&format!("{both}//span[contains(@class, 'mention-me')][.='@BOB']")).await;
        bob.find(&format!("{both}[contains(@class, 'mentions-me')]")).await;
        bob.find(&format!("{both}//span[contains(@class, 'mention')][.='@bernadette']")).await;
        bob.assert_accessible("mentioned").await;
        bob.screenshot("desktop-light-mentioned").await;

        // Seen by: Bob has the room open at the bottom, so he has read Alice's last message.
        alice.find("//p[contains(@class, 'seen-by')][normalize-space(.)='Seen by bob']").await;

        // Search: Ctrl+F, a word without its accent finds the old message; it opens in place.
        alice.press(&format!("{}f{}", keys::CONTROL, keys::RELEASE)).await;
        alice.find(&dialog("Search messages")).await;
        alice.type_in("Search messages", "creme brul").await;
        let result = format!(
            "{}//button[contains(@class, 'search-result')][contains(., 'recipe is in the old notes')]",
            dialog("Search messages")
        );
        alice.find(&result).await;
        alice.find(&format!("{result}//mark[.='crème']")).await;
        alice.find(&format!("{}//*[@role='status'][contains(., '1 message found')]", dialog("Search messages"))).await;
        alice.assert_accessible("search results").await;
        alice.screenshot("desktop-light-search").await;
        alice.click(&result).await;
        alice.gone(&dialog("Search messages")).await;
        let found = format!("{LOG}//article[@data-id='{old}']");
        alice.visible(&found).await;
        alice.until("the result to be focused", &format!("document.activeElement?.dataset?.id === '{old}'")).await;
        assert_eq!(
            alice.count(&message("Who brings the map?")).await,
            0,
            "a window around the result, not the newest page"
        );
        alice.assert_accessible("a search result in its chat").await;
        alice.screenshot("desktop-light-search-result-in-chat").await;
        // Scrolling down brings the newer pages; "Jump to latest" goes straight back.
        alice.click_button("Jump to latest").await;
        alice.find(&message("thanks @bernadette and @BOB")).await;
        alice.find(&delivered("I do, it is in the glovebox")).await;
        // Search finds nothing for punctuation, and says so; a phrase in quotes is a phrase.
        alice.press(&format!("{}f{}", keys::CONTROL, keys::RELEASE)).await;
        alice.type_in("Search messages", &format!("{}a{}\"old notes\"", keys::CONTROL, keys::RELEASE)).await;
        alice.find(&result).await;
        alice.type_in("Search messages", &format!("{}a{}\"notes old\"", keys::CONTROL, keys::RELEASE)).await;
        alice
            .find(&format!("{}//*[@role='status'][contains(., 'No messages match')]", dialog("Search messages")))
            .await;
        alice.press(keys::ESCAPE).await;
        alice.gone(&dialog("Search messages")).await;

        // The quote of an older message, not loaded: the history around it is.
        let old_reply = id_of(&reply(&server, alice_account, trip, old, "found the recipe!").await);
        alice.find(&message("found the recipe!")).await;
        alice
            .click(&format!(
                "{}{}",
                message("found the recipe!"),
                button("In reply to bob: The crème brûlée recipe is in the old notes")
            ))
            .await;
        alice.until("the original to be focused", &format!("document.activeElement?.dataset?.id === '{old}'")).await;
        alice.click_button("Jump to latest").await;
        alice.find(&format!("{LOG}//article[@data-id='{old_reply}']")).await;

        // Dark, phone and the smallest phone.
        for (width, height, dark) in [(1280, 800, true), (390, 844, true), (360, 640, false)] {
            let scheme = if dark { "dark" } else { "light" };
            let device = if width > 760 { "desktop".to_string() } else { format!("phone-{width}") };
            alice.color_scheme(dark).await;
            alice.viewport(width, height, width <= 760).await;
            alice.find(&format!("{LOG}//article[@data-id='{old_reply}']")).await;
            alice.assert_no_horizontal_scroll(&format!("{device} conversation")).await;
            alice.assert_accessible(&format!("{device} conversation ({scheme})")).await;
            alice.screenshot(&format!("{device}-{scheme}-conversation")).await;
            message_action(alice, "found the recipe!", "Add reaction").await;
            alice.find("//*[@role='group'][@aria-label='Quick reactions']").await;
            alice.assert_no_horizontal_scroll(&format!("{device} reaction picker")).await;
            alice.screenshot(&format!("{device}-{scheme}-reaction-picker")).await;
            alice.press(keys::ESCAPE).await;
            alice.type_in("Message", "@b").await;
            alice.find(list).await;
            alice.assert_no_horizontal_scroll(&format!("{device} mention suggestions")).await;
            alice.assert_accessible(&format!("{device} mention suggestions ({scheme})")).await;
            alice.screenshot(&format!("{device}-{scheme}-mentions")).await;
            alice.type_in("Message", &format!("{}a{}{}", keys::CONTROL, keys::RELEASE, keys::BACKSPACE)).await;
            alice.click_button("Search messages").await;
            alice.type_in("Search messages", &format!("{}a{}recipe", keys::CONTROL, keys::RELEASE)).await;
            alice.find(&result).await;
            alice.assert_no_horizontal_scroll(&format!("{device} search")).await;
            alice.assert_accessible(&format!("{device} search ({scheme})")).await;
            alice.screenshot(&format!("{device}-{scheme}-search")).await;
            alice.press(keys::ESCAPE).await;
            alice.gone(&dialog("Search messages")).await;
        }
        alice.assert_no_console_errors().await;
        bob.assert_no_console_errors().await;
    })
    .await;
}

/// The service worker (localhost is a secure context, so Chromium runs it): it caches the app
/// shell and nothing else, under the UI's version, and the shell opens while the server is down.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn the_app_shell_opens_while_the_server_is_down() {
    let server = common::spawn().await;
    let base = server.base.clone();
    with_browsers(&base, ["dana"], async move |[dana]| {
        sign_up(dana, "dana").await;
        dana.until("the service worker to control the page", "navigator.serviceWorker.controller").await;
        let cached = dana
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 (async () => {
                   const names = await caches.keys();
                   const urls = [];
                   for (const name of names) for (const r of await (await caches.open(name)).keys()) urls.push(new URL(r.url).pathname);
                   return { names, urls };
                 })().then(done, (e) => done({ error: String(e) }));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(cached["names"], json!([format!("natter-ui-{}", natter::transport::web::ui_version())]), "{cached}");
        let urls: Vec<&str> = cached["urls"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(urls.contains(&"/") && urls.contains(&"/js/main.js") && urls.contains(&"/vendor/preact.mjs"), "{urls:?}");
        for url in &urls {
            for api in ["/chat", "/auth", "/media", "/socket.io", "/admin"] {
                assert!(!url.starts_with(api), "the service worker cached {url}");
            }
        }
        // A stale page planted in the cache is not served while the server answers.
        let planted = dana
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 caches.keys().then((names) => caches.open(names[0]))
                   .then((c) => c.put(new URL('./', location.href), new Response('<p>STALE</p>', { headers: { 'content-type': 'text/html' } })))
                   .then(() => done(true), (e) => done(String(e)));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(planted, json!(true));
        dana.reload().await;
        dana.find("//nav[@aria-label='Chats']").await;
        assert_eq!(dana.count("//p[.='STALE']").await, 0, "the network's page wins over the cache");
        dana.assert_no_console_errors().await;
        // The server goes away; a reload still opens natter, which says it is reconnecting.
        server.stop().await;
        reload_while_the_server_is_down(dana).await;
    })
    .await;
}

/// Put `files` (name, base64 bytes, type) on the composer as a paste (`paste`) or a drop.
const SYNTHETIC_TRANSFER: &str = "
    const [how, name, b64, type] = arguments;
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const transfer = new DataTransfer();
    transfer.items.add(new File([bytes], name, { type }));
    if (how === 'paste') {
      document.getElementById('composer-input').dispatchEvent(new ClipboardEvent('paste', { clipboardData: transfer, bubbles: true, cancelable: true }));
    } else {
      const target = document.querySelector('main');
      for (const kind of ['dragenter', 'dragover', 'drop'])
        target.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }";

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..4 {
            out.push(if i <= chunk.len() { ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// History paging, members (add, remove, leave) seen live by the removed person, a send the
/// server refuses (sent again without its quote), paste and drop, audio and video, the unread count in the
/// title of a hidden tab.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn history_members_failures_and_attachments() {
    let server = common::spawn().await;
    let erin = account(&server, "erin").await;
    let frank = account(&server, "frank").await;
    let grace = account(&server, "grace").await;
    let archive = room(&server, &erin, "archive", &[&frank]).await;
    for n in 1..=130 {
        post_message(&server, &frank, archive, &format!("archived message {n:03}")).await;
    }
    mark_read(&server, &erin, archive, 1_000_000).await;
    let png = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/static/icons/icon-192.png")).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let mp3 = scratch.path().join("birdsong.mp3");
    std::fs::write(&mp3, [b"ID3\x03\x00\x00\x00\x00\x00\x00".as_slice(), &[0u8; 64]].concat()).unwrap();
    let mut webm = b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\xf7\x81\x01\x42\x82\x84webm".to_vec();
    webm.resize(400, 0);
    let webm_path = scratch.path().join("clip.webm");
    std::fs::write(&webm_path, webm).unwrap();

    // In the scenario, `frank` is his browser.
    let frank_account = &frank;
    with_browsers(&server.base, ["erin", "frank"], async |[erin, frank]| {
        log_in(erin, "erin").await;
        log_in(frank, "frank").await;

        // Paging back: the newest 50 first, older pages as the reader scrolls up.
        open_chat(erin, "archive").await;
        erin.find(&message("archived message 130")).await;
        assert_eq!(erin.count(&message("archived message 001")).await, 0);
        let to_top =
            format!("document.evaluate({}, document, null, 9, null).singleNodeValue.scrollTop = 0;", json!(LOG));
        erin.js(&to_top, vec![]).await;
        erin.find(&message("archived message 080")).await;
        erin.until(
            "the older page to keep the reader's place",
            &format!("document.evaluate({}, document, null, 9, null).singleNodeValue.scrollTop > 200", json!(LOG)),
        )
        .await;
        erin.js(&to_top, vec![]).await;
        erin.find(&message("archived message 030")).await;
        erin.js(&to_top, vec![]).await;
        erin.find(&message("archived message 001")).await;
        erin.find("//h2[normalize-space(.)='Welcome to #archive']").await;
        erin.find(&format!("{LOG}[@aria-busy='false']")).await;
        assert_eq!(erin.count(&message("archived message 077")).await, 1, "no message twice");
        // Far from the bottom, "Jump to latest" takes the reader back.
        erin.click_button("Jump to latest").await;
        erin.gone(&button("Jump to latest")).await;
        erin.until(
            "the log to be at the bottom",
            &format!(
                "(() => {{ const l = document.evaluate({}, document, null, 9, null).singleNodeValue;
                        return l.scrollHeight - l.scrollTop - l.clientHeight < 48; }})()",
                json!(LOG)
            ),
        )
        .await;

        // Notifications: asked for on a click; shown for a message while the tab is hidden.
        erin.cdp("Browser.grantPermissions", json!({ "permissions": ["notifications"], "origin": erin.base })).await;
        erin.js(
            "window.__shown = [];
             const Real = window.Notification;
             window.Notification = class extends Real {
               constructor(title, options) { super(title, options); window.__shown.push(title + ': ' + options.body); }
             };",
            vec![],
        )
        .await;
        erin.click_button("Enable notifications").await;
        erin.gone(&button("Enable notifications")).await;

        // A hidden tab counts unread messages in its title.
        erin.js(
            "Object.defineProperty(document, 'visibilityState', { value: 'hidden', configurable: true });
             Object.defineProperty(document, 'hidden', { value: true, configurable: true });
             document.dispatchEvent(new Event('visibilitychange'));",
            vec![],
        )
        .await;
        open_chat(frank, "archive").await;
        say(frank, "anyone there?").await;
        erin.until("the title to count the unread message", "document.title.startsWith('(1) ')").await;
        erin.until("a notification", "window.__shown.includes('frank in archive: anyone there?')").await;
        erin.js(
            "delete document.visibilityState; delete document.hidden;
             document.dispatchEvent(new Event('visibilitychange'));",
            vec![],
        )
        .await;
        erin.until("the title to drop the count", "document.title === 'archive · natter'").await;

        // A reply the server refuses (its original was deleted): "Not sent", and Retry, which
        // would fail again, becomes "Send without the quote".
        say(frank, "soon to be deleted").await;
        let doomed = stored_id(&server, frank_account, archive, "soon to be deleted").await;
        erin.find(&message("soon to be deleted")).await;
        refused_send(&server, erin, frank_account, (doomed, "soon to be deleted"), "an answer to nothing").await;
        let refused = format!("{LOG}//article[contains(., 'Not sent')]");
        erin.find(&format!("{refused}{}", button("Discard"))).await;
        erin.gone(&format!("{refused}{}", button("Retry"))).await;
        erin.click(&format!("{refused}{}", button("Send without the quote"))).await;
        erin.gone(&refused).await;
        frank.find(&message("an answer to nothing")).await;
        assert_eq!(stored(&server, frank_account, archive, "an answer to nothing").await, 1);

        // Paste and drop attach files; audio and video get players.
        erin.js(SYNTHETIC_TRANSFER, vec![json!("paste"), json!("pasted.png"), json!(base64(&png)), json!("image/png")])
            .await;
        erin.find("//ul[@aria-label='Attachments']//li[contains(., 'pasted.png')][contains(., 'ready')]").await;
        say(erin, "pasted").await;
        frank.find(&format!("{}//img[@alt='pasted.png']", message("pasted"))).await;
        erin.js(SYNTHETIC_TRANSFER, vec![json!("drop"), json!("dropped.png"), json!(base64(&png)), json!("image/png")])
            .await;
        erin.find("//ul[@aria-label='Attachments']//li[contains(., 'dropped.png')][contains(., 'ready')]").await;
        say(erin, "dropped").await;
        frank.find(&format!("{}//img[@alt='dropped.png']", message("dropped"))).await;
        let file = erin.find("//input[@type='file'][@aria-label='Attach file']").await;
        file.send_keys(&format!("{}\n{}", mp3.display(), webm_path.display())).await.unwrap();
        erin.find("//ul[@aria-label='Attachments']//li[contains(., 'birdsong.mp3')][contains(., 'ready')]").await;
        erin.find("//ul[@aria-label='Attachments']//li[contains(., 'clip.webm')][contains(., 'ready')]").await;
        say(erin, "listen and watch").await;
        frank.find(&format!("{LOG}//article//audio[@controls][@aria-label='birdsong.mp3']")).await;
        frank.find(&format!("{LOG}//article//video[@controls][@aria-label='clip.webm']")).await;

        // Members: the owner adds Grace, removes Frank (who sees the room go, live), and leaves.
        erin.click_button("Members").await;
        erin.find("//aside[@aria-label='Members']").await;
        erin.type_in("Add member", "grace").await;
        erin.click(&format!("//aside[@aria-label='Members']{}", button("Add"))).await;
        erin.find("//aside[@aria-label='Members']//li[contains(., 'grace')]").await;
        erin.click_button("Remove frank").await;
        erin.click(&format!("{}{}", dialog("Remove frank?"), button("Remove"))).await;
        erin.gone("//aside[@aria-label='Members']//li[contains(., 'frank')]").await;
        frank.gone(&chat_link("archive")).await;
        frank.find("//*[@role='status'][contains(., 'no longer a member of archive')]").await;
        frank.find("//h1[normalize-space(.)='Hello, frank']").await;
        erin.click_button("Leave room").await;
        erin.click(&format!("{}{}", dialog("Leave archive?"), button("Leave room"))).await;
        erin.gone(&chat_link("archive")).await;
        let (status, room) = server.get(&format!("/chat/chat_rooms/{archive}"), grace.tok()).await;
        assert_eq!(status, 200, "{room}");
        assert_eq!(room["owner_id"], room["members"][0]["id"], "grace owns the room now");

        erin.assert_no_console_errors().await;
        frank.assert_no_console_errors().await;
    })
    .await;
}

/// The API reference at `/docs`: Swagger UI, vendored, renders natter's generated document with
/// nothing from the network and nothing refused by the page's Content-Security-Policy (either
/// would show in the console), at `/docs` and `/docs/`, light and dark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn the_api_reference_renders_the_generated_document() {
    let server = common::spawn().await;
    with_browsers(&server.base, ["reader"], async |[reader]| {
        for path in ["/docs", "/docs/"] {
            reader.goto(path).await;
            reader.find("//h1[contains(normalize-space(.), 'natter')]").await;
            reader.find("//*[@data-path='/chat/search']").await;
            reader.find("//*[@data-path='/admin/users/{id}']").await;
            let operations = reader.count("//*[contains(@class, 'opblock-summary-path')]").await;
            assert!(operations >= 29, "{path}: only {operations} operations shown");
            reader.find(&button("Authorize")).await;
            reader.assert_no_console_errors().await;
        }
        for dark in [false, true] {
            reader.color_scheme(dark).await;
            reader.reload().await;
            reader.find("//*[@data-path='/chat/search']").await;
            reader.screenshot(if dark { "docs-dark" } else { "docs-light" }).await;
        }
        reader.assert_no_console_errors().await;
    })
    .await;
}

/// The administration panel: only an administrator gets the button; it lists the users with
/// "Disable"/"Enable" and the invites with "Create invite" (showing the link) and "Revoke";
/// it works from the keyboard, passes axe-core, and fits a phone, light and dark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn administrators_manage_users_and_invites() {
    let server = common::spawn().await;
    with_browsers(&server.base, ["root", "bob"], async |[root, bob]| {
        sign_up(root, "root").await;
        sign_up(bob, "bob").await;
        bob.find(&button("Log out")).await;
        assert_eq!(bob.count(&button("Administration")).await, 0, "bob is no administrator");
        let bob_token = bob.js("return JSON.parse(localStorage.getItem('natter.session')).token;", vec![]).await;

        // From the keyboard: focus the button, Enter opens the panel.
        let admin_button = root.find(&button("Administration")).await;
        root.js("arguments[0].focus();", vec![json!(admin_button)]).await;
        root.press(keys::ENTER).await;
        let panel = dialog("Administration");
        root.find(&panel).await;
        let bob_row = format!("{panel}//li[.//*[normalize-space(text())='bob']]");
        root.find(&format!("{bob_row}{}", button("Disable bob"))).await;
        assert_eq!(
            root.count(&format!("{panel}//li[contains(., '(you)')]//button")).await,
            0,
            "no button for yourself"
        );
        root.assert_accessible("administration").await;

        // Disable (after a question): bob's token stops working at once; Enable gives his
        // account back.
        root.click(&format!("{bob_row}{}", button("Disable bob"))).await;
        let asked = format!("{bob_row}//*[@role='group'][contains(@aria-label, 'Disable bob?')]");
        root.find(&asked).await;
        root.assert_accessible("administration, confirming a disable").await;
        root.click(&format!("{asked}{}", button("Disable bob"))).await;
        root.find(&format!("{bob_row}[contains(., 'disabled')]{}", button("Enable bob"))).await;
        let (status, _) = server.get("/auth/users/me", bob_token.as_str()).await;
        assert_eq!(status, 401, "a disabled account's token is refused");
        // Bob's socket was closed: his browser is back at the sign-in form, told why; the right
        // password is refused saying the account is disabled, not that it is wrong.
        bob.find(&button("Log in")).await;
        bob.find("//*[@role='alert'][contains(., 'disabled by an administrator')]").await;
        bob.type_in("Password", common::PASSWORD).await;
        bob.click_button("Log in").await;
        bob.find("//*[@role='alert'][contains(., 'This account is disabled')]").await;
        root.click(&format!("{bob_row}{}", button("Enable bob"))).await;
        root.find(&format!("{bob_row}[not(contains(., 'disabled'))]{}", button("Disable bob"))).await;

        // Create an invite: its link is shown, ready to copy, and listed with "Revoke".
        root.click_button("Create invite").await;
        let link = root.visible(&harness::textbox("Invite link")).await;
        let url = link.prop("value").await.unwrap().unwrap_or_default();
        let code = url
            .strip_prefix(&format!("{}/#invite=", server.base))
            .unwrap_or_else(|| panic!("the invite link {url:?} is not {}/#invite=CODE", server.base))
            .to_string();
        root.find(&format!(
            "{panel}//li[.//code[starts-with(., '{}')]]//button[normalize-space(.)='Revoke']",
            &code[..8]
        ))
        .await;
        root.assert_accessible("administration with a new invite").await;
        for dark in [false, true] {
            root.color_scheme(dark).await;
            root.screenshot(if dark { "desktop-dark-admin" } else { "desktop-light-admin" }).await;
        }
        root.color_scheme(false).await;
        root.viewport(390, 844, true).await;
        root.assert_no_horizontal_scroll("phone administration").await;
        for dark in [false, true] {
            root.color_scheme(dark).await;
            root.assert_accessible(&format!("phone administration ({})", if dark { "dark" } else { "light" })).await;
            root.screenshot(if dark { "phone-dark-admin" } else { "phone-light-admin" }).await;
        }
        root.color_scheme(false).await;
        root.viewport(1280, 800, false).await;

        // Revoke it (after a question): gone from the list, and the code signs nobody up.
        let row = format!("{panel}//li[.//code[starts-with(., '{}')]]", &code[..8]);
        root.click(&format!("{row}//button[normalize-space(.)='Revoke']")).await;
        root.click(&format!("{row}//*[@role='group']//button[normalize-space(.)='Revoke']")).await;
        root.find(&format!("{panel}//p[normalize-space(.)='No usable invites.']")).await;
        root.gone(&harness::textbox("Invite link")).await;
        root.press(keys::ESCAPE).await;
        root.gone(&panel).await;
        root.assert_no_console_errors().await;
    })
    .await;
}

/// The QR code drawn in the page at `xpath` (an `<svg data-modules=N>` whose path draws one
/// `M{x} {y}h1v1h-1z` square per dark module, after a 4-module margin), decoded.
async fn decode_qr(person: &Person, xpath: &str) -> String {
    let svg = person.find(xpath).await;
    let modules: usize = svg.attr("data-modules").await.unwrap().unwrap_or_default().parse().expect("data-modules");
    let d = person.js("return arguments[0].querySelector('path').getAttribute('d');", vec![json!(svg)]).await;
    let mut dark = std::collections::HashSet::new();
    for square in d.as_str().expect("a path").split('M').filter(|s| !s.is_empty()) {
        let corner = square.trim_end_matches("h1v1h-1z");
        let (x, y) = corner.split_once(' ').expect("M{x} {y}");
        dark.insert((x.parse::<usize>().unwrap() - 4, y.parse::<usize>().unwrap() - 4));
    }
    let grid = rqrr::Grid::new(rqrr::SimpleGrid::from_func(modules, |x, y| dark.contains(&(x, y))));
    grid.decode().expect("the QR code decodes").1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and npm's axe-core (installed by .ci/run)"]
async fn first_run_opens_on_sign_up_and_invites_come_with_a_qr_code() {
    // No first room: the administrator's empty state is what this test looks at.
    let server = common::spawn_without_first_room().await;
    with_browsers(&server.base, ["ada"], async |[ada]| {
        // No account yet: the page opens on sign-up and says who becomes the administrator.
        ada.find("//h1[normalize-space(.)='Create an account']").await;
        ada.find("//p[contains(., 'the first account becomes the administrator')]").await;
        for (phone, dark) in [(false, false), (false, true), (true, false), (true, true)] {
            let size = if phone { "phone" } else { "desktop" };
            let scheme = if dark { "dark" } else { "light" };
            if phone {
                ada.viewport(390, 844, true).await;
            }
            ada.color_scheme(dark).await;
            ada.assert_accessible(&format!("first-run sign-up ({size}, {scheme})")).await;
            ada.screenshot(&format!("{size}-{scheme}-first-run")).await;
        }
        ada.color_scheme(false).await;
        ada.viewport(1280, 800, false).await;
        ada.type_in("Username", "ada").await;
        ada.type_in("Email", "ada@example.com").await;
        ada.type_in("Password", common::PASSWORD).await;
        ada.click_button("Sign up").await;

        // The empty state instead of a blank page: create a room, invite people.
        let welcome = "//main[contains(@class, 'welcome')]";
        ada.visible(&format!("{welcome}//button[normalize-space(.)='Create a room']")).await;
        ada.visible(&format!("{welcome}//button[normalize-space(.)='Invite people']")).await;
        ada.find(&button("Administration")).await;
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            ada.color_scheme(dark).await;
            ada.assert_accessible(&format!("empty state ({scheme})")).await;
            ada.screenshot(&format!("desktop-{scheme}-empty")).await;
        }
        // On a phone, the chat list has the same first steps.
        ada.viewport(390, 844, true).await;
        ada.visible("//nav[@aria-label='Chats']//button[normalize-space(.)='Invite people']").await;
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            ada.color_scheme(dark).await;
            ada.assert_accessible(&format!("phone empty state ({scheme})")).await;
            ada.screenshot(&format!("phone-{scheme}-empty")).await;
        }
        ada.color_scheme(false).await;

        // "Invite people" on a server opened at a loopback address that is bound to loopback: no
        // phone can open that, so no QR code of it; the dialog says how to let people in.
        ada.click("//nav[@aria-label='Chats']//button[normalize-space(.)='Invite people']").await;
        let invite_dialog = dialog("Invite people");
        ada.find(&invite_dialog).await;
        ada.find(&format!(
            "{invite_dialog}//p[contains(., 'Only this computer can open natter now')][contains(., '--bind 0.0.0.0')]"
        ))
        .await;
        assert_eq!(
            ada.count(&format!("{invite_dialog}//*[name()='svg'][@role='img']")).await,
            0,
            "no QR of a loopback address"
        );
        ada.assert_no_horizontal_scroll("phone invite people").await;
        ada.assert_accessible("phone invite people").await;
        ada.screenshot("phone-light-invite-people").await;
        ada.press(keys::ESCAPE).await;
        ada.gone(&invite_dialog).await;
        ada.viewport(1280, 800, false).await;

        // Administration, Create invite: the link, Copy link, and its QR code.
        ada.click_button("Administration").await;
        let panel = dialog("Administration");
        ada.find(&panel).await;
        ada.click_button("Create invite").await;
        let link = ada.visible(&harness::textbox("Invite link")).await;
        let url = link.prop("value").await.unwrap().unwrap_or_default();
        assert!(url.starts_with(&format!("{}/#invite=", server.base)), "{url}");
        let qr = format!(
            "{panel}//*[name()='svg'][@role='img'][@aria-label={}]",
            harness::lit(&format!("QR code of {url}"))
        );
        assert_eq!(decode_qr(ada, &qr).await, url, "the QR code is the invite link");
        ada.click(&format!("{panel}{}", button("Copy link"))).await;
        ada.find("//p[@id='invite-link-hint'][normalize-space(.)='Copied.' or contains(., 'Ctrl+C')]").await;
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            ada.color_scheme(dark).await;
            ada.assert_accessible(&format!("invite with its QR code ({scheme})")).await;
            ada.screenshot(&format!("desktop-{scheme}-invite-qr")).await;
        }
        ada.viewport(390, 844, true).await;
        ada.assert_no_horizontal_scroll("phone invite QR").await;
        for dark in [false, true] {
            let scheme = if dark { "dark" } else { "light" };
            ada.color_scheme(dark).await;
            ada.assert_accessible(&format!("phone invite with its QR code ({scheme})")).await;
            ada.screenshot(&format!("phone-{scheme}-invite-qr")).await;
        }
        ada.assert_no_console_errors().await;
    })
    .await;
}

/// The computed text direction of the element at `xpath`.
async fn direction(person: &Person, xpath: &str) -> String {
    let element = person.find(xpath).await;
    let dir = person.js("return getComputedStyle(arguments[0]).direction;", vec![json!(element)]).await;
    dir.as_str().unwrap_or_default().to_string()
}

/// A newcomer's first minutes: sign up and land in `general` (whose owner sees them arrive),
/// the owner's "Room settings" (a topic everyone sees under the room's name), "Browse rooms" →
/// "Join" an open room, and text in Arabic and Hebrew laid out right to left. Ends with the
/// screenshots of a joined community (desktop light, phone dark) for the README.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and npm's axe-core (installed by .ci/run)"]
async fn newcomers_land_in_general_find_open_rooms_and_read_right_to_left() {
    let server = common::spawn().await;
    with_browsers(&server.base, ["ada", "omar"], async |[ada, omar]| {
        sign_up(ada, "ada").await;
        ada.find("//h1[normalize-space(.)='general']").await;
        ada.find(&format!("{LOG}//p[contains(., 'Nobody else is here yet')]")).await;
        sign_up(omar, "omar").await;
        omar.find("//h1[normalize-space(.)='general']").await;
        omar.find(&format!("{LOG}//p[contains(., 'You are here with 1 other person')]")).await;
        // The owner hears that someone arrived: a quiet line in the room.
        ada.find(&format!("{LOG}//p[contains(@class, 'joined')][contains(., 'omar joined')]")).await;

        // Room settings: only for the owner (or an administrator); the topic reaches everyone.
        assert_eq!(omar.count(&button("Room settings")).await, 0, "omar does not own general");
        ada.click_button("Room settings").await;
        let settings = dialog("Room settings");
        ada.find(&settings).await;
        ada.type_in("Topic", "Everyone on this server").await;
        let open = ada.find(&format!("{settings}//label[contains(., 'Open to everyone on this server')]/input")).await;
        assert_eq!(open.prop("checked").await.unwrap().as_deref(), Some("true"), "general is open");
        ada.assert_accessible("room settings").await;
        ada.screenshot("desktop-light-room-settings").await;
        ada.click(&format!("{settings}{}", button("Save"))).await;
        ada.gone(&settings).await;
        omar.find("//p[contains(@class, 'chat-topic')][normalize-space(.)='Everyone on this server']").await;

        // An open room made elsewhere: found in "Browse rooms", joined, opened at once.
        let ada_account = chat::log_in(&server, "ada").await;
        let body = json!({"name": "Football", "visibility": "open", "topic": "Saturdays at ten"});
        let (status, room) = server.post("/chat/chat_rooms/", ada_account.tok(), &body).await;
        assert_eq!(status, 201, "{room}");
        chat::room(&server, &ada_account, "Ada's secrets", &[]).await;
        omar.click_button("Browse rooms").await;
        let rooms = dialog("Rooms");
        omar.find(&rooms).await;
        omar.find(&format!("{rooms}//li[contains(., 'general')]{}", button("Open"))).await;
        assert_eq!(
            omar.count(&format!("{rooms}//li[contains(., 'secrets')]")).await,
            0,
            "private rooms are not listed"
        );
        omar.type_in("Find a room", "FOOT").await;
        let football =
            format!("{rooms}//li[contains(., 'Football')][contains(., 'Saturdays at ten')][contains(., '1 member')]");
        omar.find(&football).await;
        omar.gone(&format!("{rooms}//li[contains(., 'general')]")).await;
        omar.assert_accessible("browse rooms").await;
        omar.screenshot("desktop-light-browse-rooms").await;
        omar.click(&format!("{football}{}", button("Join"))).await;
        omar.gone(&rooms).await;
        omar.find("//h1[normalize-space(.)='Football']").await;
        omar.find("//p[contains(@class, 'chat-topic')][normalize-space(.)='Saturdays at ten']").await;
        omar.click_button("Browse rooms").await;
        omar.find(&format!("{rooms}//li[contains(., 'Football')][contains(., '2 members')]{}", button("Open"))).await;
        omar.press(keys::ESCAPE).await;
        omar.gone(&rooms).await;

        // Right-to-left text: messages, the composer, previews.
        open_chat(omar, "general").await;
        say(omar, "مرحبا بالجميع").await;
        say(omar, "Hello everyone").await;
        ada.find(&message("Hello everyone")).await;
        assert_eq!(direction(ada, &format!("{}//div[contains(@class, 'msg-text')]", message("مرحبا"))).await, "rtl");
        assert_eq!(direction(ada, &format!("{}//div[contains(@class, 'msg-text')]", message("Hello"))).await, "ltr");
        ada.type_in("Message", "שלום לכולם").await;
        assert_eq!(direction(ada, &textbox("Message")).await, "rtl", "the composer follows what is typed");
        ada.press(keys::ENTER).await;
        ada.find(&delivered("שלום לכולם")).await;
        assert_eq!(direction(omar, &format!("{}//div[contains(@class, 'msg-text')]", message("שלום"))).await, "rtl");
        // A right-to-left preview stays inside its own isolate in the chat list.
        let preview =
            omar.text(&format!("{}//span[contains(@class, 'chat-link-preview')]", chat_link("general"))).await;
        assert_eq!(preview, "\u{2068}ada\u{2069}: \u{2068}שלום לכולם\u{2069}", "name and text each isolated");

        // A joined community, for the README: a few more people and messages in general.
        let general = room_id_from(ada.client.current_url().await.unwrap().as_str());
        for (name, text) in [
            ("lena", "Morning all! Who is bringing the projector on Saturday?"),
            ("tomas", "I can. Also: the Wi-Fi password changed, it's on the fridge."),
            ("yuki", "Thanks Tomas 🙌 I'll bring snacks."),
        ] {
            post_message(&server, &account(&server, name).await, general, text).await;
        }
        ada.find(&message("bring snacks")).await;
        ada.screenshot("community-desktop-light").await;
        omar.viewport(390, 844, true).await;
        omar.color_scheme(true).await;
        omar.find(&message("bring snacks")).await;
        omar.assert_no_horizontal_scroll("phone general").await;
        omar.assert_accessible("phone general (dark)").await;
        omar.screenshot("community-phone-dark").await;
        ada.assert_no_console_errors().await;
    })
    .await;
}

/// The composer counts down past 3,500 characters and keeps a message over 4,000 instead of
/// losing it; "New messages" sits above the first unread message after 60 new ones (the
/// history loads back that far) and not above messages read live; the log is one Tab stop with
/// the arrow keys between messages and Enter into a message's actions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn composer_limit_new_messages_line_and_the_log_as_one_tab_stop() {
    let server = common::spawn_without_first_room().await;
    with_browsers(&server.base, ["ada"], async |[ada]| {
        sign_up(ada, "ada").await;
        let ada_account = chat::log_in(&server, "ada").await;
        let bob = account(&server, "bob").await;
        let club = chat::room(&server, &ada_account, "club", &[&bob]).await;
        chat::room(&server, &ada_account, "other", &[]).await;
        post_message(&server, &bob, club, "the last one ada read").await;
        open_chat(ada, "club").await;
        ada.find(&message("the last one ada read")).await;

        // The composer's limit: counted down from 3,500; over 4,000 it refuses and keeps the text.
        let fill = "const el = document.getElementById('composer-input'); el.focus();
                    el.value = 'x'.repeat(arguments[0]); el.dispatchEvent(new Event('input', { bubbles: true }));";
        ada.js(fill, vec![json!(3600)]).await;
        ada.find("//p[@id='composer-count'][contains(., '400 characters left')]").await;
        ada.js(fill, vec![json!(4010)]).await;
        ada.find("//p[@id='composer-count'][contains(., '10 characters too many')]").await;
        ada.press(keys::ENTER).await;
        let send = ada.find(&button("Send")).await;
        assert_eq!(send.prop("disabled").await.unwrap().as_deref(), Some("true"));
        let kept = ada.js("return document.getElementById('composer-input').value.length;", vec![]).await;
        assert_eq!(kept, json!(4010), "the text stays in the composer");
        ada.js(fill, vec![json!(4000)]).await;
        ada.gone("//p[@id='composer-count'][contains(., 'too many')]").await;
        ada.press(keys::ENTER).await;
        ada.until("the 4,000-character message to be sent", "document.getElementById('composer-input').value === ''").await;
        let (_, page) = server.get(&format!("/chat/chat_rooms/{club}/messages"), ada_account.tok()).await;
        let long = page.as_array().unwrap().iter().filter(|m| m["content"].as_str().is_some_and(|c| c.len() == 4000)).count();
        assert_eq!(long, 1, "exactly the message of 4,000 characters was sent");

        // 60 new messages while ada is elsewhere: the line sits right above the first of them.
        open_chat(ada, "other").await;
        for n in 1..=60 {
            post_message(&server, &bob, club, &format!("news {n:02}")).await;
        }
        ada.find(&format!("{}[contains(., '60')]", chat_link("club"))).await;
        open_chat(ada, "club").await;
        ada.find("//div[@role='separator'][@aria-label='New messages']").await;
        let around = ada
            .js(
                "const d = document.querySelector('.divider');
                 const near = (el, step) => { while (el && el.tagName !== 'ARTICLE') el = el[step]; return el?.textContent ?? ''; };
                 const log = document.querySelector('[role=log]').getBoundingClientRect();
                 const r = d.getBoundingClientRect();
                 return { after: near(d.nextElementSibling, 'nextElementSibling'), before: near(d.previousElementSibling, 'previousElementSibling'),
                          shown: r.top >= log.top && r.bottom <= log.bottom };",
                vec![],
            )
            .await;
        assert!(around["after"].as_str().unwrap().contains("news 01"), "{around}");
        assert!(!around["before"].as_str().unwrap().contains("news"), "{around}");
        assert_eq!(around["shown"], true, "the line is in view when the chat opens: {around}");

        // Read live, then away and back: no line above messages already read.
        ada.js("const log = document.querySelector('[role=log]'); log.scrollTop = log.scrollHeight;", vec![]).await;
        post_message(&server, &bob, club, "read live").await;
        ada.find(&message("read live")).await;
        ada.until("the chat to be read", "!document.querySelector('nav[aria-label=Chats] a[aria-current=page] .badge')").await;
        open_chat(ada, "other").await;
        open_chat(ada, "club").await;
        ada.find(&message("read live")).await;
        assert_eq!(ada.count("//div[@role='separator'][@aria-label='New messages']").await, 0, "everything is read");

        // The log is one Tab stop.
        let tabbable = "return [...document.querySelector('[role=log]').querySelectorAll('*')].filter((e) => e.tabIndex >= 0).length;";
        assert_eq!(ada.js(tabbable, vec![]).await, json!(1), "one element of the log is in the Tab order");
        ada.js("document.querySelector('.members-toggle').focus();", vec![]).await;
        ada.press("\u{E004}").await; // Tab
        let focused = "const a = document.activeElement; return a.tagName === 'ARTICLE' && Boolean(a.closest('[role=log]')) ? a.textContent : null;";
        let on = ada.js(focused, vec![]).await;
        assert!(on.as_str().is_some_and(|t| t.contains("read live")), "Tab lands on the newest message: {on}");
        ada.press("\u{E004}").await;
        let inside = "return Boolean(document.activeElement.closest('[role=log]'));";
        assert_eq!(ada.js(inside, vec![]).await, json!(false), "the next Tab leaves the log");
        ada.keystrokes(&format!("{}\u{E004}", keys::SHIFT)).await;
        assert!(ada.js(focused, vec![]).await.as_str().is_some_and(|t| t.contains("read live")));
        ada.press(keys::UP).await;
        assert!(ada.js(focused, vec![]).await.as_str().is_some_and(|t| t.contains("news 60")), "↑: the message before");
        ada.press(keys::ENTER).await;
        let control = "const a = document.activeElement; return a.tagName === 'BUTTON' && a.closest('article')?.textContent.includes('news 60') ? a.getAttribute('aria-label') : null;";
        assert!(ada.js(control, vec![]).await.is_string(), "Enter goes into the message's actions");
        ada.press(keys::ESCAPE).await;
        assert!(ada.js(focused, vec![]).await.as_str().is_some_and(|t| t.contains("news 60")), "Esc: back to the message");
        ada.assert_no_console_errors().await;
    })
    .await;
}

/// After a reload while the server is down, the chat pane loads its messages by itself once
/// the server is back (and offers Retry while it is not), instead of keeping its error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn the_chat_pane_recovers_after_a_reload_while_the_server_was_down() {
    let server = common::spawn().await;
    let (addr, base) = (server.addr, server.base.clone());
    with_browsers(&base, ["dana"], async move |[dana]| {
        sign_up(dana, "dana").await;
        dana.find("//h1[normalize-space(.)='general']").await;
        say(dana, "before the outage").await;
        dana.until("the service worker to control the page", "navigator.serviceWorker.controller").await;
        let dir = server.stop().await;
        reload_while_the_server_is_down(dana).await;
        let server = common::spawn_in_at(dir, addr, |_| {}).await;
        dana.find(&message("before the outage")).await;
        dana.find("//*[@role='status'][normalize-space(.)='Connected']").await;
        assert_eq!(dana.count("//*[@role='alert'][contains(., 'Cannot reach')]").await, 0, "the old error is gone");
        say(dana, "after the outage").await;
        server.stop().await;
    })
    .await;
}

/// The room header's "Notifications": its level menu changes the caller's `notify` for the room
/// (the current level marked), and on a plain http:// LAN address (not a secure context, unlike
/// 127.0.0.1) the dialog says why this device cannot get notifications while natter is closed
/// and offers no push switch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium, chromedriver and npm's axe-core (installed by .ci/run)"]
async fn notification_levels_and_why_push_needs_https() {
    let lan = if_addrs::get_if_addrs()
        .expect("list the network interfaces")
        .into_iter()
        .find(|interface| !interface.is_loopback() && interface.ip().is_ipv4())
        .map(|interface| interface.ip());
    let Some(lan) = lan else {
        eprintln!("SKIPPED: this machine has no non-loopback IPv4 address to open natter over plain http");
        return;
    };
    let dir = tempfile::tempdir().expect("a data folder");
    let server = common::spawn_in_at(dir, "0.0.0.0:0".parse().expect("an address"), |_| {}).await;
    let base = format!("http://{lan}:{}", server.addr.port());
    with_browsers(&base, ["ada"], async |[ada]| {
        sign_up(ada, "ada").await;
        ada.find("//h1[normalize-space(.)='general']").await;
        assert_eq!(ada.js("return window.isSecureContext;", vec![]).await, json!(false), "{base} is plain http");
        ada.click_button("Notifications").await;
        let menu = dialog("Notifications");
        ada.find(&format!("{menu}//p[contains(., 'Notifications when natter is closed need HTTPS')]")).await;
        assert_eq!(ada.count(&format!("{menu}//input[@role='switch']")).await, 0, "no push switch on http");
        let level = |label: &str| format!("{menu}//label[contains(., {})]/input[@type='radio']", harness::lit(label));
        ada.until("All messages is marked", "document.querySelector('input[name=notify-level][value=all]').checked")
            .await;
        ada.assert_accessible("notifications (http)").await;
        ada.screenshot("desktop-light-notifications-http").await;
        ada.click(&level("Mentions only")).await;
        ada.until(
            "Mentions only is marked",
            "document.querySelector('input[name=notify-level][value=mentions]').checked",
        )
        .await;
        let account = chat::log_in(&server, "ada").await;
        let general = room_id_from(ada.client.current_url().await.unwrap().as_str());
        assert_eq!(chat::get_room(&server, &account, general).await["notify"], "mentions");
        ada.click(&level("Nothing")).await;
        ada.until("Nothing is marked", "document.querySelector('input[name=notify-level][value=none]').checked").await;
        assert_eq!(chat::get_room(&server, &account, general).await["notify"], "none");
        ada.press(keys::ESCAPE).await;
        ada.gone(&menu).await;
        ada.find(&format!("{}[@title='Notifications: Nothing']", button("Notifications"))).await;
        ada.assert_no_console_errors().await;
    })
    .await;
}

/// On a secure context (127.0.0.1 is one) the Notifications dialog offers this device's push
/// switch. Turning it on asks the browser's push service for a subscription: where the browser
/// reaches one, the server stores it and "Send a test notification" appears; headless Chromium
/// with no Google push registration refuses, and the dialog shows the browser's reason as an
/// alert instead of pretending. Either way nothing else breaks; the test prints which it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn the_push_switch_is_offered_on_a_secure_context() {
    let server = common::spawn().await;
    with_browsers(&server.base, ["ada"], async |[ada]| {
        sign_up(ada, "ada").await;
        ada.find("//h1[normalize-space(.)='general']").await;
        assert_eq!(ada.js("return window.isSecureContext;", vec![]).await, json!(true));
        ada.until("the service worker is ready", "navigator.serviceWorker.controller").await;
        ada.click_button("Notifications").await;
        let menu = dialog("Notifications");
        let switch = format!("{menu}//input[@role='switch'][not(@disabled)]");
        ada.find(&switch).await;
        assert_eq!(ada.count(&format!("{menu}//p[contains(., 'need HTTPS')]")).await, 0);
        // Headless Chromium would show a permission prompt nobody answers: grant it up front.
        ada.cdp("Browser.grantPermissions", json!({"origin": server.base, "permissions": ["notifications"]})).await;
        ada.click(&switch).await;
        let outcome = format!("{menu}{} | {menu}//p[@role='alert']", button("Send a test notification"));
        ada.find(&outcome).await;
        if ada.count(&format!("{menu}{}", button("Send a test notification"))).await > 0 {
            let account = chat::log_in(&server, "ada").await;
            let stored = server
                .db
                .read(move |conn| natter::storage::db::push::of_users(conn, &[account.id]))
                .await
                .expect("read the subscriptions");
            assert_eq!(stored.len(), 1, "the browser's subscription is stored");
            println!("this Chromium subscribed at {}", stored[0].endpoint);
        } else {
            println!("this Chromium could not subscribe: {}", ada.text(&format!("{menu}//p[@role='alert']")).await);
        }
    })
    .await;
}

/// A face drawn for the screenshots and the profile tests (nothing downloaded): a head of skin
/// colour `skin` with hair, eyes and a smile, on a `background` tile, `size` px square.
pub fn drawn_face(size: u32, skin: [u8; 3], hair: [u8; 3], background: [u8; 3]) -> Vec<u8> {
    use image::{Rgb, RgbImage};
    let s = size as f32;
    let inside =
        |x: f32, y: f32, cx: f32, cy: f32, rx: f32, ry: f32| ((x - cx) / rx).powi(2) + ((y - cy) / ry).powi(2) <= 1.0;
    let face = RgbImage::from_fn(size, size, |x, y| {
        let (x, y) = (x as f32 / s, y as f32 / s);
        let eye = inside(x, y, 0.40, 0.47, 0.035, 0.045) || inside(x, y, 0.60, 0.47, 0.035, 0.045);
        let smile = inside(x, y, 0.5, 0.60, 0.13, 0.09) && !inside(x, y, 0.5, 0.57, 0.13, 0.08);
        let head = inside(x, y, 0.5, 0.52, 0.26, 0.31);
        let hair_cap = inside(x, y, 0.5, 0.40, 0.29, 0.25) && y < 0.42;
        let shoulders = inside(x, y, 0.5, 1.05, 0.42, 0.25);
        let pixel = if eye || smile {
            [40, 30, 30]
        } else if hair_cap {
            hair
        } else if head {
            skin
        } else if shoulders {
            [hair[0] / 2 + 60, hair[1] / 2 + 80, hair[2] / 2 + 120]
        } else {
            background
        };
        Rgb(pixel)
    });
    crate::thumbnails::encode(image::DynamicImage::ImageRgb8(face), image::ImageFormat::Png)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver (installed by .ci/run)"]
async fn a_new_name_and_picture_show_live_and_photos_show_their_thumbnail_first() {
    let server = common::spawn().await;
    let ann = account(&server, "ann").await;
    let ben = account(&server, "ben").await;
    let lake = room(&server, &ann, "lakeside", &[&ben]).await;
    post_message(&server, &ann, lake, "hello from ann").await;
    let photo = crate::thumbnails::picture(1600, 1200, image::ImageFormat::Jpeg);
    let photo = upload_ok(&server, &ben.token, photo, "dock.jpg").await;
    post_attachment(&server, &ben, lake, "the dock at dawn", &photo).await;
    let thumb = photo["thumbnail_url"].as_str().unwrap().to_string();
    crate::thumbnails::thumbnail(&server, &thumb).await;
    let scratch = tempfile::tempdir().unwrap();
    let face = scratch.path().join("ann.png");
    std::fs::write(&face, drawn_face(600, [240, 200, 170], [90, 50, 30], [200, 225, 245])).unwrap();

    with_browsers(&server.base, ["ann", "ben"], async |[ann_view, ben_view]| {
        log_in(ann_view, "ann").await;
        log_in(ben_view, "ben").await;
        open_chat(ben_view, "lakeside").await;
        open_chat(ann_view, "lakeside").await;

        // The photo is drawn from its thumbnail, at the thumbnail's size from the start.
        let img = format!("{}//img[@alt='dock.jpg']", message("the dock at dawn"));
        let shown = ben_view.find(&img).await;
        assert!(shown.attr("src").await.unwrap().unwrap_or_default().ends_with(&thumb), "the thumbnail first");
        assert_eq!(shown.attr("width").await.unwrap().as_deref(), Some("640"));
        assert_eq!(shown.attr("height").await.unwrap().as_deref(), Some("480"));
        // A click opens the original.
        ben_view.click(&format!("{}{}", message("the dock at dawn"), button("View image dock.jpg larger"))).await;
        let original = format!("{}//img[@alt='dock.jpg']", dialog("dock.jpg"));
        let large = ben_view.find(&original).await;
        assert!(large.attr("src").await.unwrap().unwrap_or_default().ends_with(photo["url"].as_str().unwrap()));
        ben_view.press(keys::ESCAPE).await;

        // Ann changes her name and picture in "Profile"; Ben sees both at once.
        ann_view.click_button("Profile").await;
        ann_view.find(&dialog("Profile")).await;
        ann_view.type_in("Display name", "Ann Lee").await;
        let picker = ann_view.find("//input[@type='file'][@aria-label='Change picture']").await;
        picker.send_keys(face.to_str().unwrap()).await.unwrap();
        ann_view.find(&format!("{}{}", dialog("Profile"), button("Remove picture"))).await;
        ann_view.until("the picture to upload", "![...document.querySelectorAll('dialog[open] button')].find((b) => b.textContent.trim() === 'Save')?.disabled").await;
        ann_view.click(&format!("{}{}", dialog("Profile"), button("Save"))).await;
        ann_view.gone(&dialog("Profile")).await;
        ann_view.find("//footer//*[contains(@class, 'me-name')][.='Ann Lee']").await;
        let sender = format!("{}//*[contains(@class, 'msg-sender')][.='Ann Lee']", message("hello from ann"));
        ben_view.find(&sender).await;
        ben_view.find(&format!("{}//*[contains(@class, 'msg-username')][.='@ann']", message("hello from ann"))).await;
        let avatar = format!("{}//img[contains(@class, 'avatar-picture')][contains(@src, '/media/')]", message("hello from ann"));
        ben_view.find(&avatar).await;
        ben_view.until(
            "the avatar to load",
            &format!("document.evaluate({}, document, null, 9, null).singleNodeValue?.naturalWidth === 256", serde_json::to_string(&avatar).unwrap()),
        )
        .await;

        // "Remove picture" goes back to initials, for Ben too.
        ann_view.click_button("Profile").await;
        ann_view.click(&format!("{}{}", dialog("Profile"), button("Remove picture"))).await;
        ann_view.click(&format!("{}{}", dialog("Profile"), button("Save"))).await;
        ben_view.gone(&avatar).await;

        // A voice message: the elapsed time while recording, "Cancel" sends nothing, "Stop" sends
        // it, and it plays inline for Ben.
        ann_view.click_button("Record voice message").await;
        ann_view.find("//*[@role='timer'][starts-with(@aria-label, 'Recording, 0:0')]").await;
        ann_view.click_button("Cancel").await;
        ann_view.find(&button("Record voice message")).await;
        ann_view.click_button("Record voice message").await;
        ann_view.find("//*[@role='timer'][@aria-label='Recording, 0:01']").await;
        ann_view.click_button("Stop").await;
        let voice = format!("{LOG}//article//audio[@controls][starts-with(@aria-label, 'Voice message')]");
        ben_view.find(&voice).await;
        ben_view.find(&format!("{LOG}//article//audio[@controls][starts-with(@aria-label, 'Voice message, 0:0')]")).await;
        assert_eq!(ben_view.count(&voice).await, 1, "the cancelled recording was not sent");
    })
    .await;
    let (_, me) = server.get("/auth/users/me", ann.tok()).await;
    assert_eq!((me["display_name"].as_str(), me["avatar_url"].as_str()), (Some("Ann Lee"), None));
}

//! The official socket.io-client 4.x (Node) against the real server: the compatibility the SPEC
//! promises. Needs `node` and npm's `socket.io-client`, which cargo cannot provide, so it is
//! ignored by default; `.ci/run` installs the client and runs it with `--include-ignored`.

use serde_json::json;

use crate::common;

/// Run by `common::run_node_script`, which defines `io`, `once` and `out`.
const SCRIPT: &str = r#"
  const [base, tokenA, tokenB, roomId] = process.argv.slice(2);
  const bad = io(base, { auth: { token: "garbage" }, transports: ["websocket"], reconnection: false });
  const err = await once(bad, "connect_error");
  out.refused = err.message;
  bad.close();
  // Bob starts on long-polling and upgrades; Alice goes straight to WebSocket.
  const b = io(base, { auth: { token: tokenB }, reconnection: false });
  const gotB = once(b, "chat_response");
  await once(b, "connect");
  const a = io(base, { auth: { token: tokenA }, transports: ["websocket"], reconnection: false });
  await once(a, "connect");
  const gotA = once(a, "chat_response");
  out.ack = await a.emitWithAck("chat_message", { room_id: Number(roomId), content: "hello, official client" });
  out.bob_received = await gotB;
  out.alice_received = await gotA;
  out.bad_ack = await a.emitWithAck("chat_message", "not an object");
  a.close(); b.close();
"#;

#[tokio::test]
#[ignore = "needs node and npm's socket.io-client 4.x; .ci/run installs them and runs this"]
async fn official_socket_io_client_talks_to_natter() {
    let server = common::spawn().await;
    let (alice, _) = server.signup("alice").await;
    let (bob, _) = server.signup("bob").await;
    let (status, room) =
        server.post("/chat/chat_rooms/", Some(&alice), &json!({"name": "js", "members": ["bob"]})).await;
    assert_eq!(status, 201);
    let room_id = room["id"].to_string();
    let out = common::run_node_script(server.data_dir(), SCRIPT, &[&server.base, &alice, &bob, &room_id], &[]).await;

    assert_eq!(out["refused"], "unauthorized");
    assert_eq!(out["ack"]["ok"], true);
    let message = &out["ack"]["message"];
    assert_eq!(message["content"], "hello, official client");
    assert_eq!(message["room_id"], room["id"]);
    assert_eq!(out["bob_received"]["id"], message["id"], "the member received the broadcast");
    assert_eq!(out["alice_received"]["id"], message["id"], "the sender's own socket received it too");
    assert_eq!(out["bad_ack"]["ok"], false);
    assert_eq!(out["bad_ack"]["error"]["code"], "validation_error");
}

//! The stand-in: an in-memory axum 0.8 + socketioxide 0.18 server with no storage, no
//! auth and no natter code, measured under the same fan-out load as natter. What it costs per
//! delivery is what socketioxide's write path costs; what natter costs above it is natter's own.
//!
//! It runs as the benchmark binary itself, re-executed with `NATTER_BENCH_ROLE=standin-server`,
//! and prints `address=…` like natter so the generator finds it the same way.

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::extract::{AckSender, Data, SocketRef};

pub const ROLE: &str = "standin-server";

/// Run the stand-in until killed (two tokio workers, like natter's default on this machine).
pub fn serve() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(async {
        let (layer, io) = SocketIo::builder().build_layer();
        io.ns("/", async |s: SocketRef| {
            s.join("room:1");
            s.on("chat_message", |s: SocketRef, Data(data): Data<Value>, ack: AckSender| async move {
                let message = json!({
                    "id": 1, "room_id": 1,
                    "sender": { "id": 1, "username": "user0", "full_name": null },
                    "content": data["content"], "attachment": null, "client_id": null,
                    "created_at": "2026-11-29T00:00:00.000Z", "edited_at": null,
                });
                let _ = s.within("room:1").emit("chat_response", &message).await;
                let _ = ack.send(&json!({ "ok": true, "message": message }));
            });
        });
        let app = axum::Router::new().layer(layer);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        println!("stand-in server listening address={}", listener.local_addr().expect("address"));
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, app).await.expect("serve");
    });
}

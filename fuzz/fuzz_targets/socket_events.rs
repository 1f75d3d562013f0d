//! Socket.IO event payloads: chat_message, typing, mark_read, get_online_users.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| natter::fuzzing::socket_events(data));

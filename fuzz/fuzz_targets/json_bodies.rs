//! Every JSON request body (signup, login, rooms, members, messages, edits, read markers, invites, account changes) and the OAuth2 form body.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| natter::fuzzing::json_bodies(data));

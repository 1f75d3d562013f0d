//! The query strings (history, message search, user search) and path ids.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| natter::fuzzing::queries(data));

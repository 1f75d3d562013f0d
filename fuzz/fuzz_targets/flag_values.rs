//! The values of the flags: durations, sizes, rates, public URLs, the media allow-list.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        natter::fuzzing::flag_values(text);
    }
});

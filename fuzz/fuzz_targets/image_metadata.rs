//! Image bytes through the metadata removal of JPEG, PNG and WebP, as they are and after each
//! format's signature.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    natter::fuzzing::image_metadata(data);
});

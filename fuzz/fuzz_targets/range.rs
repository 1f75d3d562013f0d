//! `Range` headers: the first 8 bytes are the file's size, the rest the header's text.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (size, header) = data.split_at(8);
    let size = u64::from_le_bytes(size.try_into().unwrap_or_default());
    // Small files are where the edge cases are; a size byte of 0xFF keeps huge sizes reachable.
    let size = if size >> 56 == 0xFF { size } else { size % 4096 };
    natter::fuzzing::range(&String::from_utf8_lossy(header), size);
});

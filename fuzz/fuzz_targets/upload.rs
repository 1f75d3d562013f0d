//! An upload's bytes through the type sniffing and the chunked plain-text check, and the client's
//! filename. The first byte picks how many chunk boundaries the next bytes give.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&count, rest)) = data.split_first() else { return };
    let count = usize::from(count % 8).min(rest.len());
    let (cuts, file) = rest.split_at(count);
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| usize::from(c)).collect();
    cuts.sort_unstable();
    natter::fuzzing::upload(file, &cuts);
});

//! Where natter keeps things: the SQLite storage engine ([`db`]), the media folder
//! ([`media_folder`]: uploads' types, temporary files, names) with what is removed from images
//! before they are kept ([`image_metadata`]), the modes of every file and folder natter makes
//! ([`file_modes`]) and the data folder's lock ([`data_dir`]). Knows nothing of HTTP, sockets or
//! the wire format.

pub mod data_dir;
pub mod db;
pub mod file_modes;
pub mod image_metadata;
pub mod media_folder;
pub mod pictures;

/// `n` random bytes as lower-case hex: the names of stored files, invite codes, secrets.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // getrandom only fails when the OS has no entropy source at all; nothing sensible is left.
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

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

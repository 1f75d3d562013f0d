//! The use cases: every rule of natter, behind one small struct per area, shared by every
//! transport. `POST /auth/signup` and `natter user add` call the same [`accounts::Accounts`]
//! function; a REST post and a Socket.IO `chat_message` the same `Chat` one. Only how the input
//! arrives and how the answer is rendered differs.
//!
//! Each struct holds only what its area needs (a database handle, the password hasher, a limit),
//! is built once by `natter::build` (the CLI builds the ones it uses), and is cheap to share.
//! Nothing here knows HTTP or sockets: use cases take validated input types (`crate::input`),
//! talk to the storage engine (`crate::db`), return model objects (`crate::model`) or an
//! `ApiError`, and publish domain events after the commit that made a change durable.

pub mod accounts;
pub mod invites;
pub mod media;
pub mod ops;
pub mod sessions;

//! The ways into natter: REST ([`api`]), Socket.IO ([`realtime`]), the command line ([`cli`])
//! and the embedded web UI's files ([`web`]). Each decodes its input (`crate::input`), calls one
//! use case (`crate::usecase`) and renders the answer or the error its own way; none of them
//! decides anything or touches storage.

pub mod api;
pub mod cli;
pub mod realtime;
pub mod web;

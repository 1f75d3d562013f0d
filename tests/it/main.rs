//! natter's integration tests: one test crate, so the whole binary and every dev-dependency are
//! linked once instead of once per file (25 crates took 13 minutes to build from a fresh clone).
//! Each module was a test crate of its own; [`common`] is what they share (servers in this
//! process or as a child process, accounts, rooms and messages, uploads, a Socket.IO client, the
//! SPEC's object checks).
//!
//! Every test runs in this one process, next to the others:
//! - each in-process server has its own port, data folder, state and metrics, so tests see only
//!   their own server's numbers; figures that belong to a process (`/proc/PID/...`: memory,
//!   open sockets) are read from a server run as a child process ([`common::process`]);
//! - tests that need the machine to themselves take [`common::exclusive`] (the browser tests,
//!   and tests that time what a loaded machine slows down).
//!
//! ```text
//! cargo test --test it                        # everything but the ignored tests
//! cargo test --test it realtime::             # one former crate (a module here)
//! cargo test --test it browser -- --include-ignored
//! ```

mod common;

mod admin;
mod auth;
mod backup;
mod bots;
mod browser;
mod cli;
mod connections;
mod conversations;
mod cors;
mod crash;
mod delivery;
mod disk_faults;
mod fuzz_props;
mod https;
mod input_hardening;
mod limits;
mod media;
mod memory;
mod official_client;
mod open_rooms;
mod openapi;
mod ops;
mod profiles;
mod push;
mod reach;
mod realtime;
mod rooms;
mod schemathesis;
mod thumbnails;
mod web;

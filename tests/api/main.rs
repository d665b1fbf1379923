//! The core directory through the JSON API, with a real server and real HTTP.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod backup_online;
mod bad_input;
#[path = "../common/mod.rs"]
mod common;
mod concurrency;
mod credentials;
mod demo_app;
mod demo_secrets;
mod durability;
mod fixture;
mod headers;
mod http_server;
mod invariants;
mod layers;
mod lifecycle;
mod logging;
mod mail_queue;
mod matrix;
mod openapi;
mod operator_cli;
mod operator_ops;
mod packaging;
mod permissions;
mod schema;
mod sources;
mod tokens;

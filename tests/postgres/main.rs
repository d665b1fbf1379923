//! The PostgreSQL engine, against a real PostgreSQL cluster started by the fixture
//! (`cluster.rs`), and several real `apex-idp serve` nodes over one database (`node.rs`).
//! Without PostgreSQL's server binaries every test prints a notice and passes without
//! running; `.ci/run` installs them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod backoff;
mod cluster;
#[path = "../common/mod.rs"]
mod common;
mod engine;
mod faults;
mod mail;
mod migrate;
mod node;
mod nodes;
mod oidc;

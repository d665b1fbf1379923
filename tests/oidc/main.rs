//! The OpenID Connect issuer end to end: a real server on a real port, driven over
//! HTTP, with `openidconnect`'s types verifying what a relying party receives.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod backchannel;
mod bounds;
mod clients;
#[path = "../common/mod.rs"]
mod common;
mod conformance;
mod discovery;
mod fixture;
mod flow;
mod gate;
mod logout;
mod metrics;
mod negative;
mod operator;
mod password;
mod rotation;
mod sso;
mod tokens;

//! The web space through real HTTP: every page and form, success and each error path,
//! the rights of each role, CSRF and security headers.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod administration;
#[path = "../common/mod.rs"]
mod common;
mod csrf;
mod fixture;
mod invitation;
mod layout;
mod me;
mod password;
mod rights;
mod signin;
mod structure;

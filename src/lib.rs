//! apex-idp: the partner directory of the DGFiP and its three faces.
#![forbid(unsafe_code)]
#![cfg_attr(
    test,
    allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod auth;
pub mod bounded;
pub mod catalogue;
pub mod clock;
pub mod config;
pub mod demo;
pub mod demo_app;
pub mod directory;
pub mod domain;
pub mod http;
pub mod ldap;
pub mod logging;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod server;
pub mod store;
pub mod tls;
pub mod web;

//! The LDAP face with real `ldap3` clients against a real server on port 0, over
//! plain LDAP, StartTLS and LDAPS.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod acl;
mod bind;
mod bounds;
mod extended;
mod fixture;
mod limits;
mod metrics;
mod operator;
mod paging;
mod robustness;
mod search;

//! Credentials: password hashing, one-time tokens, sessions, backoff.

pub mod addr;
pub mod backoff;
pub mod password;
pub mod session;
pub mod token;

pub use backoff::Backoff;
pub use password::Hasher;

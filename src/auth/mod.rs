//! Credentials: password hashing, one-time tokens, sessions, stamps, backoff.

pub mod addr;
pub mod backoff;
pub mod password;
pub mod session;
pub mod stamp;
pub mod token;

pub use backoff::Backoff;
pub use password::Hasher;

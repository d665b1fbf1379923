//! Credentials: password hashing, one-time tokens, sessions (API and browser), the
//! CSRF binding of forms, device cookies, stamps, backoff.

pub mod addr;
pub mod backoff;
pub mod browser;
pub mod cookie;
pub mod csrf;
pub mod device;
pub mod operator;
pub mod password;
pub mod session;
pub mod stamp;
pub mod token;

pub use backoff::Backoff;
pub use browser::Browser;
pub use password::Hasher;

//! The issuer's signing keys as the operator API sees them: a port the issuer
//! implements, so that the operator face rotates keys without naming the issuer.

use std::future::Future;
use std::pin::Pin;

/// Bounds of a rotation's delay, in seconds.
#[derive(Debug, Clone, Copy)]
pub struct RotationDelays {
    /// The default: new keys sign after this long.
    pub default: i64,
    /// The shortest (the JWKS cache lifetime).
    pub min: i64,
    /// The longest.
    pub max: i64,
}

/// What a rotation answers: every key and where it is in its life, as JSON.
pub type Rotated = Result<serde_json::Value, String>;

/// Rotation of the signing keys.
pub trait KeyRotation: Send + Sync {
    /// The delays a rotation accepts.
    fn delays(&self) -> RotationDelays;

    /// Adds one key per algorithm, published now and signing `delay` seconds later.
    fn rotate(&self, now: i64, delay: i64) -> Pin<Box<dyn Future<Output = Rotated> + Send + '_>>;

    /// Every key and where it is in its life at `now`, as JSON.
    fn list(&self, now: i64) -> Rotated;
}

//! The issuer's signing keys as the operator API sees them: a port the issuer
//! implements, so that the operator face rotates keys without naming the issuer.

use std::future::Future;
use std::pin::Pin;

use schemars::JsonSchema;
use serde::Serialize;

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

/// What a rotation answers: every key and where it is in its life.
pub type Rotated = Result<Vec<KeyStatus>, String>;

/// Rotation of the signing keys.
pub trait KeyRotation: Send + Sync {
    /// The delays a rotation accepts.
    fn delays(&self) -> RotationDelays;

    /// Adds one key per algorithm, published now and signing `delay` seconds later.
    fn rotate(&self, now: i64, delay: i64) -> Pin<Box<dyn Future<Output = Rotated> + Send + '_>>;

    /// Every key and where it is in its life at `now`.
    fn list(&self, now: i64) -> Rotated;
}

/// Where a key is in its life at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published; will sign from `signs_from`.
    Next,
    /// Published and signing.
    Signing,
    /// Published, no longer signing; dropped at `dropped_at`.
    Retiring,
}

/// A key as the operator sees it (no private part).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct KeyStatus {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub alg: &'static str,
    /// Where it is in its life.
    pub state: KeyState,
    /// Generated and published (unix seconds).
    pub created_at: i64,
    /// First signature (unix seconds).
    pub signs_from: i64,
    /// Last signature, when a newer key is due (unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signs_until: Option<i64>,
    /// Leaves the JWKS (unix seconds): every token it signed has expired.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_at: Option<i64>,
}

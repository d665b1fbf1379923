//! One-time tokens (invitation, password reset, e-mail confirmation): 256 random bits,
//! given once to their holder by mail, stored only as a SHA-256 hash, single use, expiring.

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::stamp;
use crate::domain::Account;

/// What a one-time token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    /// Pre-creation form.
    Invitation,
    /// Forgotten password.
    PasswordReset,
    /// Confirmation of a new e-mail address.
    EmailChange,
}

/// The stored side of a one-time token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OneTimeToken {
    /// Its purpose.
    pub kind: TokenKind,
    /// The account it acts on.
    pub account_id: String,
    /// Creation time (unix seconds).
    pub created_at: i64,
    /// Expiry (unix seconds).
    pub expires_at: i64,
    /// The address to confirm (e-mail change only).
    #[serde(default)]
    pub new_email: Option<String>,
    /// The account's links stamp when it was mailed ([`stamp::of_links`]; reset and
    /// e-mail confirmation only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

impl OneTimeToken {
    /// Whether the account is still as it was when the link was mailed. A reset link or
    /// an e-mail confirmation dies with the password and the address it was sent under:
    /// a new password (changed or reset) or a confirmed new address ends every link
    /// mailed before. An invitation goes to an account without a password yet.
    pub fn fits(&self, account: &Account) -> bool {
        match self.kind {
            TokenKind::Invitation => true,
            TokenKind::PasswordReset | TokenKind::EmailChange => {
                stamp::still(self.stamp.as_deref(), stamp::of_links(account))
            }
        }
    }
}

/// A fresh token: the secret for the mail, and the key under which its record is stored.
pub fn generate() -> (String, Vec<u8>) {
    let secret = random_secret();
    let key = digest(&secret);
    (secret, key)
}

/// Fills `bytes` from the system's random source. Every secret of the server comes
/// from here: if that source fails, the process stops rather than issue one that could
/// be guessed (fail closed; the service manager restarts it, and the start-up check
/// [`random_source_works`] then refuses to serve).
pub fn fill_random(bytes: &mut [u8]) {
    if !try_fill(bytes) {
        tracing::error!(
            "the system random source failed: stopping rather than issue a guessable secret"
        );
        eprintln!("apex-idp: the system random source failed; stopping");
        std::process::abort();
    }
}

/// Whether the system's random source answers (checked before serving).
pub fn random_source_works() -> bool {
    try_fill(&mut [0u8; 32])
}

fn try_fill(bytes: &mut [u8]) -> bool {
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes).is_ok()
}

/// 32 random bytes, base64url without padding (43 characters).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The storage key of a token: SHA-256 of the secret.
pub fn digest(secret: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// Whether a string has the shape of a token (rejects junk before any lookup).
pub fn looks_like_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_well_formed() {
        let (a, ka) = generate();
        let (b, _) = generate();
        assert_ne!(a, b);
        assert!(looks_like_token(&a));
        assert_eq!(ka, digest(&a));
        assert!(!looks_like_token("short"));
    }
}

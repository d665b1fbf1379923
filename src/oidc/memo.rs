//! Access tokens whose signature was already verified, by the SHA-256 of the whole
//! token: a bearer presented again (userinfo, introspection) costs a hash instead of a
//! signature check. Expiry, revocation and the grant are still checked at every use; a
//! changed byte is another digest, hence a full verification. Bounded: when full, it
//! starts over.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::tokens::AccessClaims;

/// Most tokens remembered.
const CAPACITY: usize = 8192;

/// Verified access tokens.
#[derive(Default)]
pub struct Verified {
    tokens: RwLock<HashMap<[u8; 32], Arc<AccessClaims>>>,
}

/// The key of a token.
pub fn digest(token: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    key.copy_from_slice(d.as_ref());
    key
}

impl Verified {
    /// The claims of a token verified before.
    pub fn get(&self, key: &[u8; 32]) -> Option<Arc<AccessClaims>> {
        self.tokens
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
    }

    /// Remembers a verified token.
    pub fn put(&self, key: [u8; 32], claims: Arc<AccessClaims>) {
        let mut tokens = self.tokens.write().unwrap_or_else(PoisonError::into_inner);
        if tokens.len() >= CAPACITY {
            tokens.clear();
        }
        tokens.insert(key, claims);
    }
}

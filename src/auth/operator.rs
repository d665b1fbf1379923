//! Operator tokens: verified against the argon2id hashes of the configuration, with a
//! short-lived cache of successes so that each call does not pay a full hash.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::auth::Hasher;
use crate::auth::token::digest;

/// How long a verified token is trusted without hashing again.
const CACHE_FOR: Duration = Duration::from_secs(300);

/// The configured operator token hashes.
pub struct OperatorTokens {
    hashes: Vec<String>,
    verified: Mutex<HashMap<Vec<u8>, Instant>>,
}

impl OperatorTokens {
    /// From `[operator] token_hashes`.
    pub fn new(hashes: Vec<String>) -> Self {
        OperatorTokens {
            hashes,
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the token is an operator token.
    pub async fn verify(&self, token: &str, hasher: &Hasher) -> bool {
        // Operator tokens are printable ASCII without spaces: anything else cannot
        // match, and is refused before any hash.
        let shaped =
            !token.is_empty() && token.len() <= 512 && token.bytes().all(|b| b.is_ascii_graphic());
        if !shaped || self.hashes.is_empty() {
            return false;
        }
        let key = digest(token);
        {
            let cache = self
                .verified
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if cache.get(&key).is_some_and(|t| t.elapsed() < CACHE_FOR) {
                return true;
            }
        }
        for phc in &self.hashes {
            if hasher.verify(token, phc).await {
                let mut cache = self
                    .verified
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                cache.retain(|_, t| t.elapsed() < CACHE_FOR);
                cache.insert(key, Instant::now());
                return true;
            }
        }
        false
    }
}

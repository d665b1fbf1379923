//! argon2id hashing on a bounded blocking pool: at most one hash per core at once, so a
//! burst of sign-ins can neither exhaust memory nor stall the async runtime.

use std::sync::Arc;

use argon2::{Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version};
use tokio::sync::Semaphore;

use crate::config::Argon2Config;

/// Whether a string is an argon2id PHC hash.
pub fn is_argon2id_phc(s: &str) -> bool {
    PasswordHash::new(s).is_ok_and(|h| h.algorithm.as_str() == "argon2id")
}

/// Hashing failed (bad parameters, or the pool is gone).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes and verifies passwords and secrets with argon2id.
#[derive(Clone)]
pub struct Hasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// A hash of nothing, verified for unknown logins so they take as long as known ones.
    dummy: Arc<String>,
}

impl Hasher {
    /// A hasher with the `[argon2]` parameters.
    pub fn new(config: Argon2Config) -> Result<Hasher, HashError> {
        let params = Params::new(config.m_kib, config.t, config.p, None)
            .map_err(|e| HashError(e.to_string()))?;
        let cores = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or(1);
        let dummy = hash_now(&params, b"apex-idp: no such account")?;
        Ok(Hasher {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            dummy: Arc::new(dummy),
        })
    }

    /// Hashes a password (or secret) into a PHC string.
    pub async fn hash(&self, secret: &str) -> Result<String, HashError> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| HashError(e.to_string()))?;
        let params = self.params.clone();
        let secret = secret.to_owned();
        tokio::task::spawn_blocking(move || hash_now(&params, secret.as_bytes()))
            .await
            .map_err(|e| HashError(e.to_string()))?
    }

    /// Verifies a secret against a PHC string (its own parameters apply).
    pub async fn verify(&self, secret: &str, phc: &str) -> bool {
        let Ok(_permit) = self.permits.acquire().await else {
            return false;
        };
        let secret = secret.to_owned();
        let phc = phc.to_owned();
        tokio::task::spawn_blocking(move || verify_now(secret.as_bytes(), &phc))
            .await
            .unwrap_or(false)
    }

    /// Spends the time of one verification, for an unknown login.
    pub async fn verify_dummy(&self, secret: &str) {
        let dummy = Arc::clone(&self.dummy);
        let _ = self.verify(secret, &dummy).await;
    }

    /// Hashes synchronously (CLI, demo data).
    pub fn hash_blocking(&self, secret: &str) -> Result<String, HashError> {
        hash_now(&self.params, secret.as_bytes())
    }
}

fn hash_now(params: &Params, secret: &[u8]) -> Result<String, HashError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(secret)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Verifies synchronously; any malformed hash is a mismatch.
pub fn verify_now(secret: &[u8], phc: &str) -> bool {
    Argon2::default().verify_password(secret, phc).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_differ() {
        let h = Hasher::new(Argon2Config {
            m_kib: 64,
            t: 1,
            p: 1,
        })
        .unwrap();
        let a = h.hash("cheval-agrafe-pile").await.unwrap();
        let b = h.hash("cheval-agrafe-pile").await.unwrap();
        assert_ne!(a, b, "salted");
        assert!(is_argon2id_phc(&a));
        assert!(h.verify("cheval-agrafe-pile", &a).await);
        assert!(!h.verify("cheval-agrafe-pilf", &a).await);
        assert!(!h.verify("x", "not a hash").await);
    }
}

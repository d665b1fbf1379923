//! argon2id hashing on a bounded blocking pool: at most one hash per core at once, so a
//! burst of sign-ins can neither exhaust memory nor stall the async runtime.

use std::sync::{Arc, Mutex, PoisonError};

use argon2::password_hash::phc::Output;
use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, Version};
use serde::Deserialize;
use tokio::sync::Semaphore;

/// `[argon2]`: cost of the password and secret hashes.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Argon2Config {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Iterations.
    pub t: u32,
    /// Parallelism.
    pub p: u32,
}

impl Default for Argon2Config {
    fn default() -> Self {
        Argon2Config {
            m_kib: 19_456,
            t: 2,
            p: 1,
        }
    }
}

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
    /// The working memory of finished verifications, reused by the next ones.
    memory: Arc<Memory>,
}

/// Working memory of argon2 (`m_kib` KiB per hash), kept between verifications: a fresh
/// allocation is zeroed page by page by the kernel (or by malloc), which costs about a
/// third of the hash itself. At most one buffer per permit is kept.
struct Memory {
    free: Mutex<Vec<Vec<Block>>>,
    most: usize,
}

impl Memory {
    fn take(&self) -> Vec<Block> {
        self.free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_default()
    }

    fn give(&self, blocks: Vec<Block>) {
        let mut free = self.free.lock().unwrap_or_else(PoisonError::into_inner);
        if free.len() < self.most {
            free.push(blocks);
        }
    }
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
            memory: Arc::new(Memory {
                free: Mutex::new(Vec::new()),
                most: cores,
            }),
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
        let memory = Arc::clone(&self.memory);
        tokio::task::spawn_blocking(move || {
            let mut blocks = memory.take();
            let verified = verify_in(secret.as_bytes(), &phc, &mut blocks);
            memory.give(blocks);
            verified
        })
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

/// Verifies a secret against a PHC string synchronously (checks at start, CLI).
pub fn verify_blocking(secret: &str, phc: &str) -> bool {
    verify_in(secret.as_bytes(), phc, &mut Vec::new())
}

fn hash_now(params: &Params, secret: &[u8]) -> Result<String, HashError> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password(secret)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Verifies in the given working memory (resized to the hash's parameters; argon2
/// writes every block before reading it, so what it held does not matter). Any
/// malformed hash is a mismatch.
fn verify_in(secret: &[u8], phc: &str, blocks: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::new(hash.algorithm.as_str()) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    blocks.resize(params.block_count(), Block::default());
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        secret,
        salt.as_ref(),
        &mut out,
        blocks.as_mut_slice(),
    );
    // `Output`'s equality is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|o| &o == expected)
}

#[cfg(test)]
mod tests {
    use argon2::PasswordVerifier;

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

    #[test]
    fn reused_memory_verifies_as_the_crate_does_whatever_it_held() {
        let small = Params::new(64, 1, 1, None).unwrap();
        let large = Params::new(256, 2, 2, None).unwrap();
        let a = hash_now(&small, b"cheval-agrafe-pile").unwrap();
        let b = hash_now(&large, b"cheval-agrafe-pile").unwrap();
        // Memory full of leftovers, too small, then too large for the next hash.
        let mut blocks = vec![Block::default(); 3];
        for phc in [&b, &a, &b, &a] {
            for (secret, right) in [("cheval-agrafe-pile", true), ("cheval-agrafe-pilf", false)] {
                assert_eq!(verify_in(secret.as_bytes(), phc, &mut blocks), right);
                assert_eq!(
                    Argon2::default()
                        .verify_password(secret.as_bytes(), phc.as_str())
                        .is_ok(),
                    right
                );
            }
        }
        for broken in ["", "not a hash", "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"] {
            assert!(!verify_in(b"x", broken, &mut blocks));
        }
        // Another algorithm of the family is verified as its PHC string says.
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, small.clone())
            .hash_password(b"pile")
            .unwrap()
            .to_string();
        assert!(verify_in(b"pile", &argon2i, &mut blocks));
        assert!(!verify_in(b"face", &argon2i, &mut blocks));
    }
}

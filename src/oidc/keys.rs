//! Signing keys: one per algorithm (RS256, ES256, EdDSA), generated at first start and
//! kept in the face's own tree. Every key signs and verifies through ring (RS256
//! signatures through aws-lc when built with `aws-lc-rsa`, see [`super::rs256`]); `rsa`
//! only generates RSA keys (ring cannot).
//!
//! Rotation: a rotation adds one key per algorithm that is published at once and signs
//! only from `signs_from` (a delay later, at least the JWKS cache lifetime), so relying
//! parties see a key before any token carries it. The newest key whose time has come
//! signs; a key that was outranked stays published until every token it signed has
//! expired (`retention` after it stopped signing), then it is dropped.

use std::fmt;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openidconnect::core::{CoreJsonCurveType, CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKeyId, JsonWebKeySet, PrivateSigningKey, SigningError};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Serialize};

use super::rs256::Rs256;
use crate::store::table::{StateError, Table};

/// Where a key is in its life, and how the operator sees it: the operator API's port
/// owns these types.
pub use crate::http::keys::{KeyState, KeyStatus};

/// Name of the face tree holding the keys.
pub const TREE: &str = "oidc_keys";

/// Bits of a generated RSA modulus.
const RSA_BITS: usize = 2048;

/// Seconds relying parties may cache the JWKS (its `Cache-Control: max-age`).
pub const JWKS_MAX_AGE: i64 = 300;
/// Shortest delay between the publication of a new key and its first signature.
pub const MIN_ROTATION_DELAY: i64 = JWKS_MAX_AGE;
/// Default delay between the publication of a new key and its first signature.
pub const DEFAULT_ROTATION_DELAY: i64 = 2 * JWKS_MAX_AGE;
/// Longest delay a rotation may ask for (a week).
pub const MAX_ROTATION_DELAY: i64 = 7 * 86_400;
/// Clock skew allowed to relying parties that check `exp`, in seconds.
const SKEW_SECONDS: i64 = 60;

/// How long a key stays published after it stopped signing: the longest life of a
/// token it signed (access and ID tokens, logout tokens), plus clock skew.
pub fn retention(access_token_seconds: u32) -> i64 {
    i64::from(access_token_seconds).max(super::backchannel::LOGOUT_TOKEN_SECONDS) + SKEW_SECONDS
}

/// A signature algorithm of ID tokens and access tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// ECDSA on P-256 with SHA-256.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    /// Every algorithm, the default first.
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parses the JOSE name (only the three we sign with).
    pub fn parse(s: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The openidconnect name.
    pub fn jws(self) -> CoreJwsSigningAlgorithm {
        match self {
            Alg::RS256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            Alg::ES256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            Alg::EdDSA => CoreJwsSigningAlgorithm::EdDsa,
        }
    }
}

/// A key could not be made, read or used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Generation or parsing failed.
    #[error("signing key: {0}")]
    Crypto(String),
    /// The key table failed.
    #[error("signing keys store: {0}")]
    Store(#[from] StateError),
    /// No key for an algorithm.
    #[error("no signing key for {0}")]
    Missing(&'static str),
}

/// The stored form of a key. Its Debug output hides the private key.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    /// Key id, published in JWKS and in every JWS header.
    pub kid: String,
    /// Its algorithm.
    pub alg: Alg,
    /// When it was generated (unix seconds).
    pub created_at: i64,
    /// When it may start signing (unix seconds); published from its creation.
    #[serde(default)]
    pub signs_from: i64,
    /// PKCS#8 DER of the private key, base64.
    pkcs8: String,
}

impl fmt::Debug for KeyRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyRecord")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("created_at", &self.created_at)
            .field("signs_from", &self.signs_from)
            .finish_non_exhaustive()
    }
}

/// Generates a key record (blocking: RSA generation takes a while).
pub fn generate(alg: Alg, now: i64) -> Result<KeyRecord, KeyError> {
    let rng = SystemRandom::new();
    let crypto = |e: &dyn fmt::Display| KeyError::Crypto(e.to_string());
    let pkcs8: Vec<u8> = match alg {
        Alg::RS256 => {
            use rsa::pkcs8::EncodePrivateKey;
            let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, RSA_BITS)
                .map_err(|e| crypto(&e))?;
            key.to_pkcs8_der()
                .map_err(|e| crypto(&e))?
                .as_bytes()
                .to_vec()
        }
        Alg::ES256 => {
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .map_err(|e| crypto(&e))?
                .as_ref()
                .to_vec()
        }
        Alg::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|e| crypto(&e))?
            .as_ref()
            .to_vec(),
    };
    let mut record = KeyRecord {
        kid: String::new(),
        alg,
        created_at: now,
        signs_from: now,
        pkcs8: STANDARD.encode(&pkcs8),
    };
    let key = SigningKey::from_record(&record)?;
    record.kid = key.thumbprint();
    Ok(record)
}

/// The private half of a key.
enum Private {
    Rsa(Rs256),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A key ready to sign and verify.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    signs_from: i64,
    private: Private,
    public: Vec<u8>,
    jwk: CoreJsonWebKey,
    rng: SystemRandom,
}

impl SigningKey {
    /// Reads a stored key.
    pub fn from_record(record: &KeyRecord) -> Result<SigningKey, KeyError> {
        let crypto = |e: &dyn fmt::Display| KeyError::Crypto(e.to_string());
        let der = STANDARD.decode(&record.pkcs8).map_err(|e| crypto(&e))?;
        let rng = SystemRandom::new();
        let kid = Some(JsonWebKeyId::new(record.kid.clone()));
        let (private, public, jwk) = match record.alg {
            Alg::RS256 => {
                let pair = Rs256::from_pkcs8(&der).map_err(|e| crypto(&e))?;
                let parts = pair.public();
                let jwk = CoreJsonWebKey::new_rsa(parts.n.clone(), parts.e.clone(), kid);
                let public = pair.public_der().to_vec();
                (Private::Rsa(pair), public, jwk)
            }
            Alg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &der,
                    &rng,
                )
                .map_err(|e| crypto(&e))?;
                let point = pair.public_key().as_ref().to_vec();
                // An uncompressed point: 0x04 || x (32 bytes) || y (32 bytes).
                let (x, y) = match (point.get(1..33), point.get(33..65)) {
                    (Some(x), Some(y)) => (x.to_vec(), y.to_vec()),
                    _ => return Err(KeyError::Crypto("unexpected P-256 public key".into())),
                };
                let jwk = CoreJsonWebKey::new_ec(x, y, CoreJsonCurveType::P256, kid);
                (Private::Ec(pair), point, jwk)
            }
            Alg::EdDSA => {
                let pair =
                    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|e| crypto(&e))?;
                let public = pair.public_key().as_ref().to_vec();
                let jwk = CoreJsonWebKey::new_okp(public.clone(), CoreJsonCurveType::Ed25519, kid);
                (Private::Ed(pair), public, jwk)
            }
        };
        Ok(SigningKey {
            kid: record.kid.clone(),
            alg: record.alg,
            signs_from: record.signs_from,
            private,
            public,
            jwk,
            rng,
        })
    }

    /// Its key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Its algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Its public half as a JWK.
    pub fn jwk(&self) -> &CoreJsonWebKey {
        &self.jwk
    }

    /// A key id derived from the public key (stable, no secret in it).
    fn thumbprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.public);
        let short = digest.as_ref().get(..12).unwrap_or_default();
        format!("{}-{}", self.alg.as_str(), URL_SAFE_NO_PAD.encode(short))
    }

    /// Signs a message with the key's own algorithm.
    pub fn sign_bytes(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError::Crypto("signature failed".into());
        match &self.private {
            Private::Rsa(pair) => pair.sign(message).map_err(|_| failed()),
            Private::Ec(pair) => Ok(pair
                .sign(&self.rng, message)
                .map_err(|_| failed())?
                .as_ref()
                .to_vec()),
            Private::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// Whether `sig` is this key's signature of `message`.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        // `public` is in the form each algorithm reads: PKCS#1 DER for RSA, the point
        // for P-256, the 32 bytes for Ed25519.
        let alg: &'static dyn signature::VerificationAlgorithm = match &self.private {
            Private::Rsa(_) => &signature::RSA_PKCS1_2048_8192_SHA256,
            Private::Ec(_) => &signature::ECDSA_P256_SHA256_FIXED,
            Private::Ed(_) => &signature::ED25519,
        };
        signature::UnparsedPublicKey::new(alg, &self.public)
            .verify(message, sig)
            .is_ok()
    }
}

impl PrivateSigningKey for SigningKey {
    type VerificationKey = CoreJsonWebKey;

    fn sign(
        &self,
        signature_alg: &CoreJwsSigningAlgorithm,
        message: &[u8],
    ) -> Result<Vec<u8>, SigningError> {
        if *signature_alg != self.alg.jws() {
            return Err(SigningError::UnsupportedAlg(format!("{signature_alg:?}")));
        }
        self.sign_bytes(message)
            .map_err(|_| SigningError::CryptoError)
    }

    fn as_verification_key(&self) -> CoreJsonWebKey {
        self.jwk.clone()
    }
}

/// Every key of the issuer.
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    /// Builds the ring from stored records.
    pub fn from_records(records: &[KeyRecord]) -> Result<KeyRing, KeyError> {
        let keys = records
            .iter()
            .map(|r| SigningKey::from_record(r).map(Arc::new))
            .collect::<Result<Vec<_>, _>>()?;
        for alg in Alg::ALL {
            if !keys.iter().any(|k| k.alg == alg) {
                return Err(KeyError::Missing(alg.as_str()));
            }
        }
        Ok(KeyRing { keys })
    }

    /// The key that signs with `alg` at `now`: the newest whose time has come (or, if
    /// none has, the first to come).
    pub fn signer(&self, alg: Alg, now: i64) -> Option<Arc<SigningKey>> {
        let of_alg = || self.keys.iter().filter(|k| k.alg == alg);
        of_alg()
            .filter(|k| k.signs_from <= now)
            .max_by(|a, b| rank(a.signs_from, &a.kid).cmp(&rank(b.signs_from, &b.kid)))
            .or_else(|| of_alg().min_by_key(|k| rank(k.signs_from, &k.kid)))
            .cloned()
    }

    /// The key with this id.
    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid).map(AsRef::as_ref)
    }

    /// The public keys, as published.
    pub fn jwks(&self) -> JsonWebKeySet<CoreJsonWebKey> {
        JsonWebKeySet::new(self.keys.iter().map(|k| k.jwk.clone()).collect())
    }

    /// The key ids and algorithms, for publication next to the JWKs.
    pub fn algs(&self) -> Vec<(String, Alg)> {
        self.keys.iter().map(|k| (k.kid.clone(), k.alg)).collect()
    }
}

/// Reads every stored key record.
pub fn records(table: &Table<KeyRecord>) -> Result<Vec<KeyRecord>, KeyError> {
    // Strict: a record that does not read stops the start instead of being replaced.
    Ok(table.values()?)
}

/// Stores key records (made elsewhere, e.g. once for a whole test run) and flushes.
pub fn install(table: &Table<KeyRecord>, records: &[KeyRecord]) -> Result<(), KeyError> {
    for r in records {
        table.put(r.kid.as_bytes(), r)?;
    }
    table.flush()?;
    Ok(())
}

fn rank(signs_from: i64, kid: &str) -> (i64, &str) {
    (signs_from, kid)
}

/// When a key stops signing: when the first key of its algorithm that outranks it
/// starts (None while nothing outranks it).
fn outranked_at(record: &KeyRecord, records: &[KeyRecord]) -> Option<i64> {
    let mine = rank(record.signs_from, &record.kid);
    records
        .iter()
        .filter(|r| r.alg == record.alg && rank(r.signs_from, &r.kid) > mine)
        .map(|r| r.signs_from)
        .min()
}

/// The life of every key at `now`, oldest first. `retention` is the longest life of a
/// token signed by a key (plus clock skew).
pub fn status(records: &[KeyRecord], now: i64, retention: i64) -> Vec<KeyStatus> {
    let mut out: Vec<KeyStatus> = records
        .iter()
        .map(|r| {
            let until = outranked_at(r, records);
            let state = match until {
                _ if r.signs_from > now => KeyState::Next,
                Some(t) if t <= now => KeyState::Retiring,
                _ => KeyState::Signing,
            };
            KeyStatus {
                kid: r.kid.clone(),
                alg: r.alg.as_str(),
                state,
                created_at: r.created_at,
                signs_from: r.signs_from,
                signs_until: until,
                dropped_at: until.map(|t| t.saturating_add(retention)),
            }
        })
        .collect();
    out.sort_by(|a, b| (a.alg, a.signs_from, &a.kid).cmp(&(b.alg, b.signs_from, &b.kid)));
    out
}

/// The keys still published at `now`, and when the next one leaves.
pub fn published(records: &[KeyRecord], now: i64, retention: i64) -> (Vec<KeyRecord>, Option<i64>) {
    let mut kept = Vec::new();
    let mut next = None::<i64>;
    for r in records {
        match outranked_at(r, records).map(|t| t.saturating_add(retention)) {
            Some(gone) if gone <= now => {}
            Some(gone) => {
                next = Some(next.map_or(gone, |n| n.min(gone)));
                kept.push(r.clone());
            }
            None => kept.push(r.clone()),
        }
    }
    (kept, next)
}

/// Removes the keys whose every token has expired; returns the keys left and when the
/// next one leaves. Blocking.
pub fn drop_retired(
    table: &Table<KeyRecord>,
    now: i64,
    retention: i64,
) -> Result<(Vec<KeyRecord>, Option<i64>), KeyError> {
    let all = records(table)?;
    let (kept, next) = published(&all, now, retention);
    let gone: Vec<&KeyRecord> = all
        .iter()
        .filter(|r| !kept.iter().any(|k| k.kid == r.kid))
        .collect();
    if !gone.is_empty() {
        for r in &gone {
            table.remove(r.kid.as_bytes())?;
        }
        table.flush()?;
        tracing::info!(
            kids = ?gone.iter().map(|r| r.kid.as_str()).collect::<Vec<_>>(),
            "dropped retired OIDC signing keys"
        );
    }
    Ok((kept, next))
}

/// Generates one new key per algorithm, published now and signing after `delay`
/// seconds (clamped to the allowed range); returns the new records. Blocking.
pub fn rotate(table: &Table<KeyRecord>, now: i64, delay: i64) -> Result<Vec<KeyRecord>, KeyError> {
    let delay = delay.clamp(MIN_ROTATION_DELAY, MAX_ROTATION_DELAY);
    let mut fresh = Vec::new();
    for alg in Alg::ALL {
        let mut r = generate(alg, now)?;
        r.signs_from = now + delay;
        fresh.push(r);
    }
    install(table, &fresh)?;
    tracing::info!(
        kids = ?fresh.iter().map(|r| r.kid.as_str()).collect::<Vec<_>>(),
        signs_from = now + delay,
        "rotated OIDC signing keys: published now, signing later"
    );
    Ok(fresh)
}

/// Loads the keys, generating (and storing) one for every algorithm that has none
/// yet. Blocking: run it off the async runtime.
pub fn load_or_generate(table: &Table<KeyRecord>, now: i64) -> Result<KeyRing, KeyError> {
    let mut stored = records(table)?;
    let mut fresh = Vec::new();
    for alg in Alg::ALL {
        if !stored.iter().any(|r| r.alg == alg) {
            fresh.push(generate(alg, now)?);
        }
    }
    if !fresh.is_empty() {
        install(table, &fresh)?;
        tracing::info!(
            kids = ?fresh.iter().map(|r| r.kid.as_str()).collect::<Vec<_>>(),
            "generated OIDC signing keys"
        );
        stored.extend(fresh);
    }
    KeyRing::from_records(&stored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies_and_never_leaks_in_debug() {
        for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
            let record = generate(alg, 0).unwrap();
            assert!(record.kid.starts_with(alg.as_str()));
            let debug = format!("{record:?}");
            assert!(!debug.contains(&record.pkcs8), "{debug}");
            let key = SigningKey::from_record(&record).unwrap();
            let sig = key.sign_bytes(b"message").unwrap();
            assert!(key.verify(b"message", &sig));
            assert!(!key.verify(b"messagf", &sig));
        }
    }

    fn record(kid: &str, signs_from: i64) -> KeyRecord {
        KeyRecord {
            kid: kid.into(),
            alg: Alg::ES256,
            created_at: 0,
            signs_from,
            pkcs8: String::new(),
        }
    }

    #[test]
    fn a_new_key_is_published_before_it_signs_and_the_old_one_until_its_tokens_expire() {
        let all = vec![record("old", 0), record("new", 1000)];
        let state =
            |now| -> Vec<KeyState> { status(&all, now, 400).iter().map(|s| s.state).collect() };
        assert_eq!(state(500), [KeyState::Signing, KeyState::Next]);
        assert_eq!(state(1000), [KeyState::Retiring, KeyState::Signing]);
        let (kept, next) = published(&all, 1399, 400);
        assert_eq!((kept.len(), next), (2, Some(1400)));
        let (kept, next) = published(&all, 1400, 400);
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].kid.as_str(), next), ("new", None));
    }

    #[test]
    fn the_newest_key_whose_time_has_come_signs() {
        let records: Vec<KeyRecord> = Alg::ALL
            .iter()
            .flat_map(|a| {
                let mut old = generate(*a, 0).unwrap();
                old.signs_from = 0;
                let mut new = generate(*a, 0).unwrap();
                new.signs_from = 600;
                [old, new]
            })
            .collect();
        let ring = KeyRing::from_records(&records).unwrap();
        for alg in Alg::ALL {
            let before = ring.signer(alg, 599).unwrap();
            let after = ring.signer(alg, 600).unwrap();
            assert_ne!(before.kid(), after.kid());
            assert_eq!(after.signs_from, 600);
        }
    }
}

//! Compact JWS of our own tokens (access tokens, and the ID tokens we get back as
//! `id_token_hint`): signing with a [`SigningKey`], and verification that accepts only
//! our keys with their own algorithm — never `none`, never a foreign key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::{KeyRing, SigningKey};

/// Longest token we look at.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The protected header.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Header {
    /// Algorithm.
    pub alg: String,
    /// Key id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Media type (`at+jwt` for access tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// Why a token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    /// Not a compact JWS of three base64url parts.
    #[error("malformed token")]
    Malformed,
    /// Unsigned, or signed with an algorithm or key that is not ours.
    #[error("token not signed by this issuer")]
    ForeignKey,
    /// The signature does not match.
    #[error("bad signature")]
    BadSignature,
    /// Signing failed.
    #[error("signing failed")]
    Signing,
}

/// Signs `claims` as a compact JWS.
pub fn encode<C: Serialize>(key: &SigningKey, typ: &str, claims: &C) -> Result<String, JwsError> {
    let header = Header {
        alg: key.alg().as_str().to_owned(),
        kid: Some(key.kid().to_owned()),
        typ: Some(typ.to_owned()),
    };
    let h = serde_json::to_vec(&header).map_err(|_| JwsError::Signing)?;
    let p = serde_json::to_vec(claims).map_err(|_| JwsError::Signing)?;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h),
        URL_SAFE_NO_PAD.encode(p)
    );
    let sig = key
        .sign_bytes(input.as_bytes())
        .map_err(|_| JwsError::Signing)?;
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Verifies a token against our keys and decodes its claims.
pub fn decode<C: DeserializeOwned>(keys: &KeyRing, token: &str) -> Result<(Header, C), JwsError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(JwsError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let header_bytes = URL_SAFE_NO_PAD.decode(h).map_err(|_| JwsError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| JwsError::Malformed)?;
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.by_kid(kid))
        .ok_or(JwsError::ForeignKey)?;
    if key.alg().as_str() != header.alg {
        return Err(JwsError::ForeignKey);
    }
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwsError::Malformed)?;
    let signed_len = h.len() + 1 + p.len();
    let input = token.get(..signed_len).ok_or(JwsError::Malformed)?;
    if !key.verify(input.as_bytes(), &sig) {
        return Err(JwsError::BadSignature);
    }
    let payload = URL_SAFE_NO_PAD.decode(p).map_err(|_| JwsError::Malformed)?;
    let claims = serde_json::from_slice(&payload).map_err(|_| JwsError::Malformed)?;
    Ok((header, claims))
}

#[cfg(test)]
mod tests {
    use super::super::keys::{Alg, KeyRecord, generate};
    use super::*;
    use serde_json::{Value, json};

    fn ring() -> (KeyRing, Vec<KeyRecord>) {
        let records: Vec<KeyRecord> = Alg::ALL.iter().map(|a| generate(*a, 0).unwrap()).collect();
        (KeyRing::from_records(&records).unwrap(), records)
    }

    #[test]
    fn tokens_round_trip_and_tampering_or_none_is_refused() {
        let (keys, _) = ring();
        for alg in [Alg::ES256, Alg::EdDSA, Alg::RS256] {
            let key = keys.signer(alg, 0).unwrap();
            let t = encode(&key, "at+jwt", &json!({"sub": "x"})).unwrap();
            let (h, c): (Header, Value) = decode(&keys, &t).unwrap();
            assert_eq!(h.typ.as_deref(), Some("at+jwt"));
            assert_eq!(c["sub"], "x");
            let mut parts: Vec<&str> = t.split('.').collect();
            let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#);
            parts[1] = &forged;
            assert_eq!(
                decode::<Value>(&keys, &parts.join(".")).unwrap_err(),
                JwsError::BadSignature
            );
        }
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#)
        );
        assert_eq!(
            decode::<Value>(&keys, &none).unwrap_err(),
            JwsError::ForeignKey
        );
    }

    #[test]
    fn a_key_is_only_accepted_with_its_own_algorithm() {
        let (keys, _) = ring();
        let es = keys.signer(Alg::ES256, 0).unwrap();
        let t = encode(&es, "JWT", &json!({})).unwrap();
        let mut parts: Vec<String> = t.split('.').map(str::to_owned).collect();
        parts[0] = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&json!({"alg": "RS256", "kid": es.kid()})).unwrap());
        assert_eq!(
            decode::<Value>(&keys, &parts.join(".")).unwrap_err(),
            JwsError::ForeignKey
        );
        let (other, _) = ring();
        assert_eq!(
            decode::<Value>(&other, &t).unwrap_err(),
            JwsError::ForeignKey
        );
    }
}

//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, or a public client's bare `client_id`.
//! Secrets are argon2id hashes verified off the runtime; a verified secret is then
//! remembered as a keyed digest, so a busy client costs one argon2 per process.

use std::collections::HashMap;
use std::sync::RwLock;

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use subtle::ConstantTimeEq;

use std::net::IpAddr;

use super::params::{OAuthError, Params};
use crate::catalogue::{Application, Catalogue, OidcClient};
use crate::directory::{DirError, Directory};

/// A client that proved who it is.
#[derive(Debug, Clone, Copy)]
pub struct Caller<'c> {
    /// Its application.
    pub app: &'c Application,
    /// Its OIDC registration.
    pub client: &'c OidcClient,
}

impl Caller<'_> {
    /// Whether it has a secret.
    pub fn confidential(&self) -> bool {
        self.client.client_secret_hash.is_some()
    }
}

/// Secrets already verified, as HMAC digests under a key of this process.
pub struct SecretCache {
    key: hmac::Key,
    verified: RwLock<HashMap<String, Vec<u8>>>,
}

impl SecretCache {
    /// An empty cache with a fresh key.
    pub fn new() -> SecretCache {
        let mut bytes = [0u8; 32];
        crate::auth::token::fill_random(&mut bytes);
        let key = hmac::Key::new(hmac::HMAC_SHA256, &bytes);
        SecretCache {
            key,
            verified: RwLock::new(HashMap::new()),
        }
    }

    fn tag(&self, phc: &str, secret: &str) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(phc.as_bytes());
        ctx.update(&[0]);
        ctx.update(secret.as_bytes());
        ctx.sign().as_ref().to_vec()
    }

    fn known(&self, client_id: &str, tag: &[u8]) -> bool {
        let verified = self
            .verified
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        verified
            .get(client_id)
            .is_some_and(|t| bool::from(t.as_slice().ct_eq(tag)))
    }

    fn remember(&self, client_id: &str, tag: Vec<u8>) {
        let mut verified = self
            .verified
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        verified.insert(client_id.to_owned(), tag);
    }
}

impl Default for SecretCache {
    fn default() -> Self {
        Self::new()
    }
}

/// The credentials a request presents.
#[derive(Debug, PartialEq, Eq)]
struct Presented {
    client_id: String,
    secret: Option<String>,
    /// `client_secret_basic`, `client_secret_post` or `none`.
    method: &'static str,
}

fn invalid_client(m: &str) -> OAuthError {
    OAuthError::new("invalid_client", m)
}

/// Reads the credentials: HTTP Basic (RFC 6749 §2.3.1, form-encoded parts) or the form.
fn presented(headers: &HeaderMap, params: &Params) -> Result<Presented, OAuthError> {
    let form_id = params.one("client_id")?;
    let form_secret = params.one("client_secret")?;
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"));
    if let Some((_, encoded)) = basic {
        if form_secret.is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                "use one client authentication method only",
            ));
        }
        let decoded = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let (id, secret) = decoded
            .split_once(':')
            .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
        let id = form_decode(id);
        if form_id.is_some_and(|f| f != id) {
            return Err(invalid_client(
                "client_id differs from the Basic credentials",
            ));
        }
        return Ok(Presented {
            client_id: id,
            secret: Some(form_decode(secret)),
            method: "client_secret_basic",
        });
    }
    let client_id = form_id.ok_or_else(|| invalid_client("client authentication is required"))?;
    Ok(Presented {
        client_id: client_id.to_owned(),
        secret: form_secret.map(str::to_owned),
        method: if form_secret.is_some() {
            "client_secret_post"
        } else {
            "none"
        },
    })
}

fn form_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Authenticates the client of a request from `addr`. A secret is checked by the core,
/// per (client, source): wrong secrets from one address never keep the client out
/// from another. A client registered with a `token_endpoint_auth_method` must use it.
pub async fn authenticate<'c>(
    directory: &Directory,
    catalogue: &'c Catalogue,
    cache: &SecretCache,
    headers: &HeaderMap,
    params: &Params,
    addr: IpAddr,
) -> Result<Caller<'c>, OAuthError> {
    let p = presented(headers, params)?;
    let (app, client) = catalogue
        .by_client_id(&p.client_id)
        .and_then(|a| a.oidc.as_ref().map(|c| (a, c)))
        .ok_or_else(|| invalid_client("unknown client"))?;
    if let Some(registered) = &client.token_endpoint_auth_method
        && *registered != p.method
    {
        return Err(invalid_client(&format!(
            "this client authenticates with {registered}, not {}",
            p.method
        )));
    }
    let caller = Caller { app, client };
    match (&client.client_secret_hash, p.secret) {
        (None, None) => Ok(caller),
        (None, Some(_)) => Err(invalid_client("a public client has no secret")),
        (Some(_), None) => Err(invalid_client("client authentication is required")),
        (Some(phcs), Some(secret)) => {
            let tag = cache.tag(&phcs.all().join("\n"), &secret);
            if cache.known(&client.client_id, &tag) {
                return Ok(caller);
            }
            let key = format!("oidc:{}", client.client_id);
            match directory
                .authenticate_service(&key, phcs.all(), &secret, addr)
                .await
            {
                Ok(()) => {
                    cache.remember(&client.client_id, tag);
                    Ok(caller)
                }
                Err(DirError::TooManyAttempts { retry_after }) => {
                    Err(OAuthError::slow_down("invalid_client", retry_after))
                }
                Err(_) => Err(invalid_client("client authentication failed")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let v = STANDARD.encode("my%20client:s%3Acret");
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {v}")).unwrap(),
        );
        let p = presented(&h, &Params::default()).unwrap();
        assert_eq!(p.client_id, "my client");
        assert_eq!(p.secret.as_deref(), Some("s:cret"));
        let both = Params(vec![("client_secret".into(), "x".into())]);
        assert_eq!(presented(&h, &both).unwrap_err().error, "invalid_request");
    }
}

//! Minting and checking the tokens of this issuer: access tokens (RFC 9068 JWTs, typ
//! `at+jwt`, always ES256) and ID tokens (through `openidconnect`'s types, signed with
//! the client's algorithm).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use openidconnect::{
    AccessToken, Audience, AuthenticationContextClass, AuthenticationMethodReference,
    IdTokenClaims, Nonce,
};
use serde::{Deserialize, Serialize};

use super::Oidc;
use super::claims::{ApexClaims, ApexIdToken, UserClaims};
use super::grants::Authentication;
use super::jws;
use super::keys::{Alg, SigningKey};
use super::memo;
use super::params::OAuthError;
use crate::catalogue::OidcClient;

/// Media type of our access tokens (RFC 9068 §2.1).
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// The claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// The account id, or the client id for client_credentials.
    pub sub: String,
    /// The client (its own APIs are the audience).
    pub aud: String,
    /// The client.
    pub client_id: String,
    /// Expiry.
    pub exp: i64,
    /// Issue time.
    pub iat: i64,
    /// Unique id (revocation).
    pub jti: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// Sign-in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// Context class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    /// Methods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The grant (token family) it belongs to; absent for client_credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gid: Option<String>,
    /// Profiles for the client's application (scope `apex`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
}

/// A valid access token.
#[derive(Debug, Clone)]
pub struct Access {
    /// Its claims.
    pub claims: AccessClaims,
    /// How its person signed in (its family's); None for a client's own token.
    pub authentication: Option<Authentication>,
}

/// Who an access token is for.
pub enum Holder<'a> {
    /// A person, within a grant.
    Person {
        /// How he signed in.
        authentication: &'a Authentication,
        /// The grant id.
        grant_id: &'a str,
        /// Profiles to carry (scope `apex`).
        profiles: Option<Vec<String>>,
    },
    /// The client itself (client_credentials).
    Client,
}

fn time(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

impl Oidc {
    /// The signing key for a client at `now` (its declared algorithm, RS256 by default).
    pub fn signer_for(&self, client: &OidcClient, now: i64) -> Result<Arc<SigningKey>, OAuthError> {
        let alg = Alg::parse(&client.id_token_signed_response_alg).unwrap_or(Alg::RS256);
        self.keys()
            .ring
            .signer(alg, now)
            .ok_or_else(|| OAuthError::server("no signing key"))
    }

    /// Mints an access token; returns it with its claims.
    pub fn mint_access(
        &self,
        client: &OidcClient,
        holder: Holder<'_>,
        scope: &[String],
        now: i64,
    ) -> Result<(String, AccessClaims), OAuthError> {
        let mut claims = AccessClaims {
            iss: self.base.clone(),
            sub: client.client_id.clone(),
            aud: client.client_id.clone(),
            client_id: client.client_id.clone(),
            exp: now + i64::from(self.config.access_token_seconds),
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            scope: scope.join(" "),
            auth_time: None,
            acr: None,
            amr: None,
            gid: None,
            profiles: None,
        };
        if let Holder::Person {
            authentication,
            grant_id,
            profiles,
        } = holder
        {
            claims.sub = authentication.account_id.clone();
            claims.auth_time = Some(authentication.auth_time);
            claims.acr = Some(authentication.acr.clone());
            claims.amr = Some(authentication.amr.clone());
            claims.gid = Some(grant_id.to_owned());
            claims.profiles = profiles;
        }
        // Access tokens are for resource servers, which read every key from the JWKS:
        // ES256 whatever the client's ID-token algorithm, so that an RS256 client pays
        // one RSA signature per exchange (its ID token), not two.
        let key = self
            .keys()
            .ring
            .signer(Alg::ES256, now)
            .ok_or_else(|| OAuthError::server("no signing key"))?;
        let token = jws::encode(&key, ACCESS_TOKEN_TYP, &claims).map_err(OAuthError::server)?;
        Ok((token, claims))
    }

    /// Mints an ID token.
    pub fn mint_id_token(
        &self,
        client: &OidcClient,
        user: &UserClaims,
        authentication: &Authentication,
        nonce: Option<&str>,
        access_token: &str,
        now: i64,
    ) -> Result<String, OAuthError> {
        let key = self.signer_for(client, now)?;
        let claims = IdTokenClaims::new(
            self.issuer.clone(),
            vec![Audience::new(client.client_id.clone())],
            time(now + i64::from(self.config.access_token_seconds)),
            time(now),
            user.standard(),
            ApexClaims {
                sid: authentication.sid.clone(),
                ..user.apex.clone()
            },
        )
        .set_auth_time(Some(time(authentication.auth_time)))
        .set_nonce(nonce.map(|n| Nonce::new(n.to_owned())))
        .set_auth_context_ref(Some(AuthenticationContextClass::new(
            authentication.acr.clone(),
        )))
        .set_auth_method_refs(Some(
            authentication
                .amr
                .iter()
                .map(|m| AuthenticationMethodReference::new(m.clone()))
                .collect(),
        ));
        let token = ApexIdToken::new(
            claims,
            key.as_ref(),
            key.alg().jws(),
            Some(&AccessToken::new(access_token.to_owned())),
            None,
        )
        .map_err(OAuthError::server)?;
        let value = serde_json::to_value(&token).map_err(OAuthError::server)?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| OAuthError::server("ID token did not serialise as a string"))
    }

    /// Checks an access token: ours, unexpired, not revoked, its grant alive. Returns
    /// its claims and, for a person's token, how he signed in (the family's sign-in,
    /// which the caller checks against the account as it is now).
    pub fn check_access(&self, token: &str, now: i64) -> Result<Access, OAuthError> {
        let invalid = |m: &str| OAuthError::new("invalid_token", m);
        let key = memo::digest(token);
        let claims = match self.verified.get(&key) {
            Some(c) => c,
            None => {
                let (header, claims): (_, AccessClaims) =
                    jws::decode(&self.keys().ring, token).map_err(|e| invalid(&e.to_string()))?;
                if header.typ.as_deref() != Some(ACCESS_TOKEN_TYP) || claims.iss != self.base {
                    return Err(invalid("not an access token of this issuer"));
                }
                let claims = Arc::new(claims);
                self.verified.put(key, Arc::clone(&claims));
                claims
            }
        };
        if claims.exp <= now {
            return Err(invalid("the access token has expired"));
        }
        if self
            .grants
            .access_revoked(&claims.jti)
            .map_err(OAuthError::server)?
        {
            return Err(invalid("the access token was revoked"));
        }
        let authentication = match &claims.gid {
            Some(gid) => Some(
                self.grants
                    .live(gid, now)
                    .map_err(OAuthError::server)?
                    .ok_or_else(|| invalid("the access token was revoked"))?
                    .authentication,
            ),
            None => None,
        };
        Ok(Access {
            claims: AccessClaims::clone(&claims),
            authentication,
        })
    }

    /// The subject and audience of an ID token of ours (expired ones too), for
    /// `id_token_hint`. Unsigned tokens and foreign keys are refused.
    pub fn id_token_hint(&self, token: &str) -> Option<IdTokenHint> {
        let (header, hint): (_, IdTokenHint) = jws::decode(&self.keys().ring, token).ok()?;
        (header
            .typ
            .as_deref()
            .is_none_or(|t| t.eq_ignore_ascii_case("JWT"))
            && hint.iss == self.base)
            .then_some(hint)
    }
}

/// What we read from an `id_token_hint`.
#[derive(Debug, Clone, Deserialize)]
pub struct IdTokenHint {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience: one client id or several.
    #[serde(deserialize_with = "one_or_many")]
    pub aud: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

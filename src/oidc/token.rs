//! The token endpoint: `authorization_code` (PKCE, single-use codes), `refresh_token`
//! (rotation with reuse detection) and `client_credentials`.

use std::net::IpAddr;
use std::sync::Arc;

use crate::http::client::ClientAddr;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::Oidc;
use super::OidcState;
use super::authorize::{SCOPES, gate, is_pkce_value};
use super::claims::{Person, profiles_for, read_person, user_claims};
use super::client::{self, Caller};
use super::grants::{Authentication, Grant, Redeemed, Refreshed};
use super::params::{OAuthError, Params};
use super::tokens::Holder;
use crate::directory::Directory;

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Serialize)]
struct Issued {
    access_token: String,
    token_type: &'static str,
    expires_in: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    scope: String,
}

/// `POST /oidc/token`
pub async fn token(
    State(st): State<Arc<OidcState>>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let Ok(Form(fields)) = form else {
        return OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )
        .into_response();
    };
    let start = std::time::Instant::now();
    let grant_type = fields
        .iter()
        .find(|(k, _)| k == "grant_type")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let issued = run(&st, &headers, &Params(fields), client).await;
    st.metrics
        .token_request(&grant_type, issued.is_ok(), start.elapsed().as_secs_f64());
    match issued {
        Ok(issued) => {
            let mut r = Json(issued).into_response();
            let h = r.headers_mut();
            h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
            r
        }
        Err(e) => e.into_response(),
    }
}

async fn run(
    st: &OidcState,
    headers: &HeaderMap,
    params: &Params,
    addr: IpAddr,
) -> Result<Issued, OAuthError> {
    let (oidc, directory) = (&st.oidc, &st.directory);
    let grant_type = params.required("grant_type")?;
    let catalogue = directory.catalogue();
    let caller =
        client::authenticate(directory, &catalogue, &oidc.secrets, headers, params, addr).await?;
    let now = directory.now();
    let issued = match grant_type {
        "authorization_code" => code_grant(oidc, directory, caller, params, now),
        "refresh_token" => refresh_grant(oidc, directory, caller, params, now),
        "client_credentials" => client_grant(oidc, caller, now),
        _ => Err(OAuthError::new(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )),
    };
    if issued.is_ok() {
        crate::logging::token(grant_type, &caller.client.client_id);
    }
    issued
}

fn invalid_grant(m: &str) -> OAuthError {
    OAuthError::new("invalid_grant", m)
}

/// The sign-in behind a code or a family no longer stands.
fn no_longer_signed_in() -> OAuthError {
    invalid_grant("the account can no longer sign in, or its password changed since")
}

/// S256 of a PKCE verifier (RFC 7636 §4.2).
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

fn code_grant(
    oidc: &Oidc,
    directory: &Directory,
    caller: Caller<'_>,
    params: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    let code = params.required("code")?;
    let redirect_uri = params.required("redirect_uri")?;
    let verifier = params.one("code_verifier")?;
    let record = match oidc
        .grants
        .redeem(code, &caller.client.client_id)
        .map_err(OAuthError::server)?
    {
        Redeemed::Fresh(r) => r,
        Redeemed::Unknown | Redeemed::OtherClient => {
            return Err(invalid_grant("unknown authorization code"));
        }
        Redeemed::Replayed => {
            return Err(invalid_grant(
                "the authorization code was already used; what it issued is revoked",
            ));
        }
    };
    if record.expires_at <= now {
        return Err(invalid_grant("the authorization code has expired"));
    }
    if record.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    match (&record.code_challenge, verifier) {
        (Some(challenge), Some(v)) if is_pkce_value(v) && s256(v) == *challenge => {}
        (Some(_), Some(_)) => return Err(invalid_grant("PKCE verification failed")),
        (Some(_), None) => return Err(invalid_grant("code_verifier is missing")),
        (None, Some(_)) => {
            return Err(invalid_grant(
                "code_verifier given but no code_challenge was sent",
            ));
        }
        (None, None) => {}
    }
    let person = admitted(directory, caller, &record.authentication)?;
    let grant = Grant {
        client_id: caller.client.client_id.clone(),
        scope: record.scope.clone(),
        authentication: record.authentication.clone(),
        created_at: now,
        expires_at: now + i64::from(oidc.config.refresh_token_days) * 86_400,
        revoked: false,
        refresh: Vec::new(),
    };
    let refresh = oidc
        .grants
        .start(&record.grant_id, grant)
        .map_err(OAuthError::server)?
        .ok_or_else(|| invalid_grant("the authorization code was replayed"))?;
    issue(
        oidc,
        caller,
        &person,
        &record.authentication,
        &record.grant_id,
        &record.scope,
        record.nonce.as_deref(),
        refresh,
        now,
    )
}

/// The person, if he may still use this client: the sign-in still stands for him
/// (active, same password), and he is past the access gate.
fn admitted(
    directory: &Directory,
    caller: Caller<'_>,
    authentication: &Authentication,
) -> Result<Person, OAuthError> {
    let person = read_person(directory, authentication)
        .map_err(OAuthError::server)?
        .ok_or_else(no_longer_signed_in)?;
    gate(caller.app, &person.account).map_err(|e| invalid_grant(&e.description))?;
    Ok(person)
}

fn refresh_grant(
    oidc: &Oidc,
    directory: &Directory,
    caller: Caller<'_>,
    params: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    let token = params.required("refresh_token")?;
    let asked = params.one("scope")?;
    let client_id = &caller.client.client_id;
    if let Some((gid, g)) = oidc
        .grants
        .by_refresh(token, now)
        .map_err(OAuthError::server)?
        && g.client_id == *client_id
    {
        // Before rotating: a family whose account left, or whose password changed since
        // the sign-in, is revoked, whatever the token...
        if read_person(directory, &g.authentication)
            .map_err(OAuthError::server)?
            .is_none()
        {
            oidc.grants.revoke_grant(&gid).map_err(OAuthError::server)?;
            return Err(no_longer_signed_in());
        }
        // ... and a refused scope leaves the client its token.
        refresh_scope(asked, &g.scope)?;
    }
    let (fresh, grant_id, grant) = match oidc
        .grants
        .rotate(token, client_id, now)
        .map_err(OAuthError::server)?
    {
        Refreshed::Rotated {
            token,
            grant_id,
            grant,
        } => (token, grant_id, grant),
        Refreshed::Invalid => {
            return Err(invalid_grant("unknown, expired or revoked refresh token"));
        }
        Refreshed::Reused => {
            crate::logging::refresh_reuse(client_id);
            return Err(invalid_grant(
                "this refresh token was already used: its whole family is revoked",
            ));
        }
    };
    let scope = refresh_scope(asked, &grant.scope)?;
    let person = admitted(directory, caller, &grant.authentication)?;
    issue(
        oidc,
        caller,
        &person,
        &grant.authentication,
        &grant_id,
        &scope,
        None,
        fresh,
        now,
    )
}

/// The scope of a refresh: the granted one, or the known scopes asked if none widens it.
/// Values this issuer does not know are ignored, as at the authorization endpoint, so
/// that a client may ask again for the scope it first asked for.
fn refresh_scope(asked: Option<&str>, granted: &[String]) -> Result<Vec<String>, OAuthError> {
    let Some(asked) = asked else {
        return Ok(granted.to_vec());
    };
    let known: Vec<String> = SCOPES
        .iter()
        .filter(|s| asked.split(' ').any(|a| a == **s))
        .map(|s| (*s).to_owned())
        .collect();
    if known.is_empty() || !known.iter().all(|s| granted.contains(s)) {
        return Err(OAuthError::new(
            "invalid_scope",
            "a refresh asks for granted scopes, and cannot widen them",
        ));
    }
    Ok(known)
}

fn client_grant(oidc: &Oidc, caller: Caller<'_>, now: i64) -> Result<Issued, OAuthError> {
    if !caller.confidential() {
        return Err(OAuthError::new(
            "unauthorized_client",
            "client_credentials is for confidential clients",
        ));
    }
    let (access_token, _) = oidc.mint_access(caller.client, Holder::Client, &[], now)?;
    Ok(Issued {
        access_token,
        token_type: "Bearer",
        expires_in: oidc.config.access_token_seconds,
        refresh_token: None,
        id_token: None,
        scope: String::new(),
    })
}

#[allow(clippy::too_many_arguments)]
fn issue(
    oidc: &Oidc,
    caller: Caller<'_>,
    person: &Person,
    authentication: &Authentication,
    grant_id: &str,
    scope: &[String],
    nonce: Option<&str>,
    refresh_token: String,
    now: i64,
) -> Result<Issued, OAuthError> {
    let user = user_claims(person, caller.app, scope);
    let profiles = scope
        .iter()
        .any(|s| s == "apex")
        .then(|| profiles_for(caller.app, &person.account));
    let (access_token, _) = oidc.mint_access(
        caller.client,
        Holder::Person {
            authentication,
            grant_id,
            profiles,
        },
        scope,
        now,
    )?;
    let id_token = oidc.mint_id_token(
        caller.client,
        &user,
        authentication,
        nonce,
        &access_token,
        now,
    )?;
    Ok(Issued {
        access_token,
        token_type: "Bearer",
        expires_in: oidc.config.access_token_seconds,
        refresh_token: Some(refresh_token),
        id_token: Some(id_token),
        scope: scope.join(" "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_ignores_unknown_scopes_and_never_widens() {
        let granted = vec!["openid".to_owned(), "email".to_owned()];
        assert_eq!(refresh_scope(None, &granted).unwrap(), granted);
        assert_eq!(
            refresh_scope(Some("email offline_access openid"), &granted).unwrap(),
            granted
        );
        assert_eq!(refresh_scope(Some("openid"), &granted).unwrap(), ["openid"]);
        for wider in ["openid profile", "offline_access"] {
            let e = refresh_scope(Some(wider), &granted).unwrap_err();
            assert_eq!(e.error, "invalid_scope", "{wider}");
        }
    }

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}

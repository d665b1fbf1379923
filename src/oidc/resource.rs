//! What clients ask about tokens: userinfo (bearer), introspection (RFC 7662) and
//! revocation (RFC 7009). Every answer re-reads the account, so a removed
//! habilitation, a deletion request or a new password shows at once.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::Oidc;
use super::OidcState;
use super::claims::{profiles_for, read_person, user_claims};
use super::client::{self, Caller};
use super::params::{OAuthError, Params};
use super::tokens::Access;
use crate::catalogue::Catalogue;
use crate::directory::Directory;
use crate::http::client::ClientAddr;

type Fields = Result<Form<Vec<(String, String)>>, FormRejection>;

fn no_store(mut r: Response) -> Response {
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The bearer token of the Authorization header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// `GET|POST /oidc/userinfo`
pub async fn userinfo(
    State(st): State<Arc<OidcState>>,
    method: Method,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let in_body = match (&method, form) {
        (&Method::POST, Ok(Form(fields))) => Params(fields),
        _ => Params::default(),
    };
    let token = match (bearer(&headers), in_body.one("access_token")) {
        (Some(t), Ok(None)) => t.to_owned(),
        (None, Ok(Some(t))) => t.to_owned(),
        (Some(_), Ok(Some(_))) | (_, Err(_)) => {
            return OAuthError::new("invalid_request", "one access token, in one place")
                .into_response();
        }
        (None, Ok(None)) => {
            return OAuthError::new("invalid_token", "an access token is required").into_response();
        }
    };
    match claims_of(&st.oidc, &st.directory, &token) {
        Ok(v) => no_store(Json(v).into_response()),
        Err(e) => e.into_response(),
    }
}

fn claims_of(oidc: &Oidc, directory: &Directory, token: &str) -> Result<Value, OAuthError> {
    let now = directory.now();
    let access = oidc.check_access(token, now)?;
    let at = &access.claims;
    let scope: Vec<String> = at.scope.split(' ').map(str::to_owned).collect();
    let Some(authentication) = access
        .authentication
        .as_ref()
        .filter(|_| scope.iter().any(|s| s == "openid"))
    else {
        return Err(OAuthError::new(
            "insufficient_scope",
            "userinfo needs a person's token with the openid scope",
        ));
    };
    let catalogue = directory.catalogue();
    let app = catalogue
        .by_client_id(&at.client_id)
        .ok_or_else(|| OAuthError::new("invalid_token", "unknown client"))?;
    let person = read_person(directory, authentication)
        .map_err(OAuthError::server)?
        .ok_or_else(|| {
            OAuthError::new(
                "invalid_token",
                "the account can no longer sign in, or its password changed since",
            )
        })?;
    let mut claims =
        serde_json::to_value(user_claims(&person, app, &scope)).map_err(OAuthError::server)?;
    // With `apex`, userinfo also says when and how the person signed in, as the ID
    // token does.
    if scope.iter().any(|s| s == "apex")
        && let Value::Object(map) = &mut claims
    {
        map.insert("auth_time".into(), authentication.auth_time.into());
        map.insert("acr".into(), authentication.acr.clone().into());
        map.insert("amr".into(), authentication.amr.clone().into());
    }
    Ok(claims)
}

async fn caller<'d>(
    st: &OidcState,
    catalogue: &'d Catalogue,
    headers: &HeaderMap,
    form: Fields,
    addr: IpAddr,
) -> Result<(Caller<'d>, Params), OAuthError> {
    let Ok(Form(fields)) = form else {
        return Err(OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        ));
    };
    let params = Params(fields);
    let caller = client::authenticate(
        &st.directory,
        catalogue,
        &st.oidc.secrets,
        headers,
        &params,
        addr,
    )
    .await?;
    Ok((caller, params))
}

/// `POST /oidc/introspect` (RFC 7662): the client's own tokens only.
pub async fn introspect(
    State(st): State<Arc<OidcState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let catalogue = st.directory.catalogue();
    let (caller, params) = match caller(&st, &catalogue, &headers, form, addr).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let token = match params.required("token") {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    match inspect(&st.oidc, &st.directory, caller, token) {
        Ok(v) => no_store(Json(v).into_response()),
        Err(e) => e.into_response(),
    }
}

fn inspect(
    oidc: &Oidc,
    directory: &Directory,
    caller: Caller<'_>,
    token: &str,
) -> Result<Value, OAuthError> {
    let inactive = json!({ "active": false });
    let now = directory.now();
    let mine = &caller.client.client_id;
    if let Ok(access) = oidc.check_access(token, now) {
        let at = &access.claims;
        if at.client_id != *mine {
            return Ok(inactive);
        }
        let mut v = json!({
            "active": true,
            "token_type": "Bearer",
            "scope": at.scope,
            "client_id": at.client_id,
            "sub": at.sub,
            "aud": at.aud,
            "iss": at.iss,
            "exp": at.exp,
            "iat": at.iat,
            "jti": at.jti,
        });
        if let Some(authentication) = &access.authentication {
            let Some(person) =
                read_person(directory, authentication).map_err(OAuthError::server)?
            else {
                return Ok(inactive);
            };
            if let Some(map) = v.as_object_mut() {
                map.insert("username".into(), json!(person.account.login));
                if at.scope.split(' ').any(|s| s == "apex") {
                    let profiles = profiles_for(caller.app, &person.account);
                    map.insert("profiles".into(), json!(profiles));
                }
            }
        }
        return Ok(v);
    }
    if let Some((_, grant)) = oidc
        .grants
        .by_refresh(token, now)
        .map_err(OAuthError::server)?
        && grant.client_id == *mine
    {
        let account_id = &grant.authentication.account_id;
        let Some(person) =
            read_person(directory, &grant.authentication).map_err(OAuthError::server)?
        else {
            return Ok(inactive);
        };
        return Ok(json!({
            "active": true,
            "token_type": "refresh_token",
            "scope": grant.scope.join(" "),
            "client_id": grant.client_id,
            "sub": account_id,
            "username": person.account.login,
            "iss": oidc.issuer(),
            "exp": grant.expires_at,
            "iat": grant.created_at,
        }));
    }
    Ok(inactive)
}

/// `POST /oidc/revoke` (RFC 7009): a refresh token takes its whole family with it.
pub async fn revoke(
    State(st): State<Arc<OidcState>>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    form: Fields,
) -> Response {
    let catalogue = st.directory.catalogue();
    let (caller, params) = match caller(&st, &catalogue, &headers, form, addr).await {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let token = match params.required("token") {
        Ok(t) => t,
        Err(e) => return e.into_response(),
    };
    let (oidc, now) = (&st.oidc, st.directory.now());
    let mine = &caller.client.client_id;
    let done = if let Ok(Access { claims: at, .. }) = oidc.check_access(token, now) {
        if at.client_id == *mine {
            oidc.grants.revoke_access(&at.jti, at.exp)
        } else {
            Ok(())
        }
    } else {
        match oidc.grants.by_refresh(token, now) {
            Ok(Some((gid, grant))) if grant.client_id == *mine => oidc.grants.revoke_grant(&gid),
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    };
    match done {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(e) => OAuthError::server(e).into_response(),
    }
}

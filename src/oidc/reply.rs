//! Answers at a client's registered redirect URI: a 303 with the parameters in the
//! query, or an auto-submitted form (form_post). `iss` is always added (RFC 9207).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::authorize::{ResponseMode, Target};
use super::pages;
use super::params::OAuthError;

/// Answers at the target with these parameters (plus `state` and `iss`).
pub fn at_target(
    target: &Target,
    issuer: &str,
    mut fields: Vec<(&'static str, String)>,
) -> Response {
    if let Some(state) = &target.state {
        fields.push(("state", state.clone()));
    }
    fields.push(("iss", issuer.to_owned()));
    match target.response_mode {
        ResponseMode::Query => redirect_with(&target.redirect_uri, &fields),
        ResponseMode::FormPost => pages::respond(
            StatusCode::OK,
            pages::form_post(&target.redirect_uri, &fields),
        ),
    }
}

/// A code for the client.
pub fn code(target: &Target, issuer: &str, code: String) -> Response {
    at_target(target, issuer, vec![("code", code)])
}

/// An error for the client.
pub fn error(target: &Target, issuer: &str, e: &OAuthError) -> Response {
    at_target(
        target,
        issuer,
        vec![
            ("error", e.error.to_owned()),
            ("error_description", e.description.clone()),
        ],
    )
}

/// A 303 to `uri` with the fields added to its query.
pub fn redirect_with(uri: &str, fields: &[(&'static str, String)]) -> Response {
    let Ok(mut url) = url::Url::parse(uri) else {
        return pages::respond(
            StatusCode::BAD_REQUEST,
            pages::error(
                "Adresse de retour invalide",
                "L'adresse de retour est invalide.",
            ),
        );
    };
    if !fields.is_empty() {
        let mut q = url.query_pairs_mut();
        for (k, v) in fields {
            q.append_pair(k, v);
        }
    }
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

//! Discovery and JWKS: public documents rendered at start, served from memory with
//! cache headers.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::OidcState;

fn document(body: &Bytes, max_age: &'static str) -> Response {
    let mut r = body.clone().into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(max_age));
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    r
}

/// `GET /.well-known/openid-configuration`
pub async fn discovery(State(st): State<Arc<OidcState>>) -> Response {
    document(&st.oidc.discovery, "public, max-age=3600")
}

/// `GET /oidc/jwks`: short-lived in caches (`keys::JWKS_MAX_AGE`), so that a new key
/// is seen before it signs.
pub async fn jwks(State(st): State<Arc<OidcState>>) -> Response {
    let body = st.oidc.jwks_document(st.directory.now());
    document(&body, "public, max-age=300")
}

//! The browser's cookies: read one from a request, write a `Set-Cookie`, and the keys
//! that sign what a cookie carries.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::auth::token::random_secret;
use crate::store::table::{FaceState, StateError, Table};

/// The value of a cookie of the request.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, and Secure under https.
pub fn set_cookie(
    name: &str,
    value: &str,
    path: &str,
    max_age: Option<i64>,
    secure: bool,
) -> HeaderValue {
    let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        c.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A key that signs a kind of cookie (`csrf`, `device`), kept in the store so that
/// forms and devices survive a restart. The table keeps its historical name.
pub fn cookie_key(state: &FaceState, name: &str) -> Result<ring::hmac::Key, StateError> {
    let secrets: Table<String> = state.table("oidc_secrets")?;
    let fresh = random_secret();
    // Whoever writes first wins; everyone then reads the same key.
    secrets.put_new(name.as_bytes(), &fresh)?;
    let key = secrets.get(name.as_bytes())?.unwrap_or(fresh);
    Ok(ring::hmac::Key::new(
        ring::hmac::HMAC_SHA256,
        key.as_bytes(),
    ))
}

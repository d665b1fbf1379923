//! The CSRF binding of every form (web space and issuer alike): a random cookie, and
//! form tokens that are an HMAC of it and of the SSO session cookie, so that a token
//! read elsewhere, or issued before a sign-in or a sign-out, does not pass.

use axum::http::{HeaderMap, HeaderValue};

use super::browser::{Browser, Opened, SSO_COOKIE};
use super::cookie::cookie;
use crate::auth::token::{looks_like_token, random_secret};

/// Cookie that binds the CSRF tokens of every form.
pub const CSRF_COOKIE: &str = "apex_csrf";
/// Its name under https: the `__Host-` prefix makes browsers refuse it unless it is
/// Secure, for the whole host, and set by the host itself (no sibling domain can plant it).
pub const CSRF_COOKIE_HTTPS: &str = "__Host-apex_csrf";

impl Browser {
    fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            CSRF_COOKIE_HTTPS
        } else {
            CSRF_COOKIE
        }
    }

    fn csrf_binding<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        cookie(headers, self.csrf_cookie()).filter(|c| looks_like_token(c))
    }

    fn csrf_token(&self, headers: &HeaderMap, binding: &str) -> String {
        self.csrf_token_in(binding, cookie(headers, SSO_COOKIE).unwrap_or_default())
    }

    fn csrf_token_in(&self, binding: &str, sso_secret: &str) -> String {
        let mut mac = ring::hmac::Context::with_key(&self.csrf_key);
        mac.update(b"apex-csrf\0");
        mac.update(binding.as_bytes());
        mac.update(b"\0");
        mac.update(sso_secret.as_bytes());
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            mac.sign().as_ref(),
        )
    }

    /// The CSRF token of this browser's forms, and the Set-Cookie to send when its
    /// cookie is new.
    pub fn csrf(&self, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
        match self.csrf_binding(headers) {
            Some(c) => (self.csrf_token(headers, c), None),
            None => {
                let c = random_secret();
                let set = self.set_cookie(self.csrf_cookie(), &c, None);
                (self.csrf_token(headers, &c), Some(set))
            }
        }
    }

    /// The form token for the session `opened` by this very answer (the forms of the
    /// answer that signs in). None when the browser has no CSRF cookie.
    pub fn csrf_in(&self, headers: &HeaderMap, opened: &Opened) -> Option<String> {
        self.csrf_binding(headers)
            .map(|binding| self.csrf_token_in(binding, &opened.secret))
    }

    /// Whether a form's CSRF token is this browser's, in this session.
    pub fn csrf_ok(&self, headers: &HeaderMap, form_token: &str) -> bool {
        self.csrf_binding(headers).is_some_and(|c| {
            subtle::ConstantTimeEq::ct_eq(
                self.csrf_token(headers, c).as_bytes(),
                form_token.as_bytes(),
            )
            .into()
        })
    }
}

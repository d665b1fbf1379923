//! Request parameters of the OAuth endpoints (query or form), and the OAuth error
//! they turn into when wrong.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The parameters of one request, in order.
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

/// A parameter given more than once (RFC 6749 §3.1 forbids it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repeated(pub &'static str);

impl Params {
    /// The value of `name`; empty values count as absent (RFC 6749 §3.1).
    pub fn get(&self, name: &'static str) -> Result<Option<&str>, Repeated> {
        let mut found = None;
        for (k, v) in &self.0 {
            if k == name && !v.is_empty() {
                if found.is_some() {
                    return Err(Repeated(name));
                }
                found = Some(v.as_str());
            }
        }
        Ok(found)
    }

    /// As [`Params::get`], a repetition being an `invalid_request`.
    pub fn one(&self, name: &'static str) -> Result<Option<&str>, OAuthError> {
        self.get(name).map_err(|Repeated(n)| {
            OAuthError::new("invalid_request", format!("{n} is given more than once"))
        })
    }

    /// A required parameter.
    pub fn required(&self, name: &'static str) -> Result<&str, OAuthError> {
        self.one(name)?
            .ok_or_else(|| OAuthError::new("invalid_request", format!("{name} is missing")))
    }
}

/// An OAuth 2.0 error (RFC 6749 §4.1.2.1 and §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OAuthError {
    /// The error code.
    pub error: &'static str,
    /// A sentence for the developer.
    #[serde(rename = "error_description")]
    pub description: String,
    /// Seconds before the client may try again: answered 429 with `Retry-After`.
    #[serde(skip)]
    pub retry_after: Option<i64>,
}

impl OAuthError {
    /// An error with its description, in the characters RFC 6749 allows there.
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        OAuthError {
            error,
            description: plain_text(&description.into()),
            retry_after: None,
        }
    }

    /// Too many failed attempts from this source: try again in `seconds`.
    pub fn slow_down(error: &'static str, seconds: i64) -> Self {
        OAuthError {
            retry_after: Some(seconds),
            ..OAuthError::new(
                error,
                format!("too many failed attempts; retry in {seconds} s"),
            )
        }
    }

    /// The server failed.
    pub fn server(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "oidc");
        OAuthError::new("server_error", "the server failed; try again later")
    }
}

/// A description as RFC 6749 allows it (§4.1.2.1, §5.2: printable ASCII without `"` nor
/// `\`): accents dropped ("à" -> "a"), quotes made plain, no-break spaces plain,
/// anything else `?`.
fn plain_text(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .map(|c| match c {
            '"' | '\\' | '\u{2018}' | '\u{2019}' | '«' | '»' => '\'',
            '\u{a0}' | '\u{202f}' => ' ',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let status = match self.error {
            _ if self.retry_after.is_some() => StatusCode::TOO_MANY_REQUESTS,
            "invalid_client" | "invalid_token" => StatusCode::UNAUTHORIZED,
            "insufficient_scope" => StatusCode::FORBIDDEN,
            "server_error" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut r = (status, Json(&self)).into_response();
        let h = r.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(seconds) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if self.error == "invalid_client" {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"apex-idp\""),
            );
        }
        if self.error == "invalid_token" || self.error == "insufficient_scope" {
            let v = format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                self.error,
                self.description.replace('"', "'")
            );
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_values_are_absent_and_repetitions_refused() {
        let p = Params(vec![
            ("a".into(), "".into()),
            ("b".into(), "1".into()),
            ("b".into(), "2".into()),
        ]);
        assert_eq!(p.get("a"), Ok(None));
        assert_eq!(p.get("b"), Err(Repeated("b")));
        assert_eq!(p.required("a").unwrap_err().error, "invalid_request");
    }

    #[test]
    fn descriptions_keep_to_the_rfc_6749_characters() {
        let e = OAuthError::new(
            "access_denied",
            "aucune habilitation à l\u{2019}application « Démo » : \"x\\y\" ✓",
        );
        assert_eq!(
            e.description,
            "aucune habilitation a l'application ' Demo ' : 'x'y' ?"
        );
        let allowed = |b: u8| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E);
        assert!(e.description.bytes().all(allowed));
    }
}

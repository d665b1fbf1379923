//! The SSO session as the web space uses it. It is the issuer's own session: signing
//! in to the portal signs in to the applications, and the reverse; signing out of
//! either ends both, and the applications are told by back-channel.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};

use super::grants::Authentication;
use super::session::SsoSession;
use super::{ACR, AMR_PASSWORD, Oidc, OidcError};
use crate::directory::{DirResult, Directory, SignedIn};

/// A live browser session, as the web space sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    /// The signed-in account.
    pub account_id: String,
    /// The password had expired at sign-in and is not renewed yet.
    pub password_expired: bool,
}

impl Oidc {
    /// Checks a password typed in a browser (web space or issuer sign-in form). A
    /// browser that holds this login's device cookie is let through the limit on the
    /// login across all sources (against distributed guessing); the per-source ones
    /// hold for it as for anyone.
    pub async fn check_browser_password(
        &self,
        directory: &Directory,
        headers: &HeaderMap,
        login: &str,
        password: &str,
        client: IpAddr,
    ) -> DirResult<SignedIn> {
        let known = self.sessions.known_device(headers, login, directory.now());
        directory
            .authenticate_from(login, password, Some(client), known)
            .await
    }

    /// The device cookie to send with the answer to a successful browser sign-in.
    pub fn device_cookie(&self, login: &str, now: i64) -> HeaderValue {
        self.sessions.device_cookie(login, now)
    }

    /// The live session behind the request's cookie, if any (touched: idle lifetime).
    pub fn browser_session(
        &self,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Option<BrowserSession>, OidcError> {
        Ok(self
            .sessions
            .current(headers, now)?
            .map(|s| BrowserSession {
                account_id: s.authentication.account_id,
                password_expired: s.password_expired,
            }))
    }

    /// Opens a session after a password sign-in, under a new cookie (the request's
    /// previous session ends: no fixation). Returns the Set-Cookie value.
    pub fn open_browser_session(
        &self,
        directory: &Directory,
        headers: &HeaderMap,
        account_id: &str,
        password_expired: bool,
    ) -> Result<HeaderValue, OidcError> {
        let now = directory.now();
        let session = SsoSession {
            authentication: Authentication {
                account_id: account_id.to_owned(),
                auth_time: now,
                amr: vec![AMR_PASSWORD.to_owned()],
                acr: ACR.to_owned(),
                sid: None,
            },
            created_at: now,
            last_seen: now,
            password_expired,
            clients: Vec::new(),
        };
        let opened = self.sessions.open_session(headers, session)?;
        if let Some(ended) = &opened.ended {
            self.session_ended(directory.catalogue(), ended, now);
        }
        Ok(opened.cookie)
    }

    /// Records in the request's session that its expired password was renewed.
    pub fn browser_password_renewed(&self, headers: &HeaderMap) -> Result<(), OidcError> {
        Ok(self
            .sessions
            .update(headers, |s| s.password_expired = false)?)
    }

    /// Ends the request's session (sign-out) and tells its applications; returns the
    /// Set-Cookie value that clears the cookie.
    pub fn close_browser_session(
        &self,
        directory: &Directory,
        headers: &HeaderMap,
    ) -> Result<HeaderValue, OidcError> {
        let (clear, ended) = self.sessions.close(headers)?;
        if let Some(ended) = ended {
            self.session_ended(directory.catalogue(), &ended, directory.now());
        }
        Ok(clear)
    }

    /// The CSRF token of this browser, and the Set-Cookie to send when it is new.
    pub fn csrf(&self, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
        self.sessions.csrf(headers)
    }

    /// Whether a form's CSRF token is this browser's.
    pub fn csrf_ok(&self, headers: &HeaderMap, form_token: &str) -> bool {
        self.sessions.csrf_ok(headers, form_token)
    }
}

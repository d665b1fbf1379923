//! The SSO session as the web space uses it. It is the issuer's own session: signing
//! in to the portal signs in to the applications, and the reverse; signing out of
//! either ends both, and the applications are told by back-channel.

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue};

use super::grants::Authentication;
use super::session::SsoSession;
use super::{Oidc, OidcError};
use crate::auth::stamp;
use crate::directory::{DirResult, Directory, SignedIn};
use crate::domain::Account;
use crate::store::table::StateError;

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

    /// The live session behind the request's cookie, if its account may still use it:
    /// active, and with the password the person signed in with. Touched (idle lifetime).
    pub(super) fn live_session(
        &self,
        directory: &Directory,
        headers: &HeaderMap,
        now: i64,
    ) -> Result<Option<SsoSession>, StateError> {
        Ok(self.sessions.current(headers, now)?.filter(|s| {
            directory
                .account_shared(&s.authentication.account_id)
                .is_ok_and(|a| s.authentication.valid_for(&a))
        }))
    }

    /// The live session behind the request's cookie, if its account may still use it.
    pub fn browser_session(
        &self,
        directory: &Directory,
        headers: &HeaderMap,
    ) -> Result<Option<BrowserSession>, OidcError> {
        Ok(self
            .live_session(directory, headers, directory.now())?
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
        account: &Account,
        password_expired: bool,
    ) -> Result<HeaderValue, OidcError> {
        let now = directory.now();
        let session = SsoSession {
            authentication: Authentication::password(account, now),
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

    /// After a password change made in the request's session (`account` as the change
    /// left it): the session is no longer restricted and takes the new password's stamp,
    /// so that it stays open while every other one ends. Returns how it now signs in,
    /// None when the session is gone.
    pub fn browser_password_changed(
        &self,
        headers: &HeaderMap,
        account: &Account,
    ) -> Result<Option<Authentication>, OidcError> {
        let changed = self.sessions.update(headers, |s| {
            s.password_expired = false;
            s.authentication.stamp = stamp::of_credential(account);
        })?;
        Ok(changed.map(|s| s.authentication))
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

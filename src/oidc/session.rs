//! Browser state of the issuer: the SSO session (server-side, behind an HttpOnly
//! cookie, rotated at each sign-in, with idle and absolute lifetimes) and the pending
//! authorization requests that wait for a sign-in form (bound to a CSRF cookie).

use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};

use super::authorize::AuthRequest;
use super::grants::Authentication;
use super::table::{StateError, Table};
use crate::auth::token::{digest, looks_like_token, random_secret};
use crate::store::Store;

/// Cookie of the SSO session.
pub const SSO_COOKIE: &str = "apex_sso";
/// Cookie of the CSRF token of the sign-in forms.
pub const CSRF_COOKIE: &str = "apex_csrf";
/// Seconds a pending authorization request waits for its sign-in.
const INTERACTION_SECONDS: i64 = 30 * 60;

/// A signed-in browser.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SsoSession {
    /// Who and how.
    pub authentication: Authentication,
    /// Opened (unix seconds).
    pub created_at: i64,
    /// Last used (unix seconds).
    pub last_seen: i64,
    /// The password had expired at sign-in: it must be renewed before anything else.
    pub password_expired: bool,
}

/// An authorization request waiting for its sign-in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Interaction {
    /// The validated request.
    pub request: AuthRequest,
    /// The CSRF token its forms must carry (also in the CSRF cookie).
    pub csrf: String,
    /// Expiry (unix seconds).
    pub expires_at: i64,
}

/// Lifetimes of the SSO session.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Seconds without use.
    pub idle: i64,
    /// Seconds since sign-in.
    pub absolute: i64,
}

/// The trees of browser state.
pub struct Sessions {
    sessions: Table<SsoSession>,
    interactions: Table<Interaction>,
    lifetimes: Lifetimes,
    secure: bool,
}

impl Sessions {
    /// Opens the trees.
    pub fn open(store: &Store, lifetimes: Lifetimes, secure: bool) -> Result<Sessions, StateError> {
        Ok(Sessions {
            sessions: Table::open(store, "oidc_sessions")?,
            interactions: Table::open(store, "oidc_interactions")?,
            lifetimes,
            secure,
        })
    }

    /// The live session behind the request's cookie, touched. Expired ones are removed.
    pub fn current(&self, headers: &HeaderMap, now: i64) -> Result<Option<SsoSession>, StateError> {
        let Some(secret) = cookie(headers, SSO_COOKIE) else {
            return Ok(None);
        };
        let key = digest(secret);
        let Some(read) = self.sessions.read(&key)? else {
            return Ok(None);
        };
        let s = &read.value;
        if now - s.last_seen >= self.lifetimes.idle || now - s.created_at >= self.lifetimes.absolute
        {
            self.sessions.remove(&key)?;
            return Ok(None);
        }
        let mut touched = s.clone();
        touched.last_seen = now;
        // A concurrent touch is as good as ours.
        let _ = self.sessions.swap(&key, &read, &touched)?;
        Ok(Some(touched))
    }

    /// Opens a session and returns its Set-Cookie value; the request's previous
    /// session, if any, ends (rotation at sign-in).
    pub fn open_session(
        &self,
        headers: &HeaderMap,
        session: &SsoSession,
    ) -> Result<HeaderValue, StateError> {
        self.close(headers)?;
        let secret = random_secret();
        self.sessions.put(&digest(&secret), session)?;
        Ok(self.set_cookie(SSO_COOKIE, &secret, "/", Some(self.lifetimes.absolute)))
    }

    /// Rewrites the request's session (e.g. after a password renewal).
    pub fn update(
        &self,
        headers: &HeaderMap,
        change: impl FnOnce(&mut SsoSession),
    ) -> Result<(), StateError> {
        let Some(secret) = cookie(headers, SSO_COOKIE) else {
            return Ok(());
        };
        let key = digest(secret);
        if let Some(mut s) = self.sessions.get(&key)? {
            change(&mut s);
            self.sessions.put(&key, &s)?;
        }
        Ok(())
    }

    /// Ends the request's session; returns the Set-Cookie value that clears it.
    pub fn close(&self, headers: &HeaderMap) -> Result<HeaderValue, StateError> {
        if let Some(secret) = cookie(headers, SSO_COOKIE) {
            self.sessions.remove(&digest(secret))?;
        }
        Ok(self.set_cookie(SSO_COOKIE, "", "/", Some(0)))
    }

    /// The CSRF token of this browser, and the Set-Cookie to send when it is new.
    pub fn csrf(&self, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
        match cookie(headers, CSRF_COOKIE).filter(|c| looks_like_token(c)) {
            Some(c) => (c.to_owned(), None),
            None => {
                let c = random_secret();
                let set = self.set_cookie(CSRF_COOKIE, &c, "/oidc", None);
                (c, Some(set))
            }
        }
    }

    /// Whether a form's CSRF token is this browser's.
    pub fn csrf_ok(&self, headers: &HeaderMap, form_token: &str) -> bool {
        cookie(headers, CSRF_COOKIE).is_some_and(|c| {
            looks_like_token(c)
                && subtle::ConstantTimeEq::ct_eq(c.as_bytes(), form_token.as_bytes()).into()
        })
    }

    /// Keeps a request for its sign-in; returns the interaction id.
    pub fn wait(&self, request: AuthRequest, csrf: &str, now: i64) -> Result<String, StateError> {
        let id = random_secret();
        self.interactions.put(
            &digest(&id),
            &Interaction {
                request,
                csrf: csrf.to_owned(),
                expires_at: now + INTERACTION_SECONDS,
            },
        )?;
        Ok(id)
    }

    /// A pending request, if its id and CSRF token match and it did not expire.
    pub fn interaction(
        &self,
        id: &str,
        csrf: &str,
        now: i64,
    ) -> Result<Option<Interaction>, StateError> {
        if !looks_like_token(id) {
            return Ok(None);
        }
        Ok(self
            .interactions
            .get(&digest(id))?
            .filter(|i| i.expires_at > now && i.csrf == csrf))
    }

    /// Ends a pending request (it was answered).
    pub fn done(&self, id: &str) -> Result<(), StateError> {
        self.interactions.remove(&digest(id))
    }

    /// Forgets expired sessions and requests.
    pub fn purge(&self, now: i64) -> Result<usize, StateError> {
        let l = self.lifetimes;
        let s = self
            .sessions
            .purge(|s| now - s.last_seen >= l.idle || now - s.created_at >= l.absolute)?;
        let i = self.interactions.purge(|i| i.expires_at <= now)?;
        Ok(s + i)
    }

    fn set_cookie(&self, name: &str, value: &str, path: &str, max_age: Option<i64>) -> HeaderValue {
        let mut c = format!("{name}={value}; Path={path}; HttpOnly; SameSite=Lax");
        if let Some(age) = max_age {
            c.push_str(&format!("; Max-Age={age}"));
        }
        if self.secure {
            c.push_str("; Secure");
        }
        HeaderValue::from_str(&c).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

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

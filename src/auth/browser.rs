//! The browser's sign-in: the SSO session, kept server-side behind an HttpOnly cookie,
//! rotated at each sign-in, with idle and absolute lifetimes. It is one session for the
//! web space and the issuer alike: signing in to the portal signs in to the
//! applications, and the reverse. Every session that ends other than by expiry is sent
//! to the issuer, which tells the applications by back-channel.

use axum::http::{HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

use super::cookie::{cookie, cookie_key, set_cookie};
use crate::auth::stamp;
use crate::auth::token::{digest, random_secret};
use crate::domain::{Account, AccountState};
use crate::store::table::{FaceState, StateError, Table};

/// Cookie of the SSO session.
pub const SSO_COOKIE: &str = "apex_sso";
/// The authentication context class of a password sign-in.
pub const ACR: &str = "eidas1";
/// The authentication method of a password sign-in (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
/// Compare-and-swap attempts before a session is left as it is.
const ATTEMPTS: usize = 16;

/// How the person signed in (copied from the SSO session into what it yields).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authentication {
    /// The account.
    pub account_id: String,
    /// When the person signed in (unix seconds).
    pub auth_time: i64,
    /// Methods (RFC 8176).
    pub amr: Vec<String>,
    /// Context class.
    pub acr: String,
    /// The SSO session it happened in (`sid` of ID tokens and logout tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The stamp of the password proven ([`stamp::of_credential`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<String>,
}

impl Authentication {
    /// A password sign-in of `account`, now.
    pub fn password(account: &Account, now: i64) -> Authentication {
        Authentication {
            account_id: account.id.clone(),
            auth_time: now,
            amr: vec![AMR_PASSWORD.to_owned()],
            acr: ACR.to_owned(),
            sid: None,
            stamp: stamp::of_credential(account),
        }
    }

    /// Whether this sign-in still stands for the account: active, and still with the
    /// password it proved. A new password ends every session, code and token family
    /// opened with the old one, at once and whatever face set it.
    pub fn valid_for(&self, account: &Account) -> bool {
        account.state == AccountState::Active && stamp::proves(self.stamp.as_deref(), account)
    }
}

/// What the browser's sessions ask of the directory.
pub trait Accounts {
    /// The directory's clock (unix seconds).
    fn now(&self) -> i64;
    /// Whether a sign-in still stands for its account as the account is now.
    fn still_stands(&self, authentication: &Authentication) -> bool;
}

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
    /// Clients that received a code in this session: told by back-channel when it ends.
    #[serde(default)]
    pub clients: Vec<String>,
}

impl SsoSession {
    /// A session of a password sign-in, opened now.
    pub fn password(account: &Account, password_expired: bool, now: i64) -> SsoSession {
        SsoSession {
            authentication: Authentication::password(account, now),
            created_at: now,
            last_seen: now,
            password_expired,
            clients: Vec::new(),
        }
    }
}

/// A live browser session, as the web space sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSession {
    /// The signed-in account.
    pub account_id: String,
    /// The password had expired at sign-in and is not renewed yet.
    pub password_expired: bool,
}

/// A session just opened.
#[derive(Debug)]
pub struct Opened {
    /// The Set-Cookie value that carries it.
    pub cookie: HeaderValue,
    /// Its key in the session table.
    pub key: Vec<u8>,
    /// The session as stored (with its `sid`).
    pub session: SsoSession,
    /// The cookie's secret, to bind the forms of the answer that opens it.
    pub(super) secret: String,
}

/// Lifetimes of the SSO session.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    /// Seconds without use.
    pub idle: i64,
    /// Seconds since sign-in.
    pub absolute: i64,
}

/// The sessions that ended (sign-out, another person signing in in the same browser,
/// an account that left or changed its password), for the issuer to tell their clients.
pub type EndedSessions = UnboundedReceiver<SsoSession>;

/// The browser's credentials: SSO sessions, the CSRF binding of forms, device cookies.
pub struct Browser {
    sessions: Table<SsoSession>,
    lifetimes: Lifetimes,
    pub(super) secure: bool,
    pub(super) csrf_key: ring::hmac::Key,
    pub(super) device_key: ring::hmac::Key,
    ended: UnboundedSender<SsoSession>,
}

impl Browser {
    /// Opens the session table and the cookie keys; returns the sessions that will end.
    pub fn open(
        state: &FaceState,
        lifetimes: Lifetimes,
        secure: bool,
    ) -> Result<(Browser, EndedSessions), StateError> {
        let (ended, receiver) = unbounded_channel();
        let browser = Browser {
            sessions: state.table("oidc_sessions")?,
            lifetimes,
            secure,
            csrf_key: cookie_key(state, "csrf")?,
            device_key: cookie_key(state, "device")?,
            ended,
        };
        Ok((browser, receiver))
    }

    /// Whether cookies are sent under https only (with `__Host-` names).
    pub fn secure(&self) -> bool {
        self.secure
    }

    fn alive(&self, s: &SsoSession, now: i64) -> bool {
        now - s.last_seen < self.lifetimes.idle && now - s.created_at < self.lifetimes.absolute
    }

    fn tell(&self, ended: SsoSession) {
        // Without a receiver (no issuer runs) there is nobody to tell.
        let _ = self.ended.send(ended);
    }

    /// The key of the request's session in the session table, if it has a cookie.
    pub fn key_of(&self, headers: &HeaderMap) -> Option<Vec<u8>> {
        cookie(headers, SSO_COOKIE).map(digest)
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
        if !self.alive(s, now) {
            self.sessions.remove(&key)?;
            return Ok(None);
        }
        let mut touched = s.clone();
        touched.last_seen = now;
        // A concurrent touch is as good as ours.
        let _ = self.sessions.swap(&key, &read, &touched)?;
        Ok(Some(touched))
    }

    /// The live session behind the request's cookie, if its account may still use it:
    /// active, and with the password the person signed in with. Touched (idle lifetime).
    pub fn live(
        &self,
        accounts: &impl Accounts,
        headers: &HeaderMap,
    ) -> Result<Option<SsoSession>, StateError> {
        Ok(self
            .current(headers, accounts.now())?
            .filter(|s| accounts.still_stands(&s.authentication)))
    }

    /// The live session behind the request's cookie, as the web space sees it.
    pub fn session(
        &self,
        accounts: &impl Accounts,
        headers: &HeaderMap,
    ) -> Result<Option<BrowserSession>, StateError> {
        Ok(self.live(accounts, headers)?.map(|s| BrowserSession {
            account_id: s.authentication.account_id,
            password_expired: s.password_expired,
        }))
    }

    /// Opens a session under a new cookie (rotation at sign-in: no fixation). The
    /// request's previous session goes: when it was the same person's, the new one
    /// keeps its `sid` and its clients (the person only signed in again); another
    /// person's session ends, and its clients are told.
    pub fn open_session(
        &self,
        headers: &HeaderMap,
        mut session: SsoSession,
    ) -> Result<Opened, StateError> {
        let previous = self
            .take(headers)?
            .filter(|p| self.alive(p, session.created_at));
        match previous {
            Some(p)
                if p.authentication.account_id == session.authentication.account_id
                    && p.authentication.sid.is_some() =>
            {
                session.authentication.sid = p.authentication.sid;
                session.clients = p.clients;
            }
            Some(other) => self.tell(other),
            None => {}
        }
        if session.authentication.sid.is_none() {
            session.authentication.sid = Some(uuid::Uuid::new_v4().to_string());
        }
        let secret = random_secret();
        let key = digest(&secret);
        self.sessions.put(&key, &session)?;
        Ok(Opened {
            cookie: self.set_cookie(SSO_COOKIE, &secret, Some(self.lifetimes.absolute)),
            key,
            session,
            secret,
        })
    }

    /// Records that a client received a code in the session under `key`.
    pub fn join(&self, key: &[u8], client_id: &str) -> Result<(), StateError> {
        // A concurrent touch changes the bytes: read again and retry.
        for _ in 0..ATTEMPTS {
            let Some(read) = self.sessions.read(key)? else {
                return Ok(());
            };
            if read.value.clients.iter().any(|c| c == client_id) {
                return Ok(());
            }
            let mut joined = read.value.clone();
            joined.clients.push(client_id.to_owned());
            if self.sessions.swap(key, &read, &joined)? {
                return Ok(());
            }
        }
        tracing::warn!(
            client_id,
            "sso session: client not recorded after {ATTEMPTS} attempts"
        );
        Ok(())
    }

    /// Ends every session for which `ends` holds, and tells their clients; returns how
    /// many ended.
    pub fn end_where(&self, ends: impl Fn(&SsoSession) -> bool) -> Result<usize, StateError> {
        let ended = self.sessions.take_where(ends)?;
        let n = ended.len();
        ended.into_iter().for_each(|s| self.tell(s));
        Ok(n)
    }

    /// Rewrites the request's session (e.g. after a password change); returns it as
    /// written, None when there is none (or it could not be written).
    pub fn update(
        &self,
        headers: &HeaderMap,
        change: impl Fn(&mut SsoSession),
    ) -> Result<Option<SsoSession>, StateError> {
        let Some(key) = self.key_of(headers) else {
            return Ok(None);
        };
        // Compare-and-swap: a session ended meanwhile (by the watch, after its logout
        // tokens went out) stays ended, and a client that joined meanwhile stays in.
        for _ in 0..ATTEMPTS {
            let Some(read) = self.sessions.read(&key)? else {
                return Ok(None);
            };
            let mut s = read.value.clone();
            change(&mut s);
            if self.sessions.swap(&key, &read, &s)? {
                return Ok(Some(s));
            }
        }
        // Unchanged after as many tries: it is left as it was, which fails safe (a
        // session not renewed after a password change is signed out).
        tracing::warn!("sso session: not updated after {ATTEMPTS} attempts");
        Ok(None)
    }

    /// After a password change made in the request's session (`account` as the change
    /// left it): the session is no longer restricted and takes the new password's stamp,
    /// so that it stays open while every other one ends. Returns how it now signs in,
    /// None when the session is gone.
    pub fn password_changed(
        &self,
        headers: &HeaderMap,
        account: &Account,
    ) -> Result<Option<Authentication>, StateError> {
        let changed = self.update(headers, |s| {
            s.password_expired = false;
            s.authentication.stamp = stamp::of_credential(account);
        })?;
        Ok(changed.map(|s| s.authentication))
    }

    fn take(&self, headers: &HeaderMap) -> Result<Option<SsoSession>, StateError> {
        match self.key_of(headers) {
            Some(key) => self.sessions.take(&key),
            None => Ok(None),
        }
    }

    /// Ends the request's session (sign-out) and tells its clients; returns the
    /// Set-Cookie value that clears the cookie, and whose session ended, if any.
    pub fn close(&self, headers: &HeaderMap) -> Result<(HeaderValue, Option<String>), StateError> {
        let ended = self.take(headers)?;
        let account_id = ended.as_ref().map(|s| s.authentication.account_id.clone());
        if let Some(ended) = ended {
            self.tell(ended);
        }
        Ok((self.set_cookie(SSO_COOKIE, "", Some(0)), account_id))
    }

    /// Forgets expired sessions.
    pub fn purge(&self, now: i64) -> Result<usize, StateError> {
        self.sessions.purge(|s| !self.alive(s, now))
    }

    pub(super) fn set_cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> HeaderValue {
        set_cookie(name, value, "/", max_age, self.secure)
    }
}

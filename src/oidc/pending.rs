//! Browser state of the issuer: the SSO session (server-side, behind an HttpOnly
//! cookie, rotated at each sign-in, with idle and absolute lifetimes) and the pending
//! authorization requests that wait for a sign-in form (bound to a CSRF cookie).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use axum::http::{HeaderMap, HeaderValue, header};
use serde::{Deserialize, Serialize};

use super::authorize::AuthRequest;
use super::grants::Authentication;
use crate::auth::addr::source_key;
use crate::auth::token::{digest, looks_like_token, random_secret};
use crate::store::table::{FaceState, StateError, Table};

/// Cookie of the SSO session.
pub const SSO_COOKIE: &str = "apex_sso";
/// Cookie that binds the CSRF tokens of every form (issuer and web space alike).
pub const CSRF_COOKIE: &str = "apex_csrf";
/// Its name under https: the `__Host-` prefix makes browsers refuse it unless it is
/// Secure, for the whole host, and set by the host itself (no sibling domain can plant it).
pub const CSRF_COOKIE_HTTPS: &str = "__Host-apex_csrf";
/// Cookie that marks a browser where a login signed in before (OWASP's "device
/// cookie"): that browser is let through the limit on the login across all sources.
pub const DEVICE_COOKIE: &str = "apex_device";
/// Its name under https.
pub const DEVICE_COOKIE_HTTPS: &str = "__Host-apex_device";
/// Seconds a device cookie is honoured after the sign-in that issued it.
const DEVICE_SECONDS: i64 = 180 * 24 * 3600;
/// Longest device cookie read; anything longer is no cookie of ours.
const MAX_DEVICE_COOKIE: usize = 256;
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
    /// Clients that received a code in this session: told by back-channel when it ends.
    #[serde(default)]
    pub clients: Vec<String>,
}

/// A session just opened.
#[derive(Debug)]
pub struct Opened {
    /// The Set-Cookie value that carries it.
    pub cookie: HeaderValue,
    /// Its key in the session tree.
    pub key: Vec<u8>,
    /// The session as stored (with its `sid`).
    pub session: SsoSession,
    /// The browser's previous live session of another person, which this one ended.
    pub ended: Option<SsoSession>,
    /// The cookie's secret, to bind the forms of the answer that opens it.
    secret: String,
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
    /// The client address that opened it, as the limits count it.
    #[serde(default)]
    pub source: Option<String>,
}

/// Bounds of the sign-ins left pending by anonymous clients.
#[derive(Debug, Clone, Copy)]
pub struct PendingLimits {
    /// Per client address: beyond, that address's oldest is forgotten.
    pub per_source: usize,
    /// In all: beyond, new ones are refused.
    pub total: usize,
}

/// Too many sign-ins are pending: a new one is refused until some end.
#[derive(Debug, thiserror::Error)]
pub enum WaitError {
    /// The total bound is reached.
    #[error("too many pending sign-ins")]
    Full,
    /// The store failed.
    #[error(transparent)]
    State(#[from] StateError),
}

/// The keys of the pending sign-ins by source, oldest first, with their expiry.
#[derive(Default)]
struct Pending {
    by_source: HashMap<String, VecDeque<(Vec<u8>, i64)>>,
    total: usize,
}

impl Pending {
    fn forget_expired(&mut self, now: i64) {
        let mut total = 0;
        self.by_source.retain(|_, queue| {
            queue.retain(|(_, expires_at)| *expires_at > now);
            total += queue.len();
            !queue.is_empty()
        });
        self.total = total;
    }

    fn forget(&mut self, source: &str, key: &[u8]) {
        if let Some(queue) = self.by_source.get_mut(source) {
            let before = queue.len();
            queue.retain(|(k, _)| k != key);
            self.total = self.total.saturating_sub(before - queue.len());
            if queue.is_empty() {
                self.by_source.remove(source);
            }
        }
    }
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
    pending: Mutex<Pending>,
    limits: PendingLimits,
    lifetimes: Lifetimes,
    secure: bool,
    csrf_key: ring::hmac::Key,
    device_key: ring::hmac::Key,
}

/// A key of the browser's cookies (`csrf`, `device`), kept in the store so that forms
/// and devices survive a restart.
fn cookie_key(state: &FaceState, name: &str) -> Result<ring::hmac::Key, StateError> {
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

impl Sessions {
    /// Opens the trees, and counts the pending sign-ins by source.
    pub fn open(
        state: &FaceState,
        lifetimes: Lifetimes,
        limits: PendingLimits,
        secure: bool,
    ) -> Result<Sessions, StateError> {
        let interactions: Table<Interaction> = state.table("oidc_interactions")?;
        let mut pending = Pending::default();
        for (key, i) in interactions.entries()? {
            let source = i.source.unwrap_or_default();
            pending
                .by_source
                .entry(source)
                .or_default()
                .push_back((key, i.expires_at));
            pending.total += 1;
        }
        for queue in pending.by_source.values_mut() {
            queue
                .make_contiguous()
                .sort_by_key(|(_, expires_at)| *expires_at);
        }
        Ok(Sessions {
            sessions: state.table("oidc_sessions")?,
            interactions,
            pending: Mutex::new(pending),
            limits,
            lifetimes,
            secure,
            csrf_key: cookie_key(state, "csrf")?,
            device_key: cookie_key(state, "device")?,
        })
    }

    fn alive(&self, s: &SsoSession, now: i64) -> bool {
        now - s.last_seen < self.lifetimes.idle && now - s.created_at < self.lifetimes.absolute
    }

    /// The key of the request's session in the session tree, if it has a cookie.
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

    /// Opens a session under a new cookie (rotation at sign-in). The request's previous
    /// session goes: when it was the same person's, the new one keeps its `sid` and its
    /// clients (the person only signed in again); another person's session ends.
    pub fn open_session(
        &self,
        headers: &HeaderMap,
        mut session: SsoSession,
    ) -> Result<Opened, StateError> {
        let (_, previous) = self.close(headers)?;
        let previous = previous.filter(|p| self.alive(p, session.created_at));
        let mut ended = None;
        match previous {
            Some(p)
                if p.authentication.account_id == session.authentication.account_id
                    && p.authentication.sid.is_some() =>
            {
                session.authentication.sid = p.authentication.sid;
                session.clients = p.clients;
            }
            other => ended = other,
        }
        if session.authentication.sid.is_none() {
            session.authentication.sid = Some(uuid::Uuid::new_v4().to_string());
        }
        let secret = random_secret();
        let key = digest(&secret);
        self.sessions.put(&key, &session)?;
        Ok(Opened {
            cookie: self.set_cookie(SSO_COOKIE, &secret, "/", Some(self.lifetimes.absolute)),
            key,
            session,
            ended,
            secret,
        })
    }

    /// Records that a client received a code in the session under `key`.
    pub fn join(&self, key: &[u8], client_id: &str) -> Result<(), StateError> {
        // A concurrent touch changes the bytes: read again and retry.
        for _ in 0..16 {
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
            "oidc session: client not recorded after 16 attempts"
        );
        Ok(())
    }

    /// Ends every session for which `ended` holds; returns the sessions that ended.
    pub fn end_where(
        &self,
        ended: impl Fn(&SsoSession) -> bool,
    ) -> Result<Vec<SsoSession>, StateError> {
        self.sessions.take_where(ended)
    }

    /// Rewrites the request's session (e.g. after a password change); returns it as
    /// written, None when there is none (or it could not be written).
    pub fn update(
        &self,
        headers: &HeaderMap,
        change: impl Fn(&mut SsoSession),
    ) -> Result<Option<SsoSession>, StateError> {
        let Some(secret) = cookie(headers, SSO_COOKIE) else {
            return Ok(None);
        };
        let key = digest(secret);
        // Compare-and-swap: a session ended meanwhile (by the watch, after its logout
        // tokens went out) stays ended, and a client that joined meanwhile stays in.
        for _ in 0..16 {
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
        tracing::warn!("oidc session: not updated after 16 attempts");
        Ok(None)
    }

    /// Ends the request's session; returns the Set-Cookie value that clears it, and
    /// the session that ended, if there was one.
    pub fn close(
        &self,
        headers: &HeaderMap,
    ) -> Result<(HeaderValue, Option<SsoSession>), StateError> {
        let ended = match cookie(headers, SSO_COOKIE) {
            Some(secret) => self.sessions.take(&digest(secret))?,
            None => None,
        };
        Ok((self.set_cookie(SSO_COOKIE, "", "/", Some(0)), ended))
    }

    fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            CSRF_COOKIE_HTTPS
        } else {
            CSRF_COOKIE
        }
    }

    /// The form token for this browser: an HMAC of its CSRF cookie and of its SSO
    /// session cookie, so that a token read elsewhere, or issued before a sign-in or a
    /// sign-out, does not pass.
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
        match cookie(headers, self.csrf_cookie()).filter(|c| looks_like_token(c)) {
            Some(c) => (self.csrf_token(headers, c), None),
            None => {
                let c = random_secret();
                let set = self.set_cookie(self.csrf_cookie(), &c, "/", None);
                (self.csrf_token(headers, &c), Some(set))
            }
        }
    }

    /// The form token for the session `opened` by this very answer, with the pending
    /// request `id` bound to it (the renewal form that follows a sign-in). None when
    /// the browser has no CSRF cookie or the request is gone.
    pub fn rebind(
        &self,
        headers: &HeaderMap,
        opened: &Opened,
        id: &str,
    ) -> Result<Option<String>, StateError> {
        let Some(binding) = cookie(headers, self.csrf_cookie()).filter(|c| looks_like_token(c))
        else {
            return Ok(None);
        };
        let token = self.csrf_token_in(binding, &opened.secret);
        let key = digest(id);
        let Some(mut pending) = self.interactions.get(&key)? else {
            return Ok(None);
        };
        pending.csrf = token.clone();
        self.interactions.put(&key, &pending)?;
        Ok(Some(token))
    }

    /// Whether a form's CSRF token is this browser's, in this session.
    pub fn csrf_ok(&self, headers: &HeaderMap, form_token: &str) -> bool {
        cookie(headers, self.csrf_cookie()).is_some_and(|c| {
            looks_like_token(c)
                && subtle::ConstantTimeEq::ct_eq(
                    self.csrf_token(headers, c).as_bytes(),
                    form_token.as_bytes(),
                )
                .into()
        })
    }

    fn device_cookie_name(&self) -> &'static str {
        if self.secure {
            DEVICE_COOKIE_HTTPS
        } else {
            DEVICE_COOKIE
        }
    }

    fn device_mac(&self, body: &str) -> ring::hmac::Tag {
        let mut mac = ring::hmac::Context::with_key(&self.device_key);
        mac.update(b"apex-device\0");
        mac.update(body.as_bytes());
        mac.sign()
    }

    /// The device cookie of a browser where `login` just signed in: the login, the
    /// time, and an HMAC of both under a key kept in the store.
    pub fn device_cookie(&self, login: &str, now: i64) -> HeaderValue {
        let who = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            login.trim().to_lowercase(),
        );
        let body = format!("{who}.{now}");
        let mac = base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            self.device_mac(&body).as_ref(),
        );
        self.set_cookie(
            self.device_cookie_name(),
            &format!("{body}.{mac}"),
            "/",
            Some(DEVICE_SECONDS),
        )
    }

    /// Whether the browser holds a device cookie of `login` that this server issued
    /// less than 180 days ago.
    pub fn known_device(&self, headers: &HeaderMap, login: &str, now: i64) -> bool {
        let Some(value) =
            cookie(headers, self.device_cookie_name()).filter(|v| v.len() <= MAX_DEVICE_COOKIE)
        else {
            return false;
        };
        let Some((body, mac)) = value.rsplit_once('.') else {
            return false;
        };
        let Some((who, issued)) = body.split_once('.') else {
            return false;
        };
        let Ok(mac) =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, mac)
        else {
            return false;
        };
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            self.device_mac(body).as_ref(),
            mac.as_slice(),
        )) {
            return false;
        }
        let fresh = issued
            .parse::<i64>()
            .is_ok_and(|t| t <= now && now - t < DEVICE_SECONDS);
        let theirs = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, who)
            .is_ok_and(|w| w == login.trim().to_lowercase().as_bytes());
        fresh && theirs
    }

    /// Keeps a request for its sign-in; returns the interaction id. A source keeps at
    /// most `per_source` pending (its oldest goes), and all together at most `total`.
    pub fn wait(
        &self,
        request: AuthRequest,
        csrf: &str,
        client: IpAddr,
        now: i64,
    ) -> Result<String, WaitError> {
        let source = source_key(client).to_string();
        let id = random_secret();
        let key = digest(&id);
        let expires_at = now + INTERACTION_SECONDS;
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        if pending.total >= self.limits.total {
            pending.forget_expired(now);
        }
        let Pending { by_source, total } = &mut *pending;
        let queue = by_source.entry(source.clone()).or_default();
        while queue.front().is_some_and(|(_, e)| *e <= now) {
            queue.pop_front();
            *total = total.saturating_sub(1);
        }
        if queue.len() >= self.limits.per_source {
            if let Some((oldest, _)) = queue.pop_front() {
                *total = total.saturating_sub(1);
                self.interactions.remove(&oldest)?;
            }
        } else if *total >= self.limits.total {
            return Err(WaitError::Full);
        }
        self.interactions.put(
            &key,
            &Interaction {
                request,
                csrf: csrf.to_owned(),
                expires_at,
                source: Some(source),
            },
        )?;
        queue.push_back((key, expires_at));
        *total += 1;
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
        let key = digest(id);
        if let Some(i) = self.interactions.take(&key)? {
            let source = i.source.unwrap_or_default();
            self.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .forget(&source, &key);
        }
        Ok(())
    }

    /// Forgets expired sessions and requests.
    pub fn purge(&self, now: i64) -> Result<usize, StateError> {
        let s = self.sessions.purge(|s| !self.alive(s, now))?;
        let i = self.interactions.purge(|i| i.expires_at <= now)?;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget_expired(now);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::authorize::{ResponseMode, Target};

    fn request() -> AuthRequest {
        AuthRequest {
            client_id: "app".into(),
            target: Target {
                redirect_uri: "https://app.test/cb".into(),
                state: None,
                response_mode: ResponseMode::Query,
            },
            scope: vec!["openid".into()],
            nonce: None,
            code_challenge: None,
            prompt_none: false,
            prompt_login: false,
            max_age: None,
            login_hint: None,
            expected_sub: None,
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([192, 0, 2, last])
    }

    fn fresh_store() -> (tempfile::TempDir, FaceState) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let state = FaceState::open_at(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, state)
    }

    fn open(store: &FaceState, per_source: usize, total: usize) -> Sessions {
        let lifetimes = Lifetimes {
            idle: 60,
            absolute: 600,
        };
        let limits = PendingLimits { per_source, total };
        let Ok(s) = Sessions::open(store, lifetimes, limits, false) else {
            panic!("sessions do not open")
        };
        s
    }

    #[test]
    fn pending_sign_ins_are_bounded_and_counted_again_at_open() {
        let (_dir, store) = fresh_store();
        let sessions = open(&store, 2, 3);
        let wait = |s: &Sessions, last, now| s.wait(request(), "c", ip(last), now);
        let first = wait(&sessions, 1, 0).unwrap_or_default();
        assert!(wait(&sessions, 1, 1).is_ok());
        assert!(wait(&sessions, 1, 2).is_ok(), "the oldest of .1 goes");
        assert!(matches!(sessions.interaction(&first, "c", 3), Ok(None)));
        assert!(wait(&sessions, 2, 3).is_ok());
        assert!(matches!(wait(&sessions, 3, 4), Err(WaitError::Full)));
        // Reopened over the same trees, the count is the same.
        let again = open(&store, 2, 3);
        assert!(matches!(wait(&again, 3, 5), Err(WaitError::Full)));
        // A source at its own bound still replaces its oldest.
        assert!(wait(&again, 1, 6).is_ok());
        // Answered ones make room.
        let id = wait(&again, 1, 7).unwrap_or_default();
        assert!(again.done(&id).is_ok());
        assert!(wait(&again, 3, 8).is_ok());
        assert!(matches!(wait(&again, 4, 9), Err(WaitError::Full)));
        // Expired ones make room too.
        assert!(wait(&again, 4, INTERACTION_SECONDS + 10).is_ok());
    }

    fn with_cookie(name: &str, set: &HeaderValue) -> HeaderMap {
        let value = set
            .to_str()
            .unwrap_or_default()
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&format!("{name}={value}")) {
            headers.insert(header::COOKIE, v);
        }
        headers
    }

    #[test]
    fn a_device_cookie_names_its_login_and_ages() {
        let (_dir, store) = fresh_store();
        let sessions = open(&store, 2, 3);
        let set = sessions.device_cookie(" CDurand ", 1_000);
        let headers = with_cookie(DEVICE_COOKIE, &set);
        assert!(sessions.known_device(&headers, "cdurand", 1_000));
        assert!(sessions.known_device(&headers, "CDURAND ", 1_000 + DEVICE_SECONDS - 1));
        assert!(!sessions.known_device(&headers, "cdurand", 1_000 + DEVICE_SECONDS));
        assert!(
            !sessions.known_device(&headers, "cdurand", 999),
            "not from the future"
        );
        assert!(!sessions.known_device(&headers, "amartin", 1_000));
        // Under another name (the https one) it is no device cookie of this server.
        let https = with_cookie(DEVICE_COOKIE_HTTPS, &set);
        assert!(!sessions.known_device(&https, "cdurand", 1_000));
        // Reopened over the same store, the key is the same; another store's is not.
        assert!(open(&store, 2, 3).known_device(&headers, "cdurand", 1_000));
        let (_elsewhere, other) = fresh_store();
        assert!(!open(&other, 2, 3).known_device(&headers, "cdurand", 1_000));
        for junk in ["", ".", "a.b.c", "Y2R1cmFuZA.1000.", "Y2R1cmFuZA.x.AAAA"] {
            let mut h = HeaderMap::new();
            if let Ok(v) = HeaderValue::from_str(&format!("{DEVICE_COOKIE}={junk}")) {
                h.insert(header::COOKIE, v);
            }
            assert!(!sessions.known_device(&h, "cdurand", 1_000), "{junk}");
        }
    }
}

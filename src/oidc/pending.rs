//! The authorization requests that wait for a sign-in form, bound to the browser's
//! CSRF cookie and bounded per client address and in all.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::authorize::AuthRequest;
use crate::auth::Browser;
use crate::auth::addr::source_key;
use crate::auth::browser::Opened;
use crate::auth::token::{digest, looks_like_token, random_secret};
use crate::store::table::{FaceState, StateError, Table};

/// Seconds a pending authorization request waits for its sign-in.
const INTERACTION_SECONDS: i64 = 30 * 60;

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

/// The pending sign-ins.
pub struct Interactions {
    interactions: Table<Interaction>,
    pending: Mutex<Pending>,
    limits: PendingLimits,
}

impl Interactions {
    /// Opens the table, and counts the pending sign-ins by source.
    pub fn open(state: &FaceState, limits: PendingLimits) -> Result<Interactions, StateError> {
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
        Ok(Interactions {
            interactions,
            pending: Mutex::new(pending),
            limits,
        })
    }

    /// Binds the pending request `id` to the form token of the session `opened` by
    /// this very answer (the renewal form that follows a sign-in). None when the
    /// browser has no CSRF cookie or the request is gone.
    pub fn rebind(
        &self,
        browser: &Browser,
        headers: &HeaderMap,
        opened: &Opened,
        id: &str,
    ) -> Result<Option<String>, StateError> {
        let Some(token) = browser.csrf_in(headers, opened) else {
            return Ok(None);
        };
        let key = digest(id);
        let Some(mut pending) = self.interactions.get(&key)? else {
            return Ok(None);
        };
        pending.csrf = token.clone();
        self.interactions.put(&key, &pending)?;
        Ok(Some(token))
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

    /// Forgets expired requests.
    pub fn purge(&self, now: i64) -> Result<usize, StateError> {
        let n = self.interactions.purge(|i| i.expires_at <= now)?;
        self.pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .forget_expired(now);
        Ok(n)
    }
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

    fn open(store: &FaceState, per_source: usize, total: usize) -> Interactions {
        let limits = PendingLimits { per_source, total };
        let Ok(s) = Interactions::open(store, limits) else {
            panic!("pending sign-ins do not open")
        };
        s
    }

    #[test]
    fn pending_sign_ins_are_bounded_and_counted_again_at_open() {
        let (_dir, store) = fresh_store();
        let sessions = open(&store, 2, 3);
        let wait = |s: &Interactions, last, now| s.wait(request(), "c", ip(last), now);
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
}

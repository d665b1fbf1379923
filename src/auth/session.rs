//! API sessions: a bearer token given once, stored as its SHA-256 hash, expiring, and
//! valid only while the account keeps the password it was opened with.

use serde::{Deserialize, Serialize};

use super::{stamp, token};
use crate::domain::Account;
use crate::store::{Store, StoreError, T, WriteSet};

/// Who a session speaks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Subject {
    /// A partner account.
    Account {
        /// The account id.
        account_id: String,
    },
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Who.
    pub subject: Subject,
    /// Creation (unix seconds).
    pub created_at: i64,
    /// Expiry (unix seconds).
    pub expires_at: i64,
    /// The password had expired at sign-in: only its renewal is allowed.
    pub password_expired: bool,
    /// The stamp of the password it was opened with ([`stamp::of_credential`]).
    #[serde(default)]
    pub stamp: Option<String>,
}

impl Session {
    /// Whether the account still has the password this session was opened with: a new
    /// password ends every other session at once (the one that set it takes the new
    /// stamp, see [`ApiSessions::renewed`]).
    pub fn holds(&self, account: &Account) -> bool {
        stamp::proves(self.stamp.as_deref(), account)
    }
}

/// The API sessions kept in the store: a handle the core gives the faces, so that they
/// reach sessions and nothing else of the store.
#[derive(Clone, Copy)]
pub struct ApiSessions<'a> {
    store: &'a Store,
}

impl<'a> ApiSessions<'a> {
    /// The sessions kept in `store`.
    pub fn new(store: &'a Store) -> ApiSessions<'a> {
        ApiSessions { store }
    }

    /// Creates a session and returns its bearer token.
    pub fn open(&self, session: &Session) -> Result<String, StoreError> {
        let (secret, key) = token::generate();
        let mut w = WriteSet::new();
        w.put(T::Sessions, key, session);
        self.store.commit_unlocked(&w)?;
        Ok(secret)
    }

    /// Finds a live session by its bearer token.
    pub fn find(&self, bearer: &str, now: i64) -> Result<Option<Session>, StoreError> {
        if !token::looks_like_token(bearer) {
            return Ok(None);
        }
        let s: Option<Session> = self.store.get(T::Sessions, &token::digest(bearer))?;
        Ok(s.filter(|s| s.expires_at > now))
    }

    /// Ends a session.
    pub fn close(&self, bearer: &str) -> Result<(), StoreError> {
        let mut w = WriteSet::new();
        w.remove(T::Sessions, token::digest(bearer));
        self.store.commit_unlocked(&w)
    }

    /// After a password change made through this session: its restriction is lifted
    /// and it takes the new password's stamp, so that it alone stays open.
    pub fn renewed(&self, bearer: &str, account: &Account) -> Result<(), StoreError> {
        let key = token::digest(bearer);
        if let Some(mut s) = self.store.get::<Session>(T::Sessions, &key)? {
            s.password_expired = false;
            s.stamp = stamp::of_credential(account);
            let mut w = WriteSet::new();
            w.put(T::Sessions, key, &s);
            self.store.commit_unlocked(&w)?;
        }
        Ok(())
    }

    /// Removes expired sessions.
    pub fn purge_expired(&self, now: i64) -> Result<usize, StoreError> {
        let mut w = WriteSet::new();
        let mut n = 0;
        for (k, s) in self.store.scan::<Session>(T::Sessions, b"")? {
            if s.expires_at <= now {
                w.remove(T::Sessions, k);
                n += 1;
            }
        }
        self.store.commit_unlocked(&w)?;
        Ok(n)
    }
}

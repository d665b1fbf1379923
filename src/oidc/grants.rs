//! What was issued: authorization codes (single use, short-lived), grants (the family
//! of tokens born from one code, with its current refresh token) and revoked access
//! tokens. Secrets are stored only as SHA-256 digests.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use crate::auth::browser::Authentication;
use crate::auth::token::{digest, random_secret};
use crate::store::table::{FaceState, StateError, Table};

/// Lifetime of an authorization code, in seconds.
pub const CODE_SECONDS: i64 = 60;

/// The stored side of an authorization code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The client it was issued to.
    pub client_id: String,
    /// The redirect URI of the request.
    pub redirect_uri: String,
    /// PKCE S256 challenge, if the client sent one.
    pub code_challenge: Option<String>,
    /// Nonce of the request.
    pub nonce: Option<String>,
    /// Granted scopes.
    pub scope: Vec<String>,
    /// Who and how.
    pub authentication: Authentication,
    /// The grant its tokens will belong to (revoked on replay).
    pub grant_id: String,
    /// Expiry (unix seconds).
    pub expires_at: i64,
    /// Redeemed already.
    pub used: bool,
}

/// A family of tokens: born from one code, renewed by refresh-token rotation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    /// Its client.
    pub client_id: String,
    /// Granted scopes.
    pub scope: Vec<String>,
    /// Who and how.
    pub authentication: Authentication,
    /// Creation (unix seconds).
    pub created_at: i64,
    /// End of the family (unix seconds).
    pub expires_at: i64,
    /// Revoked: every token of the family is dead.
    pub revoked: bool,
    /// SHA-256 of the current refresh token (hex-free raw bytes).
    pub refresh: Vec<u8>,
}

/// What redeeming a code found.
#[derive(Debug)]
pub enum Redeemed {
    /// First use: here is what it grants.
    Fresh(Box<CodeRecord>),
    /// Unknown code.
    Unknown,
    /// Issued to another client (left untouched).
    OtherClient,
    /// Used before: its grant has been revoked.
    Replayed,
}

/// What presenting a refresh token found.
#[derive(Debug)]
pub enum Refreshed {
    /// Rotated: the new refresh token and the family.
    Rotated {
        /// The new refresh token.
        token: String,
        /// Its grant id.
        grant_id: String,
        /// The family.
        grant: Box<Grant>,
    },
    /// Unknown, expired, revoked or another client's.
    Invalid,
    /// An old token of the family: the family has been revoked.
    Reused,
}

/// The trees of issued things.
pub struct Grants {
    codes: Table<CodeRecord>,
    grants: Table<Grant>,
    refresh: Table<String>,
    revoked: Table<i64>,
    /// Serialises refresh rotations, so one token never rotates twice.
    rotation: Mutex<()>,
}

impl Grants {
    /// Opens the tables.
    pub fn open(state: &FaceState) -> Result<Grants, StateError> {
        Ok(Grants {
            codes: state.table("oidc_codes")?,
            grants: state.table("oidc_grants")?,
            refresh: state.table("oidc_refresh")?,
            revoked: state.table("oidc_revoked_jti")?,
            rotation: Mutex::new(()),
        })
    }

    /// Stores a code and returns it.
    pub fn issue_code(&self, record: &CodeRecord) -> Result<String, StateError> {
        let code = random_secret();
        self.codes.put(&digest(&code), record)?;
        Ok(code)
    }

    /// Redeems a code once. A second redemption revokes the grant of the first.
    pub fn redeem(&self, code: &str, client_id: &str) -> Result<Redeemed, StateError> {
        let key = digest(code);
        let Some(read) = self.codes.read(&key)? else {
            return Ok(Redeemed::Unknown);
        };
        if read.value.client_id != client_id {
            return Ok(Redeemed::OtherClient);
        }
        let mut used = read.value.clone();
        used.used = true;
        // A lost race with another redemption is a replay too.
        if read.value.used || !self.codes.swap(&key, &read, &used)? {
            self.revoke_family_of(&read.value)?;
            return Ok(Redeemed::Replayed);
        }
        Ok(Redeemed::Fresh(Box::new(read.value)))
    }

    /// Starts a family with its first refresh token; returns the token, or None when
    /// the family was revoked before it started (its code was replayed meanwhile).
    pub fn start(&self, grant_id: &str, mut grant: Grant) -> Result<Option<String>, StateError> {
        let token = random_secret();
        grant.refresh = digest(&token);
        if !self.grants.put_new(grant_id.as_bytes(), &grant)? {
            return Ok(None);
        }
        self.refresh.put(&grant.refresh, &grant_id.to_owned())?;
        Ok(Some(token))
    }

    /// Revokes the family a code started, or forbids it to start.
    fn revoke_family_of(&self, code: &CodeRecord) -> Result<(), StateError> {
        let tombstone = Grant {
            client_id: code.client_id.clone(),
            scope: Vec::new(),
            authentication: code.authentication.clone(),
            created_at: code.expires_at,
            expires_at: code.expires_at + CODE_SECONDS,
            revoked: true,
            refresh: Vec::new(),
        };
        if !self.grants.put_new(code.grant_id.as_bytes(), &tombstone)? {
            self.revoke_grant(&code.grant_id)?;
        }
        Ok(())
    }

    /// A live family (not revoked, not expired).
    pub fn live(&self, grant_id: &str, now: i64) -> Result<Option<Grant>, StateError> {
        Ok(self
            .grants
            .get(grant_id.as_bytes())?
            .filter(|g| !g.revoked && g.expires_at > now))
    }

    /// Revokes a family (codes replayed, refresh reused, revocation, account gone).
    pub fn revoke_grant(&self, grant_id: &str) -> Result<(), StateError> {
        let _turn = self
            .rotation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(mut g) = self.grants.get(grant_id.as_bytes())? {
            g.revoked = true;
            self.grants.put(grant_id.as_bytes(), &g)?;
        }
        Ok(())
    }

    /// The family of a refresh token, if the token is its current one.
    pub fn by_refresh(&self, token: &str, now: i64) -> Result<Option<(String, Grant)>, StateError> {
        let key = digest(token);
        let Some(grant_id) = self.refresh.get(&key)? else {
            return Ok(None);
        };
        Ok(self
            .live(&grant_id, now)?
            .filter(|g| g.refresh == key)
            .map(|g| (grant_id, g)))
    }

    /// Rotates a refresh token: the old one dies, a reused old one kills the family.
    pub fn rotate(&self, token: &str, client_id: &str, now: i64) -> Result<Refreshed, StateError> {
        let key = digest(token);
        let Some(grant_id) = self.refresh.get(&key)? else {
            return Ok(Refreshed::Invalid);
        };
        let _turn = self
            .rotation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(mut grant) = self.grants.get(grant_id.as_bytes())? else {
            return Ok(Refreshed::Invalid);
        };
        if grant.client_id != client_id || grant.revoked || grant.expires_at <= now {
            return Ok(Refreshed::Invalid);
        }
        if grant.refresh != key {
            grant.revoked = true;
            self.grants.put(grant_id.as_bytes(), &grant)?;
            return Ok(Refreshed::Reused);
        }
        let fresh = random_secret();
        grant.refresh = digest(&fresh);
        self.grants.put(grant_id.as_bytes(), &grant)?;
        self.refresh.put(&grant.refresh, &grant_id)?;
        Ok(Refreshed::Rotated {
            token: fresh,
            grant_id,
            grant: Box::new(grant),
        })
    }

    /// Revokes one access token until it would have expired anyway.
    pub fn revoke_access(&self, jti: &str, exp: i64) -> Result<(), StateError> {
        self.revoked.put(jti.as_bytes(), &exp)
    }

    /// Whether an access token was revoked.
    pub fn access_revoked(&self, jti: &str) -> Result<bool, StateError> {
        Ok(self.revoked.get(jti.as_bytes())?.is_some())
    }

    /// Forgets what expired; returns how many records went.
    pub fn purge(&self, now: i64) -> Result<usize, StateError> {
        let codes = self.codes.purge(|c| c.expires_at + CODE_SECONDS < now)?;
        let grants = self.grants.purge(|g| g.expires_at < now)?;
        let revoked = self.revoked.purge(|exp| *exp < now)?;
        let refresh = self
            .refresh
            .purge(|gid| self.grants.get(gid.as_bytes()).ok().flatten().is_none())?;
        Ok(codes + grants + revoked + refresh)
    }
}

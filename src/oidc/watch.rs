//! Follows the audit log for accounts that may no longer sign in (deletion requested,
//! purged, blocked): their SSO sessions end and their clients are told by
//! back-channel. Only changes made since the issuer started are looked at, and only
//! `account.*` events, so a quiet directory costs one empty range read per tick.

use std::collections::HashSet;

use crate::directory::audit::AuditEvent;
use crate::directory::{DirError, Directory};
use crate::domain::AccountState;
use crate::store::{Store, StoreError, T};

/// Where the watch is in the audit log.
#[derive(Debug, Clone, Copy)]
pub struct AccountWatch {
    seen: u64,
}

impl AccountWatch {
    /// Starts after the last event written so far.
    pub fn new(store: &Store) -> Result<AccountWatch, StoreError> {
        let seen = match store.tree(T::Audit).last()? {
            Some((k, _)) => seq_of(&k),
            None => 0,
        };
        Ok(AccountWatch { seen })
    }

    /// Accounts named by the events written since the last call that can no longer
    /// sign in.
    pub fn ended_accounts(&mut self, directory: &Directory) -> Result<HashSet<String>, DirError> {
        let store = directory.store();
        let from = self.seen.saturating_add(1).to_be_bytes();
        let mut named = HashSet::new();
        for item in store.tree(T::Audit).range(from.as_slice()..) {
            let (k, v) = item.map_err(StoreError::from)?;
            self.seen = seq_of(&k).max(self.seen);
            let Ok(event) = serde_json::from_slice::<AuditEvent>(&v) else {
                continue;
            };
            if event.action.starts_with("account.")
                && let Some(id) = event.target.split('/').next()
            {
                named.insert(id.to_owned());
            }
        }
        let mut ended = HashSet::new();
        for id in named {
            match directory.account(&id) {
                Ok(a) if a.state == AccountState::Active => {}
                Ok(_) | Err(DirError::NotFound { .. }) => {
                    ended.insert(id);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(ended)
    }
}

fn seq_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if let Some(k) = key.get(..8) {
        b.copy_from_slice(k);
    }
    u64::from_be_bytes(b)
}

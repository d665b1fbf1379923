//! Follows the audit log for accounts whose SSO sessions may have to end: accounts that
//! may no longer sign in (deletion requested, purged, blocked) and accounts whose
//! password changed (`password.*` events: changed, reset). Their sessions that no longer
//! stand end, and their clients are told by back-channel.
//!
//! Only changes made since the issuer started are looked at, and only `account.*` and
//! `password.*` events, so a quiet directory costs one empty range read per look. The
//! accounts an event names are looked at one look after it was read: the session that
//! changed a password takes the new password's stamp right after the change, and must
//! not be taken meanwhile for one opened with the old password.

use std::collections::HashMap;

use crate::directory::audit::AuditEvent;
use crate::directory::{DirError, Directory};
use crate::domain::{Account, AccountState};
use crate::store::{Store, StoreError, T};

/// Accounts whose sessions may have to end, as they are now (None: gone).
pub type Changed = HashMap<String, Option<Account>>;

/// Where the watch is in the audit log.
#[derive(Debug, Clone)]
pub struct AccountWatch {
    seen: u64,
    /// Accounts read at the last look, with whether their password changed.
    waiting: HashMap<String, bool>,
}

impl AccountWatch {
    /// Starts after the last event written so far.
    pub fn new(store: &Store) -> Result<AccountWatch, StoreError> {
        let seen = match store.tree(T::Audit).last()? {
            Some((k, _)) => seq_of(&k),
            None => 0,
        };
        Ok(AccountWatch {
            seen,
            waiting: HashMap::new(),
        })
    }

    /// The accounts named at the previous look that left or changed their password; the
    /// events written since are read for the next look. After an error, the same
    /// accounts are looked at again next time.
    pub fn changed_accounts(&mut self, directory: &Directory) -> Result<Changed, DirError> {
        let mut changed = Changed::new();
        for (id, password_changed) in &self.waiting {
            match directory.account(id) {
                Ok(a) if a.state == AccountState::Active && !password_changed => {}
                Ok(a) => {
                    changed.insert(id.clone(), Some(a));
                }
                Err(DirError::NotFound { .. }) => {
                    changed.insert(id.clone(), None);
                }
                Err(e) => return Err(e),
            }
        }
        self.waiting = self.read_new(directory.store())?;
        Ok(changed)
    }

    /// The accounts named by the events written since the last read, each with whether
    /// one of them changed its password.
    fn read_new(&mut self, store: &Store) -> Result<HashMap<String, bool>, StoreError> {
        let from = self.seen.saturating_add(1).to_be_bytes();
        let mut named: HashMap<String, bool> = HashMap::new();
        for item in store.tree(T::Audit).range(from.as_slice()..) {
            let (k, v) = item?;
            self.seen = seq_of(&k).max(self.seen);
            let Ok(event) = serde_json::from_slice::<AuditEvent>(&v) else {
                continue;
            };
            let password = event.action.starts_with("password.");
            if (password || event.action.starts_with("account."))
                && let Some(id) = event.target.split('/').next()
            {
                *named.entry(id.to_owned()).or_default() |= password;
            }
        }
        Ok(named)
    }
}

fn seq_of(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    if let Some(k) = key.get(..8) {
        b.copy_from_slice(k);
    }
    u64::from_be_bytes(b)
}

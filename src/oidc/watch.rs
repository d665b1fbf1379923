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

use crate::directory::{DirError, Directory};
use crate::domain::Account;

/// Changes read at once: a burst of writes is read in bounded steps.
const CHANGES_PER_READ: usize = 1024;

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
    /// Starts after the last change written so far.
    pub fn new(directory: &Directory) -> Result<AccountWatch, DirError> {
        Ok(AccountWatch {
            seen: directory.last_change()?,
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
                Ok(a) if a.may_sign_in() && !password_changed => {}
                Ok(a) => {
                    changed.insert(id.clone(), Some(a));
                }
                Err(DirError::NotFound { .. }) => {
                    changed.insert(id.clone(), None);
                }
                Err(e) => return Err(e),
            }
        }
        self.waiting = self.read_new(directory)?;
        Ok(changed)
    }

    /// The accounts named by the changes written since the last read, each with
    /// whether one of them changed its password.
    fn read_new(&mut self, directory: &Directory) -> Result<HashMap<String, bool>, DirError> {
        let mut named: HashMap<String, bool> = HashMap::new();
        // Moved on only once every change is read: after an error, all are read again.
        let mut seen = self.seen;
        loop {
            let (through, events) = directory.changes_after(seen, CHANGES_PER_READ)?;
            if through == seen {
                break;
            }
            let read = through - seen;
            seen = through;
            for event in &events {
                let password = event.action.starts_with("password.")
                    || event.action == crate::directory::SESSIONS_ENDED;
                if (password || event.action.starts_with("account."))
                    && let Some(id) = event.target.split('/').next()
                {
                    *named.entry(id.to_owned()).or_default() |= password;
                }
            }
            if read < CHANGES_PER_READ as u64 {
                break;
            }
        }
        self.seen = seen;
        Ok(named)
    }
}

//! Time-driven work: expired invitations end, deletion requests are purged after the
//! retention period, expiry warnings are mailed, dead tokens and sessions are dropped.

use std::sync::Arc;
use std::time::Duration;

use super::{Batch, DirResult, Directory};
use crate::auth::token::OneTimeToken;
use crate::domain::account::{LifecycleEvent, Outcome, transition};
use crate::domain::{Account, AccountState};
use crate::mail::Message;
use crate::store::T;

/// The actor name of time-driven changes in the audit log.
const SYSTEM: &str = "system";

/// What one round of housekeeping did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HousekeepingReport {
    /// Invitations that expired unused.
    pub invitations_expired: usize,
    /// Accounts purged after their deletion request.
    pub purged: usize,
    /// Expiry warnings mailed.
    pub warnings: usize,
    /// Expired one-time tokens and sessions dropped.
    pub tokens_dropped: usize,
}

impl Directory {
    fn accounts_in(&self, state: AccountState) -> DirResult<Vec<Account>> {
        let ids = self.store.index_ids(T::AccountsByState, state.as_str())?;
        ids.iter().map(|id| self.account(id)).collect()
    }

    /// Runs one round of housekeeping.
    pub async fn housekeeping(&self) -> DirResult<HousekeepingReport> {
        let mut report = HousekeepingReport::default();
        let now = self.now();
        let invitation_secs = i64::from(self.settings.invitation_days) * 86_400;
        let retention_secs = i64::from(self.settings.retention_days) * 86_400;
        {
            let lock = self.store.lock();
            let mut batch = Batch::new();
            for a in self.accounts_in(AccountState::Invited)? {
                if a.state_changed_at + invitation_secs <= now
                    && transition(a.state, LifecycleEvent::Expire) == Ok(Outcome::Ended)
                {
                    batch.account(SYSTEM, "account.invitation_expired", Some(&a), None);
                    report.invitations_expired += 1;
                }
            }
            for a in self.accounts_in(AccountState::DeletionRequested)? {
                if a.state_changed_at + retention_secs <= now
                    && transition(a.state, LifecycleEvent::Purge) == Ok(Outcome::Ended)
                {
                    batch.account(SYSTEM, "account.purge", Some(&a), None);
                    report.purged += 1;
                }
            }
            let warn_secs = i64::from(self.settings.expiry_warning_days) * 86_400;
            for a in self.accounts_in(AccountState::Active)? {
                let (Some(expires_at), Some(c)) =
                    (self.password_expires_at(&a), a.credential.as_ref())
                else {
                    continue;
                };
                if now >= expires_at - warn_secs
                    && now < expires_at
                    && a.expiry_warned_for != Some(c.changed_at)
                {
                    let mail = Message::ExpiryWarning {
                        to_name: &a.display_name(),
                        to_email: &a.person.email,
                        login: a.login.as_deref().unwrap_or_default(),
                        expires_at,
                        link: &self.link("/"),
                    }
                    .render();
                    self.queue_mail(&mut batch, mail)?;
                    let after = Account {
                        expiry_warned_for: Some(c.changed_at),
                        ..a.clone()
                    };
                    super::save_account(&mut batch.writes, Some(&a), Some(&after));
                    report.warnings += 1;
                }
            }
            for (k, t) in self.store.scan::<OneTimeToken>(T::Tokens, b"")? {
                if t.expires_at <= now {
                    batch.writes.remove(T::Tokens, k);
                    report.tokens_dropped += 1;
                }
            }
            self.commit(&lock, batch)?;
        }
        report.tokens_dropped += crate::auth::session::purge_expired(&self.store, now)?;
        self.durable().await?;
        Ok(report)
    }
}

/// Runs housekeeping every minute until the process ends.
pub async fn run(directory: Arc<Directory>) {
    loop {
        if let Err(e) = directory.housekeeping().await {
            tracing::error!(error = %e, "housekeeping");
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

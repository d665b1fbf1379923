//! Time-driven work: expired invitations end, deletion requests are purged after the
//! retention period, expiry warnings are mailed, dead tokens and sessions are dropped.

use std::sync::Arc;
use std::time::Duration;

use super::{By, DirError, DirResult, Directory};
use crate::auth::token::OneTimeToken;
use crate::domain::account::{LifecycleEvent, Outcome, transition};
use crate::domain::{Account, AccountState};
use crate::mail::Message;
use crate::store::T;

/// The actor name of time-driven changes in the audit log.
const SYSTEM: &str = "system";

/// The upkeep's authority over the expiries and purges the configuration decides: only
/// the housekeeping makes one.
pub(crate) struct Upkeep(());

impl Upkeep {
    /// The authority of the bulk generator, a command run on the server's own data
    /// directory: its events are the system's, as the expiries'.
    pub(super) fn bulk_load() -> Upkeep {
        Upkeep(())
    }

    /// How the audit log names the upkeep.
    pub(super) fn author(&self) -> &'static str {
        SYSTEM
    }
}

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

/// How long the change feed keeps a commit (shared database), in seconds.
const CHANGES_KEPT_SECONDS: u64 = 3600;

/// How often the expiry-warning scan reads every active account, in seconds.
const WARNING_SCAN_EVERY: i64 = 3600;

/// What one account needs, found by a scan made without the writer lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chore {
    ExpireInvitation,
    Purge,
    WarnExpiry,
}

impl Directory {
    /// The accounts in `state` that need `chore` now, read one at a time past the
    /// store's cache: a scan of every active account would otherwise evict the working
    /// set of the faces, and holding them all at once would cost a gigabyte at a million
    /// accounts.
    fn due(&self, state: AccountState, chore: Chore, now: i64) -> DirResult<Vec<(String, Chore)>> {
        let mut due = Vec::new();
        for id in self.store.index_ids(T::AccountsByState, state.as_str())? {
            let Some(a) = self.store.get::<Account>(T::Accounts, id.as_bytes())? else {
                continue;
            };
            if self.needs(&a, chore, now) {
                due.push((id, chore));
            }
        }
        Ok(due)
    }

    /// Whether an account needs a chore now (checked again under the writer lock).
    fn needs(&self, a: &Account, chore: Chore, now: i64) -> bool {
        match chore {
            Chore::ExpireInvitation => {
                a.state == AccountState::Invited
                    && a.state_changed_at + i64::from(self.settings.invitation_days) * 86_400 <= now
                    && transition(a.state, LifecycleEvent::Expire) == Ok(Outcome::Ended)
            }
            Chore::Purge => {
                a.state == AccountState::DeletionRequested
                    && a.state_changed_at + i64::from(self.settings.retention_days) * 86_400 <= now
                    && transition(a.state, LifecycleEvent::Purge) == Ok(Outcome::Ended)
            }
            Chore::WarnExpiry => {
                let warn_secs = i64::from(self.settings.expiry_warning_days) * 86_400;
                // A blocked account is warned of nothing: it may not renew its password.
                a.may_sign_in()
                    && match (self.password_expires_at(a), a.credential.as_ref()) {
                        (Some(expires_at), Some(c)) => {
                            now >= expires_at - warn_secs
                                && now < expires_at
                                && a.expiry_warned_for != Some(c.changed_at)
                        }
                        _ => false,
                    }
            }
        }
    }

    /// Runs one round of housekeeping. The scans read without the writer lock, so a
    /// large directory never stalls writes; each candidate is checked again under it.
    pub async fn housekeeping(&self) -> DirResult<HousekeepingReport> {
        let mut report = HousekeepingReport::default();
        let now = self.now();
        // Nodes read the change feed before every request: an hour of it is far more
        // than any node that still runs needs; one away longer drops its whole cache.
        let trimmed = self.store.trim_changes(CHANGES_KEPT_SECONDS)?;
        if trimmed > 0 {
            tracing::debug!(trimmed, "change feed trimmed");
        }
        let mut chores: Vec<(String, Chore)> = Vec::new();
        for (state, chore) in [
            (AccountState::Invited, Chore::ExpireInvitation),
            (AccountState::DeletionRequested, Chore::Purge),
        ] {
            chores.extend(self.due(state, chore, now)?);
        }
        // Reading every active account is the costly scan: hourly is enough for warnings
        // counted in days.
        let last = self
            .last_warning_scan
            .load(std::sync::atomic::Ordering::SeqCst);
        if now - last >= WARNING_SCAN_EVERY || now < last {
            self.last_warning_scan
                .store(now, std::sync::atomic::Ordering::SeqCst);
            chores.extend(self.due(AccountState::Active, Chore::WarnExpiry, now)?);
        }
        let expired_tokens: Vec<Vec<u8>> = self
            .store
            .scan::<OneTimeToken>(T::Tokens, b"")?
            .into_iter()
            .filter(|(_, t)| t.expires_at <= now)
            .map(|(k, _)| k)
            .collect();
        if !chores.is_empty() || !expired_tokens.is_empty() {
            self.write(|batch| {
                for (id, chore) in chores {
                    let Ok(a) = self.account(&id) else { continue };
                    if !self.needs(&a, chore, now) {
                        continue;
                    }
                    match chore {
                        Chore::ExpireInvitation => {
                            batch.account(
                                By::Upkeep(&Upkeep(())),
                                "account.invitation_expired",
                                Some(&a),
                                None,
                            )?;
                            report.invitations_expired += 1;
                        }
                        Chore::Purge => {
                            batch.account(
                                By::Upkeep(&Upkeep(())),
                                "account.purge",
                                Some(&a),
                                None,
                            )?;
                            report.purged += 1;
                        }
                        Chore::WarnExpiry => {
                            let (Some(expires_at), Some(c)) =
                                (self.password_expires_at(&a), a.credential.as_ref())
                            else {
                                continue;
                            };
                            let mail = Message::ExpiryWarning {
                                to_name: &a.display_name(),
                                to_email: &a.person.email,
                                login: a.login.as_deref().unwrap_or_default(),
                                expires_at,
                                link: &self.link("/"),
                            }
                            .render();
                            self.queue_mail(batch, By::Upkeep(&Upkeep(())), mail)?;
                            let after = Account {
                                expiry_warned_for: Some(c.changed_at),
                                ..a.clone()
                            };
                            batch.mark_account(By::Upkeep(&Upkeep(())), Some(&a), Some(&after))?;
                            report.warnings += 1;
                        }
                    }
                }
                for k in expired_tokens {
                    batch.drop_expired_link(&Upkeep(()), k);
                    report.tokens_dropped += 1;
                }
                Ok(())
            })
            .await?;
        }
        report.tokens_dropped += self.api_sessions().purge_expired(now)?;
        Ok(report)
    }
}

/// Seconds between two passes over the data directory's permissions.
const PERMISSIONS_EVERY: u64 = 5;

/// Keeps the data directory owner-only while the server runs: the files the store
/// creates (at the umask's mode) are set to 0600 within a few seconds. The process's
/// umask cannot be set without `unsafe`; the 0700 directory keeps others out meanwhile.
pub async fn keep_private(directory: Arc<Directory>) {
    loop {
        tokio::time::sleep(Duration::from_secs(PERMISSIONS_EVERY)).await;
        let d = Arc::clone(&directory);
        match tokio::task::spawn_blocking(move || d.store.tighten_permissions()).await {
            Ok(Ok(0)) | Err(_) => {}
            Ok(Ok(changed)) => tracing::debug!(changed, "data directory tightened"),
            Ok(Err(e)) => tracing::warn!(error = %e, "data directory permissions"),
        }
    }
}

/// Runs housekeeping every minute until the process ends; among nodes sharing one
/// database, one node at a time (the one that takes the lead for the round).
pub async fn run(directory: Arc<Directory>) {
    loop {
        match directory.store.lead("housekeeping") {
            Ok(Some(_lead)) => {
                if let Err(e) = directory.housekeeping().await {
                    match e {
                        DirError::Unavailable(_) => tracing::warn!(error = %e, "housekeeping"),
                        _ => tracing::error!(error = %e, "housekeeping"),
                    }
                }
            }
            Ok(None) => tracing::debug!("housekeeping: another node leads this round"),
            Err(e) => tracing::warn!(error = %e, "housekeeping: cannot take the lead"),
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
    }
}

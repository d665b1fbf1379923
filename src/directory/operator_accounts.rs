//! The DGFiP operator's actions on accounts: read them, block and unblock them, end
//! their sessions, replace an administrateur.

use super::operator::refuse_closed;
use super::{By, DirError, DirResult, Directory};
use crate::domain::{Account, Block, BlockReason, PersonalData, Role};

/// The audit action of ending an account's sessions: the issuer's watch ends its SSO
/// sessions on it as on a new password.
pub const SESSIONS_ENDED: &str = "account.sessions-end";

impl Directory {
    /// An account by id or by identifier (operator).
    pub fn account_by_ref(&self, reference: &str) -> DirResult<Account> {
        match self.account(reference) {
            Err(DirError::NotFound { .. }) => self
                .account_by_login(&reference.trim().to_lowercase())?
                .ok_or(DirError::NotFound { what: "compte" }),
            other => other,
        }
    }

    /// The accounts of a structure, by its id or SIRET (operator).
    pub fn operator_accounts(&self, structure_ref: &str) -> DirResult<Vec<Account>> {
        let structure = self.structure_by_ref(structure_ref)?;
        self.accounts_of(&structure.id)
    }

    /// Blocks an account (operator): no sign-in anywhere (web, API, OpenID Connect,
    /// LDAP), and its stamp goes, so every session and token family ends. Refused for
    /// the structure's last administrateur who may sign in (409 `last-administrateur`)
    /// and for an account already blocked (409 `account-blocked`).
    pub async fn block_account(&self, reference: &str) -> DirResult<Account> {
        self.write(|batch| {
            let before = self.account_by_ref(reference)?;
            if before.blocked.is_some() {
                return Err(DirError::conflict(
                    "account-blocked",
                    "ce compte est déjà bloqué",
                ));
            }
            let structure = self.structure(&before.structure_id)?;
            refuse_closed(&structure)?;
            if before.role == Role::Administrateur
                && before.may_sign_in()
                && self.active_administrateurs(&before.structure_id)? <= 1
            {
                return Err(DirError::conflict(
                    "last-administrateur",
                    "la structure doit garder un administrateur actif : invitez-en un autre d'abord (admin replace)",
                ));
            }
            let now = self.now();
            let after = Account {
                blocked: Some(Block {
                    at: now,
                    reason: BlockReason::Operator,
                }),
                modified_at: now,
                ..before.clone()
            };
            batch.account(By::Operator, "account.block", Some(&before), Some(&after))?;
            Ok(after)
        })
        .await
    }

    /// Unblocks an account (operator). The sessions opened before the block stay ended
    /// (its sessions count moves on). Refused when it is not blocked (409
    /// `account-not-blocked`) or its structure is closed (409 `structure-closed`).
    pub async fn unblock_account(&self, reference: &str) -> DirResult<Account> {
        self.write(|batch| {
            let before = self.account_by_ref(reference)?;
            let structure = self.structure(&before.structure_id)?;
            refuse_closed(&structure)?;
            if before.blocked.is_none() {
                return Err(DirError::conflict(
                    "account-not-blocked",
                    "ce compte n'est pas bloqué",
                ));
            }
            let after = Account {
                blocked: None,
                sessions_ended: before.sessions_ended.saturating_add(1),
                modified_at: self.now(),
                ..before.clone()
            };
            batch.account(By::Operator, "account.unblock", Some(&before), Some(&after))?;
            Ok(after)
        })
        .await
    }

    /// Ends every session of an account (operator): API sessions, SSO sessions and
    /// OpenID Connect refresh-token families, as a new password would, by moving its
    /// stamp on. The person may sign in again at once.
    pub async fn end_sessions(&self, reference: &str) -> DirResult<Account> {
        self.write(|batch| {
            let before = self.account_by_ref(reference)?;
            let after = Account {
                sessions_ended: before.sessions_ended.saturating_add(1),
                modified_at: self.now(),
                ..before.clone()
            };
            batch.account(By::Operator, SESSIONS_ENDED, Some(&before), Some(&after))?;
            Ok(after)
        })
        .await
    }

    /// Replaces an administrateur (operator): invites the new one, who is active once his
    /// form is done; in that very commit the old one is blocked. Until then the old one
    /// stays, so the structure is never without an administrateur.
    pub async fn replace_administrateur(
        &self,
        reference: &str,
        person: &PersonalData,
    ) -> DirResult<Account> {
        self.write(|batch| {
            let old = self.account_by_ref(reference)?;
            if old.role != Role::Administrateur {
                return Err(DirError::conflict(
                    "not-administrateur",
                    "seul un administrateur est remplacé",
                ));
            }
            if old.blocked.is_some() {
                return Err(DirError::conflict(
                    "account-blocked",
                    "cet administrateur est déjà bloqué",
                ));
            }
            let structure = self.structure(&old.structure_id)?;
            let invited = self.invite_administrateur_in(batch, &structure, person)?;
            let replacing = Account {
                replaces: Some(old.id.clone()),
                ..invited.clone()
            };
            batch.account(
                By::Operator,
                "account.replace",
                Some(&invited),
                Some(&replacing),
            )?;
            Ok(replacing)
        })
        .await
    }

    /// In the commit that activates `new`, blocks the administrateur it replaces (if he
    /// is still there and not blocked already).
    pub(super) fn retire_replaced(&self, batch: &mut super::Batch, new: &Account) -> DirResult<()> {
        let Some(old_id) = &new.replaces else {
            return Ok(());
        };
        let old = match self.account(old_id) {
            Ok(a) => a,
            Err(DirError::NotFound { .. }) => return Ok(()),
            Err(e) => return Err(e),
        };
        if old.blocked.is_some() {
            return Ok(());
        }
        let now = self.now();
        let after = Account {
            blocked: Some(Block {
                at: now,
                reason: BlockReason::Replaced,
            }),
            modified_at: now,
            ..old.clone()
        };
        batch.account(By::Operator, "account.block", Some(&old), Some(&after))
    }
}

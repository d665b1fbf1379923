//! Accounts: pre-creation, validation, identifiers, deletion requests, consultation.

use super::{AccountSummary, Batch, By, DirError, DirResult, Directory, StructureView};
use crate::domain::account::{LifecycleEvent, Outcome, transition};
use crate::domain::rights::{Target, authorize};
use crate::domain::{Account, AccountState, Actor, Function, PersonalData, Role, login};
use crate::mail::Message;
use crate::store::T;

impl Directory {
    /// An account of the actor's structure, hidden if it belongs to another.
    pub(super) fn visible_account(&self, actor: &Actor, id: &str) -> DirResult<Account> {
        match self.account(id) {
            Ok(a) if a.structure_id == actor.structure_id => Ok(a),
            _ => Err(DirError::NotFound { what: "compte" }),
        }
    }

    fn lifecycle(&self, account: &Account, event: LifecycleEvent) -> DirResult<Outcome> {
        transition(account.state, event)
            .map_err(|e| DirError::conflict("account-state", e.to_string()))
    }

    /// Pre-creates an account and sends the pre-creation mail.
    pub async fn pre_create(
        &self,
        actor: &Actor,
        role: Role,
        service_id: &str,
        person: &PersonalData,
    ) -> DirResult<Account> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let service = self.visible_service_for(actor, service_id)?;
            let target = Target::new_account_in(&service, role);
            let permit = authorize(actor, Function::PreCreate, &target)?;
            let structure = self.structure(&actor.structure_id)?;
            let inviter = self.account(&actor.account_id)?;
            let account = self.invite(
                batch,
                By::Partner(&permit),
                &inviter.display_name(),
                &structure,
                Some(&service),
                role,
                person,
            )?;
            Ok(account)
        })
        .await
    }

    /// The actor as he is now, read under the writer lock: a transfer, a role change or a
    /// suspension committed since his request began decides, not the state it began with.
    pub(super) fn current(&self, actor: &Actor) -> DirResult<Actor> {
        Ok(self.actor(&actor.account_id)?.0)
    }

    fn visible_service_for(&self, actor: &Actor, id: &str) -> DirResult<crate::domain::Service> {
        match self.service(id) {
            Ok(s) if s.structure_id == actor.structure_id => Ok(s),
            _ => Err(DirError::invalid(
                "unknown-service",
                "service_id",
                "ce service n'existe pas dans votre structure",
            )),
        }
    }

    /// The accounts of the actor's structure, optionally in one state.
    pub fn list_accounts(
        &self,
        actor: &Actor,
        state: Option<AccountState>,
    ) -> DirResult<Vec<AccountSummary>> {
        let own = Target::of_structure(&actor.structure_id);
        authorize(actor, Function::Consult, &own)?;
        // The structure's own index bounds the work by its size, whatever the state asked.
        let accounts = self.accounts_of(&actor.structure_id)?;
        Ok(accounts
            .iter()
            .filter(|a| state.is_none_or(|st| a.state == st))
            .map(AccountSummary::from)
            .collect())
    }

    /// One account of the actor's structure.
    pub fn consult_account(&self, actor: &Actor, id: &str) -> DirResult<AccountSummary> {
        let account = self.visible_account(actor, id)?;
        authorize(actor, Function::Consult, &Target::of_account(&account))?;
        Ok(AccountSummary::from(&account))
    }

    /// The actor's structure with its services and accounts.
    pub fn consult_structure(&self, actor: &Actor) -> DirResult<StructureView> {
        let own = Target::of_structure(&actor.structure_id);
        authorize(actor, Function::Consult, &own)?;
        self.structure_view(self.structure(&actor.structure_id)?)
    }

    /// A structure with its services and every account: for its own people once the
    /// matrix allowed it, or for the operator.
    pub(super) fn structure_view(
        &self,
        structure: crate::domain::Structure,
    ) -> DirResult<StructureView> {
        let services = self.services_of(&structure.id)?;
        let accounts = self
            .accounts_of(&structure.id)?
            .iter()
            .map(AccountSummary::from)
            .collect();
        Ok(StructureView {
            structure,
            services,
            accounts,
        })
    }

    /// Validates a completed pre-creation: the identifier is generated and mailed.
    pub async fn validate(&self, actor: &Actor, id: &str) -> DirResult<Account> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let before = self.visible_account(actor, id)?;
            let permit = authorize(
                actor,
                Function::ValidateCreations,
                &Target::of_account(&before),
            )?;
            let Outcome::State(state) = self.lifecycle(&before, LifecycleEvent::Validate)? else {
                return Err(DirError::conflict(
                    "account-state",
                    "la validation ne termine aucun compte",
                ));
            };
            let now = self.now();
            let login = self.free_login(&before)?;
            let after = Account {
                state,
                login: Some(login),
                modified_at: now,
                state_changed_at: now,
                ..before.clone()
            };
            batch.account(
                By::Partner(&permit),
                "account.validate",
                Some(&before),
                Some(&after),
            )?;
            self.queue_identifier(batch, By::Partner(&permit), &after)?;
            Ok(after)
        })
        .await
    }

    /// Rejects a completed pre-creation: the account ends.
    pub async fn reject(&self, actor: &Actor, id: &str) -> DirResult<()> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let before = self.visible_account(actor, id)?;
            let permit = authorize(
                actor,
                Function::ValidateCreations,
                &Target::of_account(&before),
            )?;
            self.lifecycle(&before, LifecycleEvent::Reject)?;
            batch.account(By::Partner(&permit), "account.reject", Some(&before), None)?;
            Ok(())
        })
        .await
    }

    /// Mails the identifier of an active account again.
    pub async fn resend_identifier(&self, actor: &Actor, id: &str) -> DirResult<()> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let account = self.visible_account(actor, id)?;
            let permit = authorize(
                actor,
                Function::ResendIdentifier,
                &Target::of_account(&account),
            )?;
            if account.state != AccountState::Active || account.login.is_none() {
                return Err(DirError::conflict(
                    "account-state",
                    "seul un compte actif a un identifiant à renvoyer",
                ));
            }
            self.queue_identifier(batch, By::Partner(&permit), &account)?;
            let structure_id = account.structure_id.clone();
            batch.record(
                By::Partner(&permit),
                &structure_id,
                "account.resend_identifier",
                account.id.clone(),
                None,
                None,
            );
            Ok(())
        })
        .await
    }

    /// Requests the deletion of an account, once it holds no habilitation. The account is
    /// blocked at once and purged after the retention period; nobody else is affected.
    pub async fn request_deletion(&self, actor: &Actor, id: &str) -> DirResult<Account> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let before = self.visible_account(actor, id)?;
            let permit = authorize(
                actor,
                Function::RequestDeletion,
                &Target::of_account(&before),
            )?;
            if !before.habilitations.is_empty() {
                return Err(DirError::Conflict {
                    rule: "habilitations-remain",
                    message:
                        "retirez d'abord les habilitations du compte, puis demandez sa suppression"
                            .into(),
                    blocking: before
                        .habilitations
                        .iter()
                        .map(|h| h.profile.to_string())
                        .collect(),
                });
            }
            if before.role == Role::Administrateur
                && self.active_administrateurs(&before.structure_id)? <= 1
            {
                return Err(DirError::conflict(
                    "last-administrateur",
                    "une structure garde toujours au moins un administrateur",
                ));
            }
            let Outcome::State(state) = self.lifecycle(&before, LifecycleEvent::RequestDeletion)?
            else {
                return Err(DirError::conflict(
                    "account-state",
                    "la demande de suppression ne termine aucun compte",
                ));
            };
            let now = self.now();
            let after = Account {
                state,
                modified_at: now,
                state_changed_at: now,
                ..before.clone()
            };
            let structure = self.structure(&after.structure_id)?;
            batch.account(
                By::Partner(&permit),
                "account.deletion_request",
                Some(&before),
                Some(&after),
            )?;
            let mail = Message::DeletionNotice {
                to_name: &after.display_name(),
                to_email: &after.person.email,
                structure_name: &structure.name,
            }
            .render();
            self.queue_mail(batch, By::Partner(&permit), mail)?;
            Ok(after)
        })
        .await
    }

    pub(super) fn active_administrateurs(&self, structure_id: &str) -> DirResult<usize> {
        Ok(self
            .accounts_of(structure_id)?
            .iter()
            .filter(|a| a.role == Role::Administrateur && a.may_sign_in())
            .count())
    }

    /// The first identifier candidate never used before (identifiers are never reused).
    pub(super) fn free_login(&self, account: &Account) -> DirResult<String> {
        let base = login::base(&account.person.given_name, &account.person.family_name);
        for candidate in login::candidates(&base) {
            let used = self.store.contains(T::LoginsUsed, candidate.as_bytes())?;
            if !used {
                return Ok(candidate);
            }
        }
        Err(DirError::conflict(
            "login-exhausted",
            "aucun identifiant disponible",
        ))
    }

    pub(super) fn queue_identifier(
        &self,
        batch: &mut Batch,
        by: By<'_>,
        account: &Account,
    ) -> DirResult<()> {
        let Some(login) = &account.login else {
            return Ok(());
        };
        let sign_in_url = self.link("/");
        let mail = Message::Identifier {
            to_name: &account.display_name(),
            to_email: &account.person.email,
            login,
            sign_in_url: &sign_in_url,
        }
        .render();
        self.queue_mail(batch, by, mail)
    }
}

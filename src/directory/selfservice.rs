//! What a person does for himself: complete his pre-creation, set, change and reset his
//! own password, see and rectify his data, open his applications.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use super::audit::{self, AuditEvent};
use super::{
    ApplicationLink, Batch, By, DirError, DirResult, Directory, InvitationView, audit_view,
};
use crate::auth::backoff::Kind;
use crate::auth::stamp;
use crate::auth::token::{self, OneTimeToken, TokenKind};
use crate::clock::rfc3339;
use crate::domain::account::{LifecycleEvent, Outcome, check_email, check_person, transition};
use crate::domain::password::WeakPassword;
use crate::domain::rights::{Function, Target, authorize};
use crate::domain::{Account, AccountState, Actor, Credential, PersonalData, Role, Siret};
use crate::mail::Message;
use crate::store::T;

/// The personal-data export (RGPD).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Export {
    /// The account, without its password hash.
    #[schemars(with = "crate::domain::Account")]
    pub account: serde_json::Value,
    /// The structure's name and SIRET.
    pub structure: ExportedStructure,
    /// When the password expires (RFC 3339), if it does.
    pub password_expires_at: Option<String>,
    /// Every audit event about the account.
    pub events: Vec<AuditEvent>,
    /// Who to contact for erasure.
    pub erasure_contact: String,
}

/// The structure as the personal-data export names it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ExportedStructure {
    /// Its name.
    pub name: String,
    /// Its SIRET.
    pub siret: Siret,
}

/// Corrections a person may bring to his name.
#[derive(Debug, Clone, Default)]
pub struct NameCorrection {
    /// New first name.
    pub given_name: Option<String>,
    /// New family name.
    pub family_name: Option<String>,
}

/// A one-time link that may still be used: its stored key, its record and its account.
pub(super) struct LiveLink {
    key: Vec<u8>,
    record: OneTimeToken,
    account: Account,
    proof: Proof,
}

/// A request for a link mailed to the address on file of an account (a forgotten
/// password), let through by the quotas: only self-service makes one. It allows that
/// link and its mail, no record.
pub(crate) struct Asked {
    account_id: String,
}

impl Asked {
    #[cfg(test)]
    pub(crate) fn for_test(account_id: &str) -> Asked {
        Asked {
            account_id: account_id.into(),
        }
    }

    /// The account whose address receives the link.
    pub(crate) fn account_id(&self) -> &str {
        &self.account_id
    }
}

/// Proof that a person showed his own link or his current password: only self-service
/// makes one, once it checked them, and a write it allows covers his own account only.
pub(crate) struct Proof {
    account_id: String,
}

impl Proof {
    fn of(account: &Account) -> Proof {
        Proof {
            account_id: account.id.clone(),
        }
    }

    /// The account of the person who proved himself.
    pub(crate) fn account_id(&self) -> &str {
        &self.account_id
    }
}

impl Directory {
    /// The link behind `secret` if it is of `kind`, unexpired, and its account is still
    /// as it was when the link was mailed (see [`OneTimeToken::fits`]).
    pub(super) fn live_token(&self, secret: &str, kind: TokenKind) -> DirResult<LiveLink> {
        if !token::looks_like_token(secret) {
            return Err(DirError::LinkInvalid);
        }
        let key = token::digest(secret);
        let record: OneTimeToken = self
            .store
            .get(T::Tokens, &key)?
            .ok_or(DirError::LinkInvalid)?;
        if record.kind != kind || record.expires_at <= self.now() {
            return Err(DirError::LinkInvalid);
        }
        let account = self
            .account(&record.account_id)
            .map_err(|_| DirError::LinkInvalid)?;
        if !record.fits(&account) {
            return Err(DirError::LinkInvalid);
        }
        Ok(LiveLink {
            key,
            record,
            proof: Proof::of(&account),
            account,
        })
    }

    /// Whether a one-time link of this kind is still usable (shown before its form).
    pub fn link_is_live(&self, secret: &str, kind: TokenKind) -> DirResult<bool> {
        match self.live_token(secret, kind) {
            Ok(_) => Ok(true),
            Err(DirError::LinkInvalid) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// What an invitation link offers.
    pub fn invitation(&self, secret: &str) -> DirResult<InvitationView> {
        let LiveLink {
            record, account, ..
        } = self.live_token(secret, TokenKind::Invitation)?;
        if account.state != AccountState::Invited {
            return Err(DirError::LinkInvalid);
        }
        let structure = self.structure(&account.structure_id)?;
        let service = account
            .service_id
            .as_deref()
            .map(|s| self.service(s))
            .transpose()?;
        let inviter = match self.account(&account.invited_by) {
            Ok(a) => a.display_name(),
            Err(_) => "la DGFiP".to_owned(),
        };
        Ok(InvitationView {
            inviter,
            structure: structure.name,
            siret: structure.siret.to_string(),
            service: service.map(|s| s.name),
            role: account.role,
            given_name: account.person.given_name,
            family_name: account.person.family_name,
            email: account.person.email,
            expires_at: rfc3339(record.expires_at),
        })
    }

    /// Checks a new password against the policy and the history, then hashes it.
    async fn new_credential(&self, account: &Account, password: &str) -> DirResult<Credential> {
        let email_local = account.person.email.split('@').next().unwrap_or_default();
        let mut personal = vec![
            account.person.given_name.as_str(),
            account.person.family_name.as_str(),
            email_local,
        ];
        if let Some(l) = &account.login {
            personal.push(l);
        }
        self.settings
            .policy
            .check(password, &personal)
            .map_err(weak)?;
        let previous: Vec<&String> = account
            .credential
            .iter()
            .flat_map(|c| std::iter::once(&c.phc).chain(c.history.iter()))
            .take(self.settings.policy.history.max(1))
            .collect();
        for phc in &previous {
            if self.hasher.verify(password, phc).await {
                return Err(weak(WeakPassword::Reused));
            }
        }
        let phc = self.hasher.hash(password).await?;
        let mut history: Vec<String> = previous.into_iter().cloned().collect();
        history.truncate(self.settings.policy.history);
        Ok(Credential {
            phc,
            changed_at: self.now(),
            history,
        })
    }

    /// Completes a pre-creation: the person sets his own password. Returns the new state.
    pub async fn complete_invitation(
        &self,
        secret: &str,
        password: &str,
        names: &NameCorrection,
    ) -> DirResult<Account> {
        let mut candidate = self.live_token(secret, TokenKind::Invitation)?.account;
        candidate.person = corrected(&candidate.person, names)?;
        let credential = self.new_credential(&candidate, password).await?;
        self.write(|batch| {
            // Re-read under the lock: the link is single use even against a concurrent submit.
            let LiveLink {
                key,
                account: before,
                proof,
                ..
            } = self.live_token(secret, TokenKind::Invitation)?;
            let vouched = before.invited_by == super::operator::OPERATOR
                && before.role == Role::Administrateur;
            let outcome = transition(before.state, LifecycleEvent::CompleteForm { vouched })
                .map_err(|_| DirError::LinkInvalid)?;
            let Outcome::State(state) = outcome else {
                return Err(DirError::LinkInvalid);
            };
            let now = self.now();
            let mut after = Account {
                state,
                person: candidate.person.clone(),
                credential: Some(credential),
                modified_at: now,
                state_changed_at: now,
                ..before.clone()
            };
            batch.end_link(By::Owner(&proof), key, &before)?;
            if state == AccountState::Active {
                after.login = Some(self.free_login(&after)?);
                self.queue_identifier(batch, By::Owner(&proof), &after)?;
            }
            batch.account(
                By::Owner(&proof),
                "account.complete_form",
                Some(&before),
                Some(&after),
            )?;
            if state == AccountState::Active {
                self.retire_replaced(batch, &after)?;
            }
            Ok(after)
        })
        .await
    }

    /// Takes a forgotten-password request. The answer is the same, and as fast, whatever
    /// the identifier: only the source's quota is counted here (too many requests from
    /// one address wait, whatever they name); the identifier is looked up, and its mail
    /// queued, after the answer ([`Directory::request_password_reset`]).
    pub fn accept_password_reset(self: &Arc<Self>, login: &str, addr: IpAddr) -> DirResult<()> {
        if let Some(wait) = self.backoff.reset_request_from(addr, self.now()) {
            return Err(DirError::TooManyAttempts { retry_after: wait });
        }
        // A bounded number wait for their lookup at once: beyond, under a flood from
        // many addresses, a request is dropped as one past its quota would be.
        let Ok(slot) = Arc::clone(&self.reset_slots).try_acquire_owned() else {
            tracing::warn!("password reset requests: too many at once, one dropped");
            return Ok(());
        };
        let directory = Arc::clone(self);
        let login = login.to_owned();
        tokio::spawn(async move {
            if let Err(e) = directory.request_password_reset(&login).await {
                tracing::error!(error = %e, "password reset request");
            }
            drop(slot);
        });
        Ok(())
    }

    /// Mails a reset link to the holder of an active, unblocked account, within the login's quota
    /// of reset mails (beyond it, nothing is sent: earlier links still work). Does nothing
    /// for an unknown identifier.
    pub async fn request_password_reset(&self, login: &str) -> DirResult<()> {
        let login = login.trim().to_lowercase();
        let Some(account) = self.account_by_login(&login)? else {
            return Ok(());
        };
        // A blocked account gets no link either: it could not sign in with the password.
        if !account.may_sign_in() || !self.backoff.reset_mail_to(&login, self.now()) {
            return Ok(());
        }
        self.write(|batch| {
            let now = self.now();
            let minutes = self.settings.reset_link_minutes;
            let (secret, key) = token::generate();
            let record = OneTimeToken {
                kind: TokenKind::PasswordReset,
                account_id: account.id.clone(),
                created_at: now,
                expires_at: now + i64::from(minutes) * 60,
                new_email: None,
                stamp: stamp::of_links(&account),
            };
            let asked = Asked {
                account_id: account.id.clone(),
            };
            batch.issue_link(By::Asker(&asked), key, &record, &account)?;
            let link = self.link(&format!("/password-resets/{secret}"));
            let mail = Message::PasswordReset {
                to_name: &account.display_name(),
                to_email: &account.person.email,
                link: &link,
                minutes,
            }
            .render();
            self.queue_mail(batch, By::Asker(&asked), mail)?;
            Ok(())
        })
        .await
    }

    /// Sets a new password through a reset link. Every session, token family and link of
    /// the account opened under the old password ends with it (see [`crate::auth::stamp`]).
    pub async fn reset_password(&self, secret: &str, password: &str) -> DirResult<()> {
        let account = self.live_token(secret, TokenKind::PasswordReset)?.account;
        let credential = self.new_credential(&account, password).await?;
        let login = self
            .write(|batch| {
                let LiveLink {
                    key,
                    account: before,
                    proof,
                    ..
                } = self.live_token(secret, TokenKind::PasswordReset)?;
                if !before.may_sign_in() {
                    return Err(DirError::LinkInvalid);
                }
                let after = Account {
                    credential: Some(credential),
                    modified_at: self.now(),
                    ..before.clone()
                };
                batch.end_link(By::Owner(&proof), key, &before)?;
                batch.account(
                    By::Owner(&proof),
                    "password.reset",
                    Some(&before),
                    Some(&after),
                )?;
                Ok(before.login)
            })
            .await?;
        // The owner proved he holds the mailbox: the login's delays end.
        if let Some(login) = &login {
            self.backoff.lift(login);
        }
        Ok(())
    }

    /// Checks the current password an operation on one's own credentials asks for,
    /// behind the login's backoff as seen from `from` (a stolen session cannot guess
    /// it either, nor, by guessing wrong from elsewhere, keep the owner from changing
    /// it). `field` names the field it came in.
    async fn check_current_password(
        &self,
        account: &Account,
        current: &str,
        field: &'static str,
        from: IpAddr,
    ) -> DirResult<Proof> {
        let login = account.login.clone().unwrap_or_default();
        if let Some(wait) = self
            .backoff
            .retry_after(Kind::Person, &login, Some(from), self.now())
        {
            return Err(DirError::TooManyAttempts { retry_after: wait });
        }
        let current_ok = match &account.credential {
            Some(c) => self.hasher.verify(current, &c.phc).await,
            None => false,
        };
        if !current_ok {
            self.backoff
                .fail(Kind::Person, &login, Some(from), self.now());
            return Err(DirError::invalid(
                "wrong-current-password",
                field,
                "le mot de passe actuel est erroné",
            ));
        }
        Ok(Proof::of(account))
    }

    /// Changes one's own password, knowing the current one. Returns the account with its
    /// new password: every session, token family and link opened under the old one ends
    /// (see [`crate::auth::stamp`]); the session that made the change takes the new
    /// password's stamp from it to stay open.
    pub async fn change_password(
        &self,
        account_id: &str,
        current: &str,
        new: &str,
        from: IpAddr,
    ) -> DirResult<Account> {
        let account = self.account(account_id)?;
        let proof = self
            .check_current_password(&account, current, "current", from)
            .await?;
        let credential = self.new_credential(&account, new).await?;
        self.write(|batch| {
            let before = self.account(account_id)?;
            if before.credential != account.credential {
                return Err(DirError::conflict(
                    "password-changed",
                    "le mot de passe a changé entre-temps ; recommencez",
                ));
            }
            let after = Account {
                credential: Some(credential),
                modified_at: self.now(),
                ..before.clone()
            };
            batch.account(
                By::Owner(&proof),
                "password.change",
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await
    }

    /// The account `account_id` for an operation on personal data: the matrix's
    /// [`Function::OwnData`] reaches the actor's own account only.
    fn own_account(&self, actor: &Actor, account_id: &str) -> DirResult<Account> {
        Ok(self.own_account_permit(actor, account_id)?.0)
    }

    /// [`Directory::own_account`] with the matrix's permit, for a write.
    fn own_account_permit(
        &self,
        actor: &Actor,
        account_id: &str,
    ) -> DirResult<(Account, crate::domain::Permit)> {
        let account = self.account(account_id)?;
        let permit = authorize(actor, Function::OwnData, &Target::of_account(&account))?;
        Ok((account, permit))
    }

    /// The account `account_id` with its personal data, for its holder only.
    pub fn personal_data(&self, actor: &Actor, account_id: &str) -> DirResult<Account> {
        self.own_account(actor, account_id)
    }

    /// Rectifies the names of `account_id` (the actor's own), and asks for a new e-mail
    /// address. A new address needs
    /// the current password (a stolen session must not take over the account's mail),
    /// is taken only once confirmed through a link sent to it, and the current address is
    /// told at once, so that its holder can stop a change he did not ask for.
    pub async fn update_personal_data(
        &self,
        actor: &Actor,
        account_id: &str,
        names: &NameCorrection,
        new_email: Option<&str>,
        current_password: Option<&str>,
        from: IpAddr,
    ) -> DirResult<Account> {
        let account = self.own_account(actor, account_id)?;
        corrected(&account.person, names)?;
        let email = self
            .asked_email(&account, new_email, current_password, from)
            .await?;
        self.write(|batch| {
            let (before, permit) = self.own_account_permit(actor, account_id)?;
            if email.is_some() && before.credential != account.credential {
                return Err(DirError::conflict(
                    "password-changed",
                    "le mot de passe a changé entre-temps ; recommencez",
                ));
            }
            let after = Account {
                person: corrected(&before.person, names)?,
                modified_at: self.now(),
                ..before.clone()
            };
            if after.person != before.person {
                batch.account(
                    By::Partner(&permit),
                    "account.update_personal_data",
                    Some(&before),
                    Some(&after),
                )?;
            }
            if let Some(email) = &email {
                self.check_email_free(&before.structure_id, email, Some(&before.id))?;
                self.queue_email_confirmation(batch, By::Partner(&permit), &after, email)?;
            }
            Ok(after)
        })
        .await
    }

    /// The new address asked for, if it differs from the current one, once checked: well
    /// formed, free in the structure, and asked with the right current password (the
    /// cheap checks first, so that a refused form costs no hash).
    async fn asked_email(
        &self,
        account: &Account,
        new_email: Option<&str>,
        current_password: Option<&str>,
        from: IpAddr,
    ) -> DirResult<Option<String>> {
        let Some(email) = new_email
            .map(|e| check_email(e).map_err(|m| DirError::invalid("personal-data", "email", m)))
            .transpose()?
            .filter(|e| e.to_lowercase() != account.person.email.to_lowercase())
        else {
            return Ok(None);
        };
        self.check_email_free(&account.structure_id, &email, Some(&account.id))?;
        let current = current_password.filter(|p| !p.is_empty()).ok_or_else(|| {
            DirError::invalid(
                "current-password-required",
                "current_password",
                "saisissez votre mot de passe actuel pour changer d'adresse électronique",
            )
        })?;
        self.check_current_password(account, current, "current_password", from)
            .await?;
        Ok(Some(email))
    }

    /// Mails the confirmation link to the new address, and the notice of the change, with
    /// no link, to the current one.
    fn queue_email_confirmation(
        &self,
        batch: &mut Batch,
        by: By<'_>,
        account: &Account,
        email: &str,
    ) -> DirResult<()> {
        let now = self.now();
        let minutes = self.settings.reset_link_minutes.max(60);
        let (secret, key) = token::generate();
        let record = OneTimeToken {
            kind: TokenKind::EmailChange,
            account_id: account.id.clone(),
            created_at: now,
            expires_at: now + i64::from(minutes) * 60,
            new_email: Some(email.to_owned()),
            stamp: stamp::of_links(account),
        };
        batch.issue_link(by, key, &record, account)?;
        let link = self.link(&format!("/email-confirmations/{secret}"));
        let name = account.display_name();
        let confirmation = Message::EmailConfirmation {
            to_name: &name,
            to_email: email,
            link: &link,
            minutes,
        };
        let notice = Message::EmailChangeNotice {
            to_name: &name,
            to_email: &account.person.email,
        };
        self.queue_mail(batch, by, confirmation.render())?;
        self.queue_mail(batch, by, notice.render())
    }

    /// Confirms a new e-mail address through its link. Every other link mailed before
    /// (reset links to the old address, other confirmations) ends with the old address.
    pub async fn confirm_email(&self, secret: &str) -> DirResult<Account> {
        self.write(|batch| {
            let LiveLink {
                key,
                record,
                account: before,
                proof,
            } = self.live_token(secret, TokenKind::EmailChange)?;
            let email = record.new_email.ok_or(DirError::LinkInvalid)?;
            self.check_email_free(&before.structure_id, &email, Some(&before.id))?;
            let after = Account {
                person: PersonalData {
                    email,
                    ..before.person.clone()
                },
                modified_at: self.now(),
                ..before.clone()
            };
            batch.end_link(By::Owner(&proof), key, &before)?;
            batch.account(
                By::Owner(&proof),
                "account.update_email",
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await
    }

    /// When the account's password expires, if it does.
    pub fn password_expires_at(&self, account: &Account) -> Option<i64> {
        let days = self.settings.policy.max_age_days(account.role);
        let c = account.credential.as_ref()?;
        (days > 0).then(|| c.changed_at + i64::from(days) * 86_400)
    }

    /// The personal-data export of `account_id` (the actor's own).
    pub fn export(&self, actor: &Actor, account_id: &str) -> DirResult<Export> {
        let account = self.own_account(actor, account_id)?;
        let structure = self.structure(&account.structure_id)?;
        let events = audit::of_structure(&self.store, &account.structure_id)?
            .into_iter()
            .filter(|e| e.target == account.id || e.actor == account.id)
            .collect();
        Ok(Export {
            account: audit_view(&account),
            structure: ExportedStructure {
                name: structure.name,
                siret: structure.siret,
            },
            password_expires_at: self.password_expires_at(&account).map(rfc3339),
            events,
            erasure_contact:
                "Adressez votre demande d'effacement à un administrateur de votre structure, \
                              qui demandera la suppression de votre compte."
                    .into(),
        })
    }

    /// The applications the holder of `account_id` (the actor himself) may open.
    pub fn applications_of(
        &self,
        actor: &Actor,
        account_id: &str,
    ) -> DirResult<Vec<ApplicationLink>> {
        let account = self.own_account(actor, account_id)?;
        let structure = self.structure(&account.structure_id)?;
        let catalogue = self.catalogue();
        let entitled = catalogue
            .category(&structure.category)
            .map(|c| c.applications.clone())
            .unwrap_or_default();
        Ok(catalogue
            .applications
            .iter()
            .filter_map(|app| {
                let profiles: Vec<_> = account.profiles_of(&app.code).cloned().collect();
                let open = !profiles.is_empty()
                    || (!app.require_habilitation && entitled.contains(&app.code));
                open.then(|| ApplicationLink {
                    code: app.code.clone(),
                    name: app.name.clone(),
                    url: app.url.clone(),
                    profiles,
                })
            })
            .collect())
    }

    /// The audit log of the actor's structure (administrateurs only).
    pub fn audit_of(&self, actor: &Actor) -> DirResult<Vec<AuditEvent>> {
        if !crate::domain::rights::administers(actor.role) {
            return Err(DirError::Forbidden {
                rule: "audit-administrateur-only",
                message: "le journal d'audit est réservé aux administrateurs de la structure"
                    .into(),
            });
        }
        Ok(audit::of_structure(&self.store, &actor.structure_id)?)
    }

    /// Lifts the sign-in backoff of an account of the structure (administrateurs only).
    pub fn lift_backoff(&self, actor: &Actor, account_id: &str) -> DirResult<()> {
        let account = self.visible_account(actor, account_id)?;
        if !crate::domain::rights::administers(actor.role) {
            return Err(DirError::Forbidden {
                rule: "unlock-administrateur-only",
                message: "seul un administrateur peut lever un délai de connexion".into(),
            });
        }
        if let Some(login) = &account.login {
            self.backoff.lift(login);
        }
        Ok(())
    }
}

/// A person's data with his names corrected, checked.
fn corrected(person: &PersonalData, names: &NameCorrection) -> DirResult<PersonalData> {
    let mut person = person.clone();
    if let Some(g) = &names.given_name {
        person.given_name = g.clone();
    }
    if let Some(f) = &names.family_name {
        person.family_name = f.clone();
    }
    check_person(&person).map_err(|(f, m)| DirError::invalid("personal-data", f, m))
}

fn weak(w: WeakPassword) -> DirError {
    DirError::invalid("weak-password", "password", w.to_string())
}

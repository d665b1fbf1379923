//! The DGFiP operator's actions: structures (create, show, rename, recategorise, close)
//! and their first administrateurs.

use super::{Batch, By, DirError, DirResult, Directory, StructureView, new_id, to_value};
use crate::auth::token::{self, OneTimeToken, TokenKind};
use crate::domain::account::check_person;
use crate::domain::structure::check_name;
use crate::domain::{
    Account, AccountState, Block, BlockReason, PersonalData, Role, Service, Siret, Structure,
};
use crate::mail::Message;
use crate::store::T;

/// The actor name of the operator in the audit log.
pub const OPERATOR: &str = "operator";

impl Directory {
    /// Creates a structure (operator).
    pub async fn create_structure(
        &self,
        siret: &str,
        category: &str,
        name: &str,
    ) -> DirResult<Structure> {
        let siret = Siret::parse(siret.trim())
            .map_err(|e| DirError::invalid("siret", "siret", e.to_string()))?;
        let name = check_name(name).map_err(|m| DirError::invalid("name", "name", m))?;
        if self.catalogue().category(category).is_none() {
            return Err(DirError::invalid(
                "category",
                "category",
                format!("catégorie inconnue : {category:?}"),
            ));
        }
        self.write(|batch| {
            if self.structure_id_by_siret(siret.as_str())?.is_some() {
                return Err(DirError::conflict(
                    "siret-taken",
                    format!("une structure de SIRET {siret} existe déjà"),
                ));
            }
            let now = self.now();
            let structure = Structure {
                id: new_id(),
                siret,
                category: category.to_owned(),
                name,
                created_at: now,
                modified_at: now,
                closed_at: None,
            };
            batch.structure(By::Operator, None, &structure)?;
            let id = structure.id.clone();
            batch.record(
                By::Operator,
                &id,
                "structure.create",
                id.clone(),
                None,
                Some(to_value(&structure)),
            );
            Ok(structure)
        })
        .await
    }

    /// Every structure (operator).
    pub fn structures(&self) -> DirResult<Vec<Structure>> {
        Ok(self.store.values_from(T::Structures, b"", usize::MAX)?)
    }

    /// A structure by id or by SIRET.
    pub fn structure_by_ref(&self, reference: &str) -> DirResult<Structure> {
        if let Ok(siret) = Siret::parse(reference)
            && let Some(id) = self.structure_id_by_siret(siret.as_str())?
        {
            return self.structure(&id);
        }
        self.structure(reference)
    }

    /// A structure with its services and every account (operator).
    pub fn operator_structure_view(&self, reference: &str) -> DirResult<StructureView> {
        self.structure_view(self.structure_by_ref(reference)?)
    }

    /// Renames and/or recategorises a structure (operator). A new category must still
    /// entitle every profile its accounts hold or were delegated (409
    /// `category-excludes-held`, `blocking` lists them): no right is taken away behind
    /// the administrateurs' back.
    pub async fn update_structure(
        &self,
        reference: &str,
        name: Option<&str>,
        category: Option<&str>,
    ) -> DirResult<Structure> {
        let name = name
            .map(|n| check_name(n).map_err(|m| DirError::invalid("name", "name", m)))
            .transpose()?;
        if let Some(c) = category
            && self.catalogue().category(c).is_none()
        {
            return Err(DirError::invalid(
                "category",
                "category",
                format!("catégorie inconnue : {c:?}"),
            ));
        }
        self.write(|batch| {
            let before = self.structure_by_ref(reference)?;
            refuse_closed(&before)?;
            let mut after = before.clone();
            if let Some(n) = name {
                after.name = n;
            }
            if let Some(c) = category {
                after.category = c.to_owned();
                let mut excluded: Vec<String> = Vec::new();
                for a in self.accounts_of(&before.id)? {
                    let held = a.habilitations.iter().map(|h| &h.profile);
                    let delegated = a.delegations.iter().map(|d| &d.profile);
                    for p in held.chain(delegated) {
                        if !self.catalogue().is_entitled(c, p) && !excluded.contains(&p.to_string())
                        {
                            excluded.push(p.to_string());
                        }
                    }
                }
                if !excluded.is_empty() {
                    return Err(DirError::Conflict {
                        rule: "category-excludes-held",
                        message: format!(
                            "la catégorie {c} ne couvre pas des profils encore détenus ; retirez-les d'abord"
                        ),
                        blocking: excluded,
                    });
                }
            }
            if after == before {
                return Ok(after);
            }
            after.modified_at = self.now();
            batch.structure(By::Operator, Some(&before), &after)?;
            batch.record(
                By::Operator,
                &after.id,
                "structure.update",
                after.id.clone(),
                Some(to_value(&before)),
                Some(to_value(&after)),
            );
            Ok(after)
        })
        .await
    }

    /// Closes a structure (operator), for good: every account of it is blocked in the
    /// same commit (no sign-in anywhere, every session ends with the stamp), its records
    /// and audit events stay, its SIRET stays taken, and nothing of it changes anymore.
    pub async fn close_structure(&self, reference: &str) -> DirResult<Structure> {
        self.write(|batch| {
            let before = self.structure_by_ref(reference)?;
            refuse_closed(&before)?;
            let now = self.now();
            let after = Structure {
                closed_at: Some(now),
                modified_at: now,
                ..before.clone()
            };
            batch.structure(By::Operator, Some(&before), &after)?;
            batch.record(
                By::Operator,
                &after.id,
                "structure.close",
                after.id.clone(),
                Some(to_value(&before)),
                Some(to_value(&after)),
            );
            for a in self.accounts_of(&after.id)? {
                if a.blocked.is_some() {
                    continue;
                }
                let blocked = Account {
                    blocked: Some(Block {
                        at: now,
                        reason: BlockReason::StructureClosed,
                    }),
                    modified_at: now,
                    ..a.clone()
                };
                batch.account(By::Operator, "account.block", Some(&a), Some(&blocked))?;
            }
            Ok(after)
        })
        .await
    }

    /// Invites an administrateur for a structure (operator): he is active once his form is done.
    pub async fn invite_administrateur(
        &self,
        structure_ref: &str,
        person: &PersonalData,
    ) -> DirResult<Account> {
        self.write(|batch| {
            let structure = self.structure_by_ref(structure_ref)?;
            self.invite_administrateur_in(batch, &structure, person)
        })
        .await
    }

    /// The operator's invitation of an administrateur into an open structure, in
    /// `batch` (a first administrateur, or one who replaces another).
    pub(super) fn invite_administrateur_in(
        &self,
        batch: &mut Batch,
        structure: &Structure,
        person: &PersonalData,
    ) -> DirResult<Account> {
        refuse_closed(structure)?;
        self.invite(
            batch,
            By::Operator,
            "la DGFiP",
            structure,
            None,
            Role::Administrateur,
            person,
        )
    }

    /// Creates an invited account, its one-time link and the pre-creation mail, audited.
    /// The caller holds the writer lock and commits the batch.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn invite(
        &self,
        batch: &mut Batch,
        by: By<'_>,
        inviter_name: &str,
        structure: &Structure,
        service: Option<&Service>,
        role: Role,
        person: &PersonalData,
    ) -> DirResult<Account> {
        let person =
            check_person(person).map_err(|(f, m)| DirError::invalid("personal-data", f, m))?;
        self.check_email_free(&structure.id, &person.email, None)?;
        let now = self.now();
        let account = Account {
            id: new_id(),
            structure_id: structure.id.clone(),
            service_id: service.map(|s| s.id.clone()),
            role,
            state: AccountState::Invited,
            login: None,
            person,
            habilitations: Vec::new(),
            delegations: Vec::new(),
            credential: None,
            invited_by: by.author().to_owned(),
            created_at: now,
            modified_at: now,
            state_changed_at: now,
            expiry_warned_for: None,
            blocked: None,
            sessions_ended: 0,
            replaces: None,
        };
        let expires_at = now + i64::from(self.settings.invitation_days) * 86_400;
        let (secret, key) = token::generate();
        let record = OneTimeToken {
            kind: TokenKind::Invitation,
            account_id: account.id.clone(),
            created_at: now,
            expires_at,
            new_email: None,
            stamp: None,
        };
        batch.issue_link(by, key, &record, &account)?;
        batch.account(by, "account.invite", None, Some(&account))?;
        let link = self.link(&format!("/invitations/{secret}"));
        let mail = Message::Invitation {
            to_name: &account.display_name(),
            to_email: &account.person.email,
            inviter_name,
            structure_name: &structure.name,
            service_name: service.map(|s| s.name.as_str()),
            role,
            link: &link,
            expires_at,
        }
        .render();
        self.queue_mail(batch, by, mail)?;
        Ok(account)
    }

    /// Refuses an e-mail address already used by another account of the structure.
    pub(super) fn check_email_free(
        &self,
        structure_id: &str,
        email: &str,
        except: Option<&str>,
    ) -> DirResult<()> {
        for id in self.account_ids_by_email(&email.to_lowercase())? {
            if Some(id.as_str()) == except {
                continue;
            }
            if self
                .account(&id)
                .is_ok_and(|a| a.structure_id == structure_id)
            {
                return Err(DirError::conflict(
                    "email-in-use",
                    format!("un compte de cette structure utilise déjà l'adresse {email}"),
                ));
            }
        }
        Ok(())
    }
}

/// Refuses any change to a closed structure (409 `structure-closed`).
pub(super) fn refuse_closed(structure: &Structure) -> DirResult<()> {
    match structure.closed_at {
        Some(_) => Err(DirError::conflict(
            "structure-closed",
            format!("la structure {} est fermée", structure.siret),
        )),
        None => Ok(()),
    }
}

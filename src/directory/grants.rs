//! Habilitations and delegations. No cascade: removing a delegation leaves the
//! habilitations granted with it in place.

use super::{By, DirError, DirResult, Directory};
use crate::domain::rights::{Permit, ProfileSource, Target, allowance, authorize};
use crate::domain::{Account, AccountState, Actor, Delegation, Function, Habilitation, ProfileId};

/// Whether a grant or delegation is being added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Add,
    Remove,
}

impl Directory {
    /// The profiles the actor may hand out with `function` (habilitate or delegate):
    /// those his structure is entitled to, or only those delegated to him.
    pub fn grantable_profiles(
        &self,
        actor: &Actor,
        function: Function,
    ) -> DirResult<Vec<ProfileId>> {
        let Some(cell) = allowance(function, actor.role) else {
            return Ok(Vec::new());
        };
        let structure = self.structure(&actor.structure_id)?;
        let catalogue = self.catalogue();
        let entitled = catalogue
            .applications
            .iter()
            .flat_map(|app| {
                app.profiles
                    .iter()
                    .filter_map(|p| ProfileId::new(&app.code, &p.code).ok())
            })
            .filter(|p| self.catalogue().is_entitled(&structure.category, p));
        Ok(match cell.profiles {
            ProfileSource::None => Vec::new(),
            ProfileSource::Entitled => entitled.collect(),
            ProfileSource::Delegated => {
                let me = self.account(&actor.account_id)?;
                entitled.filter(|p| me.has_delegation(p)).collect()
            }
        })
    }

    /// Checks that the permit lets the actor hand out this profile. When `taking_back` a
    /// profile the target holds, the catalogue is not consulted: the operator may have
    /// dropped the profile since, and it must stay removable, or the account could never
    /// be deleted.
    fn check_profile(
        &self,
        actor: &Actor,
        permit: &Permit,
        profile: &ProfileId,
        taking_back: bool,
    ) -> DirResult<()> {
        if !taking_back {
            self.check_catalogue(actor, profile)?;
        }
        if permit.allowance().profiles == ProfileSource::Delegated {
            let me = self.account(&actor.account_id)?;
            if !me.has_delegation(profile) {
                return Err(DirError::Forbidden {
                    rule: "not-delegated",
                    message: format!("le profil {profile} ne vous a pas été délégué"),
                });
            }
        }
        Ok(())
    }

    /// Checks that the profile exists and that the actor's structure is entitled to it.
    fn check_catalogue(&self, actor: &Actor, profile: &ProfileId) -> DirResult<()> {
        if !self.catalogue().has_profile(profile) {
            return Err(DirError::invalid(
                "unknown-profile",
                "profile",
                format!("profil inconnu : {profile}"),
            ));
        }
        let structure = self.structure(&actor.structure_id)?;
        if !self.catalogue().is_entitled(&structure.category, profile) {
            return Err(DirError::Forbidden {
                rule: "category-not-entitled",
                message: format!(
                    "les structures de la catégorie {} ne peuvent pas recevoir le profil {profile}",
                    structure.category
                ),
            });
        }
        Ok(())
    }

    async fn change_right(
        &self,
        actor: &Actor,
        function: Function,
        account_id: &str,
        profile: &ProfileId,
        change: Change,
    ) -> DirResult<(Account, bool)> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let before = self.visible_account(actor, account_id)?;
            let permit = authorize(actor, function, &Target::of_account(&before))?;
            let (held, action) = match function {
                Function::Delegate => (
                    before.has_delegation(profile),
                    ["delegation.add", "delegation.remove"],
                ),
                _ => (
                    before.holds(profile),
                    ["habilitation.grant", "habilitation.remove"],
                ),
            };
            self.check_profile(actor, &permit, profile, change == Change::Remove && held)?;
            if change == Change::Add && before.state == AccountState::DeletionRequested {
                return Err(DirError::conflict(
                    "account-state",
                    "la suppression de ce compte a été demandée",
                ));
            }
            let now = self.now();
            let mut after = before.clone();
            match (change, held) {
                (Change::Add, true) => return Ok((before, false)),
                (Change::Remove, false) => {
                    return Err(DirError::NotFound {
                        what: if function == Function::Delegate {
                            "delegation"
                        } else {
                            "habilitation"
                        },
                    });
                }
                (Change::Add, false) if function == Function::Delegate => {
                    after.delegations.push(Delegation {
                        profile: profile.clone(),
                        delegated_by: actor.account_id.clone(),
                        delegated_at: now,
                    })
                }
                (Change::Add, false) => after.habilitations.push(Habilitation {
                    profile: profile.clone(),
                    granted_by: actor.account_id.clone(),
                    granted_at: now,
                }),
                (Change::Remove, true) if function == Function::Delegate => {
                    after.delegations.retain(|d| &d.profile != profile)
                }
                (Change::Remove, true) => after.habilitations.retain(|h| &h.profile != profile),
            }
            after.modified_at = now;
            let [add, remove] = action;
            batch.account(
                By::Partner(&permit),
                if change == Change::Add { add } else { remove },
                Some(&before),
                Some(&after),
            )?;
            Ok((after, true))
        })
        .await
    }

    /// Grants a profile to an account; returns the account and whether it changed.
    pub async fn grant(
        &self,
        actor: &Actor,
        account_id: &str,
        profile: &ProfileId,
    ) -> DirResult<(Account, bool)> {
        let out = self
            .change_right(
                actor,
                Function::Habilitate,
                account_id,
                profile,
                Change::Add,
            )
            .await?;
        Ok(out)
    }

    /// Removes a habilitation.
    pub async fn revoke(
        &self,
        actor: &Actor,
        account_id: &str,
        profile: &ProfileId,
    ) -> DirResult<Account> {
        let (a, _) = self
            .change_right(
                actor,
                Function::Habilitate,
                account_id,
                profile,
                Change::Remove,
            )
            .await?;
        Ok(a)
    }

    /// Delegates a profile to a responsable; returns the account and whether it changed.
    pub async fn delegate(
        &self,
        actor: &Actor,
        account_id: &str,
        profile: &ProfileId,
    ) -> DirResult<(Account, bool)> {
        let out = self
            .change_right(actor, Function::Delegate, account_id, profile, Change::Add)
            .await?;
        Ok(out)
    }

    /// Removes a delegation (the habilitations granted with it stay).
    pub async fn undelegate(
        &self,
        actor: &Actor,
        account_id: &str,
        profile: &ProfileId,
    ) -> DirResult<Account> {
        let (a, _) = self
            .change_right(
                actor,
                Function::Delegate,
                account_id,
                profile,
                Change::Remove,
            )
            .await?;
        Ok(a)
    }
}

//! Services of a structure: create, rename, delete, merge, transfer people.

use super::{By, DirError, DirResult, Directory, Members, new_id};
use crate::domain::rights::{Target, authorize};
use crate::domain::structure::check_name;
use crate::domain::{Account, Actor, Function, Service};

impl Directory {
    /// A service of the actor's structure, hidden if it belongs to another.
    fn visible_service(&self, actor: &Actor, id: &str) -> DirResult<Service> {
        match self.service(id) {
            Ok(s) if s.structure_id == actor.structure_id => Ok(s),
            _ => Err(DirError::NotFound { what: "service" }),
        }
    }

    fn check_service_name_free(
        &self,
        structure_id: &str,
        name: &str,
        except: Option<&str>,
    ) -> DirResult<()> {
        let taken = self
            .services_of(structure_id)?
            .iter()
            .any(|s| Some(s.id.as_str()) != except && s.name.to_lowercase() == name.to_lowercase());
        if taken {
            return Err(DirError::conflict(
                "service-name-taken",
                format!("un service nommé {name:?} existe déjà"),
            ));
        }
        Ok(())
    }

    /// Creates a service in the actor's structure.
    pub async fn create_service(&self, actor: &Actor, name: &str) -> DirResult<Service> {
        let own = Target::of_structure(&actor.structure_id);
        let permit = authorize(actor, Function::ManageServices, &own)?;
        let name = check_name(name).map_err(|m| DirError::invalid("name", "name", m))?;
        self.write(|batch| {
            let actor = &self.current(actor)?;
            self.check_service_name_free(&actor.structure_id, &name, None)?;
            let now = self.now();
            let service = Service {
                id: new_id(),
                structure_id: actor.structure_id.clone(),
                name,
                created_at: now,
                modified_at: now,
            };
            batch.service(By::Partner(&permit), "service.create", None, Some(&service))?;
            Ok(service)
        })
        .await
    }

    /// Renames a service.
    pub async fn rename_service(&self, actor: &Actor, id: &str, name: &str) -> DirResult<Service> {
        let name = check_name(name).map_err(|m| DirError::invalid("name", "name", m))?;
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let before = self.visible_service(actor, id)?;
            let permit = authorize(
                actor,
                Function::ManageServices,
                &Target::of_service(&before),
            )?;
            self.check_service_name_free(&actor.structure_id, &name, Some(id))?;
            let after = Service {
                name,
                modified_at: self.now(),
                ..before.clone()
            };
            batch.service(
                By::Partner(&permit),
                "service.rename",
                Some(&before),
                Some(&after),
            )?;
            Ok(after)
        })
        .await
    }

    /// Deletes a service, only when no account belongs to it.
    pub async fn delete_service(&self, actor: &Actor, id: &str) -> DirResult<()> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let before = self.visible_service(actor, id)?;
            let permit = authorize(
                actor,
                Function::ManageServices,
                &Target::of_service(&before),
            )?;
            let members = self.member_ids(Members::Service(id))?;
            if !members.is_empty() {
                return Err(DirError::Conflict {
                    rule: "service-not-empty",
                    message: format!(
                        "le service compte encore {} compte(s) : transférez-les ou fusionnez le service d'abord",
                        members.len()
                    ),
                    blocking: members,
                });
            }
            batch.service(By::Partner(&permit), "service.delete", Some(&before), None)?;
            Ok(())
        })
        .await
    }

    /// Merges `from` into `into`: everyone moves, then `from` is deleted. DNs and
    /// habilitations are unchanged.
    pub async fn merge_services(
        &self,
        actor: &Actor,
        from: &str,
        into: &str,
    ) -> DirResult<Service> {
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let source = self.visible_service(actor, from)?;
            let target = self.visible_service(actor, into)?;
            let permit = authorize(
                actor,
                Function::MergeAndTransfer,
                &Target::of_service(&source),
            )?;
            authorize(
                actor,
                Function::MergeAndTransfer,
                &Target::of_service(&target),
            )?;
            if source.id == target.id {
                return Err(DirError::invalid(
                    "merge-same",
                    "into",
                    "un service ne peut pas être fusionné avec lui-même",
                ));
            }
            let now = self.now();
            for id in self.member_ids(Members::Service(&source.id))? {
                let before = self.account(&id)?;
                let after = Account {
                    service_id: Some(target.id.clone()),
                    modified_at: now,
                    ..before.clone()
                };
                batch.account(
                    By::Partner(&permit),
                    "account.transfer",
                    Some(&before),
                    Some(&after),
                )?;
            }
            batch.service(By::Partner(&permit), "service.merge", Some(&source), None)?;
            Ok(target)
        })
        .await
    }

    /// Moves responsables or collaborateurs to another service, all or none.
    pub async fn transfer(
        &self,
        actor: &Actor,
        account_ids: &[String],
        to_service: &str,
    ) -> DirResult<Vec<Account>> {
        if account_ids.is_empty() {
            return Err(DirError::invalid(
                "transfer-empty",
                "accounts",
                "indiquez au moins un compte",
            ));
        }
        self.write(|batch| {
            let actor = &self.current(actor)?;
            let target = self.visible_service(actor, to_service)?;
            authorize(
                actor,
                Function::MergeAndTransfer,
                &Target::of_service(&target),
            )?;
            let now = self.now();
            let mut moved = Vec::new();
            let mut ids: Vec<&String> = account_ids.iter().collect();
            ids.sort();
            ids.dedup();
            for id in ids {
                let before = self.account(id)?;
                let permit = authorize(
                    actor,
                    Function::MergeAndTransfer,
                    &Target::of_account(&before),
                )?;
                let after = Account {
                    service_id: Some(target.id.clone()),
                    modified_at: now,
                    ..before.clone()
                };
                batch.account(
                    By::Partner(&permit),
                    "account.transfer",
                    Some(&before),
                    Some(&after),
                )?;
                moved.push(after);
            }
            Ok(moved)
        })
        .await
    }
}

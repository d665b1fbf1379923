//! What the faces look up by the directory's indexes: ids of accounts, structures and
//! services by login, e-mail, SIRET, membership or profile, and the change count.
//!
//! These are candidates, not answers: each id still names an object the face reads
//! through the core and shows only when its reader may see it. They exist so that no
//! face walks the store's trees itself; the indexes stay the store's business.

use crate::domain::ProfileId;
use crate::store::T;

use super::{DirResult, Directory};

/// The members of a structure or of one of its services.
#[derive(Debug, Clone, Copy)]
pub enum Members<'a> {
    /// Every account of the structure with this id.
    Structure(&'a str),
    /// Every account of the service with this id.
    Service(&'a str),
}

impl<'a> Members<'a> {
    fn index(self) -> (T, &'a str) {
        match self {
            Members::Structure(id) => (T::AccountsByStructure, id),
            Members::Service(id) => (T::AccountsByService, id),
        }
    }
}

impl Directory {
    /// The id of the account with this login (as stored: lower-cased).
    pub fn account_id_by_login(&self, login: &str) -> DirResult<Option<String>> {
        self.id_by_unique(T::AccountByLogin, login)
    }

    /// The ids of the accounts with this e-mail address (case-folded).
    pub fn account_ids_by_email(&self, folded: &str) -> DirResult<Vec<String>> {
        Ok(self.store.index_ids(T::AccountsByEmail, folded)?)
    }

    /// The id of the structure with this SIRET (digits only).
    pub fn structure_id_by_siret(&self, siret: &str) -> DirResult<Option<String>> {
        self.id_by_unique(T::StructureBySiret, siret)
    }

    /// The ids of the services of a structure.
    pub fn service_ids_of(&self, structure_id: &str) -> DirResult<Vec<String>> {
        Ok(self.store.index_ids(T::ServicesByStructure, structure_id)?)
    }

    /// Whether a structure has any service.
    pub fn has_services(&self, structure_id: &str) -> DirResult<bool> {
        Ok(self
            .store
            .index_has_any(T::ServicesByStructure, structure_id)?)
    }

    /// The ids of the accounts of a structure or of a service.
    pub fn member_ids(&self, of: Members<'_>) -> DirResult<Vec<String>> {
        let (index, id) = of.index();
        Ok(self.store.index_ids(index, id)?)
    }

    /// The ids of the accounts habilitated for a profile.
    pub fn holder_ids(&self, profile: &ProfileId) -> DirResult<Vec<String>> {
        Ok(self
            .store
            .index_ids(T::AccountsByProfile, &profile.to_string())?)
    }

    /// The ids of the accounts of a structure or of a service, read lazily (past the
    /// cache: for walks that usually stop early).
    pub(super) fn member_iter<'s>(
        &'s self,
        of: Members<'_>,
    ) -> impl Iterator<Item = DirResult<String>> + use<'s> {
        let (index, id) = of.index();
        self.store
            .index_iter(index, id)
            .map(|r| r.map_err(Into::into))
    }

    /// A count that grows with every commit: what a cache keyed on it saw is current
    /// while it has not moved.
    pub fn change_count(&self) -> u64 {
        self.store.version()
    }

    fn id_by_unique(&self, index: T, key: &str) -> DirResult<Option<String>> {
        Ok(self.store.unique_id(index, key)?)
    }
}

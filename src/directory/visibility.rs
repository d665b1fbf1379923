//! Who reads what of the directory through a read-only face, decided here so that what
//! a reader may not see a face cannot even enumerate:
//! - a person reads what the rights matrix lets him consult ("consult the accounts and
//!   services of his structure"): his structure, its services and its accounts;
//! - an application, through its service account, reads the accounts habilitated for
//!   its profiles (once they have an identifier), the structures and services where
//!   such an account is, its own profiles and itself;
//! - nobody else reads anything of the directory.
//!
//! Every read here takes its reader and returns only what he may see. Which attributes
//! of what he sees a face shows is the face's own concern.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use crate::auth::stamp;
use crate::catalogue::Application;
use crate::domain::rights::{Target, allows};
use crate::domain::{Account, AccountState, Actor, Function, ProfileId, Service, Structure};
use crate::store::T;

use super::{DirResult, Directory, Members, actor_of};

/// Who reads, resolved afresh for each operation: an account blocked since it proved
/// itself reads nothing more.
#[derive(Debug, Clone)]
pub enum Reader<'a> {
    /// Nobody known (anonymous, or no longer allowed): reads nothing.
    Nobody,
    /// An active person, as the rights matrix sees him.
    Person(Actor),
    /// An application, through its service account.
    Application(&'a Application),
}

impl Reader<'_> {
    /// Whether this reader may see an account already read.
    pub fn sees_account(&self, a: &Account) -> bool {
        match self {
            Reader::Nobody => false,
            Reader::Person(me) => consults(me, &a.structure_id, a.service_id.as_deref(), Some(a)),
            Reader::Application(app) => habilitated(a, &app.code),
        }
    }

    /// Whether this reader may see a profile (as a group of its holders).
    pub fn sees_profile(&self, p: &ProfileId) -> bool {
        matches!(self, Reader::Application(app) if p.app() == app.code)
    }

    /// Whether this reader may see an application (as the identity it reads with).
    pub fn sees_application(&self, code: &str) -> bool {
        matches!(self, Reader::Application(app) if app.code == code)
    }
}

/// The profiles of an application, as the holders index names them.
fn own_profiles(app: &Application) -> Vec<String> {
    app.profiles
        .iter()
        .filter_map(|p| ProfileId::new(&app.code, &p.code).ok())
        .map(|p| p.to_string())
        .collect()
}

/// Whether the matrix lets a person consult what lies in a structure (a service, an
/// account, or the structure itself): reads follow the web space's consultation.
fn consults(me: &Actor, structure_id: &str, service_id: Option<&str>, a: Option<&Account>) -> bool {
    let target = Target {
        account_id: a.map(|a| a.id.as_str()),
        structure_id,
        service_id,
        role: a.map(|a| a.role),
    };
    allows(me, Function::Consult, &target)
}

/// Whether an account is one an application reads: it has an identifier and holds a
/// profile of the application.
fn habilitated(account: &Account, app_code: &str) -> bool {
    account.login.is_some() && account.holds_application(app_code)
}

/// A structure or a service, as remembered visible or not.
#[derive(Debug, Clone, Copy)]
enum Place<'a> {
    Structure(&'a str),
    Service(&'a str),
}

/// Which structures and services each application sees, remembered while the directory
/// does not change: finding out costs reading indexes and accounts. The stamp is the
/// store's count of commits, which every change of an account (habilitations, service,
/// identifier, deletion) moves.
#[derive(Debug, Default)]
pub(super) struct Seen {
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    stamp: u64,
    count: usize,
    by_application: HashMap<String, Places>,
}

/// What one application was found to see, by id.
#[derive(Debug, Default)]
struct Places {
    structures: HashMap<String, bool>,
    services: HashMap<String, bool>,
}

/// Places remembered at most; beyond, everything is forgotten.
const MAX_REMEMBERED: usize = 1 << 20;

impl Seen {
    fn recall(&self, stamp: u64, app: &str, place: Place<'_>) -> Option<bool> {
        let mut known = self.known.lock().ok()?;
        if known.stamp != stamp {
            // A newer read starts afresh; an older one just does not use it.
            if stamp > known.stamp {
                *known = Known {
                    stamp,
                    ..Known::default()
                };
            }
            return None;
        }
        let places = known.by_application.get(app)?;
        match place {
            Place::Structure(id) => places.structures.get(id),
            Place::Service(id) => places.services.get(id),
        }
        .copied()
    }

    fn remember(&self, stamp: u64, app: &str, place: Place<'_>, visible: bool) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if known.stamp != stamp {
            return;
        }
        if known.count >= MAX_REMEMBERED {
            known.by_application.clear();
            known.count = 0;
        }
        let places = known.by_application.entry(app.to_owned()).or_default();
        match place {
            Place::Structure(id) => places.structures.insert(id.to_owned(), visible),
            Place::Service(id) => places.services.insert(id.to_owned(), visible),
        };
        known.count += 1;
    }
}

impl Directory {
    /// The reader behind a person who proved himself with the password stamped `stamp`:
    /// nobody once the account is no longer active or its password changed.
    pub fn person_reader(&self, account_id: &str, stamp: Option<&str>) -> Reader<'_> {
        match self.account_shared(account_id) {
            Ok(a) if a.state == AccountState::Active && stamp::proves(stamp, &a) => {
                Reader::Person(actor_of(&a))
            }
            _ => Reader::Nobody,
        }
    }

    /// Whether the reader may see a structure.
    pub fn sees_structure(&self, reader: &Reader<'_>, structure_id: &str) -> DirResult<bool> {
        match reader {
            Reader::Nobody => Ok(false),
            Reader::Person(me) => Ok(consults(me, structure_id, None, None)),
            Reader::Application(app) => self.application_sees(
                app,
                Place::Structure(structure_id),
                Members::Structure(structure_id),
            ),
        }
    }

    /// Whether the reader may see a service of a structure.
    pub fn sees_service(
        &self,
        reader: &Reader<'_>,
        service_id: &str,
        structure_id: &str,
    ) -> DirResult<bool> {
        match reader {
            Reader::Nobody => Ok(false),
            Reader::Person(me) => Ok(consults(me, structure_id, Some(service_id), None)),
            Reader::Application(app) => self.application_sees(
                app,
                Place::Service(service_id),
                Members::Service(service_id),
            ),
        }
    }

    /// Whether an application sees a structure or service: one of its members is an
    /// account it reads. Remembered while the directory does not change.
    fn application_sees(
        &self,
        app: &Application,
        place: Place<'_>,
        members: Members<'_>,
    ) -> DirResult<bool> {
        let stamp = self.change_count();
        if let Some(known) = self.seen.recall(stamp, &app.code, place) {
            return Ok(known);
        }
        let mut visible = false;
        for member in self.member_iter(members) {
            if self
                .account_shared(&member?)
                .is_ok_and(|a| habilitated(&a, &app.code))
            {
                visible = true;
                break;
            }
        }
        self.seen.remember(stamp, &app.code, place, visible);
        Ok(visible)
    }

    /// The accounts among `ids` the reader may see, in the same order. Each is read
    /// from the store's cache of decoded accounts, which costs less than asking the
    /// holders index whether to read it.
    fn visible_accounts(
        &self,
        reader: &Reader<'_>,
        ids: impl IntoIterator<Item = impl AsRef<str>>,
    ) -> DirResult<Vec<Arc<Account>>> {
        if matches!(reader, Reader::Nobody) {
            return Ok(Vec::new());
        }
        Ok(ids
            .into_iter()
            .filter_map(|id| self.account_shared(id.as_ref()).ok())
            .filter(|a| reader.sees_account(a))
            .collect())
    }

    /// The account with this id, when the reader may see it.
    pub fn account_for(&self, reader: &Reader<'_>, id: &str) -> DirResult<Option<Arc<Account>>> {
        Ok(self.visible_accounts(reader, [id])?.pop())
    }

    /// The account with this login (lower-cased), when the reader may see it.
    pub fn account_by_login_for(
        &self,
        reader: &Reader<'_>,
        login: &str,
    ) -> DirResult<Option<Arc<Account>>> {
        match self.account_id_by_login(login)? {
            Some(id) => self.account_for(reader, &id),
            None => Ok(None),
        }
    }

    /// The accounts with this e-mail address (case-folded) the reader may see.
    pub fn accounts_by_email_for(
        &self,
        reader: &Reader<'_>,
        folded: &str,
    ) -> DirResult<Vec<Arc<Account>>> {
        let ids = self.account_ids_by_email(folded)?;
        self.visible_accounts(reader, ids)
    }

    /// The accounts of a structure or of a service the reader may see.
    pub fn members_for(
        &self,
        reader: &Reader<'_>,
        of: Members<'_>,
    ) -> DirResult<Vec<Arc<Account>>> {
        if matches!(reader, Reader::Nobody) {
            return Ok(Vec::new());
        }
        let ids = self.member_ids(of)?;
        self.visible_accounts(reader, ids)
    }

    /// The holders of a profile the reader may see.
    pub fn holders_for(
        &self,
        reader: &Reader<'_>,
        profile: &ProfileId,
    ) -> DirResult<Vec<Arc<Account>>> {
        if matches!(reader, Reader::Nobody) {
            return Ok(Vec::new());
        }
        let ids = self.holder_ids(profile)?;
        self.visible_accounts(reader, ids)
    }

    /// The ids of the accounts habilitated for any profile of the reader's application,
    /// sorted (none for any other reader). Candidates from the holders index: each
    /// still goes through [`Reader::sees_account`] when read, which asks for an
    /// identifier too.
    pub fn holder_ids_of_application(&self, reader: &Reader<'_>) -> DirResult<Vec<String>> {
        let Reader::Application(app) = reader else {
            return Ok(Vec::new());
        };
        let mut ids = BTreeSet::new();
        for profile in own_profiles(app) {
            for id in self.store.index_iter(T::AccountsByProfile, &profile) {
                ids.insert(id?);
            }
        }
        Ok(ids.into_iter().collect())
    }

    /// The structures, and the services with their structure, where the accounts the
    /// reader's application reads are, each sorted (none for any other reader).
    #[allow(clippy::type_complexity)]
    pub fn places_for(
        &self,
        reader: &Reader<'_>,
    ) -> DirResult<(Vec<String>, Vec<(String, String)>)> {
        let mut structures = BTreeSet::new();
        let mut services = BTreeSet::new();
        for id in self.holder_ids_of_application(reader)? {
            if let Ok(a) = self.account_shared(&id)
                && reader.sees_account(&a)
            {
                if let Some(sv) = &a.service_id {
                    services.insert((sv.clone(), a.structure_id.clone()));
                }
                structures.insert(a.structure_id.clone());
            }
        }
        Ok((
            structures.into_iter().collect(),
            services.into_iter().collect(),
        ))
    }

    /// The structure with this SIRET (digits only), when the reader may see it.
    pub fn structure_by_siret_for(
        &self,
        reader: &Reader<'_>,
        siret: &str,
    ) -> DirResult<Option<Arc<Structure>>> {
        let Some(id) = self.structure_id_by_siret(siret)? else {
            return Ok(None);
        };
        if !self.sees_structure(reader, &id)? {
            return Ok(None);
        }
        Ok(self.structure_shared(&id).ok())
    }

    /// The ids of the services of a structure the reader may see.
    pub fn service_ids_for(
        &self,
        reader: &Reader<'_>,
        structure_id: &str,
    ) -> DirResult<Vec<String>> {
        let mut out = Vec::new();
        for id in self.service_ids_of(structure_id)? {
            if self.sees_service(reader, &id, structure_id)? {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The service with this id, when the reader may see it.
    pub fn service_for(&self, reader: &Reader<'_>, id: &str) -> DirResult<Option<Arc<Service>>> {
        let Ok(service) = self.service_shared(id) else {
            return Ok(None);
        };
        Ok(self
            .sees_service(reader, &service.id, &service.structure_id)?
            .then_some(service))
    }
}

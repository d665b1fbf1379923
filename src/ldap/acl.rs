//! Who reads what through LDAP — a visibility rule of this face, not a right of the
//! matrix: an application's service account reads the accounts habilitated for its
//! profiles (with its configured attributes), their structures and services, and its
//! own profile groups; a person reads his structure, its services and accounts;
//! anonymous reads the root DSE and the subschema only. What cannot be read is absent.

use crate::catalogue::Application;
use crate::directory::{DirError, DirResult, Directory};
use crate::domain::{Account, AccountState};
use crate::store::T;

use super::dit::{self, Entry, Key, Tree};
use super::schema::{self, AttrType};

/// Who a connection is bound as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// Not bound (or bound anonymously).
    Anonymous,
    /// A person, by account id.
    Person {
        /// Account id.
        account_id: String,
        /// The DN he bound as (normalised to his entry's DN).
        dn: String,
    },
    /// An application's service account, by code.
    Application {
        /// Application code.
        code: String,
        /// Its DN.
        dn: String,
    },
}

impl Identity {
    /// The bound DN, for Who am I?.
    pub fn dn(&self) -> Option<&str> {
        match self {
            Identity::Anonymous => None,
            Identity::Person { dn, .. } | Identity::Application { dn, .. } => Some(dn),
        }
    }
}

/// Account attributes an application reads when its catalogue entry lists none.
pub const DEFAULT_APPLICATION_ATTRIBUTES: [&AttrType; 12] = [
    &schema::UID,
    &schema::CN,
    &schema::SN,
    &schema::GIVEN_NAME,
    &schema::MAIL,
    &schema::EMPLOYEE_TYPE,
    &schema::APEX_SIRET,
    &schema::APEX_SERVICE_ID,
    &schema::APEX_PROFILE,
    &schema::APEX_ACCOUNT_STATE,
    &schema::MEMBER_OF,
    &schema::ENTRY_UUID,
];

/// Attributes of an account anyone who sees the entry reads.
const ALWAYS: [&AttrType; 7] = [
    &schema::OBJECT_CLASS,
    &schema::ENTRY_DN,
    &schema::HAS_SUBORDINATES,
    &schema::SUBSCHEMA_SUBENTRY,
    &schema::STRUCTURAL_OBJECT_CLASS,
    &schema::CREATE_TIMESTAMP,
    &schema::MODIFY_TIMESTAMP,
];

/// The reader of one operation, resolved afresh: an account blocked since its bind
/// reads nothing more.
pub enum Viewer<'a> {
    /// Anonymous.
    Anonymous,
    /// An active person.
    Person(Box<Account>),
    /// An application's service account.
    Application {
        /// Its catalogue entry.
        app: &'a Application,
        /// The account attributes it reads.
        attributes: Vec<&'static AttrType>,
    },
}

/// The viewer behind an identity, now.
pub fn viewer<'a>(dir: &'a Directory, identity: &Identity) -> Viewer<'a> {
    match identity {
        Identity::Anonymous => Viewer::Anonymous,
        Identity::Person { account_id, .. } => match dir.account(account_id) {
            Ok(a) if a.state == AccountState::Active => Viewer::Person(Box::new(a)),
            _ => Viewer::Anonymous,
        },
        Identity::Application { code, .. } => match dit::ldap_application(dir, code) {
            Some(app) => {
                let listed = app
                    .ldap
                    .as_ref()
                    .map(|l| l.attributes.as_slice())
                    .unwrap_or_default();
                let attributes = if listed.is_empty() {
                    DEFAULT_APPLICATION_ATTRIBUTES.to_vec()
                } else {
                    listed.iter().filter_map(|n| schema::lookup(n)).collect()
                };
                Viewer::Application { app, attributes }
            }
            None => Viewer::Anonymous,
        },
    }
}

impl Viewer<'_> {
    /// Whether this reader may see the entry of `key` at all.
    pub fn sees(&self, dir: &Directory, key: &Key) -> DirResult<bool> {
        Ok(match (self, key) {
            (_, Key::RootDse | Key::Subschema) => true,
            (Viewer::Anonymous, _) => false,
            (_, Key::Base | Key::Container(_)) => true,
            (Viewer::Person(me), Key::Structure(id)) => &me.structure_id == id,
            (Viewer::Person(me), Key::Service { structure_id, .. }) => {
                &me.structure_id == structure_id
            }
            (Viewer::Person(me), Key::Account(id)) => {
                id == &me.id
                    || dir
                        .account(id)
                        .is_ok_and(|a| a.structure_id == me.structure_id)
            }
            (Viewer::Person(_), Key::Profile(_) | Key::Application(_)) => false,
            (Viewer::Application { app, .. }, Key::Account(id)) => {
                dir.account(id).is_ok_and(|a| habilitated(&a, &app.code))
            }
            (Viewer::Application { app, .. }, Key::Structure(id)) => {
                any_habilitated(dir, T::AccountsByStructure, id, &app.code)?
            }
            (Viewer::Application { app, .. }, Key::Service { id, .. }) => {
                any_habilitated(dir, T::AccountsByService, id, &app.code)?
            }
            (Viewer::Application { app, .. }, Key::Profile(p)) => p.app() == app.code,
            (Viewer::Application { app, .. }, Key::Application(code)) => code == &app.code,
        })
    }

    /// Cuts an entry down to the attributes and values this reader may see: filters
    /// are evaluated on the result, so hidden attributes cannot be probed.
    pub fn restrict(&self, tree: &Tree, key: &Key, entry: &mut Entry) {
        match (self, key) {
            (Viewer::Application { app, attributes }, Key::Account(_)) => {
                let readable: Vec<&'static AttrType> =
                    ALWAYS.iter().chain(attributes.iter()).copied().collect();
                entry
                    .attrs
                    .retain(|a| readable.iter().any(|t| std::ptr::eq(*t, a.ty)));
                entry.readable = Some(readable);
                let prefix = format!("{}:", app.code);
                if let Some(a) = entry.get_mut(&schema::APEX_PROFILE) {
                    a.values.retain(|v| v.starts_with(&prefix));
                }
                let own_groups: Vec<String> = app
                    .profiles
                    .iter()
                    .filter_map(|p| crate::domain::ProfileId::new(&app.code, &p.code).ok())
                    .map(|p| super::dn::normalize(&tree.profile_dn(&p)).unwrap_or_default())
                    .collect();
                if let Some(a) = entry.get_mut(&schema::MEMBER_OF) {
                    a.values
                        .retain(|v| super::dn::normalize(v).is_ok_and(|n| own_groups.contains(&n)));
                }
                entry.attrs.retain(|a| !a.values.is_empty());
            }
            (Viewer::Person(me), Key::Account(id)) if id != &me.id => {
                entry
                    .attrs
                    .retain(|a| !std::ptr::eq(a.ty, &schema::PWD_CHANGED_TIME));
                let readable = schema::ALL
                    .iter()
                    .copied()
                    .filter(|t| !std::ptr::eq(*t, &schema::PWD_CHANGED_TIME))
                    .collect();
                entry.readable = Some(readable);
            }
            _ => {}
        }
    }
}

/// Whether an account holds a profile of this application.
pub fn habilitated(account: &Account, app_code: &str) -> bool {
    account.login.is_some()
        && account
            .habilitations
            .iter()
            .any(|h| h.profile.app() == app_code)
}

fn any_habilitated(dir: &Directory, index: T, prefix: &str, app_code: &str) -> DirResult<bool> {
    let ids = dir
        .store()
        .index_ids(index, prefix)
        .map_err(DirError::from)?;
    Ok(ids
        .iter()
        .any(|id| dir.account(id).is_ok_and(|a| habilitated(&a, app_code))))
}

//! Who reads what through LDAP — a visibility rule of this face, not a right of the
//! matrix: an application's service account reads the accounts habilitated for its
//! profiles (with its configured attributes), their structures and services, and its
//! own profile groups; a person reads his structure, its services and accounts;
//! anonymous reads the root DSE and the subschema only. What cannot be read is absent.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::auth::stamp;
use crate::catalogue::{Application, Catalogue};
use crate::config::Problem;
use crate::directory::{DirResult, Directory, Members, actor_of};
use crate::domain::rights::{Target, allows};
use crate::domain::{Account, AccountState, Actor, Function};

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
        /// The stamp of the password he bound with: once it changes, the connection
        /// reads as anonymous (a thief's bound connection ends with the password).
        stamp: Option<String>,
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

/// The attributes of an account entry an application may be given, as named in
/// `[application.ldap] attributes` (aliases and OIDs are accepted too).
pub const ACCOUNT_ATTRIBUTE_NAMES: [&str; 15] = [
    "uid",
    "cn",
    "sn",
    "givenName",
    "mail",
    "employeeType",
    "apexSiret",
    "apexServiceId",
    "apexProfile",
    "apexAccountState",
    "memberOf",
    "entryUUID",
    "createTimestamp",
    "modifyTimestamp",
    "pwdChangedTime",
];

/// The LDAP face's own check of the catalogue: every `[application.ldap] attributes`
/// name is an attribute of account entries (the face would otherwise drop an unknown
/// name silently).
pub fn check_catalogue(catalogue: &Catalogue, file: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    for app in &catalogue.applications {
        let Some(ldap) = &app.ldap else { continue };
        for name in ldap.attributes.iter().filter(|n| !is_account_attribute(n)) {
            out.push(Problem {
                file: file.to_owned(),
                key: format!("application[{}].ldap.attributes", app.code),
                value: name.clone(),
                message: format!(
                    "not an attribute of an account entry (one of {})",
                    ACCOUNT_ATTRIBUTE_NAMES.join(", ")
                ),
            });
        }
    }
    out
}

/// Whether `name` names an attribute of account entries.
fn is_account_attribute(name: &str) -> bool {
    schema::lookup(name).is_some_and(|t| {
        ACCOUNT_ATTRIBUTE_NAMES
            .iter()
            .filter_map(|n| schema::lookup(n))
            .any(|a| std::ptr::eq(a, t))
    })
}

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
    /// An active person, as the rights matrix sees him.
    Person(Actor),
    /// An application's service account.
    Application {
        /// Its catalogue entry.
        app: &'a Application,
        /// The account attributes it reads.
        attributes: Vec<&'static AttrType>,
        /// Structures and services found visible or not, kept between operations.
        visibility: &'a Visibility,
        /// The directory's version when the operation started.
        stamp: u64,
    },
}

/// Which structures and services each application sees, remembered while the directory
/// does not change: finding out costs reading indexes and accounts, on every search.
/// The stamp is the store's count of commits, which every change of an account
/// (habilitations, service, identifier, deletion) moves.
#[derive(Debug, Default)]
pub struct Visibility {
    known: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    stamp: u64,
    count: usize,
    by_application: HashMap<String, HashMap<Key, bool>>,
}

/// Entries remembered at most; beyond, everything is forgotten.
const MAX_REMEMBERED: usize = 1 << 20;

impl Visibility {
    /// The directory's version now.
    fn stamp(dir: &Directory) -> u64 {
        dir.change_count()
    }

    fn recall(&self, stamp: &u64, app: &str, key: &Key) -> Option<bool> {
        let mut known = self.known.lock().ok()?;
        if &known.stamp != stamp {
            // A newer operation starts afresh; an older one just does not use it.
            if stamp > &known.stamp {
                *known = Known {
                    stamp: *stamp,
                    ..Known::default()
                };
            }
            return None;
        }
        known.by_application.get(app)?.get(key).copied()
    }

    fn remember(&self, stamp: &u64, app: &str, key: &Key, visible: bool) {
        let Ok(mut known) = self.known.lock() else {
            return;
        };
        if &known.stamp != stamp {
            return;
        }
        if known.count >= MAX_REMEMBERED {
            known.by_application.clear();
            known.count = 0;
        }
        known
            .by_application
            .entry(app.to_owned())
            .or_default()
            .insert(key.clone(), visible);
        known.count += 1;
    }
}

/// The viewer behind an identity, now.
pub fn viewer<'a>(
    dir: &'a Directory,
    identity: &Identity,
    visibility: &'a Visibility,
) -> Viewer<'a> {
    match identity {
        Identity::Anonymous => Viewer::Anonymous,
        Identity::Person {
            account_id, stamp, ..
        } => match dir.account_shared(account_id) {
            Ok(a) if a.state == AccountState::Active && stamp::proves(stamp.as_deref(), &a) => {
                Viewer::Person(actor_of(&a))
            }
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
                Viewer::Application {
                    app,
                    attributes,
                    visibility,
                    stamp: Visibility::stamp(dir),
                }
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
            (Viewer::Person(me), Key::Structure(id)) => consults(me, id, None, None),
            (Viewer::Person(me), Key::Service { id, structure_id }) => {
                consults(me, structure_id, Some(id), None)
            }
            (_, Key::Account(id)) => dir.account_shared(id).is_ok_and(|a| self.sees_account(&a)),
            (Viewer::Person(_), Key::Profile(_) | Key::Application(_)) => false,
            (
                Viewer::Application {
                    app,
                    visibility,
                    stamp,
                    ..
                },
                Key::Structure(_) | Key::Service { .. },
            ) => {
                if let Some(known) = visibility.recall(stamp, &app.code, key) {
                    return Ok(known);
                }
                let visible = match key {
                    Key::Structure(id) => {
                        dir.any_holder_of_application(Members::Structure(id), &app.code)?
                    }
                    Key::Service { id, .. } => {
                        dir.any_holder_of_application(Members::Service(id), &app.code)?
                    }
                    _ => false,
                };
                visibility.remember(stamp, &app.code, key, visible);
                visible
            }
            (Viewer::Application { app, .. }, Key::Profile(p)) => p.app() == app.code,
            (Viewer::Application { app, .. }, Key::Application(code)) => code == &app.code,
        })
    }

    /// Whether this reader may see an account already read (the entry of `Key::Account`).
    pub fn sees_account(&self, a: &Account) -> bool {
        match self {
            Viewer::Anonymous => false,
            Viewer::Person(me) => consults(me, &a.structure_id, a.service_id.as_deref(), Some(a)),
            Viewer::Application { app, .. } => habilitated(a, &app.code),
        }
    }

    /// Cuts an entry down to the attributes and values this reader may see: filters
    /// are evaluated on the result, so hidden attributes cannot be probed.
    pub fn restrict(&self, tree: &Tree, key: &Key, entry: &mut Entry) {
        match (self, key) {
            (
                Viewer::Application {
                    app, attributes, ..
                },
                Key::Account(_),
            ) => {
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
                // memberOf values are written by `Tree::profile_dn` too: no DN parsing.
                let own_groups: Vec<String> = app
                    .profiles
                    .iter()
                    .filter_map(|p| crate::domain::ProfileId::new(&app.code, &p.code).ok())
                    .map(|p| tree.profile_dn(&p))
                    .collect();
                if let Some(a) = entry.get_mut(&schema::MEMBER_OF) {
                    a.values
                        .retain(|v| own_groups.iter().any(|g| g.eq_ignore_ascii_case(v)));
                }
                entry.attrs.retain(|a| !a.values.is_empty());
            }
            (Viewer::Person(me), Key::Account(id)) if id != &me.account_id => {
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

/// Whether the matrix lets a person consult what lies in a structure (a service, an
/// account, or the structure itself): LDAP reads follow the web space's consultation.
fn consults(me: &Actor, structure_id: &str, service_id: Option<&str>, a: Option<&Account>) -> bool {
    let target = Target {
        account_id: a.map(|a| a.id.as_str()),
        structure_id,
        service_id,
        role: a.map(|a| a.role),
    };
    allows(me, Function::Consult, &target)
}

/// Whether an account holds a profile of this application.
pub fn habilitated(account: &Account, app_code: &str) -> bool {
    account.login.is_some() && account.holds_application(app_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_ldap_attribute_names_are_refused() {
        let hash = "$argon2id$v=19$m=19456,t=2,p=1$laUxF1MP1mQ2pgSA9YRdvw$ovpjSwSNqM0benmVLq5QvtJMPyYHHGMlFvm7m6V1z8w";
        let text = format!(
            r#"
            [[application]]
            code = "APP"
            name = "a"
            url = "https://a.test/"
              [application.ldap]
              bind_secret_hash = "{hash}"
              attributes = ["uid", "CN", "mail;lang-fr", "0.9.2342.19200300.100.1.3", "memberOf", "userPassword", "telephoneNumber", "namingContexts"]
            "#
        );
        let c: Catalogue = toml::from_str(&text).unwrap();
        let problems = check_catalogue(&c, "catalogue.toml");
        let msgs: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(problems.len(), 3, "{msgs:#?}");
        for name in ["userPassword", "telephoneNumber", "namingContexts"] {
            assert!(
                msgs.iter()
                    .any(|m| m.contains("ldap.attributes") && m.contains(name)),
                "{name}: {msgs:#?}"
            );
        }
    }
}

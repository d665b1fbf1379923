//! Who a connection reads as, and what of an entry he reads. Which entries a reader
//! sees is the core's decision (`directory::Reader`); this face adds the LDAP
//! concerns: the bound identity, the root DSE and the subschema that anonymous reads
//! too, and the attributes of an account entry an application's service account is
//! given (its configured list, its own profiles and groups). What cannot be read is
//! absent.

use crate::catalogue::Catalogue;
use crate::config::Problem;
use crate::directory::{DirResult, Directory, Reader};
use crate::domain::Account;

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

/// The reader of one operation as this face serves him: who reads, as the core knows
/// him (it decides what he sees), and the account attributes an application reads.
pub struct Viewer<'a> {
    /// Who reads.
    pub reader: Reader<'a>,
    /// The account attributes an application reads (empty for anyone else).
    attributes: Vec<&'static AttrType>,
}

/// The viewer behind an identity, now: an account blocked since its bind, or whose
/// password changed, reads as anonymous.
pub fn viewer<'a>(dir: &'a Directory, catalogue: &'a Catalogue, identity: &Identity) -> Viewer<'a> {
    let nobody = Viewer {
        reader: Reader::Nobody,
        attributes: Vec::new(),
    };
    match identity {
        Identity::Anonymous => nobody,
        Identity::Person {
            account_id, stamp, ..
        } => Viewer {
            reader: dir.person_reader(account_id, stamp.as_deref()),
            attributes: Vec::new(),
        },
        Identity::Application { code, .. } => match dit::ldap_application(catalogue, code) {
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
                Viewer {
                    reader: Reader::Application(app),
                    attributes,
                }
            }
            None => nobody,
        },
    }
}

impl Viewer<'_> {
    /// Whether nobody known reads (anonymous, or an account no longer allowed).
    pub fn is_nobody(&self) -> bool {
        matches!(self.reader, Reader::Nobody)
    }

    /// Whether this reader may see the entry of `key` at all: the root DSE, the
    /// subschema, the base and its containers are the face's own; the core decides
    /// for everything else.
    pub fn sees(&self, dir: &Directory, key: &Key) -> DirResult<bool> {
        Ok(match key {
            Key::RootDse | Key::Subschema => true,
            _ if self.is_nobody() => false,
            Key::Base | Key::Container(_) => true,
            Key::Structure(id) => dir.sees_structure(&self.reader, id)?,
            Key::Service { id, structure_id } => {
                dir.sees_service(&self.reader, id, structure_id)?
            }
            Key::Account(id) => dir.account_for(&self.reader, id)?.is_some(),
            Key::Profile(p) => self.reader.sees_profile(p),
            Key::Application(code) => self.reader.sees_application(code),
        })
    }

    /// Whether this reader may see an account already read (the entry of `Key::Account`).
    pub fn sees_account(&self, a: &Account) -> bool {
        self.reader.sees_account(a)
    }

    /// Cuts an entry down to the attributes and values this reader may see: filters
    /// are evaluated on the result, so hidden attributes cannot be probed.
    pub fn restrict(&self, tree: &Tree, key: &Key, entry: &mut Entry) {
        match (&self.reader, key) {
            (Reader::Application(app), Key::Account(_)) => {
                let readable: Vec<&'static AttrType> = ALWAYS
                    .iter()
                    .chain(self.attributes.iter())
                    .copied()
                    .collect();
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
            (Reader::Person(me), Key::Account(id)) if id != &me.account_id => {
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

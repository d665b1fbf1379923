//! The directory information tree of CONTRACT.md: which DN names which object of the
//! core, where each object sits, and the entry built for it.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use crate::bounded::BoundedMap;
use crate::catalogue::{Application, Catalogue};
use crate::directory::{DirResult, Directory};
use crate::domain::{Account, ProfileId, Service, Structure};

use super::dn::{self, Ava};
use super::schema::{self, AttrType};

/// The DN of the subschema entry.
pub const SUBSCHEMA_DN: &str = "cn=Subschema";

/// The four containers under the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Container {
    /// `ou=structures`
    Structures,
    /// `ou=people`
    People,
    /// `ou=profiles`
    Profiles,
    /// `ou=applications`
    Applications,
}

impl Container {
    /// Every container, in tree order.
    pub const ALL: [Container; 4] = [
        Container::Structures,
        Container::People,
        Container::Profiles,
        Container::Applications,
    ];

    /// Its `ou` value.
    pub fn ou(self) -> &'static str {
        match self {
            Container::Structures => "structures",
            Container::People => "people",
            Container::Profiles => "profiles",
            Container::Applications => "applications",
        }
    }
}

/// What an entry is, by stable ids: kept across the pages of a paged search.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    /// The root DSE (`""`).
    RootDse,
    /// The subschema entry.
    Subschema,
    /// The base entry.
    Base,
    /// A container.
    Container(Container),
    /// A structure, by id.
    Structure(String),
    /// A service, by id, with its structure's id.
    Service {
        /// Service id.
        id: String,
        /// Structure id.
        structure_id: String,
    },
    /// An account, by id.
    Account(String),
    /// A profile group.
    Profile(ProfileId),
    /// An application's bind identity, by code.
    Application(String),
}

impl Key {
    /// The entry above this one (none for the base, the root DSE and the subschema).
    pub fn parent(&self) -> Option<Key> {
        match self {
            Key::RootDse | Key::Subschema | Key::Base => None,
            Key::Container(_) => Some(Key::Base),
            Key::Structure(_) => Some(Key::Container(Container::Structures)),
            Key::Service { structure_id, .. } => Some(Key::Structure(structure_id.clone())),
            Key::Account(_) => Some(Key::Container(Container::People)),
            Key::Profile(_) => Some(Key::Container(Container::Profiles)),
            Key::Application(_) => Some(Key::Container(Container::Applications)),
        }
    }

    /// Whether `self` is `base` or below it. Checked on every candidate of a search:
    /// compares ids in place rather than building the chain of parents.
    pub fn is_under(&self, base: &Key) -> bool {
        self == base
            || match base {
                Key::Base => !matches!(self, Key::RootDse | Key::Subschema | Key::Base),
                Key::Container(c) => self.container() == Some(*c),
                Key::Structure(id) => self.structure_id() == Some(id),
                _ => false,
            }
    }

    /// Whether `base` is the entry right above `self`, without building it.
    pub fn is_child_of(&self, base: &Key) -> bool {
        match (self, base) {
            (Key::Container(_), Key::Base) => true,
            (Key::Service { structure_id, .. }, Key::Structure(id)) => structure_id == id,
            (Key::Service { .. }, _) => false,
            (_, Key::Container(c)) => self.container() == Some(*c),
            _ => false,
        }
    }

    /// The container an entry lies in, at any depth.
    fn container(&self) -> Option<Container> {
        match self {
            Key::Structure(_) | Key::Service { .. } => Some(Container::Structures),
            Key::Account(_) => Some(Container::People),
            Key::Profile(_) => Some(Container::Profiles),
            Key::Application(_) => Some(Container::Applications),
            _ => None,
        }
    }

    /// The structure of a service.
    fn structure_id(&self) -> Option<&String> {
        match self {
            Key::Service { structure_id, .. } => Some(structure_id),
            _ => None,
        }
    }
}

/// One attribute of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// Its type.
    pub ty: &'static AttrType,
    /// Its values (UTF-8 strings).
    pub values: Vec<String>,
}

/// An entry as served: DN and every attribute (user and operational).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The DN.
    pub dn: String,
    /// The attributes.
    pub attrs: Vec<Attr>,
    /// The attribute types the reader may read, when not all: a filter on any other
    /// is Undefined, so hidden values cannot be probed.
    pub readable: Option<Vec<&'static AttrType>>,
}

impl Entry {
    /// An entry without attributes.
    pub fn new(dn: String) -> Entry {
        Entry {
            dn,
            attrs: Vec::new(),
            readable: None,
        }
    }

    /// Whether the reader may read (and so filter on) attributes of type `t`.
    pub fn can_read(&self, t: &'static AttrType) -> bool {
        self.readable
            .as_ref()
            .is_none_or(|r| r.iter().any(|x| t.covers(x)))
    }

    fn put(&mut self, ty: &'static AttrType, values: Vec<String>) {
        if !values.is_empty() {
            self.attrs.push(Attr { ty, values });
        }
    }

    fn put1(&mut self, ty: &'static AttrType, value: impl Into<String>) {
        self.put(ty, vec![value.into()]);
    }

    /// The attribute of this exact type.
    pub fn get(&self, ty: &'static AttrType) -> Option<&Attr> {
        self.attrs.iter().find(|a| std::ptr::eq(a.ty, ty))
    }

    /// The attribute of this exact type, mutable.
    pub fn get_mut(&mut self, ty: &'static AttrType) -> Option<&mut Attr> {
        self.attrs.iter_mut().find(|a| std::ptr::eq(a.ty, ty))
    }
}

/// Where a DN points when it names nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// The DN does not parse.
    Invalid(String),
    /// Nothing there; the DN of the closest existing ancestor.
    NoSuchObject {
        /// `matchedDN` of the result.
        matched: Key,
    },
}

/// The tree under one base DN.
#[derive(Debug, Clone)]
pub struct Tree {
    base_dn: String,
    base_rdns: Vec<Vec<Ava>>,
    base_norm: String,
    /// The base and container DNs as this tree writes them: most searches name one,
    /// and knowing it spares parsing the DN.
    fixed: Vec<(String, Key)>,
    /// For the DNs of structures and people: the container's DN as this tree writes it
    /// after a comma, its normal form, and the leaf's attribute.
    plain: Vec<(String, String, &'static str)>,
    /// DNs resolved before and seen by their reader, by normal form, with the DN this
    /// tree wrote for the key then: a key is reused only while it still names an
    /// object of that DN.
    resolved: Arc<Mutex<BoundedMap<String, (Key, String)>>>,
}

/// A DN resolved to its key; `normal` is set when it was resolved afresh and is worth
/// remembering (see [`Tree::remember`]).
#[derive(Debug)]
pub struct Resolved {
    /// What the DN names.
    pub key: Key,
    normal: Option<String>,
}

/// The value an entry was built from.
#[derive(Clone)]
pub enum Source {
    /// An account.
    Account(Arc<Account>),
    /// A structure, and whether it has services (its `hasSubordinates`).
    Structure(Arc<Structure>, bool),
    /// A service.
    Service(Arc<Service>),
}

impl Source {
    /// Whether both are the very same values (not equal ones: the same `Arc`s).
    pub fn same(&self, other: &Source) -> bool {
        match (self, other) {
            (Source::Account(a), Source::Account(b)) => Arc::ptr_eq(a, b),
            (Source::Structure(a, x), Source::Structure(b, y)) => Arc::ptr_eq(a, b) && x == y,
            (Source::Service(a), Source::Service(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// DNs of structures, services and people remembered once resolved.
const RESOLVED_DNS: usize = 65_536;

impl Tree {
    /// The tree under `base_dn` (already checked by the configuration).
    pub fn new(base_dn: &str) -> Result<Tree, dn::DnError> {
        let base_rdns = dn::parse(base_dn)?;
        if base_rdns.is_empty() {
            return Err(dn::DnError("the base DN is empty"));
        }
        let mut tree = Tree {
            base_dn: base_dn.trim().to_owned(),
            base_norm: dn::normal_form(&base_rdns),
            base_rdns,
            fixed: Vec::new(),
            plain: Vec::new(),
            resolved: Arc::new(Mutex::new(BoundedMap::new(RESOLVED_DNS, 0x5eed))),
        };
        tree.fixed.push((tree.base_dn.clone(), Key::Base));
        for c in Container::ALL {
            tree.fixed.push((tree.container_dn(c), Key::Container(c)));
        }
        for (c, leaf) in [
            (Container::Structures, "apexSiret"),
            (Container::People, "uid"),
        ] {
            let dn = tree.container_dn(c);
            let normal = dn::normalize(&dn)?;
            tree.plain.push((format!(",{dn}"), normal, leaf));
        }
        Ok(tree)
    }

    /// The base DN as configured.
    pub fn base_dn(&self) -> &str {
        &self.base_dn
    }

    /// DN of a container.
    pub fn container_dn(&self, c: Container) -> String {
        format!("ou={},{}", c.ou(), self.base_dn)
    }

    /// DN of a structure.
    pub fn structure_dn(&self, siret: &str) -> String {
        format!(
            "apexSiret={},ou=structures,{}",
            dn::escape(siret),
            self.base_dn
        )
    }

    /// DN of a service.
    pub fn service_dn(&self, service_id: &str, siret: &str) -> String {
        format!(
            "apexServiceId={},{}",
            dn::escape(service_id),
            self.structure_dn(siret)
        )
    }

    /// DN of a person.
    pub fn person_dn(&self, login: &str) -> String {
        format!("uid={},ou=people,{}", dn::escape(login), self.base_dn)
    }

    /// DN of a profile group.
    pub fn profile_dn(&self, profile: &ProfileId) -> String {
        format!(
            "cn={},ou=profiles,{}",
            dn::escape(&profile.to_string()),
            self.base_dn
        )
    }

    /// DN of an application's bind identity.
    pub fn application_dn(&self, code: &str) -> String {
        format!("cn={},ou=applications,{}", dn::escape(code), self.base_dn)
    }

    /// The RDNs of `dn` below the base, leftmost first; None when it is not under it.
    fn below_base(&self, rdns: &[Vec<Ava>]) -> Option<Vec<Ava>> {
        let cut = rdns.len().checked_sub(self.base_rdns.len())?;
        let (own, tail) = rdns.split_at(cut);
        if dn::normal_form(tail) != self.base_norm {
            return None;
        }
        // Multi-valued RDNs never name an entry of this tree.
        own.iter()
            .map(|rdn| match rdn.as_slice() {
                [ava] => Some(ava.clone()),
                _ => None,
            })
            .collect()
    }

    /// Resolves a DN to what it names, reading through the core. Nothing is remembered
    /// here: [`Tree::remember`] does it once the reader is known to see the entry, so
    /// that no one fills the memory with DNs he may not read.
    pub fn resolve(&self, dir: &Directory, dn_text: &str) -> Result<Resolved, Unresolved> {
        if let Some((_, key)) = self
            .fixed
            .iter()
            .find(|(text, _)| text.eq_ignore_ascii_case(dn_text))
        {
            return Ok(Resolved {
                key: key.clone(),
                normal: None,
            });
        }
        // One entry per object, whatever the spelling: the key is the normal form.
        let normal = match self.plain_normal_form(dn_text) {
            Some(normal) => normal,
            None => dn::normalize(dn_text).map_err(|e| Unresolved::Invalid(e.to_string()))?,
        };
        let known = self.lock_resolved().get(&normal).cloned();
        if let Some((key, written)) = known
            && self.still_names(dir, &key, &written)
        {
            return Ok(Resolved { key, normal: None });
        }
        let rdns = dn::parse(dn_text).map_err(|e| Unresolved::Invalid(e.to_string()))?;
        let key = self.resolve_parsed(dir, &rdns)?;
        let normal = matches!(
            key,
            Key::Structure(_) | Key::Service { .. } | Key::Account(_)
        )
        .then_some(normal);
        Ok(Resolved { key, normal })
    }

    /// The normal form of the DN of a structure or a person written plainly: the leaf's
    /// value of ASCII letters, digits and `.-_@` (nothing to unescape or fold but the
    /// case), the rest as this tree writes its container's DN, in any case. What
    /// parsing would give, without parsing: most searches and binds name such a DN.
    /// None for any other DN.
    fn plain_normal_form(&self, dn_text: &str) -> Option<String> {
        let plain = |b: u8| b.is_ascii_alphanumeric() || b".-_@".contains(&b);
        self.plain.iter().find_map(|(suffix, normal_suffix, leaf)| {
            let cut = dn_text.len().checked_sub(suffix.len())?;
            let tail = dn_text.get(cut..)?;
            let (attr, value) = dn_text.get(..cut)?.split_once('=')?;
            let fits = tail.eq_ignore_ascii_case(suffix)
                && attr.eq_ignore_ascii_case(leaf)
                && !value.is_empty()
                && value.bytes().all(plain);
            fits.then(|| {
                format!(
                    "{}={},{normal_suffix}",
                    leaf.to_ascii_lowercase(),
                    value.to_ascii_lowercase()
                )
            })
        })
    }

    /// Remembers a DN resolved afresh, under its normal form; to be called once the
    /// reader is known to see its entry.
    pub fn remember(&self, dir: &Directory, resolved: Resolved) -> Key {
        if let Some(normal) = resolved.normal
            && let Some(written) = self.dn_of(dir, &resolved.key)
        {
            self.lock_resolved()
                .insert(normal, (resolved.key.clone(), written));
        }
        resolved.key
    }

    /// DNs remembered now (at most one per structure, service and person).
    pub fn resolved_dns(&self) -> usize {
        self.lock_resolved().len()
    }

    fn lock_resolved(&self) -> std::sync::MutexGuard<'_, BoundedMap<String, (Key, String)>> {
        self.resolved.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether a key resolved before still exists under the DN written for it then.
    fn still_names(&self, dir: &Directory, key: &Key, written: &str) -> bool {
        let exists = match key {
            // Their DN is read from the account or the structure itself.
            Key::Account(_) | Key::Structure(_) => true,
            Key::Service { id, structure_id } => dir
                .service_shared(id)
                .is_ok_and(|sv| &sv.structure_id == structure_id),
            _ => false,
        };
        exists && self.dn_of(dir, key).as_deref() == Some(written)
    }

    fn resolve_parsed(&self, dir: &Directory, rdns: &[Vec<Ava>]) -> Result<Key, Unresolved> {
        if rdns.is_empty() {
            return Ok(Key::RootDse);
        }
        if rdns.len() == 1 && dn::normal_form(rdns) == "cn=subschema" {
            return Ok(Key::Subschema);
        }
        let Some(own) = self.below_base(rdns) else {
            return Err(Unresolved::NoSuchObject {
                matched: Key::RootDse,
            });
        };
        let missing = |matched: Key| Unresolved::NoSuchObject { matched };
        let is = |ava: &Ava, attr: &str| ava.attr.eq_ignore_ascii_case(attr);
        let container = |ava: &Ava| {
            Container::ALL
                .into_iter()
                .find(|c| is(ava, "ou") && dn::fold_value(&ava.value) == c.ou())
        };
        match own.as_slice() {
            [] => Ok(Key::Base),
            [c] => container(c)
                .map(Key::Container)
                .ok_or_else(|| missing(Key::Base)),
            [leaf, c] => {
                let c = container(c).ok_or_else(|| missing(Key::Base))?;
                let here = Key::Container(c);
                let found = match c {
                    Container::Structures if is(leaf, "apexSiret") => self
                        .structure_by_siret(dir, &leaf.value)
                        .map(Key::Structure),
                    Container::People if is(leaf, "uid") => dir
                        .account_id_by_login(&leaf.value.trim().to_lowercase())
                        .ok()
                        .flatten()
                        .map(Key::Account),
                    Container::Profiles if is(leaf, "cn") => leaf
                        .value
                        .trim()
                        .parse::<ProfileId>()
                        .ok()
                        .and_then(|p| profile_of_catalogue(dir, &p))
                        .map(Key::Profile),
                    Container::Applications if is(leaf, "cn") => {
                        ldap_application(&dir.catalogue(), leaf.value.trim())
                            .map(|a| Key::Application(a.code.clone()))
                    }
                    _ => None,
                };
                found.ok_or_else(|| missing(here))
            }
            [leaf, s, c] if container(c) == Some(Container::Structures) => {
                let here = Key::Container(Container::Structures);
                let structure_id = match is(s, "apexSiret") {
                    true => self.structure_by_siret(dir, &s.value),
                    false => None,
                }
                .ok_or_else(|| missing(here))?;
                let service = is(leaf, "apexServiceId")
                    .then(|| dir.service(leaf.value.trim()).ok())
                    .flatten()
                    .filter(|sv| sv.structure_id == structure_id);
                match service {
                    Some(sv) => Ok(Key::Service {
                        id: sv.id,
                        structure_id,
                    }),
                    None => Err(missing(Key::Structure(structure_id))),
                }
            }
            _ => Err(missing(Key::Base)),
        }
    }

    /// The id of the structure with this SIRET, from the index.
    fn structure_by_siret(&self, dir: &Directory, siret: &str) -> Option<String> {
        let siret: String = siret.chars().filter(|c| *c != ' ').collect();
        dir.structure_id_by_siret(&siret).ok().flatten()
    }

    /// The SIRET of a structure (from the store's cache); None when there is none.
    fn siret_of(&self, dir: &Directory, structure_id: &str) -> Option<String> {
        Some(
            dir.structure_shared(structure_id)
                .ok()?
                .siret
                .as_str()
                .to_owned(),
        )
    }

    /// The DN of what a key names, reading through the core; None when it vanished.
    pub fn dn_of(&self, dir: &Directory, key: &Key) -> Option<String> {
        Some(match key {
            Key::RootDse => String::new(),
            Key::Subschema => SUBSCHEMA_DN.to_owned(),
            Key::Base => self.base_dn.clone(),
            Key::Container(c) => self.container_dn(*c),
            Key::Structure(id) => self.structure_dn(&self.siret_of(dir, id)?),
            Key::Service { id, structure_id } => {
                self.service_dn(id, &self.siret_of(dir, structure_id)?)
            }
            Key::Account(id) => self.person_dn(dir.account_shared(id).ok()?.login.as_deref()?),
            Key::Profile(p) => self.profile_dn(p),
            Key::Application(code) => self.application_dn(code),
        })
    }

    /// Builds the full entry of a key; None when the object vanished meanwhile.
    pub fn entry(&self, dir: &Directory, key: &Key) -> DirResult<Option<Entry>> {
        Ok(match key {
            Key::RootDse => None,
            Key::Subschema => None,
            Key::Base => Some(self.base_entry()),
            Key::Container(c) => Some(self.container_entry(*c)),
            Key::Structure(_) | Key::Service { .. } | Key::Account(_) => {
                match self.source_of(dir, key)? {
                    Some(source) => self.built_from(dir, &source)?,
                    None => None,
                }
            }
            Key::Profile(p) => Some(self.profile_entry(dir, p)?),
            Key::Application(code) => {
                ldap_application(&dir.catalogue(), code).map(|a| self.application_entry(a))
            }
        })
    }

    /// What the entry of a structure, a service or an account is built from, as the
    /// core serves it now; None when it vanished, or for any other key.
    pub fn source_of(&self, dir: &Directory, key: &Key) -> DirResult<Option<Source>> {
        Ok(match key {
            Key::Structure(id) => match dir.structure_shared(id) {
                Ok(s) => {
                    let services = dir.has_services(&s.id)?;
                    Some(Source::Structure(s, services))
                }
                Err(_) => None,
            },
            Key::Service { id, .. } => dir.service_shared(id).ok().map(Source::Service),
            Key::Account(id) => dir.account_shared(id).ok().map(Source::Account),
            _ => None,
        })
    }

    /// The full entry built from a source; None when it is not in the tree (an account
    /// without identifier, a service whose structure vanished).
    pub fn built_from(&self, dir: &Directory, source: &Source) -> DirResult<Option<Entry>> {
        Ok(match source {
            Source::Account(a) => self.account_entry(dir, a)?,
            Source::Structure(s, services) => Some(self.structure_entry(s, *services)),
            Source::Service(sv) => self.service_entry(dir, sv),
        })
    }

    fn common(&self, e: &mut Entry, structural: &str, subordinates: bool) {
        e.put1(&schema::STRUCTURAL_OBJECT_CLASS, structural);
        e.put1(&schema::ENTRY_DN, e.dn.clone());
        e.put1(
            &schema::HAS_SUBORDINATES,
            if subordinates { "TRUE" } else { "FALSE" },
        );
        e.put1(&schema::SUBSCHEMA_SUBENTRY, SUBSCHEMA_DN);
    }

    fn base_entry(&self) -> Entry {
        let mut e = Entry::new(self.base_dn.clone());
        let first = self.base_rdns.first().and_then(|r| r.first());
        let dc = first.filter(|a| a.attr == "dc").map(|a| a.value.clone());
        let mut classes = vec!["top".to_owned(), "organization".to_owned()];
        if dc.is_some() {
            classes.push("dcObject".into());
        }
        e.put(&schema::OBJECT_CLASS, classes);
        if let Some(dc) = dc {
            e.put1(&schema::DC, dc);
        }
        let o = first
            .filter(|a| a.attr == "o")
            .map(|a| a.value.clone())
            .unwrap_or_else(|| "APEX Partenaires".to_owned());
        e.put1(&schema::O, o);
        self.common(&mut e, "organization", true);
        e
    }

    fn container_entry(&self, c: Container) -> Entry {
        let mut e = Entry::new(self.container_dn(c));
        e.put(
            &schema::OBJECT_CLASS,
            strings(&["top", "organizationalUnit"]),
        );
        e.put1(&schema::OU, c.ou());
        self.common(&mut e, "organizationalUnit", true);
        e
    }

    /// The entry of a structure; `services`: whether it has any (`hasSubordinates`).
    fn structure_entry(&self, s: &Structure, services: bool) -> Entry {
        let mut e = Entry::new(self.structure_dn(s.siret.as_str()));
        e.put(
            &schema::OBJECT_CLASS,
            strings(&["top", "organization", "apexStructure"]),
        );
        e.put1(&schema::O, s.name.clone());
        e.put1(&schema::APEX_SIRET, s.siret.as_str());
        e.put1(&schema::BUSINESS_CATEGORY, s.category.clone());
        e.put1(&schema::ENTRY_UUID, s.id.clone());
        e.put1(&schema::CREATE_TIMESTAMP, generalized_time(s.created_at));
        e.put1(&schema::MODIFY_TIMESTAMP, generalized_time(s.modified_at));
        self.common(&mut e, "organization", services);
        e
    }

    /// The entry of a service; None when its structure vanished.
    fn service_entry(&self, dir: &Directory, sv: &Service) -> Option<Entry> {
        let siret = self.siret_of(dir, &sv.structure_id)?;
        let siret = siret.as_str();
        let mut e = Entry::new(self.service_dn(&sv.id, siret));
        e.put(
            &schema::OBJECT_CLASS,
            strings(&["top", "organizationalUnit", "apexService"]),
        );
        e.put1(&schema::OU, sv.name.clone());
        e.put1(&schema::APEX_SERVICE_ID, sv.id.clone());
        e.put1(&schema::APEX_SIRET, siret);
        e.put1(&schema::ENTRY_UUID, sv.id.clone());
        e.put1(&schema::CREATE_TIMESTAMP, generalized_time(sv.created_at));
        e.put1(&schema::MODIFY_TIMESTAMP, generalized_time(sv.modified_at));
        self.common(&mut e, "organizationalUnit", false);
        Some(e)
    }

    /// The entry of an account; None for an account without identifier (not in the tree).
    pub fn account_entry(&self, dir: &Directory, a: &Account) -> DirResult<Option<Entry>> {
        let Some(login) = &a.login else {
            return Ok(None);
        };
        let Some(siret) = self.siret_of(dir, &a.structure_id) else {
            return Ok(None);
        };
        let mut e = Entry::new(self.person_dn(login));
        e.put(
            &schema::OBJECT_CLASS,
            strings(&[
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                "apexAccount",
            ]),
        );
        e.put1(&schema::UID, login.clone());
        e.put1(&schema::CN, a.display_name());
        e.put1(&schema::SN, a.person.family_name.clone());
        e.put1(&schema::GIVEN_NAME, a.person.given_name.clone());
        e.put1(&schema::MAIL, a.person.email.clone());
        e.put1(&schema::EMPLOYEE_TYPE, a.role.as_str());
        e.put1(&schema::APEX_SIRET, siret.as_str());
        if let Some(sv) = &a.service_id {
            e.put1(&schema::APEX_SERVICE_ID, sv.clone());
        }
        let profiles: Vec<&ProfileId> = a.habilitations.iter().map(|h| &h.profile).collect();
        e.put(
            &schema::APEX_PROFILE,
            profiles.iter().map(|p| p.to_string()).collect(),
        );
        e.put1(&schema::APEX_ACCOUNT_STATE, a.state.as_str());
        e.put(
            &schema::MEMBER_OF,
            profiles.iter().map(|p| self.profile_dn(p)).collect(),
        );
        e.put1(&schema::ENTRY_UUID, a.id.clone());
        e.put1(&schema::CREATE_TIMESTAMP, generalized_time(a.created_at));
        e.put1(&schema::MODIFY_TIMESTAMP, generalized_time(a.modified_at));
        if let Some(c) = &a.credential {
            e.put1(&schema::PWD_CHANGED_TIME, generalized_time(c.changed_at));
        }
        self.common(&mut e, "inetOrgPerson", false);
        Ok(Some(e))
    }

    fn profile_entry(&self, dir: &Directory, p: &ProfileId) -> DirResult<Entry> {
        let mut e = Entry::new(self.profile_dn(p));
        e.put(&schema::OBJECT_CLASS, strings(&["top", "groupOfNames"]));
        e.put1(&schema::CN, p.to_string());
        if let Some(label) = dir.catalogue().profile_label(p) {
            e.put1(&schema::DESCRIPTION, label.to_owned());
        }
        let ids = dir.holder_ids(p)?;
        let members = ids
            .iter()
            .filter_map(|id| dir.account_shared(id).ok())
            .filter_map(|a| a.login.as_deref().map(|l| self.person_dn(l)))
            .collect();
        e.put(&schema::MEMBER, members);
        self.common(&mut e, "groupOfNames", false);
        Ok(e)
    }

    fn application_entry(&self, a: &Application) -> Entry {
        let mut e = Entry::new(self.application_dn(&a.code));
        e.put(
            &schema::OBJECT_CLASS,
            strings(&["top", "applicationProcess", "apexApplication"]),
        );
        e.put1(&schema::CN, a.code.clone());
        e.put1(&schema::DESCRIPTION, a.name.clone());
        e.put1(&schema::LABELED_URI, a.url.clone());
        self.common(&mut e, "applicationProcess", false);
        e
    }

    /// The root DSE.
    pub fn root_dse(&self) -> Entry {
        let mut e = Entry::new(String::new());
        e.put(&schema::OBJECT_CLASS, strings(&["top"]));
        e.put1(&schema::NAMING_CONTEXTS, self.base_dn.clone());
        e.put1(&schema::SUBSCHEMA_SUBENTRY, SUBSCHEMA_DN);
        e.put1(&schema::SUPPORTED_LDAP_VERSION, "3");
        e.put(
            &schema::SUPPORTED_EXTENSION,
            strings(&[OID_WHOAMI, OID_PASSWORD_MODIFY, OID_STARTTLS]),
        );
        e.put(
            &schema::SUPPORTED_CONTROL,
            strings(&[OID_PAGED_RESULTS, OID_MANAGE_DSA_IT]),
        );
        e.put(
            &schema::SUPPORTED_FEATURES,
            strings(&[FEATURE_ALL_OPERATIONAL, FEATURE_TRUE_FALSE_FILTERS]),
        );
        e.put1(&schema::VENDOR_NAME, "apex-idp");
        e.put1(&schema::VENDOR_VERSION, env!("CARGO_PKG_VERSION"));
        e
    }

    /// The subschema entry, from the schema files.
    pub fn subschema(&self, defs: &schema::Definitions) -> Entry {
        let mut e = Entry::new(SUBSCHEMA_DN.to_owned());
        e.put(
            &schema::OBJECT_CLASS,
            strings(&["top", "subentry", "subschema"]),
        );
        e.put1(&schema::CN, "Subschema");
        e.put(&schema::ATTRIBUTE_TYPES, defs.attribute_types.clone());
        e.put(&schema::OBJECT_CLASSES, defs.object_classes.clone());
        e.put1(&schema::STRUCTURAL_OBJECT_CLASS, "subentry");
        e.put1(&schema::ENTRY_DN, SUBSCHEMA_DN);
        e
    }
}

/// Who Am I? (RFC 4532).
pub const OID_WHOAMI: &str = "1.3.6.1.4.1.4203.1.11.3";
/// Password Modify (RFC 3062).
pub const OID_PASSWORD_MODIFY: &str = "1.3.6.1.4.1.4203.1.11.1";
/// StartTLS (RFC 4511 §4.14).
pub const OID_STARTTLS: &str = "1.3.6.1.4.1.1466.20037";
/// Notice of Disconnection (RFC 4511 §4.4.1).
pub const OID_NOTICE_OF_DISCONNECTION: &str = "1.3.6.1.4.1.1466.20036";
/// Simple Paged Results (RFC 2696).
pub const OID_PAGED_RESULTS: &str = "1.2.840.113556.1.4.319";
/// ManageDsaIT (RFC 3296): honoured trivially, the tree holds no referral.
pub const OID_MANAGE_DSA_IT: &str = "2.16.840.1.113730.3.4.2";
/// All operational attributes with `+` (RFC 3673).
const FEATURE_ALL_OPERATIONAL: &str = "1.3.6.1.4.1.4203.1.5.1";
/// Absolute true and false filters `(&)` `(|)` (RFC 4526).
const FEATURE_TRUE_FALSE_FILTERS: &str = "1.3.6.1.4.1.4203.1.5.3";

/// The application with this code, when it has an LDAP service account.
pub fn ldap_application<'a>(catalogue: &'a Catalogue, code: &str) -> Option<&'a Application> {
    catalogue
        .applications
        .iter()
        .find(|a| a.ldap.is_some() && a.code.eq_ignore_ascii_case(code))
}

/// The catalogue's spelling of a profile named case-insensitively.
fn profile_of_catalogue(dir: &Directory, p: &ProfileId) -> Option<ProfileId> {
    let catalogue = dir.catalogue();
    let app = catalogue
        .applications
        .iter()
        .find(|a| a.code.eq_ignore_ascii_case(p.app()))?;
    let profile = app
        .profiles
        .iter()
        .find(|x| x.code.eq_ignore_ascii_case(p.profile()))?;
    ProfileId::new(&app.code, &profile.code).ok()
}

/// Every profile group of the catalogue, in catalogue order.
pub fn catalogue_profiles(dir: &Directory) -> Vec<ProfileId> {
    dir.catalogue()
        .applications
        .iter()
        .flat_map(|a| {
            a.profiles
                .iter()
                .filter_map(|p| ProfileId::new(&a.code, &p.code).ok())
        })
        .collect()
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

/// Unix seconds as a GeneralizedTime (`YYYYMMDDHHMMSSZ`).
pub fn generalized_time(t: i64) -> String {
    use chrono::{Datelike, Timelike};
    let mut out = String::with_capacity(15);
    // Plain integers: chrono's format strings are parsed on every call.
    if let Some(d) = chrono::DateTime::from_timestamp(t, 0) {
        let _ = write!(
            out,
            "{:04}{:02}{:02}{:02}{:02}{:02}Z",
            d.year(),
            d.month(),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_dns_get_the_normal_form_parsing_gives() {
        let tree = Tree::new("dc=apex,dc=dgfip,dc=gouv,dc=fr").unwrap();
        let plain = [
            "apexSiret=10000000000013,ou=structures,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "APEXSIRET=10000000000013,OU=Structures,DC=apex,dc=DGFIP,dc=gouv,dc=fr",
            "uid=Jean.Dupont-2_x@a,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
        ];
        for dn in plain {
            assert_eq!(
                tree.plain_normal_form(dn),
                Some(dn::normalize(dn).unwrap()),
                "{dn}"
            );
        }
        let other = [
            "userid=jean,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=jean ,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=a\\2c,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=a=b,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=jean,ou=people, dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=jean+cn=x,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "apexServiceId=s,apexSiret=1,ou=structures,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=jean,ou=structures,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
            "uid=jéan,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr",
        ];
        for dn in other {
            assert_eq!(tree.plain_normal_form(dn), None, "{dn}");
        }
    }

    #[test]
    fn scope_checks_follow_the_chain_of_parents() {
        let service = |id: &str, s: &str| Key::Service {
            id: id.into(),
            structure_id: s.into(),
        };
        let profile: ProfileId = "APP:P".parse().unwrap();
        let mut keys = vec![
            Key::RootDse,
            Key::Subschema,
            Key::Base,
            Key::Structure("s1".into()),
            Key::Structure("s2".into()),
            service("v1", "s1"),
            service("v2", "s2"),
            Key::Account("a1".into()),
            Key::Account("a2".into()),
            Key::Profile(profile),
            Key::Application("APP".into()),
        ];
        keys.extend(Container::ALL.into_iter().map(Key::Container));
        let chain_has = |key: &Key, base: &Key| {
            let mut at = Some(key.clone());
            while let Some(k) = at {
                if &k == base {
                    return true;
                }
                at = k.parent();
            }
            false
        };
        for key in &keys {
            for base in &keys {
                assert_eq!(
                    key.is_under(base),
                    chain_has(key, base),
                    "{key:?} under {base:?}"
                );
                assert_eq!(
                    key.is_child_of(base),
                    key.parent().as_ref() == Some(base),
                    "{key:?} child of {base:?}"
                );
            }
        }
    }
}

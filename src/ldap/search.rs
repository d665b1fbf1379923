//! Which entries a search considers: the scope over the real hierarchy, narrowed by
//! the indexes a filter's equalities allow and by what the reader may see; and which
//! attributes of an entry a search returns.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use ldap3_proto::proto::{LdapFilter, LdapSearchScope};

use std::sync::Arc;

use crate::directory::{DirError, DirResult, Directory, Members, Reader};
use crate::domain::{Account, ProfileId};

use super::acl::Viewer;
use super::ber;
use super::dit::{self, Container, Entry, Key, Tree};
use super::dn;
use super::schema::{self, AttrType, Usage};

/// The kinds of entries under the base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Base,
    Container,
    Structure,
    Service,
    Account,
    Profile,
    Application,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::Base,
        Kind::Container,
        Kind::Structure,
        Kind::Service,
        Kind::Account,
        Kind::Profile,
        Kind::Application,
    ];

    fn of(key: &Key) -> Option<Kind> {
        Some(match key {
            Key::RootDse | Key::Subschema => return None,
            Key::Base => Kind::Base,
            Key::Container(_) => Kind::Container,
            Key::Structure(_) => Kind::Structure,
            Key::Service { .. } => Kind::Service,
            Key::Account(_) => Kind::Account,
            Key::Profile(_) => Kind::Profile,
            Key::Application(_) => Kind::Application,
        })
    }

    fn object_classes(self) -> &'static [&'static str] {
        match self {
            Kind::Base => &["top", "organization", "dcObject"],
            Kind::Container => &["top", "organizationalUnit"],
            Kind::Structure => &["top", "organization", "apexStructure"],
            Kind::Service => &["top", "organizationalUnit", "apexService"],
            Kind::Account => &[
                "top",
                "person",
                "organizationalPerson",
                "inetOrgPerson",
                "apexAccount",
            ],
            Kind::Profile => &["top", "groupOfNames"],
            Kind::Application => &["top", "applicationProcess", "apexApplication"],
        }
    }

    /// Whether entries of this kind may hold an attribute covered by `t`.
    fn may_hold(self, t: &'static AttrType) -> bool {
        use schema::*;
        let common: [&AttrType; 5] = [
            &OBJECT_CLASS,
            &ENTRY_DN,
            &HAS_SUBORDINATES,
            &SUBSCHEMA_SUBENTRY,
            &STRUCTURAL_OBJECT_CLASS,
        ];
        let own: &[&AttrType] = match self {
            Kind::Base => &[&DC, &O],
            Kind::Container => &[&OU],
            Kind::Structure => &[
                &O,
                &APEX_SIRET,
                &BUSINESS_CATEGORY,
                &ENTRY_UUID,
                &CREATE_TIMESTAMP,
                &MODIFY_TIMESTAMP,
            ],
            Kind::Service => &[
                &OU,
                &APEX_SERVICE_ID,
                &APEX_SIRET,
                &ENTRY_UUID,
                &CREATE_TIMESTAMP,
                &MODIFY_TIMESTAMP,
            ],
            Kind::Account => &[
                &UID,
                &CN,
                &SN,
                &GIVEN_NAME,
                &MAIL,
                &EMPLOYEE_TYPE,
                &APEX_SIRET,
                &APEX_SERVICE_ID,
                &APEX_PROFILE,
                &APEX_ACCOUNT_STATE,
                &MEMBER_OF,
                &ENTRY_UUID,
                &CREATE_TIMESTAMP,
                &MODIFY_TIMESTAMP,
                &PWD_CHANGED_TIME,
            ],
            Kind::Profile => &[&CN, &DESCRIPTION, &MEMBER],
            Kind::Application => &[&CN, &DESCRIPTION, &LABELED_URI],
        };
        common.iter().chain(own.iter()).any(|a| t.covers(a))
    }
}

/// A set of kinds.
type Kinds = BTreeSet<Kind>;

fn all_kinds() -> Kinds {
    Kind::ALL.into_iter().collect()
}

/// The kinds a filter can be TRUE on (an over-approximation).
fn possible(filter: &LdapFilter) -> Kinds {
    let having = |attr: &str| -> Kinds {
        match schema::lookup(attr) {
            Some(t) => Kind::ALL.into_iter().filter(|k| k.may_hold(t)).collect(),
            None => Kinds::new(),
        }
    };
    match filter {
        LdapFilter::And(children) => {
            let mut out = all_kinds();
            for c in children {
                out = out.intersection(&possible(c)).copied().collect();
            }
            out
        }
        LdapFilter::Or(children) => children.iter().flat_map(possible).collect(),
        LdapFilter::Not(_) | LdapFilter::Extensible(_) => all_kinds(),
        LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value)
            if schema::lookup(attr).is_some_and(|t| std::ptr::eq(t, &schema::OBJECT_CLASS)) =>
        {
            let v = dn::fold_value(value);
            Kind::ALL
                .into_iter()
                .filter(|k| {
                    k.object_classes()
                        .iter()
                        .any(|c| c.eq_ignore_ascii_case(&v))
                })
                .collect()
        }
        LdapFilter::Equality(attr, _)
        | LdapFilter::Approx(attr, _)
        | LdapFilter::GreaterOrEqual(attr, _)
        | LdapFilter::LessOrEqual(attr, _)
        | LdapFilter::Substring(attr, _)
        | LdapFilter::Present(attr) => having(attr),
    }
}

/// The kinds reachable from `base` with `scope`.
fn reachable(base: &Key, scope: &LdapSearchScope) -> Kinds {
    let own = Kind::of(base);
    let below: &[Kind] = match base {
        Key::Base => &[
            Kind::Container,
            Kind::Structure,
            Kind::Service,
            Kind::Account,
            Kind::Profile,
            Kind::Application,
        ],
        Key::Container(Container::Structures) => &[Kind::Structure, Kind::Service],
        Key::Container(Container::People) => &[Kind::Account],
        Key::Container(Container::Profiles) => &[Kind::Profile],
        Key::Container(Container::Applications) => &[Kind::Application],
        Key::Structure(_) => &[Kind::Service],
        _ => &[],
    };
    let children: &[Kind] = match base {
        Key::Base => &[Kind::Container],
        Key::Structure(_) => &[Kind::Service],
        _ => below.get(..1).unwrap_or_default(),
    };
    match scope {
        LdapSearchScope::Base => own.into_iter().collect(),
        LdapSearchScope::OneLevel => children.iter().copied().collect(),
        _ => own.into_iter().chain(below.iter().copied()).collect(),
    }
}

/// Whether `key` lies within `scope` of `base`.
pub fn in_scope(key: &Key, base: &Key, scope: &LdapSearchScope) -> bool {
    match scope {
        LdapSearchScope::Base => key == base,
        LdapSearchScope::OneLevel => key.is_child_of(base),
        _ => key.is_under(base),
    }
}

/// Why gathering the candidates of a search stopped short.
#[derive(Debug)]
pub enum Shortfall {
    /// The core failed.
    Core(DirError),
    /// The search's time limit passed.
    TimeLimit,
    /// More candidates than a paged search may keep (the bound).
    TooMany(usize),
}

impl From<DirError> for Shortfall {
    fn from(e: DirError) -> Shortfall {
        Shortfall::Core(e)
    }
}

/// What bounds the gathering of candidates.
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    /// When the search started.
    pub started: Instant,
    /// How long it may take.
    pub time_limit: Duration,
    /// Most candidates kept (a paged search's bound); None: unbounded.
    pub max_keys: Option<usize>,
}

impl Bounds {
    fn check_time(&self) -> Result<(), Shortfall> {
        match self.started.elapsed() > self.time_limit {
            true => Err(Shortfall::TimeLimit),
            false => Ok(()),
        }
    }
}

/// The entries a search considers, in a stable order, each within scope and visible
/// to the reader: the core gives only what the reader may see, and what this face
/// enumerates itself (an application's holders, whose visibility asks for their
/// account) is checked here for a paged search, and when its entry is read otherwise.
/// So nothing the reader may not see is ever kept between pages: neither the entries
/// nor a paging cookie can tell that such an entry exists. Gathering stops at the time
/// limit and, for a paged search, past the bound of candidates it may keep. The filter
/// still has to be evaluated on each.
pub fn candidates(
    dir: &Directory,
    viewer: &Viewer<'_>,
    base: &Key,
    scope: &LdapSearchScope,
    filter: &LdapFilter,
    bounds: &Bounds,
) -> Result<Vec<Key>, Shortfall> {
    if viewer.is_nobody() {
        return Ok(Vec::new());
    }
    let kinds: Kinds = reachable(base, scope)
        .intersection(&possible(filter))
        .copied()
        .collect();
    if kinds.is_empty() {
        return Ok(Vec::new());
    }
    let reader = &viewer.reader;
    // Whether every key is one the core found visible.
    let (keys, vetted) = match hint(dir, reader, filter)? {
        Some(keys) => (keys, true),
        None => match local(dir, reader, base)? {
            Some(keys) => (keys, true),
            None => (enumerate(dir, reader, &kinds)?, false),
        },
    };
    bounds.check_time()?;
    let mut out = Vec::with_capacity(keys.len().min(bounds.max_keys.unwrap_or(usize::MAX)));
    for key in keys {
        bounds.check_time()?;
        let kind_ok = Kind::of(&key).is_some_and(|k| kinds.contains(&k));
        // Only the accounts `enumerate` lists are unchecked; they are checked when their
        // entry is read (once, not twice), except for a paged search, whose kept keys
        // must hold nothing hidden.
        let unchecked = !vetted && matches!(key, Key::Account(_));
        let checked_later = bounds.max_keys.is_none();
        if kind_ok
            && in_scope(&key, base, scope)
            && (!unchecked || checked_later || viewer.sees(dir, &key)?)
        {
            if let Some(max) = bounds.max_keys
                && out.len() >= max
            {
                return Err(Shortfall::TooMany(max));
            }
            out.push(key);
        }
    }
    Ok(out)
}

fn accounts(found: Vec<Arc<Account>>) -> Vec<Key> {
    found.iter().map(|a| Key::Account(a.id.clone())).collect()
}

fn structure_key(id: &str) -> Key {
    Key::Structure(id.to_owned())
}

fn service_keys(structure_id: &str, ids: Vec<String>) -> impl Iterator<Item = Key> + use<'_> {
    ids.into_iter().map(move |id| Key::Service {
        id,
        structure_id: structure_id.to_owned(),
    })
}

/// Keys from an index when the filter requires an indexed equality, each visible to
/// the reader; None: no index applies.
fn hint(dir: &Directory, reader: &Reader<'_>, filter: &LdapFilter) -> DirResult<Option<Vec<Key>>> {
    match filter {
        LdapFilter::Equality(attr, value) | LdapFilter::Approx(attr, value) => {
            equality_hint(dir, reader, attr, value)
        }
        LdapFilter::And(children) => {
            // The most selective indexed equality first.
            let rank = |f: &LdapFilter| match f {
                LdapFilter::Equality(a, _) | LdapFilter::Approx(a, _) => {
                    match schema::lookup(a).map(|t| t.name) {
                        Some("uid") => 0,
                        Some("entryUUID") => 1,
                        Some("mail") => 2,
                        Some("apexServiceId") => 3,
                        Some("apexSiret") => 4,
                        Some("member") => 5,
                        Some("memberOf" | "apexProfile") => 6,
                        _ => 9,
                    }
                }
                LdapFilter::Or(_) => 8,
                _ => 10,
            };
            let mut ordered: Vec<&LdapFilter> = children.iter().filter(|c| rank(c) < 10).collect();
            ordered.sort_by_key(|c| rank(c));
            for c in ordered {
                if let Some(keys) = hint(dir, reader, c)? {
                    return Ok(Some(keys));
                }
            }
            Ok(None)
        }
        LdapFilter::Or(children) if !children.is_empty() => {
            // Branches may name the same entry: each is considered once.
            let mut all = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for c in children {
                match hint(dir, reader, c)? {
                    Some(keys) => all.extend(keys.into_iter().filter(|k| seen.insert(k.clone()))),
                    None => return Ok(None),
                }
            }
            Ok(Some(all))
        }
        _ => Ok(None),
    }
}

fn equality_hint(
    dir: &Directory,
    reader: &Reader<'_>,
    attr: &str,
    value: &str,
) -> DirResult<Option<Vec<Key>>> {
    let Some(t) = schema::lookup(attr) else {
        return Ok(None);
    };
    let folded = dn::fold_value(value);
    let keys = match t.name {
        "uid" => dir
            .account_by_login_for(reader, &folded)?
            .map(|a| Key::Account(a.id.clone()))
            .into_iter()
            .collect(),
        "mail" => accounts(dir.accounts_by_email_for(reader, &folded)?),
        "apexSiret" => {
            let siret: String = value.chars().filter(|c| *c != ' ').collect();
            match dir.structure_by_siret_for(reader, &siret)? {
                Some(s) => {
                    let mut keys = vec![structure_key(&s.id)];
                    keys.extend(service_keys(&s.id, dir.service_ids_for(reader, &s.id)?));
                    keys.extend(accounts(
                        dir.members_for(reader, Members::Structure(&s.id))?,
                    ));
                    keys
                }
                // Hidden, its services and accounts are too.
                None => Vec::new(),
            }
        }
        "apexServiceId" => match dir.service_for(reader, value.trim())? {
            Some(sv) => {
                let mut keys = vec![Key::Service {
                    id: sv.id.clone(),
                    structure_id: sv.structure_id.clone(),
                }];
                keys.extend(accounts(dir.members_for(reader, Members::Service(&sv.id))?));
                keys
            }
            None => Vec::new(),
        },
        "entryUUID" => {
            let id = folded.as_str();
            if let Ok(s) = dir.structure_shared(id) {
                match dir.sees_structure(reader, &s.id)? {
                    true => vec![structure_key(&s.id)],
                    false => Vec::new(),
                }
            } else if let Ok(sv) = dir.service_shared(id) {
                match dir.sees_service(reader, &sv.id, &sv.structure_id)? {
                    true => service_keys(&sv.structure_id, vec![sv.id.clone()]).collect(),
                    false => Vec::new(),
                }
            } else {
                accounts(dir.account_for(reader, id)?.into_iter().collect())
            }
        }
        "apexProfile" => match catalogue_profile(dir, value) {
            Some(p) => accounts(dir.holders_for(reader, &p)?),
            None => Vec::new(),
        },
        "memberOf" => match profile_of_dn(dir, value) {
            Some(p) => accounts(dir.holders_for(reader, &p)?),
            None => Vec::new(),
        },
        "member" => match login_of_dn(value) {
            Some(login) => match dir.account_by_login_for(reader, &login)? {
                Some(a) => a
                    .habilitations
                    .iter()
                    .filter(|h| reader.sees_profile(&h.profile))
                    .map(|h| Key::Profile(h.profile.clone()))
                    .collect(),
                None => Vec::new(),
            },
            None => Vec::new(),
        },
        _ => return Ok(None),
    };
    Ok(Some(keys))
}

/// A profile named case-insensitively, as the catalogue spells it.
fn catalogue_profile(dir: &Directory, value: &str) -> Option<ProfileId> {
    let wanted: ProfileId = value.trim().parse().ok()?;
    dit::catalogue_profiles(dir).into_iter().find(|p| {
        p.app().eq_ignore_ascii_case(wanted.app())
            && p.profile().eq_ignore_ascii_case(wanted.profile())
    })
}

/// The profile a group DN names (`cn=APP:PROFILE,ou=profiles,...`), base not checked:
/// the filter evaluated afterwards compares the whole DN.
fn profile_of_dn(dir: &Directory, value: &str) -> Option<ProfileId> {
    let rdns = dn::parse(value).ok()?;
    let first = rdns.first()?.first()?;
    (first.attr == "cn")
        .then(|| catalogue_profile(dir, &first.value))
        .flatten()
}

/// The login a person DN names (`uid=login,ou=people,...`).
fn login_of_dn(value: &str) -> Option<String> {
    let rdns = dn::parse(value).ok()?;
    let first = rdns.first()?.first()?;
    (first.attr == "uid").then(|| first.value.trim().to_lowercase())
}

/// The whole subtree of a structure or a service as the reader sees it, which is
/// small: cheaper to walk than what the reader may see in the whole tree. The base
/// itself was found visible when it was located.
fn local(dir: &Directory, reader: &Reader<'_>, base: &Key) -> DirResult<Option<Vec<Key>>> {
    Ok(match base {
        Key::Structure(id) => {
            let mut keys = vec![base.clone()];
            keys.extend(service_keys(id, dir.service_ids_for(reader, id)?));
            Some(keys)
        }
        Key::Service { .. } | Key::Account(_) | Key::Profile(_) | Key::Application(_) => {
            Some(vec![base.clone()])
        }
        _ => None,
    })
}

/// Every entry of the wanted kinds the reader may see (before scope checks), but for
/// an application's accounts: those are its holders, which `candidates` checks.
fn enumerate(dir: &Directory, reader: &Reader<'_>, kinds: &Kinds) -> DirResult<Vec<Key>> {
    let mut out = Vec::new();
    if kinds.contains(&Kind::Base) {
        out.push(Key::Base);
    }
    if kinds.contains(&Kind::Container) {
        out.extend(Container::ALL.into_iter().map(Key::Container));
    }
    let wants_objects = [Kind::Structure, Kind::Service, Kind::Account]
        .iter()
        .any(|k| kinds.contains(k));
    match reader {
        Reader::Nobody => {}
        Reader::Person(me) if wants_objects => {
            let sid = me.structure_id.as_str();
            if kinds.contains(&Kind::Structure) && dir.sees_structure(reader, sid)? {
                out.push(structure_key(sid));
            }
            if kinds.contains(&Kind::Service) {
                out.extend(service_keys(sid, dir.service_ids_for(reader, sid)?));
            }
            if kinds.contains(&Kind::Account) {
                out.extend(accounts(dir.members_for(reader, Members::Structure(sid))?));
            }
        }
        Reader::Person(_) => {}
        Reader::Application(app) => {
            if kinds.contains(&Kind::Structure) || kinds.contains(&Kind::Service) {
                let (structures, services) = dir.places_for(reader)?;
                if kinds.contains(&Kind::Structure) {
                    out.extend(structures.into_iter().map(Key::Structure));
                }
                if kinds.contains(&Kind::Service) {
                    out.extend(
                        services
                            .into_iter()
                            .map(|(id, structure_id)| Key::Service { id, structure_id }),
                    );
                }
            }
            if kinds.contains(&Kind::Account) {
                out.extend(
                    dir.holder_ids_of_application(reader)?
                        .into_iter()
                        .map(Key::Account),
                );
            }
            if kinds.contains(&Kind::Profile) {
                out.extend(
                    dit::catalogue_profiles(dir)
                        .into_iter()
                        .filter(|p| reader.sees_profile(p))
                        .map(Key::Profile),
                );
            }
            if kinds.contains(&Kind::Application) {
                out.push(Key::Application(app.code.clone()));
            }
        }
    }
    Ok(out)
}

/// Which attributes a search asked for (RFC 4511 §4.5.1.8, RFC 3673).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    all_user: bool,
    all_operational: bool,
    named: Vec<&'static AttrType>,
}

impl Selection {
    /// Reads the attribute list of a search or a pre-read.
    pub fn new(attrs: &[String]) -> Selection {
        let mut s = Selection::default();
        if attrs.is_empty() {
            s.all_user = true;
        }
        for a in attrs {
            match a.trim() {
                "*" => s.all_user = true,
                "+" => s.all_operational = true,
                "1.1" => {}
                name => s.named.extend(schema::lookup(name)),
            }
        }
        s
    }

    /// Whether this attribute is returned.
    pub fn wants(&self, ty: &'static AttrType, root_dse: bool) -> bool {
        let user = ty.usage == Usage::User || root_dse;
        (user && self.all_user)
            || (ty.usage == Usage::Operational && self.all_operational)
            || self.named.iter().any(|n| n.covers(ty))
    }
}

/// The SearchResultEntry message for an entry, with the attributes asked for, encoded.
pub fn encode(
    msgid: i32,
    entry: &Entry,
    selection: &Selection,
    types_only: bool,
    root_dse: bool,
) -> Vec<u8> {
    let attributes: Vec<ber::Attribute<'_>> = entry
        .attrs
        .iter()
        .filter(|a| selection.wants(a.ty, root_dse))
        .map(|a| ber::Attribute {
            name: a.ty.name,
            values: if types_only { &[] } else { &a.values },
        })
        .collect();
    ber::search_result_entry(msgid, &entry.dn, &attributes)
}

/// The base entry to render for the root DSE and the subschema, which every reader sees.
pub fn special(tree: &Tree, defs: &schema::Definitions, key: &Key) -> Option<Entry> {
    match key {
        Key::RootDse => Some(tree.root_dse()),
        Key::Subschema => Some(tree.subschema(defs)),
        _ => None,
    }
}

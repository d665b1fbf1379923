//! A generator of large directories, for benchmarks: structures with services,
//! administrateurs, responsables and collaborateurs, habilitations and delegations,
//! written through the core's bulk write in large atomic batches (one audit event per
//! structure).

use std::collections::HashMap;

use super::{Batch, By, DirError, DirResult, Directory, new_id, to_value};
use crate::domain::{
    Account, AccountState, Credential, Delegation, Habilitation, PersonalData, ProfileId, Role,
    Service, Siret, Structure, login,
};

/// What to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenerateSpec {
    /// Number of structures.
    pub structures: usize,
    /// Services per structure.
    pub services: usize,
    /// Accounts per structure (one administrateur, one responsable per service, the
    /// rest collaborateurs).
    pub accounts: usize,
}

/// What was generated.
#[derive(Debug, Clone, Copy, Default)]
pub struct GenerateSummary {
    /// Structures written.
    pub structures: usize,
    /// Accounts written.
    pub accounts: usize,
    /// Habilitations written.
    pub habilitations: usize,
}

const GIVEN: &[&str] = &[
    "Alice", "Bruno", "Chloé", "David", "Emma", "Félix", "Gaëlle", "Hugo", "Inès", "Jules",
    "Katia", "Louis", "Manon", "Nathan", "Océane", "Paul", "Quentin", "Rose", "Sacha", "Théo",
    "Ursule", "Victor", "Wendy", "Yanis", "Zoé",
];
const FAMILY: &[&str] = &[
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
    "Laurent", "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel",
    "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent",
    "Muller", "Lefebvre", "Faure", "André", "Mercier", "Blanc",
];

/// The n-th valid SIRET of a deterministic sequence (SIREN from n, Luhn check digit).
pub fn nth_siret(n: usize) -> String {
    let prefix = format!("{:09}{:04}", 100_000_000 + n, 1);
    (0..10)
        .map(|c| format!("{prefix}{c}"))
        .find(|s| Siret::parse(s).is_ok())
        .unwrap_or(prefix)
}

/// Structures written per commit: large enough that the store's transactions stay
/// few, small enough that one stays a bounded write.
const STRUCTURES_PER_COMMIT: usize = 100;

impl Directory {
    /// Writes a generated directory; every account is active with the password hash `phc`.
    pub fn generate(
        &self,
        spec: GenerateSpec,
        phc: &str,
        mut progress: impl FnMut(usize),
    ) -> DirResult<GenerateSummary> {
        let catalogue = self.catalogue();
        let category = catalogue
            .categories
            .first()
            .ok_or(DirError::NotFound { what: "catégorie" })?
            .clone();
        let profiles: Vec<ProfileId> = catalogue
            .applications
            .iter()
            .filter(|a| category.applications.contains(&a.code))
            .flat_map(|a| {
                a.profiles
                    .iter()
                    .filter_map(|p| ProfileId::new(&a.code, &p.code).ok())
            })
            .collect();
        let plan = Plan {
            spec,
            category: &category.code,
            profiles: &profiles,
            phc,
            now: self.now(),
        };
        let mut logins = Logins::default();
        let mut summary = GenerateSummary::default();
        self.write_bulk(|bulk| {
            for n in 0..spec.structures {
                plan.structure(n, &mut logins, &mut bulk.batch, &mut summary)?;
                if summary.structures % STRUCTURES_PER_COMMIT == 0 {
                    bulk.commit()?;
                    progress(summary.structures);
                }
            }
            Ok(())
        })?;
        progress(summary.structures);
        Ok(summary)
    }
}

/// What every generated structure shares.
struct Plan<'a> {
    spec: GenerateSpec,
    category: &'a str,
    profiles: &'a [ProfileId],
    phc: &'a str,
    now: i64,
}

/// The next free login of each base, so that generated logins are unique.
#[derive(Default)]
struct Logins(HashMap<String, u32>);

impl Logins {
    fn next(&mut self, given: &str, family: &str) -> String {
        let base = login::base(given, family);
        let k = self.0.entry(base.clone()).or_insert(1);
        let login = if *k == 1 {
            base.clone()
        } else {
            format!("{base}{k}")
        };
        *k += 1;
        login
    }
}

impl Plan<'_> {
    /// Fills the batch with the n-th structure, its services and accounts, and the one
    /// audit event that records them.
    fn structure(
        &self,
        n: usize,
        logins: &mut Logins,
        batch: &mut Batch,
        summary: &mut GenerateSummary,
    ) -> DirResult<()> {
        let now = self.now;
        let siret = Siret::parse(&nth_siret(n))
            .map_err(|e| DirError::invalid("siret", "siret", e.to_string()))?;
        let structure = Structure {
            id: new_id(),
            siret,
            category: self.category.to_owned(),
            name: format!("Structure {n}"),
            created_at: now,
            modified_at: now,
            closed_at: None,
        };
        let bulk = super::housekeeping::Upkeep::bulk_load();
        let by = By::Upkeep(&bulk);
        batch.structure(by, None, &structure)?;
        let services: Vec<Service> = (0..self.spec.services.max(1))
            .map(|i| Service {
                id: new_id(),
                structure_id: structure.id.clone(),
                name: format!("Service {i}"),
                created_at: now,
                modified_at: now,
            })
            .collect();
        for s in &services {
            batch.mark_service(by, s)?;
        }
        let mut admin_id = String::new();
        for i in 0..self.spec.accounts {
            let id = new_id();
            if i == 0 {
                admin_id = id.clone();
            }
            let account = self.account((n, i), id, &structure.id, &services, &admin_id, logins);
            summary.habilitations += account.habilitations.len();
            batch.mark_account(by, None, Some(&account))?;
            summary.accounts += 1;
        }
        let sid = structure.id.clone();
        batch.record(
            by,
            &sid,
            "directory.generate",
            sid.clone(),
            None,
            Some(to_value(&structure)),
        );
        summary.structures += 1;
        Ok(())
    }

    /// The i-th account of the n-th structure: the administrateur first, then one
    /// responsable per service, then collaborateurs spread over the services.
    fn account(
        &self,
        (n, i): (usize, usize),
        id: String,
        structure_id: &str,
        services: &[Service],
        admin_id: &str,
        logins: &mut Logins,
    ) -> Account {
        let now = self.now;
        let (role, service) = match i {
            0 => (Role::Administrateur, None),
            i if i <= services.len() => (Role::Responsable, services.get(i - 1)),
            i => (Role::Collaborateur, services.get(i % services.len())),
        };
        let given = GIVEN.get((n + i) % GIVEN.len()).copied().unwrap_or("Jean");
        let family = FAMILY
            .get((n * 7 + i * 3) % FAMILY.len())
            .copied()
            .unwrap_or("Dupont");
        let login = logins.next(given, family);
        let profile = self
            .profiles
            .get((n + i) % self.profiles.len().max(1))
            .cloned();
        let habilitations: Vec<Habilitation> = match (&profile, role) {
            (Some(p), Role::Collaborateur | Role::Administrateur) => {
                vec![Habilitation {
                    profile: p.clone(),
                    granted_by: admin_id.to_owned(),
                    granted_at: now,
                }]
            }
            _ => Vec::new(),
        };
        let delegations: Vec<Delegation> = match role {
            Role::Responsable => self
                .profiles
                .iter()
                .map(|p| Delegation {
                    profile: p.clone(),
                    delegated_by: admin_id.to_owned(),
                    delegated_at: now,
                })
                .collect(),
            _ => Vec::new(),
        };
        Account {
            id,
            structure_id: structure_id.to_owned(),
            service_id: service.map(|s| s.id.clone()),
            role,
            state: AccountState::Active,
            login: Some(login.clone()),
            person: PersonalData {
                given_name: given.into(),
                family_name: family.into(),
                email: format!("{login}@s{n}.example.fr"),
            },
            habilitations,
            delegations,
            credential: Some(Credential {
                phc: self.phc.to_owned(),
                changed_at: now,
                history: Vec::new(),
            }),
            invited_by: super::operator::OPERATOR.into(),
            created_at: now,
            modified_at: now,
            state_changed_at: now,
            expiry_warned_for: None,
            blocked: None,
            sessions_ended: 0,
            replaces: None,
        }
    }
}

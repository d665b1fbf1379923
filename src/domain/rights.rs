//! The rights matrix of the seed, as data that code and tests iterate.

use serde::Serialize;

use super::{Account, Role, Service};

/// A function of the matrix (a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Function {
    /// Create, modify or delete a service of the structure.
    ManageServices,
    /// Merge two services; transfer responsables or collaborateurs between services.
    MergeAndTransfer,
    /// Pre-create an account (sends the pre-creation mail).
    PreCreate,
    /// Validate (or reject) pending creations.
    ValidateCreations,
    /// Resend an identifier.
    ResendIdentifier,
    /// Request the deletion of an account without habilitations.
    RequestDeletion,
    /// Consult the accounts and services of the structure.
    Consult,
    /// Habilitate an account, or remove a habilitation.
    Habilitate,
    /// Delegate a profile to a responsable, or remove a delegation.
    Delegate,
    /// Manage one's own personal data and open one's applications.
    OwnData,
}

impl Function {
    /// What the function does, in French, as a verb phrase ("gérer les services").
    pub fn label(self) -> &'static str {
        match self {
            Function::ManageServices => "créer, modifier ou supprimer un service",
            Function::MergeAndTransfer => "fusionner des services ou transférer des comptes",
            Function::PreCreate => "pré-créer ce compte",
            Function::ValidateCreations => "valider ou refuser une création de compte",
            Function::ResendIdentifier => "renvoyer l'identifiant de ce compte",
            Function::RequestDeletion => "demander la suppression de ce compte",
            Function::Consult => "consulter la structure",
            Function::Habilitate => "habiliter ce compte ou retirer son habilitation",
            Function::Delegate => "déléguer un profil ou retirer une délégation",
            Function::OwnData => "gérer ces données personnelles",
        }
    }

    /// Every row of the matrix.
    pub const ALL: [Function; 10] = [
        Function::ManageServices,
        Function::MergeAndTransfer,
        Function::PreCreate,
        Function::ValidateCreations,
        Function::ResendIdentifier,
        Function::RequestDeletion,
        Function::Consult,
        Function::Habilitate,
        Function::Delegate,
        Function::OwnData,
    ];
}

/// Which targets a role reaches with a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reach {
    /// Anything of the actor's structure.
    Structure,
    /// Only what belongs to the actor's own service.
    OwnService,
    /// Only the actor himself.
    Own,
}

/// Which profiles a role may hand out with a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileSource {
    /// The function hands out no profile.
    None,
    /// Any profile of an application the structure's category is entitled to.
    Entitled,
    /// Only the profiles delegated to the actor.
    Delegated,
}

/// A "yes" cell of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Allowance {
    /// Where the actor may act.
    pub reach: Reach,
    /// The roles of the accounts he may act on (empty: the function has no account target).
    pub targets: &'static [Role],
    /// The profiles he may hand out.
    pub profiles: ProfileSource,
}

const RESP_COLLAB: &[Role] = &[Role::Responsable, Role::Collaborateur];
const COLLAB: &[Role] = &[Role::Collaborateur];
const ANY_ROLE: &[Role] = &[Role::Administrateur, Role::Responsable, Role::Collaborateur];
const NO_TARGET: &[Role] = &[];

const fn yes(reach: Reach, targets: &'static [Role]) -> Option<Allowance> {
    Some(Allowance {
        reach,
        targets,
        profiles: ProfileSource::None,
    })
}

/// The matrix: one entry per (function, role); `None` is a "no" cell.
pub const MATRIX: &[(Function, Role, Option<Allowance>)] = &[
    (
        Function::ManageServices,
        Role::Administrateur,
        yes(Reach::Structure, NO_TARGET),
    ),
    (Function::ManageServices, Role::Responsable, None),
    (Function::ManageServices, Role::Collaborateur, None),
    (
        Function::MergeAndTransfer,
        Role::Administrateur,
        yes(Reach::Structure, RESP_COLLAB),
    ),
    (Function::MergeAndTransfer, Role::Responsable, None),
    (Function::MergeAndTransfer, Role::Collaborateur, None),
    (
        Function::PreCreate,
        Role::Administrateur,
        yes(Reach::Structure, RESP_COLLAB),
    ),
    (
        Function::PreCreate,
        Role::Responsable,
        yes(Reach::OwnService, COLLAB),
    ),
    (Function::PreCreate, Role::Collaborateur, None),
    (
        Function::ValidateCreations,
        Role::Administrateur,
        yes(Reach::Structure, RESP_COLLAB),
    ),
    (Function::ValidateCreations, Role::Responsable, None),
    (Function::ValidateCreations, Role::Collaborateur, None),
    (
        Function::ResendIdentifier,
        Role::Administrateur,
        yes(Reach::Structure, ANY_ROLE),
    ),
    (
        Function::ResendIdentifier,
        Role::Responsable,
        yes(Reach::OwnService, COLLAB),
    ),
    (Function::ResendIdentifier, Role::Collaborateur, None),
    (
        Function::RequestDeletion,
        Role::Administrateur,
        yes(Reach::Structure, RESP_COLLAB),
    ),
    (
        Function::RequestDeletion,
        Role::Responsable,
        yes(Reach::OwnService, COLLAB),
    ),
    (Function::RequestDeletion, Role::Collaborateur, None),
    (
        Function::Consult,
        Role::Administrateur,
        yes(Reach::Structure, ANY_ROLE),
    ),
    (
        Function::Consult,
        Role::Responsable,
        yes(Reach::Structure, ANY_ROLE),
    ),
    (
        Function::Consult,
        Role::Collaborateur,
        yes(Reach::Structure, ANY_ROLE),
    ),
    (
        Function::Habilitate,
        Role::Administrateur,
        Some(Allowance {
            reach: Reach::Structure,
            targets: ANY_ROLE,
            profiles: ProfileSource::Entitled,
        }),
    ),
    (
        Function::Habilitate,
        Role::Responsable,
        Some(Allowance {
            reach: Reach::OwnService,
            targets: COLLAB,
            profiles: ProfileSource::Delegated,
        }),
    ),
    (Function::Habilitate, Role::Collaborateur, None),
    (
        Function::Delegate,
        Role::Administrateur,
        Some(Allowance {
            reach: Reach::Structure,
            targets: &[Role::Responsable],
            profiles: ProfileSource::Entitled,
        }),
    ),
    (Function::Delegate, Role::Responsable, None),
    (Function::Delegate, Role::Collaborateur, None),
    (
        Function::OwnData,
        Role::Administrateur,
        yes(Reach::Own, ANY_ROLE),
    ),
    (
        Function::OwnData,
        Role::Responsable,
        yes(Reach::Own, ANY_ROLE),
    ),
    (
        Function::OwnData,
        Role::Collaborateur,
        yes(Reach::Own, ANY_ROLE),
    ),
];

/// Whether a role reads its structure's audit log and lifts sign-in delays: these
/// administration rights sit beside the seed's matrix, with the administrateurs.
pub fn administers(role: Role) -> bool {
    role == Role::Administrateur
}

/// The cell of the matrix for a function and a role.
pub fn allowance(function: Function, role: Role) -> Option<Allowance> {
    MATRIX
        .iter()
        .find(|(f, r, _)| *f == function && *r == role)
        .and_then(|(_, _, a)| *a)
}

/// Who acts: the part of an account the matrix looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The actor's account id.
    pub account_id: String,
    /// His structure.
    pub structure_id: String,
    /// His service, if any.
    pub service_id: Option<String>,
    /// His role.
    pub role: Role,
}

/// What is acted upon: an account (existing or about to be created) or a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target<'a> {
    /// The target's account id (None for a service or a new account).
    pub account_id: Option<&'a str>,
    /// The target's structure.
    pub structure_id: &'a str,
    /// The target's service, if any.
    pub service_id: Option<&'a str>,
    /// The target's role (None when the target is a service).
    pub role: Option<Role>,
}

impl<'a> Target<'a> {
    /// An account, where it is.
    pub fn of_account(a: &'a Account) -> Target<'a> {
        Target {
            account_id: Some(&a.id),
            structure_id: &a.structure_id,
            service_id: a.service_id.as_deref(),
            role: Some(a.role),
        }
    }

    /// A service.
    pub fn of_service(s: &'a Service) -> Target<'a> {
        Target {
            account_id: None,
            structure_id: &s.structure_id,
            service_id: Some(&s.id),
            role: None,
        }
    }

    /// A structure as a whole.
    pub fn of_structure(structure_id: &'a str) -> Target<'a> {
        Target {
            account_id: None,
            structure_id,
            service_id: None,
            role: None,
        }
    }

    /// An account of `role` to be created in a service.
    pub fn new_account_in(s: &'a Service, role: Role) -> Target<'a> {
        Target {
            role: Some(role),
            ..Target::of_service(s)
        }
    }
}

/// Why the matrix refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The role has no right to this function at all.
    #[error("un {role} ne peut pas {}", function.label())]
    Role {
        /// The actor's role.
        role: Role,
        /// The function attempted.
        function: Function,
    },
    /// The target belongs to another structure: it is not even visible.
    #[error("introuvable dans votre structure")]
    OtherStructure,
    /// The target is outside the actor's own service.
    #[error("un responsable n'agit que sur les comptes de son propre service")]
    OtherService,
    /// The target's role is out of reach.
    #[error("un {role} ne peut pas agir ainsi sur le compte d'un {target}")]
    TargetRole {
        /// The actor's role.
        role: Role,
        /// The target's role.
        target: Role,
    },
    /// The function applies to the actor himself only.
    #[error("cette action ne porte que sur votre propre compte")]
    NotOwn,
    /// A write outside what its permit was given for (another structure, account or
    /// service): refused, whatever the matrix would say of that other target.
    #[error("cette autorisation porte sur une autre cible")]
    OtherTarget,
}

/// Proof that the matrix allowed an action; only [`authorize`] makes one: its fields
/// are private, so no other code can forge one.
///
/// ```compile_fail
/// use apex_idp::domain::Permit;
/// // A copy with other rights cannot be made outside `authorize`.
/// fn forge(p: Permit) -> Permit {
///     Permit { ..p }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Permit {
    function: Function,
    allowance: Allowance,
    actor_id: String,
    structure_id: String,
    account_id: Option<String>,
    service_id: Option<String>,
}

impl Permit {
    /// The function allowed.
    pub fn function(&self) -> Function {
        self.function
    }

    /// The cell that allowed it.
    pub fn allowance(&self) -> &Allowance {
        &self.allowance
    }

    /// The account of the person it was given to.
    pub fn actor_id(&self) -> &str {
        &self.actor_id
    }

    /// Whether it covers writing `account`: in its structure and, when it was given for
    /// one account, that account.
    pub fn covers_account(&self, account: &Account) -> bool {
        account.structure_id == self.structure_id
            && self.account_id.as_ref().is_none_or(|id| *id == account.id)
    }

    /// Whether it covers writing `service`: in its structure and, when it was given for
    /// one service, that service.
    pub fn covers_service(&self, service: &Service) -> bool {
        service.structure_id == self.structure_id
            && self.service_id.as_ref().is_none_or(|id| *id == service.id)
    }
}

/// Checks one action against the matrix.
pub fn authorize(
    actor: &Actor,
    function: Function,
    target: &Target<'_>,
) -> Result<Permit, Refusal> {
    let allowance = check(actor, function, target)?;
    Ok(Permit {
        function,
        allowance,
        actor_id: actor.account_id.clone(),
        structure_id: target.structure_id.to_owned(),
        account_id: target.account_id.map(str::to_owned),
        service_id: target.service_id.map(str::to_owned),
    })
}

/// Whether the matrix allows the action: the answer of [`authorize`] without its
/// permit, for what only decides what to show (a button, an LDAP entry) and writes
/// nothing, at no allocation.
pub fn allows(actor: &Actor, function: Function, target: &Target<'_>) -> bool {
    check(actor, function, target).is_ok()
}

/// The matrix's cell that allows the action, or why it refuses.
fn check(actor: &Actor, function: Function, target: &Target<'_>) -> Result<Allowance, Refusal> {
    let allowance = allowance(function, actor.role).ok_or(Refusal::Role {
        role: actor.role,
        function,
    })?;
    if target.structure_id != actor.structure_id {
        return Err(Refusal::OtherStructure);
    }
    match allowance.reach {
        Reach::Structure => {}
        Reach::OwnService => {
            let same =
                actor.service_id.is_some() && target.service_id == actor.service_id.as_deref();
            if !same {
                return Err(Refusal::OtherService);
            }
        }
        Reach::Own => {
            if target.account_id != Some(actor.account_id.as_str()) {
                return Err(Refusal::NotOwn);
            }
        }
    }
    if let Some(target_role) = target.role
        && !allowance.targets.is_empty()
        && !allowance.targets.contains(&target_role)
    {
        return Err(Refusal::TargetRole {
            role: actor.role,
            target: target_role,
        });
    }
    Ok(allowance)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::account::sample as person;

    #[test]
    fn a_permit_covers_the_target_it_was_given_for_and_nothing_else() {
        let admin = person("admin", "s1", None, Role::Administrateur);
        let actor = Actor {
            account_id: admin.id.clone(),
            structure_id: admin.structure_id.clone(),
            service_id: None,
            role: admin.role,
        };
        let target = person("c1", "s1", Some("sv1"), Role::Collaborateur);
        let other = person("c2", "s1", Some("sv1"), Role::Collaborateur);
        let elsewhere = person("c1", "s2", Some("sv1"), Role::Collaborateur);
        let permit = authorize(
            &actor,
            Function::ValidateCreations,
            &Target::of_account(&target),
        )
        .unwrap_or_else(|r| panic!("{r}"));
        assert_eq!(permit.actor_id(), "admin");
        assert!(permit.covers_account(&target));
        assert!(
            !permit.covers_account(&other),
            "another account of the structure"
        );
        assert!(
            !permit.covers_account(&elsewhere),
            "the same id in another structure"
        );
        let service = Service {
            id: "sv1".into(),
            structure_id: "s1".into(),
            name: "Paie".into(),
            created_at: 0,
            modified_at: 0,
        };
        let moved = Service {
            id: "sv2".into(),
            ..service.clone()
        };
        let whole = authorize(
            &actor,
            Function::ManageServices,
            &Target::of_service(&service),
        )
        .unwrap_or_else(|r| panic!("{r}"));
        assert!(whole.covers_service(&service));
        assert!(!whole.covers_service(&moved), "another service");
        assert!(
            whole.covers_account(&other),
            "a service's permit reaches its structure's people"
        );
        assert!(!whole.covers_account(&elsewhere));
    }

    #[test]
    fn the_matrix_has_one_cell_per_function_and_role() {
        for f in Function::ALL {
            for r in Role::ALL {
                let n = MATRIX
                    .iter()
                    .filter(|(mf, mr, _)| *mf == f && *mr == r)
                    .count();
                assert_eq!(n, 1, "{f:?} {r:?}");
            }
        }
        assert_eq!(MATRIX.len(), Function::ALL.len() * Role::ALL.len());
    }

    #[test]
    fn collaborateurs_only_consult_and_manage_their_own_data() {
        for f in Function::ALL {
            let allowed = allowance(f, Role::Collaborateur).is_some();
            assert_eq!(
                allowed,
                matches!(f, Function::Consult | Function::OwnData),
                "{f:?}"
            );
        }
    }

    #[test]
    fn another_structure_is_never_reachable() {
        let actor = Actor {
            account_id: "a".into(),
            structure_id: "s1".into(),
            service_id: None,
            role: Role::Administrateur,
        };
        for f in Function::ALL {
            let t = Target {
                account_id: Some("a"),
                structure_id: "s2",
                service_id: None,
                role: Some(Role::Collaborateur),
            };
            assert!(authorize(&actor, f, &t).is_err(), "{f:?}");
        }
    }
}

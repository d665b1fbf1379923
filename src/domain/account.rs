//! Accounts: natural persons of one structure, and their lifecycle.

use serde::{Deserialize, Serialize};

use super::{ProfileId, Role};

/// Where an account stands in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountState {
    /// The pre-creation mail was sent; the link is valid for a few days.
    Invited,
    /// The person completed the form; an administrateur must validate.
    AwaitingValidation,
    /// Validated: the person signs in with the mailed identifier.
    Active,
    /// Deletion requested: blocked everywhere, purged after the retention period.
    DeletionRequested,
}

impl AccountState {
    /// Every state.
    pub const ALL: [AccountState; 4] = [
        AccountState::Invited,
        AccountState::AwaitingValidation,
        AccountState::Active,
        AccountState::DeletionRequested,
    ];

    /// The contract's name (`apexAccountState`, `?state=`).
    pub fn as_str(self) -> &'static str {
        match self {
            AccountState::Invited => "invited",
            AccountState::AwaitingValidation => "awaiting_validation",
            AccountState::Active => "active",
            AccountState::DeletionRequested => "deletion_requested",
        }
    }

    /// Parses the contract's name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// What happens to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifecycleEvent {
    /// The person completed the pre-creation form; `vouched` when the operator invited him.
    CompleteForm {
        /// Skip the administrateur's validation (operator-invited administrateur).
        vouched: bool,
    },
    /// An administrateur validated the creation.
    Validate,
    /// An administrateur refused the creation.
    Reject,
    /// The invitation link expired unused.
    Expire,
    /// Somebody entitled requested the deletion.
    RequestDeletion,
    /// The retention period after the deletion request is over.
    Purge,
}

/// Where an event leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The account lives on in this state.
    State(AccountState),
    /// The account ends (rejected, expired, purged); its audit events remain.
    Ended,
}

/// An event that the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("un compte à l'état {from} ne peut pas {event}")]
pub struct LifecycleError {
    /// The state the account is in.
    pub from: &'static str,
    /// What was attempted.
    pub event: &'static str,
}

impl LifecycleEvent {
    fn name(self) -> &'static str {
        match self {
            LifecycleEvent::CompleteForm { .. } => "compléter le formulaire de pré-création",
            LifecycleEvent::Validate => "être validé",
            LifecycleEvent::Reject => "être refusé",
            LifecycleEvent::Expire => "expirer comme invitation",
            LifecycleEvent::RequestDeletion => "être supprimé",
            LifecycleEvent::Purge => "être purgé",
        }
    }
}

/// The lifecycle state machine of DESIGN.md.
pub fn transition(from: AccountState, event: LifecycleEvent) -> Result<Outcome, LifecycleError> {
    use AccountState::*;
    use LifecycleEvent::*;
    let outcome = match (from, event) {
        (Invited, CompleteForm { vouched: true }) => Outcome::State(Active),
        (Invited, CompleteForm { vouched: false }) => Outcome::State(AwaitingValidation),
        (Invited, Expire) => Outcome::Ended,
        (AwaitingValidation, Validate) => Outcome::State(Active),
        (AwaitingValidation, Reject) => Outcome::Ended,
        (Active, RequestDeletion) => Outcome::State(DeletionRequested),
        (DeletionRequested, Purge) => Outcome::Ended,
        _ => {
            return Err(LifecycleError {
                from: from.as_str(),
                event: event.name(),
            });
        }
    };
    Ok(outcome)
}

/// The personal data of an account's holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PersonalData {
    /// First name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// Professional e-mail address.
    pub email: String,
}

/// A profile held by an account, and who granted it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Habilitation {
    /// The profile.
    pub profile: ProfileId,
    /// Account id of the granter.
    pub granted_by: String,
    /// When (unix seconds).
    pub granted_at: i64,
}

/// A profile delegated to a responsable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Delegation {
    /// The profile.
    pub profile: ProfileId,
    /// Account id of the administrateur who delegated it.
    pub delegated_by: String,
    /// When (unix seconds).
    pub delegated_at: i64,
}

/// The password of an account: only its argon2id hash, and its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    /// PHC string of the current password.
    pub phc: String,
    /// When it was set (unix seconds).
    pub changed_at: i64,
    /// PHC strings of previous passwords, newest first.
    #[serde(default)]
    pub history: Vec<String>,
}

/// A natural person of one structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Account {
    /// Stable id (OIDC `sub`, LDAP `entryUUID`), never reused.
    pub id: String,
    /// The structure the account acts for.
    pub structure_id: String,
    /// The service (absent for an administrateur without one).
    pub service_id: Option<String>,
    /// The role.
    pub role: Role,
    /// The lifecycle state.
    pub state: AccountState,
    /// The identifier, generated at validation.
    pub login: Option<String>,
    /// Personal data.
    pub person: PersonalData,
    /// Profiles held.
    #[serde(default)]
    pub habilitations: Vec<Habilitation>,
    /// Profiles delegated (responsables only).
    #[serde(default)]
    pub delegations: Vec<Delegation>,
    /// The password, once its holder set it.
    #[schemars(skip)]
    pub credential: Option<Credential>,
    /// Account id of the inviter, or `operator`.
    pub invited_by: String,
    /// Creation time (unix seconds).
    pub created_at: i64,
    /// Last change (unix seconds).
    pub modified_at: i64,
    /// When the state last changed (unix seconds).
    pub state_changed_at: i64,
    /// The password change time for which the expiry warning was mailed.
    #[serde(default)]
    pub expiry_warned_for: Option<i64>,
    /// Blocked by the operator (or with its structure): no sign-in anywhere. A flag
    /// beside the state, whose names are part of the LDAP and API contract.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<Block>,
    /// How many times the operator ended the account's sessions: part of its stamp, so
    /// each time ends every session and token family opened before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub sessions_ended: u32,
    /// The administrateur this one replaces (operator's `admin replace`): blocked in
    /// the commit that makes this one active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Why and since when an account is blocked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Block {
    /// Since when (unix seconds).
    pub at: i64,
    /// Why.
    pub reason: BlockReason,
}

/// Why an account is blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockReason {
    /// The operator blocked it (`account block`); he may unblock it.
    Operator,
    /// Its structure was closed: for good.
    StructureClosed,
    /// A new administrateur replaced it (`admin replace`).
    Replaced,
}

impl BlockReason {
    /// The name shown to the operator.
    pub fn as_str(self) -> &'static str {
        match self {
            BlockReason::Operator => "operator",
            BlockReason::StructureClosed => "structure_closed",
            BlockReason::Replaced => "replaced",
        }
    }
}

impl Account {
    /// Whether the account may sign in (any face): active and not blocked.
    pub fn may_sign_in(&self) -> bool {
        self.state == AccountState::Active && self.blocked.is_none()
    }

    /// Whether the account holds this profile.
    pub fn holds(&self, profile: &ProfileId) -> bool {
        self.habilitations.iter().any(|h| &h.profile == profile)
    }

    /// Whether the account holds any profile of this application.
    pub fn holds_application(&self, app_code: &str) -> bool {
        self.profiles_of(app_code).next().is_some()
    }

    /// The profiles the account holds of this application.
    pub fn profiles_of<'a>(&'a self, app_code: &'a str) -> impl Iterator<Item = &'a ProfileId> {
        self.habilitations
            .iter()
            .map(|h| &h.profile)
            .filter(move |p| p.app() == app_code)
    }

    /// Whether this profile was delegated to the account.
    pub fn has_delegation(&self, profile: &ProfileId) -> bool {
        self.delegations.iter().any(|d| &d.profile == profile)
    }

    /// The display name, "Given FAMILY".
    pub fn display_name(&self) -> String {
        format!("{} {}", self.person.given_name, self.person.family_name)
    }
}

/// Checks personal data: names of 1 to 100 characters, a plausible e-mail address.
pub fn check_person(person: &PersonalData) -> Result<PersonalData, (&'static str, String)> {
    let name = |field: &'static str, v: &str| -> Result<String, (&'static str, String)> {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > 100 || v.chars().any(char::is_control) {
            return Err((field, "doit compter de 1 à 100 caractères".into()));
        }
        Ok(v.to_owned())
    };
    Ok(PersonalData {
        given_name: name("given_name", &person.given_name)?,
        family_name: name("family_name", &person.family_name)?,
        email: check_email(&person.email).map_err(|m| ("email", m))?,
    })
}

/// Checks an e-mail address and returns it trimmed, domain lower-cased.
pub fn check_email(email: &str) -> Result<String, String> {
    let email = email.trim();
    let (local, domain) = email
        .rsplit_once('@')
        .ok_or("l'adresse électronique n'a pas de @")?;
    let ok_local = !local.is_empty()
        && local.len() <= 64
        && local
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>()[]\\,;:\"@".contains(c));
    let ok_domain = domain.len() <= 253
        && domain.contains('.')
        && domain.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if ok_local && ok_domain {
        Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
    } else {
        Err(format!(
            "{email:?} n'est pas une adresse électronique valide"
        ))
    }
}

/// An active account of `role` in `structure` (and `service`), for unit tests.
#[cfg(test)]
pub(crate) fn sample(id: &str, structure: &str, service: Option<&str>, role: Role) -> Account {
    Account {
        id: id.into(),
        structure_id: structure.into(),
        service_id: service.map(Into::into),
        role,
        state: AccountState::Active,
        login: Some(id.into()),
        person: PersonalData {
            given_name: "Jean".into(),
            family_name: "Dupont".into(),
            email: format!("{id}@example.fr"),
        },
        habilitations: Vec::new(),
        delegations: Vec::new(),
        credential: None,
        invited_by: "operator".into(),
        created_at: 0,
        modified_at: 0,
        state_changed_at: 0,
        expiry_warned_for: None,
        blocked: None,
        sessions_ended: 0,
        replaces: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountState::*;

    #[test]
    fn lifecycle_follows_the_design() {
        let ok = |s, e| transition(s, e).unwrap();
        assert_eq!(
            ok(Invited, LifecycleEvent::CompleteForm { vouched: false }),
            Outcome::State(AwaitingValidation)
        );
        assert_eq!(
            ok(Invited, LifecycleEvent::CompleteForm { vouched: true }),
            Outcome::State(Active)
        );
        assert_eq!(ok(Invited, LifecycleEvent::Expire), Outcome::Ended);
        assert_eq!(
            ok(AwaitingValidation, LifecycleEvent::Validate),
            Outcome::State(Active)
        );
        assert_eq!(
            ok(AwaitingValidation, LifecycleEvent::Reject),
            Outcome::Ended
        );
        assert_eq!(
            ok(Active, LifecycleEvent::RequestDeletion),
            Outcome::State(DeletionRequested)
        );
        assert_eq!(ok(DeletionRequested, LifecycleEvent::Purge), Outcome::Ended);
    }

    #[test]
    fn lifecycle_refuses_every_other_step() {
        let events = [
            LifecycleEvent::CompleteForm { vouched: false },
            LifecycleEvent::Validate,
            LifecycleEvent::Reject,
            LifecycleEvent::Expire,
            LifecycleEvent::RequestDeletion,
            LifecycleEvent::Purge,
        ];
        let allowed = [
            (Invited, 0),
            (Invited, 3),
            (AwaitingValidation, 1),
            (AwaitingValidation, 2),
            (Active, 4),
            (DeletionRequested, 5),
        ];
        for state in AccountState::ALL {
            for (i, event) in events.iter().enumerate() {
                let expected = allowed.contains(&(state, i));
                assert_eq!(
                    transition(state, *event).is_ok(),
                    expected,
                    "{state:?} {event:?}"
                );
            }
        }
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(
            check_email(" Jean.Dupont@Example.FR ").unwrap(),
            "Jean.Dupont@example.fr"
        );
        assert!(check_email("jean").is_err());
        assert!(check_email("jean@localhost").is_err());
        assert!(check_email("a b@example.fr").is_err());
    }
}

//! What the core shows of its data to the faces.

use serde::Serialize;

use crate::domain::{Account, AccountState, BlockReason, ProfileId, Role, Service, Structure};

/// One account as the consultation of a structure shows it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct AccountSummary {
    /// Stable id.
    pub id: String,
    /// Identifier, once validated.
    pub login: Option<String>,
    /// Role.
    pub role: Role,
    /// Lifecycle state.
    pub state: AccountState,
    /// Service, if any.
    pub service_id: Option<String>,
    /// First name.
    pub given_name: String,
    /// Family name.
    pub family_name: String,
    /// E-mail.
    pub email: String,
    /// Profiles held.
    pub habilitations: Vec<ProfileId>,
    /// Profiles delegated.
    pub delegations: Vec<ProfileId>,
    /// Why it is blocked, when it is (no sign-in anywhere).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked: Option<BlockReason>,
}

impl From<&Account> for AccountSummary {
    fn from(a: &Account) -> Self {
        AccountSummary {
            id: a.id.clone(),
            login: a.login.clone(),
            role: a.role,
            state: a.state,
            service_id: a.service_id.clone(),
            given_name: a.person.given_name.clone(),
            family_name: a.person.family_name.clone(),
            email: a.person.email.clone(),
            habilitations: a.habilitations.iter().map(|h| h.profile.clone()).collect(),
            delegations: a.delegations.iter().map(|d| d.profile.clone()).collect(),
            blocked: a.blocked.as_ref().map(|b| b.reason),
        }
    }
}

/// A structure with its services and accounts.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct StructureView {
    /// The structure.
    pub structure: Structure,
    /// Its services.
    pub services: Vec<Service>,
    /// Its accounts.
    pub accounts: Vec<AccountSummary>,
}

/// What the holder of an invitation link is shown.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct InvitationView {
    /// Who invites (a name, or "la DGFiP").
    pub inviter: String,
    /// The structure's name.
    pub structure: String,
    /// Its SIRET.
    pub siret: String,
    /// The service's name, if any.
    pub service: Option<String>,
    /// The role offered.
    pub role: Role,
    /// First name on record.
    pub given_name: String,
    /// Family name on record.
    pub family_name: String,
    /// E-mail on record.
    pub email: String,
    /// When the link expires (RFC 3339).
    pub expires_at: String,
}

/// An application of the portal.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ApplicationLink {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Where to go.
    pub url: String,
    /// The profiles held on it.
    pub profiles: Vec<ProfileId>,
}

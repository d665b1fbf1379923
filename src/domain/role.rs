//! The three roles of a partner account.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The role an account holds in its structure.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Acts for the structure.
    Administrateur,
    /// Manages one service.
    Responsable,
    /// Belongs to one service.
    Collaborateur,
}

impl Role {
    /// Every role, most privileged first.
    pub const ALL: [Role; 3] = [Role::Administrateur, Role::Responsable, Role::Collaborateur];

    /// The contract's name (`employeeType`, `apex_role`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Administrateur => "administrateur",
            Role::Responsable => "responsable",
            Role::Collaborateur => "collaborateur",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?}: administrateur, responsable or collaborateur")
            })
    }
}

//! Structures (legal persons) and their services.

use serde::{Deserialize, Serialize};

use super::Siret;

/// A legal person, created by the DGFiP operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Structure {
    /// Stable internal id.
    pub id: String,
    /// The structure's SIRET (unique).
    pub siret: Siret,
    /// Catalogue category code: decides which applications it may receive.
    pub category: String,
    /// Display name.
    pub name: String,
    /// Creation time (unix seconds).
    pub created_at: i64,
    /// Last change (unix seconds).
    pub modified_at: i64,
    /// When the operator closed it (unix seconds): for good, its people blocked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<i64>,
}

/// An organisational unit of one structure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Service {
    /// Stable id (`apexServiceId`).
    pub id: String,
    /// The structure it belongs to.
    pub structure_id: String,
    /// Display name, unique within the structure.
    pub name: String,
    /// Creation time (unix seconds).
    pub created_at: i64,
    /// Last change (unix seconds).
    pub modified_at: i64,
}

/// Checks a structure or service name: 1 to 200 characters, no control character.
pub fn check_name(name: &str) -> Result<String, String> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err("le nom est vide".into());
    }
    if trimmed.chars().count() > 200 {
        return Err("le nom dépasse 200 caractères".into());
    }
    if trimmed.chars().any(char::is_control) {
        return Err("le nom contient un caractère de contrôle".into());
    }
    Ok(trimmed.to_owned())
}

//! The one operation error of the core, mapped once per face.

use crate::domain::Refusal;
use crate::store::StoreError;

/// Why an operation did not happen. Nothing was written when it is returned.
#[derive(Debug, thiserror::Error)]
pub enum DirError {
    /// No valid credentials or session.
    #[error("connexion requise")]
    Unauthenticated,
    /// Sign-in refused: unknown login, wrong password or blocked account alike.
    #[error("identifiant inconnu ou mot de passe erroné")]
    BadCredentials,
    /// The rights matrix says no.
    #[error("{0}")]
    Refused(Refusal),
    /// Refused by another rule than the matrix (e.g. audit reserved to administrateurs).
    #[error("{message}")]
    Forbidden {
        /// The rule.
        rule: &'static str,
        /// A sentence for a person.
        message: String,
    },
    /// Nothing of that kind here (or not visible to the actor).
    #[error("{what} introuvable")]
    NotFound {
        /// What was looked for.
        what: &'static str,
    },
    /// The current state forbids it.
    #[error("{message}")]
    Conflict {
        /// The rule.
        rule: &'static str,
        /// A sentence for a person.
        message: String,
        /// What blocks (e.g. the habilitations still held).
        blocking: Vec<String>,
    },
    /// A value is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The rule.
        rule: &'static str,
        /// The field at fault.
        field: &'static str,
        /// A sentence for a person.
        message: String,
    },
    /// Too many failed attempts: wait.
    #[error("trop de tentatives ; réessayez dans {retry_after} s")]
    TooManyAttempts {
        /// Seconds to wait.
        retry_after: i64,
    },
    /// The one-time link is unknown, used or expired.
    #[error("ce lien est invalide, déjà utilisé ou expiré")]
    LinkInvalid,
    /// The password expired: only its renewal is allowed.
    #[error("votre mot de passe a expiré ; renouvelez-le d'abord")]
    PasswordExpired,
    /// The store's database cannot be reached: nothing was done; retry shortly.
    #[error("{0}")]
    Unavailable(String),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// Hashing failed.
    #[error(transparent)]
    Hash(#[from] crate::auth::password::HashError),
}

impl From<StoreError> for DirError {
    fn from(e: StoreError) -> DirError {
        match e {
            StoreError::Unavailable(why) => DirError::Unavailable(why),
            other => DirError::Store(other),
        }
    }
}

impl DirError {
    pub(crate) fn invalid(
        rule: &'static str,
        field: &'static str,
        message: impl Into<String>,
    ) -> Self {
        DirError::Invalid {
            rule,
            field,
            message: message.into(),
        }
    }

    pub(crate) fn conflict(rule: &'static str, message: impl Into<String>) -> Self {
        DirError::Conflict {
            rule,
            message: message.into(),
            blocking: Vec::new(),
        }
    }
}

impl From<Refusal> for DirError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::OtherStructure => DirError::NotFound { what: "cible" },
            other => DirError::Refused(other),
        }
    }
}

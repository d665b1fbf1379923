//! Password policy: what a new password must be, and when one expires.

use serde::Serialize;

use super::Role;

/// The rules a new password must follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters (bounds the hashing cost).
    pub max_length: usize,
    /// How many previous passwords may not be reused.
    pub history: usize,
    /// Validity in days per role (0: never expires).
    pub max_age_days: [u32; 3],
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            max_length: 256,
            history: 5,
            max_age_days: [365; 3],
        }
    }
}

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Shorter than the minimum.
    #[error("le mot de passe doit compter au moins {0} caractères")]
    TooShort(usize),
    /// Longer than the maximum.
    #[error("le mot de passe doit compter au plus {0} caractères")]
    TooLong(usize),
    /// Made of too few distinct characters.
    #[error("le mot de passe répète trop peu de caractères différents")]
    Repetitive,
    /// A well-known or breached password.
    #[error("ce mot de passe fait partie des plus courants ; choisissez-en un autre")]
    Common,
    /// Contains the person's name or identifier.
    #[error("le mot de passe ne doit contenir ni votre nom ni votre identifiant")]
    Personal,
    /// One of the last passwords.
    #[error("ce mot de passe a déjà servi récemment ; choisissez-en un nouveau")]
    Reused,
}

/// A small embedded list of the most common (and breached) passwords, lower-cased.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "azertyuiop123",
    "azertyuiopqsdf",
    "motdepasse123",
    "motdepasse1234",
    "password1234",
    "password12345",
    "qwertyuiop123",
    "qwertyuiopasdf",
    "administrateur",
    "bonjour123456",
    "soleil123456",
    "iloveyou1234",
    "000000000000",
    "111111111111",
    "abcdefghijkl",
    "abc123456789",
    "passwordpassword",
    "motdepassemotdepasse",
    "changeme1234",
    "welcome12345",
    "123456789abc",
    "azerty123456",
    "qwerty123456",
];

impl PasswordPolicy {
    /// Validity in days for a role (0: never expires).
    pub fn max_age_days(&self, role: Role) -> u32 {
        let i = Role::ALL.iter().position(|r| *r == role).unwrap_or(0);
        self.max_age_days.get(i).copied().unwrap_or(0)
    }

    /// Whether a password set at `changed_at` is expired at `now` (unix seconds).
    pub fn is_expired(&self, role: Role, changed_at: i64, now: i64) -> bool {
        match self.max_age_days(role) {
            0 => false,
            days => now >= changed_at + i64::from(days) * 86_400,
        }
    }

    /// Checks a new password; `personal` holds the words it must not contain.
    pub fn check(&self, password: &str, personal: &[&str]) -> Result<(), WeakPassword> {
        let len = password.chars().count();
        if len < self.min_length {
            return Err(WeakPassword::TooShort(self.min_length));
        }
        if len > self.max_length {
            return Err(WeakPassword::TooLong(self.max_length));
        }
        let mut distinct: Vec<char> = password.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 5 {
            return Err(WeakPassword::Repetitive);
        }
        let lower = password.to_lowercase();
        if COMMON.contains(&lower.as_str()) {
            return Err(WeakPassword::Common);
        }
        let personal_hit = personal
            .iter()
            .map(|w| w.trim().to_lowercase())
            .any(|w| w.chars().count() >= 4 && lower.contains(&w));
        if personal_hit {
            return Err(WeakPassword::Personal);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_refuses_weak_passwords() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("court", &[]), Err(WeakPassword::TooShort(12)));
        assert_eq!(
            p.check(&"a".repeat(300), &[]),
            Err(WeakPassword::TooLong(256))
        );
        assert_eq!(
            p.check("aaaaaaaaaaaaaaaa", &[]),
            Err(WeakPassword::Repetitive)
        );
        assert_eq!(p.check("Azertyuiop123", &[]), Err(WeakPassword::Common));
        assert_eq!(
            p.check("dupont-est-la-2024", &["Dupont"]),
            Err(WeakPassword::Personal)
        );
        assert_eq!(p.check("cheval-agrafe-pile", &["Dupont"]), Ok(()));
    }

    #[test]
    fn expiry_is_per_role() {
        let p = PasswordPolicy {
            max_age_days: [90, 365, 0],
            ..PasswordPolicy::default()
        };
        assert!(p.is_expired(Role::Administrateur, 0, 90 * 86_400));
        assert!(!p.is_expired(Role::Responsable, 0, 90 * 86_400));
        assert!(!p.is_expired(Role::Collaborateur, 0, 9_000 * 86_400));
    }
}

//! SIRET: the 14-digit identifier of a French establishment.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// SIREN of La Poste, whose SIRETs follow a digit-sum rule instead of Luhn.
const LA_POSTE_SIREN: &str = "356000000";

/// Why a string is not a SIRET.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SiretError {
    /// Not exactly 14 ASCII digits.
    #[error("un SIRET compte exactement 14 chiffres")]
    Format,
    /// The checksum (Luhn, or La Poste's digit sum) does not hold.
    #[error("la clé de contrôle du SIRET est fausse")]
    Checksum,
    /// All zeros: passes Luhn but designates nobody.
    #[error("00000000000000 n'est pas un SIRET")]
    Zero,
}

/// A validated SIRET.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^[0-9]{14}$"))]
pub struct Siret(String);

impl Siret {
    /// Parses and validates a SIRET (surrounding spaces are not accepted).
    pub fn parse(s: &str) -> Result<Self, SiretError> {
        if s.len() != 14 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(SiretError::Format);
        }
        let digits: Vec<u32> = s.bytes().map(|b| u32::from(b - b'0')).collect();
        if digits.iter().all(|d| *d == 0) {
            return Err(SiretError::Zero);
        }
        let valid = if s.starts_with(LA_POSTE_SIREN) {
            luhn(&digits) || digits.iter().sum::<u32>() % 5 == 0
        } else {
            luhn(&digits)
        };
        if valid {
            Ok(Siret(s.to_owned()))
        } else {
            Err(SiretError::Checksum)
        }
    }

    /// The 14 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The SIREN: the first nine digits, the legal person.
    pub fn siren(&self) -> &str {
        self.0.get(..9).unwrap_or(&self.0)
    }
}

/// Luhn checksum over every digit, rightmost digit not doubled.
fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            if i % 2 == 1 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                *d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

impl FromStr for Siret {
    type Err = SiretError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Siret::parse(s)
    }
}

impl TryFrom<String> for Siret {
    type Error = SiretError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Siret::parse(&s)
    }
}

impl From<Siret> for String {
    fn from(s: Siret) -> String {
        s.0
    }
}

impl fmt::Display for Siret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn design_vectors() {
        assert!(Siret::parse("73282932000074").is_ok());
        assert_eq!(Siret::parse("73282932000075"), Err(SiretError::Checksum));
        assert!(Siret::parse("35600000049837").is_ok());
        assert_eq!(Siret::parse("35600000012345"), Err(SiretError::Checksum));
        assert_eq!(Siret::parse("00000000000000"), Err(SiretError::Zero));
        assert_eq!(Siret::parse("7328293200007"), Err(SiretError::Format));
        assert_eq!(Siret::parse("7328293200007a"), Err(SiretError::Format));
        assert_eq!(Siret::parse(" 73282932000074"), Err(SiretError::Format));
    }

    /// Completes 13 digits with their check digit, computed here apart from `luhn()`:
    /// counted from the left, the digits in odd places (1st, 3rd, ... 13th) are doubled
    /// and their two digits added; the check digit brings the sum to a multiple of 10.
    fn with_check_digit(prefix: &[u32]) -> String {
        let sum: u32 = prefix
            .iter()
            .enumerate()
            .map(|(place, d)| match place % 2 {
                0 => (2 * d) / 10 + (2 * d) % 10,
                _ => *d,
            })
            .sum();
        let check = (10 - sum % 10) % 10;
        prefix
            .iter()
            .chain(std::iter::once(&check))
            .map(|d| char::from_digit(*d, 10).unwrap())
            .collect()
    }

    #[test]
    fn the_check_digit_of_the_test_matches_the_design_vector() {
        assert_eq!(with_check_digit(&digits("7328293200007")), "73282932000074");
        assert_eq!(with_check_digit(&digits("0000000000000")), "00000000000000");
    }

    fn digits(s: &str) -> Vec<u32> {
        s.chars().map(|c| c.to_digit(10).unwrap()).collect()
    }

    proptest! {
        #[test]
        fn every_valid_siret_round_trips(prefix in proptest::collection::vec(0u32..10, 13)) {
            let s = with_check_digit(&prefix);
            prop_assume!(s != "00000000000000" && !s.starts_with(LA_POSTE_SIREN));
            let siret = Siret::parse(&s).unwrap();
            prop_assert_eq!(siret.as_str(), s.as_str());
            let json = serde_json::to_string(&siret).unwrap();
            prop_assert_eq!(serde_json::from_str::<Siret>(&json).unwrap(), siret);
        }

        #[test]
        fn every_single_digit_change_is_refused(
            prefix in proptest::collection::vec(0u32..10, 13),
            pos in 0usize..14,
            delta in 1u8..10,
        ) {
            let s = with_check_digit(&prefix);
            prop_assume!(!s.starts_with(LA_POSTE_SIREN));
            let mut bytes = s.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            prop_assume!(!changed.starts_with(LA_POSTE_SIREN));
            prop_assert!(Siret::parse(&changed).is_err());
        }
    }
}

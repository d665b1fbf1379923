//! Application profiles (`APP:PROFILE`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Identifies one profile of one application: `APP:PROFILE`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schemars(extend("pattern" = "^[A-Za-z0-9_-]{1,64}:[A-Za-z0-9_-]{1,64}$"))]
pub struct ProfileId {
    app: String,
    profile: String,
}

/// Whether a code is a valid application or profile code.
pub fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

impl ProfileId {
    /// Builds a profile id from its two codes.
    pub fn new(app: &str, profile: &str) -> Result<Self, String> {
        if is_code(app) && is_code(profile) {
            Ok(ProfileId {
                app: app.to_owned(),
                profile: profile.to_owned(),
            })
        } else {
            Err(format!(
                "{app}:{profile} is not APP:PROFILE (letters, digits, _ and -)"
            ))
        }
    }

    /// The application's code.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// The profile's code within its application.
    pub fn profile(&self) -> &str {
        &self.profile
    }
}

impl FromStr for ProfileId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (app, profile) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not APP:PROFILE"))?;
        ProfileId::new(app, profile)
    }
}

impl TryFrom<String> for ProfileId {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<ProfileId> for String {
    fn from(p: ProfileId) -> String {
        p.to_string()
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.app, self.profile)
    }
}

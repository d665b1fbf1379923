//! The claims of CONTRACT.md, read fresh from the core: the person, his structure and
//! service, and his profiles for the requesting client's application only.

use openidconnect::core::{
    CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
};
use openidconnect::{
    AdditionalClaims, EndUserEmail, EndUserFamilyName, EndUserGivenName, EndUserUsername, IdToken,
    StandardClaims, SubjectIdentifier,
};
use serde::{Deserialize, Serialize};

use super::grants::Authentication;
use crate::catalogue::Application;
use crate::directory::{DirError, Directory};
use crate::domain::{Account, Service, Structure};

/// The claims of the `apex` scope that OpenID Connect does not define.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApexClaims {
    /// = family_name, as ProConnect relying parties expect.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usual_name: Option<String>,
    /// SIRET of the structure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub siret: Option<String>,
    /// Name of the structure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure: Option<String>,
    /// Category of the structure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure_category: Option<String>,
    /// Id of the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_id: Option<String>,
    /// Name of the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// administrateur | responsable | collaborateur.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apex_role: Option<String>,
    /// `APP:PROFILE` held for the requesting client's application.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    /// The SSO session (ID tokens only; Back-Channel Logout 1.0 `sid`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

impl AdditionalClaims for ApexClaims {}

/// An ID token of this issuer, with its `apex` claims.
pub type ApexIdToken = IdToken<
    ApexClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// A person as the claims show him.
#[derive(Debug, Clone)]
pub struct Person {
    /// The account.
    pub account: Account,
    /// His structure.
    pub structure: Structure,
    /// His service, if any.
    pub service: Option<Service>,
}

/// Reads the person a sign-in stands for, if it still does: his account exists, is
/// active, and still has the password that was proven ([`Authentication::valid_for`]).
pub fn read_person(
    directory: &Directory,
    authentication: &Authentication,
) -> Result<Option<Person>, DirError> {
    let account = match directory.account(&authentication.account_id) {
        Ok(a) if authentication.valid_for(&a) => a,
        Ok(_) | Err(DirError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let structure = directory.structure(&account.structure_id)?;
    let service = match &account.service_id {
        Some(id) => Some(directory.service(id)?),
        None => None,
    };
    Ok(Some(Person {
        account,
        structure,
        service,
    }))
}

/// The profiles of an account for one application.
pub fn profiles_for(app: &Application, account: &Account) -> Vec<String> {
    account
        .profiles_of(&app.code)
        .map(ToString::to_string)
        .collect()
}

/// The user claims of a person for scopes, as userinfo shows them (with `sub`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserClaims {
    /// The account's id.
    pub sub: String,
    /// The identifier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// First name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// E-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Always true with `email`: an account is active only once its person followed a
    /// link mailed to that address, and a new address counts only once confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// The `apex` claims.
    #[serde(flatten)]
    pub apex: ApexClaims,
}

/// Claims of a person for the granted scopes and the requesting application.
pub fn user_claims(person: &Person, app: &Application, scope: &[String]) -> UserClaims {
    let has = |s: &str| scope.iter().any(|x| x == s);
    let apex = has("apex");
    let a = &person.account;
    let mut c = UserClaims {
        sub: a.id.clone(),
        ..UserClaims::default()
    };
    if has("profile") || apex {
        c.preferred_username = a.login.clone();
        c.given_name = Some(a.person.given_name.clone());
        c.family_name = Some(a.person.family_name.clone());
        c.apex.usual_name = Some(a.person.family_name.clone());
    }
    if has("email") || apex {
        c.email = Some(a.person.email.clone());
        c.email_verified = Some(true);
    }
    if apex {
        c.apex.siret = Some(person.structure.siret.to_string());
        c.apex.structure = Some(person.structure.name.clone());
        c.apex.structure_category = Some(person.structure.category.clone());
        c.apex.service_id = person.service.as_ref().map(|s| s.id.clone());
        c.apex.service = person.service.as_ref().map(|s| s.name.clone());
        c.apex.apex_role = Some(a.role.as_str().to_owned());
        c.apex.profiles = Some(profiles_for(app, a));
    }
    c
}

impl UserClaims {
    /// The standard part, for an ID token.
    pub fn standard(&self) -> StandardClaims<CoreGenderClaim> {
        StandardClaims::new(SubjectIdentifier::new(self.sub.clone()))
            .set_preferred_username(self.preferred_username.clone().map(EndUserUsername::new))
            .set_given_name(
                self.given_name
                    .clone()
                    .map(|g| EndUserGivenName::new(g).into()),
            )
            .set_family_name(
                self.family_name
                    .clone()
                    .map(|f| EndUserFamilyName::new(f).into()),
            )
            .set_email(self.email.clone().map(EndUserEmail::new))
            .set_email_verified(self.email_verified)
    }
}

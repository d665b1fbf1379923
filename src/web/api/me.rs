//! The caller's own data (`/me`): read, export, correct, change the password, list
//! the applications he may use.

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiResult, S, no_content, ok};
use crate::clock::rfc3339;
use crate::directory::NameCorrection;
use crate::directory::{AccountSummary, DirError};
use crate::domain::Siret;
use crate::http::client::ClientAddr;
use crate::web::extract::{ApiJson, Caller};

/// One's own account, with its structure, its service and its password's expiry.
#[derive(Serialize, JsonSchema)]
pub struct Me {
    /// The account.
    #[serde(flatten)]
    account: AccountSummary,
    /// Its structure.
    structure: MyStructure,
    /// Its service, if any.
    service: Option<MyService>,
    /// When the password expires (RFC 3339), if it does.
    password_expires_at: Option<String>,
}

/// The structure of `GET /me`.
#[derive(Serialize, JsonSchema)]
pub struct MyStructure {
    /// Stable id.
    id: String,
    /// Display name.
    name: String,
    /// SIRET.
    siret: Siret,
    /// Catalogue category.
    category: String,
}

/// The service of `GET /me`.
#[derive(Serialize, JsonSchema)]
pub struct MyService {
    /// Stable id.
    id: String,
    /// Display name.
    name: String,
}

pub async fn get_me(State(st): S, caller: Caller) -> ApiResult {
    let dir = &st.directory;
    let account = dir.personal_data(&caller.actor, &caller.account.id)?;
    let structure = dir.structure(&account.structure_id)?;
    let service = account
        .service_id
        .as_deref()
        .map(|s| dir.service(s))
        .transpose()?;
    let body = Me {
        account: AccountSummary::from(&account),
        structure: MyStructure {
            id: structure.id,
            name: structure.name,
            siret: structure.siret,
            category: structure.category,
        },
        service: service.map(|s| MyService {
            id: s.id,
            name: s.name,
        }),
        password_expires_at: dir.password_expires_at(&account).map(rfc3339),
    };
    ok(StatusCode::OK, body)
}

pub async fn export_me(State(st): S, caller: Caller) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory.export(&caller.actor, &caller.account.id)?,
    )
}

/// `PATCH /me {given_name?, family_name?, email?, current_password?}`: a new e-mail
/// address needs the current password.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    current_password: Option<String>,
}

/// What `PATCH /me` answers: the account, and whether a confirmation was mailed.
#[derive(Serialize, JsonSchema)]
pub struct PersonalDataChanged {
    /// The account.
    #[serde(flatten)]
    account: AccountSummary,
    /// A new e-mail address waits for its confirmation link, mailed to it.
    email_confirmation_sent: bool,
}

pub async fn patch_me(
    State(st): S,
    caller: Caller,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<MePatch>,
) -> ApiResult {
    let names = NameCorrection {
        given_name: body.given_name,
        family_name: body.family_name,
    };
    let email_change = body
        .email
        .as_deref()
        .is_some_and(|e| e.trim().to_lowercase() != caller.account.person.email.to_lowercase());
    let account = st
        .directory
        .update_personal_data(
            &caller.actor,
            &caller.account.id,
            &names,
            body.email.as_deref(),
            body.current_password.as_deref(),
            client,
        )
        .await?;
    ok(
        StatusCode::OK,
        PersonalDataChanged {
            account: AccountSummary::from(&account),
            email_confirmation_sent: email_change,
        },
    )
}

/// `POST /me/password {current, new}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    current: String,
    new: String,
}

pub async fn change_password(
    State(st): S,
    caller: Caller,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<PasswordChange>,
) -> ApiResult {
    let account = st
        .directory
        .change_password(&caller.account.id, &body.current, &body.new, client)
        .await?;
    st.directory
        .api_sessions()
        .renewed(&caller.token, &account)
        .map_err(DirError::from)?;
    no_content()
}

pub async fn my_applications(State(st): S, caller: Caller) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory
            .applications_of(&caller.actor, &caller.account.id)?,
    )
}

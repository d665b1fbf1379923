//! The caller's own data (`/me`): read, export, correct, change the password, list
//! the applications he may use.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, S, no_content, ok};
use crate::clock::rfc3339;
use crate::directory::NameCorrection;
use crate::directory::{AccountSummary, DirError};
use crate::http::client::ClientAddr;
use crate::web::extract::{ApiJson, Caller};

pub async fn get_me(State(st): S, caller: Caller) -> ApiResult {
    let dir = &st.directory;
    let account = dir.personal_data(&caller.actor, &caller.account.id)?;
    let structure = dir.structure(&account.structure_id)?;
    let service = account
        .service_id
        .as_deref()
        .map(|s| dir.service(s))
        .transpose()?;
    let mut body = serde_json::to_value(AccountSummary::from(&account)).unwrap_or_default();
    if let Some(map) = body.as_object_mut() {
        map.insert("structure".into(), json!({"id": structure.id, "name": structure.name, "siret": structure.siret, "category": structure.category}));
        map.insert(
            "service".into(),
            json!(service.map(|s| json!({"id": s.id, "name": s.name}))),
        );
        map.insert(
            "password_expires_at".into(),
            json!(dir.password_expires_at(&account).map(rfc3339)),
        );
    }
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
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MePatch {
    given_name: Option<String>,
    family_name: Option<String>,
    email: Option<String>,
    current_password: Option<String>,
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
    let mut out = serde_json::to_value(AccountSummary::from(&account)).unwrap_or_default();
    if let Some(map) = out.as_object_mut() {
        map.insert("email_confirmation_sent".into(), json!(email_change));
    }
    ok(StatusCode::OK, out)
}

/// `POST /me/password {current, new}`
#[derive(Deserialize)]
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

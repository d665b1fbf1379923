//! The people of a structure: pre-creation, list, consultation, validation, rejection,
//! identifier resent, deletion request, unlock.

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiResult, S, no_content, ok};
use crate::directory::{AccountSummary, DirError};
use crate::domain::{AccountState, PersonalData, Role};
use crate::web::extract::{ApiJson, ApiPath, ApiQuery, Caller};
use crate::web::problem::Problem;

/// `POST /accounts {role, service_id, email, given_name, family_name}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreCreation {
    role: String,
    service_id: String,
    email: String,
    given_name: String,
    family_name: String,
}

pub async fn pre_create(
    State(st): S,
    caller: Caller,
    ApiJson(body): ApiJson<PreCreation>,
) -> ApiResult {
    let role: Role = body.role.parse().map_err(|m: String| {
        Problem::from(DirError::Invalid {
            rule: "role",
            field: "role",
            message: m,
        })
    })?;
    let person = PersonalData {
        given_name: body.given_name,
        family_name: body.family_name,
        email: body.email,
    };
    let account = st
        .directory
        .pre_create(&caller.actor, role, &body.service_id, &person)
        .await?;
    ok(StatusCode::CREATED, AccountSummary::from(&account))
}

/// `GET /accounts?state=`
#[derive(Deserialize, JsonSchema)]
pub struct StateFilter {
    state: Option<String>,
}

pub async fn list_accounts(
    State(st): S,
    caller: Caller,
    ApiQuery(q): ApiQuery<StateFilter>,
) -> ApiResult {
    let state = match q.state.as_deref() {
        None | Some("") => None,
        Some(s) => Some(AccountState::parse(s).ok_or_else(|| {
            Problem::from(DirError::Invalid {
                rule: "state",
                field: "state",
                message: format!("unknown state {s:?}: invited, awaiting_validation, active or deletion_requested"),
            })
        })?),
    };
    ok(
        StatusCode::OK,
        st.directory.list_accounts(&caller.actor, state)?,
    )
}

pub async fn get_account(State(st): S, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory.consult_account(&caller.actor, &id)?,
    )
}

pub async fn validate(State(st): S, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult {
    let account = st.directory.validate(&caller.actor, &id).await?;
    ok(StatusCode::OK, AccountSummary::from(&account))
}

pub async fn reject(State(st): S, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult {
    st.directory.reject(&caller.actor, &id).await?;
    no_content()
}

/// What `resend-identifier` answers: the mail is queued.
#[derive(Serialize, JsonSchema)]
pub struct IdentifierSent {
    /// Always true.
    sent: bool,
}

pub async fn resend_identifier(
    State(st): S,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    st.directory.resend_identifier(&caller.actor, &id).await?;
    ok(StatusCode::ACCEPTED, IdentifierSent { sent: true })
}

pub async fn deletion_request(
    State(st): S,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let account = st.directory.request_deletion(&caller.actor, &id).await?;
    ok(StatusCode::OK, AccountSummary::from(&account))
}

pub async fn unlock(State(st): S, caller: Caller, ApiPath(id): ApiPath<String>) -> ApiResult {
    st.directory.lift_backoff(&caller.actor, &id)?;
    no_content()
}

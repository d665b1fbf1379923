//! The one-time links mailed to people: invitation, password reset, e-mail confirmation.

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiResult, S, no_content, ok};
use crate::directory::NameCorrection;
use crate::directory::{AccountSummary, DirError};
use crate::domain::AccountState;
use crate::http::client::ClientAddr;
use crate::web::extract::{ApiJson, ApiPath};

pub async fn get_invitation(State(st): S, ApiPath(token): ApiPath<String>) -> ApiResult {
    ok(StatusCode::OK, st.directory.invitation(&token)?)
}

/// `POST /invitations/{token} {password}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationForm {
    password: String,
    given_name: Option<String>,
    family_name: Option<String>,
}

/// What completing a pre-creation answers.
#[derive(Serialize, JsonSchema)]
pub struct InvitationCompleted {
    /// `active` (an administrateur invited by the operator) or `awaiting_validation`.
    state: AccountState,
    /// The identifier, when the account is already active.
    login: Option<String>,
}

pub async fn complete_invitation(
    State(st): S,
    ApiPath(token): ApiPath<String>,
    ApiJson(body): ApiJson<InvitationForm>,
) -> ApiResult {
    let names = NameCorrection {
        given_name: body.given_name,
        family_name: body.family_name,
    };
    let account = st
        .directory
        .complete_invitation(&token, &body.password, &names)
        .await?;
    ok(
        StatusCode::OK,
        InvitationCompleted {
            state: account.state,
            login: account.login,
        },
    )
}

/// `POST /password-resets {login}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    login: String,
}

/// What a reset request answers, whether the identifier exists or not.
#[derive(Serialize, JsonSchema)]
pub struct ResetAccepted {
    /// The same sentence for every request.
    detail: String,
}

pub async fn request_reset(
    State(st): S,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<ResetRequest>,
) -> ApiResult {
    match st.directory.accept_password_reset(&body.login, client) {
        // Past the address's quota nothing is looked up or mailed, and the answer stays
        // the API's "always 202": the quota bounds the mails, the answer tells nothing.
        Ok(()) | Err(DirError::TooManyAttempts { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    ok(
        StatusCode::ACCEPTED,
        ResetAccepted {
            detail: "if this identifier exists, a reset link was mailed to its holder".into(),
        },
    )
}

/// `POST /password-resets/{token} {password}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

pub async fn reset_password(
    State(st): S,
    ApiPath(token): ApiPath<String>,
    ApiJson(body): ApiJson<NewPassword>,
) -> ApiResult {
    st.directory.reset_password(&token, &body.password).await?;
    no_content()
}

pub async fn confirm_email(State(st): S, ApiPath(token): ApiPath<String>) -> ApiResult {
    let account = st.directory.confirm_email(&token).await?;
    ok(StatusCode::OK, AccountSummary::from(&account))
}

//! API sessions: sign in for a bearer token, sign out.

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiResult, S, no_content, ok};
use crate::auth::session::{Session, Subject};
use crate::auth::stamp;
use crate::clock::rfc3339;
use crate::directory::DirError;
use crate::http::client::ClientAddr;
use crate::web::extract::{ApiJson, Caller};

/// `POST /sessions {login, password}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    login: String,
    password: String,
}

/// What a sign-in answers.
#[derive(Serialize, JsonSchema)]
pub struct SessionToken {
    /// The bearer token of the session.
    token: String,
    /// When the session ends (RFC 3339).
    expires_at: String,
    /// The password has expired: only `POST /me/password` is open until it changes.
    password_expired: bool,
}

pub async fn create_session(
    State(st): S,
    ClientAddr(client): ClientAddr,
    ApiJson(body): ApiJson<SignIn>,
) -> ApiResult {
    let dir = &st.directory;
    let signed = match dir
        .authenticate(&body.login, &body.password, Some(client))
        .await
    {
        Ok(s) => s,
        Err(e) => {
            st.metrics.sign_in_failure();
            return Err(e.into());
        }
    };
    let now = dir.now();
    let expires_at = now + i64::from(dir.settings().session_minutes) * 60;
    let s = Session {
        subject: Subject::Account {
            account_id: signed.account.id.clone(),
        },
        created_at: now,
        expires_at,
        password_expired: signed.password_expired,
        stamp: stamp::of_credential(&signed.account),
    };
    let token = dir.api_sessions().open(&s).map_err(DirError::from)?;
    ok(
        StatusCode::CREATED,
        SessionToken {
            token,
            expires_at: rfc3339(expires_at),
            password_expired: signed.password_expired,
        },
    )
}

pub async fn delete_session(State(st): S, caller: Caller) -> ApiResult {
    st.directory
        .api_sessions()
        .close(&caller.token)
        .map_err(DirError::from)?;
    no_content()
}

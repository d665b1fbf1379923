//! The JSON API (`/api/v1`): each handler parses, asks the core, renders.

// A problem is rendered at once and never travels far: its size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use crate::http::client::ClientAddr;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::extract::{ApiJson, ApiPath, ApiQuery, Caller, Operator};
use super::problem::Problem;
use crate::auth::session::{Session, Subject};
use crate::auth::stamp;
use crate::clock::rfc3339;
use crate::directory::NameCorrection;
use crate::directory::{AccountSummary, DirError};
use crate::domain::{AccountState, PersonalData, ProfileId, Role};

type ApiResult = Result<Response, Problem>;
type S = State<Arc<AppState>>;

fn ok<T: serde::Serialize>(status: StatusCode, body: T) -> ApiResult {
    Ok((status, Json(body)).into_response())
}

fn no_content() -> ApiResult {
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn profile_param(raw: &str) -> Result<ProfileId, Problem> {
    raw.parse::<ProfileId>().map_err(|m| {
        Problem::from(DirError::Invalid {
            rule: "unknown-profile",
            field: "profile",
            message: m,
        })
    })
}

/// `POST /sessions {login, password}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    login: String,
    password: String,
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
        json!({ "token": token, "expires_at": rfc3339(expires_at), "password_expired": signed.password_expired }),
    )
}

pub async fn delete_session(State(st): S, caller: Caller) -> ApiResult {
    st.directory
        .api_sessions()
        .close(&caller.token)
        .map_err(DirError::from)?;
    no_content()
}

pub async fn get_structure(State(st): S, caller: Caller) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory.consult_structure(&caller.actor)?,
    )
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

/// `POST /services {name}`, `PATCH /services/{id} {name}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceName {
    name: String,
}

pub async fn create_service(
    State(st): S,
    caller: Caller,
    ApiJson(body): ApiJson<ServiceName>,
) -> ApiResult {
    ok(
        StatusCode::CREATED,
        st.directory
            .create_service(&caller.actor, &body.name)
            .await?,
    )
}

pub async fn rename_service(
    State(st): S,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ServiceName>,
) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory
            .rename_service(&caller.actor, &id, &body.name)
            .await?,
    )
}

pub async fn delete_service(
    State(st): S,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    st.directory.delete_service(&caller.actor, &id).await?;
    no_content()
}

/// `POST /services/{id}/merge {into}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merge {
    into: String,
}

pub async fn merge_services(
    State(st): S,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Merge>,
) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory
            .merge_services(&caller.actor, &id, &body.into)
            .await?,
    )
}

/// `POST /transfers {accounts, to_service}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    accounts: Vec<String>,
    to_service: String,
}

pub async fn transfer(State(st): S, caller: Caller, ApiJson(body): ApiJson<Transfer>) -> ApiResult {
    let moved = st
        .directory
        .transfer(&caller.actor, &body.accounts, &body.to_service)
        .await?;
    ok(
        StatusCode::OK,
        moved.iter().map(AccountSummary::from).collect::<Vec<_>>(),
    )
}

/// `POST /accounts {role, service_id, email, given_name, family_name}`
#[derive(Deserialize)]
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
#[derive(Deserialize)]
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

pub async fn resend_identifier(
    State(st): S,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    st.directory.resend_identifier(&caller.actor, &id).await?;
    ok(StatusCode::ACCEPTED, json!({ "sent": true }))
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

pub async fn put_habilitation(
    State(st): S,
    caller: Caller,
    ApiPath((id, p)): ApiPath<(String, String)>,
) -> ApiResult {
    let profile = profile_param(&p)?;
    let (account, created) = st.directory.grant(&caller.actor, &id, &profile).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    ok(status, AccountSummary::from(&account))
}

pub async fn delete_habilitation(
    State(st): S,
    caller: Caller,
    ApiPath((id, p)): ApiPath<(String, String)>,
) -> ApiResult {
    let profile = profile_param(&p)?;
    st.directory.revoke(&caller.actor, &id, &profile).await?;
    no_content()
}

pub async fn put_delegation(
    State(st): S,
    caller: Caller,
    ApiPath((id, p)): ApiPath<(String, String)>,
) -> ApiResult {
    let profile = profile_param(&p)?;
    let (account, created) = st.directory.delegate(&caller.actor, &id, &profile).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    ok(status, AccountSummary::from(&account))
}

pub async fn delete_delegation(
    State(st): S,
    caller: Caller,
    ApiPath((id, p)): ApiPath<(String, String)>,
) -> ApiResult {
    let profile = profile_param(&p)?;
    st.directory
        .undelegate(&caller.actor, &id, &profile)
        .await?;
    no_content()
}

pub async fn get_audit(State(st): S, caller: Caller) -> ApiResult {
    ok(StatusCode::OK, st.directory.audit_of(&caller.actor)?)
}

pub async fn get_invitation(State(st): S, ApiPath(token): ApiPath<String>) -> ApiResult {
    ok(StatusCode::OK, st.directory.invitation(&token)?)
}

/// `POST /invitations/{token} {password}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvitationForm {
    password: String,
    given_name: Option<String>,
    family_name: Option<String>,
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
        json!({ "state": account.state, "login": account.login }),
    )
}

/// `POST /password-resets {login}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    login: String,
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
        json!({ "detail": "if this identifier exists, a reset link was mailed to its holder" }),
    )
}

/// `POST /password-resets/{token} {password}`
#[derive(Deserialize)]
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

pub async fn operator_structures(State(st): S, _op: Operator) -> ApiResult {
    ok(StatusCode::OK, st.directory.structures()?)
}

/// `POST /operator/structures {siret, category, name}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewStructure {
    siret: String,
    category: String,
    name: String,
}

pub async fn operator_create_structure(
    State(st): S,
    _op: Operator,
    ApiJson(body): ApiJson<NewStructure>,
) -> ApiResult {
    ok(
        StatusCode::CREATED,
        st.directory
            .create_structure(&body.siret, &body.category, &body.name)
            .await?,
    )
}

/// `POST /operator/structures/{id}/administrateurs {email, given_name, family_name}`
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAdministrateur {
    email: String,
    given_name: String,
    family_name: String,
}

pub async fn operator_invite_administrateur(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<NewAdministrateur>,
) -> ApiResult {
    let person = PersonalData {
        given_name: body.given_name,
        family_name: body.family_name,
        email: body.email,
    };
    let account = st.directory.invite_administrateur(&id, &person).await?;
    ok(StatusCode::CREATED, AccountSummary::from(&account))
}

pub async fn operator_audit(State(st): S, _op: Operator) -> ApiResult {
    let verified = st.directory.verify_audit();
    let events = st.directory.audit_events()?;
    let chain = match verified {
        Ok(n) => json!({ "intact": true, "events": n }),
        Err(e) => json!({ "intact": false, "broken_at": e.seq, "reason": e.reason }),
    };
    ok(StatusCode::OK, json!({ "chain": chain, "events": events }))
}

/// A consistent snapshot of the whole store while the server runs: writes wait while
/// it is taken (the single-writer lock), then it is streamed as JSON lines.
pub async fn operator_backup(State(st): S, _op: Operator) -> ApiResult {
    let dir = Arc::clone(&st.directory);
    let file = tokio::task::spawn_blocking(move || dir.online_backup())
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "backup", e.to_string()))?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let body = axum::body::Body::from_stream(stream);
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/x-ndjson"),
            (
                axum::http::header::CONTENT_DISPOSITION,
                "attachment; filename=\"apex-idp-backup.jsonl\"",
            ),
        ],
        body,
    )
        .into_response())
}

/// `POST /operator/keys/rotate {delay_seconds?}`: the body may be empty.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeys {
    delay_seconds: Option<i64>,
}

/// Rotates the OIDC signing keys: published now, signing after the delay.
pub async fn operator_rotate_keys(
    State(st): S,
    _op: Operator,
    body: axum::body::Bytes,
) -> ApiResult {
    let crate::http::keys::RotationDelays { default, min, max } = st.keys.delays();
    let invalid = |detail: String| {
        let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "rotation-delay", detail);
        p.field = Some("delay_seconds".into());
        p
    };
    let request: RotateKeys = if body.iter().all(u8::is_ascii_whitespace) {
        RotateKeys::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| invalid(e.to_string()))?
    };
    let delay = request.delay_seconds.unwrap_or(default);
    if !(min..=max).contains(&delay) {
        return Err(invalid(format!(
            "delay_seconds must be between {min} (the JWKS cache lifetime) and {max}"
        )));
    }
    let now = st.directory.now();
    let keys = st.keys.rotate(now, delay).await.map_err(|e| {
        tracing::error!(error = %e, "key rotation");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e)
    })?;
    ok(
        StatusCode::OK,
        json!({ "signs_from": now + delay, "keys": keys }),
    )
}

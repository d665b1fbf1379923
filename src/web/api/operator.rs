//! The DGFiP operator's API: structures (create, show, rename, recategorise, close),
//! their administrateurs (invite, replace), accounts (read, block, unblock, end their
//! sessions), the audit log, the online backup, the signing keys (list, rotate).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApiResult, S, ok};
use crate::directory::AccountSummary;
use crate::directory::audit::{AuditEvent, ChainBroken};
use crate::domain::PersonalData;
use crate::http::keys::KeyStatus;
use crate::web::extract::ApiQuery;
use crate::web::extract::{ApiJson, ApiPath, Operator};
use crate::web::problem::Problem;

pub async fn operator_structures(State(st): S, _op: Operator) -> ApiResult {
    ok(StatusCode::OK, st.directory.structures()?)
}

/// `POST /operator/structures {siret, category, name}`
#[derive(Deserialize, JsonSchema)]
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
#[derive(Deserialize, JsonSchema)]
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

/// `GET /operator/structures/{id}`: the structure (id or SIRET), its services and accounts.
pub async fn operator_structure(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    ok(StatusCode::OK, st.directory.operator_structure_view(&id)?)
}

/// `PATCH /operator/structures/{id} {name?, category?}`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StructureChange {
    name: Option<String>,
    category: Option<String>,
}

pub async fn operator_update_structure(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<StructureChange>,
) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory
            .update_structure(&id, body.name.as_deref(), body.category.as_deref())
            .await?,
    )
}

/// `POST /operator/structures/{id}/close`: for good; its people are blocked.
pub async fn operator_close_structure(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    ok(StatusCode::OK, st.directory.close_structure(&id).await?)
}

/// `GET /operator/structures/{id}/accounts`
pub async fn operator_structure_accounts(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let accounts = st.directory.operator_accounts(&id)?;
    let list: Vec<AccountSummary> = accounts.iter().map(AccountSummary::from).collect();
    ok(StatusCode::OK, list)
}

/// `GET /operator/accounts/{id}` (id or identifier)
pub async fn operator_account(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let account = st.directory.account_by_ref(&id)?;
    ok(StatusCode::OK, AccountSummary::from(&account))
}

/// `POST /operator/accounts/{id}/block`
pub async fn operator_block(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let account = st.directory.block_account(&id).await?;
    ok(StatusCode::OK, AccountSummary::from(&account))
}

/// `POST /operator/accounts/{id}/unblock`
pub async fn operator_unblock(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let account = st.directory.unblock_account(&id).await?;
    ok(StatusCode::OK, AccountSummary::from(&account))
}

/// `POST /operator/accounts/{id}/end-sessions`
pub async fn operator_end_sessions(
    State(st): S,
    _op: Operator,
    ApiPath(id): ApiPath<String>,
) -> ApiResult {
    let account = st.directory.end_sessions(&id).await?;
    ok(StatusCode::OK, AccountSummary::from(&account))
}

/// `POST /operator/accounts/{id}/replacement {email, given_name, family_name}`
pub async fn operator_replace_administrateur(
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
    let account = st.directory.replace_administrateur(&id, &person).await?;
    ok(StatusCode::CREATED, AccountSummary::from(&account))
}

/// `GET /operator/audit?since=<unix seconds>`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditSince {
    since: Option<i64>,
}

/// The state of the audit log's hash chain.
#[derive(Serialize, JsonSchema)]
#[serde(untagged)]
pub enum AuditChain {
    /// Every event verifies.
    Intact {
        /// True.
        intact: bool,
        /// How many events the chain holds.
        events: u64,
    },
    /// An event does not verify.
    Broken {
        /// False.
        intact: bool,
        /// The first event that does not verify.
        broken_at: u64,
        /// Why.
        reason: String,
    },
}

impl From<Result<u64, ChainBroken>> for AuditChain {
    fn from(verified: Result<u64, ChainBroken>) -> AuditChain {
        match verified {
            Ok(events) => AuditChain::Intact {
                intact: true,
                events,
            },
            Err(e) => AuditChain::Broken {
                intact: false,
                broken_at: e.seq,
                reason: e.reason,
            },
        }
    }
}

/// `GET /operator/audit/chain`: only the verification of the chain.
pub async fn operator_audit_chain(State(st): S, _op: Operator) -> ApiResult {
    ok(
        StatusCode::OK,
        AuditChain::from(st.directory.verify_audit()),
    )
}

/// The signing keys and where each is in its life.
#[derive(Serialize, JsonSchema)]
pub struct KeyList {
    /// Every key, oldest first.
    keys: Vec<KeyStatus>,
}

/// `GET /operator/keys`: every signing key and where it is in its life.
pub async fn operator_keys(State(st): S, _op: Operator) -> ApiResult {
    let keys = st.keys.list(st.directory.now()).map_err(|e| {
        tracing::error!(error = %e, "key status");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e)
    })?;
    ok(StatusCode::OK, KeyList { keys })
}

/// The whole audit log and the state of its chain.
#[derive(Serialize, JsonSchema)]
pub struct OperatorAudit {
    /// The verification of the chain.
    chain: AuditChain,
    /// The events, oldest first.
    events: Vec<AuditEvent>,
}

pub async fn operator_audit(
    State(st): S,
    _op: Operator,
    ApiQuery(query): ApiQuery<AuditSince>,
) -> ApiResult {
    let verified = st.directory.verify_audit();
    let mut events = st.directory.audit_events()?;
    if let Some(since) = query.since {
        events.retain(|e| e.at >= since);
    }
    let chain = AuditChain::from(verified);
    ok(StatusCode::OK, OperatorAudit { chain, events })
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

/// Reads the catalogue's file again and puts it in force, checked as a whole; on any
/// problem the catalogue in force stays and the answer lists every problem.
pub async fn operator_reload_catalogue(State(st): S, _op: Operator) -> ApiResult {
    let port = Arc::clone(&st.catalogue);
    let outcome = tokio::task::spawn_blocking(move || port.reload())
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    match outcome {
        Ok(summary) => ok(StatusCode::OK, summary),
        Err(problems) => {
            let mut p = Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "catalogue-invalid",
                format!(
                    "the catalogue was not reloaded ({} problem(s)); the one in force stays",
                    problems.len()
                ),
            );
            p.blocking = problems;
            Err(p)
        }
    }
}

/// `POST /operator/keys/rotate {delay_seconds?}`: the body may be empty.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKeys {
    delay_seconds: Option<i64>,
}

/// What a rotation answers.
#[derive(Serialize, JsonSchema)]
pub struct Rotation {
    /// When the new keys sign (unix seconds).
    signs_from: i64,
    /// Every key, the new ones included.
    keys: Vec<KeyStatus>,
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
        Rotation {
            signs_from: now + delay,
            keys,
        },
    )
}

//! The DGFiP operator's API: structures, their first administrateur, the audit log,
//! the online backup, the rotation of the signing keys.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::{ApiResult, S, ok};
use crate::directory::AccountSummary;
use crate::domain::PersonalData;
use crate::web::extract::{ApiJson, ApiPath, Operator};
use crate::web::problem::Problem;

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

//! The caller's structure, its audit log and its services (create, rename, delete,
//! merge, transfer of people between them).

use axum::extract::State;
use axum::http::StatusCode;
use schemars::JsonSchema;
use serde::Deserialize;

use super::{ApiResult, S, no_content, ok};
use crate::directory::AccountSummary;
use crate::web::extract::{ApiJson, ApiPath, Caller};

pub async fn get_structure(State(st): S, caller: Caller) -> ApiResult {
    ok(
        StatusCode::OK,
        st.directory.consult_structure(&caller.actor)?,
    )
}

/// `POST /services {name}`, `PATCH /services/{id} {name}`
#[derive(Deserialize, JsonSchema)]
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
#[derive(Deserialize, JsonSchema)]
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
#[derive(Deserialize, JsonSchema)]
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

pub async fn get_audit(State(st): S, caller: Caller) -> ApiResult {
    ok(StatusCode::OK, st.directory.audit_of(&caller.actor)?)
}

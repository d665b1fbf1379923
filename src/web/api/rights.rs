//! Habilitations and delegations of application profiles.

use axum::extract::State;
use axum::http::StatusCode;

use super::{ApiResult, S, no_content, ok, profile_param};
use crate::directory::AccountSummary;
use crate::web::extract::{ApiPath, Caller};

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

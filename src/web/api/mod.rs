//! The JSON API (`/api/v1`): each handler parses, asks the core, renders. One file per
//! resource; the route table (`web::routes`) names the handlers.

// A problem is rendered at once and never travels far: its size does not matter.
#![allow(clippy::result_large_err)]

mod accounts;
mod links;
mod me;
mod operator;
mod rights;
mod sessions;
mod structure;

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::problem::Problem;
use crate::directory::DirError;
use crate::domain::ProfileId;

pub use accounts::*;
pub use links::*;
pub use me::*;
pub use operator::*;
pub use rights::*;
pub use sessions::*;
pub use structure::*;

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

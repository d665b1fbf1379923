//! Request extractors: the caller behind a bearer token, and JSON bodies whose errors
//! are problem documents.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::AppState;
use super::problem::Problem;
use crate::directory::DirError;
use crate::domain::{Account, Actor};
use crate::http::client::ClientAddr;

/// The path where a session with an expired password may still go.
const RENEWAL_PATH: &str = "/api/v1/me/password";

/// A JSON object body; malformed JSON is a 400 problem, wrong fields a 422 problem.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<serde_json::Value>::from_request(req, state)
            .await
            .map_err(json_problem)?;
        // serde reads a struct from an array too (`["x"]` for `{name}`): every body of the
        // API is an object, so anything else is a wrong type, not a lucky guess.
        if !value.is_object() {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-body",
                "the body must be a JSON object",
            ));
        }
        let bytes = serde_json::to_vec(&value).unwrap_or_default();
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(json_problem(rejection)),
        }
    }
}

fn json_problem(rejection: JsonRejection) -> Problem {
    let (status, rule) = match &rejection {
        JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "malformed-json"),
        JsonRejection::JsonDataError(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid-body"),
        JsonRejection::MissingJsonContentType(_) => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "content-type")
        }
        other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            (StatusCode::PAYLOAD_TOO_LARGE, "body-too-large")
        }
        other => (other.status(), "bad-body"),
    };
    Problem::new(status, rule, rejection.body_text())
}

/// A path parameter; one that does not decode (e.g. `%FF`) is a 400 problem.
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(ApiPath(v)),
            Err(rejection) => Err(Problem::new(
                rejection.status(),
                "bad-path",
                rejection.body_text(),
            )),
        }
    }
}

/// A query string; one that does not parse (e.g. a repeated key) is a 400 problem.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(rejection) => Err(Problem::new(
                rejection.status(),
                "bad-query",
                rejection.body_text(),
            )),
        }
    }
}

/// The bearer token of a request.
pub fn bearer(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A signed-in partner: his session resolved to an active account.
pub struct Caller {
    /// The matrix's view of him.
    pub actor: Actor,
    /// His account as it is now.
    pub account: Account,
    /// The bearer token of the session.
    pub token: String,
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(DirError::Unauthenticated)?.to_owned();
        let (s, actor, account) = state.directory.api_session(&token)?;
        let path = parts
            .extensions
            .get::<OriginalUri>()
            .map_or(parts.uri.path(), |o| o.0.path());
        if s.password_expired && path != RENEWAL_PATH {
            return Err(DirError::PasswordExpired.into());
        }
        Ok(Caller {
            actor,
            account,
            token,
        })
    }
}

/// The DGFiP operator, proven by an operator token.
pub struct Operator;

impl FromRequestParts<Arc<AppState>> for Operator {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts).ok_or(DirError::Unauthenticated)?.to_owned();
        let ClientAddr(addr) = ClientAddr::from_request_parts(parts, state)
            .await
            .map_err(|status| Problem::new(status, "server-error", "no client address"))?;
        let directory = &state.directory;
        // A partner's live session is no operator token: refused without a hash.
        if directory
            .api_sessions()
            .find(&token, directory.now())
            .map_err(DirError::from)?
            .is_some()
        {
            return Err(DirError::Unauthenticated.into());
        }
        let check = state.operator_tokens.verify(&token, directory.hasher());
        match directory.behind_source_limit(addr, check).await {
            Ok(()) => crate::logging::operator("success", addr),
            Err(e) => {
                crate::logging::operator("failure", addr);
                return Err(e.into());
            }
        }
        Ok(Operator)
    }
}

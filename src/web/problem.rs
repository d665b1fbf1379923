//! RFC 9457 problem details: the one place where core errors become HTTP answers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::directory::DirError;
use crate::domain::Refusal;

/// A problem document.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// Names the rule that refused.
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// This occurrence, in a sentence.
    pub detail: String,
    /// The field at fault, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// What blocks (e.g. the habilitations still held).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub blocking: Vec<String>,
    #[serde(skip)]
    retry_after: Option<i64>,
}

/// The problem `type` of a rule.
pub fn problem_type(rule: &str) -> String {
    format!("urn:apex-idp:problem:{rule}")
}

impl Problem {
    /// A problem with a status, a rule and a sentence.
    pub fn new(status: StatusCode, rule: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: problem_type(rule),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            blocking: Vec::new(),
            retry_after: None,
        }
    }
}

impl From<DirError> for Problem {
    fn from(e: DirError) -> Problem {
        let rule = e.rule();
        let status = match &e {
            DirError::Unauthenticated | DirError::BadCredentials => StatusCode::UNAUTHORIZED,
            DirError::Refused(Refusal::OtherStructure) | DirError::NotFound { .. } => {
                StatusCode::NOT_FOUND
            }
            DirError::Refused(_) | DirError::Forbidden { .. } | DirError::PasswordExpired => {
                StatusCode::FORBIDDEN
            }
            DirError::Conflict { .. } => StatusCode::CONFLICT,
            DirError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            DirError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            DirError::LinkInvalid => StatusCode::NOT_FOUND,
            DirError::Store(_) | DirError::Hash(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let detail = match &e {
            DirError::Store(inner) => {
                tracing::error!(error = %inner, "store failure");
                "internal error; the operation was not done".to_owned()
            }
            DirError::Hash(inner) => {
                tracing::error!(error = %inner, "hashing failure");
                "internal error; the operation was not done".to_owned()
            }
            DirError::Invalid { message, .. } => message.clone(),
            other => other.to_string(),
        };
        let mut p = Problem::new(status, rule, detail);
        match e {
            DirError::Invalid { field, .. } => p.field = Some(field.to_owned()),
            DirError::Conflict { blocking, .. } => p.blocking = blocking,
            DirError::TooManyAttempts { retry_after } => p.retry_after = Some(retry_after),
            _ => {}
        }
        p
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string())
        {
            headers.insert(header::RETRY_AFTER, v);
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"apex-idp\""),
            );
        }
        response
    }
}

impl From<DirError> for Response {
    fn from(e: DirError) -> Response {
        Problem::from(e).into_response()
    }
}

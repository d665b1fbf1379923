//! RFC 9457 problem details, and the one table by which core errors become HTTP answers.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::directory::DirError;
use crate::domain::Refusal;

/// A problem document.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
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

/// What HTTP answers to a core error: its status and the rule its problem `type` names
/// (the core's own rule name when it gives one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The HTTP status.
    pub status: StatusCode,
    /// The rule that refused (see [`problem_type`]).
    pub rule: &'static str,
}

/// The one table of the web face from core errors to HTTP: the JSON API's problems and
/// the pages' refusals both answer with it. (The pages of a dead one-time link are their
/// own: they say what to do next, with 410 Gone.)
pub fn verdict(e: &DirError) -> Verdict {
    let (status, rule) = match e {
        DirError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        DirError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad-credentials"),
        // Another structure's things are not found, so that none can be guessed.
        DirError::Refused(Refusal::OtherStructure) => (StatusCode::NOT_FOUND, "not-found"),
        DirError::Refused(Refusal::Role { .. }) => (StatusCode::FORBIDDEN, "matrix-role"),
        DirError::Refused(Refusal::OtherService) => (StatusCode::FORBIDDEN, "matrix-own-service"),
        DirError::Refused(Refusal::TargetRole { .. }) => {
            (StatusCode::FORBIDDEN, "matrix-target-role")
        }
        DirError::Refused(Refusal::NotOwn) => (StatusCode::FORBIDDEN, "matrix-own-account"),
        DirError::Refused(Refusal::OtherTarget) => (StatusCode::FORBIDDEN, "matrix-target"),
        DirError::Forbidden { rule, .. } => (StatusCode::FORBIDDEN, *rule),
        DirError::PasswordExpired => (StatusCode::FORBIDDEN, "password-expired"),
        DirError::NotFound { .. } => (StatusCode::NOT_FOUND, "not-found"),
        DirError::Conflict { rule, .. } => (StatusCode::CONFLICT, *rule),
        DirError::Invalid { rule, .. } => (StatusCode::UNPROCESSABLE_ENTITY, *rule),
        DirError::TooManyAttempts { .. } => (StatusCode::TOO_MANY_REQUESTS, "backoff"),
        DirError::LinkInvalid => (StatusCode::NOT_FOUND, "link-invalid"),
        DirError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        DirError::Store(_) | DirError::Hash(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    Verdict { status, rule }
}

impl From<DirError> for Problem {
    fn from(e: DirError) -> Problem {
        let Verdict { status, rule } = verdict(&e);
        let detail = match &e {
            DirError::Unavailable(inner) => {
                tracing::warn!(error = %inner, "store unavailable");
                "the directory's database is unavailable; nothing was done, retry shortly"
                    .to_owned()
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Function, Role};

    #[test]
    fn each_core_error_has_one_status_and_one_problem_type() {
        let conflict = DirError::conflict("habilitations-remain", "reste");
        let cases = [
            (DirError::Unauthenticated, 401, "unauthenticated"),
            (DirError::BadCredentials, 401, "bad-credentials"),
            (
                DirError::Refused(Refusal::Role {
                    role: Role::Collaborateur,
                    function: Function::Consult,
                }),
                403,
                "matrix-role",
            ),
            (DirError::Refused(Refusal::OtherStructure), 404, "not-found"),
            (
                DirError::Refused(Refusal::OtherService),
                403,
                "matrix-own-service",
            ),
            (
                DirError::Refused(Refusal::TargetRole {
                    role: Role::Responsable,
                    target: Role::Administrateur,
                }),
                403,
                "matrix-target-role",
            ),
            (
                DirError::Refused(Refusal::NotOwn),
                403,
                "matrix-own-account",
            ),
            (
                DirError::Refused(Refusal::OtherTarget),
                403,
                "matrix-target",
            ),
            (
                DirError::Forbidden {
                    rule: "audit-administrateur",
                    message: "non".into(),
                },
                403,
                "audit-administrateur",
            ),
            (DirError::NotFound { what: "compte" }, 404, "not-found"),
            (conflict, 409, "habilitations-remain"),
            (DirError::invalid("siret", "siret", "faux"), 422, "siret"),
            (DirError::TooManyAttempts { retry_after: 3 }, 429, "backoff"),
            (DirError::LinkInvalid, 404, "link-invalid"),
            (DirError::PasswordExpired, 403, "password-expired"),
        ];
        for (e, status, rule) in cases {
            let v = verdict(&e);
            assert_eq!((v.status.as_u16(), v.rule), (status, rule), "{e:?}");
            let p = Problem::from(e);
            assert_eq!((p.status, p.kind), (status, problem_type(rule)));
        }
    }
}

//! A refusal of the core as a page: its status, a title, and its French sentence.

use axum::http::StatusCode;

use crate::directory::DirError;
use crate::domain::Refusal;

/// The status of a refusal (as the JSON API's, but an unusable link is gone).
pub fn status(e: &DirError) -> StatusCode {
    match e {
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
        DirError::LinkInvalid => StatusCode::GONE,
        DirError::Store(_) | DirError::Hash(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The title of the page of a refusal.
pub fn title(e: &DirError) -> &'static str {
    match status(e) {
        StatusCode::FORBIDDEN => "Accès refusé",
        StatusCode::NOT_FOUND => "Introuvable",
        StatusCode::CONFLICT => "Action impossible",
        StatusCode::UNPROCESSABLE_ENTITY => "Valeur refusée",
        StatusCode::TOO_MANY_REQUESTS => "Trop de tentatives",
        StatusCode::GONE => "Lien invalide ou expiré",
        StatusCode::UNAUTHORIZED => "Connexion requise",
        _ => "Service indisponible",
    }
}

/// The core's sentence, as a sentence: capital first, full stop last.
pub fn sentence(e: &DirError) -> String {
    match e {
        DirError::Invalid { message, .. } => as_sentence(message),
        DirError::Store(_) | DirError::Hash(_) => {
            "Le service rencontre un problème ; l'opération n'a pas été faite.".into()
        }
        other => as_sentence(&other.to_string()),
    }
}

/// What blocks, when the core says (e.g. the habilitations still held).
pub fn blocking(e: &DirError) -> Vec<String> {
    match e {
        DirError::Conflict {
            rule: "habilitations-remain",
            blocking,
            ..
        } => blocking.clone(),
        _ => Vec::new(),
    }
}

/// Capitalises the first letter and ends with a full stop.
pub fn as_sentence(s: &str) -> String {
    let s = s.trim();
    let mut chars = s.chars();
    let mut out: String = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_start_with_a_capital_and_end_with_a_stop() {
        assert_eq!(
            as_sentence("le mot de passe actuel est erroné"),
            "Le mot de passe actuel est erroné."
        );
        assert_eq!(as_sentence("écrit."), "Écrit.");
        assert_eq!(
            sentence(&DirError::LinkInvalid),
            "Ce lien est invalide, déjà utilisé ou expiré."
        );
    }
}

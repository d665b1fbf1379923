//! A refusal of the core as a page: its status, a title, and its French sentence.

use axum::http::StatusCode;

use crate::directory::DirError;
use crate::web::problem::verdict;

/// The status of a refusal, from the web face's one table.
pub fn status(e: &DirError) -> StatusCode {
    verdict(e).status
}

/// The title of the page of a refusal.
pub fn title(e: &DirError) -> &'static str {
    if matches!(e, DirError::LinkInvalid) {
        return "Lien invalide ou expiré";
    }
    match status(e) {
        StatusCode::FORBIDDEN => "Accès refusé",
        StatusCode::NOT_FOUND => "Introuvable",
        StatusCode::CONFLICT => "Action impossible",
        StatusCode::UNPROCESSABLE_ENTITY => "Valeur refusée",
        StatusCode::TOO_MANY_REQUESTS => "Trop de tentatives",
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
        DirError::Unavailable(_) => {
            "Le service est momentanément indisponible ; l'opération n'a pas été faite. Réessayez dans quelques instants.".into()
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

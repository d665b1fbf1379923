//! Words and formats of the pages: states, roles, dates, SIRET, profiles, audit actions.

use chrono::{DateTime, Utc};

use crate::catalogue::Catalogue;
use crate::domain::{AccountState, ProfileId, Role};

/// A state, in French.
pub fn state(s: AccountState) -> &'static str {
    match s {
        AccountState::Invited => "invité",
        AccountState::AwaitingValidation => "en attente de validation",
        AccountState::Active => "actif",
        AccountState::DeletionRequested => "suppression demandée",
    }
}

/// A role, in French (the domain's word).
pub fn role(r: Role) -> &'static str {
    r.as_str()
}

/// A date and time (unix seconds), in French, in UTC.
pub fn date_time(at: i64) -> String {
    DateTime::<Utc>::from_timestamp(at, 0)
        .map(|d| d.format("%d/%m/%Y à %H:%M (UTC)").to_string())
        .unwrap_or_default()
}

/// A date and time in RFC 3339, in French.
pub fn rfc3339_fr(s: &str) -> String {
    DateTime::parse_from_rfc3339(s)
        .map(|d| date_time(d.timestamp()))
        .unwrap_or_else(|_| s.to_owned())
}

/// A SIRET by groups: SIREN in three, then the NIC.
pub fn siret(s: &str) -> String {
    match (s.get(0..3), s.get(3..6), s.get(6..9), s.get(9..)) {
        (Some(a), Some(b), Some(c), Some(nic)) if s.len() == 14 => format!("{a} {b} {c} {nic}"),
        _ => s.to_owned(),
    }
}

/// A profile as a person reads it: "Application – Profil (APP:PROFIL)".
pub fn profile(catalogue: &Catalogue, p: &ProfileId) -> String {
    let app = catalogue.application(p.app()).map(|a| a.name.as_str());
    match (app, catalogue.profile_label(p)) {
        (Some(app), Some(label)) => format!("{app} – {label} ({p})"),
        _ => p.to_string(),
    }
}

/// An action of the audit log, in French.
pub fn action(a: &str) -> &str {
    match a {
        "account.invite" => "invitation envoyée",
        "account.complete_form" => "formulaire de pré-création complété",
        "account.validate" => "création validée",
        "account.reject" => "création refusée",
        "account.resend_identifier" => "identifiant renvoyé",
        "account.deletion_request" => "suppression demandée",
        "account.transfer" => "compte transféré",
        "account.update_personal_data" => "données personnelles rectifiées",
        "account.update_email" => "adresse électronique confirmée",
        "account.invitation_expired" => "invitation expirée",
        "account.purge" => "compte purgé",
        "password.reset" => "mot de passe réinitialisé",
        "password.change" => "mot de passe changé",
        "habilitation.grant" => "habilitation accordée",
        "habilitation.remove" => "habilitation retirée",
        "delegation.add" => "profil délégué",
        "delegation.remove" => "délégation retirée",
        "service.create" => "service créé",
        "service.rename" => "service renommé",
        "service.delete" => "service supprimé",
        "service.merge" => "service fusionné",
        "structure.create" => "structure créée",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_french() {
        assert_eq!(siret("73282932000074"), "732 829 320 00074");
        assert_eq!(date_time(0), "01/01/1970 à 00:00 (UTC)");
        assert_eq!(
            state(AccountState::AwaitingValidation),
            "en attente de validation"
        );
    }
}

//! Sample messages that the tests of every part of the mail share.

use super::Message;
use crate::domain::Role;

pub(super) const LINK: &str = "https://apex.example.test/activation?jeton=abc&cible=1";
/// 27/11/2026 14:05 UTC.
pub(super) const EXPIRES: i64 = 1_795_788_300;

pub(super) fn invitation<'a>(
    to_name: &'a str,
    structure: &'a str,
    service: Option<&'a str>,
) -> Message<'a> {
    Message::Invitation {
        to_name,
        to_email: "jean.dupont@example.fr",
        inviter_name: "Marie Curie",
        structure_name: structure,
        service_name: service,
        role: Role::Responsable,
        link: LINK,
        expires_at: EXPIRES,
    }
}

pub(super) fn every_message() -> Vec<(Message<'static>, Vec<&'static str>)> {
    vec![
        (
            invitation("Jean Dupont", "SARL Dupont", Some("Service paie")),
            vec![LINK, "Marie Curie", "SARL Dupont", "Service paie"],
        ),
        (
            Message::Identifier {
                to_name: "Jean Dupont",
                to_email: "jean.dupont@example.fr",
                login: "jdupont-4821",
                sign_in_url: "https://apex.example.test/connexion",
            },
            vec!["jdupont-4821", "https://apex.example.test/connexion"],
        ),
        (
            Message::PasswordReset {
                to_name: "Jean Dupont",
                to_email: "jean.dupont@example.fr",
                link: LINK,
                minutes: 30,
            },
            vec![LINK, "30 minutes"],
        ),
        (
            Message::ExpiryWarning {
                to_name: "Jean Dupont",
                to_email: "jean.dupont@example.fr",
                login: "jdupont-4821",
                expires_at: EXPIRES,
                link: LINK,
            },
            vec![LINK, "jdupont-4821", "27/11/2026 à 14:05 (UTC)"],
        ),
        (
            Message::DeletionNotice {
                to_name: "Jean Dupont",
                to_email: "jean.dupont@example.fr",
                structure_name: "SARL Dupont",
            },
            vec!["SARL Dupont", "bloqué", "supprimé"],
        ),
        (
            Message::EmailChangeNotice {
                to_name: "Jean Dupont",
                to_email: "jean.dupont@example.fr",
            },
            vec!["nouvelle adresse", "mot de passe", "annulée"],
        ),
    ]
}

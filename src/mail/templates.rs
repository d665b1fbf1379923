//! The texts of the mails, in French: what each message says, between the greeting and
//! the signature that every mail shares.

use chrono::{DateTime, Utc};

use super::Message;
use crate::domain::Role;

/// Every subject starts with it, so that partners can filter our mails.
pub(super) const SUBJECT_PREFIX: &str = "[APEX Partenaires]";
/// The name of the service, as the mails call it.
pub(super) const SERVICE_NAME: &str = "Mon espace APEX Partenaires";
/// The closing line of every mail.
pub(super) const SIGNATURE: &str = "L'équipe Mon espace APEX Partenaires – DGFiP";
/// The footer of every mail.
pub(super) const NO_REPLY: &str =
    "Ce message a été envoyé automatiquement, merci de ne pas y répondre.";

/// One piece of a body, written once and rendered twice so that both parts say the same.
pub(super) enum Block {
    /// A paragraph of plain words.
    Para(String),
    /// Labelled facts, as a list.
    Facts(Vec<(&'static str, String)>),
    /// An absolute URL on a line of its own.
    Link(String),
}

/// What a template says: the subject without its prefix, and the body between
/// the greeting and the signature.
pub(super) struct Draft {
    /// The subject, without its prefix.
    pub(super) subject: String,
    /// The body, in order.
    pub(super) blocks: Vec<Block>,
}

impl Message<'_> {
    /// The text of this message.
    pub(super) fn draft(&self) -> Draft {
        match *self {
            Message::Invitation {
                to_email,
                inviter_name,
                structure_name,
                service_name,
                role,
                link,
                expires_at,
                ..
            } => invitation(Invitation {
                to_email,
                inviter_name,
                structure_name,
                service_name,
                role,
                link,
                expires_at,
            }),
            Message::Identifier {
                login, sign_in_url, ..
            } => identifier(login, sign_in_url),
            Message::PasswordReset { link, minutes, .. } => password_reset(link, minutes),
            Message::ExpiryWarning {
                login,
                expires_at,
                link,
                ..
            } => expiry_warning(login, expires_at, link),
            Message::EmailConfirmation { link, minutes, .. } => email_confirmation(link, minutes),
            Message::EmailChangeNotice { .. } => email_change_notice(),
            Message::DeletionNotice { structure_name, .. } => deletion_notice(structure_name),
        }
    }
}

/// The facts of an invitation, named, since they are too many for positional arguments.
struct Invitation<'a> {
    to_email: &'a str,
    inviter_name: &'a str,
    structure_name: &'a str,
    service_name: Option<&'a str>,
    role: Role,
    link: &'a str,
    expires_at: i64,
}

fn invitation(i: Invitation<'_>) -> Draft {
    let Invitation {
        to_email,
        inviter_name,
        structure_name,
        service_name,
        role,
        link,
        expires_at,
    } = i;
    let until = french_date(expires_at);
    let mut facts = vec![("Structure", structure_name.to_owned())];
    if let Some(service) = service_name {
        facts.push(("Service", service.to_owned()));
    }
    facts.push(("Rôle", role_label(role).to_owned()));
    facts.push(("Adresse électronique", to_email.to_owned()));
    Draft {
        subject: format!("Invitation à activer votre compte – {structure_name}"),
        blocks: vec![
            Block::Para(format!(
                "{inviter_name} vous invite à rejoindre {SERVICE_NAME}, l'espace de la \
                 Direction générale des Finances publiques (DGFiP) réservé à ses \
                 partenaires. Un compte a été préparé pour vous :"
            )),
            Block::Facts(facts),
            Block::Para(format!(
                "Pour activer votre compte, ouvrez le lien ci-dessous et choisissez votre \
                 mot de passe. Ce lien vous est personnel ; il est valable jusqu'au {until}."
            )),
            Block::Link(link.to_owned()),
            Block::Para(
                "Votre mot de passe, c'est vous qui le choisissez : il n'est ni envoyé par \
                 courriel ni conservé en clair, et personne d'autre que vous ne le \
                 connaîtra jamais, ni la personne qui vous invite, ni les agents de la \
                 DGFiP. Ne le communiquez à personne."
                    .to_owned(),
            ),
            Block::Para(format!(
                "Passé ce délai, le lien ne fonctionnera plus et votre compte ne pourra pas \
                 être activé : demandez alors une nouvelle invitation à {inviter_name}. Si \
                 vous ne vous attendiez pas à cette invitation, ignorez ce message : sans \
                 action de votre part, le compte ne sera pas activé."
            )),
        ],
    }
}

fn identifier(login: &str, sign_in_url: &str) -> Draft {
    Draft {
        subject: "Votre identifiant de connexion".to_owned(),
        blocks: vec![
            Block::Para(format!(
                "Votre compte {SERVICE_NAME} est activé. Voici votre identifiant de \
                 connexion :"
            )),
            Block::Facts(vec![("Identifiant", login.to_owned())]),
            Block::Para("Pour vous connecter, rendez-vous à l'adresse suivante :".to_owned()),
            Block::Link(sign_in_url.to_owned()),
            Block::Para(
                "Votre mot de passe est celui que vous avez choisi lors de l'activation de \
                 votre compte. Il ne vous sera jamais envoyé et personne ne vous le \
                 demandera, ni par courriel ni par téléphone. Si vous l'avez oublié, \
                 utilisez le lien « Mot de passe oublié » de la page de connexion."
                    .to_owned(),
            ),
            Block::Para(
                "Conservez ce message : il vous rappelle votre identifiant. Si vous n'avez \
                 pas activé de compte, signalez-le à l'administrateur de votre structure."
                    .to_owned(),
            ),
        ],
    }
}

fn password_reset(link: &str, minutes: u32) -> Draft {
    let lifetime = french_minutes(minutes);
    Draft {
        subject: "Réinitialisation de votre mot de passe".to_owned(),
        blocks: vec![
            Block::Para(format!(
                "Une demande de réinitialisation du mot de passe de votre compte \
                 {SERVICE_NAME} a été faite."
            )),
            Block::Para(format!(
                "Pour choisir un nouveau mot de passe, ouvrez le lien ci-dessous. Ce lien \
                 ne peut servir qu'une seule fois et n'est valable que {lifetime}."
            )),
            Block::Link(link.to_owned()),
            Block::Para(
                "Passé ce délai, le lien ne fonctionnera plus : vous pourrez faire une \
                 nouvelle demande depuis la page de connexion."
                    .to_owned(),
            ),
            Block::Para(
                "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : \
                 votre mot de passe actuel reste valable et rien ne change."
                    .to_owned(),
            ),
        ],
    }
}

fn email_confirmation(link: &str, minutes: u32) -> Draft {
    let lifetime = french_minutes(minutes);
    Draft {
        subject: "Confirmez votre nouvelle adresse électronique".to_owned(),
        blocks: vec![
            Block::Para(format!(
                "Cette adresse a été indiquée comme nouvelle adresse électronique de votre \
                 compte {SERVICE_NAME}."
            )),
            Block::Para(format!(
                "Pour la confirmer, ouvrez le lien ci-dessous. Il ne peut servir qu'une seule \
                 fois et n'est valable que {lifetime}. Tant qu'elle n'est pas confirmée, \
                 l'ancienne adresse reste en vigueur."
            )),
            Block::Link(link.to_owned()),
            Block::Para(
                "Si vous n'êtes pas à l'origine de cette demande, ignorez ce message : \
                 rien ne change."
                    .to_owned(),
            ),
        ],
    }
}

fn email_change_notice() -> Draft {
    Draft {
        subject: "Changement de votre adresse électronique".to_owned(),
        blocks: vec![
            Block::Para(format!(
                "Une nouvelle adresse électronique vient d'être indiquée pour votre compte \
                 {SERVICE_NAME}. Elle remplacera celle-ci dès qu'elle aura été confirmée \
                 depuis la nouvelle adresse ; d'ici là, rien ne change."
            )),
            Block::Para(
                "Si vous êtes à l'origine de ce changement, vous n'avez rien à faire. Sinon, \
                 changez sans attendre votre mot de passe depuis votre espace ou par le lien \
                 « Mot de passe oublié » de la page de connexion : la demande en cours sera \
                 annulée. Prévenez aussi l'administrateur de votre structure."
                    .to_owned(),
            ),
        ],
    }
}

fn expiry_warning(login: &str, expires_at: i64, link: &str) -> Draft {
    let when = french_date(expires_at);
    Draft {
        subject: "Votre mot de passe expire bientôt".to_owned(),
        blocks: vec![
            Block::Para(format!(
                "Le mot de passe de votre compte {SERVICE_NAME} expirera le {when}."
            )),
            Block::Facts(vec![("Identifiant", login.to_owned())]),
            Block::Para(
                "Pour continuer à vous connecter sans interruption, choisissez un nouveau \
                 mot de passe avant cette date en ouvrant le lien ci-dessous :"
                    .to_owned(),
            ),
            Block::Link(link.to_owned()),
            Block::Para(
                "Si vous ne le changez pas à temps, votre mot de passe actuel ne sera plus \
                 accepté : vous devrez alors en choisir un nouveau grâce au lien « Mot de \
                 passe oublié » de la page de connexion."
                    .to_owned(),
            ),
        ],
    }
}

fn deletion_notice(structure_name: &str) -> Draft {
    Draft {
        subject: "Votre compte a été bloqué et sera supprimé".to_owned(),
        blocks: vec![
            Block::Para(format!(
                "Votre compte {SERVICE_NAME}, rattaché à la structure {structure_name}, a \
                 été bloqué : vous ne pouvez plus vous connecter. Il sera ensuite supprimé \
                 définitivement, avec les habilitations qui lui étaient attribuées."
            )),
            Block::Para(
                "Si vous pensez qu'il s'agit d'une erreur, contactez sans attendre \
                 l'administrateur de votre structure. Sans démarche de votre part, le \
                 compte sera supprimé ; si vous n'en avez plus besoin, vous n'avez rien à \
                 faire."
                    .to_owned(),
            ),
        ],
    }
}

/// French label of a role, as the invitation shows it.
fn role_label(role: Role) -> &'static str {
    match role {
        Role::Administrateur => "administrateur de la structure",
        Role::Responsable => "responsable de service",
        Role::Collaborateur => "collaborateur",
    }
}

/// `27/11/2026 à 14:05 (UTC)`: the server does not know the reader's time zone.
fn french_date(unix_secs: i64) -> String {
    match DateTime::<Utc>::from_timestamp(unix_secs, 0) {
        Some(at) => at.format("%d/%m/%Y à %H:%M (UTC)").to_string(),
        None => format!("{unix_secs} (horodatage Unix)"),
    }
}

/// French counts 0 and 1 as singular.
fn french_minutes(n: u32) -> String {
    if n <= 1 {
        format!("{n} minute")
    } else {
        format!("{n} minutes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::render::escape;
    use crate::mail::samples::{EXPIRES, LINK, every_message, invitation};

    #[test]
    fn every_template_puts_its_key_facts_in_both_parts() {
        for (message, facts) in every_message() {
            let mail = message.render();
            assert_eq!(mail.to, "Jean Dupont <jean.dupont@example.fr>");
            assert!(
                mail.subject.starts_with("[APEX Partenaires] "),
                "{}",
                mail.subject
            );
            for (part, signature) in [(&mail.text, SIGNATURE), (&mail.html, &escape(SIGNATURE))] {
                assert!(part.contains("Bonjour Jean Dupont,"), "{part}");
                assert!(part.contains(signature), "{part}");
            }
            for fact in facts {
                assert!(
                    mail.text.contains(fact),
                    "{fact} missing from\n{}",
                    mail.text
                );
                assert!(
                    mail.html.contains(&escape(fact)),
                    "{fact} missing from\n{}",
                    mail.html
                );
            }
        }
    }

    #[test]
    fn invitation_says_who_where_which_role_until_when_and_password_secrecy() {
        let mail = invitation("Jean Dupont", "SARL Dupont", Some("Service paie")).render();
        for fact in [
            "Marie Curie vous invite",
            "Structure : SARL Dupont",
            "Service : Service paie",
            "Rôle : responsable de service",
            "jusqu'au 27/11/2026 à 14:05 (UTC)",
            "choisissez votre mot de passe",
            "personne d'autre que vous ne le connaîtra jamais",
            "ignorez ce message",
        ] {
            assert!(
                mail.text.contains(fact),
                "{fact} missing from\n{}",
                mail.text
            );
        }
        assert!(mail.subject.contains("SARL Dupont"));
    }

    #[test]
    fn invitation_without_service_shows_no_service_line() {
        let mail = invitation("Jean Dupont", "SARL Dupont", None).render();
        assert!(!mail.text.contains("Service :"), "{}", mail.text);
    }

    #[test]
    fn identifier_mail_gives_login_and_url_and_says_password_is_his_own() {
        let (message, _) = every_message().swap_remove(1);
        let mail = message.render();
        assert!(mail.text.contains("Identifiant : jdupont-4821"));
        assert!(mail.text.contains("celui que vous avez choisi"));
    }

    #[test]
    fn reset_mail_says_single_use_lifetime_and_to_ignore_it_if_not_asked() {
        let (message, _) = every_message().swap_remove(2);
        let mail = message.render();
        for fact in [
            "une seule fois",
            "valable que 30 minutes",
            "ignorez ce message",
        ] {
            assert!(
                mail.text.contains(fact),
                "{fact} missing from\n{}",
                mail.text
            );
        }
        let one = Message::PasswordReset {
            to_name: "Jean Dupont",
            to_email: "jean.dupont@example.fr",
            link: LINK,
            minutes: 1,
        };
        assert!(one.render().text.contains("valable que 1 minute."));
    }

    #[test]
    fn dates_are_french_and_in_utc() {
        assert_eq!(french_date(EXPIRES), "27/11/2026 à 14:05 (UTC)");
        assert_eq!(french_date(0), "01/01/1970 à 00:00 (UTC)");
        assert!(french_date(i64::MAX).contains("horodatage"));
    }
}

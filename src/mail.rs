//! The mails the server sends: French templates, and their delivery to an outbox
//! directory or an SMTP relay.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use crate::config::{MailConfig, MailTransport};
use crate::domain::Role;

/// Every subject starts with it, so that partners can filter our mails.
const SUBJECT_PREFIX: &str = "[APEX Partenaires]";
const SERVICE_NAME: &str = "Mon espace APEX Partenaires";
const SIGNATURE: &str = "L'équipe Mon espace APEX Partenaires – DGFiP";
const NO_REPLY: &str = "Ce message a été envoyé automatiquement, merci de ne pas y répondre.";

/// A dead relay (SYNs dropped) must fail fast: the mail stays queued and is tried again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// lettre bounds only the TCP connect; a relay that accepts and then stays silent
/// would otherwise hold the queue forever.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// A rendered mail, stored durably in the mail queue (serde JSON) until sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mail {
    /// Recipient: `"Given Family <addr>"` or a bare address.
    pub to: String,
    /// Subject line, starting with `[APEX Partenaires]`.
    pub subject: String,
    /// Plain-text part.
    pub text: String,
    /// HTML part, every interpolated value escaped.
    pub html: String,
}

/// The mails the server sends (French text + HTML, both parts in a multipart/alternative).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A pre-created account: the person chooses a password through the link.
    Invitation {
        /// Display name of the invited person.
        to_name: &'a str,
        /// Address of the invited person.
        to_email: &'a str,
        /// Display name of the person who invites.
        inviter_name: &'a str,
        /// Name of the structure the account belongs to.
        structure_name: &'a str,
        /// Name of the service, if the account belongs to one.
        service_name: Option<&'a str>,
        /// Role of the account.
        role: Role,
        /// Absolute URL of the activation page.
        link: &'a str,
        /// End of validity of the link, unix seconds.
        expires_at: i64,
    },
    /// The login of a freshly activated account.
    Identifier {
        /// Display name of the account holder.
        to_name: &'a str,
        /// Address of the account holder.
        to_email: &'a str,
        /// The login to type on the sign-in page.
        login: &'a str,
        /// Absolute URL of the sign-in page.
        sign_in_url: &'a str,
    },
    /// A single-use link to choose a new password.
    PasswordReset {
        /// Display name of the account holder.
        to_name: &'a str,
        /// Address of the account holder.
        to_email: &'a str,
        /// Absolute URL of the reset page.
        link: &'a str,
        /// Lifetime of the link, in minutes.
        minutes: u32,
    },
    /// The password expires soon.
    ExpiryWarning {
        /// Display name of the account holder.
        to_name: &'a str,
        /// Address of the account holder.
        to_email: &'a str,
        /// Login of the account.
        login: &'a str,
        /// Expiry of the password, unix seconds.
        expires_at: i64,
        /// Absolute URL of the page where the password is changed.
        link: &'a str,
    },
    /// A new e-mail address to confirm, sent to that new address.
    EmailConfirmation {
        /// Display name of the account holder.
        to_name: &'a str,
        /// The new address, to be confirmed.
        to_email: &'a str,
        /// Single-use confirmation link.
        link: &'a str,
        /// Lifetime of the link, in minutes.
        minutes: u32,
    },
    /// A new e-mail address was asked for, told to the current one (no link: the change
    /// is confirmed from the new address; this only warns the holder).
    EmailChangeNotice {
        /// Display name of the account holder.
        to_name: &'a str,
        /// The current address.
        to_email: &'a str,
    },
    /// The account was blocked and will be deleted.
    DeletionNotice {
        /// Display name of the account holder.
        to_name: &'a str,
        /// Address of the account holder.
        to_email: &'a str,
        /// Name of the structure the account belonged to.
        structure_name: &'a str,
    },
}

/// One piece of a body, written once and rendered twice so that both parts say the same.
enum Block {
    /// A paragraph of plain words.
    Para(String),
    /// Labelled facts, as a list.
    Facts(Vec<(&'static str, String)>),
    /// An absolute URL on a line of its own.
    Link(String),
}

/// What a template says: the subject without its prefix, and the body between
/// the greeting and the signature.
struct Draft {
    subject: String,
    blocks: Vec<Block>,
}

impl Message<'_> {
    /// Renders the subject and both parts, in French.
    pub fn render(&self) -> Mail {
        let (to_name, to_email) = self.addressee();
        let draft = self.draft();
        let subject = one_line(&format!("{SUBJECT_PREFIX} {}", draft.subject));
        let greeting = match to_name.trim() {
            "" => "Bonjour,".to_owned(),
            name => format!("Bonjour {name},"),
        };
        Mail {
            to: to_header(to_name, to_email),
            text: render_text(&greeting, &draft.blocks),
            html: render_html(&subject, &greeting, &draft.blocks),
            subject,
        }
    }

    fn addressee(&self) -> (&str, &str) {
        match *self {
            Message::Invitation {
                to_name, to_email, ..
            }
            | Message::Identifier {
                to_name, to_email, ..
            }
            | Message::PasswordReset {
                to_name, to_email, ..
            }
            | Message::ExpiryWarning {
                to_name, to_email, ..
            }
            | Message::EmailConfirmation {
                to_name, to_email, ..
            }
            | Message::EmailChangeNotice { to_name, to_email }
            | Message::DeletionNotice {
                to_name, to_email, ..
            } => (to_name, to_email),
        }
    }

    fn draft(&self) -> Draft {
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

/// The recipient as a mailbox, quoted by lettre when the name needs it; an
/// unparsable address is kept as written so that delivery reports it.
fn to_header(name: &str, email: &str) -> String {
    let name = one_line(name);
    let name = name.trim();
    match email.trim().parse() {
        Ok(address) if name.is_empty() => Mailbox::new(None, address).to_string(),
        Ok(address) => Mailbox::new(Some(name.to_owned()), address).to_string(),
        Err(_) if name.is_empty() => email.to_owned(),
        Err(_) => format!("{name} <{email}>"),
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

/// Header values come partly from user input: a line break must not start a new header.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn render_text(greeting: &str, blocks: &[Block]) -> String {
    let mut out = format!("{greeting}\n\n");
    for block in blocks {
        match block {
            Block::Para(p) => out.push_str(p),
            Block::Facts(facts) => {
                let lines: Vec<String> = facts
                    .iter()
                    .map(|(label, value)| format!("  - {label} : {value}"))
                    .collect();
                out.push_str(&lines.join("\n"));
            }
            Block::Link(url) => out.push_str(url),
        }
        out.push_str("\n\n");
    }
    out.push_str(&format!("{SIGNATURE}\n\n-- \n{NO_REPLY}\n"));
    out
}

fn render_html(subject: &str, greeting: &str, blocks: &[Block]) -> String {
    let mut body = format!("<p>{}</p>\n", escape(greeting));
    for block in blocks {
        match block {
            Block::Para(p) => body.push_str(&format!("<p>{}</p>\n", escape(p))),
            Block::Facts(facts) => {
                body.push_str("<ul>\n");
                for (label, value) in facts {
                    body.push_str(&format!(
                        "<li><strong>{} :</strong> {}</li>\n",
                        escape(label),
                        escape(value)
                    ));
                }
                body.push_str("</ul>\n");
            }
            Block::Link(url) => body.push_str(&format!("<p>{}</p>\n", html_link(url))),
        }
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"fr\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n</head>\n\
         <body style=\"margin:0;padding:24px;background:#f6f6f6;color:#161616;\
         font-family:Arial,Helvetica,sans-serif;font-size:16px;line-height:1.5\">\n\
         <div style=\"max-width:600px;margin:0 auto;padding:24px;background:#ffffff;\
         border-top:4px solid #000091\">\n\
         <p style=\"margin-top:0;font-weight:bold\">{SERVICE_NAME}</p>\n\
         {body}<p>{signature}</p>\n\
         <p style=\"font-size:13px;color:#666666\">{no_reply}</p>\n\
         </div>\n</body>\n</html>\n",
        title = escape(subject),
        signature = escape(SIGNATURE),
        no_reply = escape(NO_REPLY),
    )
}

/// Only web links become anchors: a `javascript:` URL from a bad caller stays inert text.
fn html_link(url: &str) -> String {
    let url = escape(url);
    if url.starts_with("https://") || url.starts_with("http://") {
        format!("<a href=\"{url}\" style=\"color:#000091\">{url}</a>")
    } else {
        url
    }
}

/// Escapes text for HTML element content and double- or single-quoted attributes.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Why a mail could not be built or delivered; never carries a password.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// A mailbox (the configured sender or a recipient) is not valid.
    #[error("invalid {which} mailbox {value:?}: {reason}")]
    InvalidAddress {
        /// `sender` or `recipient`.
        which: &'static str,
        /// The mailbox as written.
        value: String,
        /// What the parser said.
        reason: String,
    },
    /// `mail.smtp_url` cannot be used; the URL itself is never repeated, as it may hold a password.
    #[error("invalid mail.smtp_url: {0}")]
    SmtpUrl(String),
    /// The message could not be assembled.
    #[error("cannot build the mail: {0}")]
    Build(String),
    /// The outbox directory cannot be created or written.
    #[error("outbox {path}: {reason}")]
    Outbox {
        /// The directory or file at fault.
        path: String,
        /// The I/O error.
        reason: String,
    },
    /// The relay could not be reached or failed for now; trying again later may succeed.
    #[error("SMTP delivery failed: {0}")]
    Transport(String),
    /// The relay refused the mail for good (5xx reply); trying again will not help.
    #[error("SMTP relay refused the mail: {0}")]
    Rejected(String),
    /// The relay did not finish the delivery in time.
    #[error("SMTP delivery timed out after {} s", .0.as_secs())]
    Timeout(Duration),
}

impl MailError {
    /// True when sending the same mail again cannot succeed, so the queue should drop it.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            MailError::InvalidAddress { .. } | MailError::Build(_) | MailError::Rejected(_)
        )
    }
}

/// Delivers rendered mails through the configured transport.
pub struct Postman {
    from: Mailbox,
    route: Route,
    deadline: Duration,
}

enum Route {
    Outbox(PathBuf),
    Relay {
        /// Where the relay is, for logs; without the userinfo.
        at: String,
        builder: Box<AsyncSmtpTransportBuilder>,
        /// Built on first use: lettre's pool spawns a task, which needs a running
        /// runtime, and `from_config` may run before one exists.
        transport: OnceLock<AsyncSmtpTransport<Tokio1Executor>>,
    },
}

impl fmt::Debug for Postman {
    // Hand-written: lettre's builder would print the relay credentials.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let route = match &self.route {
            Route::Outbox(dir) => format!("file {}", dir.display()),
            Route::Relay { at, .. } => format!("smtp {at}"),
        };
        f.debug_struct("Postman")
            .field("from", &self.from.to_string())
            .field("route", &route)
            .finish()
    }
}

impl Postman {
    /// Prepares the transport of `[mail]`.
    ///
    /// `transport = "file"` creates `outbox_dir` if missing (mode 0700: the mails
    /// hold reset links). `transport = "smtp"` reads `smtp_url`, with lettre's
    /// `AsyncSmtpTransport::from_url` semantics:
    ///
    /// - `smtp://host[:port]`: plain SMTP, no TLS (port 25 by default); for a local relay only;
    /// - `smtp://host[:port]?tls=required`: STARTTLS, refused if the relay lacks it (port 587);
    /// - `smtp://host[:port]?tls=opportunistic`: STARTTLS when offered (port 587);
    /// - `smtps://host[:port]`: implicit TLS (port 465);
    /// - `smtp[s]://user:password@host...`: AUTH with these credentials, percent-encoded
    ///   (`@` as `%40`); accepted only with `smtps://` or `?tls=required`, so that a
    ///   password never crosses the network in clear;
    /// - a path (`smtp://host/client.example.fr`) sets the EHLO name.
    ///
    /// TLS is rustls with the ring provider and the webpki roots. Connecting times
    /// out after 10 s and a whole delivery after 60 s.
    pub fn from_config(config: &MailConfig) -> Result<Postman, MailError> {
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|e| MailError::InvalidAddress {
                which: "sender",
                value: config.from.clone(),
                reason: e.to_string(),
            })?;
        let route = match config.transport {
            MailTransport::File => {
                create_outbox(&config.outbox_dir)?;
                Route::Outbox(config.outbox_dir.clone())
            }
            MailTransport::Smtp => relay(&config.smtp_url)?,
        };
        Ok(Postman {
            from,
            route,
            deadline: DELIVERY_TIMEOUT,
        })
    }

    /// Sends one mail; an `Ok` means the outbox file or the relay has it.
    pub async fn deliver(&self, mail: &Mail) -> Result<(), MailError> {
        let id = uuid::Uuid::new_v4();
        let message = self.build(mail, id)?;
        match &self.route {
            Route::Outbox(dir) => write_eml(dir, id, &message.formatted()).await,
            Route::Relay {
                builder, transport, ..
            } => {
                let transport = transport.get_or_init(|| (**builder).clone().build());
                match tokio::time::timeout(self.deadline, transport.send(message)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(e)) if e.is_permanent() => Err(MailError::Rejected(e.to_string())),
                    Ok(Err(e)) => Err(MailError::Transport(e.to_string())),
                    Err(_) => Err(MailError::Timeout(self.deadline)),
                }
            }
        }
    }

    fn build(&self, mail: &Mail, id: uuid::Uuid) -> Result<lettre::Message, MailError> {
        let to = mail
            .to
            .parse::<Mailbox>()
            .map_err(|e| MailError::InvalidAddress {
                which: "recipient",
                value: mail.to.clone(),
                reason: e.to_string(),
            })?;
        lettre::Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(one_line(&mail.subject))
            // lettre adds none by default, and spam filters frown on its absence.
            .message_id(Some(format!("<{id}@{}>", self.from.email.domain())))
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Build(e.to_string()))
    }

    #[cfg(test)]
    fn with_deadline(mut self, deadline: Duration) -> Postman {
        self.deadline = deadline;
        self
    }
}

fn outbox_error(path: &Path, e: std::io::Error) -> MailError {
    MailError::Outbox {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn create_outbox(dir: &Path) -> Result<(), MailError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| outbox_error(dir, e))
}

fn relay(smtp_url: &str) -> Result<Route, MailError> {
    // Our own parse, to refuse clear-text passwords and to log the relay without them;
    // lettre's errors below never echo the URL.
    let url = url::Url::parse(smtp_url).map_err(|e| MailError::SmtpUrl(e.to_string()))?;
    let tls_required = url.scheme() == "smtps"
        || url
            .query_pairs()
            .any(|(k, v)| k == "tls" && v == "required");
    if url.password().is_some() && !tls_required {
        return Err(MailError::SmtpUrl(
            "credentials need smtps:// or ?tls=required".to_owned(),
        ));
    }
    let at = format!(
        "{}://{}:{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.port()
            .map_or_else(|| "default".to_owned(), |p| p.to_string())
    );
    let builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp_url)
        .map_err(|e| MailError::SmtpUrl(e.to_string()))?
        .timeout(Some(CONNECT_TIMEOUT));
    Ok(Route::Relay {
        at,
        builder: Box::new(builder),
        transport: OnceLock::new(),
    })
}

/// Writes `<message uuid>.eml` so that a reader polling the directory never sees a partial
/// file: lettre's file transport writes in place, so we write a dot-file, sync it,
/// and rename it, which is atomic within one directory.
async fn write_eml(dir: &Path, id: uuid::Uuid, bytes: &[u8]) -> Result<(), MailError> {
    let partial = dir.join(format!(".{id}.partial"));
    let done = dir.join(format!("{id}.eml"));
    let written = async {
        let mut options = tokio::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options.open(&partial).await?;
        file.write_all(bytes).await?;
        file.sync_all().await?;
        drop(file);
        tokio::fs::rename(&partial, &done).await
    }
    .await;
    if let Err(e) = written {
        // Best effort: a leftover dot-file is never read as a mail anyway.
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(outbox_error(&done, e));
    }
    // The rename is durable only once the directory itself is synced.
    #[cfg(unix)]
    sync_dir(dir).await.map_err(|e| outbox_error(dir, e))?;
    Ok(())
}

#[cfg(unix)]
async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    tokio::fs::File::open(dir).await?.sync_all().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    const LINK: &str = "https://apex.example.test/activation?jeton=abc&cible=1";
    /// 27/11/2026 14:05 UTC.
    const EXPIRES: i64 = 1_795_788_300;

    fn invitation<'a>(
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

    fn every_message() -> Vec<(Message<'static>, Vec<&'static str>)> {
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
    fn links_are_verbatim_in_text_and_anchors_in_html() {
        let mail = invitation("Jean Dupont", "SARL Dupont", None).render();
        assert!(mail.text.lines().any(|l| l == LINK));
        let href = "href=\"https://apex.example.test/activation?jeton=abc&amp;cible=1\"";
        assert!(mail.html.contains(href), "{}", mail.html);
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
    fn html_part_escapes_every_interpolated_value() {
        let name = "<script>alert('x')</script>";
        let mail = invitation(name, "Dupont & Fils \"SA\"", Some("<b>paie</b>")).render();
        assert!(!mail.html.contains("<script>"), "{}", mail.html);
        assert!(!mail.html.contains("<b>"), "{}", mail.html);
        assert!(
            mail.html
                .contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;")
        );
        assert!(mail.html.contains("Dupont &amp; Fils &quot;SA&quot;"));
        assert!(
            mail.text.contains(name),
            "the text part is not HTML: nothing to escape"
        );
    }

    #[test]
    fn only_web_links_become_anchors() {
        let message = Message::PasswordReset {
            to_name: "Jean Dupont",
            to_email: "jean.dupont@example.fr",
            link: "javascript:alert(1)",
            minutes: 30,
        };
        let mail = message.render();
        assert!(!mail.html.contains("href=\"javascript"), "{}", mail.html);
    }

    #[test]
    fn dates_are_french_and_in_utc() {
        assert_eq!(french_date(EXPIRES), "27/11/2026 à 14:05 (UTC)");
        assert_eq!(french_date(0), "01/01/1970 à 00:00 (UTC)");
        assert!(french_date(i64::MAX).contains("horodatage"));
    }

    #[test]
    fn recipient_name_cannot_inject_headers() {
        let mail = invitation(
            "Dupont, Jean\r\nBcc: pirate@example.org",
            "SARL Dupont",
            None,
        )
        .render();
        let mailbox: Mailbox = mail.to.parse().unwrap();
        assert_eq!(mailbox.email.to_string(), "jean.dupont@example.fr");
        assert!(!mail.to.contains('\n'));
        let bare = Message::DeletionNotice {
            to_name: " ",
            to_email: "a@example.fr",
            structure_name: "S",
        };
        let mail = bare.render();
        assert_eq!(mail.to, "a@example.fr");
        assert!(mail.text.starts_with("Bonjour,\n"));
    }

    #[test]
    fn mail_survives_the_queue_as_json() {
        let mail = invitation("Élodie Lefèvre", "SARL Dupont", None).render();
        let json = serde_json::to_string(&mail).unwrap();
        assert_eq!(serde_json::from_str::<Mail>(&json).unwrap(), mail);
    }

    // --- Reading an .eml back, as a mail client would (no MIME parser among our crates).

    struct Eml {
        headers: Vec<(String, String)>,
        /// (content type, decoded body with LF line ends)
        parts: Vec<(String, String)>,
    }

    impl Eml {
        fn header(&self, name: &str) -> String {
            header(&self.headers, name)
        }
        fn part(&self, content_type: &str) -> &str {
            let found = self.parts.iter().find(|(t, _)| t.starts_with(content_type));
            &found.unwrap_or_else(|| panic!("no {content_type} part")).1
        }
    }

    fn header(headers: &[(String, String)], name: &str) -> String {
        let found = headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
        decode_words(&found.unwrap_or_else(|| panic!("no {name} header")).1)
    }

    fn split_headers(raw: &str) -> (Vec<(String, String)>, &str) {
        let (head, body) = raw
            .split_once("\r\n\r\n")
            .expect("a blank line ends the headers");
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                headers.last_mut().unwrap().1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("a header line");
                headers.push((name.to_owned(), value.trim().to_owned()));
            }
        }
        (headers, body)
    }

    /// RFC 2047 encoded words; the blank between two of them is not text.
    fn decode_words(value: &str) -> String {
        let mut out = Vec::new();
        let mut previous_encoded = false;
        for (i, word) in value.split(' ').enumerate() {
            let encoded = word
                .strip_prefix("=?")
                .and_then(|w| w.strip_suffix("?="))
                .and_then(|w| {
                    let mut it = w.splitn(3, '?');
                    Some((it.next()?, it.next()?, it.next()?))
                });
            match encoded {
                Some((_, enc, text)) => {
                    if i > 0 && !previous_encoded {
                        out.push(b' ');
                    }
                    if enc.eq_ignore_ascii_case("b") {
                        out.extend(base64(text));
                    } else {
                        out.extend(quoted_printable(&text.replace('_', " ")));
                    }
                    previous_encoded = true;
                }
                None => {
                    if i > 0 {
                        out.push(b' ');
                    }
                    out.extend(word.bytes());
                    previous_encoded = false;
                }
            }
        }
        String::from_utf8(out).unwrap()
    }

    fn base64(s: &str) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
        for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
            acc = (acc << 6) | ALPHABET.iter().position(|&a| a == c).unwrap() as u32;
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
                acc &= (1 << bits) - 1;
            }
        }
        out
    }

    fn quoted_printable(s: &str) -> Vec<u8> {
        let s = s.replace("=\r\n", "");
        let bytes = s.as_bytes();
        let (mut out, mut i) = (Vec::new(), 0);
        while i < bytes.len() {
            if bytes[i] == b'=' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        out
    }

    fn parse_eml(raw: &str) -> Eml {
        let (headers, body) = split_headers(raw);
        let content_type = header(&headers, "Content-Type");
        assert!(
            content_type.starts_with("multipart/alternative;"),
            "{content_type}"
        );
        let boundary = content_type
            .split("boundary=")
            .nth(1)
            .unwrap()
            .trim_matches('"')
            .to_owned();
        let parts = body
            .split(&format!("--{boundary}"))
            .skip(1)
            .filter(|p| !p.starts_with("--"))
            .map(|p| {
                let (part_headers, content) = split_headers(p.strip_prefix("\r\n").unwrap());
                let content = content.strip_suffix("\r\n").unwrap_or(content);
                let bytes = match header(&part_headers, "Content-Transfer-Encoding").as_str() {
                    "quoted-printable" => quoted_printable(content),
                    "base64" => base64(content),
                    _ => content.as_bytes().to_vec(),
                };
                let text = String::from_utf8(bytes).unwrap().replace("\r\n", "\n");
                (header(&part_headers, "Content-Type"), text)
            })
            .collect();
        Eml { headers, parts }
    }

    fn assert_is_the_mail(raw: &str, mail: &Mail) {
        let eml = parse_eml(raw);
        let mailbox = |s: &str| s.parse::<Mailbox>().unwrap();
        assert_eq!(mailbox(&eml.header("To")), mailbox(&mail.to));
        assert_eq!(eml.header("Subject"), mail.subject);
        assert!(eml.header("Message-ID").ends_with("@apex.example.test>"));
        assert_eq!(
            mailbox(&eml.header("From")),
            mailbox(&MailConfig::default().from)
        );
        assert_eq!(eml.parts.len(), 2);
        assert_eq!(eml.part("text/plain").trim_end(), mail.text.trim_end());
        assert_eq!(eml.part("text/html").trim_end(), mail.html.trim_end());
    }

    // --- File transport.

    fn file_config(outbox: &Path) -> MailConfig {
        MailConfig {
            transport: MailTransport::File,
            outbox_dir: outbox.to_path_buf(),
            ..MailConfig::default()
        }
    }

    #[tokio::test]
    async fn file_transport_writes_one_parseable_eml_per_mail() {
        let tmp = tempfile::tempdir().unwrap();
        let outbox = tmp.path().join("var").join("outbox");
        let postman = Postman::from_config(&file_config(&outbox)).unwrap();
        let mails = [
            invitation("Élodie Lefèvre", "Crédit Agricole & Associés", Some("Paie")).render(),
            every_message().swap_remove(1).0.render(),
        ];
        for mail in &mails {
            postman.deliver(mail).await.unwrap();
        }
        let mut files: Vec<PathBuf> = std::fs::read_dir(&outbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "{files:?}");
        let mut seen = Vec::new();
        for file in &files {
            assert_eq!(
                file.extension().unwrap(),
                "eml",
                "no partial file is left: {file:?}"
            );
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(file).unwrap().permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "reset links are secrets");
            }
            let raw = std::fs::read_to_string(file).unwrap();
            let stem = file.file_stem().unwrap().to_str().unwrap();
            let message_id = format!("<{stem}@apex.example.test>");
            assert_eq!(parse_eml(&raw).header("Message-ID"), message_id);
            let mail = mails
                .iter()
                .find(|m| parse_eml(&raw).header("Subject") == m.subject)
                .unwrap();
            assert_is_the_mail(&raw, mail);
            seen.push(mail.subject.clone());
        }
        assert_ne!(seen[0], seen[1]);
        assert!(mails[0].to.contains("Élodie Lefèvre"));
    }

    #[tokio::test]
    async fn invalid_recipient_is_a_permanent_error() {
        let tmp = tempfile::tempdir().unwrap();
        let postman = Postman::from_config(&file_config(tmp.path())).unwrap();
        let mut mail = every_message().swap_remove(2).0.render();
        mail.to = "pas une adresse".into();
        let err = postman.deliver(&mail).await.unwrap_err();
        assert!(matches!(err, MailError::InvalidAddress { .. }), "{err}");
        assert!(err.is_permanent());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn bad_sender_is_refused_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let config = MailConfig {
            from: "APEX sans adresse".into(),
            ..file_config(tmp.path())
        };
        let err = Postman::from_config(&config).unwrap_err();
        assert!(
            matches!(
                err,
                MailError::InvalidAddress {
                    which: "sender",
                    ..
                }
            ),
            "{err}"
        );
    }

    // --- SMTP.

    fn smtp_config(url: &str) -> MailConfig {
        MailConfig {
            transport: MailTransport::Smtp,
            smtp_url: url.to_owned(),
            ..MailConfig::default()
        }
    }

    #[derive(Debug, Default)]
    struct Sunk {
        mail_from: String,
        rcpt_to: Vec<String>,
        data: String,
    }

    /// A plain SMTP relay for one connection; `rcpt_reply` lets a test refuse the recipient.
    async fn smtp_sink(rcpt_reply: &'static str) -> (u16, oneshot::Receiver<Sunk>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let (read, mut write) = socket.into_split();
            let mut read = BufReader::new(read);
            write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
            let (mut sunk, mut tx, mut line) = (Sunk::default(), Some(tx), String::new());
            loop {
                line.clear();
                if read.read_line(&mut line).await.unwrap() == 0 {
                    break;
                }
                let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                let reply = match verb.as_str() {
                    "EHLO" | "HELO" => "250 sink\r\n",
                    "MAIL" => {
                        sunk.mail_from = line.trim_end().to_owned();
                        "250 ok\r\n"
                    }
                    "RCPT" => {
                        sunk.rcpt_to.push(line.trim_end().to_owned());
                        rcpt_reply
                    }
                    "DATA" => {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        loop {
                            line.clear();
                            read.read_line(&mut line).await.unwrap();
                            if line == ".\r\n" {
                                break;
                            }
                            // Undo dot-stuffing.
                            sunk.data.push_str(line.strip_prefix('.').unwrap_or(&line));
                        }
                        if let Some(tx) = tx.take() {
                            tx.send(std::mem::take(&mut sunk)).unwrap();
                        }
                        "250 queued\r\n"
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        break;
                    }
                    _ => "250 ok\r\n",
                };
                write.write_all(reply.as_bytes()).await.unwrap();
            }
        });
        (port, rx)
    }

    #[tokio::test]
    async fn smtp_delivery_hands_the_mail_to_the_relay() {
        let (port, sunk) = smtp_sink("250 ok\r\n").await;
        let postman =
            Postman::from_config(&smtp_config(&format!("smtp://127.0.0.1:{port}"))).unwrap();
        let mail = invitation("Élodie Lefèvre", "SARL Dupont", Some("Paie")).render();
        postman.deliver(&mail).await.unwrap();
        let sunk = sunk.await.unwrap();
        assert_eq!(
            sunk.mail_from,
            "MAIL FROM:<ne-pas-repondre@apex.example.test>"
        );
        assert_eq!(sunk.rcpt_to, ["RCPT TO:<jean.dupont@example.fr>"]);
        assert_is_the_mail(&sunk.data, &mail);
    }

    #[tokio::test]
    async fn refused_recipient_is_a_permanent_error() {
        let (port, _sunk) = smtp_sink("550 no such user\r\n").await;
        let postman =
            Postman::from_config(&smtp_config(&format!("smtp://127.0.0.1:{port}"))).unwrap();
        let err = postman
            .deliver(&every_message().swap_remove(2).0.render())
            .await
            .unwrap_err();
        assert!(matches!(err, MailError::Rejected(_)), "{err}");
        assert!(err.is_permanent());
    }

    #[tokio::test]
    async fn delivery_to_a_closed_port_fails_fast() {
        let port = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let postman =
            Postman::from_config(&smtp_config(&format!("smtp://127.0.0.1:{port}"))).unwrap();
        let mail = every_message().swap_remove(2).0.render();
        let outcome = tokio::time::timeout(CONNECT_TIMEOUT, postman.deliver(&mail)).await;
        let err = outcome
            .expect("a refused connection must not hang")
            .unwrap_err();
        assert!(matches!(err, MailError::Transport(_)), "{err}");
        assert!(!err.is_permanent(), "the queue tries again later");
    }

    #[tokio::test]
    async fn silent_relay_times_out() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let held = tokio::spawn(async move { listener.accept().await.unwrap() });
        let postman = Postman::from_config(&smtp_config(&format!("smtp://127.0.0.1:{port}")))
            .unwrap()
            .with_deadline(Duration::from_millis(500));
        let mail = every_message().swap_remove(2).0.render();
        let outcome = tokio::time::timeout(Duration::from_secs(5), postman.deliver(&mail)).await;
        let err = outcome.expect("the deadline must fire").unwrap_err();
        assert!(matches!(err, MailError::Timeout(_)), "{err}");
        held.abort();
    }

    #[test]
    fn smtp_url_password_is_never_shown() {
        let secret = "s3cr%40t";
        let clear = smtp_config(&format!("smtp://apex:{secret}@relay.example.test:25"));
        let err = Postman::from_config(&clear).unwrap_err();
        assert!(matches!(err, MailError::SmtpUrl(_)), "{err}");
        assert!(!err.to_string().contains("s3cr"), "{err}");
        for url in [
            format!("smtps://apex:{secret}@relay.example.test"),
            format!("smtp://apex:{secret}@relay.example.test:587?tls=required"),
        ] {
            let postman = Postman::from_config(&smtp_config(&url)).unwrap();
            let shown = format!("{postman:?}");
            assert!(
                !shown.contains("s3cr") && shown.contains("relay.example.test"),
                "{shown}"
            );
        }
    }

    #[test]
    fn unusable_smtp_url_is_refused_at_start() {
        for url in [
            "",
            "relay.example.test",
            "http://relay.example.test",
            "smtp://relay.example.test?tls=maybe",
        ] {
            let err = Postman::from_config(&smtp_config(url)).unwrap_err();
            assert!(matches!(err, MailError::SmtpUrl(_)), "{url}: {err}");
        }
    }
}

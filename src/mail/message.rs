//! What a mail is: the message the core asks for, and the rendered mail the queue keeps.

use serde::{Deserialize, Serialize};

use crate::domain::Role;

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

impl Message<'_> {
    /// The name and address of the person the message is for.
    pub(super) fn addressee(&self) -> (&str, &str) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::samples::invitation;

    #[test]
    fn mail_survives_the_queue_as_json() {
        let mail = invitation("Élodie Lefèvre", "SARL Dupont", None).render();
        let json = serde_json::to_string(&mail).unwrap();
        assert_eq!(serde_json::from_str::<Mail>(&json).unwrap(), mail);
    }
}

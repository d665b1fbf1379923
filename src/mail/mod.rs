//! The mails the server sends: what a mail is, its French texts, their rendering into
//! a text and an HTML part, and their delivery to an outbox directory or an SMTP relay.

mod message;
mod postman;
mod render;
#[cfg(test)]
mod samples;
mod templates;

pub use message::{Mail, Message};
pub use postman::{MailError, Postman};

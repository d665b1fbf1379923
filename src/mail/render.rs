//! A message rendered: the recipient header, the prefixed subject, and the same body
//! as plain text and as HTML, every interpolated value escaped.

use lettre::message::Mailbox;

use super::templates::{Block, NO_REPLY, SERVICE_NAME, SIGNATURE, SUBJECT_PREFIX};
use super::{Mail, Message};

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

/// Header values come partly from user input: a line break must not start a new header.
pub(super) fn one_line(s: &str) -> String {
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
pub(super) fn escape(s: &str) -> String {
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
#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::samples::{LINK, invitation};

    #[test]
    fn links_are_verbatim_in_text_and_anchors_in_html() {
        let mail = invitation("Jean Dupont", "SARL Dupont", None).render();
        assert!(mail.text.lines().any(|l| l == LINK));
        let href = "href=\"https://apex.example.test/activation?jeton=abc&amp;cible=1\"";
        assert!(mail.html.contains(href), "{}", mail.html);
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
}

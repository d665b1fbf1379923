//! Delivery of rendered mails: to an outbox directory (one `.eml` file each) or to an
//! SMTP relay.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use tokio::io::AsyncWriteExt;

use super::Mail;
use super::render::one_line;
use crate::config::{MailConfig, MailTransport};

/// A dead relay (SYNs dropped) must fail fast: the mail stays queued and is tried again.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// lettre bounds only the TCP connect; a relay that accepts and then stays silent
/// would otherwise hold the queue forever.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);
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
    use crate::mail::samples::{every_message, invitation};
    use tokio::io::{AsyncBufReadExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

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

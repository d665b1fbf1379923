//! The typed configuration (`config/apex.toml`) and its environment overrides.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::domain::{PasswordPolicy, Role};

/// Default path of the configuration file.
pub const DEFAULT_CONFIG: &str = "config/apex.toml";

/// Prefix of the environment overrides: `APEX_<SECTION>__<KEY>`.
const ENV_PREFIX: &str = "APEX_";

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`
    pub server: ServerConfig,
    /// `[http]`
    pub http: HttpConfig,
    /// `[ldap]`
    pub ldap: LdapConfig,
    /// `[tls]`
    pub tls: TlsConfig,
    /// `[mail]`
    pub mail: MailConfig,
    /// `[password]`
    pub password: PasswordConfig,
    /// `[argon2]`
    pub argon2: Argon2Config,
    /// `[operator]`
    pub operator: OperatorConfig,
    /// `[catalogue]`
    pub catalogue: CatalogueConfig,
    /// `[oidc]`
    pub oidc: OidcConfig,
    /// `[management]`
    pub management: ManagementConfig,
    /// `[log]`
    pub log: LogConfig,
    /// `[store]`
    pub store: StoreConfig,
}

/// `[server]`: where the data lives and under which URL the server is reached.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Directory of the sled store.
    pub data_dir: PathBuf,
    /// Public base URL; the OIDC issuer and the base of links in mails.
    pub public_url: String,
    /// Days between a deletion request and the purge of the account.
    pub retention_days: u32,
    /// Lifetime of an API session, in minutes.
    pub session_minutes: u32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            data_dir: PathBuf::from("data"),
            public_url: "http://127.0.0.1:8080".into(),
            retention_days: 30,
            session_minutes: 60,
        }
    }
}

/// `[store]`: which engine keeps the directory.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `sled` (embedded, in `server.data_dir`: one node) or `postgres` (shared by
    /// every node).
    pub backend: StoreBackend,
    /// PostgreSQL: the connection URL, e.g. `postgres://apex@127.0.0.1:5432/apex`.
    /// Prefer `url_file` when the URL holds a password.
    pub url: String,
    /// PostgreSQL: a file holding the connection URL (one line), readable by the
    /// server's user only, so that no password is written in the configuration.
    pub url_file: String,
    /// PostgreSQL: connections kept open at most by this node.
    pub pool_size: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: StoreBackend::Sled,
            url: String::new(),
            url_file: String::new(),
            pool_size: 16,
        }
    }
}

/// `store.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// sled in `server.data_dir`.
    #[default]
    Sled,
    /// PostgreSQL at `store.url` (or `store.url_file`).
    Postgres,
}

impl StoreConfig {
    /// The PostgreSQL connection URL: `url`, or the first line of `url_file`, which
    /// must not be readable by others.
    pub fn postgres_url(&self) -> Result<String, String> {
        if !self.url_file.is_empty() {
            let path = Path::new(&self.url_file);
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path)
                    .map_err(|e| format!("store.url_file = {}: {e}", self.url_file))?
                    .permissions()
                    .mode();
                if mode & 0o007 != 0 {
                    return Err(format!(
                        "store.url_file = {}: readable by every user (mode {:o}); chmod 600 it",
                        self.url_file,
                        mode & 0o777
                    ));
                }
            }
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("store.url_file = {}: {e}", self.url_file))?;
            let url = text.lines().next().unwrap_or_default().trim().to_owned();
            if url.is_empty() {
                return Err(format!(
                    "store.url_file = {}: the file is empty",
                    self.url_file
                ));
            }
            return Ok(url);
        }
        Ok(self.url.clone())
    }
}

/// `http.listen` for a listening socket inherited as standard input (inetd's `wait`
/// style, systemd's `StandardInput=socket`): the server binds nothing itself.
pub const INHERITED_STDIN: &str = "stdin";

/// `[http]`: the web space, the JSON API and the OIDC endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address (port 0 picks a free port), or `stdin` for a listening socket
    /// inherited as standard input.
    pub listen: String,
    /// Serve HTTPS with the `[tls]` certificate.
    pub tls: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Reverse proxies (CIDR ranges) whose `X-Forwarded-For` / `Forwarded` headers name
    /// the client. From any other peer those headers are ignored. Empty: none.
    pub trusted_proxies: Vec<String>,
    /// Open connections at once, in all; beyond, new ones are closed at once.
    pub max_connections: usize,
    /// Open connections at once from one address (an IPv6 client by its /64); trusted
    /// proxies are not bound by it.
    pub max_connections_per_address: usize,
    /// Seconds a client has to complete the TLS handshake, then each request's headers
    /// (also the longest wait for the next request on a kept-alive connection).
    pub header_read_timeout_seconds: u64,
    /// Seconds a request has to be read and answered (its body included); beyond, 408.
    pub request_timeout_seconds: u64,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: "127.0.0.1:8080".into(),
            tls: false,
            max_body_bytes: 64 * 1024,
            trusted_proxies: Vec::new(),
            max_connections: 10_000,
            max_connections_per_address: 256,
            header_read_timeout_seconds: 10,
            request_timeout_seconds: 60,
        }
    }
}

/// `[log]`: how the server writes its log (to standard error). Which events are kept
/// is `APEX_LOG` (e.g. `info`, `warn,apex::security=info`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` (one human line per event, the default) or `json` (one JSON object per
    /// line, for a log collector).
    pub format: LogFormat,
}

pub use crate::logging::LogFormat;

/// `[management]`: where `/metrics` and the operator API are served.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ManagementConfig {
    /// A listen address of their own (plain HTTP, e.g. `127.0.0.1:9090`): they are then
    /// served there only, with `/healthz` and `/readyz`. Empty: on `http.listen`.
    pub listen: String,
}

/// `[ldap]`: the LDAP directory face.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LdapConfig {
    /// Plain LDAP (with StartTLS); empty disables it (the built-in default; the shipped
    /// `config/apex.toml` enables it).
    pub listen: String,
    /// LDAPS; empty disables it.
    pub ldaps_listen: String,
    /// Base DN of the tree.
    pub base_dn: String,
    /// Accept simple binds on an unencrypted connection from a loopback address.
    pub allow_plain_bind_on_loopback: bool,
    /// Largest LDAP message accepted, in bytes; a larger one closes the connection.
    pub max_message_bytes: usize,
    /// Largest number of elements in a search filter.
    pub max_filter_elements: usize,
    /// Seconds a connection may stay silent before it is closed.
    pub idle_timeout_seconds: u64,
    /// Most entries one search returns (a client's smaller limit wins); also the
    /// largest page of a paged search.
    pub size_limit: usize,
    /// Longest time one search may take, in seconds (a client's smaller limit wins).
    pub time_limit_seconds: u64,
    /// Most simultaneous connections; more are closed at once.
    pub max_connections: usize,
    /// Most simultaneous connections from one source (an IPv4 address, an IPv6 /64);
    /// more from it are closed at once.
    pub max_connections_per_address: usize,
    /// Seconds a connection may stay open without a successful bind (of a person or
    /// an application) before it is closed; anonymous reads fit in that time.
    pub bind_timeout_seconds: u64,
    /// Paged searches one connection may keep open; one more is refused.
    pub max_paged_searches_per_connection: usize,
    /// Candidate entries one paged search may keep between pages.
    pub max_paged_keys_per_search: usize,
    /// Candidate entries all paged searches of the server may keep together.
    pub max_paged_keys_total: usize,
}

impl Default for LdapConfig {
    fn default() -> Self {
        LdapConfig {
            listen: String::new(),
            ldaps_listen: String::new(),
            base_dn: "dc=apex,dc=dgfip,dc=gouv,dc=fr".into(),
            allow_plain_bind_on_loopback: true,
            max_message_bytes: 64 * 1024,
            max_filter_elements: 256,
            idle_timeout_seconds: 300,
            size_limit: 1000,
            time_limit_seconds: 30,
            max_connections: 10_000,
            max_connections_per_address: 64,
            bind_timeout_seconds: 10,
            max_paged_searches_per_connection: 8,
            max_paged_keys_per_search: 250_000,
            max_paged_keys_total: 2_000_000,
        }
    }
}

/// `[tls]`: the server certificate.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// Generate a self-signed certificate when none exists (development only).
    pub generate_dev_cert: bool,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert: PathBuf::from("certs/server.pem"),
            key: PathBuf::from("certs/server-key.pem"),
            generate_dev_cert: true,
        }
    }
}

/// How mail leaves the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// One `.eml` file per mail in `outbox_dir`.
    File,
    /// An SMTP relay at `smtp_url`.
    Smtp,
}

/// `[mail]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailConfig {
    /// `file` or `smtp`.
    pub transport: MailTransport,
    /// Where the file transport writes.
    pub outbox_dir: PathBuf,
    /// `smtps://host:port` (TLS), `smtp://host:port?tls=required` (STARTTLS), plain `smtp://` for a local relay; credentials in the userinfo.
    pub smtp_url: String,
    /// Sender mailbox.
    pub from: String,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            transport: MailTransport::File,
            outbox_dir: PathBuf::from("outbox"),
            smtp_url: String::new(),
            from: "Mon espace APEX Partenaires <ne-pas-repondre@apex.example.test>".into(),
        }
    }
}

/// Password validity: one number for every role, or one per role.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum MaxAgeDays {
    /// The same validity for every role.
    All(u32),
    /// One validity per role.
    PerRole {
        /// Days for administrateurs.
        administrateur: u32,
        /// Days for responsables.
        responsable: u32,
        /// Days for collaborateurs.
        collaborateur: u32,
    },
}

impl MaxAgeDays {
    /// Days of validity for a role (0: never expires).
    pub fn for_role(self, role: Role) -> u32 {
        match (self, role) {
            (MaxAgeDays::All(d), _) => d,
            (MaxAgeDays::PerRole { administrateur, .. }, Role::Administrateur) => administrateur,
            (MaxAgeDays::PerRole { responsable, .. }, Role::Responsable) => responsable,
            (MaxAgeDays::PerRole { collaborateur, .. }, Role::Collaborateur) => collaborateur,
        }
    }
}

/// `[password]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordConfig {
    /// Minimum length in characters.
    pub min_length: usize,
    /// Maximum length in characters.
    pub max_length: usize,
    /// Validity in days (0: never expires).
    pub max_age_days: MaxAgeDays,
    /// Previous passwords that may not be reused.
    pub history: usize,
    /// Lifetime of a password-reset link, in minutes.
    pub reset_link_minutes: u32,
    /// Lifetime of a pre-creation link, in days.
    pub invitation_days: u32,
    /// Days before expiry when the warning mail is sent.
    pub expiry_warning_days: u32,
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            min_length: 12,
            max_length: 256,
            max_age_days: MaxAgeDays::All(365),
            history: 5,
            reset_link_minutes: 30,
            invitation_days: 7,
            expiry_warning_days: 15,
        }
    }
}

impl PasswordConfig {
    /// The domain's policy from this configuration.
    pub fn policy(&self) -> PasswordPolicy {
        PasswordPolicy {
            min_length: self.min_length,
            max_length: self.max_length,
            history: self.history,
            max_age_days: Role::ALL.map(|r| self.max_age_days.for_role(r)),
        }
    }
}

/// `[argon2]`: cost of the password and secret hashes (the hasher's own type).
pub use crate::auth::password::Argon2Config;

/// `[operator]`
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorConfig {
    /// argon2id PHC strings of the operator tokens (`apex-idp hash-secret`).
    pub token_hashes: Vec<String>,
}

/// `[catalogue]`
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogueConfig {
    /// Path of the catalogue file.
    pub file: PathBuf,
}

impl Default for CatalogueConfig {
    fn default() -> Self {
        CatalogueConfig {
            file: PathBuf::from("config/catalogue.toml"),
        }
    }
}

/// `[oidc]`: lifetimes of the OpenID Connect issuer's sessions and tokens.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// Minutes without activity after which an SSO session ends.
    pub session_idle_minutes: u32,
    /// Hours after sign-in after which an SSO session ends, active or not.
    pub session_max_hours: u32,
    /// Lifetime of access tokens and ID tokens, in seconds.
    pub access_token_seconds: u32,
    /// Lifetime of a refresh-token family from its sign-in, in days.
    pub refresh_token_days: u32,
    /// Sign-ins one client address may leave pending (an authorization request that
    /// waits for its form); beyond, that address's oldest is forgotten.
    pub pending_sign_ins_per_address: usize,
    /// Sign-ins pending in all; beyond, new ones are refused (429) until some end.
    pub pending_sign_ins_total: usize,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            session_idle_minutes: 30,
            session_max_hours: 12,
            access_token_seconds: 300,
            refresh_token_days: 30,
            pending_sign_ins_per_address: 256,
            pending_sign_ins_total: 100_000,
        }
    }
}

/// One thing wrong in a configuration or catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file at fault.
    pub file: String,
    /// The key at fault (`section.key`, `application[FICOBA].oidc.redirect_uris`).
    pub key: String,
    /// The value at fault, as written.
    pub value: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() {
            write!(f, "{}: {}: {}", self.file, self.key, self.message)
        } else {
            write!(
                f,
                "{}: {} = {}: {}",
                self.file, self.key, self.value, self.message
            )
        }
    }
}

/// Every problem found while loading a file.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct Problems(pub Vec<Problem>);

impl Config {
    /// Loads the file (when it exists, or when it was named explicitly), applies the
    /// environment overrides, and checks every value.
    pub fn load(path: Option<&Path>) -> Result<Config, Problems> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_with_env(path, &vars)
    }

    /// As [`Config::load`], with the environment given explicitly.
    pub fn load_with_env(
        path: Option<&Path>,
        vars: &[(String, String)],
    ) -> Result<Config, Problems> {
        let (file, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => (PathBuf::from(DEFAULT_CONFIG), false),
        };
        let name = file.display().to_string();
        let problem = |key: &str, value: &str, message: String| Problem {
            file: name.clone(),
            key: key.to_owned(),
            value: value.to_owned(),
            message,
        };
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Problems(vec![problem("", "", format!("cannot read: {e}"))])),
        };
        let mut table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| Problems(vec![problem("", "", e.to_string())]))?;
        apply_env(&mut table, vars).map_err(|p| Problems(vec![p]))?;
        let config: Config = Config::deserialize(toml::Value::Table(table))
            .map_err(|e| Problems(vec![problem("", "", e.message().to_owned())]))?;
        let problems = config.check(&name);
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(Problems(problems))
        }
    }

    /// Checks the values that types alone do not.
    pub fn check(&self, file: &str) -> Vec<Problem> {
        let mut out = Vec::new();
        let mut bad = |key: &str, value: &str, message: &str| {
            out.push(Problem {
                file: file.to_owned(),
                key: key.to_owned(),
                value: value.to_owned(),
                message: message.to_owned(),
            })
        };
        match url::Url::parse(&self.server.public_url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.query().is_none() => {}
            _ => bad(
                "server.public_url",
                &self.server.public_url,
                "must be an http(s) URL without query",
            ),
        }
        if self.http.listen != INHERITED_STDIN && self.http.listen.parse::<SocketAddr>().is_err() {
            bad(
                "http.listen",
                &self.http.listen,
                "must be an address such as 127.0.0.1:8080, or stdin",
            );
        }
        for range in &self.http.trusted_proxies {
            if let Err(e) = range.parse::<crate::auth::addr::Cidr>() {
                bad("http.trusted_proxies", range, &e.to_string());
            }
        }
        let h = &self.http;
        for (key, value, low, high) in [
            (
                "http.max_connections",
                wide(h.max_connections),
                1,
                1_000_000,
            ),
            (
                "http.max_connections_per_address",
                wide(h.max_connections_per_address),
                1,
                1_000_000,
            ),
            (
                "http.header_read_timeout_seconds",
                h.header_read_timeout_seconds,
                1,
                300,
            ),
            (
                "http.request_timeout_seconds",
                h.request_timeout_seconds,
                1,
                3600,
            ),
        ] {
            if !(low..=high).contains(&value) {
                bad(
                    key,
                    &value.to_string(),
                    &format!("must be between {low} and {high}"),
                );
            }
        }
        let management = &self.management.listen;
        if !management.is_empty() {
            match management.parse::<SocketAddr>() {
                Err(_) => bad(
                    "management.listen",
                    management,
                    "must be an address such as 127.0.0.1:9090, or empty",
                ),
                Ok(m) if m.port() != 0 && self.http.listen.parse() == Ok(m) => bad(
                    "management.listen",
                    management,
                    "must differ from http.listen",
                ),
                Ok(_) => {}
            }
        }
        for (key, value) in [
            ("ldap.listen", &self.ldap.listen),
            ("ldap.ldaps_listen", &self.ldap.ldaps_listen),
        ] {
            if !value.is_empty() && value.parse::<SocketAddr>().is_err() {
                bad(
                    key,
                    value,
                    "must be an address such as 127.0.0.1:389, or empty",
                );
            }
        }
        let store = &self.store;
        match store.backend {
            StoreBackend::Sled => {
                if !store.url.is_empty() || !store.url_file.is_empty() {
                    bad(
                        "store.url",
                        "",
                        "is for backend = \"postgres\"; with sled the data is in server.data_dir",
                    );
                }
            }
            StoreBackend::Postgres => {
                match (store.url.is_empty(), store.url_file.is_empty()) {
                    (true, true) => bad(
                        "store.url",
                        "",
                        "backend = \"postgres\" needs url (or url_file), e.g. postgres://apex@127.0.0.1:5432/apex",
                    ),
                    (false, false) => bad(
                        "store.url_file",
                        &store.url_file,
                        "give url or url_file, not both",
                    ),
                    (false, true) => {
                        if let Err(e) = store.url.parse::<tokio_postgres::Config>() {
                            // The URL may hold a password: never echo it.
                            bad(
                                "store.url",
                                "(not shown)",
                                &format!("not a PostgreSQL URL: {e}"),
                            );
                        }
                    }
                    (true, false) => {}
                }
            }
        }
        if !(1..=1000).contains(&store.pool_size) {
            bad(
                "store.pool_size",
                &store.pool_size.to_string(),
                "must be between 1 and 1000",
            );
        }
        if self.ldap.base_dn.split(',').any(|rdn| !rdn.contains('=')) {
            bad(
                "ldap.base_dn",
                &self.ldap.base_dn,
                "must be a DN such as dc=example,dc=fr",
            );
        }
        for (key, value, low, high) in [
            (
                "ldap.max_message_bytes",
                self.ldap.max_message_bytes,
                1024,
                16 * 1024 * 1024,
            ),
            (
                "ldap.max_filter_elements",
                self.ldap.max_filter_elements,
                1,
                100_000,
            ),
            ("ldap.size_limit", self.ldap.size_limit, 1, 10_000_000),
            (
                "ldap.max_connections",
                self.ldap.max_connections,
                1,
                1_000_000,
            ),
            (
                "ldap.max_connections_per_address",
                self.ldap.max_connections_per_address,
                1,
                1_000_000,
            ),
            (
                "ldap.max_paged_searches_per_connection",
                self.ldap.max_paged_searches_per_connection,
                1,
                1_000,
            ),
            (
                "ldap.max_paged_keys_per_search",
                self.ldap.max_paged_keys_per_search,
                1,
                100_000_000,
            ),
            (
                "ldap.max_paged_keys_total",
                self.ldap.max_paged_keys_total,
                1,
                1_000_000_000,
            ),
        ] {
            if !(low..=high).contains(&value) {
                bad(
                    key,
                    &value.to_string(),
                    &format!("must be between {low} and {high}"),
                );
            }
        }
        if self.ldap.max_paged_keys_per_search > self.ldap.max_paged_keys_total {
            bad(
                "ldap.max_paged_keys_per_search",
                &self.ldap.max_paged_keys_per_search.to_string(),
                "must not exceed ldap.max_paged_keys_total",
            );
        }
        if self.ldap.max_connections_per_address > self.ldap.max_connections {
            bad(
                "ldap.max_connections_per_address",
                &self.ldap.max_connections_per_address.to_string(),
                "must not exceed ldap.max_connections",
            );
        }
        for (key, value) in [
            ("ldap.idle_timeout_seconds", self.ldap.idle_timeout_seconds),
            ("ldap.time_limit_seconds", self.ldap.time_limit_seconds),
            ("ldap.bind_timeout_seconds", self.ldap.bind_timeout_seconds),
        ] {
            // A day at most: a deadline is an instant, which a huge number overflows.
            if !(1..=86_400).contains(&value) {
                bad(key, &value.to_string(), "must be between 1 and 86400");
            }
        }
        if self.mail.transport == MailTransport::Smtp {
            match url::Url::parse(&self.mail.smtp_url) {
                Ok(u) if matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some() => {}
                _ => bad(
                    "mail.smtp_url",
                    &self.mail.smtp_url,
                    "must be smtp://host:port or smtps://host:port",
                ),
            }
        }
        if self.mail.from.parse::<lettre::message::Mailbox>().is_err() {
            bad(
                "mail.from",
                &self.mail.from,
                "must be a mailbox such as Name <address@example.fr>",
            );
        }
        if self.password.min_length < 8 {
            bad(
                "password.min_length",
                &self.password.min_length.to_string(),
                "must be at least 8",
            );
        }
        if self.password.max_length < self.password.min_length || self.password.max_length > 1024 {
            bad(
                "password.max_length",
                &self.password.max_length.to_string(),
                "must be between min_length and 1024",
            );
        }
        if self.password.reset_link_minutes == 0 || self.password.reset_link_minutes > 24 * 60 {
            bad(
                "password.reset_link_minutes",
                &self.password.reset_link_minutes.to_string(),
                "must be between 1 and 1440",
            );
        }
        if self.password.invitation_days == 0 || self.password.invitation_days > 90 {
            bad(
                "password.invitation_days",
                &self.password.invitation_days.to_string(),
                "must be between 1 and 90",
            );
        }
        let a = self.argon2;
        if argon2::Params::new(a.m_kib, a.t, a.p, None).is_err() {
            bad(
                "argon2",
                &format!("m_kib={} t={} p={}", a.m_kib, a.t, a.p),
                "invalid argon2 parameters",
            );
        }
        for (i, h) in self.operator.token_hashes.iter().enumerate() {
            if !crate::auth::password::is_argon2id_phc(h) {
                bad(
                    &format!("operator.token_hashes[{i}]"),
                    h,
                    "must be an argon2id PHC string (apex-idp hash-secret)",
                );
            }
        }
        if self.server.session_minutes == 0 {
            bad("server.session_minutes", "0", "must be at least 1");
        }
        let o = self.oidc;
        for (key, value, low, high) in [
            (
                "oidc.session_idle_minutes",
                u64::from(o.session_idle_minutes),
                1,
                24 * 60,
            ),
            (
                "oidc.session_max_hours",
                u64::from(o.session_max_hours),
                1,
                24 * 30,
            ),
            (
                "oidc.access_token_seconds",
                u64::from(o.access_token_seconds),
                30,
                3600,
            ),
            (
                "oidc.refresh_token_days",
                u64::from(o.refresh_token_days),
                1,
                365,
            ),
            (
                "oidc.pending_sign_ins_per_address",
                wide(o.pending_sign_ins_per_address),
                1,
                100_000,
            ),
            (
                "oidc.pending_sign_ins_total",
                wide(o.pending_sign_ins_total),
                1,
                10_000_000,
            ),
        ] {
            if !(low..=high).contains(&value) {
                bad(
                    key,
                    &value.to_string(),
                    &format!("must be between {low} and {high}"),
                );
            }
        }
        out
    }
}

/// A count as the range checks compare it.
fn wide(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Applies `APEX_<SECTION>__<KEY>=value` over the file's table.
fn apply_env(table: &mut toml::Table, vars: &[(String, String)]) -> Result<(), Problem> {
    for (name, raw) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let Some((section, key)) = rest.split_once("__") else {
            continue;
        };
        if section.is_empty() || key.is_empty() {
            continue;
        }
        let section = section.to_ascii_lowercase();
        let key = key.to_ascii_lowercase();
        let value = parse_env_value(raw);
        let entry = table
            .entry(section.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        let Some(sub) = entry.as_table_mut() else {
            return Err(Problem {
                file: "environment".into(),
                key: name.clone(),
                value: raw.clone(),
                message: format!("[{section}] is not a table"),
            });
        };
        sub.insert(key, value);
    }
    Ok(())
}

/// An environment value is read as TOML (numbers, booleans, arrays, tables) when it
/// parses as such, and as a plain string otherwise.
fn parse_env_value(raw: &str) -> toml::Value {
    let doc = format!("v = {raw}");
    match doc.parse::<toml::Table>() {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(raw.to_owned())),
        Err(_) => toml::Value::String(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_make_a_fresh_checkout_run() {
        let c = Config::load_with_env(Some(Path::new("config/apex.toml")), &[]).unwrap();
        assert_eq!(c.password.min_length, 12);
        assert_eq!(c.argon2.m_kib, 19_456);
    }

    #[test]
    fn environment_overrides_any_key() {
        let vars = env(&[
            ("APEX_HTTP__LISTEN", "127.0.0.1:0"),
            ("APEX_SERVER__DATA_DIR", "/var/lib/apex-idp"),
            (
                "APEX_PASSWORD__MAX_AGE_DAYS",
                "{ administrateur = 90, responsable = 365, collaborateur = 0 }",
            ),
            ("APEX_HTTP__TLS", "true"),
        ]);
        let c = Config::load_with_env(None, &vars).unwrap();
        assert_eq!(c.http.listen, "127.0.0.1:0");
        assert!(c.http.tls);
        assert_eq!(c.server.data_dir, PathBuf::from("/var/lib/apex-idp"));
        assert_eq!(c.password.policy().max_age_days, [90, 365, 0]);
    }

    #[test]
    fn every_bad_value_is_listed() {
        let vars = env(&[
            ("APEX_HTTP__LISTEN", "nowhere"),
            ("APEX_SERVER__PUBLIC_URL", "ftp://x"),
            ("APEX_PASSWORD__MIN_LENGTH", "4"),
        ]);
        let err = Config::load_with_env(None, &vars).unwrap_err();
        let keys: Vec<&str> = err.0.iter().map(|p| p.key.as_str()).collect();
        assert!(keys.contains(&"http.listen"), "{keys:?}");
        assert!(keys.contains(&"server.public_url"));
        assert!(keys.contains(&"password.min_length"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let vars = env(&[("APEX_HTTP__LISTENN", "127.0.0.1:1")]);
        let err = Config::load_with_env(None, &vars).unwrap_err();
        assert!(err.to_string().contains("listenn"), "{err}");
    }

    #[test]
    fn the_store_section_names_one_postgres_url_and_never_shows_its_password() {
        let problems = |pairs: &[(&str, &str)]| -> Vec<Problem> {
            match Config::load_with_env(None, &env(pairs)) {
                Ok(_) => Vec::new(),
                Err(p) => p.0,
            }
        };
        let keys = |ps: &[Problem]| ps.iter().map(|p| p.key.clone()).collect::<Vec<_>>();
        // PostgreSQL with a URL: accepted.
        let ok = Config::load_with_env(
            None,
            &env(&[
                ("APEX_STORE__BACKEND", "postgres"),
                ("APEX_STORE__URL", "postgres://apex@127.0.0.1:5432/apex"),
            ]),
        )
        .unwrap();
        assert_eq!(ok.store.backend, StoreBackend::Postgres);
        assert_eq!(ok.store.pool_size, 16);
        // Without a URL, with two, a URL with sled, a pool of none: each said.
        let none = problems(&[("APEX_STORE__BACKEND", "postgres")]);
        assert_eq!(keys(&none), vec!["store.url"], "{none:?}");
        let two = problems(&[
            ("APEX_STORE__BACKEND", "postgres"),
            ("APEX_STORE__URL", "postgres://apex@db/apex"),
            ("APEX_STORE__URL_FILE", "/etc/apex-idp/store-url"),
        ]);
        assert_eq!(keys(&two), vec!["store.url_file"], "{two:?}");
        let with_sled = problems(&[("APEX_STORE__URL", "postgres://apex@db/apex")]);
        assert_eq!(keys(&with_sled), vec!["store.url"], "{with_sled:?}");
        let pool = problems(&[("APEX_STORE__POOL_SIZE", "0")]);
        assert_eq!(keys(&pool), vec!["store.pool_size"], "{pool:?}");
        let engine = problems(&[("APEX_STORE__BACKEND", "mysql")]);
        assert!(!engine.is_empty());
        // A URL that does not parse is refused without being repeated: it may hold a
        // password.
        let bad = problems(&[
            ("APEX_STORE__BACKEND", "postgres"),
            ("APEX_STORE__URL", "postgres://apex:s3cr3t@db:notaport/apex"),
        ]);
        assert_eq!(keys(&bad), vec!["store.url"], "{bad:?}");
        assert!(!format!("{bad:?}").contains("s3cr3t"), "{bad:?}");
    }
}

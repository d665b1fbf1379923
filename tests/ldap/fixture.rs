//! The LDAP fixture: a real server on port 0 (HTTP, plain LDAP and LDAPS) over a
//! generated directory, a test catalogue with two applications that bind over LDAP,
//! a development certificate in a temporary directory, and real `ldap3` clients.
#![allow(dead_code)] // shared by every test module; not each uses every helper

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use apex_idp::auth::Hasher;
use apex_idp::clock::ManualClock;
use apex_idp::config::{Argon2Config, Config};
use apex_idp::directory::generate::GenerateSpec;
use apex_idp::domain::{Account, Role, Service, Structure};
use apex_idp::server::{self, Server};
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

/// The password of every generated account.
pub const PASSWORD: &str = "Cheval-Agrafe-Pile-42";
/// The bind secret of the ALPHA application.
pub const ALPHA_SECRET: &str = "alpha-ldap-secret";
/// The bind secret of the BETA application.
pub const BETA_SECRET: &str = "beta-ldap-secret";
/// The base DN of the test tree.
pub const BASE: &str = "dc=apex,dc=test";
/// Cheap hashing: tests measure rules, not argon2.
pub const CHEAP: Argon2Config = Argon2Config {
    m_kib: 64,
    t: 1,
    p: 1,
};

fn hash(secret: &str) -> String {
    Hasher::new(CHEAP).unwrap().hash_blocking(secret).unwrap()
}

/// The hash of [`PASSWORD`], computed once.
fn password_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| hash(PASSWORD)).clone()
}

/// ALPHA (two profiles, default attributes) and BETA (one profile, three attributes
/// only), both in category CSP: the generator habilitates accounts for their profiles
/// in turn (ALPHA:LECTURE, ALPHA:ECRITURE, BETA:UTILISATEUR).
fn write_catalogue(path: &Path) {
    let text = format!(
        r#"
[[category]]
code = "CSP"
label = "Centre de services partagés"
applications = ["ALPHA", "BETA"]

[[application]]
code = "ALPHA"
name = "Application Alpha"
url = "https://alpha.example.test/"
  [[application.profile]]
  code = "LECTURE"
  label = "Lecture"
  [[application.profile]]
  code = "ECRITURE"
  label = "Écriture"
  [application.ldap]
  bind_secret_hash = "{alpha}"

[[application]]
code = "BETA"
name = "Application Beta"
url = "https://beta.example.test/"
  [[application.profile]]
  code = "UTILISATEUR"
  label = "Utilisateur"
  [application.ldap]
  bind_secret_hash = "{beta}"
  attributes = ["uid", "cn", "apexSiret", "apexProfile", "memberOf"]
"#,
        alpha = hash(ALPHA_SECRET),
        beta = hash(BETA_SECRET),
    );
    std::fs::write(path, text).unwrap();
}

/// A configuration for a test server in `dir`: every listener on port 0.
pub fn test_config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.server.data_dir = dir.join("data");
    c.server.public_url = "http://apex.test".into();
    c.http.listen = "127.0.0.1:0".into();
    c.ldap.listen = "127.0.0.1:0".into();
    c.ldap.ldaps_listen = "127.0.0.1:0".into();
    c.ldap.base_dn = BASE.into();
    c.tls.cert = dir.join("certs/server.pem");
    c.tls.key = dir.join("certs/server-key.pem");
    c.tls.generate_dev_cert = true;
    c.mail.outbox_dir = dir.join("outbox");
    c.argon2 = CHEAP;
    let catalogue = dir.join("catalogue.toml");
    write_catalogue(&catalogue);
    c.catalogue.file = catalogue;
    c
}

/// How to connect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Plain LDAP.
    Plain,
    /// Plain LDAP upgraded with StartTLS.
    StartTls,
    /// LDAPS.
    Ldaps,
}

/// A running server over a generated directory.
pub struct Fixture {
    pub server: Option<Server>,
    pub clock: ManualClock,
    pub dir: tempfile::TempDir,
}

/// A small world: 2 structures, 2 services and 8 accounts each.
pub const SMALL: GenerateSpec = GenerateSpec {
    structures: 2,
    services: 2,
    accounts: 8,
};

impl Fixture {
    /// A server over a generated directory.
    pub async fn start(spec: GenerateSpec) -> Fixture {
        Self::start_with(spec, |_| {}).await
    }

    /// As [`Fixture::start`], after `tweak` changed the configuration.
    pub async fn start_with(spec: GenerateSpec, tweak: impl FnOnce(&mut Config)) -> Fixture {
        server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        let clock = ManualClock::new();
        let directory = server::open_directory(&config, Arc::new(clock.clone())).unwrap();
        directory.generate(spec, &password_hash(), |_| {}).unwrap();
        let server = server::start_with(&config, directory).await.unwrap();
        Fixture {
            server: Some(server),
            clock,
            dir,
        }
    }

    pub fn server(&self) -> &Server {
        self.server.as_ref().unwrap()
    }

    pub fn directory(&self) -> &Arc<apex_idp::directory::Directory> {
        &self.server().directory
    }

    pub fn url(&self, transport: Transport) -> String {
        match transport {
            Transport::Plain | Transport::StartTls => {
                format!("ldap://{}", self.server().ldap_addr.unwrap())
            }
            Transport::Ldaps => format!("ldaps://{}", self.server().ldaps_addr.unwrap()),
        }
    }

    /// A new, unbound connection.
    pub async fn connect(&self, transport: Transport) -> Ldap {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(Duration::from_secs(5))
            .set_no_tls_verify(true)
            .set_starttls(transport == Transport::StartTls);
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url(transport))
            .await
            .unwrap();
        ldap3::drive!(conn);
        ldap
    }

    /// A connection bound as `dn` (or a bare login) with `password`; panics on failure.
    pub async fn bound(&self, transport: Transport, dn: &str, password: &str) -> Ldap {
        let mut ldap = self.connect(transport).await;
        ldap.simple_bind(dn, password)
            .await
            .unwrap()
            .success()
            .unwrap_or_else(|e| panic!("bind of {dn}: {e}"));
        ldap
    }

    /// A connection bound as a person, over plain LDAP from loopback.
    pub async fn as_person(&self, login: &str) -> Ldap {
        self.bound(Transport::Plain, &person_dn(login), PASSWORD)
            .await
    }

    /// A connection bound as an application, over plain LDAP from loopback.
    pub async fn as_application(&self, code: &str) -> Ldap {
        let secret = if code == "ALPHA" {
            ALPHA_SECRET
        } else {
            BETA_SECRET
        };
        self.bound(Transport::Plain, &application_dn(code), secret)
            .await
    }

    /// Every structure, sorted by SIRET.
    pub fn structures(&self) -> Vec<Structure> {
        let mut out: Vec<Structure> = self.directory().structures().unwrap();
        out.sort_by(|a, b| a.siret.as_str().cmp(b.siret.as_str()));
        out
    }

    /// The accounts of a structure.
    pub fn accounts_of(&self, structure: &Structure) -> Vec<Account> {
        self.directory().accounts_of(&structure.id).unwrap()
    }

    /// The administrateur of a structure, as the core's actor.
    pub fn administrateur_of(&self, structure: &Structure) -> apex_idp::domain::Actor {
        let admin = self
            .accounts_of(structure)
            .into_iter()
            .find(|a| a.role == Role::Administrateur)
            .unwrap();
        self.directory().actor(&admin.id).unwrap().0
    }

    /// The services of a structure.
    pub fn services_of(&self, structure: &Structure) -> Vec<Service> {
        self.directory().services_of(&structure.id).unwrap()
    }

    /// Every account.
    pub fn accounts(&self) -> Vec<Account> {
        self.structures()
            .iter()
            .flat_map(|s| self.accounts_of(s))
            .collect()
    }

    /// A collaborateur of a structure.
    pub fn collaborateur(&self, structure: &Structure) -> Account {
        self.accounts_of(structure)
            .into_iter()
            .find(|a| a.role == Role::Collaborateur)
            .unwrap()
    }
}

/// The DN of a person.
pub fn person_dn(login: &str) -> String {
    format!("uid={login},ou=people,{BASE}")
}

/// The DN of an application.
pub fn application_dn(code: &str) -> String {
    format!("cn={code},ou=applications,{BASE}")
}

/// The DN of a structure.
pub fn structure_dn(siret: &str) -> String {
    format!("apexSiret={siret},ou=structures,{BASE}")
}

/// Searches and returns the entries (panics unless the result is success) .
pub async fn search(
    ldap: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> Vec<SearchEntry> {
    let (entries, _res) = ldap
        .search(base, scope, filter, attrs.to_vec())
        .await
        .unwrap()
        .success()
        .unwrap_or_else(|e| panic!("search {base} {filter}: {e}"));
    entries.into_iter().map(SearchEntry::construct).collect()
}

/// Searches and returns the entries and the result code, whatever it is.
pub async fn search_rc(
    ldap: &mut Ldap,
    base: &str,
    scope: Scope,
    filter: &str,
    attrs: &[&str],
) -> (Vec<SearchEntry>, u32) {
    let ldap3::SearchResult(entries, res) = ldap
        .search(base, scope, filter, attrs.to_vec())
        .await
        .unwrap();
    (
        entries.into_iter().map(SearchEntry::construct).collect(),
        res.rc,
    )
}

/// The DNs of entries, sorted and lower-cased.
pub fn dns(entries: &[SearchEntry]) -> Vec<String> {
    let mut out: Vec<String> = entries.iter().map(|e| e.dn.to_lowercase()).collect();
    out.sort();
    out
}

/// Result codes used by the tests (RFC 4511).
pub mod rc {
    pub const SUCCESS: u32 = 0;
    pub const PROTOCOL_ERROR: u32 = 2;
    pub const TIME_LIMIT_EXCEEDED: u32 = 3;
    pub const SIZE_LIMIT_EXCEEDED: u32 = 4;
    pub const COMPARE_FALSE: u32 = 5;
    pub const COMPARE_TRUE: u32 = 6;
    pub const AUTH_METHOD_NOT_SUPPORTED: u32 = 7;
    pub const UNAVAILABLE_CRITICAL_EXTENSION: u32 = 12;
    pub const CONFIDENTIALITY_REQUIRED: u32 = 13;
    pub const NO_SUCH_ATTRIBUTE: u32 = 16;
    pub const CONSTRAINT_VIOLATION: u32 = 19;
    pub const NO_SUCH_OBJECT: u32 = 32;
    pub const INVALID_CREDENTIALS: u32 = 49;
    pub const INSUFFICIENT_ACCESS: u32 = 50;
    pub const BUSY: u32 = 51;
    pub const UNWILLING_TO_PERFORM: u32 = 53;
    pub const ADMIN_LIMIT_EXCEEDED: u32 = 11;
}

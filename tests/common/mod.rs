//! Test support shared by the `api`, `oidc` and `web` test crates, each of which includes
//! this file with `#[path = "../common/mod.rs"] mod common;`: a real server on port 0
//! over a temporary store, a test configuration (cheap argon2, file outbox, operator
//! token), a manual clock, HTTP clients, the outbox read back mail by mail, and a
//! browser that keeps its own cookies.
//!
//! Each crate's `fixture.rs` names [`TestServer`] after its own needs (`Fixture`,
//! `Site`, `Op`) and adds its own methods to it, to [`Browser`] and to [`Resp`] in
//! further `impl` blocks (the types are local to each test crate).
// Compiled once per test crate, and no crate uses every item: what one crate leaves
// unused is not dead, another uses it.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use apex_idp::clock::ManualClock;
use apex_idp::config::{Argon2Config, Config};
use apex_idp::directory::{Directory, actor_of};
use apex_idp::domain::{AccountState, Actor};
use apex_idp::server::{self, Server};

/// Cheap hashing: tests measure rules, not argon2.
pub const CHEAP: Argon2Config = Argon2Config {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// The operator token of every test server.
pub const OPERATOR_TOKEN: &str = "operator-token-for-tests-0123456789";

/// The hash of [`OPERATOR_TOKEN`], computed once per test run.
pub fn operator_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        apex_idp::auth::Hasher::new(CHEAP)
            .unwrap()
            .hash_blocking(OPERATOR_TOKEN)
            .unwrap()
    })
    .clone()
}

/// A configuration for a test server in `dir`: listens on port 0, public URL
/// `http://apex.test`, the shipped catalogue, cheap argon2, a file outbox, the operator
/// token.
pub fn test_config(dir: &Path) -> Config {
    let mut c = Config::default();
    c.server.data_dir = dir.join("data");
    c.server.public_url = "http://apex.test".into();
    c.http.listen = "127.0.0.1:0".into();
    c.mail.outbox_dir = dir.join("outbox");
    c.argon2 = CHEAP;
    c.operator.token_hashes = vec![operator_hash()];
    c.catalogue.file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    c
}

/// An HTTP client that follows redirects (an API client).
pub fn http_client() -> reqwest::Client {
    // reqwest's TLS needs the process's crypto provider before any client is built.
    server::install_crypto_provider();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

/// An HTTP client that follows no redirect (a browser sees each one).
pub fn browser_client() -> reqwest::Client {
    server::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A person found in the directory when the server started (a demo person, on a server
/// seeded with the demo directory).
#[derive(Debug, Clone)]
pub struct DemoPerson {
    pub id: String,
    pub login: String,
    pub email: String,
    pub state: AccountState,
}

/// A running test server: its base URL, an HTTP client, the manual clock, the temporary
/// directory of its data and outbox.
pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub outbox: PathBuf,
    /// The people of the directory at start by family name, lower-case (`martin`,
    /// `petit`, `durand`, ... on the demo directory).
    pub people: HashMap<String, DemoPerson>,
    /// Mails already returned by [`TestServer::mail_to`] (or forgotten).
    seen: Mutex<HashSet<PathBuf>>,
    /// The configuration it runs with, for [`TestServer::restart`].
    config: Config,
    /// The HTTP listening socket, bound by the fixture and kept across restarts: the
    /// server's address never changes, and no other process can take it meanwhile.
    listener: std::net::TcpListener,
    counter: AtomicU32,
}

impl TestServer {
    /// Opens the core of `config` over a new manual clock, lets `prepare` fill it (demo
    /// directory, signing keys...), then starts every listener over it. `dir` holds the
    /// data and the outbox; `http` is the client of [`TestServer::http`].
    pub async fn launch(
        dir: tempfile::TempDir,
        config: &Config,
        http: reqwest::Client,
        prepare: impl AsyncFnOnce(&Arc<Directory>),
    ) -> TestServer {
        let listener = std::net::TcpListener::bind(&config.http.listen).unwrap();
        Self::launch_on(listener, dir, config, http, prepare).await
    }

    /// [`TestServer::launch`] with HTTP on `listener`, bound beforehand (see
    /// [`bound_listener`]) so that the configuration can name its address.
    pub async fn launch_on(
        listener: std::net::TcpListener,
        dir: tempfile::TempDir,
        config: &Config,
        http: reqwest::Client,
        prepare: impl AsyncFnOnce(&Arc<Directory>),
    ) -> TestServer {
        server::install_crypto_provider();
        let clock = ManualClock::new();
        let directory = server::open_directory(config, Arc::new(clock.clone())).unwrap();
        prepare(&directory).await;
        let people = people_of(&directory);
        let handed = listener.try_clone().unwrap();
        let server = server::start_on(config, directory, Some(handed))
            .await
            .unwrap();
        TestServer {
            base: format!(
                "{}://{}",
                if server.https { "https" } else { "http" },
                server.http_addr
            ),
            http,
            clock,
            server: Some(server),
            dir,
            outbox: config.mail.outbox_dir.clone(),
            people,
            seen: Mutex::new(HashSet::new()),
            config: config.clone(),
            listener,
            counter: AtomicU32::new(0),
        }
    }

    /// Stops the server as a service stop does, then starts it again over the same data
    /// directory, configuration, addresses and clock.
    pub async fn restart(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
        let clock = Arc::new(self.clock.clone());
        let directory = server::open_directory(&self.config, clock).unwrap();
        let handed = self.listener.try_clone().unwrap();
        self.server = Some(
            server::start_on(&self.config, directory, Some(handed))
                .await
                .unwrap(),
        );
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.server.as_ref().unwrap().directory
    }

    /// The absolute URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A unique suffix for names and addresses.
    pub fn unique(&self) -> u32 {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    /// A person of the directory at start, by lower-case family name.
    pub fn person(&self, family: &str) -> DemoPerson {
        self.people
            .get(family)
            .unwrap_or_else(|| panic!("no demo person {family}"))
            .clone()
    }

    /// The matrix's view of a person of the directory, for acting through the core.
    pub fn actor(&self, family: &str) -> Actor {
        actor_of(&self.directory().account(&self.person(family).id).unwrap())
    }

    /// A browser without cookies, on [`TestServer::http`] (the web and OIDC fixtures
    /// give it a client that follows no redirect).
    pub fn browser(&self) -> Browser {
        Browser {
            base: self.base.clone(),
            http: self.http.clone(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    /// A browser without cookies whose connections come from `source` (a loopback
    /// address such as 127.0.0.9), following no redirect.
    pub fn browser_from(&self, source: std::net::IpAddr) -> Browser {
        server::install_crypto_provider();
        Browser {
            base: self.base.clone(),
            http: reqwest::Client::builder()
                .no_proxy()
                .local_address(source)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    /// Waits for the next mail to `email` not seen yet, and returns its decoded text.
    pub async fn mail_to(&self, email: &str) -> String {
        for _ in 0..500 {
            for path in self.mail_files() {
                if self.seen.lock().unwrap().contains(&path) {
                    continue;
                }
                let text = decode_qp(&std::fs::read_to_string(&path).unwrap());
                let to = text
                    .lines()
                    .find(|l| l.starts_with("To:"))
                    .unwrap_or_default()
                    .to_owned();
                if to.contains(email) {
                    self.seen.lock().unwrap().insert(path);
                    return text;
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no mail to {email} within 5 s");
    }

    /// The one-time link token that follows `marker` in the next mail to `email`.
    pub async fn link_to(&self, email: &str, marker: &str) -> String {
        link_token(&self.mail_to(email).await, marker)
    }

    /// The `.eml` files of the outbox, oldest first.
    fn mail_files(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap(), p))
            .collect();
        files.sort();
        files.into_iter().map(|(_, p)| p).collect()
    }

    /// Waits (5 s at most) for the mail queue to be empty; whether it is.
    async fn mail_queue_drained(&self) -> bool {
        let depth = || self.directory().mail_queue_depth();
        for _ in 0..500 {
            if depth() == 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        depth() == 0
    }

    /// Marks every mail written so far as seen (the demo's own).
    pub async fn forget_mails(&self) {
        self.mail_queue_drained().await;
        if let Ok(entries) = std::fs::read_dir(&self.outbox) {
            let mut seen = self.seen.lock().unwrap();
            for e in entries.filter_map(|e| e.ok()) {
                seen.insert(e.path());
            }
        }
    }

    /// Number of `.eml` files in the outbox once the mail queue is empty.
    pub async fn outbox_settled(&self) -> usize {
        assert!(self.mail_queue_drained().await, "the mail queue drains");
        self.mail_files().len()
    }
}

/// The people of `directory` by lower-case family name.
fn people_of(directory: &Directory) -> HashMap<String, DemoPerson> {
    let mut people = HashMap::new();
    for s in directory.structures().unwrap() {
        for a in directory.accounts_of(&s.id).unwrap() {
            people.insert(
                a.person.family_name.to_lowercase(),
                DemoPerson {
                    id: a.id.clone(),
                    login: a.login.clone().unwrap_or_default(),
                    email: a.person.email.clone(),
                    state: a.state,
                },
            );
        }
    }
    people
}

/// Extracts the one-time token that follows `marker` in a mail.
pub fn link_token(mail: &str, marker: &str) -> String {
    let start = mail
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} link in mail:\n{mail}"))
        + marker.len();
    mail[start..start + 43].to_owned()
}

/// Decodes quoted-printable soft breaks and escapes (enough for our mails).
pub fn decode_qp(raw: &str) -> String {
    let unfolded = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = unfolded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && bytes[i + 1].is_ascii_hexdigit()
            && bytes[i + 2].is_ascii_hexdigit()
        {
            out.push(u8::from_str_radix(&unfolded[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An HTTP answer, read whole.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Resp {
    /// A header's value, empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Every `Set-Cookie` header, as sent.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }

    /// The value of a hidden field of the page's form.
    pub fn hidden(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\" value=\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body))
            + marker.len();
        let end = self.body[start..].find('"').unwrap() + start;
        self.body[start..end].to_owned()
    }
}

/// A loopback listening socket on a port of the system's choice, and that port, for a
/// server whose configuration must name its address (its public URL): the socket is
/// handed to the server as it is, never closed and bound again, so no other test can
/// take the port in between.
pub fn bound_listener() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

/// A browser: follows nothing by itself, keeps its cookies (set and removed by the
/// server's `Set-Cookie`) and sends them back.
pub struct Browser {
    base: String,
    /// The client of the server this browser was opened on.
    pub http: reqwest::Client,
    pub cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    /// A browser without cookies, for the server at `base`.
    pub fn new(base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            http: browser_client(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    /// The absolute URL of `path` on the server this browser was opened on.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends `request` with this browser's cookies; keeps what the answer sets.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Resp {
        let resp = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        for c in headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            let mut jar = self.cookies.lock().unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_owned(), value.to_owned());
            }
        }
        let body = resp.text().await.unwrap();
        Resp {
            status,
            headers,
            body,
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.lock().unwrap().contains_key(name)
    }
}

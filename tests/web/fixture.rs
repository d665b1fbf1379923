//! The web fixture: a real server on port 0 over the demo directory (people of every
//! role and state), a manual clock, cheap argon2 and a file outbox; browsers that keep
//! their own cookies and follow no redirect.
#![allow(dead_code)] // shared by every test module; not each uses every helper

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apex_idp::clock::ManualClock;
use apex_idp::config::{Argon2Config, Config};
use apex_idp::directory::{Directory, actor_of};
use apex_idp::domain::{AccountState, Actor};
use apex_idp::server::{self, Server};

/// The password of every demo person.
pub const PASSWORD: &str = apex_idp::demo::DEMO_PASSWORD;
/// A password every policy accepts.
pub const NEW_PASSWORD: &str = "Girafe-Velours-Tuba-93";

const CHEAP: Argon2Config = Argon2Config {
    m_kib: 64,
    t: 1,
    p: 1,
};

/// A person of the demo directory.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub login: String,
    pub email: String,
    pub state: AccountState,
}

/// A running server over the demo directory.
pub struct Site {
    pub base: String,
    http: reqwest::Client,
    pub clock: ManualClock,
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    pub outbox: PathBuf,
    /// Demo people by family name, lower-case (`martin`, `petit`, `durand`, ...).
    pub people: HashMap<String, Person>,
    seen: Mutex<HashSet<PathBuf>>,
}

impl Site {
    pub async fn start() -> Site {
        Self::start_at("http://apex.test").await
    }

    /// A server whose `public_url` is `public_url`.
    pub async fn start_at(public_url: &str) -> Site {
        Self::launch(public_url, true).await
    }

    /// A server over an empty directory.
    pub async fn empty() -> Site {
        Self::launch("http://apex.test", false).await
    }

    async fn launch(public_url: &str, demo: bool) -> Site {
        server::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::default();
        config.server.data_dir = dir.path().join("data");
        config.server.public_url = public_url.into();
        config.http.listen = "127.0.0.1:0".into();
        config.mail.outbox_dir = dir.path().join("outbox");
        config.argon2 = CHEAP;
        config.catalogue.file =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
        let clock = ManualClock::new();
        let directory = server::open_directory(&config, Arc::new(clock.clone())).unwrap();
        if demo {
            apex_idp::demo::seed(&directory).await.unwrap();
        }
        let mut people = HashMap::new();
        for s in directory.structures().unwrap() {
            for a in directory.accounts_of(&s.id).unwrap() {
                people.insert(
                    a.person.family_name.to_lowercase(),
                    Person {
                        id: a.id.clone(),
                        login: a.login.clone().unwrap_or_default(),
                        email: a.person.email.clone(),
                        state: a.state,
                    },
                );
            }
        }
        let server = server::start_with(&config, directory).await.unwrap();
        let base = format!("http://{}", server.http_addr);
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Site {
            base,
            http,
            clock,
            server: Some(server),
            outbox: dir.path().join("outbox"),
            dir,
            people,
            seen: Mutex::new(HashSet::new()),
        }
    }

    pub fn directory(&self) -> &Arc<Directory> {
        &self.server.as_ref().unwrap().directory
    }

    pub fn person(&self, family: &str) -> Person {
        self.people
            .get(family)
            .unwrap_or_else(|| panic!("no demo person {family}"))
            .clone()
    }

    /// The matrix's view of a demo person, for setting up through the core.
    pub fn actor(&self, family: &str) -> Actor {
        actor_of(&self.directory().account(&self.person(family).id).unwrap())
    }

    /// A browser without cookies.
    pub fn browser(&self) -> Browser {
        Browser {
            base: self.base.clone(),
            http: self.http.clone(),
            cookies: Mutex::new(HashMap::new()),
        }
    }

    /// A browser signed in as a demo person.
    pub async fn signed_in(&self, family: &str) -> Browser {
        self.signed_in_as(&self.person(family).login).await
    }

    /// A browser signed in with an identifier (and the demo password).
    pub async fn signed_in_as(&self, login: &str) -> Browser {
        let b = self.browser();
        let family = login;
        let page = b.get("/").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let r = b
            .post("/", &[("login", login), ("password", PASSWORD)])
            .await;
        assert_eq!(r.status, 303, "sign-in of {family}: {}", r.body);
        assert_eq!(r.location(), "/applications");
        b
    }

    /// Waits for the next mail to `email` not seen yet; returns its decoded text.
    pub async fn mail_to(&self, email: &str) -> String {
        for _ in 0..500 {
            if let Ok(entries) = std::fs::read_dir(&self.outbox) {
                let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                    .map(|p| (std::fs::metadata(&p).and_then(|m| m.modified()).unwrap(), p))
                    .collect();
                files.sort();
                for (_, path) in files {
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
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no mail to {email} within 5 s");
    }

    /// Marks every mail written so far as seen (the demo's own).
    pub async fn forget_mails(&self) {
        for _ in 0..500 {
            if apex_idp::directory::mailqueue::depth(self.directory().store()) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        if let Ok(entries) = std::fs::read_dir(&self.outbox) {
            let mut seen = self.seen.lock().unwrap();
            for e in entries.filter_map(|e| e.ok()) {
                seen.insert(e.path());
            }
        }
    }

    /// The one-time link token that follows `marker` in the next mail to `email`.
    pub async fn link_to(&self, email: &str, marker: &str) -> String {
        link_token(&self.mail_to(email).await, marker)
    }
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
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn location(&self) -> String {
        self.header("location").to_owned()
    }

    /// Asserts the status, showing the body when it differs.
    #[track_caller]
    pub fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "{}", self.body);
        self
    }

    /// Asserts that the body contains `text`.
    #[track_caller]
    pub fn shows(&self, text: &str) -> &Self {
        assert!(
            self.body.contains(text),
            "expected {text:?} in:\n{}",
            self.body
        );
        self
    }

    /// Asserts that the body does not contain `text`.
    #[track_caller]
    pub fn hides(&self, text: &str) -> &Self {
        assert!(
            !self.body.contains(text),
            "did not expect {text:?} in:\n{}",
            self.body
        );
        self
    }

    /// The `main` element's content.
    pub fn main(&self) -> &str {
        let start = self.body.find("<main").unwrap_or(0);
        let end = self.body.find("</main>").unwrap_or(self.body.len());
        &self.body[start..end]
    }

    /// Asserts that the page tells the field `id` is wrong: the input is marked invalid
    /// and described by its error, and the summary links to it.
    #[track_caller]
    pub fn field_error(&self, id: &str) -> &Self {
        self.shows(&format!("href=\"#{id}\""));
        self.shows(&format!("id=\"{id}-erreur\""));
        let input = self
            .body
            .split(&format!("id=\"{id}\""))
            .nth(1)
            .and_then(|rest| rest.split('>').next())
            .unwrap_or_else(|| panic!("no field {id} in:\n{}", self.body));
        assert!(input.contains("aria-invalid=\"true\""), "{input}");
        assert!(input.contains(&format!("{id}-erreur")), "{input}");
        assert!(self.body.contains("<title>Erreur : "), "title says error");
        self
    }
}

/// A browser: follows nothing by itself, keeps cookies, signs its forms with the CSRF
/// token of its cookie (as the pages' hidden field does).
pub struct Browser {
    base: String,
    http: reqwest::Client,
    pub cookies: Mutex<HashMap<String, String>>,
}

impl Browser {
    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn read(&self, resp: reqwest::Response) -> Resp {
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

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> Resp {
        let resp = self
            .http
            .get(self.url(path))
            .header("cookie", self.cookie_header())
            .header("accept", "text/html")
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    /// Posts a form with this browser's CSRF token.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let csrf = self.csrf();
        let mut fields: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        self.post_raw(path, &fields).await
    }

    /// Posts a form exactly as given (no CSRF token added).
    pub async fn post_raw(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        let resp = self
            .http
            .post(self.url(path))
            .header("cookie", self.cookie_header())
            .header("accept", "text/html")
            .form(form)
            .send()
            .await
            .unwrap();
        self.read(resp).await
    }

    /// The CSRF token of this browser (its cookie); empty before the first page.
    pub fn csrf(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .get("apex_csrf")
            .cloned()
            .unwrap_or_default()
    }

    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.lock().unwrap().contains_key(name)
    }
}

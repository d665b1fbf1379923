//! The shared fixture: a real server on port 0 with a temporary store, a file outbox,
//! a manual clock and cheap argon2 parameters; real HTTP through reqwest.
#![allow(dead_code)] // shared by every test module; not each uses every helper

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use apex_idp::clock::ManualClock;
use apex_idp::config::{Argon2Config, Config};
use apex_idp::domain::login::fold;
use apex_idp::server::{self, Server};
use serde_json::{Value, json};

/// The password every test person chooses.
pub const PASSWORD: &str = "Cheval-Agrafe-Pile-42";
/// The operator token of the fixture.
pub const OPERATOR_TOKEN: &str = "operator-token-for-tests-0123456789";
/// Cheap hashing: tests measure rules, not argon2.
pub const CHEAP: Argon2Config = Argon2Config {
    m_kib: 64,
    t: 1,
    p: 1,
};

fn operator_hash() -> String {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        apex_idp::auth::Hasher::new(CHEAP)
            .unwrap()
            .hash_blocking(OPERATOR_TOKEN)
            .unwrap()
    })
    .clone()
}

/// A configuration for a test server in `dir`.
pub fn test_config(dir: &std::path::Path) -> Config {
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

/// A person of a test structure, signed in.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub login: String,
    pub email: String,
    pub token: String,
}

/// A running test server.
pub struct Fixture {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub outbox: PathBuf,
    pub server: Option<Server>,
    pub dir: tempfile::TempDir,
    seen: Mutex<HashSet<PathBuf>>,
    counter: std::sync::atomic::AtomicU32,
}

impl Fixture {
    pub async fn start() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        Self::start_with(dir, config).await
    }

    pub async fn start_with(dir: tempfile::TempDir, config: Config) -> Fixture {
        server::install_crypto_provider();
        let clock = ManualClock::new();
        let server = server::start(&config, Arc::new(clock.clone()))
            .await
            .unwrap();
        let base = format!("http://{}", server.http_addr);
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        Fixture {
            base,
            http,
            clock,
            outbox: config.mail.outbox_dir.clone(),
            server: Some(server),
            dir,
            seen: Mutex::new(HashSet::new()),
            counter: Default::default(),
        }
    }

    pub fn directory(&self) -> &Arc<apex_idp::directory::Directory> {
        &self.server.as_ref().unwrap().directory
    }

    /// A unique suffix for names and addresses.
    pub fn unique(&self) -> u32 {
        self.counter
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    }

    /// One API call; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/api/v1{}", self.base, path);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn op(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(Some(OPERATOR_TOKEN), method, path, body).await
    }

    pub async fn sign_in(&self, login: &str, password: &str) -> String {
        let (s, v) = self
            .call(
                None,
                "POST",
                "/sessions",
                Some(json!({"login": login, "password": password})),
            )
            .await;
        assert_eq!(s, 201, "sign-in of {login}: {v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// Waits for the next mail to `email` not seen yet, and returns its decoded text.
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
                    let to_line = text
                        .lines()
                        .find(|l| l.starts_with("To:"))
                        .unwrap_or_default()
                        .to_owned();
                    if to_line.contains(email) {
                        self.seen.lock().unwrap().insert(path);
                        return text;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no mail to {email} within 5 s");
    }

    /// Operator: creates a structure and returns its id.
    pub async fn structure(&self, siret: &str, name: &str) -> String {
        let (s, v) = self
            .op(
                "POST",
                "/operator/structures",
                Some(json!({"siret": siret, "category": "CSP", "name": name})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Operator invites an administrateur, who completes his form and signs in.
    pub async fn admin(&self, structure_id: &str, given: &str, family: &str) -> Person {
        let email = format!(
            "{}.{}{}@example.fr",
            fold(given),
            fold(family),
            self.unique()
        );
        let (s, v) = self
            .op(
                "POST",
                &format!("/operator/structures/{structure_id}/administrateurs"),
                Some(json!({"email": email, "given_name": given, "family_name": family})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let link = link_token(&self.mail_to(&email).await, "/invitations/");
        let (s, v) = self
            .call(
                None,
                "POST",
                &format!("/invitations/{link}"),
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["state"], "active");
        let login = v["login"].as_str().unwrap().to_owned();
        let token = self.sign_in(&login, PASSWORD).await;
        Person {
            id,
            login,
            email,
            token,
        }
    }

    /// An administrateur (or responsable) pre-creates an account; its holder completes
    /// the form; `validator` validates it; the person signs in.
    pub async fn member(
        &self,
        inviter: &Person,
        validator: &Person,
        role: &str,
        service_id: &str,
        given: &str,
        family: &str,
    ) -> Person {
        let invited = self.invite(inviter, role, service_id, given, family).await;
        self.complete(&invited).await;
        let (s, v) = self
            .call(
                Some(&validator.token),
                "POST",
                &format!("/accounts/{}/validate", invited.id),
                None,
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let login = v["login"].as_str().unwrap().to_owned();
        let mail = self.mail_to(&invited.email).await;
        assert!(mail.contains(&login), "identifier mail names the login");
        let token = self.sign_in(&login, PASSWORD).await;
        Person {
            login,
            token,
            ..invited
        }
    }

    /// Pre-creates an account (state invited); login and token are empty.
    pub async fn invite(
        &self,
        inviter: &Person,
        role: &str,
        service_id: &str,
        given: &str,
        family: &str,
    ) -> Person {
        let email = format!(
            "{}.{}{}@example.fr",
            fold(given),
            fold(family),
            self.unique()
        );
        let (s, v) = self
            .call(
                Some(&inviter.token),
                "POST",
                "/accounts",
                Some(json!({"role": role, "service_id": service_id, "email": email, "given_name": given, "family_name": family})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        Person {
            id: v["id"].as_str().unwrap().to_owned(),
            login: String::new(),
            email,
            token: String::new(),
        }
    }

    /// The holder of an invitation completes his form (state awaiting_validation).
    pub async fn complete(&self, invited: &Person) {
        let link = link_token(&self.mail_to(&invited.email).await, "/invitations/");
        let (s, v) = self
            .call(
                None,
                "POST",
                &format!("/invitations/{link}"),
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }

    /// Creates a service and returns its id.
    pub async fn service(&self, admin: &Person, name: &str) -> String {
        let (s, v) = self
            .call(
                Some(&admin.token),
                "POST",
                "/services",
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// The account as its structure sees it.
    pub async fn account(&self, viewer: &Person, id: &str) -> Value {
        let (s, v) = self
            .call(Some(&viewer.token), "GET", &format!("/accounts/{id}"), None)
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// Number of audit events and whether the chain is intact (operator view).
    pub async fn audit_chain(&self) -> (u64, bool) {
        let (s, v) = self.op("GET", "/operator/audit", None).await;
        assert_eq!(s, 200);
        (
            v["chain"]["events"].as_u64().unwrap_or(0),
            v["chain"]["intact"] == true,
        )
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

/// Two structures, each with an administrateur, two services, a responsable per
/// service, and a collaborateur per service. Used to test every cell across structures.
pub struct World {
    pub f: Fixture,
    pub a: Side,
    pub b: Side,
}

/// One structure of the world.
pub struct Side {
    pub structure_id: String,
    pub admin: Person,
    pub s1: String,
    pub s2: String,
    pub resp1: Person,
    pub resp2: Person,
    pub collab1: Person,
    pub collab2: Person,
}

impl World {
    pub async fn build() -> World {
        let f = Fixture::start().await;
        let a = Self::side(&f, "73282932000074", "Structure A").await;
        let b = Self::side(&f, "35600000049837", "Structure B").await;
        World { f, a, b }
    }

    async fn side(f: &Fixture, siret: &str, name: &str) -> Side {
        let structure_id = f.structure(siret, name).await;
        let admin = f.admin(&structure_id, "Anne", "Admin").await;
        let s1 = f.service(&admin, "Service un").await;
        let s2 = f.service(&admin, "Service deux").await;
        let resp1 = f
            .member(&admin, &admin, "responsable", &s1, "Rémi", "Resp")
            .await;
        let resp2 = f
            .member(&admin, &admin, "responsable", &s2, "Rose", "Resp")
            .await;
        let collab1 = f
            .member(&admin, &admin, "collaborateur", &s1, "Colin", "Collab")
            .await;
        let collab2 = f
            .member(&admin, &admin, "collaborateur", &s2, "Cléa", "Collab")
            .await;
        Side {
            structure_id,
            admin,
            s1,
            s2,
            resp1,
            resp2,
            collab1,
            collab2,
        }
    }
}

/// Asserts that an answer is the problem document of `rule` with `status`.
#[track_caller]
pub fn assert_problem(answer: &(u16, Value), status: u16, rule: &str) {
    assert_eq!(
        answer.0, status,
        "expected {status} {rule}, got {}",
        answer.1
    );
    assert_eq!(
        answer.1["type"],
        format!("urn:apex-idp:problem:{rule}"),
        "expected rule {rule}"
    );
}

/// The `id` of every object of a JSON array.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// The strings of a JSON array (profiles of an account).
pub fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What a refused call must leave as it was: both structures as their administrateurs
/// see them, and the number of audit events.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub a: Value,
    pub b: Value,
    pub audit_events: u64,
}

impl World {
    /// Both structures (services and accounts) and the audit log's length, now.
    pub async fn snapshot(&self) -> Snapshot {
        let (sa, a) = self
            .f
            .call(Some(&self.a.admin.token), "GET", "/structure", None)
            .await;
        let (sb, b) = self
            .f
            .call(Some(&self.b.admin.token), "GET", "/structure", None)
            .await;
        assert_eq!((sa, sb), (200, 200));
        let (audit_events, intact) = self.f.audit_chain().await;
        assert!(intact, "the audit chain is intact");
        Snapshot { a, b, audit_events }
    }
}

impl Fixture {
    /// The habilitations of an account, as `viewer` sees them.
    pub async fn habilitations(&self, viewer: &Person, id: &str) -> Vec<String> {
        strings(&self.account(viewer, id).await["habilitations"])
    }

    /// The delegations of an account, as `viewer` sees them.
    pub async fn delegations(&self, viewer: &Person, id: &str) -> Vec<String> {
        strings(&self.account(viewer, id).await["delegations"])
    }

    /// Grants (`PUT`) or removes (`DELETE`) a habilitation.
    pub async fn habilitate(
        &self,
        actor: &Person,
        method: &str,
        id: &str,
        profile: &str,
    ) -> (u16, Value) {
        let path = format!("/accounts/{id}/habilitations/{profile}");
        self.call(Some(&actor.token), method, &path, None).await
    }

    /// Delegates (`PUT`) or removes (`DELETE`) a delegation.
    pub async fn delegate(
        &self,
        actor: &Person,
        method: &str,
        id: &str,
        profile: &str,
    ) -> (u16, Value) {
        let path = format!("/accounts/{id}/delegations/{profile}");
        self.call(Some(&actor.token), method, &path, None).await
    }

    /// Requests the deletion of an account.
    pub async fn request_deletion(&self, actor: &Person, id: &str) -> (u16, Value) {
        let path = format!("/accounts/{id}/deletion-request");
        self.call(Some(&actor.token), "POST", &path, None).await
    }
}

/// A raw HTTP answer: status, headers and body (JSON when it parses, else a string).
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl RawReply {
    /// A header's value, empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl Fixture {
    /// One request with full control: `path` is absolute from the server root (not under
    /// `/api/v1`), the body is sent as is with the given content type.
    pub async fn send_raw(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> RawReply {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        RawReply {
            status,
            headers,
            body,
        }
    }

    /// Number of `.eml` files in the outbox once the mail queue is empty.
    pub async fn outbox_settled(&self) -> usize {
        for _ in 0..500 {
            if apex_idp::directory::mailqueue::depth(self.directory().store()) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            apex_idp::directory::mailqueue::depth(self.directory().store()),
            0,
            "the mail queue drains"
        );
        std::fs::read_dir(&self.outbox)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0)
    }
}

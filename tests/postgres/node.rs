//! One node of a test: a real `apex-idp serve --dev` process on port 0 over a shared
//! PostgreSQL database, its configuration (file outbox, operator token), the demo
//! directory seeded into the database, and calls of its JSON API.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apex_idp::clock::SystemClock;
use apex_idp::config::Config;
use apex_idp::demo::{DEMO_PASSWORD, DemoSignIn};
use apex_idp::domain::{AccountState, Role};
use serde_json::{Value, json};

use crate::common::operator_hash;

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");

/// The configuration file of a node over `url`, in `dir`.
fn config_text(dir: &Path, url: &str) -> String {
    let catalogue = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    format!(
        r#"
[server]
data_dir = "{dir}/data"
public_url = "http://apex.test"
[http]
listen = "127.0.0.1:0"
[ldap]
listen = "127.0.0.1:0"
[tls]
cert = "{dir}/server.pem"
key = "{dir}/server-key.pem"
[mail]
outbox_dir = "{dir}/outbox"
[argon2]
m_kib = 64
t = 1
p = 1
[operator]
token_hashes = ["{operator}"]
[catalogue]
file = "{catalogue}"
[store]
backend = "postgres"
url = "{url}"
pool_size = 8
"#,
        dir = dir.display(),
        catalogue = catalogue.display(),
        operator = operator_hash(),
    )
}

/// Opens the directory of the database at `url` in this process, as a node would.
fn open(url: &str) -> (tempfile::TempDir, Arc<apex_idp::directory::Directory>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apex.toml");
    std::fs::write(&path, config_text(dir.path(), url)).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    let directory = apex_idp::server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    (dir, directory)
}

/// Fills the database with the demo directory, as a node would at its first start;
/// returns the sign-ins.
pub async fn seed(url: &str) -> Vec<DemoSignIn> {
    let (_dir, directory) = open(url);
    apex_idp::demo::seed(&directory).await.unwrap()
}

/// The mails waiting in the shared queue of the database at `url`.
pub fn mail_queue_depth(url: &str) -> usize {
    open(url).1.mail_queue_depth()
}

/// A running node.
pub struct Node {
    child: Child,
    pub base: String,
    pub ldap: String,
    pub http: reqwest::Client,
    /// Where this node's file transport writes the mails it sends.
    pub outbox: PathBuf,
    _dir: tempfile::TempDir,
}

impl Node {
    /// Starts a node over the database at `url` and waits until it listens.
    pub fn start(url: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("apex.toml");
        std::fs::write(&path, config_text(dir.path(), url)).unwrap();
        let mut child = Command::new(BIN)
            .args(["serve", "--dev", "--config"])
            .arg(&path)
            .current_dir(dir.path())
            .env("APEX_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = std::io::BufReader::new(stdout).lines();
        let (mut base, mut ldap) = (None, None);
        while base.is_none() || ldap.is_none() {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("the node stopped before listening"))
                .unwrap();
            if let Some(addr) = line.strip_prefix("listening http ") {
                base = Some(format!("http://{addr}"));
            }
            if let Some(addr) = line.strip_prefix("listening ldap ") {
                ldap = Some(format!("ldap://{addr}"));
            }
        }
        // Keep reading what it prints, so that it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        apex_idp::server::install_crypto_provider();
        Node {
            child,
            base: base.unwrap_or_default(),
            ldap: ldap.unwrap_or_default(),
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
            outbox: dir.path().join("outbox"),
            _dir: dir,
        }
    }

    /// Kills the process with SIGKILL (no shutdown of any kind) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// A JSON API call; the status (0 when no answer came) and the body.
    pub async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let url = format!("{}/api/v1{path}", self.base);
        let mut request = self.http.request(method.parse().unwrap(), url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        if let Some(b) = body {
            request = request.json(&b);
        }
        let Ok(reply) = request.send().await else {
            return (0, Value::Null);
        };
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn sign_in(&self, login: &str) -> String {
        let (status, body) = self
            .call(
                None,
                "POST",
                "/sessions",
                Some(json!({"login": login, "password": DEMO_PASSWORD})),
            )
            .await;
        assert_eq!(status, 201, "sign-in of {login}: {body}");
        body["token"].as_str().unwrap().to_owned()
    }

    /// The status of a GET of `path` (0 when no answer came).
    pub async fn get(&self, path: &str) -> u16 {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }

    /// The mail queue depth that `/metrics` reports, if it answers.
    pub async fn mail_queue_depth(&self) -> Option<usize> {
        let reply = self
            .http
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .ok()?;
        let text = reply.text().await.ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("apex_mail_queue_depth "))
            .and_then(|n| n.trim().parse().ok())
    }

    /// The `.eml` files this node has written.
    pub fn mails(&self) -> Vec<PathBuf> {
        let Ok(entries) = std::fs::read_dir(&self.outbox) else {
            return Vec::new();
        };
        entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect()
    }

    /// Waits (a minute at most) until the node is ready again; whether it is.
    pub async fn ready(&self) -> bool {
        eventually(Duration::from_secs(60), async || {
            self.get("/readyz").await == 200
        })
        .await
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` until it holds or `deadline` has passed; whether it held. The deadline
/// only bounds a test that would hang: nothing is asserted about how long it took.
pub async fn eventually(deadline: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The login of the first demo person of `role` who is active.
pub fn active(signins: &[DemoSignIn], role: Role) -> String {
    signins
        .iter()
        .find(|s| s.role == role && s.state == AccountState::Active)
        .map(|s| s.login.clone())
        .unwrap()
}

/// The structure the demo creates first, with people of every role, services,
/// delegations and habilitations of both applications.
const FIRST_STRUCTURE: &str = "Cabinet Martin & Associés";

/// The login of the active person of `role` of the demo's first structure (the
/// sign-ins come in the order of the structures' ids, which are random: the first of
/// them may be either structure).
pub fn of_first_structure(signins: &[DemoSignIn], role: Role) -> String {
    signins
        .iter()
        .find(|s| {
            s.structure == FIRST_STRUCTURE && s.role == role && s.state == AccountState::Active
        })
        .map(|s| s.login.clone())
        .unwrap_or_else(|| panic!("no active {role:?} in {FIRST_STRUCTURE}"))
}

/// The active administrateur of the demo's first structure.
pub fn administrateur(signins: &[DemoSignIn]) -> String {
    of_first_structure(signins, Role::Administrateur)
}

/// `n` written with letters only (`a` for 0 ... `j` for 9), for names that refuse
/// digits or must not contain one another.
pub fn letters(n: usize) -> String {
    format!("{n:03}")
        .bytes()
        .map(|d| char::from(b'a' + (d - b'0')))
        .collect()
}

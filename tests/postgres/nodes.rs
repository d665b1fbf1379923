//! Several nodes over one PostgreSQL database, each a real `apex-idp serve` process on
//! port 0, driven over HTTP and LDAP: what one node acknowledges, the next read of any
//! other sees; sessions made on one node work on the others; racing writers on two
//! nodes keep the invariants; a node whose database stops answers 503 and recovers by
//! itself.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use apex_idp::clock::SystemClock;
use apex_idp::config::Config;
use apex_idp::demo::{DEMO_PASSWORD, DemoSignIn};
use apex_idp::domain::{AccountState, Role};
use serde_json::{Value, json};

use crate::cluster::Cluster;

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
[catalogue]
file = "{catalogue}"
[store]
backend = "postgres"
url = "{url}"
pool_size = 8
"#,
        dir = dir.display(),
        catalogue = catalogue.display(),
    )
}

/// Fills the database with the demo directory, as a node would at its first start;
/// returns the sign-ins.
pub async fn seed(url: &str) -> Vec<DemoSignIn> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("apex.toml");
    std::fs::write(&path, config_text(dir.path(), url)).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    let directory = apex_idp::server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    let signins = apex_idp::demo::seed(&directory).await.unwrap();
    drop(directory);
    signins
}

/// A running node.
pub struct Node {
    child: Child,
    base: String,
    ldap: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Node {
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
            dir,
        }
    }

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
        let reply = request.send().await.unwrap();
        let status = reply.status().as_u16();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Where the node writes its mails.
    pub fn outbox(&self) -> std::path::PathBuf {
        self.dir.path().join("outbox")
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

    async fn get(&self, path: &str) -> u16 {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The active administrateur of the demo's first structure.
pub fn administrateur(signins: &[DemoSignIn]) -> String {
    signins
        .iter()
        .find(|s| s.role == Role::Administrateur && s.state == AccountState::Active)
        .map(|s| s.login.clone())
        .unwrap()
}

/// An account of the structure that holds `profile`, and its id.
fn holder<'a>(structure: &'a Value, profile: &str) -> &'a Value {
    structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["habilitations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == profile)
        })
        .unwrap_or_else(|| panic!("nobody holds {profile}: {structure}"))
}

/// The `apexProfile` values of the entry of `login`, read over LDAP by that person.
async fn ldap_profiles(node: &Node, login: &str) -> Vec<String> {
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&node.ldap).await.unwrap();
    ldap3::drive!(conn);
    let dn = format!("uid={login},ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr");
    ldap.simple_bind(&dn, DEMO_PASSWORD)
        .await
        .unwrap()
        .success()
        .unwrap();
    let (entries, _) = ldap
        .search(
            &dn,
            ldap3::Scope::Base,
            "(objectClass=*)",
            vec!["apexProfile"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let entry = ldap3::SearchEntry::construct(entries.into_iter().next().unwrap());
    let _ = ldap.unbind().await;
    entry.attrs.get("apexProfile").cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_acknowledged_by_one_node_is_read_at_once_on_the_other() {
    let Some(cluster) =
        Cluster::start("a_write_acknowledged_by_one_node_is_read_at_once_on_the_other")
    else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let (a, b) = (Node::start(&url), Node::start(&url));
    let admin = administrateur(&signins);
    // A session opened on A is known to B.
    let token = a.sign_in(&admin).await;
    let (status, structure) = b.call(Some(&token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    let holder = holder(&structure, "FICOBA:CONSULTATION").clone();
    let (id, login) = (
        holder["id"].as_str().unwrap().to_owned(),
        holder["login"].as_str().unwrap().to_owned(),
    );
    // B has read the holder (and keeps him in its caches); LDAP on B sees the profile.
    assert!(
        ldap_profiles(&b, &login)
            .await
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION")
    );
    // A removes the habilitation; the very next reads on B, API and LDAP, see it gone.
    let (status, body) = a
        .call(
            Some(&token),
            "DELETE",
            &format!("/accounts/{id}/habilitations/FICOBA:CONSULTATION"),
            None,
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let (_, structure) = b.call(Some(&token), "GET", "/structure", None).await;
    let after = structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap();
    assert!(
        !after["habilitations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION"),
        "{after}"
    );
    assert!(
        !ldap_profiles(&b, &login)
            .await
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION")
    );
    // And the way back, from B to A.
    let (status, body) = b
        .call(
            Some(&token),
            "PUT",
            &format!("/accounts/{id}/habilitations/FICOBA:CONSULTATION"),
            None,
        )
        .await;
    assert!(
        status == 204 || status == 200 || status == 201,
        "{status} {body}"
    );
    assert!(
        ldap_profiles(&a, &login)
            .await
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION")
    );
    // Signing out on B ends the session on A.
    let (status, _) = b.call(Some(&token), "DELETE", "/sessions", None).await;
    assert!(status == 204 || status == 200, "sign-out: {status}");
    let (status, _) = a.call(Some(&token), "GET", "/me", None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_racing_on_a_service_and_a_move_into_it_keep_the_invariants() {
    let Some(cluster) = Cluster::start("two_nodes_racing_on_a_service_and_a_move_into_it") else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let (a, b) = (Node::start(&url), Node::start(&url));
    let token = a.sign_in(&administrateur(&signins)).await;
    let (_, structure) = a.call(Some(&token), "GET", "/structure", None).await;
    let mover = structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["role"] == "collaborateur" && x["state"] == "active")
        .unwrap_or_else(|| panic!("no active collaborateur: {structure}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut deleted, mut moved) = (0, 0);
    for round in 0..8 {
        let (status, service) = a
            .call(
                Some(&token),
                "POST",
                "/services",
                Some(json!({"name": format!("Course {round}")})),
            )
            .await;
        assert_eq!(status, 201, "{service}");
        let sid = service["id"].as_str().unwrap().to_owned();
        // Node A deletes the service while node B moves a person into it.
        let path = format!("/services/{sid}");
        let delete = a.call(Some(&token), "DELETE", &path, None);
        let transfer = b.call(
            Some(&token),
            "POST",
            "/transfers",
            Some(json!({"accounts": [mover], "to_service": sid})),
        );
        let ((d, dbody), (t, tbody)) = tokio::join!(delete, transfer);
        let (_, structure) = b.call(Some(&token), "GET", "/structure", None).await;
        let services: Vec<&str> = structure["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        // Never a person in a service that is gone.
        for account in structure["accounts"].as_array().unwrap() {
            if let Some(s) = account["service_id"].as_str() {
                assert!(
                    services.contains(&s),
                    "round {round}: {account} in a deleted service"
                );
            }
        }
        match (d, t) {
            (204, 200 | 204) => panic!("round {round}: both the delete and the move were done"),
            (204, _) => {
                deleted += 1;
                assert!(!services.contains(&sid.as_str()), "{tbody}");
            }
            (_, 200 | 204) => {
                moved += 1;
                assert!(services.contains(&sid.as_str()), "{dbody}");
                // Move him back out so that the next round starts alike.
                let home = services.iter().find(|s| **s != sid).unwrap();
                let (s, body) = a
                    .call(
                        Some(&token),
                        "POST",
                        "/transfers",
                        Some(json!({"accounts": [mover], "to_service": home})),
                    )
                    .await;
                assert!(s == 200 || s == 204, "{body}");
            }
            other => panic!("round {round}: neither was done: {other:?} {dbody} {tbody}"),
        }
    }
    assert_eq!(deleted + moved, 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_database_stops_answers_503_and_recovers_by_itself() {
    let Some(cluster) = Cluster::start("a_node_whose_database_stops_answers_503") else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let a = Node::start(&url);
    let admin = administrateur(&signins);
    let token = a.sign_in(&admin).await;
    assert_eq!(a.get("/readyz").await, 200);
    cluster.stop();
    assert_eq!(
        a.get("/healthz").await,
        200,
        "alive while its database is gone"
    );
    assert_eq!(a.get("/readyz").await, 503);
    let (status, body) = a
        .call(
            Some(&token),
            "POST",
            "/services",
            Some(json!({"name": "Pendant la panne"})),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("unavailable"),
        "{body}"
    );
    cluster.restart();
    // The pool reconnects on its own: the first calls after the restart may still
    // find a dead connection; within a few tries the node answers again.
    let mut ready = 0;
    for _ in 0..50 {
        ready = a.get("/readyz").await;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(ready, 200, "the node did not recover");
    let (status, structure) = a.call(Some(&token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    assert!(
        !structure["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "Pendant la panne"),
        "nothing of the refused write was kept"
    );
    let (status, body) = a
        .call(
            Some(&token),
            "POST",
            "/services",
            Some(json!({"name": "Après la panne"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

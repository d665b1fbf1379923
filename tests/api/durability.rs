//! Durability of the real binary: a `kill -9` under load loses no acknowledged write,
//! and the CLI's backup and restore round-trip the whole store and refuse a damaged file.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apex_idp::directory::audit;
use apex_idp::domain::Structure;
use apex_idp::store::{Store, T};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::fixture::{CHEAP, Fixture, OPERATOR_TOKEN, PASSWORD, test_config};

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");

/// A SIRET that passes Luhn, from a 13-digit prefix.
pub(crate) fn siret(prefix: u64) -> String {
    let digits = format!("{prefix:013}");
    assert_eq!(digits.len(), 13);
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            // With the check digit appended, the prefix's last digit is doubled.
            if i % 2 == 0 {
                let twice = d * 2;
                if twice > 9 { twice - 9 } else { twice }
            } else {
                d
            }
        })
        .sum();
    let check = (10 - sum % 10) % 10;
    let s = format!("{digits}{check}");
    assert!(apex_idp::domain::Siret::parse(&s).is_ok(), "{s}");
    s
}

#[test]
fn generated_sirets_pass_the_luhn_rule() {
    assert_eq!(siret(7_328_293_200_007), "73282932000074");
    for n in 0..200 {
        siret(4_200_000_000_000 + n * 7919);
    }
}

/// The environment of a child process: the store in `data`, cheap hashing, the test
/// operator token.
fn child_env(dir: &Path, data: &Path) -> Vec<(String, String)> {
    let phc = apex_idp::auth::Hasher::new(CHEAP)
        .unwrap()
        .hash_blocking(OPERATOR_TOKEN)
        .unwrap();
    let catalogue = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    [
        ("APEX_HTTP__LISTEN", "127.0.0.1:0".to_owned()),
        ("APEX_SERVER__DATA_DIR", data.display().to_string()),
        (
            "APEX_MAIL__OUTBOX_DIR",
            dir.join("outbox").display().to_string(),
        ),
        ("APEX_ARGON2__M_KIB", "64".to_owned()),
        ("APEX_ARGON2__T", "1".to_owned()),
        ("APEX_OPERATOR__TOKEN_HASHES", format!("[\"{phc}\"]")),
        ("APEX_CATALOGUE__FILE", catalogue.display().to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A configuration file for the children: no LDAP listener (HTTP is what is measured).
fn config_file(dir: &Path) -> PathBuf {
    let path = dir.join("apex.toml");
    std::fs::write(
        &path,
        "[server]\npublic_url = \"http://apex.test\"\n\n[ldap]\nlisten = \"\"\nldaps_listen = \"\"\n",
    )
    .unwrap();
    path
}

/// A server child process and its HTTP base URL.
struct Served {
    child: Child,
    base: String,
    stderr: PathBuf,
}

impl Served {
    async fn start(dir: &Path, data: &Path, round: usize) -> Served {
        let stderr = dir.join(format!("stderr-{round}.log"));
        let mut child = Command::new(BIN)
            .arg("serve")
            .arg("--dev")
            .arg("--config")
            .arg(config_file(dir))
            .envs(child_env(dir, data))
            .env_remove("APEX_LOG")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(addr) = line.strip_prefix("listening http ") {
                    return addr.to_owned();
                }
            }
            String::new()
        })
        .await
        .unwrap_or_default();
        assert!(
            !addr.is_empty(),
            "the server did not print its address; stderr:\n{}",
            std::fs::read_to_string(&stderr).unwrap_or_default()
        );
        // Keep reading stdout so that a later line never meets a closed pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Served {
            child,
            base: format!("http://{addr}"),
            stderr,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `kill -9`.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        let status = self.child.wait().await.unwrap();
        assert!(!status.success(), "killed: {status}");
    }

    /// `kill -TERM`, and the exit of a graceful stop.
    async fn stop(mut self) {
        let pid = self.child.id().unwrap().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the server stops within 30 s")
            .unwrap();
        assert!(status.success(), "graceful stop: {status}\n{}", self.log());
    }
}

fn client() -> reqwest::Client {
    apex_idp::server::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// The SIRETs of every structure the operator sees.
async fn listed_sirets(http: &reqwest::Client, base: &str) -> BTreeSet<String> {
    let resp = http
        .get(format!("{base}/api/v1/operator/structures"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let list: Value = resp.json().await.unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|s| s["siret"].as_str().unwrap().to_owned())
        .collect()
}

/// What the load of one test shares between its workers.
#[derive(Default)]
struct Load {
    /// Number of the next structure to create.
    next: AtomicU64,
    /// SIRETs whose creation was acknowledged (201 received in full).
    acked: Mutex<Vec<String>>,
    /// Any other answer, or an error before the kill.
    unexpected: Mutex<Vec<String>>,
    /// Set just before the kill: errors are expected from then on.
    killing: AtomicBool,
}

impl Load {
    fn acked(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Creates structures from `workers` parallel clients until the server goes away.
    fn run(self: &Arc<Self>, base: &str, workers: usize) -> Vec<tokio::task::JoinHandle<()>> {
        // A new client per server: no pooled connection to a killed one.
        let http = client();
        (0..workers)
            .map(|_| {
                let (http, url) = (http.clone(), format!("{base}/api/v1/operator/structures"));
                let load = Arc::clone(self);
                tokio::spawn(async move { load.worker(&http, &url).await })
            })
            .collect()
    }

    async fn worker(&self, http: &reqwest::Client, url: &str) {
        loop {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            let s = siret(4_200_000_000_000 + n * 7919);
            let body = json!({"siret": s, "category": "CSP", "name": format!("Structure {n}")});
            let sent = http
                .post(url)
                .bearer_auth(OPERATOR_TOKEN)
                .json(&body)
                .send()
                .await;
            // Acknowledged only once the whole answer is in.
            let answer = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    resp.json::<Value>().await.map(|v| (status, v))
                }
                Err(e) => Err(e),
            };
            match answer {
                Ok((201, v)) if v["siret"] == s.as_str() => self.acked.lock().unwrap().push(s),
                Ok((status, v)) => self
                    .unexpected
                    .lock()
                    .unwrap()
                    .push(format!("{status} {v}")),
                Err(e) => {
                    if !self.killing.load(Ordering::SeqCst) {
                        self.unexpected.lock().unwrap().push(e.to_string());
                    }
                    break;
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let load = Arc::new(Load {
        next: AtomicU64::new(1),
        ..Load::default()
    });

    for round in 0..3 {
        let served = Served::start(dir.path(), &data, round).await;
        // The store opens after the previous kill, with every acknowledged write.
        let before: BTreeSet<String> = load.acked.lock().unwrap().iter().cloned().collect();
        let listed = listed_sirets(&client(), &served.base).await;
        let lost: Vec<&String> = before.difference(&listed).collect();
        assert!(
            lost.is_empty(),
            "round {round}: lost after kill -9: {lost:?}"
        );

        load.killing.store(false, Ordering::SeqCst);
        let workers = load.run(&served.base, 8);
        let target = before.len() + 40;
        let deadline = Instant::now() + Duration::from_secs(60);
        while load.acked() < target
            && Instant::now() < deadline
            && !workers.iter().all(|w| w.is_finished())
        {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert!(
            load.acked() >= target,
            "round {round}: the load ran ({} acknowledged, unexpected: {:?}); stderr:\n{}",
            load.acked(),
            load.unexpected
                .lock()
                .unwrap()
                .iter()
                .take(5)
                .collect::<Vec<_>>(),
            served.log()
        );
        // Mid-load: the workers are still sending.
        load.killing.store(true, Ordering::SeqCst);
        served.kill().await;
        for w in workers {
            w.await.unwrap();
        }
    }
    let unexpected = load.unexpected.lock().unwrap().clone();
    assert!(unexpected.is_empty(), "only 201 answers: {unexpected:?}");
    let acked: BTreeSet<String> = load.acked.lock().unwrap().iter().cloned().collect();
    let attempted = load.next.load(Ordering::SeqCst) - 1;

    // Once more through the server, which then stops gracefully on SIGTERM.
    let served = Served::start(dir.path(), &data, 3).await;
    let listed = listed_sirets(&client(), &served.base).await;
    let lost: Vec<&String> = acked.difference(&listed).collect();
    assert!(lost.is_empty(), "lost after the last kill -9: {lost:?}");
    served.stop().await;

    // The store itself: every acknowledged structure, indexed, audited, chain intact.
    let store = Store::open(&data).unwrap();
    let events = audit::verify(&store).unwrap_or_else(|e| panic!("audit chain: {e}"));
    let structures: Vec<Structure> = store
        .scan::<Structure>(T::Structures, b"")
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    let stored: BTreeSet<String> = structures
        .iter()
        .map(|s| s.siret.as_str().to_owned())
        .collect();
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
    assert!(stored.len() as u64 <= attempted);
    assert_eq!(store.len(T::StructureBySiret), structures.len(), "index");
    let created: BTreeSet<String> = audit::all(&store)
        .unwrap()
        .into_iter()
        .filter(|e| e.action == "structure.create")
        .map(|e| e.target)
        .collect();
    assert_eq!(events as usize, created.len(), "one event per structure");
    for s in &structures {
        assert!(created.contains(&s.id), "structure {} has its event", s.id);
        let by_siret = store
            .unique_id(T::StructureBySiret, s.siret.as_str())
            .unwrap();
        assert_eq!(by_siret.as_deref(), Some(s.id.as_str()));
    }
}

/// Runs a CLI command of the binary on the store in `data`; cwd is `dir`.
pub(crate) fn cli(dir: &Path, data: &Path, args: &[&str]) -> Output {
    std::process::Command::new(BIN)
        .args(args)
        .env("APEX_SERVER__DATA_DIR", data)
        .env_remove("APEX_LOG")
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The one-line message of a failed command.
#[track_caller]
fn refusal(out: &Output) -> String {
    assert!(!out.status.success(), "the command must fail: {out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(stderr.starts_with("apex-idp: "), "{stderr:?}");
    stderr
}

#[track_caller]
fn success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The record lines of a backup: neither the header (which carries the time of the
/// backup) nor the trailer (whose checksum covers the header).
fn records(backup: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = backup.lines().collect();
    lines[1..lines.len() - 1]
        .iter()
        .map(|l| (*l).to_owned())
        .collect()
}

/// Whether a store holds nothing but its format version.
fn is_empty_store(data: &Path) -> bool {
    let store = Store::open(data).unwrap();
    T::ALL
        .iter()
        .filter(|t| **t != T::Meta)
        .all(|t| store.len(*t) == 0)
        && store.len(T::Meta) == 1
}

#[tokio::test]
async fn backup_and_restore_round_trip_and_refuse_a_damaged_file() {
    // A store with a bit of everything, written by an in-process server.
    let mut f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Sauvegarde").await;
    let admin = f.admin(&sid, "Bea", "Backup").await;
    let svc = f.service(&admin, "Archives").await;
    let collab = f
        .member(&admin, &admin, "collaborateur", &svc, "Rob", "Restore")
        .await;
    let (s, _) = f
        .habilitate(&admin, "PUT", &collab.id, "FICOBA:CONSULTATION")
        .await;
    assert_eq!(s, 201);
    f.invite(&admin, "responsable", &svc, "Ivy", "Invitée")
        .await;
    f.structure("35600000049837", "Cabinet Deux").await;
    let (_, structures) = f.op("GET", "/operator/structures", None).await;
    let (_, view) = f.call(Some(&admin.token), "GET", "/structure", None).await;
    let (events, intact) = f.audit_chain().await;
    assert!(intact && events > 5);

    let work = tempfile::tempdir().unwrap();
    let data = f.dir.path().join("data");
    let file = work.path().join("apex.backup");
    let file_arg = file.to_str().unwrap();

    // While the server holds the store, the CLI refuses it instead of racing it.
    let message = refusal(&cli(work.path(), &data, &["backup", "--out", file_arg]));
    assert!(message.contains("in use"), "{message}");
    assert!(!file.exists());

    f.server.take().unwrap().shutdown().await;
    let mut out = cli(work.path(), &data, &["backup", "--out", file_arg]);
    for _ in 0..50 {
        // The store is released once the last handle of the stopped server is dropped.
        if out.status.success() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        out = cli(work.path(), &data, &["backup", "--out", file_arg]);
    }
    let said = success(&out);
    assert!(said.starts_with("backup: "), "{said}");
    let backup = std::fs::read_to_string(&file).unwrap();
    assert!(backup.lines().count() > 10);

    // Restore into an empty data dir, then back it up again: the same records.
    let target_dir = tempfile::tempdir().unwrap();
    let restored = target_dir.path().join("data");
    let said = success(&cli(work.path(), &restored, &["restore", "--in", file_arg]));
    assert!(said.contains("audit chain intact"), "{said}");
    let again = work.path().join("again.backup");
    success(&cli(
        work.path(),
        &restored,
        &["backup", "--out", again.to_str().unwrap()],
    ));
    let (first, second) = (
        records(&backup),
        records(&std::fs::read_to_string(&again).unwrap()),
    );
    let differ: Vec<&String> = first.symmetric_difference(&second).collect();
    assert!(differ.is_empty(), "records differ: {differ:?}");
    assert_eq!(first.len(), backup.lines().count() - 2);

    // A restore never overwrites a store that holds data.
    let message = refusal(&cli(work.path(), &restored, &["restore", "--in", file_arg]));
    assert!(message.contains("empty"), "{message}");

    // A damaged file is refused and leaves its target empty.
    let empty = work.path().join("empty");
    let lines: Vec<&str> = backup.lines().collect();
    let truncated_mid_line = &backup[..backup.len() / 2];
    let without_trailer = format!("{}\n", lines[..lines.len() - 1].join("\n"));
    let mut altered_lines = lines.clone();
    let victim = altered_lines[lines.len() / 2].to_owned();
    let flipped = {
        // Change one hex digit of the value.
        let at = victim.rfind("\"}").unwrap() - 1;
        let c = if &victim[at..=at] == "0" { "1" } else { "0" };
        format!("{}{c}{}", &victim[..at], &victim[at + 1..])
    };
    altered_lines[lines.len() / 2] = &flipped;
    let altered = format!("{}\n", altered_lines.join("\n"));
    let not_a_backup = "hello\n".to_owned();
    for (name, text) in [
        ("truncated", truncated_mid_line.to_owned()),
        ("no-trailer", without_trailer),
        ("altered", altered),
        ("garbage", not_a_backup),
        ("empty-file", String::new()),
    ] {
        let damaged = work.path().join(format!("{name}.backup"));
        std::fs::write(&damaged, text).unwrap();
        let message = refusal(&cli(
            work.path(),
            &empty,
            &["restore", "--in", damaged.to_str().unwrap()],
        ));
        assert!(message.contains("line"), "{name}: {message}");
        assert!(is_empty_store(&empty), "{name}: the target stays empty");
    }
    let message = refusal(&cli(
        work.path(),
        &empty,
        &["restore", "--in", "/nonexistent/apex.backup"],
    ));
    assert!(message.contains("/nonexistent/apex.backup"), "{message}");
    // ...and the intact file still restores there.
    success(&cli(work.path(), &empty, &["restore", "--in", file_arg]));

    // The restored store serves the same directory.
    let config = test_config(target_dir.path());
    let g = Fixture::start_with(target_dir, config).await;
    let (_, structures_after) = g.op("GET", "/operator/structures", None).await;
    assert_eq!(structures_after, structures);
    let token = g.sign_in(&admin.login, PASSWORD).await;
    let (_, view_after) = g.call(Some(&token), "GET", "/structure", None).await;
    assert_eq!(view_after, view);
    g.sign_in(&collab.login, PASSWORD).await;
    assert_eq!(g.audit_chain().await, (events, true));
}

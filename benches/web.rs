//! Benchmark of the web space: the server time to render the consultation of a
//! structure of 5,000 accounts (first page, last page, a filter, a text search), and
//! the bytes of each main page.
//!
//! Reproduce: `cargo bench --bench web -- [accounts] [rounds]` (defaults 5000 and 50).
//! The client runs in the same process, one request at a time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/mod.rs"]
mod common;

use common::machine;

use std::sync::Arc;
use std::time::{Duration, Instant};

use apex_idp::clock::SystemClock;
use apex_idp::config::{Argon2Config, Config};
use apex_idp::directory::generate::GenerateSpec;
use apex_idp::domain::Role;
use apex_idp::server;

const PASSWORD: &str = "Bench-Password-2026";

/// A browser reduced to its two cookies.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Vec<(String, String)>,
}

impl Browser {
    fn header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &reqwest::Response) {
        for c in r.headers().get_all("set-cookie") {
            let pair = c.to_str().unwrap().split(';').next().unwrap();
            let (k, v) = pair.split_once('=').unwrap();
            self.cookies.retain(|(n, _)| n != k);
            self.cookies.push((k.to_owned(), v.to_owned()));
        }
    }

    async fn get(&mut self, path: &str) -> (u16, usize) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().len())
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, usize) {
        let csrf = self
            .cookies
            .iter()
            .find(|(k, _)| k == "apex_csrf")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let mut fields = vec![("csrf", csrf.as_str())];
        fields.extend_from_slice(form);
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.header())
            .form(&fields)
            .send()
            .await
            .unwrap();
        self.keep(&r);
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().len())
    }
}

fn report(name: &str, mut times: Vec<Duration>, bytes: usize) {
    times.sort();
    let pct = |p: f64| times[((times.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!(
        "{name:<44} median {:>7.2} ms   p95 {:>7.2} ms   max {:>7.2} ms   {bytes:>7} bytes",
        pct(0.5),
        pct(0.95),
        pct(1.0)
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let accounts: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(5000);
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(50);
    server::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.data_dir = dir.path().join("data");
    config.server.public_url = "http://apex.test".into();
    config.http.listen = "127.0.0.1:0".into();
    config.ldap.listen = String::new();
    config.mail.outbox_dir = dir.path().join("outbox");
    config.argon2 = Argon2Config {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    config.catalogue.file =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    let directory = server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    let phc = directory.hasher().hash(PASSWORD).await.unwrap();
    directory
        .generate(
            GenerateSpec {
                structures: 1,
                services: 20,
                accounts,
            },
            &phc,
            |_| {},
        )
        .unwrap();
    let structure = directory.structures().unwrap()[0].id.clone();
    let admin = directory
        .accounts_of(&structure)
        .unwrap()
        .into_iter()
        .find(|a| a.role == Role::Administrateur)
        .unwrap();
    let running = server::start_with(&config, directory).await.unwrap();
    let mut b = Browser {
        http: reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        base: format!("http://{}", running.http_addr),
        cookies: Vec::new(),
    };
    b.get("/").await;
    let login = admin.login.clone().unwrap();
    let (status, _) = b
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await;
    assert_eq!(status, 303, "sign-in");
    println!("apex-idp web space: one structure of {accounts} accounts in 20 services");
    println!("machine: {}", machine());
    println!("reproduce: cargo bench --bench web -- {accounts} {rounds}");
    let last = accounts.div_ceil(50);
    let pages = [
        ("/structure".to_owned(), "consultation, first page"),
        (format!("/structure?page={last}"), "consultation, last page"),
        (
            "/structure?role=responsable".to_owned(),
            "consultation, filtered by role",
        ),
        ("/applications".to_owned(), "Mes applications"),
        ("/me".to_owned(), "Mes données personnelles"),
        ("/structure/services".to_owned(), "Gérer les services"),
        ("/structure/profiles".to_owned(), "Habilitations par profil"),
        ("/structure/audit".to_owned(), "Journal d'audit"),
        (
            format!("/structure/accounts/{}", admin.id),
            "fiche d'un compte",
        ),
        ("/".to_owned(), "connexion (signed in: redirect)"),
    ];
    for (path, name) in &pages {
        let mut times = Vec::with_capacity(rounds);
        let mut bytes = 0;
        for _ in 0..rounds {
            let start = Instant::now();
            let (status, n) = b.get(path).await;
            times.push(start.elapsed());
            assert!(status == 200 || status == 303, "{path}: {status}");
            bytes = n;
        }
        report(name, times, bytes);
    }
    let mut times = Vec::with_capacity(rounds);
    let mut bytes = 0;
    for _ in 0..rounds {
        let start = Instant::now();
        let (status, n) = b.post("/structure", &[("q", "martin")]).await;
        times.push(start.elapsed());
        assert_eq!(status, 200);
        bytes = n;
    }
    report("consultation, text search (POST)", times, bytes);
    running.shutdown().await;
}

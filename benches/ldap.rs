//! Load benchmark of the LDAP face: generates a directory, starts the server with
//! plain LDAP on a free loopback port, and drives it with N concurrent `ldap3`
//! connections for a fixed time: equality search on uid, subtree search of one
//! structure (both as the FICOBA service account of config/catalogue.toml), and
//! simple binds of people (argon2id at the `[argon2]` cost of the defaults).
//!
//! Reproduce: `cargo bench --bench ldap -- [structures] [seconds] [connections]`
//! (defaults 2000, 10, 16; 20 accounts per structure). The load client runs in the
//! same process and shares the machine's cores with the server, so compare servers
//! with the same client (the side-by-side slapd script is still to be written).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use apex_idp::clock::SystemClock;
use apex_idp::config::Config;
use apex_idp::directory::generate::{GenerateSpec, nth_siret};
use apex_idp::server;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope};

const PASSWORD: &str = "Bench-Password-2026";
const FICOBA_SECRET: &str = "ficoba-ldap-secret";
const BASE: &str = "dc=apex,dc=dgfip,dc=gouv,dc=fr";

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1);
    format!("{cores} cores, {cpu}")
}

/// CPU seconds used by this process so far (server and client together).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

async fn connect(url: &str) -> Ldap {
    let (conn, ldap) = LdapConnAsync::with_settings(LdapConnSettings::new(), url)
        .await
        .unwrap();
    ldap3::drive!(conn);
    ldap
}

/// One kind of operation of the load.
#[derive(Clone, Copy)]
enum Op {
    EqualityUid,
    SubtreeStructure,
    Bind,
}

async fn run(
    url: &str,
    op: Op,
    connections: usize,
    seconds: u64,
    logins: Arc<Vec<String>>,
    sirets: Arc<Vec<String>>,
) {
    let start = Instant::now();
    let cpu0 = cpu_seconds();
    let deadline = start + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for n in 0..connections {
        let mut ldap = connect(url).await;
        if !matches!(op, Op::Bind) {
            ldap.simple_bind(&format!("cn=FICOBA,ou=applications,{BASE}"), FICOBA_SECRET)
                .await
                .unwrap()
                .success()
                .unwrap();
        }
        let (logins, sirets) = (Arc::clone(&logins), Arc::clone(&sirets));
        handles.push(tokio::spawn(async move {
            let (mut lat, mut entries, mut i) = (Vec::new(), 0usize, n * 7919);
            while Instant::now() < deadline {
                i += 1;
                let t = Instant::now();
                let ok = match op {
                    Op::EqualityUid => {
                        let uid = &logins[i % logins.len()];
                        let r = ldap
                            .search(
                                &format!("ou=people,{BASE}"),
                                Scope::Subtree,
                                &format!("(uid={uid})"),
                                vec!["cn", "mail", "apexSiret"],
                            )
                            .await;
                        r.ok()
                            .and_then(|r| r.success().ok())
                            .map(|(e, _)| entries += e.len())
                            .is_some()
                    }
                    Op::SubtreeStructure => {
                        let siret = &sirets[i % sirets.len()];
                        let r = ldap
                            .search(
                                &format!("apexSiret={siret},ou=structures,{BASE}"),
                                Scope::Subtree,
                                "(objectClass=*)",
                                vec!["*"],
                            )
                            .await;
                        r.ok()
                            .and_then(|r| r.success().ok())
                            .map(|(e, _)| entries += e.len())
                            .is_some()
                    }
                    Op::Bind => {
                        let uid = &logins[i % logins.len()];
                        let r = ldap
                            .simple_bind(&format!("uid={uid},ou=people,{BASE}"), PASSWORD)
                            .await;
                        r.ok().and_then(|r| r.success().ok()).is_some()
                    }
                };
                if ok {
                    lat.push(t.elapsed());
                }
            }
            (lat, entries)
        }));
    }
    let (mut lat, mut entries) = (Vec::new(), 0);
    for h in handles {
        let (l, e) = h.await.unwrap();
        lat.extend(l);
        entries += e;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    lat.sort();
    let pct = |p: f64| {
        let i = ((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1));
        lat.get(i).copied().unwrap_or_default().as_secs_f64() * 1e3
    };
    let name = match op {
        Op::EqualityUid => "equality search (uid=...)",
        Op::SubtreeStructure => "subtree search of a structure",
        Op::Bind => "simple bind of a person",
    };
    println!(
        "{name:<31} {:>8.0} ops/s  p50 {:>6.2} ms  p99 {:>6.2} ms  p999 {:>6.2} ms  {:>5.1} entries/op  {:>7.0} ops per process-CPU-s",
        lat.len() as f64 / elapsed,
        pct(0.50),
        pct(0.99),
        pct(0.999),
        entries as f64 / lat.len().max(1) as f64,
        lat.len() as f64 / cpu.max(1e-9),
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let structures: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let connections: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(16);
    server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.data_dir = tmp.path().join("data");
    config.mail.outbox_dir = tmp.path().join("outbox");
    config.http.listen = "127.0.0.1:0".into();
    config.ldap.listen = "127.0.0.1:0".into();
    config.tls.cert = tmp.path().join("certs/server.pem");
    config.tls.key = tmp.path().join("certs/server-key.pem");
    config.catalogue.file =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");

    println!("apex-idp LDAP benchmark — {}", machine());
    println!("command: cargo bench --bench ldap -- {structures} {seconds} {connections}");
    let spec = GenerateSpec {
        structures,
        services: 3,
        accounts: 20,
    };
    let directory = server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    let phc = directory.hasher().hash(PASSWORD).await.unwrap();
    let summary = directory.generate(spec, &phc, |_| {}).unwrap();
    println!(
        "directory: {} structures, {} accounts, {} habilitations",
        summary.structures, summary.accounts, summary.habilitations
    );
    let srv = server::start_with(&config, directory).await.unwrap();
    let url = format!("ldap://{}", srv.ldap_addr.unwrap());

    // What FICOBA sees: the accounts habilitated for its profiles and their structures.
    let dir = Arc::clone(&srv.directory);
    let mut logins = Vec::new();
    let mut sirets = Vec::new();
    for n in 0..structures.min(500) {
        let siret = nth_siret(n);
        let Ok(Some(id)) = dir
            .store()
            .tree(apex_idp::store::T::StructureBySiret)
            .get(siret.as_bytes())
        else {
            continue;
        };
        let accounts = dir.accounts_of(&String::from_utf8_lossy(&id)).unwrap();
        let seen: Vec<String> = accounts
            .iter()
            .filter(|a| a.habilitations.iter().any(|h| h.profile.app() == "FICOBA"))
            .filter_map(|a| a.login.clone())
            .collect();
        if !seen.is_empty() {
            sirets.push(siret);
        }
        logins.extend(seen);
    }
    let (logins, sirets) = (Arc::new(logins), Arc::new(sirets));
    println!("{connections} connections, {seconds} s per operation, client in the same process");
    run(
        &url,
        Op::EqualityUid,
        connections,
        seconds,
        Arc::clone(&logins),
        Arc::clone(&sirets),
    )
    .await;
    run(
        &url,
        Op::SubtreeStructure,
        connections,
        seconds,
        Arc::clone(&logins),
        Arc::clone(&sirets),
    )
    .await;
    run(&url, Op::Bind, connections, seconds, logins, sirets).await;
    srv.shutdown().await;
}

//! Load benchmark of the LDAP face, and the load client of the side-by-side comparison
//! with OpenLDAP slapd (`benches/slapd-compare.sh`).
//!
//! Modes:
//! - `cargo bench --bench ldap -- [structures] [seconds] [connections]` (defaults 2000,
//!   10, 16): generates a directory (20 accounts per structure), starts the server on a
//!   free loopback port and drives it from the same process; the CPU figure is the
//!   whole process's (server and client together).
//! - `generate --data DIR [--structures N] [--ldif FILE]`: generates a store in DIR and
//!   writes it as LDIF for slapd, every entry built by the LDAP face itself.
//! - `serve --data DIR [--listen ADDR]`: serves that store (plain LDAP) until SIGTERM,
//!   printing `listening ldap <addr>`.
//! - `drive --url URL [--bind-dn DN --password PW --base DN --server-pid PID --label L
//!   --seconds S --warmup S --connections N --structures N --ops eq,sub,people,bind]`:
//!   the load client alone, for any server holding the same data; with a server pid
//!   it reads that server's CPU time from /proc and reports ops per server-CPU-second.
//!   Prints one `RESULT key=value...` line per operation for the script.
//!
//! Operations, all as the FICOBA service account of config/catalogue.toml except bind:
//! `eq` equality search `(uid=…)` under ou=people; `sub` subtree search of one
//! structure's entry (the structure and its services); `people` the whole of one
//! structure, `(apexSiret=…)` from the base (structure, services and its people that
//! FICOBA may read); `bind` simple binds of people (argon2id at the `[argon2]` cost of
//! the defaults, the same PHC string in both servers).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/mod.rs"]
mod common;

use common::{Args, cores, cpu_seconds, machine};

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apex_idp::auth::Hasher;
use apex_idp::clock::SystemClock;
use apex_idp::config::Config;
use apex_idp::directory::Directory;
use apex_idp::directory::generate::{GenerateSpec, nth_siret};
use apex_idp::ldap::dit::{self, Container, Key, Tree};
use apex_idp::ldap::schema;
use apex_idp::server;
use base64::Engine as _;
use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry};

const PASSWORD: &str = "Bench-Password-2026";
const FICOBA_SECRET: &str = "ficoba-ldap-secret";
const BASE: &str = "dc=apex,dc=dgfip,dc=gouv,dc=fr";
const ACCOUNTS_PER_STRUCTURE: usize = 20;
const SERVICES_PER_STRUCTURE: usize = 3;
/// Structures whose people the client looks up before the load.
const SAMPLED_STRUCTURES: usize = 500;

/// The configuration of a bench store in `dir` (the repository's catalogue, default
/// argon2id cost, plain LDAP on `listen`).
fn bench_config(dir: &Path, listen: &str) -> Config {
    let mut config = Config::default();
    config.server.data_dir = dir.join("data");
    config.mail.outbox_dir = dir.join("outbox");
    config.http.listen = "127.0.0.1:0".into();
    config.ldap.listen = listen.into();
    config.tls.cert = dir.join("certs/server.pem");
    config.tls.key = dir.join("certs/server-key.pem");
    config.catalogue.file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    config
}

fn spec(structures: usize) -> GenerateSpec {
    GenerateSpec {
        structures,
        services: SERVICES_PER_STRUCTURE,
        accounts: ACCOUNTS_PER_STRUCTURE,
    }
}

async fn generate(directory: &Directory, structures: usize) {
    let phc = directory.hasher().hash(PASSWORD).await.unwrap();
    let t = Instant::now();
    let summary = directory.generate(spec(structures), &phc, |_| {}).unwrap();
    println!(
        "directory: {} structures, {} services each, {} accounts, {} habilitations (generated in {:.1} s)",
        summary.structures,
        SERVICES_PER_STRUCTURE,
        summary.accounts,
        summary.habilitations,
        t.elapsed().as_secs_f64()
    );
}

// ---------------------------------------------------------------------------------
// LDIF export

/// Attributes the server computes, left out of the export (slapd computes its own).
fn computed(ty: &'static schema::AttrType) -> bool {
    [
        &schema::ENTRY_DN,
        &schema::HAS_SUBORDINATES,
        &schema::SUBSCHEMA_SUBENTRY,
        &schema::STRUCTURAL_OBJECT_CLASS,
        &schema::PWD_CHANGED_TIME,
    ]
    .iter()
    .any(|t| std::ptr::eq(*t, ty))
}

/// One `name: value` line of LDIF (RFC 2849), base64 unless a SAFE-STRING.
fn ldif_line(out: &mut impl Write, name: &str, value: &str) -> std::io::Result<()> {
    let safe = value
        .bytes()
        .all(|b| (1..0x80).contains(&b) && b != b'\n' && b != b'\r')
        && !value.starts_with([' ', ':', '<'])
        && !value.ends_with(' ');
    if safe {
        writeln!(out, "{name}: {value}")
    } else {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value);
        writeln!(out, "{name}:: {encoded}")
    }
}

/// Writes the whole tree as LDIF, parents first: every entry as the face builds it,
/// less the computed attributes, plus `userPassword` (the same argon2id PHC strings).
fn export_ldif(dir: &Directory, path: &Path) -> usize {
    let tree = Tree::new(BASE).unwrap();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut keys = vec![Key::Base];
    keys.extend(Container::ALL.into_iter().map(Key::Container));
    let mut structures: Vec<(String, String)> = dir
        .structures()
        .unwrap()
        .into_iter()
        .map(|s| (s.siret.as_str().to_owned(), s.id))
        .collect();
    structures.sort();
    let mut accounts = Vec::new();
    for (_, id) in &structures {
        keys.push(Key::Structure(id.clone()));
        for sv in dir.services_of(id).unwrap() {
            keys.push(Key::Service {
                id: sv.id,
                structure_id: id.clone(),
            });
        }
        accounts.extend(dir.accounts_of(id).unwrap().into_iter().map(|a| a.id));
    }
    keys.extend(accounts.into_iter().map(Key::Account));
    keys.extend(dit::catalogue_profiles(dir).into_iter().map(Key::Profile));
    keys.extend(
        dir.catalogue()
            .applications
            .iter()
            .filter(|a| a.ldap.is_some())
            .map(|a| Key::Application(a.code.clone())),
    );
    let mut written = 0;
    for key in &keys {
        let Some(entry) = tree.entry(dir, key).unwrap() else {
            continue;
        };
        ldif_line(&mut out, "dn", &entry.dn).unwrap();
        let mut has_member = false;
        for attr in entry.attrs.iter().filter(|a| !computed(a.ty)) {
            has_member |= std::ptr::eq(attr.ty, &schema::MEMBER);
            for v in &attr.values {
                ldif_line(&mut out, attr.ty.name, v).unwrap();
            }
            // slapd wants an attribute's values together; the application's password
            // needs an auxiliary class allowing it.
            if std::ptr::eq(attr.ty, &schema::OBJECT_CLASS) && matches!(key, Key::Application(_)) {
                ldif_line(&mut out, "objectClass", "simpleSecurityObject").unwrap();
            }
        }
        match key {
            Key::Account(id) => {
                if let Some(c) = dir.account(id).unwrap().credential {
                    ldif_line(&mut out, "userPassword", &format!("{{ARGON2}}{}", c.phc)).unwrap();
                }
            }
            Key::Application(code) => {
                let app = dit::ldap_application(dir, code).unwrap();
                let hash = &app.ldap.as_ref().unwrap().bind_secret_hash;
                ldif_line(&mut out, "userPassword", &format!("{{ARGON2}}{hash}")).unwrap();
            }
            // groupOfNames needs a member: an empty group gets the empty DN.
            Key::Profile(_) if !has_member => ldif_line(&mut out, "member", "").unwrap(),
            _ => {}
        }
        writeln!(out).unwrap();
        written += 1;
    }
    out.flush().unwrap();
    written
}

// ---------------------------------------------------------------------------------
// Load client

/// One kind of operation of the load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    EqualityUid,
    SubtreeStructure,
    StructurePeople,
    Bind,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::EqualityUid,
            "sub" => Op::SubtreeStructure,
            "people" => Op::StructurePeople,
            "bind" => Op::Bind,
            _ => return None,
        })
    }

    fn code(self) -> &'static str {
        match self {
            Op::EqualityUid => "eq",
            Op::SubtreeStructure => "sub",
            Op::StructurePeople => "people",
            Op::Bind => "bind",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Op::EqualityUid => "equality search (uid=…)",
            Op::SubtreeStructure => "subtree search of a structure",
            Op::StructurePeople => "(apexSiret=…) from the base",
            Op::Bind => "simple bind of a person",
        }
    }
}

/// Where the load goes and as whom.
#[derive(Clone)]
struct Target {
    url: String,
    bind_dn: String,
    password: String,
    base: String,
    /// The server's process, for its CPU time.
    pid: Option<u32>,
    label: String,
}

/// What the load needs to know of the data: people FICOBA reads, their structures.
struct Workload {
    logins: Vec<String>,
    sirets: Vec<String>,
}

async fn connect(url: &str) -> Ldap {
    let settings = LdapConnSettings::new().set_conn_timeout(Duration::from_secs(10));
    let (conn, ldap) = LdapConnAsync::with_settings(settings, url).await.unwrap();
    ldap3::drive!(conn);
    ldap
}

async fn bound(target: &Target) -> Ldap {
    let mut ldap = connect(&target.url).await;
    ldap.simple_bind(&target.bind_dn, &target.password)
        .await
        .unwrap()
        .success()
        .unwrap_or_else(|e| panic!("bind as {}: {e}", target.bind_dn));
    ldap
}

/// The people of the first structures as the target's identity reads them.
async fn discover(target: &Target, structures: usize) -> Workload {
    let mut ldap = bound(target).await;
    let (mut logins, mut sirets) = (Vec::new(), Vec::new());
    for n in 0..structures.min(SAMPLED_STRUCTURES) {
        let siret = nth_siret(n);
        let (entries, _) = ldap
            .search(
                &format!("ou=people,{}", target.base),
                Scope::OneLevel,
                &format!("(apexSiret={siret})"),
                vec!["uid"],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
        let mut found: Vec<String> = entries
            .into_iter()
            .map(SearchEntry::construct)
            .filter_map(|e| e.attrs.get("uid").and_then(|v| v.first()).cloned())
            .collect();
        found.sort();
        if !found.is_empty() {
            sirets.push(siret);
        }
        logins.extend(found);
    }
    let _ = ldap.unbind().await;
    Workload { logins, sirets }
}

/// The number of entries a successful search returned.
async fn count(
    ldap: &mut Ldap,
    base: String,
    scope: Scope,
    filter: String,
    attrs: Vec<&str>,
) -> Option<usize> {
    ldap.search(&base, scope, &filter, attrs)
        .await
        .ok()
        .and_then(|r| r.success().ok())
        .map(|(e, _)| e.len())
}

/// What one operation measured.
struct Measure {
    ops: usize,
    failed: usize,
    entries: usize,
    elapsed: f64,
    server_cpu: Option<f64>,
    latencies: Vec<Duration>,
}

async fn load(
    target: &Target,
    op: Op,
    connections: usize,
    duration: Duration,
    work: &Arc<Workload>,
) -> Measure {
    let mut clients = Vec::new();
    for _ in 0..connections {
        clients.push(match op {
            Op::Bind => connect(&target.url).await,
            _ => bound(target).await,
        });
    }
    let cpu0 = target.pid.map(cpu_seconds);
    let start = Instant::now();
    let deadline = start + duration;
    let mut handles = Vec::new();
    for (n, mut ldap) in clients.into_iter().enumerate() {
        let work = Arc::clone(work);
        let base = target.base.clone();
        handles.push(tokio::spawn(async move {
            let (mut lat, mut entries, mut failed) = (Vec::new(), 0usize, 0usize);
            let mut i = n * 7919;
            while Instant::now() < deadline {
                i += 1;
                let t = Instant::now();
                let login = &work.logins[i % work.logins.len()];
                let siret = &work.sirets[i % work.sirets.len()];
                let outcome = match op {
                    Op::EqualityUid => {
                        count(
                            &mut ldap,
                            format!("ou=people,{base}"),
                            Scope::Subtree,
                            format!("(uid={login})"),
                            vec!["cn", "mail", "apexSiret"],
                        )
                        .await
                    }
                    Op::SubtreeStructure => {
                        count(
                            &mut ldap,
                            format!("apexSiret={siret},ou=structures,{base}"),
                            Scope::Subtree,
                            "(objectClass=*)".to_owned(),
                            vec!["*"],
                        )
                        .await
                    }
                    Op::StructurePeople => {
                        count(
                            &mut ldap,
                            base.clone(),
                            Scope::Subtree,
                            format!("(apexSiret={siret})"),
                            vec!["*"],
                        )
                        .await
                    }
                    Op::Bind => ldap
                        .simple_bind(&format!("uid={login},ou=people,{base}"), PASSWORD)
                        .await
                        .ok()
                        .and_then(|r| r.success().ok())
                        .map(|_| 0),
                };
                match outcome {
                    Some(e) => {
                        lat.push(t.elapsed());
                        entries += e;
                    }
                    None => failed += 1,
                }
            }
            let _ = ldap.unbind().await;
            (lat, entries, failed)
        }));
    }
    let mut m = Measure {
        ops: 0,
        failed: 0,
        entries: 0,
        elapsed: 0.0,
        server_cpu: None,
        latencies: Vec::new(),
    };
    for h in handles {
        let (l, e, f) = h.await.unwrap();
        m.latencies.extend(l);
        m.entries += e;
        m.failed += f;
    }
    m.elapsed = start.elapsed().as_secs_f64();
    m.server_cpu = target.pid.zip(cpu0).map(|(pid, c0)| cpu_seconds(pid) - c0);
    m.ops = m.latencies.len();
    m.latencies.sort();
    m
}

fn report(target: &Target, op: Op, connections: usize, m: &Measure, cpu_name: &str) {
    let pct = |p: f64| {
        let i = ((m.latencies.len() as f64 * p) as usize).min(m.latencies.len().saturating_sub(1));
        m.latencies
            .get(i)
            .copied()
            .unwrap_or_default()
            .as_secs_f64()
            * 1e3
    };
    let ops_s = m.ops as f64 / m.elapsed;
    let per_cpu = m.server_cpu.map(|c| m.ops as f64 / c.max(1e-9));
    let entries = m.entries as f64 / m.ops.max(1) as f64;
    println!(
        "{:<31} {:>8.0} ops/s  p50 {:>6.2} ms  p99 {:>6.2} ms  p999 {:>6.2} ms  {:>5.1} entries/op  {} ops per {cpu_name}-CPU-s{}",
        op.describe(),
        ops_s,
        pct(0.50),
        pct(0.99),
        pct(0.999),
        entries,
        per_cpu.map_or("-".to_owned(), |v| format!("{v:.0}")),
        if m.failed > 0 {
            format!("  ({} FAILED)", m.failed)
        } else {
            String::new()
        }
    );
    println!(
        "RESULT server={} op={} connections={connections} ops={} failed={} seconds={:.2} ops_s={ops_s:.1} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} entries_per_op={entries:.2} server_cpu_s={:.3} ops_per_cpu_s={:.1}",
        target.label,
        op.code(),
        m.ops,
        m.failed,
        m.elapsed,
        pct(0.50),
        pct(0.99),
        pct(0.999),
        m.server_cpu.unwrap_or(0.0),
        per_cpu.unwrap_or(0.0),
    );
}

/// The argon2id limit of binds: cores ÷ the time of one hash at the default cost, one
/// at a time, as the server hashes (its pool of working memory included).
async fn argon2_limit() -> (f64, f64) {
    let hasher = Hasher::new(Config::default().argon2).unwrap();
    let phc = hasher.hash(PASSWORD).await.unwrap();
    // The first verification allocates the working memory the next ones reuse.
    assert!(hasher.verify(PASSWORD, &phc).await);
    let rounds = 5;
    let t = Instant::now();
    for _ in 0..rounds {
        assert!(hasher.verify(PASSWORD, &phc).await);
    }
    let one = t.elapsed().as_secs_f64() / f64::from(rounds);
    (one * 1e3, cores() as f64 / one)
}

async fn drive(
    target: &Target,
    ops: &[Op],
    structures: usize,
    connections: usize,
    seconds: u64,
    warmup: u64,
    cpu_name: &str,
) {
    let work = Arc::new(discover(target, structures).await);
    assert!(
        !work.logins.is_empty(),
        "{} shows no account to the bench identity",
        target.label
    );
    println!(
        "{}: {} people readable in the first {} structures ({} structures with some)",
        target.label,
        work.logins.len(),
        structures.min(SAMPLED_STRUCTURES),
        work.sirets.len()
    );
    if ops.contains(&Op::Bind) {
        let (ms, limit) = argon2_limit().await;
        println!(
            "argon2id at the default cost: {ms:.1} ms per hash here, so at most {limit:.0} binds/s on {} cores",
            cores()
        );
        println!("RESULT server=argon2 op=bind hash_ms={ms:.2} limit_ops_s={limit:.1}");
    }
    println!("{connections} connections, {seconds} s per operation after {warmup} s of warm-up");
    for &op in ops {
        if warmup > 0 {
            load(target, op, connections, Duration::from_secs(warmup), &work).await;
        }
        let m = load(target, op, connections, Duration::from_secs(seconds), &work).await;
        report(target, op, connections, &m, cpu_name);
    }
}

// ---------------------------------------------------------------------------------
// Modes

async fn all_in_one(args: &Args) {
    let structures: usize = args.nth(0, 2000);
    let seconds: u64 = args.nth(1, 10);
    let connections: usize = args.nth(2, 16);
    let tmp = tempfile::tempdir().unwrap();
    let config = bench_config(tmp.path(), "127.0.0.1:0");
    println!("apex-idp LDAP benchmark — {}", machine());
    println!("command: cargo bench --bench ldap -- {structures} {seconds} {connections}");
    let directory = server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    generate(&directory, structures).await;
    let srv = server::start_with(&config, directory).await.unwrap();
    let target = Target {
        url: format!("ldap://{}", srv.ldap_addr.unwrap()),
        bind_dn: format!("cn=FICOBA,ou=applications,{BASE}"),
        password: FICOBA_SECRET.into(),
        base: BASE.into(),
        pid: Some(std::process::id()),
        label: "apex-idp".into(),
    };
    println!("client in the same process: CPU figures are server and client together");
    let ops = [
        Op::EqualityUid,
        Op::SubtreeStructure,
        Op::StructurePeople,
        Op::Bind,
    ];
    drive(
        &target,
        &ops,
        structures,
        connections,
        seconds,
        0,
        "process",
    )
    .await;
    srv.shutdown().await;
}

async fn generate_mode(args: &Args) {
    let data = PathBuf::from(args.get("data").expect("--data DIR"));
    let structures: usize = args.num("structures", 10_000);
    println!("apex-idp LDAP bench store — {}", machine());
    let config = bench_config(&data, "");
    let directory = server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    generate(&directory, structures).await;
    if let Some(ldif) = args.get("ldif") {
        let t = Instant::now();
        let n = export_ldif(&directory, Path::new(ldif));
        println!(
            "ldif: {n} entries written to {ldif} in {:.1} s",
            t.elapsed().as_secs_f64()
        );
    }
    directory.flush_blocking().unwrap();
}

async fn serve_mode(args: &Args) {
    let data = PathBuf::from(args.get("data").expect("--data DIR"));
    let listen = args.get("listen").unwrap_or("127.0.0.1:0");
    let config = bench_config(&data, listen);
    let srv = server::start(&config, Arc::new(SystemClock)).await.unwrap();
    println!("{}", server::listening_line("ldap", srv.ldap_addr.unwrap()));
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    srv.shutdown().await;
}

async fn drive_mode(args: &Args) {
    let base = args.get("base").unwrap_or(BASE).to_owned();
    let target = Target {
        url: args.get("url").expect("--url URL").to_owned(),
        bind_dn: args
            .get("bind-dn")
            .map(str::to_owned)
            .unwrap_or_else(|| format!("cn=FICOBA,ou=applications,{base}")),
        password: args.get("password").unwrap_or(FICOBA_SECRET).to_owned(),
        base,
        pid: args.get("server-pid").and_then(|p| p.parse().ok()),
        label: args.get("label").unwrap_or("server").to_owned(),
    };
    let ops: Vec<Op> = args
        .get("ops")
        .unwrap_or("eq,sub,people,bind")
        .split(',')
        .map(|o| Op::parse(o.trim()).unwrap_or_else(|| panic!("unknown operation {o}")))
        .collect();
    println!("LDAP load client — {} — target {}", machine(), target.url);
    drive(
        &target,
        &ops,
        args.num("structures", 10_000),
        args.num("connections", 16),
        args.num("seconds", 10),
        args.num("warmup", 2),
        "server",
    )
    .await;
}

#[tokio::main]
async fn main() {
    server::install_crypto_provider();
    let args = Args::parse();
    match args.word(0) {
        Some("generate") => generate_mode(&args).await,
        Some("serve") => serve_mode(&args).await,
        Some("drive") => drive_mode(&args).await,
        _ => all_in_one(&args).await,
    }
}

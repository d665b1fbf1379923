//! Load benchmark of the LDAP face, and the load client of the side-by-side comparison
//! with OpenLDAP slapd (`benches/slapd-compare.sh`). The face is always the real
//! `apex-idp serve` binary (built with the bench, run with `--dev` on a configuration
//! file pointing at the generated store): the CPU figures are the server's alone.
//!
//! Modes:
//! - `cargo bench --bench ldap -- [structures] [seconds] [connections]` (defaults 2000,
//!   10, 16): generates a directory (20 accounts per structure) in a temporary
//!   directory, starts `apex-idp serve` on it and drives it.
//! - `generate --data DIR [--structures N] [--ldif FILE]`: generates a store in DIR,
//!   writes DIR/apex.toml for `apex-idp serve --dev --config DIR/apex.toml` (LDAP on a
//!   free loopback port), and the store as LDIF for slapd, every entry built by the
//!   LDAP face itself.
//! - `server-binary`: prints the path of the `apex-idp` binary built with this bench.
//! - `drive --url URL [--bind-dn DN --password PW --base DN --server-pid PID --label L
//!   --seconds S --warmup S --connections N --structures N --ops eq,sub,people,...]`:
//!   the load client alone, for any server holding the same data; with a server pid
//!   it reads that server's CPU time from /proc and reports ops per server-CPU-second.
//!   Prints one `RESULT key=value...` line per operation for the script.
//!
//! Operations, all as the FICOBA service account of config/catalogue.toml except bind:
//! `eq` equality search `(uid=…)` under ou=people; `sub` subtree search of one
//! structure's entry (the structure and its services); `people` the whole of one
//! structure, `(apexSiret=…)` from the base (structure, services and its people that
//! FICOBA may read); `bind` simple binds of people (argon2id at the `[argon2]` cost of
//! the defaults, the same PHC string in both servers). Each draws its person or
//! structure uniformly at random from every one FICOBA reads in the whole directory
//! (found by the client before the load). `eq-narrow`, `sub-narrow` and
//! `people-narrow` draw only from the first 500 structures: a working set that fits
//! the servers' entry caches, as earlier versions of this bench measured.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/mod.rs"]
mod common;

use common::{Args, cores, cpu_seconds, machine};

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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
/// The narrow working set: the people and structures of the first structures only.
const NARROW_STRUCTURES: usize = 500;
/// Connections the client finds the readable people with, before the load.
const DISCOVERY_CONNECTIONS: usize = 8;

/// The configuration the generator opens a bench store in `dir` with (the
/// repository's catalogue, default argon2id cost, no listener).
fn bench_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.data_dir = dir.join("data");
    config.mail.outbox_dir = dir.join("outbox");
    config.http.listen = "127.0.0.1:0".into();
    config.ldap.listen = String::new();
    config.tls.cert = dir.join("certs/server.pem");
    config.tls.key = dir.join("certs/server-key.pem");
    config.catalogue.file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    config
}

/// Writes `dir/apex.toml`, the configuration `apex-idp serve` runs on for the store of
/// [`bench_config`]: plain LDAP and HTTP on free loopback ports, absolute paths.
fn write_config(dir: &Path) -> PathBuf {
    let dir = std::path::absolute(dir).unwrap();
    let path = |p: PathBuf| toml::Value::String(p.display().to_string());
    let catalogue = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    let text = format!(
        "# Written by benches/ldap.rs: apex-idp serve --dev --config {file}\n\
         [server]\ndata_dir = {data}\n\n\
         [http]\nlisten = \"127.0.0.1:0\"\n\n\
         [ldap]\nlisten = \"127.0.0.1:0\"\n\n\
         [tls]\ncert = {cert}\nkey = {key}\n\n\
         [mail]\noutbox_dir = {outbox}\n\n\
         [catalogue]\nfile = {catalogue}\n",
        file = dir.join("apex.toml").display(),
        data = path(dir.join("data")),
        cert = path(dir.join("certs/server.pem")),
        key = path(dir.join("certs/server-key.pem")),
        outbox = path(dir.join("outbox")),
        catalogue = path(catalogue),
    );
    let file = dir.join("apex.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// `apex-idp serve` running on a bench store.
struct Served {
    child: Child,
    /// Its LDAP listener, `host:port`.
    ldap: String,
}

impl Served {
    /// Starts the binary built with this bench on a configuration file and waits for
    /// its LDAP listener.
    fn start(config: &Path) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_apex-idp"))
            .args(["serve", "--dev", "--config"])
            .arg(config)
            .env("APEX_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ldap = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(addr) = line.strip_prefix("listening ldap ") {
                        break addr.to_owned();
                    }
                }
                _ => panic!(
                    "apex-idp serve stopped before listening: {:?}",
                    child.wait()
                ),
            }
        };
        // Whatever it prints later must not fill the pipe and block it.
        std::thread::spawn(move || lines.for_each(drop));
        Served { child, ldap }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the server, from /proc.
    fn rss(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    }

    /// Stops it as an operator would, with SIGTERM.
    fn stop(&mut self) {
        let _ = Command::new("kill").arg(self.pid().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // After `stop` the process is gone and this fails harmlessly.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
                let catalogue = dir.catalogue();
                let app = dit::ldap_application(&catalogue, code).unwrap();
                let hash = &app.ldap.as_ref().unwrap().bind_secret_hash.all()[0];
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

    /// Whether it draws a person (else a structure).
    fn draws_people(self) -> bool {
        matches!(self, Op::EqualityUid | Op::Bind)
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

/// One measured line: an operation and the set it draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Load {
    op: Op,
    /// Only the first `NARROW_STRUCTURES` structures (else all of them).
    narrow: bool,
}

impl Load {
    /// `eq`, or `eq-narrow` for the narrow set.
    fn parse(s: &str) -> Option<Load> {
        let (name, narrow) = match s.strip_suffix("-narrow") {
            Some(name) => (name, true),
            None => (s, false),
        };
        Op::parse(name).map(|op| Load { op, narrow })
    }

    fn code(self) -> String {
        match self.narrow {
            true => format!("{}-narrow", self.op.code()),
            false => self.op.code().to_owned(),
        }
    }
}

/// The default lines: every operation on the whole directory, then the narrow set.
const DEFAULT_LOADS: &str = "eq,sub,people,eq-narrow,sub-narrow,people-narrow,bind";

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

/// What the load needs to know of the data: every person the reader sees and the
/// structures that have some (the others are hidden from it), in the generator's
/// order, and how many of each lie in the first `NARROW_STRUCTURES` structures.
struct Workload {
    logins: Vec<String>,
    sirets: Vec<String>,
    narrow_logins: usize,
    narrow_sirets: usize,
}

impl Workload {
    /// The people (or structures) a load draws from.
    fn pool(&self, load: Load) -> &[String] {
        let (all, narrow) = match load.op.draws_people() {
            true => (&self.logins, self.narrow_logins),
            false => (&self.sirets, self.narrow_sirets),
        };
        match load.narrow {
            true => all.get(..narrow).unwrap_or(all),
            false => all,
        }
    }

    /// What a load draws from, in words.
    fn describe(&self, load: Load) -> String {
        let n = self.pool(load).len();
        let what = if load.op.draws_people() {
            "people"
        } else {
            "structures"
        };
        match load.narrow {
            true => format!("{n} {what} of the first {NARROW_STRUCTURES} structures"),
            false => format!("all {n} {what}"),
        }
    }
}

/// A uniform draw (splitmix64), reproducible per connection.
struct Draw(u64);

impl Draw {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z % n.max(1) as u64) as usize
    }
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

/// The people each structure holds as the target's identity reads them, structure by
/// structure, on a few connections at once.
async fn discover(target: &Target, structures: usize) -> Workload {
    let mut tasks = Vec::new();
    for first in 0..DISCOVERY_CONNECTIONS.min(structures.max(1)) {
        let target = target.clone();
        tasks.push(tokio::spawn(async move {
            let mut ldap = bound(&target).await;
            let mut found = Vec::new();
            for n in (first..structures).step_by(DISCOVERY_CONNECTIONS) {
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
                let mut logins: Vec<String> = entries
                    .into_iter()
                    .map(SearchEntry::construct)
                    .filter_map(|e| e.attrs.get("uid").and_then(|v| v.first()).cloned())
                    .collect();
                logins.sort();
                found.push((n, siret, logins));
            }
            let _ = ldap.unbind().await;
            found
        }));
    }
    let mut found = Vec::new();
    for t in tasks {
        found.extend(t.await.unwrap());
    }
    found.sort_by_key(|(n, _, _)| *n);
    let mut work = Workload {
        logins: Vec::new(),
        sirets: Vec::new(),
        narrow_logins: 0,
        narrow_sirets: 0,
    };
    for (n, siret, logins) in found {
        if !logins.is_empty() {
            work.sirets.push(siret);
        }
        work.logins.extend(logins);
        if n < NARROW_STRUCTURES {
            work.narrow_logins = work.logins.len();
            work.narrow_sirets = work.sirets.len();
        }
    }
    work
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
    what: Load,
    connections: usize,
    duration: Duration,
    work: &Arc<Workload>,
) -> Measure {
    let op = what.op;
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
            let pool = work.pool(what);
            let mut draw = Draw(n as u64);
            while Instant::now() < deadline {
                let t = Instant::now();
                // A person for eq and bind, a structure's SIRET for sub and people.
                let drawn = &pool[draw.below(pool.len())];
                let outcome = match op {
                    Op::EqualityUid => {
                        count(
                            &mut ldap,
                            format!("ou=people,{base}"),
                            Scope::Subtree,
                            format!("(uid={drawn})"),
                            vec!["cn", "mail", "apexSiret"],
                        )
                        .await
                    }
                    Op::SubtreeStructure => {
                        count(
                            &mut ldap,
                            format!("apexSiret={drawn},ou=structures,{base}"),
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
                            format!("(apexSiret={drawn})"),
                            vec!["*"],
                        )
                        .await
                    }
                    Op::Bind => ldap
                        .simple_bind(&format!("uid={drawn},ou=people,{base}"), PASSWORD)
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

fn report(
    target: &Target,
    what: Load,
    pool: &str,
    connections: usize,
    m: &Measure,
    cpu_name: &str,
) {
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
        "{:<31} {:>8.0} ops/s  {} ops per {cpu_name}-CPU-s  p50 {:>6.2} ms  p99 {:>6.2} ms  p999 {:>6.2} ms  {:>5.1} entries/op  (over {pool}){}",
        what.op.describe(),
        ops_s,
        per_cpu.map_or("-".to_owned(), |v| format!("{v:.0}")),
        pct(0.50),
        pct(0.99),
        pct(0.999),
        entries,
        if m.failed > 0 {
            format!("  ({} FAILED)", m.failed)
        } else {
            String::new()
        }
    );
    println!(
        "RESULT server={} op={} connections={connections} pool={} ops={} failed={} seconds={:.2} ops_s={ops_s:.1} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} entries_per_op={entries:.2} server_cpu_s={:.3} ops_per_cpu_s={:.1}",
        target.label,
        what.code(),
        pool.split(' ')
            .find_map(|w| w.parse::<usize>().ok())
            .unwrap_or(0),
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
    loads: &[Load],
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
        "{}: {} people readable in {} structures ({} structures with some); the narrow set: {} people in {} structures of the first {}",
        target.label,
        work.logins.len(),
        structures,
        work.sirets.len(),
        work.narrow_logins,
        work.narrow_sirets,
        structures.min(NARROW_STRUCTURES),
    );
    if loads.iter().any(|l| l.op == Op::Bind) {
        let (ms, limit) = argon2_limit().await;
        println!(
            "argon2id at the default cost: {ms:.1} ms per hash here, so at most {limit:.0} binds/s on {} cores",
            cores()
        );
        println!("RESULT server=argon2 op=bind hash_ms={ms:.2} limit_ops_s={limit:.1}");
    }
    println!("{connections} connections, {seconds} s per operation after {warmup} s of warm-up");
    for &what in loads {
        if warmup > 0 {
            load(
                target,
                what,
                connections,
                Duration::from_secs(warmup),
                &work,
            )
            .await;
        }
        let m = load(
            target,
            what,
            connections,
            Duration::from_secs(seconds),
            &work,
        )
        .await;
        report(
            target,
            what,
            &work.describe(what),
            connections,
            &m,
            cpu_name,
        );
    }
}

// ---------------------------------------------------------------------------------
// Modes

async fn all_in_one(args: &Args) {
    let structures: usize = args.nth(0, 2000);
    let seconds: u64 = args.nth(1, 10);
    let connections: usize = args.nth(2, 16);
    let tmp = tempfile::tempdir().unwrap();
    println!("apex-idp LDAP benchmark — {}", machine());
    println!("command: cargo bench --bench ldap -- {structures} {seconds} {connections}");
    // Generated by this binary in a process of its own, which releases the store.
    let generated = Command::new(std::env::current_exe().unwrap())
        .arg("generate")
        .arg("--data")
        .arg(tmp.path())
        .args(["--structures", &structures.to_string()])
        .status()
        .unwrap();
    assert!(generated.success(), "generation failed");
    let mut served = Served::start(&tmp.path().join("apex.toml"));
    println!(
        "apex-idp serve (pid {}) on ldap://{}, RSS {} after start",
        served.pid(),
        served.ldap,
        served.rss()
    );
    let target = Target {
        url: format!("ldap://{}", served.ldap),
        bind_dn: format!("cn=FICOBA,ou=applications,{BASE}"),
        password: FICOBA_SECRET.into(),
        base: BASE.into(),
        pid: Some(served.pid()),
        label: "apex-idp".into(),
    };
    let loads = parse_loads(DEFAULT_LOADS);
    drive(
        &target,
        &loads,
        structures,
        connections,
        seconds,
        2,
        "server",
    )
    .await;
    println!("apex-idp RSS {} after the load", served.rss());
    served.stop();
}

async fn generate_mode(args: &Args) {
    let data = PathBuf::from(args.get("data").expect("--data DIR"));
    let structures: usize = args.num("structures", 10_000);
    println!("apex-idp LDAP bench store — {}", machine());
    let config = bench_config(&data);
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
    println!("config: {}", write_config(&data).display());
}

fn parse_loads(list: &str) -> Vec<Load> {
    list.split(',')
        .map(|o| Load::parse(o.trim()).unwrap_or_else(|| panic!("unknown operation {o}")))
        .collect()
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
    let loads = parse_loads(args.get("ops").unwrap_or(DEFAULT_LOADS));
    println!("LDAP load client — {} — target {}", machine(), target.url);
    drive(
        &target,
        &loads,
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
        Some("server-binary") => println!("{}", env!("CARGO_BIN_EXE_apex-idp")),
        Some("drive") => drive_mode(&args).await,
        _ => all_in_one(&args).await,
    }
}

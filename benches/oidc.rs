//! Benchmark of the OpenID Connect issuer at 16 concurrent clients: code exchange
//! (codes prepared beforehand through the SSO session), refresh (each client follows
//! its own rotating chain), userinfo, introspection and client_credentials for each
//! signature algorithm (RS256, ES256, EdDSA), then discovery and JWKS.
//!
//! Modes:
//! - `cargo bench --bench oidc -- [seconds] [codes]` (defaults 3 s per measure and 6000
//!   codes per algorithm): the server runs in this process on the test catalogue
//!   (tests/oidc/catalogue.toml) and the demo directory; the load client shares the
//!   machine's cores with it. The clock is frozen so that nothing expires mid-run, and
//!   code exchange runs until the codes are used up (at most 10 × seconds). "CPU" is
//!   this process's CPU time (server and load client together).
//! - `... -- [seconds] [codes] --issuer URL [--target apex|oidc-provider] [--pid PID]
//!   [--label L] [--login cdurand] [--warmup S] [--ops exchange,refresh,...]`: the
//!   load client alone, against an OP running elsewhere on the same endpoints and
//!   clients (apex-idp on the test catalogue and the demo directory, or npm
//!   oidc-provider as benches/oidc-provider/server.mjs configures it). Only the
//!   sign-in differs: apex-idp's form once, or oidc-provider's interaction once per
//!   client; then codes come from the session. Codes live 60 s on a running clock, so
//!   code exchange lasts `seconds` like the other measures, on as many codes as its
//!   pace on a first batch asks for (at most `codes`). With `--pid`, "CPU" is
//!   that server's CPU time, read in /proc/PID/stat before and after each measure.
//!   Each measure follows `--warmup` seconds of the same load (default 0).
//!
//! Both print one `RESULT key=value...` line per measure, for benches/oidc-compare.sh.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/mod.rs"]
mod common;

use common::{Args, cpu_seconds, machine, machine_cpu_seconds};

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apex_idp::clock::ManualClock;
use apex_idp::config::{Argon2Config, Config};
use apex_idp::server;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

const CLIENTS: usize = 16;
const PASSWORD: &str = apex_idp::demo::DEMO_PASSWORD;
const VERIFIER: &str = "bench-verifier-0123456789-0123456789-0123456789";
/// Chloé Durand's identifier in the demo directory.
const DEMO_LOGIN: &str = "cdurand";
/// Lifetime of a code, in apex-idp and in the bench's oidc-provider.
const CODE_SECONDS: u64 = 60;
/// Codes of the first batch, whose exchange sets the pace on a running clock.
const PACE_CODES: usize = 4096;

/// A client of the test catalogue.
#[derive(Clone, Copy)]
struct Rp {
    alg: &'static str,
    client_id: &'static str,
    secret: &'static str,
    redirect_uri: &'static str,
}

const RPS: [Rp; 3] = [
    Rp {
        alg: "RS256",
        client_id: "demo",
        secret: "demo-client-secret",
        redirect_uri: "http://127.0.0.1:9000/callback",
    },
    Rp {
        alg: "ES256",
        client_id: "es256",
        secret: "es256-client-secret",
        redirect_uri: "https://ouverte.example.test/callback",
    },
    Rp {
        alg: "EdDSA",
        client_id: "eddsa",
        secret: "eddsa-client-secret",
        redirect_uri: "https://eddsa.example.test/callback",
    },
];

/// What is measured, in the order of a run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Operation {
    Exchange,
    Refresh,
    Userinfo,
    Introspection,
    ClientCredentials,
    Discovery,
    Jwks,
}

const OPERATIONS: [Operation; 7] = [
    Operation::Exchange,
    Operation::Refresh,
    Operation::Userinfo,
    Operation::Introspection,
    Operation::ClientCredentials,
    Operation::Discovery,
    Operation::Jwks,
];

impl Operation {
    fn code(self) -> &'static str {
        match self {
            Operation::Exchange => "exchange",
            Operation::Refresh => "refresh",
            Operation::Userinfo => "userinfo",
            Operation::Introspection => "introspection",
            Operation::ClientCredentials => "client_credentials",
            Operation::Discovery => "discovery",
            Operation::Jwks => "jwks",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Operation::Exchange => "code exchange",
            Operation::Discovery => "discovery",
            Operation::Jwks => "JWKS",
            other => other.code(),
        }
    }

    fn parse(s: &str) -> Option<Operation> {
        OPERATIONS.into_iter().find(|o| o.code() == s)
    }
}

/// The OP under load: only how the client signs in differs.
enum Target {
    /// apex-idp: its sign-in form once, with this identifier.
    ApexIdp { login: String },
    /// npm oidc-provider (benches/oidc-provider/server.mjs): one interaction per client.
    OidcProvider,
}

/// A run: the OP, where its CPU time is read, and what to measure for how long.
struct Bench {
    target: Target,
    base: String,
    label: String,
    /// The process whose CPU time is counted.
    pid: Option<u32>,
    /// "CPU" (this process) or "server-CPU".
    cpu_name: &'static str,
    seconds: u64,
    warmup: u64,
    /// How long a code lives on the server's clock; `None` when the clock is frozen.
    code_lifetime: Option<u64>,
    codes: usize,
    operations: Vec<Operation>,
}

/// CPU time of the server, of this process and of the whole machine.
#[derive(Clone, Copy)]
struct CpuSample {
    server: Option<f64>,
    own: f64,
    machine: f64,
}

impl CpuSample {
    fn now(pid: Option<u32>) -> CpuSample {
        CpuSample {
            server: pid.map(cpu_seconds),
            own: cpu_seconds(std::process::id()),
            machine: machine_cpu_seconds(),
        }
    }
}

struct Load {
    ok: usize,
    failed: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
    /// The server's CPU seconds.
    cpu: Option<f64>,
    /// Cores used meanwhile by other processes than the server and this client: the
    /// load that was present.
    others: f64,
}

impl Load {
    fn report(&mut self, bench: &Bench, op: Operation, alg: Option<&str>) {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 * p) as usize)
                .min(self.latencies.len().saturating_sub(1));
            self.latencies
                .get(i)
                .copied()
                .unwrap_or_default()
                .as_secs_f64()
                * 1e3
        };
        let ops_s = self.ok as f64 / self.elapsed.as_secs_f64();
        let per_cpu = self.cpu.map(|c| self.ok as f64 / c.max(1e-9));
        let name = match alg {
            Some(alg) => format!("{alg} {}", op.describe()),
            None => op.describe().to_owned(),
        };
        println!(
            "{name:<30} {ops_s:>8.0} ops/s  {:>8} ops/{}-s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} ok, {} failed, {:.1} s; others {:.2} cores)",
            per_cpu.map_or("-".to_owned(), |v| format!("{v:.0}")),
            bench.cpu_name,
            pct(0.50),
            pct(0.99),
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.others
        );
        println!(
            "RESULT server={} op={} alg={} ok={} failed={} seconds={:.2} ops_s={ops_s:.1} cpu_s={:.3} ops_per_cpu_s={:.1} p50_ms={:.3} p99_ms={:.3} others_cores={:.2}",
            bench.label,
            op.code(),
            alg.unwrap_or("-"),
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64(),
            self.cpu.unwrap_or(0.0),
            per_cpu.unwrap_or(0.0),
            pct(0.50),
            pct(0.99),
            self.others
        );
    }
}

/// Runs `task` from 16 clients until the deadline or until a task says `None` (no
/// more work). `Some(true)` counts a success.
async fn run_load<F, Fut>(seconds: u64, pid: Option<u32>, task: F) -> Load
where
    F: Fn(usize, reqwest::Client) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Option<bool>> + Send,
{
    let before = CpuSample::now(pid);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for n in 0..CLIENTS {
        let task = task.clone();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        handles.push(tokio::spawn(async move {
            let (mut ok, mut failed, mut lat) = (0usize, 0usize, Vec::new());
            while Instant::now() < deadline {
                let t = Instant::now();
                match task(n, client.clone()).await {
                    Some(true) => {
                        ok += 1;
                        lat.push(t.elapsed());
                    }
                    Some(false) => failed += 1,
                    None => break,
                }
            }
            (ok, failed, lat)
        }));
    }
    let mut load = Load {
        ok: 0,
        failed: 0,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
        cpu: None,
        others: 0.0,
    };
    for h in handles {
        let (ok, failed, lat) = h.await.unwrap();
        load.ok += ok;
        load.failed += failed;
        load.latencies.extend(lat);
    }
    load.elapsed = start.elapsed();
    let after = CpuSample::now(pid);
    let own = after.own - before.own;
    load.cpu = after.server.zip(before.server).map(|(a, b)| a - b);
    // In process, the server is this process: count it once.
    let server = match pid {
        Some(p) if p != std::process::id() => load.cpu.unwrap_or(0.0),
        _ => 0.0,
    };
    let others = after.machine - before.machine - own - server;
    load.others = (others / load.elapsed.as_secs_f64()).max(0.0);
    load
}

/// A loopback listening socket and its port: handed to the server as it is, so the
/// port cannot be taken between the choice and the start.
fn bound_listener() -> (std::net::TcpListener, u16) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    (listener, port)
}

fn no_redirect() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body.find(&marker).unwrap() + marker.len();
    let end = body[start..].find('"').unwrap() + start;
    body[start..end].to_owned()
}

fn cookies(resp: &reqwest::Response, jar: &mut Vec<String>) {
    for c in resp.headers().get_all("set-cookie") {
        let pair = c.to_str().unwrap().split(';').next().unwrap().to_owned();
        let name = pair.split('=').next().unwrap().to_owned();
        jar.retain(|p| !p.starts_with(&format!("{name}=")));
        jar.push(pair);
    }
}

fn authorize_url(base: &str, rp: Rp) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        VERIFIER.as_bytes(),
    ));
    let mut url = url::Url::parse(&format!("{base}/oidc/authorize")).unwrap();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", rp.client_id)
        .append_pair("redirect_uri", rp.redirect_uri)
        .append_pair("scope", "openid profile email apex")
        .append_pair("state", "s")
        .append_pair("nonce", "n")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    url.to_string()
}

fn location(resp: &reqwest::Response) -> &str {
    resp.headers()
        .get("location")
        .unwrap_or_else(|| panic!("no redirect ({})", resp.status()))
        .to_str()
        .unwrap()
}

fn code_of(resp: &reqwest::Response) -> String {
    let location = location(resp);
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// Signs Chloé Durand in once through apex-idp's form; returns the SSO cookie header.
async fn sign_in_apex(http: &reqwest::Client, base: &str, login: &str) -> String {
    let mut jar = Vec::new();
    let page = http.get(authorize_url(base, RPS[0])).send().await.unwrap();
    cookies(&page, &mut jar);
    let body = page.text().await.unwrap();
    let resp = http
        .post(format!("{base}/oidc/authorize/sign-in"))
        .header("cookie", jar.join("; "))
        .form(&[
            ("interaction", hidden(&body, "interaction").as_str()),
            ("csrf", hidden(&body, "csrf").as_str()),
            ("login", login),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "sign-in");
    cookies(&resp, &mut jar);
    jar.join("; ")
}

/// Goes through oidc-provider's interaction for each client (the bench server finishes
/// login and consent at once); returns the session cookie header.
async fn sign_in_oidc_provider(http: &reqwest::Client, base: &str) -> String {
    let mut jar = Vec::new();
    for rp in RPS {
        let mut url = authorize_url(base, rp);
        while !url.starts_with(rp.redirect_uri) {
            let resp = http
                .get(&url)
                .header("cookie", jar.join("; "))
                .send()
                .await
                .unwrap();
            cookies(&resp, &mut jar);
            url = url::Url::parse(base)
                .unwrap()
                .join(location(&resp))
                .unwrap()
                .to_string();
        }
    }
    jar.join("; ")
}

/// `n` codes for `rp` (fewer if `until` comes first), from the session, 16 requests at
/// a time.
async fn prepare_codes(
    base: &str,
    cookie: &str,
    rp: Rp,
    n: usize,
    until: Option<Instant>,
) -> VecDeque<String> {
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, cookie) = (authorize_url(base, rp), cookie.to_owned());
        let client = no_redirect();
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..n.div_ceil(CLIENTS) {
                if until.is_some_and(|t| Instant::now() >= t) {
                    break;
                }
                let r = client
                    .get(&url)
                    .header("cookie", &cookie)
                    .send()
                    .await
                    .unwrap();
                codes.push(code_of(&r));
            }
            codes
        }));
    }
    let mut all = VecDeque::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all
}

async fn token(c: &reqwest::Client, base: &str, rp: Rp, form: &[(&str, &str)]) -> Option<Value> {
    let r = c
        .post(format!("{base}/oidc/token"))
        .basic_auth(rp.client_id, Some(rp.secret))
        .form(form)
        .send()
        .await
        .ok()?;
    if r.status() != 200 {
        return None;
    }
    r.json().await.ok()
}

async fn exchange(c: &reqwest::Client, base: &str, rp: Rp, code: &str) -> Option<Value> {
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", rp.redirect_uri),
        ("code_verifier", VERIFIER),
    ];
    token(c, base, rp, &form).await
}

/// 200 for a GET, the body read.
async fn get_ok(c: &reqwest::Client, url: &str, bearer: Option<&str>) -> Option<bool> {
    let mut request = c.get(url);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let r = request.send().await.ok()?;
    let ok = r.status() == 200;
    r.bytes().await.ok()?;
    Some(ok)
}

/// One token family per client: its refresh chain and its access token.
struct Families {
    chains: Vec<Mutex<String>>,
    access: Vec<String>,
}

impl Bench {
    fn wants(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }

    /// Warms up, then measures `task` for `seconds` and reports it.
    async fn measure<F, Fut>(&self, op: Operation, alg: Option<&str>, seconds: u64, task: F)
    where
        F: Fn(usize, reqwest::Client) -> Fut + Send + Sync + 'static + Clone,
        Fut: std::future::Future<Output = Option<bool>> + Send,
    {
        if self.warmup > 0 {
            run_load(self.warmup, None, task.clone()).await;
        }
        run_load(seconds, self.pid, task)
            .await
            .report(self, op, alg);
    }

    async fn sign_in(&self, http: &reqwest::Client) -> String {
        match &self.target {
            Target::ApexIdp { login } => sign_in_apex(http, &self.base, login).await,
            Target::OidcProvider => sign_in_oidc_provider(http, &self.base).await,
        }
    }

    async fn run(&self) {
        let http = no_redirect();
        let cookie = self.sign_in(&http).await;
        let on_families = [
            Operation::Refresh,
            Operation::Userinfo,
            Operation::Introspection,
        ];
        for rp in RPS {
            if self.wants(Operation::Exchange) {
                self.code_exchange(&cookie, rp).await;
            }
            if on_families.iter().any(|&op| self.wants(op)) {
                let families = Arc::new(self.families(&http, &cookie, rp).await);
                self.refresh(rp, &families).await;
                self.userinfo(rp, &families).await;
                self.introspection(rp, &families).await;
            }
            self.client_credentials(rp).await;
            println!();
        }
        for (op, path) in [
            (Operation::Discovery, "/.well-known/openid-configuration"),
            (Operation::Jwks, "/oidc/jwks"),
        ] {
            if self.wants(op) {
                let url = format!("{}{path}", self.base);
                self.measure(op, None, self.seconds, move |_, c| {
                    let url = url.clone();
                    async move { get_ok(&c, &url, None).await }
                })
                .await;
            }
        }
    }

    /// With a frozen clock, until the codes are used up (at most 10 × seconds). On a
    /// running one, for `seconds`, with as many codes as warm-up and measure need at
    /// the pace of a first batch (exchanged unmeasured), prepared early enough that
    /// none expires: codes left over would only weigh on the server's memory.
    async fn code_exchange(&self, cookie: &str, rp: Rp) {
        let queue = Arc::new(Mutex::new(VecDeque::<String>::new()));
        let (base, q) = (self.base.clone(), Arc::clone(&queue));
        let task = move |_: usize, c: reqwest::Client| {
            let (base, queue) = (base.clone(), Arc::clone(&q));
            async move {
                let code = queue.lock().unwrap().pop_front()?;
                Some(exchange(&c, &base, rp, &code).await.is_some())
            }
        };
        let (seconds, codes, until) = match self.code_lifetime {
            None => (self.seconds * 10, self.codes, None),
            Some(lifetime) => {
                let first = prepare_codes(&self.base, cookie, rp, PACE_CODES, None).await;
                queue.lock().unwrap().extend(first);
                let pace = run_load(self.seconds, None, task.clone()).await;
                queue.lock().unwrap().clear();
                let rate = pace.ok as f64 / pace.elapsed.as_secs_f64();
                let needed = rate * (self.warmup + self.seconds) as f64 * 1.5;
                // The first code must still be alive at the end of the measure.
                let budget = lifetime.saturating_sub(self.warmup + self.seconds + 5);
                assert!(
                    budget > 0,
                    "codes live {lifetime} s: shorten warm-up + seconds"
                );
                let until = Instant::now() + Duration::from_secs(budget);
                (self.seconds, (needed as usize).min(self.codes), Some(until))
            }
        };
        let t = Instant::now();
        let prepared = prepare_codes(&self.base, cookie, rp, codes, until).await;
        println!(
            "{} (client {}): {} codes prepared in {:.1} s",
            rp.alg,
            rp.client_id,
            prepared.len(),
            t.elapsed().as_secs_f64()
        );
        queue.lock().unwrap().extend(prepared);
        self.measure(Operation::Exchange, Some(rp.alg), seconds, task)
            .await;
    }

    async fn families(&self, http: &reqwest::Client, cookie: &str, rp: Rp) -> Families {
        let mut families = Families {
            chains: Vec::new(),
            access: Vec::new(),
        };
        for code in prepare_codes(&self.base, cookie, rp, CLIENTS, None).await {
            let t = exchange(http, &self.base, rp, &code).await.unwrap();
            let refresh = t["refresh_token"].as_str().unwrap().to_owned();
            families.chains.push(Mutex::new(refresh));
            families
                .access
                .push(t["access_token"].as_str().unwrap().to_owned());
        }
        families
    }

    async fn refresh(&self, rp: Rp, families: &Arc<Families>) {
        if !self.wants(Operation::Refresh) {
            return;
        }
        let (base, f) = (self.base.clone(), Arc::clone(families));
        let op = Operation::Refresh;
        self.measure(op, Some(rp.alg), self.seconds, move |n, c| {
            let (base, f) = (base.clone(), Arc::clone(&f));
            async move {
                let current = f.chains[n].lock().unwrap().clone();
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", current.as_str()),
                ];
                let t = token(&c, &base, rp, &form).await;
                let next = t.as_ref().and_then(|t| t["refresh_token"].as_str());
                if let Some(next) = next {
                    *f.chains[n].lock().unwrap() = next.to_owned();
                }
                Some(next.is_some())
            }
        })
        .await;
    }

    async fn userinfo(&self, rp: Rp, families: &Arc<Families>) {
        if !self.wants(Operation::Userinfo) {
            return;
        }
        let (url, f) = (format!("{}/oidc/userinfo", self.base), Arc::clone(families));
        let op = Operation::Userinfo;
        self.measure(op, Some(rp.alg), self.seconds, move |n, c| {
            let (url, f) = (url.clone(), Arc::clone(&f));
            async move { get_ok(&c, &url, Some(&f.access[n])).await }
        })
        .await;
    }

    async fn introspection(&self, rp: Rp, families: &Arc<Families>) {
        if !self.wants(Operation::Introspection) {
            return;
        }
        let (url, f) = (
            format!("{}/oidc/introspect", self.base),
            Arc::clone(families),
        );
        let op = Operation::Introspection;
        self.measure(op, Some(rp.alg), self.seconds, move |n, c| {
            let (url, f) = (url.clone(), Arc::clone(&f));
            async move {
                let r = c
                    .post(&url)
                    .basic_auth(rp.client_id, Some(rp.secret))
                    .form(&[("token", f.access[n].as_str())])
                    .send()
                    .await
                    .ok()?;
                let v: Value = r.json().await.ok()?;
                Some(v["active"] == true)
            }
        })
        .await;
    }

    async fn client_credentials(&self, rp: Rp) {
        if !self.wants(Operation::ClientCredentials) {
            return;
        }
        let base = self.base.clone();
        let op = Operation::ClientCredentials;
        self.measure(op, Some(rp.alg), self.seconds, move |_, c| {
            let base = base.clone();
            async move {
                let form = [("grant_type", "client_credentials")];
                Some(token(&c, &base, rp, &form).await.is_some())
            }
        })
        .await;
    }
}

/// The server in this process, on the test catalogue and the demo directory, with a
/// frozen clock.
async fn in_process(args: &Args) {
    let seconds: u64 = args.nth(0, 3);
    let codes: usize = args.nth(1, 6000);
    let tmp = tempfile::tempdir().unwrap();
    let (listener, port) = bound_listener();
    let base = format!("http://127.0.0.1:{port}");
    let mut config = Config::default();
    config.server.data_dir = tmp.path().join("data");
    config.server.public_url = base.clone();
    config.mail.outbox_dir = tmp.path().join("outbox");
    config.http.listen = format!("127.0.0.1:{port}");
    config.ldap.listen = String::new();
    config.ldap.ldaps_listen = String::new();
    config.argon2 = Argon2Config {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    config.catalogue.file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/catalogue.toml");

    println!("apex-idp OpenID Connect benchmark — {}", machine());
    println!("command: cargo bench --bench oidc -- {seconds} {codes}");
    println!("{CLIENTS} concurrent clients; server and load client in one process\n");

    let clock = ManualClock::new();
    let directory = server::open_directory(&config, Arc::new(clock)).unwrap();
    apex_idp::demo::seed(&directory).await.unwrap();
    let login = directory
        .structures()
        .unwrap()
        .into_iter()
        .flat_map(|s| directory.accounts_of(&s.id).unwrap())
        .find(|a| a.person.family_name == "Durand")
        .and_then(|a| a.login)
        .unwrap();
    let srv = server::start_on(&config, directory, Some(listener))
        .await
        .unwrap();
    let bench = Bench {
        target: Target::ApexIdp { login },
        base,
        label: "apex-idp".into(),
        pid: Some(std::process::id()),
        cpu_name: "CPU",
        seconds,
        warmup: args.num("warmup", 0),
        code_lifetime: None,
        codes,
        operations: OPERATIONS.to_vec(),
    };
    bench.run().await;
    srv.shutdown().await;
}

/// The load client alone, against the OP at `issuer`.
async fn external(args: &Args, issuer: &str) {
    let seconds: u64 = args.nth(0, 3);
    let target = match args.get("target").unwrap_or("apex") {
        "apex" | "apex-idp" => Target::ApexIdp {
            login: args.get("login").unwrap_or(DEMO_LOGIN).to_owned(),
        },
        "oidc-provider" => Target::OidcProvider,
        other => panic!("--target {other}: apex or oidc-provider"),
    };
    let default_label = match target {
        Target::ApexIdp { .. } => "apex-idp",
        Target::OidcProvider => "oidc-provider",
    };
    let operations: Vec<Operation> = match args.get("ops") {
        Some(list) => list
            .split(',')
            .map(|o| Operation::parse(o.trim()).unwrap_or_else(|| panic!("unknown operation {o}")))
            .collect(),
        None => OPERATIONS.to_vec(),
    };
    let bench = Bench {
        target,
        base: issuer.trim_end_matches('/').to_owned(),
        label: args.get("label").unwrap_or(default_label).to_owned(),
        pid: args.get("pid").map(|p| p.parse().expect("--pid PID")),
        cpu_name: "server-CPU",
        seconds,
        warmup: args.num("warmup", 0),
        code_lifetime: Some(CODE_SECONDS),
        codes: args.nth(1, 6000),
        operations,
    };
    let command: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    println!(
        "OpenID Connect load client — {} — {} at {}",
        machine(),
        bench.label,
        bench.base
    );
    println!("command: cargo bench --bench oidc -- {}", command.join(" "));
    println!(
        "{CLIENTS} concurrent clients, {seconds} s per measure after {} s of warm-up, {} codes per algorithm; CPU of {}\n",
        bench.warmup,
        bench.codes,
        bench
            .pid
            .map_or("nothing (no --pid)".to_owned(), |p| format!("pid {p}"))
    );
    bench.run().await;
}

#[tokio::main]
async fn main() {
    server::install_crypto_provider();
    let args = Args::parse();
    match args.get("issuer") {
        Some(issuer) => external(&args, issuer).await,
        None => in_process(&args).await,
    }
}

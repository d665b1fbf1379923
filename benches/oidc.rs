//! Benchmark of the OpenID Connect issuer at 16 concurrent clients: code exchange
//! (codes prepared beforehand through the SSO session), refresh (each client follows
//! its own rotating chain), userinfo, introspection and client_credentials for each
//! signature algorithm (RS256, ES256, EdDSA), then discovery and JWKS.
//!
//! Reproduce: `cargo bench --bench oidc -- [seconds] [codes]` (defaults 3 s per
//! measure and 6000 codes per algorithm). The server runs in this process on the test
//! catalogue (tests/oidc/catalogue.toml) and the demo directory; the load client shares
//! the machine's cores with it. The clock is frozen so that nothing expires mid-run.
//! "CPU" is this process's CPU time (server and load client together).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

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

/// CPU seconds used by this process so far (user + system).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th field.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

struct Load {
    ok: usize,
    failed: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
    cpu: f64,
}

impl Load {
    fn report(&mut self, name: &str) {
        self.latencies.sort();
        let pct = |p: f64| {
            let i = ((self.latencies.len() as f64 * p) as usize)
                .min(self.latencies.len().saturating_sub(1));
            self.latencies.get(i).copied().unwrap_or_default()
        };
        println!(
            "{name:<30} {:>8.0} ops/s  {:>8.0} ops/CPU-s   p50 {:>6.2} ms   p99 {:>6.2} ms   ({} ok, {} failed, {:.1} s)",
            self.ok as f64 / self.elapsed.as_secs_f64(),
            self.ok as f64 / self.cpu.max(1e-9),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.ok,
            self.failed,
            self.elapsed.as_secs_f64()
        );
    }
}

/// Runs `task` from 16 clients until the deadline or until a task says `None` (no
/// more work). `Some(true)` counts a success.
async fn run_load<F, Fut>(seconds: u64, task: F) -> Load
where
    F: Fn(usize, reqwest::Client) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Option<bool>> + Send,
{
    let cpu = cpu_seconds();
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
        cpu: 0.0,
    };
    for h in handles {
        let (ok, failed, lat) = h.await.unwrap();
        load.ok += ok;
        load.failed += failed;
        load.latencies.extend(lat);
    }
    load.elapsed = start.elapsed();
    load.cpu = cpu_seconds() - cpu;
    load
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

fn code_of(resp: &reqwest::Response) -> String {
    let location = resp.headers()["location"].to_str().unwrap();
    url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| panic!("no code in {location}"))
}

/// Signs Chloé Durand in once; returns the SSO cookie header.
async fn sign_in(http: &reqwest::Client, base: &str, login: &str) -> String {
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

/// `n` codes for `rp`, from the SSO session, 16 requests at a time.
async fn prepare_codes(base: &str, cookie: &str, rp: Rp, n: usize) -> VecDeque<String> {
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let (url, cookie) = (authorize_url(base, rp), cookie.to_owned());
        let client = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        tasks.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            for _ in 0..n.div_ceil(CLIENTS) {
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

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let seconds: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(3);
    let codes: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(6000);
    server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
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
    let srv = server::start_with(&config, directory).await.unwrap();
    let http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = sign_in(&http, &base, &login).await;

    for rp in RPS {
        let t = Instant::now();
        let queue = Arc::new(Mutex::new(prepare_codes(&base, &cookie, rp, codes).await));
        println!(
            "{} (client {}): {} codes prepared in {:.1} s",
            rp.alg,
            rp.client_id,
            queue.lock().unwrap().len(),
            t.elapsed().as_secs_f64()
        );
        let b = base.clone();
        let mut exchange = run_load(seconds * 10, move |_, c| {
            let (b, queue) = (b.clone(), Arc::clone(&queue));
            async move {
                let code = queue.lock().unwrap().pop_front()?;
                let form = [
                    ("grant_type", "authorization_code"),
                    ("code", code.as_str()),
                    ("redirect_uri", rp.redirect_uri),
                    ("code_verifier", VERIFIER),
                ];
                Some(token(&c, &b, rp, &form).await.is_some())
            }
        })
        .await;
        exchange.report(&format!("{} code exchange", rp.alg));

        // One token family per client: refresh follows each chain.
        let mut chains = Vec::new();
        let mut access = Vec::new();
        for code in prepare_codes(&base, &cookie, rp, CLIENTS).await {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", rp.redirect_uri),
                ("code_verifier", VERIFIER),
            ];
            let t = token(&http, &base, rp, &form).await.unwrap();
            chains.push(Mutex::new(t["refresh_token"].as_str().unwrap().to_owned()));
            access.push(t["access_token"].as_str().unwrap().to_owned());
        }
        let chains = Arc::new(chains);
        let access = Arc::new(access);

        let b = base.clone();
        let mut refresh = run_load(seconds, move |n, c| {
            let (b, chains) = (b.clone(), Arc::clone(&chains));
            async move {
                let current = chains[n].lock().unwrap().clone();
                let form = [
                    ("grant_type", "refresh_token"),
                    ("refresh_token", current.as_str()),
                ];
                let t = token(&c, &b, rp, &form).await;
                let next = t.as_ref().and_then(|t| t["refresh_token"].as_str());
                if let Some(next) = next {
                    *chains[n].lock().unwrap() = next.to_owned();
                }
                Some(next.is_some())
            }
        })
        .await;
        refresh.report(&format!("{} refresh", rp.alg));

        let (b, a) = (base.clone(), Arc::clone(&access));
        let mut userinfo = run_load(seconds, move |n, c| {
            let (b, a) = (b.clone(), Arc::clone(&a));
            async move {
                let r = c
                    .get(format!("{b}/oidc/userinfo"))
                    .bearer_auth(&a[n])
                    .send()
                    .await
                    .ok()?;
                let ok = r.status() == 200;
                r.bytes().await.ok()?;
                Some(ok)
            }
        })
        .await;
        userinfo.report(&format!("{} userinfo", rp.alg));

        let (b, a) = (base.clone(), Arc::clone(&access));
        let mut introspect = run_load(seconds, move |n, c| {
            let (b, a) = (b.clone(), Arc::clone(&a));
            async move {
                let r = c
                    .post(format!("{b}/oidc/introspect"))
                    .basic_auth(rp.client_id, Some(rp.secret))
                    .form(&[("token", a[n].as_str())])
                    .send()
                    .await
                    .ok()?;
                let v: Value = r.json().await.ok()?;
                Some(v["active"] == true)
            }
        })
        .await;
        introspect.report(&format!("{} introspection", rp.alg));

        let b = base.clone();
        let mut cc = run_load(seconds, move |_, c| {
            let b = b.clone();
            async move {
                let form = [("grant_type", "client_credentials")];
                Some(token(&c, &b, rp, &form).await.is_some())
            }
        })
        .await;
        cc.report(&format!("{} client_credentials", rp.alg));
        println!();
    }

    for (name, path) in [
        ("discovery", "/.well-known/openid-configuration"),
        ("JWKS", "/oidc/jwks"),
    ] {
        let url = format!("{base}{path}");
        let mut load = run_load(seconds, move |_, c| {
            let url = url.clone();
            async move {
                let r = c.get(&url).send().await.ok()?;
                let ok = r.status() == 200;
                r.bytes().await.ok()?;
                Some(ok)
            }
        })
        .await;
        load.report(name);
    }
    srv.shutdown().await;
}

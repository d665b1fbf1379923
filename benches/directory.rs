//! Benchmark of the core directory: generates a large store (10,000 structures and
//! 200,000 accounts by default), then measures start-up on it and the JSON API's
//! throughput at 16 concurrent clients for a read and a write.
//!
//! Reproduce: `cargo bench --bench directory -- [structures] [seconds]`
//! (defaults 10000 and 10). The load client runs in the same process and shares the
//! machine's cores with the server.
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
use apex_idp::directory::generate::GenerateSpec;
use apex_idp::domain::Role;
use apex_idp::server;

const PASSWORD: &str = "Bench-Password-2026";
const CLIENTS: usize = 16;

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn dir_size(path: &std::path::Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| {
                    let m = e.metadata().unwrap();
                    if m.is_dir() {
                        dir_size(&e.path())
                    } else {
                        m.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

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

struct Load {
    ok: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
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
            "{name:<34} {:>8.0} ops/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} ok in {:.1} s)",
            self.ok as f64 / self.elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e3,
            pct(0.99).as_secs_f64() * 1e3,
            self.ok,
            self.elapsed.as_secs_f64()
        );
    }
}

async fn run_load<F, Fut>(seconds: u64, task: F) -> Load
where
    F: Fn(usize, reqwest::Client) -> Fut + Send + Sync + 'static + Clone,
    Fut: std::future::Future<Output = Option<bool>> + Send,
{
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let mut handles = Vec::new();
    for n in 0..CLIENTS {
        let task = task.clone();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        handles.push(tokio::spawn(async move {
            let mut ok = 0usize;
            let mut lat = Vec::new();
            let mut i = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                if task(n * 1_000_000 + i, client.clone()).await == Some(true) {
                    ok += 1;
                    lat.push(t.elapsed());
                }
                i += 1;
            }
            (ok, lat)
        }));
    }
    let mut load = Load {
        ok: 0,
        latencies: Vec::new(),
        elapsed: Duration::ZERO,
    };
    for h in handles {
        let (ok, lat) = h.await.unwrap();
        load.ok += ok;
        load.latencies.extend(lat);
    }
    load.elapsed = start.elapsed();
    load
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let structures: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    server::install_crypto_provider();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.server.data_dir = tmp.path().join("data");
    config.mail.outbox_dir = tmp.path().join("outbox");
    config.http.listen = "127.0.0.1:0".into();
    config.catalogue.file =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");

    println!("apex-idp directory benchmark — {}", machine());
    println!("command: cargo bench --bench directory -- {structures} {seconds}");

    let spec = GenerateSpec {
        structures,
        services: 3,
        accounts: 20,
    };
    let directory = server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    let phc = directory.hasher().hash(PASSWORD).await.unwrap();
    let t = Instant::now();
    let summary = directory.generate(spec, &phc, |_| {}).unwrap();
    let generated_in = t.elapsed();
    let peak_gen = vm_hwm_kib();
    drop(directory);
    let size = dir_size(&config.server.data_dir);
    println!(
        "generate: {} structures, {} accounts, {} habilitations in {:.1} s; peak RSS {} MiB; store {} MiB on disk",
        summary.structures,
        summary.accounts,
        summary.habilitations,
        generated_in.as_secs_f64(),
        peak_gen / 1024,
        size / (1024 * 1024)
    );

    let t = Instant::now();
    let srv = server::start(&config, Arc::new(SystemClock)).await.unwrap();
    println!("start-up on it: {:.2} s", t.elapsed().as_secs_f64());

    let dir = Arc::clone(&srv.directory);
    let structure = dir
        .structure_by_ref(&apex_idp::directory::generate::nth_siret(0))
        .unwrap();
    let accounts = dir.accounts_of(&structure.id).unwrap();
    let admin = accounts
        .iter()
        .find(|a| a.role == Role::Administrateur)
        .unwrap();
    let collabs: Arc<Vec<String>> = Arc::new(
        accounts
            .iter()
            .filter(|a| a.role == Role::Collaborateur)
            .map(|a| a.id.clone())
            .collect(),
    );
    let base = format!("http://{}/api/v1", srv.http_addr);
    let http = reqwest::Client::new();
    let token: String = http
        .post(format!("{base}/sessions"))
        .json(&serde_json::json!({"login": admin.login, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    println!(
        "read target: GET /structure of a {}-account structure",
        accounts.len()
    );

    let (b, tk) = (base.clone(), token.clone());
    let mut read = run_load(seconds, move |_, c| {
        let (b, tk) = (b.clone(), tk.clone());
        async move {
            let r = c
                .get(format!("{b}/structure"))
                .bearer_auth(&tk)
                .send()
                .await
                .ok()?;
            let ok = r.status() == 200;
            r.bytes().await.ok()?;
            Some(ok)
        }
    })
    .await;
    read.report("read  GET /structure");

    let (b, tk) = (base.clone(), token.clone());
    let mut write = run_load(seconds, move |i, c| {
        let (b, tk, collabs) = (b.clone(), tk.clone(), Arc::clone(&collabs));
        async move {
            let id = &collabs[(i / 1_000_000) % collabs.len()];
            let url = format!("{b}/accounts/{id}/habilitations/DEMO:ADMINISTRATEUR");
            let r = if i % 2 == 0 {
                c.put(url)
            } else {
                c.delete(url)
            }
            .bearer_auth(&tk)
            .send()
            .await
            .ok()?;
            Some(matches!(r.status().as_u16(), 200 | 201 | 204))
        }
    })
    .await;
    write.report("write PUT|DELETE habilitation");
    println!("(each write is one transaction + audit event + fsync before the answer)");
    srv.shutdown().await;
}

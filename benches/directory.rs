//! Benchmark of the core directory: generates a large store (10,000 structures and
//! 200,000 accounts by default), then measures start-up on it and the JSON API's
//! throughput at 16 concurrent clients for a read and a write.
//!
//! Reproduce: `cargo bench --bench directory -- [structures] [seconds]`
//! (defaults 10000 and 10). The load client runs in the same process and shares the
//! machine's cores with the server. With `APEX_BENCH_POSTGRES_URL` set (an empty
//! database), the store is PostgreSQL there instead of sled.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "common/mod.rs"]
mod common;

use common::{cpu_seconds, machine};

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

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).map(str::to_owned))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
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
    config.catalogue.file =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    let postgres = std::env::var("APEX_BENCH_POSTGRES_URL").ok();
    if let Some(url) = &postgres {
        config.store.backend = apex_idp::config::StoreBackend::Postgres;
        config.store.url = url.clone();
    }

    println!("apex-idp directory benchmark — {}", machine());
    println!("command: cargo bench --bench directory -- {structures} {seconds}");
    println!(
        "store: {}",
        if postgres.is_some() {
            "PostgreSQL (APEX_BENCH_POSTGRES_URL)"
        } else {
            "sled"
        }
    );

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
    let structure = directory
        .structure_by_ref(&apex_idp::directory::generate::nth_siret(0))
        .unwrap();
    let accounts = directory.accounts_of(&structure.id).unwrap();
    let admin_login = accounts
        .iter()
        .find(|a| a.role == Role::Administrateur)
        .unwrap()
        .login
        .clone()
        .unwrap();
    let collabs: Arc<Vec<String>> = Arc::new(
        accounts
            .iter()
            .filter(|a| a.role == Role::Collaborateur)
            .map(|a| a.id.clone())
            .collect(),
    );
    drop(directory);
    tokio::time::sleep(Duration::from_millis(500)).await;
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

    // The server runs as its own process, as in production: its start-up time, resident
    // memory and CPU time are its own, not the load client's.
    let t = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_apex-idp"))
        .args(["serve", "--dev"])
        .env("APEX_SERVER__DATA_DIR", &config.server.data_dir)
        .env("APEX_MAIL__OUTBOX_DIR", &config.mail.outbox_dir)
        .env("APEX_HTTP__LISTEN", "127.0.0.1:0")
        .env("APEX_LDAP__LISTEN", "")
        .env("APEX_LDAP__LDAPS_LISTEN", "")
        .env("APEX_CATALOGUE__FILE", &config.catalogue.file)
        .env(
            "APEX_STORE__BACKEND",
            if postgres.is_some() {
                "postgres"
            } else {
                "sled"
            },
        )
        .env("APEX_STORE__URL", postgres.as_deref().unwrap_or(""))
        .env("APEX_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(child.stdout.take().unwrap()));
    let addr = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(a) = line.strip_prefix("listening http ") {
            break a.to_owned();
        }
    };
    println!(
        "start-up of `apex-idp serve` on it: {:.2} s; resident memory {} MiB",
        t.elapsed().as_secs_f64(),
        proc_status_kib(pid, "VmRSS:") / 1024
    );

    let base = format!("http://{addr}/api/v1");
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token: String = http
        .post(format!("{base}/sessions"))
        .json(&serde_json::json!({"login": admin_login, "password": PASSWORD}))
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
    let cpu = cpu_seconds(pid);
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
    let read_cpu = cpu_seconds(pid) - cpu;
    read.report("read  GET /structure");
    println!(
        "      {:.0} per server-CPU-second",
        read.ok as f64 / read_cpu.max(0.001)
    );

    let (b, tk) = (base.clone(), token.clone());
    let cpu = cpu_seconds(pid);
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
    let write_cpu = cpu_seconds(pid) - cpu;
    write.report("write PUT|DELETE habilitation");
    println!(
        "      {:.0} per server-CPU-second",
        write.ok as f64 / write_cpu.max(0.001)
    );
    println!("(each write is one transaction + audit event + fsync before the answer)");
    println!(
        "server resident memory after the load: {} MiB",
        proc_status_kib(pid, "VmRSS:") / 1024
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
}

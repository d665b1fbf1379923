//! A throw-away PostgreSQL cluster for one test: `initdb` into a temporary directory,
//! `postgres` on a free port of 127.0.0.1 with its socket in that directory, removed
//! when the value is dropped. Debian's `postgresql` package provides the binaries (in
//! `/usr/lib/postgresql/<version>/bin`); `PG_BIN` names another directory. Without
//! them, [`Cluster::start`] prints a notice and the test passes without running: plain
//! `cargo test` needs no PostgreSQL; `.ci/run` installs it and sets
//! `APEX_REQUIRE_POSTGRES`, under which a missing server fails the test instead.
//!
//! As root (CI), the cluster runs as the `postgres` user, as PostgreSQL requires.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running cluster.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    runner: Option<String>,
    databases: std::sync::atomic::AtomicU32,
}

/// The directory of the server's binaries, if any.
fn binaries() -> Option<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        let dir = PathBuf::from(dir);
        return dir.join("postgres").exists().then_some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let v: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    // The effective uid of this process, read from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// The uid and gid of a user, from /etc/passwd.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&name))
            .then(|| Some((f.get(2)?.parse().ok()?, f.get(3)?.parse().ok()?)))?
    })
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

impl Cluster {
    /// Starts a cluster, or says why it cannot and returns None (the test then passes
    /// without running).
    pub fn start(test: &str) -> Option<Cluster> {
        let Some(bin) = binaries() else {
            assert!(
                std::env::var_os("APEX_REQUIRE_POSTGRES").is_none(),
                "{test}: APEX_REQUIRE_POSTGRES is set and no PostgreSQL server binaries were found"
            );
            eprintln!(
                "{test}: skipped: no PostgreSQL server binaries (install Debian's postgresql package, or set PG_BIN); .ci/run runs it"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("apex-pg-")
            .tempdir()
            .unwrap();
        let runner = if is_root() {
            let Some((uid, gid)) = user_ids("postgres") else {
                eprintln!(
                    "{test}: skipped: running as root and no postgres user to run PostgreSQL as"
                );
                return None;
            };
            chown(dir.path(), uid, gid);
            Some("postgres".to_owned())
        } else {
            None
        };
        let data = dir.path().join("data");
        let mut cluster = Cluster {
            dir,
            bin,
            port: 0,
            runner,
            databases: std::sync::atomic::AtomicU32::new(0),
        };
        let init = cluster
            .command("initdb")
            .args([
                "-D",
                data.to_str().unwrap(),
                "-U",
                "apex",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ])
            .stdout(Stdio::null())
            .output()
            .unwrap();
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        // A port that was free a moment ago; taken meanwhile, try another.
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if cluster.launch(port) {
                cluster.port = port;
                return Some(cluster);
            }
        }
        panic!(
            "postgres did not start: {}",
            std::fs::read_to_string(cluster.dir.path().join("log")).unwrap_or_default()
        );
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `pg_ctl start` on `port`; whether it started.
    fn launch(&self, port: u16) -> bool {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.dir.path().display()
        );
        self.command("pg_ctl")
            .args(["-D", &self.data(), "-o", &options, "-l"])
            .arg(self.dir.path().join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success()
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.runner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// A new empty database; its URL.
    pub async fn database(&self) -> String {
        let n = self
            .databases
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("apex{n}");
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .unwrap();
        let running = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .unwrap();
        drop(client);
        let _ = running.await;
        self.url(&name)
    }

    /// The URL of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://apex@127.0.0.1:{}/{name}", self.port)
    }

    /// Stops the server (fast shutdown: sessions are cut).
    pub fn stop(&self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .status();
    }

    /// Starts it again on the same port.
    pub fn restart(&self) {
        assert!(self.launch(self.port), "postgres did not restart");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-D", &self.data(), "-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

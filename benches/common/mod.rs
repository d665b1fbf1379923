//! What every benchmark binary needs: its command line, the machine it runs on, and
//! the CPU time of a process or of the whole machine, read in /proc. Included by each
//! bench with `#[path]`; each uses only part of it.
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::OnceLock;

/// The server binary's allocator, so that a bench serving in-process measures what
/// `apex-idp serve` runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Command-line arguments: positional values and `--name value` options. Cargo adds a
/// lone `--bench`, ignored.
pub struct Args {
    positional: Vec<String>,
    options: HashMap<String, String>,
}

impl Args {
    /// This process's arguments.
    pub fn parse() -> Args {
        let mut positional = Vec::new();
        let mut options = HashMap::new();
        let mut it = std::env::args().skip(1).peekable();
        while let Some(a) = it.next() {
            match a.strip_prefix("--") {
                Some("bench") => {}
                Some(name) => {
                    let value = it.next_if(|v| !v.starts_with("--")).unwrap_or_default();
                    options.insert(name.to_owned(), value);
                }
                None => positional.push(a),
            }
        }
        Args {
            positional,
            options,
        }
    }

    /// An option's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }

    /// An option's value as a number, or `default`.
    pub fn num<N: std::str::FromStr>(&self, name: &str, default: N) -> N {
        self.get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// The `i`-th positional value as a number, or `default`.
    pub fn nth<N: std::str::FromStr>(&self, i: usize, default: N) -> N {
        self.positional
            .get(i)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// The `i`-th positional value.
    pub fn word(&self, i: usize) -> Option<&str> {
        self.positional.get(i).map(String::as_str)
    }
}

/// The machine's cores.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
}

/// Cores, CPU model and load average, for the head of a report.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!("{} cores, {cpu}, load average {}", cores(), load.join(" "))
}

/// Clock ticks per second of /proc (`getconf CLK_TCK`; 100 on Linux).
pub fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// CPU seconds (user + system, every thread) used so far by a process.
pub fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): utime is the 14th field.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / clock_ticks()
}

/// CPU seconds spent by the whole machine so far (every process, all cores).
pub fn machine_cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let line = stat.lines().next().unwrap_or("");
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    let busy: f64 = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .filter_map(|(_, v)| v.parse::<f64>().ok())
        .sum();
    busy / clock_ticks()
}

//! Three nodes over one database under a write load, and faults in the middle of it: a
//! node killed with SIGKILL, then the database stopped for a while. The other nodes
//! keep serving; every write acknowledged is there afterwards; a write refused for the
//! outage is `503` (never a `500`) and left nothing behind; the nodes recover without a
//! restart; the audit hash chain still verifies.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::common::OPERATOR_TOKEN;
use crate::node::{Node, administrateur, eventually, seed};

/// Writers per node.
const WRITERS_PER_NODE: usize = 2;
/// Writes each writer must have acknowledged in a phase before the next fault.
const ACKS_PER_PHASE: usize = 4;

/// Where the test is; each write records the phases it started and ended in.
const BEFORE: u8 = 0;
const NODE_KILLED: u8 = 1;
const DATABASE_DOWN: u8 = 2;
const DATABASE_BACK: u8 = 3;

/// One write of the load and what its client saw (0: no answer at all).
#[derive(Debug, Clone)]
struct Write {
    writer: usize,
    node: usize,
    phase: u8,
    ended: u8,
    name: String,
    status: u16,
    body: Value,
}

/// The load: writers creating services through their node until told to stop.
struct Load {
    log: Arc<Mutex<Vec<Write>>>,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(nodes: &[Node], token: &str) -> Load {
        let log = Arc::new(Mutex::new(Vec::new()));
        let phase = Arc::new(AtomicU8::new(BEFORE));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (n, node) in nodes.iter().enumerate() {
            for w in 0..WRITERS_PER_NODE {
                let writer = n * WRITERS_PER_NODE + w;
                let (http, base, token) = (node.http.clone(), node.base.clone(), token.to_owned());
                let (log, phase, stop) = (Arc::clone(&log), Arc::clone(&phase), Arc::clone(&stop));
                tasks.push(tokio::spawn(async move {
                    let mut i = 0;
                    while !stop.load(Ordering::SeqCst) {
                        let name = format!("Charge {writer}-{i}");
                        let started = phase.load(Ordering::SeqCst);
                        let (status, body) = create_service(&http, &base, &token, &name).await;
                        log.lock().unwrap().push(Write {
                            writer,
                            node: n,
                            phase: started,
                            ended: phase.load(Ordering::SeqCst),
                            name,
                            status,
                            body,
                        });
                        if status != 201 {
                            // A refused or unanswered write: no busy loop while it lasts.
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        i += 1;
                    }
                }));
            }
        }
        Load {
            log,
            phase,
            stop,
            tasks,
        }
    }

    fn enter(&self, phase: u8) {
        self.phase.store(phase, Ordering::SeqCst);
    }

    /// Writes of `writer` started in `phase` that got `status`.
    fn count(&self, writer: usize, phase: u8, status: u16) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|w| w.writer == writer && w.phase == phase && w.status == status)
            .count()
    }

    /// Waits until every writer of `writers` has had `n` writes started in `phase`
    /// answered `status`; panics with the log's tally when it never happens.
    async fn wait_for(&self, writers: &[usize], phase: u8, status: u16, n: usize) {
        let done = eventually(Duration::from_secs(120), async || {
            writers.iter().all(|w| self.count(*w, phase, status) >= n)
        })
        .await;
        assert!(
            done,
            "phase {phase}: not every writer of {writers:?} got {n} answers {status}: {:?}",
            self.tally()
        );
    }

    /// Per node and phase, how many writes got each status.
    fn tally(&self) -> HashMap<(usize, u8, u16), usize> {
        let mut tally = HashMap::new();
        for w in self.log.lock().unwrap().iter() {
            *tally.entry((w.node, w.phase, w.status)).or_default() += 1;
        }
        tally
    }

    async fn finish(self) -> Vec<Write> {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            task.await.unwrap();
        }
        self.log.lock().unwrap().clone()
    }
}

async fn create_service(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
) -> (u16, Value) {
    let reply = http
        .post(format!("{base}/api/v1/services"))
        .bearer_auth(token)
        .json(&json!({ "name": name }))
        .send()
        .await;
    let Ok(reply) = reply else {
        return (0, Value::Null);
    };
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The verification of the audit chain, through `node`: whether it is intact, and its
/// number of events.
async fn audit_chain(node: &Node) -> (bool, u64) {
    let reply = node
        .http
        .get(format!("{}/api/v1/operator/audit/chain", node.base))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status().as_u16(), 200);
    let chain: Value = reply.json().await.unwrap();
    (
        chain["intact"].as_bool().unwrap_or(false),
        chain["events"]
            .as_u64()
            .unwrap_or_else(|| panic!("{chain}")),
    )
}

/// The names of the structure's services, read through `node`, with their count.
async fn services(node: &Node, token: &str) -> HashMap<String, usize> {
    let (status, structure) = node.call(Some(token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    let mut names = HashMap::new();
    for s in structure["services"].as_array().unwrap() {
        *names
            .entry(s["name"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_a_killed_node_and_a_database_outage() {
    let Some(cluster) =
        Cluster::start("acknowledged_writes_survive_a_killed_node_and_a_database_outage")
    else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let mut nodes = vec![Node::start(&url), Node::start(&url), Node::start(&url)];
    let token = nodes[0].sign_in(&administrateur(&signins)).await;
    let everyone: Vec<usize> = (0..nodes.len() * WRITERS_PER_NODE).collect();
    let survivors: Vec<usize> = (0..2 * WRITERS_PER_NODE).collect();
    let (intact, before) = audit_chain(&nodes[0]).await;
    assert!(intact);
    let load = Load::start(&nodes, &token);
    load.wait_for(&everyone, BEFORE, 201, ACKS_PER_PHASE).await;

    // kill -9 of the third node in the middle of the load.
    load.enter(NODE_KILLED);
    nodes[2].kill();
    load.wait_for(&survivors, NODE_KILLED, 201, ACKS_PER_PHASE)
        .await;

    // The database stops: the survivors' writes are refused with 503 while it is down.
    load.enter(DATABASE_DOWN);
    let down = Instant::now();
    tokio::task::block_in_place(|| cluster.stop());
    load.wait_for(&survivors, DATABASE_DOWN, 503, 2).await;
    assert_eq!(nodes[0].get("/readyz").await, 503);
    assert_eq!(
        nodes[1].get("/healthz").await,
        200,
        "alive without its database"
    );
    // An outage of several seconds, whatever the writers managed meanwhile.
    tokio::time::sleep(Duration::from_secs(6).saturating_sub(down.elapsed())).await;

    // Back: both survivors recover by themselves and acknowledge writes again.
    tokio::task::block_in_place(|| cluster.restart());
    load.enter(DATABASE_BACK);
    load.wait_for(&survivors, DATABASE_BACK, 201, ACKS_PER_PHASE)
        .await;
    assert!(nodes[0].ready().await && nodes[1].ready().await);
    let tally = load.tally();
    let log = load.finish().await;
    eprintln!("writes by (node, phase, status): {tally:?}");

    // Only answers a client can act on: created, or unavailable (never a 500) once the
    // database stopped; no answer at all only from the killed node, once killed.
    for w in &log {
        match (w.node, w.status) {
            (_, 201) => {}
            (0 | 1, 503) if w.ended >= DATABASE_DOWN => {
                assert_eq!(
                    w.body["type"].as_str().map(|t| t.ends_with("unavailable")),
                    Some(true),
                    "{w:?}"
                );
            }
            (2, 0) if w.ended >= NODE_KILLED => {}
            _ => panic!("unexpected answer: {w:?}"),
        }
    }

    // Read through a survivor: every acknowledged write is there, once; nothing of a
    // refused one is.
    let names = services(&nodes[1], &token).await;
    let (mut acknowledged, mut refused, mut unanswered) = (0, 0, 0);
    for w in &log {
        let present = names.get(&w.name).copied().unwrap_or(0);
        match w.status {
            201 => {
                acknowledged += 1;
                assert_eq!(present, 1, "acknowledged write {w:?} found {present} times");
            }
            503 => {
                refused += 1;
                assert_eq!(present, 0, "write refused with 503 but kept: {w:?}");
            }
            _ => {
                unanswered += 1;
                assert!(present <= 1, "{w:?} found {present} times");
            }
        }
    }
    eprintln!(
        "{acknowledged} acknowledged, {refused} refused (503), {unanswered} unanswered (killed node)"
    );
    assert!(refused > 0 && acknowledged > 0);

    // The audit chain is one linear, intact chain, with one event per service created:
    // no event without its write, no write without its event.
    let created = log.iter().filter(|w| names.contains_key(&w.name)).count();
    let (intact, events) = audit_chain(&nodes[0]).await;
    assert!(intact, "the audit chain is broken");
    assert_eq!(
        events,
        before + u64::try_from(created).unwrap(),
        "{created} services created"
    );
}

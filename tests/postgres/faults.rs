//! Three nodes over one database under a write load, and faults in the middle of it: a
//! node killed with SIGKILL, then the database stopped for a while. The other nodes
//! keep serving; every write acknowledged is there afterwards; a write refused for the
//! outage is `503` (never a `500`) and left nothing behind; the nodes recover without a
//! restart; the audit hash chain still verifies, one event per change made.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apex_idp::domain::Role;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::common::OPERATOR_TOKEN;
use crate::node::{Node, eventually, letters, of_first_structure, seed};

/// Writes each writer must have acknowledged in a phase before the next fault.
const ACKS_PER_PHASE: usize = 4;

/// Where the test is; each write records the phases it started and ended in.
const BEFORE: u8 = 0;
const NODE_KILLED: u8 = 1;
const DATABASE_DOWN: u8 = 2;
const DATABASE_BACK: u8 = 3;

/// The node killed mid-load.
const KILLED: usize = 2;

/// What a writer writes, again and again, each time a new value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Creates a service of its structure (`201`).
    Service,
    /// Changes its own given name (`200`).
    GivenName,
}

/// A client of the load: one kind of write, through one node, as one person.
#[derive(Debug, Clone)]
struct Writer {
    node: usize,
    kind: Kind,
    login: String,
    token: String,
}

/// One write of the load and what its client saw (0: no answer at all).
#[derive(Debug, Clone)]
struct Write {
    writer: usize,
    node: usize,
    kind: Kind,
    phase: u8,
    ended: u8,
    value: String,
    status: u16,
    body: Value,
}

impl Write {
    /// Whether the node acknowledged the write.
    fn acknowledged(&self) -> bool {
        match self.kind {
            Kind::Service => self.status == 201,
            Kind::GivenName => self.status == 200,
        }
    }
}

/// The load: writers writing through their node until told to stop.
struct Load {
    log: Arc<Mutex<Vec<Write>>>,
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(nodes: &[Node], writers: &[Writer]) -> Load {
        let log = Arc::new(Mutex::new(Vec::new()));
        let phase = Arc::new(AtomicU8::new(BEFORE));
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for (id, writer) in writers.iter().enumerate() {
            let node = &nodes[writer.node];
            let (http, base, writer) = (node.http.clone(), node.base.clone(), writer.clone());
            let (log, phase, stop) = (Arc::clone(&log), Arc::clone(&phase), Arc::clone(&stop));
            tasks.push(tokio::spawn(async move {
                let mut i = 0;
                while !stop.load(Ordering::SeqCst) {
                    let value = format!("Charge{}{}", letters(id), letters(i));
                    let started = phase.load(Ordering::SeqCst);
                    let (status, body) = write(&http, &base, &writer, &value).await;
                    let write = Write {
                        writer: id,
                        node: writer.node,
                        kind: writer.kind,
                        phase: started,
                        ended: phase.load(Ordering::SeqCst),
                        value,
                        status,
                        body,
                    };
                    let acknowledged = write.acknowledged();
                    log.lock().unwrap().push(write);
                    if !acknowledged {
                        // A refused or unanswered write: no busy loop while it lasts.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    i += 1;
                }
            }));
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

    /// Waits until every writer of `writers` has had `n` writes started in `phase`
    /// that `answered` accepts; panics with the log's tally when it never happens.
    async fn wait_for(
        &self,
        writers: &[usize],
        phase: u8,
        answered: impl Fn(&Write) -> bool,
        n: usize,
    ) {
        let count = |writer: usize| {
            self.log
                .lock()
                .unwrap()
                .iter()
                .filter(|w| w.writer == writer && w.phase == phase && answered(w))
                .count()
        };
        let done = eventually(Duration::from_secs(120), async || {
            writers.iter().all(|w| count(*w) >= n)
        })
        .await;
        assert!(
            done,
            "phase {phase}: not every writer of {writers:?} got {n} such answers: {:?}",
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

/// One write of `writer` through the node at `base`.
async fn write(http: &reqwest::Client, base: &str, writer: &Writer, value: &str) -> (u16, Value) {
    let request = match writer.kind {
        Kind::Service => http
            .post(format!("{base}/api/v1/services"))
            .json(&json!({ "name": value })),
        Kind::GivenName => http
            .patch(format!("{base}/api/v1/me"))
            .json(&json!({ "given_name": value })),
    };
    let Ok(reply) = request.bearer_auth(&writer.token).send().await else {
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

/// The structure as its administrateur reads it through `node`: how many services bear
/// each name, and each person's given name by login.
async fn structure(node: &Node, token: &str) -> (HashMap<String, usize>, HashMap<String, String>) {
    let (status, structure) = node.call(Some(token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    let mut services = HashMap::new();
    for s in structure["services"].as_array().unwrap() {
        *services
            .entry(s["name"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    let given_names = structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| {
            Some((
                a["login"].as_str()?.to_owned(),
                a["given_name"].as_str()?.to_owned(),
            ))
        })
        .collect();
    (services, given_names)
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
    // Two writers of services and one of personal data per node; each person changes
    // his own given name through one node only.
    let admin = of_first_structure(&signins, Role::Administrateur);
    let people = [
        of_first_structure(&signins, Role::Collaborateur),
        of_first_structure(&signins, Role::Responsable),
        admin.clone(),
    ];
    let admin_token = nodes[0].sign_in(&admin).await;
    let mut writers = Vec::new();
    for (node, person) in people.iter().enumerate() {
        for kind in [Kind::Service, Kind::Service, Kind::GivenName] {
            let (login, token) = match kind {
                Kind::Service => (admin.clone(), admin_token.clone()),
                Kind::GivenName => (person.clone(), nodes[0].sign_in(person).await),
            };
            writers.push(Writer {
                node,
                kind,
                login,
                token,
            });
        }
    }
    let everyone: Vec<usize> = (0..writers.len()).collect();
    let survivors: Vec<usize> = everyone
        .iter()
        .copied()
        .filter(|w| writers[*w].node != KILLED)
        .collect();
    let (intact, before) = audit_chain(&nodes[0]).await;
    assert!(intact);
    let load = Load::start(&nodes, &writers);
    load.wait_for(&everyone, BEFORE, Write::acknowledged, ACKS_PER_PHASE)
        .await;

    // kill -9 of a node in the middle of the load.
    load.enter(NODE_KILLED);
    nodes[KILLED].kill();
    load.wait_for(&survivors, NODE_KILLED, Write::acknowledged, ACKS_PER_PHASE)
        .await;

    // The database stops: the survivors' writes are refused with 503 while it is down.
    load.enter(DATABASE_DOWN);
    let down = Instant::now();
    tokio::task::block_in_place(|| cluster.stop());
    load.wait_for(&survivors, DATABASE_DOWN, |w| w.status == 503, 2)
        .await;
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
    load.wait_for(
        &survivors,
        DATABASE_BACK,
        Write::acknowledged,
        ACKS_PER_PHASE,
    )
    .await;
    assert!(nodes[0].ready().await && nodes[1].ready().await);
    let tally = load.tally();
    let log = load.finish().await;
    eprintln!("writes by (node, phase, status): {tally:?}");

    // Only answers a client can act on: done, or unavailable (never a 500) once the
    // database stopped; no answer at all only from the killed node, once killed.
    for w in &log {
        match (w.node, w.status) {
            _ if w.acknowledged() => {}
            (n, 503) if n != KILLED && w.ended >= DATABASE_DOWN => {
                assert_eq!(
                    w.body["type"].as_str().map(|t| t.ends_with("unavailable")),
                    Some(true),
                    "{w:?}"
                );
            }
            (KILLED, 0) if w.ended >= NODE_KILLED => {}
            _ => panic!("unexpected answer: {w:?}"),
        }
    }

    // Read through a survivor: every service acknowledged is there, once; none refused
    // is. Each given name is the last one acknowledged (a survivor's writer never goes
    // unanswered), or for the killed node's writer possibly one it sent after it.
    let (services, given_names) = structure(&nodes[1], &admin_token).await;
    let (mut acknowledged, mut refused, mut unanswered) = (0, 0, 0);
    for w in &log {
        match (w.acknowledged(), w.status) {
            (true, _) => acknowledged += 1,
            (false, 503) => refused += 1,
            _ => unanswered += 1,
        }
        if w.kind != Kind::Service {
            continue;
        }
        let present = services.get(&w.value).copied().unwrap_or(0);
        match (w.acknowledged(), w.status) {
            (true, _) => assert_eq!(present, 1, "acknowledged write {w:?} found {present} times"),
            (false, 503) => assert_eq!(present, 0, "write refused with 503 but kept: {w:?}"),
            _ => assert!(present <= 1, "{w:?} found {present} times"),
        }
    }
    let mut names_changed = 0;
    for (id, writer) in writers.iter().enumerate() {
        if writer.kind != Kind::GivenName {
            continue;
        }
        let mine: Vec<&Write> = log.iter().filter(|w| w.writer == id).collect();
        let last = mine.iter().rposition(|w| w.acknowledged()).unwrap();
        names_changed += mine.iter().filter(|w| w.acknowledged()).count();
        let possible: Vec<&str> = std::iter::once(mine[last])
            .chain(mine[last + 1..].iter().copied().filter(|w| w.status == 0))
            .map(|w| w.value.as_str())
            .collect();
        let now = &given_names[&writer.login];
        assert!(
            possible.contains(&now.as_str()),
            "{}'s given name is {now}; the last acknowledged was {}, and after it: {:?}",
            writer.login,
            mine[last].value,
            &mine[last + 1..]
        );
    }
    eprintln!(
        "{acknowledged} acknowledged, {refused} refused (503), {unanswered} unanswered (killed node)"
    );
    assert!(refused > 0 && acknowledged > 0);

    // The audit chain is one linear, intact chain, with one event per change: every
    // service there, every given name acknowledged; at most one more for the write the
    // killed node's personal-data writer had in flight when it died.
    let created = log
        .iter()
        .filter(|w| w.kind == Kind::Service && services.contains_key(&w.value))
        .count();
    let exact = before + u64::try_from(created + names_changed).unwrap();
    let in_flight = u64::try_from(
        writers
            .iter()
            .filter(|w| w.node == KILLED && w.kind == Kind::GivenName)
            .count(),
    )
    .unwrap();
    let (intact, events) = audit_chain(&nodes[0]).await;
    assert!(intact, "the audit chain is broken");
    assert!(
        (exact..=exact + in_flight).contains(&events),
        "{events} audit events; {created} services created and {names_changed} given names changed since {before}"
    );
}

//! The mail queue shared by several nodes: every node runs a sender over the one
//! queue, and a node sends a mail only once it has claimed it in the writers' turn, so
//! a burst of operations queued through every node is mailed exactly once: no mail
//! twice, none missing.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::json;

use crate::cluster::Cluster;
use crate::common::decode_qp;
use crate::node::{Node, administrateur, eventually, letters, mail_queue_depth, seed};

/// Pre-creations sent to each node, all at once.
const PER_NODE: usize = 12;

/// The address of the `i`-th invitation (fixed width: no address contains another).
fn address(i: usize) -> String {
    format!("invite{i:03}@courrier.example")
}

/// A family name of letters only for the `i`-th invitation.
fn family_name(i: usize) -> String {
    format!("Essai{}", letters(i))
}

/// The recipient of an `.eml` file.
fn recipient(path: &std::path::Path) -> String {
    let text = decode_qp(&std::fs::read_to_string(path).unwrap());
    text.lines()
        .find_map(|l| l.strip_prefix("To:"))
        .unwrap_or_else(|| panic!("no To: in {}", path.display()))
        .trim()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_mails_queued_through_three_nodes_is_sent_exactly_once() {
    let Some(cluster) = Cluster::start("a_burst_of_mails_queued_through_three_nodes") else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    // The demo's own mails wait in the queue too: they are part of the count.
    let demo_mails = mail_queue_depth(&url);
    let nodes = [Node::start(&url), Node::start(&url), Node::start(&url)];
    let token = nodes[0].sign_in(&administrateur(&signins)).await;
    let (status, structure) = nodes[0].call(Some(&token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    let service = structure["services"][0]["id"].as_str().unwrap().to_owned();

    // Every pre-creation queues one invitation mail in the commit it answers 201 for.
    let token = token.as_str();
    let burst = (0..PER_NODE * nodes.len()).map(|i| {
        let node = &nodes[i % nodes.len()];
        let body = json!({
            "role": "collaborateur",
            "service_id": service,
            "email": address(i),
            "given_name": "Camille",
            "family_name": family_name(i),
        });
        async move {
            (
                i,
                node.call(Some(token), "POST", "/accounts", Some(body))
                    .await,
            )
        }
    });
    for (i, (status, body)) in futures::future::join_all(burst).await {
        assert_eq!(status, 201, "pre-creation {i}: {body}");
    }
    let expected = demo_mails + PER_NODE * nodes.len();

    // Every node's sender works the queue; wait until it is empty and every mail written.
    let written = || nodes.iter().map(|n| n.mails().len()).sum::<usize>();
    let drained = eventually(Duration::from_secs(180), async || {
        let mut empty = true;
        for node in &nodes {
            empty &= node.mail_queue_depth().await == Some(0);
        }
        empty && written() >= expected
    })
    .await;
    assert!(
        drained,
        "the queue did not drain: {} of {expected} mails written, depths {:?}",
        written(),
        futures::future::join_all(nodes.iter().map(|n| n.mail_queue_depth())).await
    );

    // Exactly once: as many files as mails queued, each invitation in one file.
    let mut sent: HashMap<String, Vec<String>> = HashMap::new();
    for (n, node) in nodes.iter().enumerate() {
        for path in node.mails() {
            sent.entry(recipient(&path))
                .or_default()
                .push(format!("node {n}: {}", path.display()));
        }
    }
    for i in 0..PER_NODE * nodes.len() {
        let to = address(i);
        let files: Vec<&String> = sent
            .iter()
            .filter(|(r, _)| r.contains(&to))
            .flat_map(|(_, f)| f)
            .collect();
        assert_eq!(files.len(), 1, "the invitation to {to} was sent {files:?}");
    }
    assert_eq!(
        written(),
        expected,
        "{} mails written for {expected} queued (the demo's {demo_mails} included)",
        written()
    );
    let by_node: Vec<usize> = nodes.iter().map(|n| n.mails().len()).collect();
    eprintln!("mails written by each node: {by_node:?}");
}

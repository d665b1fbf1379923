//! The sign-in counters are shared by the nodes of one database: quotas and delays
//! counted on one node hold on the others.

use serde_json::json;

use crate::cluster::Cluster;
use crate::node::{Node, administrateur, seed};

/// Reset mails to `email` in a node's outbox.
fn reset_mails_to(node: &Node, email: &str) -> usize {
    node.mails()
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .filter(|m| m.contains(&format!("To: {email}")) || m.contains(&format!("<{email}>")))
        .filter(|m| m.contains("/password-resets/"))
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reset_mail_quota_of_a_login_holds_across_nodes() {
    let Some(cluster) = Cluster::start("the_reset_mail_quota_of_a_login_holds_across_nodes") else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let (a, b) = (Node::start(&url), Node::start(&url));
    let login = administrateur(&signins);
    let token = a.sign_in(&login).await;
    let (_, me) = a.call(Some(&token), "GET", "/me", None).await;
    let email = me["email"]
        .as_str()
        .unwrap_or_else(|| panic!("{me}"))
        .to_owned();
    // Three requests on A, three on B: a login receives three reset mails in a row,
    // wherever they were asked for.
    for node in [&a, &a, &a, &b, &b, &b] {
        let (status, body) = node
            .call(
                None,
                "POST",
                "/password-resets",
                Some(json!({ "login": login })),
            )
            .await;
        assert_eq!(status, 202, "{body}");
    }
    // Every queued mail is delivered (by whichever node claimed it); then count.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let row = client
            .query_one("SELECT count(*) FROM apex_mail_queue", &[])
            .await
            .unwrap();
        if row.get::<_, i64>(0) == 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "mails still queued");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let sent = reset_mails_to(&a, &email) + reset_mails_to(&b, &email);
    assert_eq!(sent, 3, "reset mails to {email} across both nodes");
}

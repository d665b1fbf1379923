//! Several nodes over one PostgreSQL database, each a real `apex-idp serve` process on
//! port 0, driven over HTTP and LDAP: what one node acknowledges, the next read of any
//! other sees; sessions made on one node work on the others; racing writers on two
//! nodes keep the invariants; a node whose database stops answers 503 and recovers by
//! itself.

use apex_idp::demo::DEMO_PASSWORD;
use serde_json::{Value, json};

use crate::cluster::Cluster;
use crate::node::{Node, administrateur, seed};

/// An account of the structure that holds `profile`, and its id.
fn holder<'a>(structure: &'a Value, profile: &str) -> &'a Value {
    structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| {
            a["habilitations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == profile)
        })
        .unwrap_or_else(|| panic!("nobody holds {profile}: {structure}"))
}

/// The `apexProfile` values of the entry of `login`, read over LDAP by that person.
async fn ldap_profiles(node: &Node, login: &str) -> Vec<String> {
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&node.ldap).await.unwrap();
    ldap3::drive!(conn);
    let dn = format!("uid={login},ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr");
    ldap.simple_bind(&dn, DEMO_PASSWORD)
        .await
        .unwrap()
        .success()
        .unwrap();
    let (entries, _) = ldap
        .search(
            &dn,
            ldap3::Scope::Base,
            "(objectClass=*)",
            vec!["apexProfile"],
        )
        .await
        .unwrap()
        .success()
        .unwrap();
    let entry = ldap3::SearchEntry::construct(entries.into_iter().next().unwrap());
    let _ = ldap.unbind().await;
    entry.attrs.get("apexProfile").cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_acknowledged_by_one_node_is_read_at_once_on_the_other() {
    let Some(cluster) =
        Cluster::start("a_write_acknowledged_by_one_node_is_read_at_once_on_the_other")
    else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let (a, b) = (Node::start(&url), Node::start(&url));
    let admin = administrateur(&signins);
    // A session opened on A is known to B.
    let token = a.sign_in(&admin).await;
    let (status, structure) = b.call(Some(&token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    let holder = holder(&structure, "FICOBA:CONSULTATION").clone();
    let (id, login) = (
        holder["id"].as_str().unwrap().to_owned(),
        holder["login"].as_str().unwrap().to_owned(),
    );
    // B has read the holder (and keeps him in its caches); LDAP on B sees the profile.
    assert!(
        ldap_profiles(&b, &login)
            .await
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION")
    );
    // A removes the habilitation; the very next reads on B, API and LDAP, see it gone.
    let (status, body) = a
        .call(
            Some(&token),
            "DELETE",
            &format!("/accounts/{id}/habilitations/FICOBA:CONSULTATION"),
            None,
        )
        .await;
    assert!(status == 204 || status == 200, "{status} {body}");
    let (_, structure) = b.call(Some(&token), "GET", "/structure", None).await;
    let after = structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id.as_str())
        .unwrap();
    assert!(
        !after["habilitations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION"),
        "{after}"
    );
    assert!(
        !ldap_profiles(&b, &login)
            .await
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION")
    );
    // And the way back, from B to A.
    let (status, body) = b
        .call(
            Some(&token),
            "PUT",
            &format!("/accounts/{id}/habilitations/FICOBA:CONSULTATION"),
            None,
        )
        .await;
    assert!(
        status == 204 || status == 200 || status == 201,
        "{status} {body}"
    );
    assert!(
        ldap_profiles(&a, &login)
            .await
            .iter()
            .any(|p| p == "FICOBA:CONSULTATION")
    );
    // Signing out on B ends the session on A.
    let (status, _) = b.call(Some(&token), "DELETE", "/sessions", None).await;
    assert!(status == 204 || status == 200, "sign-out: {status}");
    let (status, _) = a.call(Some(&token), "GET", "/me", None).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_racing_on_a_service_and_a_move_into_it_keep_the_invariants() {
    let Some(cluster) = Cluster::start("two_nodes_racing_on_a_service_and_a_move_into_it") else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let (a, b) = (Node::start(&url), Node::start(&url));
    let token = a.sign_in(&administrateur(&signins)).await;
    let (_, structure) = a.call(Some(&token), "GET", "/structure", None).await;
    let mover = structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["role"] == "collaborateur" && x["state"] == "active")
        .unwrap_or_else(|| panic!("no active collaborateur: {structure}"))["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (mut deleted, mut moved) = (0, 0);
    for round in 0..8 {
        let (status, service) = a
            .call(
                Some(&token),
                "POST",
                "/services",
                Some(json!({"name": format!("Course {round}")})),
            )
            .await;
        assert_eq!(status, 201, "{service}");
        let sid = service["id"].as_str().unwrap().to_owned();
        // Node A deletes the service while node B moves a person into it.
        let path = format!("/services/{sid}");
        let delete = a.call(Some(&token), "DELETE", &path, None);
        let transfer = b.call(
            Some(&token),
            "POST",
            "/transfers",
            Some(json!({"accounts": [mover], "to_service": sid})),
        );
        let ((d, dbody), (t, tbody)) = tokio::join!(delete, transfer);
        let (_, structure) = b.call(Some(&token), "GET", "/structure", None).await;
        let services: Vec<&str> = structure["services"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        // Never a person in a service that is gone.
        for account in structure["accounts"].as_array().unwrap() {
            if let Some(s) = account["service_id"].as_str() {
                assert!(
                    services.contains(&s),
                    "round {round}: {account} in a deleted service"
                );
            }
        }
        match (d, t) {
            (204, 200 | 204) => panic!("round {round}: both the delete and the move were done"),
            (204, _) => {
                deleted += 1;
                assert!(!services.contains(&sid.as_str()), "{tbody}");
            }
            (_, 200 | 204) => {
                moved += 1;
                assert!(services.contains(&sid.as_str()), "{dbody}");
                // Move him back out so that the next round starts alike.
                let home = services.iter().find(|s| **s != sid).unwrap();
                let (s, body) = a
                    .call(
                        Some(&token),
                        "POST",
                        "/transfers",
                        Some(json!({"accounts": [mover], "to_service": home})),
                    )
                    .await;
                assert!(s == 200 || s == 204, "{body}");
            }
            other => panic!("round {round}: neither was done: {other:?} {dbody} {tbody}"),
        }
    }
    assert_eq!(deleted + moved, 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_whose_database_stops_answers_503_and_recovers_by_itself() {
    let Some(cluster) = Cluster::start("a_node_whose_database_stops_answers_503") else {
        return;
    };
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let a = Node::start(&url);
    let admin = administrateur(&signins);
    let token = a.sign_in(&admin).await;
    assert_eq!(a.get("/readyz").await, 200);
    cluster.stop();
    assert_eq!(
        a.get("/healthz").await,
        200,
        "alive while its database is gone"
    );
    assert_eq!(a.get("/readyz").await, 503);
    let (status, body) = a
        .call(
            Some(&token),
            "POST",
            "/services",
            Some(json!({"name": "Pendant la panne"})),
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("unavailable"),
        "{body}"
    );
    cluster.restart();
    // The pool reconnects on its own: the first calls after the restart may still
    // find a dead connection; within a few tries the node answers again.
    let mut ready = 0;
    for _ in 0..50 {
        ready = a.get("/readyz").await;
        if ready == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(ready, 200, "the node did not recover");
    let (status, structure) = a.call(Some(&token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    assert!(
        !structure["services"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "Pendant la panne"),
        "nothing of the refused write was kept"
    );
    let (status, body) = a
        .call(
            Some(&token),
            "POST",
            "/services",
            Some(json!({"name": "Après la panne"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The invitation link mailed to `email`, by whichever node sent it.
async fn invitation_to(nodes: &[&Node], email: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        for node in nodes {
            for path in node.mails() {
                let mail = crate::common::decode_qp(&std::fs::read_to_string(&path).unwrap());
                if mail.contains(email) && mail.contains("/invitations/") {
                    return crate::common::link_token(&mail, "/invitations/");
                }
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no invitation to {email}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_racing_to_block_a_structures_two_administrateurs_leave_one() {
    let Some(cluster) =
        Cluster::start("two_nodes_racing_to_block_a_structures_two_administrateurs")
    else {
        return;
    };
    let url = cluster.database().await;
    seed(&url).await;
    let (a, b) = (Node::start(&url), Node::start(&url));
    let op = Some(crate::common::OPERATOR_TOKEN);
    for round in 0..4 {
        // A structure with exactly two active administrateurs, neither holding anything.
        let siret = apex_idp::directory::generate::nth_siret(7_000 + round);
        let (status, structure) = a
            .call(
                op,
                "POST",
                "/operator/structures",
                Some(json!({"siret": siret, "category": "CSP", "name": format!("Course {round}")})),
            )
            .await;
        assert_eq!(status, 201, "{structure}");
        let sid = structure["id"].as_str().unwrap().to_owned();
        let mut admins = Vec::new();
        for who in ["un", "deux"] {
            let email = format!("admin.{who}.{round}@course.example");
            let (status, body) = b
                .call(
                    op,
                    "POST",
                    &format!("/operator/structures/{sid}/administrateurs"),
                    Some(json!({"email": email, "given_name": "Admin", "family_name": format!("{who}{}", crate::node::letters(round))})),
                )
                .await;
            assert_eq!(status, 201, "{body}");
            let id = body["id"].as_str().unwrap().to_owned();
            let token = invitation_to(&[&a, &b], &email).await;
            let (status, done) = a
                .call(
                    None,
                    "POST",
                    &format!("/invitations/{token}"),
                    Some(json!({"password": DEMO_PASSWORD})),
                )
                .await;
            assert_eq!(status, 200, "{done}");
            assert_eq!(done["state"], "active", "{done}");
            let login = done["login"].as_str().unwrap().to_owned();
            admins.push((id, login));
        }
        let (first, second) = (&admins[0], &admins[1]);
        // The operator blocks one administrateur through A and the other through B, at
        // once: a structure keeps an administrateur who may sign in.
        let p1 = format!("/operator/accounts/{}/block", first.0);
        let p2 = format!("/operator/accounts/{}/block", second.0);
        let ((s1, body1), (s2, body2)) =
            tokio::join!(a.call(op, "POST", &p1, None), b.call(op, "POST", &p2, None));
        let done = [s1, s2].iter().filter(|s| **s == 200).count();
        assert_eq!(done, 1, "round {round}: {s1} {body1} / {s2} {body2}");
        let refused = if s1 == 200 { &body2 } else { &body1 };
        assert_eq!(
            refused["type"], "urn:apex-idp:problem:last-administrateur",
            "round {round}: {refused}"
        );
        let (status, view) = a
            .call(op, "GET", &format!("/operator/structures/{sid}"), None)
            .await;
        assert_eq!(status, 200, "{view}");
        let active = view["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|x| {
                x["role"] == "administrateur" && x["state"] == "active" && x["blocked"].is_null()
            })
            .count();
        assert_eq!(active, 1, "round {round}: {view}");
    }
}

//! The invariants of DESIGN.md, one test each, through the JSON API.

use serde_json::{Value, json};

use crate::fixture::{Fixture, PASSWORD, Person, World, assert_problem, ids, strings, test_config};

/// The accounts of the viewer's structure, by id.
async fn accounts(f: &Fixture, viewer: &Person) -> Vec<Value> {
    f.view(viewer).await["accounts"].as_array().unwrap().clone()
}

/// The same person with a fresh session (after the clock moved past the old one).
async fn signed_in_again(f: &Fixture, p: &Person) -> Person {
    Person {
        token: f.sign_in(&p.login, PASSWORD).await,
        ..p.clone()
    }
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A month on, housekeeping purges the one account whose deletion was requested, `id`:
/// `admin`, signed in again (returned), no longer finds it.
async fn purge(f: &Fixture, admin: &Person, id: &str) -> Person {
    f.clock.advance(31 * 86_400);
    let report = f.directory().housekeeping().await.unwrap();
    assert_eq!(report.purged, 1);
    let admin = signed_in_again(f, admin).await;
    assert_problem(&f.get_account(&admin, id).await, 404, "not-found");
    admin
}

// ---------------------------------------------------------------------------------------
// No cascade

#[tokio::test]
async fn deleting_a_responsable_leaves_the_habilitations_he_granted() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    f.grant_delegation(&a.admin, &a.resp1.id, "DEMO:UTILISATEUR")
        .await;
    f.grant(&a.admin, &a.resp1.id, "FICOBA:CONSULTATION").await;
    f.grant(&a.resp1, &a.collab1.id, "DEMO:UTILISATEUR").await;

    // His own habilitation goes, then his account: nobody else changes.
    f.revoke(&a.admin, &a.resp1.id, "FICOBA:CONSULTATION").await;
    let others = |list: Vec<Value>| -> Vec<Value> {
        list.into_iter()
            .filter(|acc| acc["id"] != a.resp1.id.as_str())
            .collect()
    };
    let before = others(accounts(f, &a.admin).await);
    let (s, v) = f.request_deletion(&a.admin, &a.resp1.id).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(before, others(accounts(f, &a.admin).await));
    assert_eq!(
        f.habilitations(&a.admin, &a.collab1.id).await,
        ["DEMO:UTILISATEUR"]
    );
    let (_, apps) = f.get(&a.collab1, "/me/applications").await;
    assert_eq!(apps[0]["code"], "DEMO", "{apps}");

    // Still so once he is purged.
    let admin = purge(f, &a.admin, &a.resp1.id).await;
    assert_eq!(before, others(accounts(f, &admin).await));
    assert_eq!(
        f.habilitations(&admin, &a.collab1.id).await,
        ["DEMO:UTILISATEUR"]
    );
}

#[tokio::test]
async fn removing_a_delegation_leaves_the_habilitations_granted_with_it() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let profile = "DEMO:UTILISATEUR";
    f.grant_delegation(&a.admin, &a.resp1.id, profile).await;
    f.grant(&a.resp1, &a.collab1.id, profile).await;
    let newcomer = f
        .member(&a.admin, &a.admin, "collaborateur", &a.s1, "Néo", "Venu")
        .await;

    f.revoke_delegation(&a.admin, &a.resp1.id, profile).await;
    assert!(f.delegations(&a.admin, &a.resp1.id).await.is_empty());
    assert_eq!(f.habilitations(&a.admin, &a.collab1.id).await, [profile]);

    // The responsable can no longer grant it, nor remove it.
    let grant = f.habilitate(&a.resp1, "PUT", &newcomer.id, profile).await;
    assert_problem(&grant, 403, "not-delegated");
    assert!(f.habilitations(&a.admin, &newcomer.id).await.is_empty());
    let remove = f
        .habilitate(&a.resp1, "DELETE", &a.collab1.id, profile)
        .await;
    assert_problem(&remove, 403, "not-delegated");
    assert_eq!(f.habilitations(&a.admin, &a.collab1.id).await, [profile]);

    // The administrateur still can.
    f.revoke(&a.admin, &a.collab1.id, profile).await;
}

// ---------------------------------------------------------------------------------------
// Nobody sees or touches another structure; a responsable acts on his own service only

#[tokio::test]
async fn a_responsable_acts_on_his_own_service_only() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let profile = "DEMO:UTILISATEUR";
    f.grant_delegation(&a.admin, &a.resp1.id, profile).await;

    let before = w.snapshot().await;
    for p in [&a.collab2, &a.resp2] {
        let resend = f.act(&a.resp1, &p.id, "resend-identifier").await;
        assert_problem(&resend, 403, "matrix-own-service");
        let deletion = f.request_deletion(&a.resp1, &p.id).await;
        assert_problem(&deletion, 403, "matrix-own-service");
        let grant = f.habilitate(&a.resp1, "PUT", &p.id, profile).await;
        assert_problem(&grant, 403, "matrix-own-service");
    }
    let body = json!({"role": "collaborateur", "service_id": a.s2, "email": "hors@example.fr",
                      "given_name": "Hors", "family_name": "Service"});
    let pre = f.post(&a.resp1, "/accounts", Some(body)).await;
    assert_problem(&pre, 403, "matrix-own-service");
    assert_eq!(before, w.snapshot().await, "nothing changed");

    // His service is what counts: transfers move people in and out of his reach.
    let (s, _) = f.transfer(&a.admin, &[&a.collab2.id], &a.s1).await;
    assert_eq!(s, 200);
    f.grant(&a.resp1, &a.collab2.id, profile).await;
    let (s, _) = f.transfer(&a.admin, &[&a.collab1.id], &a.s2).await;
    assert_eq!(s, 200);
    let grant = f.habilitate(&a.resp1, "PUT", &a.collab1.id, profile).await;
    assert_problem(&grant, 403, "matrix-own-service");
}

// ---------------------------------------------------------------------------------------
// Profiles: limited to the structure category's applications; unknown ones are invalid

#[tokio::test]
async fn profiles_are_limited_to_the_applications_of_the_structure_category() {
    let f = Fixture::start().await;
    let (s, v) = f
        .op(
            "POST",
            "/operator/structures",
            Some(json!({"siret": "40483304800022", "category": "EC", "name": "Cabinet comptable"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    assert_eq!(v["category"], "EC");
    let ec = v["id"].as_str().unwrap().to_owned();
    let admin = f.admin(&ec, "Éric", "Comptable").await;
    let svc = f.service(&admin, "Audit").await;
    let resp = f
        .member(&admin, &admin, "responsable", &svc, "Rita", "Revision")
        .await;
    let collab = f
        .member(&admin, &admin, "collaborateur", &svc, "Carl", "Saisie")
        .await;

    for profile in ["FICOBA:CONSULTATION", "FICOBA:GESTION"] {
        for p in [&admin, &resp, &collab] {
            let grant = f.habilitate(&admin, "PUT", &p.id, profile).await;
            assert_problem(&grant, 403, "category-not-entitled");
        }
        let delegation = f.delegate(&admin, "PUT", &resp.id, profile).await;
        assert_problem(&delegation, 403, "category-not-entitled");
    }
    for p in [&admin, &resp, &collab] {
        assert!(f.habilitations(&admin, &p.id).await.is_empty());
    }
    assert!(f.delegations(&admin, &resp.id).await.is_empty());

    f.grant(&admin, &collab.id, "DEMO:UTILISATEUR").await;
    f.grant_delegation(&admin, &resp.id, "DEMO:ADMINISTRATEUR")
        .await;
    assert_eq!(
        f.habilitations(&admin, &collab.id).await,
        ["DEMO:UTILISATEUR"]
    );
    let (_, apps) = f.get(&collab, "/me/applications").await;
    let codes: Vec<&str> = apps
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["DEMO"]);

    // A CSP structure of the same server receives FICOBA.
    let csp = f.structure("73282932000074", "Centre CSP").await;
    let csp_admin = f.admin(&csp, "Carole", "Partage").await;
    f.grant(&csp_admin, &csp_admin.id, "FICOBA:CONSULTATION")
        .await;
}

#[tokio::test]
async fn an_unknown_profile_is_an_invalid_value() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let before = w.snapshot().await;
    for profile in [
        "FICOBA:INEXISTANT",
        "INCONNU:CONSULTATION",
        "sans-deux-points",
        "FICOBA:",
    ] {
        for method in ["PUT", "DELETE"] {
            let grant = f.habilitate(&a.admin, method, &a.collab1.id, profile).await;
            assert_problem(&grant, 422, "unknown-profile");
            let delegation = f.delegate(&a.admin, method, &a.resp1.id, profile).await;
            assert_problem(&delegation, 422, "unknown-profile");
        }
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// Deletion requests

#[tokio::test]
async fn deletion_is_refused_while_habilitations_remain_and_allowed_after_their_removal() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    for profile in ["FICOBA:CONSULTATION", "DEMO:UTILISATEUR"] {
        f.grant(&a.admin, &a.collab1.id, profile).await;
    }
    let blocked = f.request_deletion(&a.admin, &a.collab1.id).await;
    assert_problem(&blocked, 409, "habilitations-remain");
    assert_eq!(
        sorted(strings(&blocked.1["blocking"])),
        ["DEMO:UTILISATEUR", "FICOBA:CONSULTATION"]
    );
    assert_eq!(f.account(&a.admin, &a.collab1.id).await["state"], "active");
    f.sign_in(&a.collab1.login, PASSWORD).await;

    f.revoke(&a.admin, &a.collab1.id, "FICOBA:CONSULTATION")
        .await;
    let blocked = f.request_deletion(&a.admin, &a.collab1.id).await;
    assert_problem(&blocked, 409, "habilitations-remain");
    assert_eq!(strings(&blocked.1["blocking"]), ["DEMO:UTILISATEUR"]);

    f.revoke(&a.admin, &a.collab1.id, "DEMO:UTILISATEUR").await;
    let (s, v) = f.request_deletion(&a.admin, &a.collab1.id).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "deletion_requested");

    // A delegation is no habilitation: it does not block.
    f.grant_delegation(&a.admin, &a.resp2.id, "DEMO:UTILISATEUR")
        .await;
    let (s, v) = f.request_deletion(&a.admin, &a.resp2.id).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn a_deletion_request_blocks_sign_in_and_ends_sessions_at_once() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let second = f.sign_in(&a.collab1.login, PASSWORD).await;
    for token in [&a.collab1.token, &second] {
        assert_eq!(f.call(Some(token), "GET", "/me", None).await.0, 200);
    }
    let (s, v) = f.request_deletion(&a.admin, &a.collab1.id).await;
    assert_eq!(s, 200, "{v}");
    for token in [&a.collab1.token, &second] {
        let me = f.call(Some(token), "GET", "/me", None).await;
        assert_problem(&me, 401, "unauthenticated");
        let structure = f.call(Some(token), "GET", "/structure", None).await;
        assert_problem(&structure, 401, "unauthenticated");
    }
    let sign_in = f.try_sign_in(&a.collab1.login, PASSWORD).await;
    assert_problem(&sign_in, 401, "bad-credentials");
    assert!(f.mail_to(&a.collab1.email).await.contains("supprim"));
}

#[tokio::test]
async fn a_structure_never_loses_its_last_administrateur() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    // Administrateurs cannot be deletion-requested through the API at all.
    let before = w.snapshot().await;
    for (actor, rule) in [
        (&a.admin, "matrix-target-role"),
        (&a.resp1, "matrix-own-service"),
        (&a.collab1, "matrix-role"),
    ] {
        assert_problem(&f.request_deletion(actor, &a.admin.id).await, 403, rule);
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");

    // Not even when a second one exists.
    let admin2 = f.admin(&a.structure_id, "Alix", "Deux").await;
    for (actor, target) in [(&a.admin, &admin2), (&admin2, &a.admin), (&admin2, &admin2)] {
        assert_problem(
            &f.request_deletion(actor, &target.id).await,
            403,
            "matrix-target-role",
        );
    }
    for p in [&a.admin, &admin2] {
        assert_eq!(f.account(&a.admin, &p.id).await["state"], "active");
        assert_eq!(f.get(p, "/me").await.0, 200);
    }
}

// ---------------------------------------------------------------------------------------
// Services: deletion when empty, merge, transfer

#[tokio::test]
async fn a_service_is_deleted_only_when_empty() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let before = w.snapshot().await;
    let refused = f.delete_service(&a.admin, &a.s1).await;
    assert_problem(&refused, 409, "service-not-empty");
    assert_eq!(
        sorted(strings(&refused.1["blocking"])),
        sorted(vec![a.resp1.id.clone(), a.collab1.id.clone()])
    );
    assert_eq!(before, w.snapshot().await, "nothing changed");

    let (s, v) = f
        .transfer(&a.admin, &[&a.resp1.id, &a.collab1.id], &a.s2)
        .await;
    assert_eq!(s, 200, "{v}");
    let (s, v) = f.delete_service(&a.admin, &a.s1).await;
    assert_eq!(s, 204, "{v}");
    let (_, view) = f.get(&a.admin, "/structure").await;
    assert_eq!(ids(&view["services"]), [a.s2.as_str()]);
    assert_eq!(view["accounts"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn merging_moves_everyone_then_deletes_the_source() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let invited = f
        .invite(&a.admin, "collaborateur", &a.s1, "Ivo", "Invite")
        .await;
    f.grant(&a.admin, &a.collab1.id, "DEMO:UTILISATEUR").await;
    let before = accounts(f, &a.admin).await;

    let (s, v) = f.merge(&a.admin, &a.s1, &a.s2).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["id"], a.s2.as_str());

    let (_, view) = f.get(&a.admin, "/structure").await;
    assert_eq!(
        ids(&view["services"]),
        [a.s2.as_str()],
        "the source is gone"
    );
    let after = view["accounts"].as_array().unwrap();
    assert_eq!(after.len(), before.len(), "nobody lost");
    for old in &before {
        let new = after.iter().find(|n| n["id"] == old["id"]).unwrap();
        let mut expected = old.clone();
        if old["service_id"] == a.s1.as_str() {
            expected["service_id"] = json!(a.s2);
        }
        assert_eq!(new, &expected, "only the service changes");
    }
    assert_eq!(
        f.account(&a.admin, &invited.id).await["service_id"],
        a.s2.as_str()
    );
    let (_, me) = f.get(&a.resp1, "/me").await;
    assert_eq!(me["service"]["id"], a.s2.as_str());

    let same = f.merge(&a.admin, &a.s2, &a.s2).await;
    assert_problem(&same, 422, "merge-same");
}

#[tokio::test]
async fn a_transfer_keeps_the_account_id_login_and_habilitations() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    f.grant(&a.admin, &a.collab1.id, "FICOBA:CONSULTATION")
        .await;
    let before = f.account(&a.admin, &a.collab1.id).await;
    let (s, v) = f.transfer(&a.admin, &[&a.collab1.id], &a.s2).await;
    assert_eq!(s, 200, "{v}");
    let after = f.account(&a.admin, &a.collab1.id).await;
    for field in ["id", "login", "habilitations", "role", "state", "email"] {
        assert_eq!(after[field], before[field], "{field}");
    }
    assert_eq!(after["service_id"], a.s2.as_str());

    // His session goes on; his identifier still signs him in.
    let (s, me) = f.get(&a.collab1, "/me").await;
    assert_eq!(s, 200);
    assert_eq!(me["service"]["id"], a.s2.as_str());
    assert_eq!(me["habilitations"], json!(["FICOBA:CONSULTATION"]));
    f.sign_in(&a.collab1.login, PASSWORD).await;

    // He now answers to the responsable of his new service.
    let (s, _) = f.act(&a.resp2, &a.collab1.id, "resend-identifier").await;
    assert_eq!(s, 202);
    let old = f.act(&a.resp1, &a.collab1.id, "resend-identifier").await;
    assert_problem(&old, 403, "matrix-own-service");
}

// ---------------------------------------------------------------------------------------
// The audit log

/// Asserts the audit log grew by `by` events since `count`, and moves `count` on.
async fn grew(f: &Fixture, count: &mut u64, by: u64, what: &str) {
    let (now, intact) = f.audit_chain().await;
    assert!(intact, "chain intact after {what}");
    assert_eq!(now - *count, by, "events written by {what}");
    *count = now;
}

/// The events with each run of one action sorted by target.
fn same_action_runs_sorted<'e>(events: &[(&'e str, &'e str)]) -> Vec<(&'e str, &'e str)> {
    events
        .chunk_by(|x, y| x.0 == y.0)
        .flat_map(|run| {
            let mut run = run.to_vec();
            run.sort();
            run
        })
        .collect()
}

#[tokio::test]
async fn every_change_writes_one_audit_event_and_the_chain_stays_intact() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let admin = &a.admin;
    let (mut count, intact) = f.audit_chain().await;
    assert!(intact);

    let (_, svc) = f.create_service(admin, "Audit").await;
    let svc = svc["id"].as_str().unwrap().to_owned();
    grew(f, &mut count, 1, "service creation").await;
    f.rename_service(admin, &svc, "Audit interne").await;
    grew(f, &mut count, 1, "service rename").await;
    f.grant(admin, &a.collab1.id, "DEMO:UTILISATEUR").await;
    grew(f, &mut count, 1, "habilitation").await;
    assert_eq!(
        f.habilitate(admin, "PUT", &a.collab1.id, "DEMO:UTILISATEUR")
            .await
            .0,
        200
    );
    grew(f, &mut count, 0, "a habilitation already held").await;
    f.grant_delegation(admin, &a.resp1.id, "FICOBA:GESTION")
        .await;
    grew(f, &mut count, 1, "delegation").await;
    let refused = f.create_service(&a.resp1, "Refusé").await;
    assert_eq!(refused.0, 403);
    grew(f, &mut count, 0, "a refused call").await;
    let (s, _) = f
        .transfer(admin, &[&a.collab1.id, &a.collab2.id], &svc)
        .await;
    assert_eq!(s, 200);
    grew(f, &mut count, 2, "a transfer of two accounts").await;
    let resent = f.act(admin, &a.collab2.id, "resend-identifier").await;
    assert_eq!(resent.0, 202);
    grew(f, &mut count, 1, "identifier resent").await;
    f.revoke(admin, &a.collab1.id, "DEMO:UTILISATEUR").await;
    grew(f, &mut count, 1, "habilitation removal").await;
    f.revoke_delegation(admin, &a.resp1.id, "FICOBA:GESTION")
        .await;
    grew(f, &mut count, 1, "delegation removal").await;
    let (s, _) = f.merge(admin, &svc, &a.s1).await;
    assert_eq!(s, 200);
    grew(f, &mut count, 3, "a merge moving two accounts").await;
    assert_eq!(f.request_deletion(admin, &a.collab2.id).await.0, 200);
    grew(f, &mut count, 1, "deletion request").await;
    let (s, _) = f
        .call(
            Some(&a.collab1.token),
            "PATCH",
            "/me",
            Some(json!({"given_name": "Colette"})),
        )
        .await;
    assert_eq!(s, 200);
    grew(f, &mut count, 1, "personal data").await;

    // The administrateur reads them, newest last, naming what changed.
    let (s, log) = f.get(admin, "/audit").await;
    assert_eq!(s, 200);
    let tail: Vec<(&str, &str)> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .take(15)
        .rev()
        .map(|e| (e["action"].as_str().unwrap(), e["target"].as_str().unwrap()))
        .collect();
    let c1 = a.collab1.id.as_str();
    let c2 = a.collab2.id.as_str();
    let r1 = a.resp1.id.as_str();
    let expected = [
        ("service.create", svc.as_str()),
        ("service.rename", svc.as_str()),
        ("habilitation.grant", c1),
        ("delegation.add", r1),
        ("account.transfer", c1),
        ("account.transfer", c2),
        ("account.resend_identifier", c2),
        ("habilitation.remove", c1),
        ("delegation.remove", r1),
    ];
    // Accounts moved together are recorded in no promised order.
    let tail = same_action_runs_sorted(&tail);
    let expected = same_action_runs_sorted(&expected);
    assert!(
        tail.windows(expected.len()).any(|win| win == expected),
        "{tail:?}"
    );
    let last: Vec<&str> = tail
        .iter()
        .rev()
        .take(2)
        .map(|(action, _)| *action)
        .collect();
    assert_eq!(
        last,
        ["account.update_personal_data", "account.deletion_request"]
    );
}

#[tokio::test]
async fn an_administrateur_reads_the_audit_of_his_structure_only() {
    let w = World::build().await;
    let f = &w.f;
    for (side, other) in [(&w.a, &w.b), (&w.b, &w.a)] {
        let (s, log) = f.get(&side.admin, "/audit").await;
        assert_eq!(s, 200, "{log}");
        let events = log.as_array().unwrap();
        assert!(
            events
                .iter()
                .any(|e| e["action"] == "service.create" && e["target"] == side.s1.as_str())
        );
        let foreign = [
            &other.structure_id,
            &other.s1,
            &other.s2,
            &other.admin.id,
            &other.resp1.id,
            &other.resp2.id,
            &other.collab1.id,
            &other.collab2.id,
        ];
        for e in events {
            assert_eq!(e["structure_id"], side.structure_id.as_str(), "{e}");
            let text = e.to_string();
            for id in foreign {
                assert!(!text.contains(id.as_str()), "A's log shows B: {e}");
            }
        }
    }
}

#[tokio::test]
async fn only_administrateurs_read_the_audit_log() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    for p in [&a.resp1, &a.collab1] {
        let answer = f.get(p, "/audit").await;
        assert_problem(&answer, 403, "audit-administrateur-only");
    }
    assert_eq!(f.get(&a.admin, "/audit").await.0, 200);
}

// ---------------------------------------------------------------------------------------
// Lifecycle over time: invitations expire, logins are never reused, names never collide

#[tokio::test]
async fn an_expired_invitation_ends_without_an_account() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let late = f
        .invite(&a.admin, "collaborateur", &a.s1, "Tom", "Tard")
        .await;
    let late_link = f.link_to(&late.email, "/invitations/").await;
    let early = f
        .invite(&a.admin, "collaborateur", &a.s1, "Eva", "Tot")
        .await;
    let early_link = f.link_to(&early.email, "/invitations/").await;

    // Six days on, a link still works.
    f.clock.advance(6 * 86_400);
    f.accept(&early_link).await;

    // Past seven days, the other is refused and its account is gone.
    f.clock.advance(86_400 + 1);
    let report = f.directory().housekeeping().await.unwrap();
    assert_eq!(report.invitations_expired, 1);
    let shown = f
        .call(None, "GET", &format!("/invitations/{late_link}"), None)
        .await;
    assert_problem(&shown, 404, "link-invalid");
    let used = f
        .call(
            None,
            "POST",
            &format!("/invitations/{late_link}"),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_problem(&used, 404, "link-invalid");

    let admin = signed_in_again(f, &a.admin).await;
    let gone = f.get_account(&admin, &late.id).await;
    assert_problem(&gone, 404, "not-found");
    assert!(!ids(&Value::Array(accounts(f, &admin).await)).contains(&late.id));
    assert_eq!(
        f.account(&admin, &early.id).await["state"],
        "awaiting_validation"
    );
    let (_, log) = f.get(&admin, "/audit").await;
    assert!(log.as_array().unwrap().iter().any(
        |e| e["action"] == "account.invitation_expired" && e["target"] == late.id.as_str()
    ));
}

#[tokio::test]
async fn a_login_is_never_reused_after_purge() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let first = f
        .member(&a.admin, &a.admin, "collaborateur", &a.s1, "Jean", "Dupont")
        .await;
    let second = f
        .member(&a.admin, &a.admin, "collaborateur", &a.s2, "Jean", "Dupont")
        .await;
    assert_eq!(
        (first.login.as_str(), second.login.as_str()),
        ("jdupont", "jdupont2")
    );

    assert_eq!(f.request_deletion(&a.admin, &first.id).await.0, 200);
    let admin = purge(f, &a.admin, &first.id).await;

    let third = f
        .member(&admin, &admin, "collaborateur", &a.s1, "Jean", "Dupont")
        .await;
    assert_ne!(
        third.login, "jdupont",
        "a purged identifier is never given again"
    );
    assert_ne!(third.login, second.login);
    assert_eq!(third.login, "jdupont3");
    assert_ne!(third.id, first.id, "ids are never reused either");
    let failed = f.try_sign_in("jdupont", PASSWORD).await;
    assert_problem(&failed, 401, "bad-credentials");
}

#[tokio::test]
async fn identical_names_get_distinct_identifiers() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let one = f
        .member(&a.admin, &a.admin, "collaborateur", &a.s1, "Jean", "Dupont")
        .await;
    let two = f
        .member(&a.admin, &a.admin, "responsable", &a.s2, "Jeanne", "Dupont")
        .await;
    let three = f
        .member(&b.admin, &b.admin, "collaborateur", &b.s1, "Jean", "Dupont")
        .await;
    assert_eq!(
        [one.login.as_str(), two.login.as_str(), three.login.as_str()],
        ["jdupont", "jdupont2", "jdupont3"],
        "identifiers are unique across structures"
    );
    for p in [&one, &two, &three] {
        let (_, me) = f.get(p, "/me").await;
        assert_eq!(me["id"], p.id.as_str());
        assert_eq!(me["login"], p.login.as_str());
    }
}

// ---------------------------------------------------------------------------------------
// The operator edits the catalogue: held habilitations never get stuck

#[tokio::test]
async fn habilitations_left_outside_an_edited_catalogue_can_still_be_removed() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let mut f = Fixture::start_with(dir, config.clone()).await;
    let sid = f.structure("73282932000074", "Centre CSP").await;
    let admin = f.admin(&sid, "Anne", "Admin").await;
    let svc = f.service(&admin, "Paie").await;
    let c1 = f
        .member(&admin, &admin, "collaborateur", &svc, "Colin", "Un")
        .await;
    let c2 = f
        .member(&admin, &admin, "collaborateur", &svc, "Cléa", "Deux")
        .await;
    let held = [(&c1, "FICOBA:CONSULTATION"), (&c2, "FICOBA:GESTION")];
    for (p, profile) in held {
        f.grant(&admin, &p.id, profile).await;
    }

    // The operator takes FICOBA away from the category CSP, and drops FICOBA:GESTION.
    let shipped = std::fs::read_to_string(&config.catalogue.file).unwrap();
    let edited = shipped
        .replace(
            "applications = [\"FICOBA\", \"DEMO\"]",
            "applications = [\"DEMO\"]",
        )
        .replace(
            "  [[application.profile]]\n  code = \"GESTION\"\n  label = \"Gestion\"\n",
            "",
        );
    assert!(edited.contains("applications = [\"DEMO\"]") && !edited.contains("GESTION"));
    let mut config = config;
    config.catalogue.file = f.dir.path().join("edited-catalogue.toml");
    std::fs::write(&config.catalogue.file, edited).unwrap();
    f.server.take().unwrap().shutdown().await;
    let dir = std::mem::replace(&mut f.dir, tempfile::tempdir().unwrap());
    drop(f);
    let f = Fixture::start_with(dir, config).await;
    let admin = signed_in_again(&f, &admin).await;

    // No new grant outside the catalogue...
    let grant = f
        .habilitate(&admin, "PUT", &admin.id, "FICOBA:CONSULTATION")
        .await;
    assert_problem(&grant, 403, "category-not-entitled");
    // ...but what is held can be removed, so that the account can be deleted.
    for (p, profile) in held {
        f.revoke(&admin, &p.id, profile).await;
        assert!(f.habilitations(&admin, &p.id).await.is_empty());
        let (s, v) = f.request_deletion(&admin, &p.id).await;
        assert_eq!(s, 200, "{v}");
    }
}

//! Every cell of the rights matrix of DESIGN.md, allowed and refused, through the JSON
//! API, across two structures: a member of one never sees nor changes the other.

use std::collections::HashSet;

use apex_idp::directory::NameCorrection;
use apex_idp::domain::Role;
use apex_idp::domain::rights::{Allowance, Function, MATRIX, ProfileSource, Reach, allowance};
use apex_idp::web::problem::Problem;
use serde_json::{Value, json};

use crate::fixture::{
    Fixture, PASSWORD, Person, Side, World, assert_problem, ids, link_token, strings,
};

/// A pre-creation body with a unique address.
fn pre_creation(f: &Fixture, role: &str, service_id: &str) -> Value {
    json!({
        "role": role,
        "service_id": service_id,
        "email": format!("nouveau{}@example.fr", f.unique()),
        "given_name": "Nina",
        "family_name": "Nouvelle",
    })
}

/// `who` pre-creates an account of `role` in `service_id`, with a unique address.
async fn pre_create(f: &Fixture, who: &Person, role: &str, service_id: &str) -> (u16, Value) {
    f.post(who, "/accounts", Some(pre_creation(f, role, service_id)))
        .await
}

/// The name of a service of the viewer's structure, if it exists.
async fn service_name(f: &Fixture, viewer: &Person, id: &str) -> Option<String> {
    f.view(viewer).await["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .map(|s| s["name"].as_str().unwrap().to_owned())
}

fn people(side: &Side) -> [&Person; 5] {
    [
        &side.admin,
        &side.resp1,
        &side.resp2,
        &side.collab1,
        &side.collab2,
    ]
}

// ---------------------------------------------------------------------------------------
// create / modify / delete a service of his structure: administrateur only

#[tokio::test]
async fn administrateur_manages_services_of_his_structure_only() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);

    let (s, v) = f.create_service(&a.admin, "Paie").await;
    assert_eq!(s, 201, "{v}");
    let paie = v["id"].as_str().unwrap().to_owned();
    assert_eq!(
        service_name(f, &a.admin, &paie).await.as_deref(),
        Some("Paie")
    );

    let (s, v) = f.rename_service(&a.admin, &paie, "Paie et RH").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        service_name(f, &a.admin, &paie).await.as_deref(),
        Some("Paie et RH")
    );

    let (s, v) = f.delete_service(&a.admin, &paie).await;
    assert_eq!(s, 204, "{v}");
    assert_eq!(service_name(f, &a.admin, &paie).await, None);

    // The services of B are not even visible to A's administrateur.
    let empty_b = f.service(&b.admin, "Vide chez B").await;
    let before = w.snapshot().await;
    for id in [&b.s1, &empty_b] {
        let rename = f.rename_service(&a.admin, id, "Pris par A").await;
        assert_problem(&rename, 404, "not-found");
        let delete = f.delete_service(&a.admin, id).await;
        assert_problem(&delete, 404, "not-found");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

#[tokio::test]
async fn responsable_and_collaborateur_cannot_manage_services() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let empty = f.service(&a.admin, "Vide").await;
    let before = w.snapshot().await;
    for who in [&a.resp1, &a.collab1] {
        let create = f.create_service(who, "Interdit").await;
        assert_problem(&create, 403, "matrix-role");
        for id in [&a.s1, &empty] {
            let rename = f.rename_service(who, id, "Renommé").await;
            assert_problem(&rename, 403, "matrix-role");
        }
        let delete = f.delete_service(who, &empty).await;
        assert_problem(&delete, 403, "matrix-role");
        let other = f.rename_service(who, &b.s1, "Renommé").await;
        assert_problem(&other, 404, "not-found");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// merge two services; transfer responsables or collaborateurs: administrateur only

#[tokio::test]
async fn administrateur_merges_and_transfers_within_his_structure_only() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);

    // Transfer a collaborateur and a responsable: same ids and identifiers, new service.
    let (s, v) = f
        .transfer(&a.admin, &[&a.collab1.id, &a.resp1.id], &a.s2)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 2);
    for p in [&a.collab1, &a.resp1] {
        let acc = f.account(&a.admin, &p.id).await;
        assert_eq!(acc["service_id"], a.s2.as_str());
        assert_eq!(acc["login"], p.login.as_str());
    }

    // An administrateur is no target of a transfer.
    let before = w.snapshot().await;
    let answer = f.transfer(&a.admin, &[&a.admin.id], &a.s1).await;
    assert_problem(&answer, 403, "matrix-target-role");
    assert_eq!(before, w.snapshot().await, "nothing changed");

    // Merge s2 (now four people strong) into s1: everyone moves, s2 is gone.
    let (s, v) = f.merge(&a.admin, &a.s2, &a.s1).await;
    assert_eq!(s, 200, "{v}");
    let view = f.view(&a.admin).await;
    assert_eq!(ids(&view["services"]), vec![a.s1.clone()]);
    for p in [&a.collab1, &a.resp1, &a.collab2, &a.resp2] {
        assert_eq!(
            f.account(&a.admin, &p.id).await["service_id"],
            a.s1.as_str()
        );
    }

    // Across structures: 404, and nothing moves (all or none).
    let before = w.snapshot().await;
    let attempts: [(&[&str], &str); 4] = [
        (&[&b.collab1.id], &a.s1),
        (&[&a.collab1.id], &b.s1),
        (&[&a.collab2.id, &b.collab1.id], &a.s1),
        (&[&b.resp1.id], &b.s2),
    ];
    for (accounts, to) in attempts {
        let answer = f.transfer(&a.admin, accounts, to).await;
        assert_problem(&answer, 404, "not-found");
    }
    for (from, into) in [(&b.s1, &b.s2), (&a.s1, &b.s1), (&b.s1, &a.s1)] {
        let answer = f.merge(&a.admin, from, into).await;
        assert_problem(&answer, 404, "not-found");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

#[tokio::test]
async fn responsable_and_collaborateur_cannot_merge_or_transfer() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let before = w.snapshot().await;
    for who in [&a.resp1, &a.collab1] {
        for moved in [&a.collab1.id, &who.id] {
            let answer = f.transfer(who, &[moved], &a.s2).await;
            assert_problem(&answer, 403, "matrix-role");
        }
        let merge = f.merge(who, &a.s1, &a.s2).await;
        assert_problem(&merge, 403, "matrix-role");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// pre-create an account

#[tokio::test]
async fn administrateur_pre_creates_responsables_and_collaborateurs_in_any_service() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);

    let resp = f
        .invite(&a.admin, "responsable", &a.s2, "Paul", "Neuf")
        .await;
    let collab = f
        .invite(&a.admin, "collaborateur", &a.s1, "Lina", "Neuve")
        .await;
    for (p, role, service) in [
        (&resp, "responsable", &a.s2),
        (&collab, "collaborateur", &a.s1),
    ] {
        assert!(f.mail_to(&p.email).await.contains("/invitations/"));
        let acc = f.account(&a.admin, &p.id).await;
        assert_eq!(acc["state"], "invited");
        assert_eq!(acc["role"], role);
        assert_eq!(acc["service_id"], service.as_str());
    }
    let (s, v) = f.get(&a.admin, "/accounts?state=invited").await;
    assert_eq!(s, 200);
    let invited = ids(&v);
    assert!(
        invited.contains(&resp.id) && invited.contains(&collab.id),
        "{v}"
    );

    // Not an administrateur (the operator creates those), nor in another structure.
    let before = w.snapshot().await;
    let admin = pre_create(f, &a.admin, "administrateur", &a.s1).await;
    assert_problem(&admin, 403, "matrix-target-role");
    // A service of B answers exactly as a service that does not exist.
    let cross = pre_create(f, &a.admin, "collaborateur", &b.s1).await;
    let none = "00000000-0000-4000-8000-000000000000";
    let unknown = pre_create(f, &a.admin, "collaborateur", none).await;
    assert_problem(&cross, 422, "unknown-service");
    assert_eq!(cross, unknown, "B's service is indistinguishable from none");
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

#[tokio::test]
async fn responsable_pre_creates_collaborateurs_of_his_own_service_only() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);

    let recruit = f
        .invite(&a.resp1, "collaborateur", &a.s1, "Noé", "Recrue")
        .await;
    let mail = f.mail_to(&recruit.email).await;
    assert!(mail.contains("Rémi Resp"), "the mail names the inviter");
    let v = f.accept(&link_token(&mail, "/invitations/")).await;
    assert_eq!(
        v["state"], "awaiting_validation",
        "the administrateur validates"
    );
    let acc = f.account(&a.admin, &recruit.id).await;
    assert_eq!(acc["state"], "awaiting_validation");
    assert_eq!(acc["service_id"], a.s1.as_str());

    let before = w.snapshot().await;
    let other_service = pre_create(f, &a.resp1, "collaborateur", &a.s2).await;
    assert_problem(&other_service, 403, "matrix-own-service");
    for role in ["responsable", "administrateur"] {
        let answer = pre_create(f, &a.resp1, role, &a.s1).await;
        assert_problem(&answer, 403, "matrix-target-role");
    }
    let cross = pre_create(f, &a.resp1, "collaborateur", &b.s1).await;
    assert_problem(&cross, 422, "unknown-service");
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

#[tokio::test]
async fn collaborateur_cannot_pre_create() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let before = w.snapshot().await;
    for role in ["collaborateur", "responsable"] {
        let answer = pre_create(f, &a.collab1, role, &a.s1).await;
        assert_problem(&answer, 403, "matrix-role");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// validate pending creations: administrateur only

#[tokio::test]
async fn only_administrateur_validates_or_rejects_pending_creations() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let by_admin = f
        .invite(&a.admin, "collaborateur", &a.s1, "Inès", "Attente")
        .await;
    let by_resp = f
        .invite(&a.resp1, "collaborateur", &a.s1, "Hugo", "Patient")
        .await;
    f.complete(&by_admin).await;
    f.complete(&by_resp).await;

    let before = w.snapshot().await;
    for who in [&a.resp1, &a.collab1] {
        for p in [&by_admin, &by_resp] {
            for action in ["validate", "reject"] {
                assert_problem(&f.act(who, &p.id, action).await, 403, "matrix-role");
            }
        }
    }
    for p in [&by_admin, &by_resp] {
        for action in ["validate", "reject"] {
            assert_problem(&f.act(&b.admin, &p.id, action).await, 404, "not-found");
        }
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
    let (_, pending) = f.get(&a.admin, "/accounts?state=awaiting_validation").await;
    let pending = ids(&pending);
    assert!(pending.contains(&by_admin.id) && pending.contains(&by_resp.id));

    // The administrateur validates one (identifier generated and mailed) and rejects the other.
    let (s, v) = f.act(&a.admin, &by_resp.id, "validate").await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "active");
    assert_eq!(v["login"], "hpatient");
    assert!(f.mail_to(&by_resp.email).await.contains("hpatient"));
    f.sign_in("hpatient", PASSWORD).await;
    let again = f.act(&a.admin, &by_resp.id, "validate").await;
    assert_problem(&again, 409, "account-state");

    let (s, v) = f.act(&a.admin, &by_admin.id, "reject").await;
    assert_eq!(s, 204, "{v}");
    let gone = f.get_account(&a.admin, &by_admin.id).await;
    assert_problem(&gone, 404, "not-found");
}

// ---------------------------------------------------------------------------------------
// resend an identifier

async fn resend(f: &Fixture, who: &Person, target: &str) -> (u16, Value) {
    f.act(who, target, "resend-identifier").await
}

#[tokio::test]
async fn administrateur_resends_the_identifier_of_any_account_of_his_structure() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    for p in [&a.admin, &a.resp2, &a.collab2] {
        let (s, v) = resend(f, &a.admin, &p.id).await;
        assert_eq!(s, 202, "{v}");
        assert!(f.mail_to(&p.email).await.contains(&p.login));
    }
    let before = w.snapshot().await;
    for p in [&b.admin, &b.resp1, &b.collab1] {
        assert_problem(&resend(f, &a.admin, &p.id).await, 404, "not-found");
    }
    assert_eq!(before, w.snapshot().await, "nothing sent, nothing recorded");
}

#[tokio::test]
async fn responsable_resends_identifiers_of_collaborateurs_of_his_service_only() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let (s, v) = resend(f, &a.resp1, &a.collab1.id).await;
    assert_eq!(s, 202, "{v}");
    assert!(f.mail_to(&a.collab1.email).await.contains(&a.collab1.login));

    let before = w.snapshot().await;
    for p in [&a.collab2, &a.resp2, &a.admin] {
        assert_problem(&resend(f, &a.resp1, &p.id).await, 403, "matrix-own-service");
    }
    let himself = resend(f, &a.resp1, &a.resp1.id).await;
    assert_problem(&himself, 403, "matrix-target-role");
    assert_problem(&resend(f, &a.resp1, &b.collab1.id).await, 404, "not-found");
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

#[tokio::test]
async fn collaborateur_cannot_resend_identifiers() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let before = w.snapshot().await;
    for p in [&a.collab1, &a.collab2, &a.resp1, &a.admin] {
        assert_problem(&resend(f, &a.collab1, &p.id).await, 403, "matrix-role");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// request deletion of an account, only once it has no habilitation left

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn administrateur_requests_deletion_of_responsables_and_collaborateurs_without_habilitations()
{
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let profiles = ["DEMO:UTILISATEUR", "FICOBA:CONSULTATION"];
    for p in profiles {
        f.grant(&a.admin, &a.collab2.id, p).await;
    }

    let before = w.snapshot().await;
    let blocked = f.request_deletion(&a.admin, &a.collab2.id).await;
    assert_problem(&blocked, 409, "habilitations-remain");
    assert_eq!(sorted(strings(&blocked.1["blocking"])), profiles);
    let himself = f.request_deletion(&a.admin, &a.admin.id).await;
    assert_problem(&himself, 403, "matrix-target-role");
    for p in [&b.collab1, &b.resp1] {
        assert_problem(&f.request_deletion(&a.admin, &p.id).await, 404, "not-found");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");

    for p in profiles {
        f.revoke(&a.admin, &a.collab2.id, p).await;
    }
    for p in [&a.collab2, &a.resp2] {
        let (s, v) = f.request_deletion(&a.admin, &p.id).await;
        assert_eq!(s, 200, "{v}");
        assert_eq!(v["state"], "deletion_requested");
        assert_eq!(
            f.account(&a.admin, &p.id).await["state"],
            "deletion_requested"
        );
    }
}

#[tokio::test]
async fn responsable_requests_deletion_of_collaborateurs_of_his_service_only() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    f.grant_delegation(&a.admin, &a.resp1.id, "DEMO:UTILISATEUR")
        .await;
    f.grant(&a.resp1, &a.collab1.id, "DEMO:UTILISATEUR").await;

    let before = w.snapshot().await;
    let blocked = f.request_deletion(&a.resp1, &a.collab1.id).await;
    assert_problem(&blocked, 409, "habilitations-remain");
    assert_eq!(strings(&blocked.1["blocking"]), ["DEMO:UTILISATEUR"]);
    for p in [&a.collab2, &a.resp2, &a.admin] {
        let answer = f.request_deletion(&a.resp1, &p.id).await;
        assert_problem(&answer, 403, "matrix-own-service");
    }
    let himself = f.request_deletion(&a.resp1, &a.resp1.id).await;
    assert_problem(&himself, 403, "matrix-target-role");
    let cross = f.request_deletion(&a.resp1, &b.collab1.id).await;
    assert_problem(&cross, 404, "not-found");
    assert_eq!(before, w.snapshot().await, "nothing changed");

    f.revoke(&a.resp1, &a.collab1.id, "DEMO:UTILISATEUR").await;
    let (s, v) = f.request_deletion(&a.resp1, &a.collab1.id).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        f.account(&a.admin, &a.collab1.id).await["state"],
        "deletion_requested"
    );
}

#[tokio::test]
async fn collaborateur_cannot_request_deletion() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    let before = w.snapshot().await;
    for p in [&a.collab1, &a.collab2, &a.resp1, &a.admin] {
        let answer = f.request_deletion(&a.collab1, &p.id).await;
        assert_problem(&answer, 403, "matrix-role");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// consult the accounts and services of his structure: every role, never the other

#[tokio::test]
async fn every_role_consults_his_own_structure_and_never_the_other() {
    let w = World::build().await;
    let f = &w.f;
    for (side, other) in [(&w.a, &w.b), (&w.b, &w.a)] {
        let own_people: Vec<String> = people(side).iter().map(|p| p.id.clone()).collect();
        let other_people: Vec<String> = people(other).iter().map(|p| p.id.clone()).collect();
        let other_services = [other.s1.clone(), other.s2.clone()];
        for viewer in people(side) {
            let view = f.view(viewer).await;
            assert_eq!(view["structure"]["id"], side.structure_id.as_str());
            assert_eq!(
                sorted(ids(&view["services"])),
                sorted(vec![side.s1.clone(), side.s2.clone()])
            );
            let accounts = ids(&view["accounts"]);
            assert_eq!(sorted(accounts.clone()), sorted(own_people.clone()));
            assert!(!accounts.iter().any(|id| other_people.contains(id)));
            assert!(
                !ids(&view["services"])
                    .iter()
                    .any(|id| other_services.contains(id))
            );

            for query in ["/accounts", "/accounts?state=active"] {
                let (s, v) = f.get(viewer, query).await;
                assert_eq!(s, 200, "{v}");
                assert_eq!(sorted(ids(&v)), sorted(own_people.clone()), "{query}");
            }
            let (s, v) = f.get_account(viewer, &side.collab2.id).await;
            assert_eq!(s, 200, "{v}");
            assert_eq!(v["login"], side.collab2.login.as_str());
            for id in &other_people {
                assert_problem(&f.get_account(viewer, id).await, 404, "not-found");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// habilitate / remove a habilitation

#[tokio::test]
async fn administrateur_habilitates_any_account_of_his_structure_with_any_entitled_profile() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let admin2 = f.admin(&a.structure_id, "Alain", "Second").await;
    let cases = [
        (&a.admin, "FICOBA:CONSULTATION"),
        (&admin2, "FICOBA:GESTION"),
        (&a.resp2, "DEMO:ADMINISTRATEUR"),
        (&a.collab2, "DEMO:UTILISATEUR"),
    ];
    for (p, profile) in cases {
        let (s, v) = f.habilitate(&a.admin, "PUT", &p.id, profile).await;
        assert_eq!(s, 201, "{profile}: {v}");
        assert_eq!(f.habilitations(&a.admin, &p.id).await, [profile]);
        // Granting again changes nothing.
        let (s, _) = f.habilitate(&a.admin, "PUT", &p.id, profile).await;
        assert_eq!(s, 200);
        assert_eq!(f.habilitations(&a.admin, &p.id).await, [profile]);
    }

    f.grant(&b.admin, &b.collab1.id, "FICOBA:CONSULTATION")
        .await;
    let before = w.snapshot().await;
    for method in ["PUT", "DELETE"] {
        for p in [&b.collab1, &b.admin] {
            let answer = f
                .habilitate(&a.admin, method, &p.id, "FICOBA:CONSULTATION")
                .await;
            assert_problem(&answer, 404, "not-found");
        }
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");

    for (p, profile) in cases {
        let (s, v) = f.habilitate(&a.admin, "DELETE", &p.id, profile).await;
        assert_eq!(s, 204, "{v}");
        assert!(f.habilitations(&a.admin, &p.id).await.is_empty());
    }
}

#[tokio::test]
async fn responsable_habilitates_collaborateurs_of_his_service_with_delegated_profiles_only() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    f.grant_delegation(&a.admin, &a.resp1.id, "DEMO:UTILISATEUR")
        .await;
    f.grant(&a.resp1, &a.collab1.id, "DEMO:UTILISATEUR").await;
    assert_eq!(
        f.habilitations(&a.resp1, &a.collab1.id).await,
        ["DEMO:UTILISATEUR"]
    );
    f.grant(&a.admin, &a.collab1.id, "FICOBA:GESTION").await;

    let before = w.snapshot().await;
    for profile in ["FICOBA:CONSULTATION", "DEMO:ADMINISTRATEUR"] {
        let answer = f.habilitate(&a.resp1, "PUT", &a.collab1.id, profile).await;
        assert_problem(&answer, 403, "not-delegated");
    }
    let answer = f
        .habilitate(&a.resp1, "DELETE", &a.collab1.id, "FICOBA:GESTION")
        .await;
    assert_problem(&answer, 403, "not-delegated");
    assert_eq!(before, w.snapshot().await, "nothing changed");

    f.revoke(&a.resp1, &a.collab1.id, "DEMO:UTILISATEUR").await;
    assert_eq!(
        f.habilitations(&a.admin, &a.collab1.id).await,
        ["FICOBA:GESTION"]
    );
}

#[tokio::test]
async fn responsable_cannot_habilitate_outside_his_service() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let profile = "DEMO:UTILISATEUR";
    f.grant_delegation(&a.admin, &a.resp1.id, profile).await;
    f.grant(&a.admin, &a.collab2.id, profile).await;
    f.grant(&b.admin, &b.collab1.id, profile).await;

    let before = w.snapshot().await;
    for method in ["PUT", "DELETE"] {
        for p in [&a.collab2, &a.resp2, &a.admin] {
            let answer = f.habilitate(&a.resp1, method, &p.id, profile).await;
            assert_problem(&answer, 403, "matrix-own-service");
        }
        let himself = f.habilitate(&a.resp1, method, &a.resp1.id, profile).await;
        assert_problem(&himself, 403, "matrix-target-role");
        let cross = f.habilitate(&a.resp1, method, &b.collab1.id, profile).await;
        assert_problem(&cross, 404, "not-found");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

#[tokio::test]
async fn collaborateur_cannot_habilitate() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    for p in [&a.collab1, &a.collab2] {
        f.grant(&a.admin, &p.id, "DEMO:UTILISATEUR").await;
    }
    let before = w.snapshot().await;
    for p in [&a.collab1, &a.collab2, &a.resp1] {
        for (method, profile) in [("PUT", "FICOBA:GESTION"), ("DELETE", "DEMO:UTILISATEUR")] {
            let answer = f.habilitate(&a.collab1, method, &p.id, profile).await;
            assert_problem(&answer, 403, "matrix-role");
        }
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// delegate a profile to a responsable / remove a delegation: administrateur only

#[tokio::test]
async fn administrateur_delegates_profiles_to_responsables_only() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    for (p, profile) in [(&a.resp1, "FICOBA:GESTION"), (&a.resp2, "DEMO:UTILISATEUR")] {
        let (s, v) = f.delegate(&a.admin, "PUT", &p.id, profile).await;
        assert_eq!(s, 201, "{v}");
        assert_eq!(f.delegations(&a.admin, &p.id).await, [profile]);
        assert!(
            f.habilitations(&a.admin, &p.id).await.is_empty(),
            "a delegation is no habilitation"
        );
    }
    f.grant_delegation(&b.admin, &b.resp1.id, "DEMO:UTILISATEUR")
        .await;

    let before = w.snapshot().await;
    for p in [&a.collab1, &a.admin] {
        let answer = f.delegate(&a.admin, "PUT", &p.id, "FICOBA:GESTION").await;
        assert_problem(&answer, 403, "matrix-target-role");
    }
    for method in ["PUT", "DELETE"] {
        let answer = f
            .delegate(&a.admin, method, &b.resp1.id, "DEMO:UTILISATEUR")
            .await;
        assert_problem(&answer, 404, "not-found");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");

    f.revoke_delegation(&a.admin, &a.resp1.id, "FICOBA:GESTION")
        .await;
    assert!(f.delegations(&a.admin, &a.resp1.id).await.is_empty());
}

#[tokio::test]
async fn responsable_and_collaborateur_cannot_delegate() {
    let w = World::build().await;
    let (f, a) = (&w.f, &w.a);
    f.grant_delegation(&a.admin, &a.resp2.id, "DEMO:UTILISATEUR")
        .await;
    let before = w.snapshot().await;
    for who in [&a.resp1, &a.collab1] {
        for p in [&a.resp1, &a.resp2] {
            let put = f.delegate(who, "PUT", &p.id, "FICOBA:GESTION").await;
            assert_problem(&put, 403, "matrix-role");
        }
        let remove = f
            .delegate(who, "DELETE", &a.resp2.id, "DEMO:UTILISATEUR")
            .await;
        assert_problem(&remove, 403, "matrix-role");
    }
    assert_eq!(before, w.snapshot().await, "nothing changed");
}

// ---------------------------------------------------------------------------------------
// manage his own personal data; open his applications: every role

#[tokio::test]
async fn every_role_manages_his_own_data_and_opens_his_applications() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    let b_before = f.view(&b.admin).await;
    for (i, p) in [&a.admin, &a.resp1, &a.collab1].into_iter().enumerate() {
        let (s, me) = f.get(p, "/me").await;
        assert_eq!(s, 200, "{me}");
        assert_eq!(me["id"], p.id.as_str());
        assert_eq!(me["login"], p.login.as_str());
        assert_eq!(me["structure"]["id"], a.structure_id.as_str());

        let family = format!("Rectifié{i}");
        let (s, v) = f
            .call(
                Some(&p.token),
                "PATCH",
                "/me",
                Some(json!({"family_name": family})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        let (_, me) = f.get(p, "/me").await;
        assert_eq!(me["family_name"], family.as_str());
        assert_eq!(me["login"], p.login.as_str(), "the identifier stays");

        let (s, export) = f.get(p, "/me/export").await;
        assert_eq!(s, 200, "{export}");
        assert_eq!(export["account"]["id"], p.id.as_str());
        assert!(
            export["account"]["credential"].is_null(),
            "no password hash"
        );
        assert_eq!(export["structure"]["siret"], "73282932000074");
        assert!(
            export["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["action"] == "account.update_personal_data"),
            "{export}"
        );

        let (s, apps) = f.get(p, "/me/applications").await;
        assert_eq!(s, 200);
        assert_eq!(apps, json!([]), "no habilitation, no application");
        f.grant(&a.admin, &p.id, "DEMO:UTILISATEUR").await;
        let (_, apps) = f.get(p, "/me/applications").await;
        let apps = apps.as_array().unwrap();
        assert_eq!(apps.len(), 1, "{apps:?}");
        assert_eq!(apps[0]["code"], "DEMO");
        assert_eq!(strings(&apps[0]["profiles"]), ["DEMO:UTILISATEUR"]);
    }
    // Nobody else's data changed: not the other people of A, nothing of B.
    for (p, family) in [(&a.resp2, "Resp"), (&a.collab2, "Collab")] {
        assert_eq!(f.account(&a.admin, &p.id).await["family_name"], family);
    }
    assert_eq!(b_before, f.view(&b.admin).await);
}

// ---------------------------------------------------------------------------------------
// The matrix as data: every (function, role) cell goes through the API.

/// Where a probe aims, seen from the actor (who is of service s1 of A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aim {
    OwnService,
    OtherService,
    OtherStructure,
}

/// One API call per function of the matrix, aimed at a target of the actor's service,
/// another service of his structure, or the other structure.
struct Probe<'w> {
    w: &'w World,
    /// A creation awaiting validation in B (the cross-structure target of validation).
    b_pending: String,
}

impl Probe<'_> {
    async fn call(&self, function: Function, actor: &Person, aim: Aim) -> (u16, Value) {
        let (f, a, b) = (&self.w.f, &self.w.a, &self.w.b);
        let (service, collab, resp) = match aim {
            Aim::OwnService => (&a.s1, &a.collab1, &a.resp1),
            Aim::OtherService => (&a.s2, &a.collab2, &a.resp2),
            Aim::OtherStructure => (&b.s1, &b.collab1, &b.resp1),
        };
        match function {
            Function::ManageServices => {
                let name = format!("Sonde {}", f.unique());
                f.create_service(actor, &name).await
            }
            Function::MergeAndTransfer => {
                // Moving someone to the service he is in: allowed, and harmless.
                f.transfer(actor, &[&collab.id], service).await
            }
            Function::PreCreate => pre_create(f, actor, "collaborateur", service).await,
            Function::ValidateCreations => {
                let id = if aim == Aim::OtherStructure {
                    self.b_pending.clone()
                } else {
                    let p = f
                        .invite(&a.admin, "collaborateur", service, "Val", "Idation")
                        .await;
                    f.complete(&p).await;
                    p.id
                };
                f.act(actor, &id, "validate").await
            }
            Function::ResendIdentifier => resend(f, actor, &collab.id).await,
            Function::RequestDeletion => {
                let id = if aim == Aim::OtherStructure {
                    collab.id.clone()
                } else {
                    f.member(&a.admin, &a.admin, "collaborateur", service, "Sup", "Prime")
                        .await
                        .id
                };
                f.request_deletion(actor, &id).await
            }
            Function::Consult => f.get_account(actor, &collab.id).await,
            Function::Habilitate => {
                let answer = f
                    .habilitate(actor, "PUT", &collab.id, "DEMO:UTILISATEUR")
                    .await;
                if answer.0 == 201 {
                    let removed = f
                        .habilitate(actor, "DELETE", &collab.id, "DEMO:UTILISATEUR")
                        .await;
                    assert_eq!(removed.0, 204, "{removed:?}");
                }
                answer
            }
            Function::Delegate => {
                let answer = f.delegate(actor, "PUT", &resp.id, "FICOBA:GESTION").await;
                if answer.0 == 201 {
                    let removed = f
                        .delegate(actor, "DELETE", &resp.id, "FICOBA:GESTION")
                        .await;
                    assert_eq!(removed.0, 204, "{removed:?}");
                }
                answer
            }
            Function::OwnData => match aim {
                Aim::OwnService => f.get(actor, "/me/export").await,
                _ => self.own_data_of_another(actor, aim).await,
            },
        }
    }

    /// Someone else's personal data, asked of the core: the API's `/me` only ever names
    /// the caller, so only the core, which takes the account as a parameter, can be asked
    /// for another person's. Every own-data operation must answer alike; the problem
    /// is rendered as the API renders it.
    async fn own_data_of_another(&self, actor: &Person, aim: Aim) -> (u16, Value) {
        let (f, a, b) = (&self.w.f, &self.w.a, &self.w.b);
        let other = match aim {
            Aim::OwnService if actor.id == a.collab1.id => &a.resp1,
            Aim::OwnService => &a.collab1,
            Aim::OtherService => &a.collab2,
            Aim::OtherStructure => &b.collab1,
        };
        assert_ne!(other.id, actor.id);
        let core = f.directory();
        let (me, _) = core.actor(&actor.id).unwrap();
        let render = |e| {
            let p = Problem::from(e);
            (p.status, serde_json::to_value(&p).unwrap())
        };
        let export = core.export(&me, &other.id).map(|_| ()).map_err(render);
        let read = core
            .personal_data(&me, &other.id)
            .map(|_| ())
            .map_err(render);
        let applications = core
            .applications_of(&me, &other.id)
            .map(|_| ())
            .map_err(render);
        let names = NameCorrection {
            given_name: Some("Usurpé".into()),
            family_name: None,
        };
        let localhost = std::net::IpAddr::from([127, 0, 0, 1]);
        let update = core
            .update_personal_data(&me, &other.id, &names, None, None, localhost)
            .await
            .map(|_| ())
            .map_err(render);
        let refused = export.clone().expect_err("export of another person");
        assert_eq!(export, read);
        assert_eq!(export, applications);
        assert_eq!(export, update);
        refused
    }
}

/// Whether a function acts on something that belongs to a structure (a service or an account).
fn has_target(function: Function) -> bool {
    !matches!(function, Function::ManageServices | Function::OwnData)
}

/// The rights matrix of DESIGN.md, copied by hand (rows in its order; cells for the
/// administrateur, the responsable and the collaborateur). `MATRIX` must say the same.
fn design_table() -> Vec<(Function, Role, Option<Allowance>)> {
    use ProfileSource::{Delegated, Entitled};
    use Reach::{Own, OwnService, Structure};
    use Role::{Administrateur as Adm, Collaborateur as Col, Responsable as Res};
    let yes = |reach, targets: &'static [Role], profiles| {
        Some(Allowance {
            reach,
            targets,
            profiles,
        })
    };
    let plain = ProfileSource::None;
    let no = None;
    let rows = [
        // create / modify / delete a service of his structure | yes | no | no
        (
            Function::ManageServices,
            [yes(Structure, &[], plain), no, no],
        ),
        // merge two services; transfer responsables or collaborateurs | yes | no | no
        (
            Function::MergeAndTransfer,
            [yes(Structure, &[Res, Col], plain), no, no],
        ),
        // pre-create | responsable or collaborateur, any service | collaborateur of his
        // own service | no
        (
            Function::PreCreate,
            [
                yes(Structure, &[Res, Col], plain),
                yes(OwnService, &[Col], plain),
                no,
            ],
        ),
        // validate pending creations (of responsables and collaborateurs: the operator
        // creates administrateurs) | yes | no | no
        (
            Function::ValidateCreations,
            [yes(Structure, &[Res, Col], plain), no, no],
        ),
        // resend an identifier | any account of his structure | collaborateurs of his
        // service | no
        (
            Function::ResendIdentifier,
            [
                yes(Structure, &[Adm, Res, Col], plain),
                yes(OwnService, &[Col], plain),
                no,
            ],
        ),
        // request deletion | responsable or collaborateur | collaborateur of his service | no
        (
            Function::RequestDeletion,
            [
                yes(Structure, &[Res, Col], plain),
                yes(OwnService, &[Col], plain),
                no,
            ],
        ),
        // consult the accounts and services of his structure | yes | yes | yes
        (
            Function::Consult,
            [
                yes(Structure, &[Adm, Res, Col], plain),
                yes(Structure, &[Adm, Res, Col], plain),
                yes(Structure, &[Adm, Res, Col], plain),
            ],
        ),
        // habilitate / remove | any account of his structure, any entitled profile |
        // collaborateur of his service, only delegated profiles | no
        (
            Function::Habilitate,
            [
                yes(Structure, &[Adm, Res, Col], Entitled),
                yes(OwnService, &[Col], Delegated),
                no,
            ],
        ),
        // delegate a profile to a responsable / remove a delegation | yes | no | no
        (
            Function::Delegate,
            [yes(Structure, &[Res], Entitled), no, no],
        ),
        // manage his own personal data; open his applications | yes | yes | yes
        (
            Function::OwnData,
            [
                yes(Own, &[Adm, Res, Col], plain),
                yes(Own, &[Adm, Res, Col], plain),
                yes(Own, &[Adm, Res, Col], plain),
            ],
        ),
    ];
    rows.into_iter()
        .flat_map(|(function, cells)| {
            [Adm, Res, Col]
                .into_iter()
                .zip(cells)
                .map(move |(role, cell)| (function, role, cell))
        })
        .collect()
}

#[test]
fn the_matrix_data_is_the_table_of_the_design() {
    let design = design_table();
    assert_eq!(design.len(), 30, "ten rows of three roles");
    for (function, role, cell) in &design {
        assert_eq!(
            allowance(*function, *role),
            *cell,
            "{function:?} × {role:?} differs from DESIGN.md"
        );
    }
    let mut in_code: Vec<String> = MATRIX.iter().map(|c| format!("{c:?}")).collect();
    let mut in_design: Vec<String> = design.iter().map(|c| format!("{c:?}")).collect();
    in_code.sort();
    in_design.sort();
    assert_eq!(in_code, in_design, "no cell more, none less");
}

#[tokio::test]
async fn every_cell_of_the_rights_matrix_data_is_exercised_through_the_api() {
    let w = World::build().await;
    let (f, a, b) = (&w.f, &w.a, &w.b);
    // The responsable may only hand out what was delegated to him.
    f.grant_delegation(&a.admin, &a.resp1.id, "DEMO:UTILISATEUR")
        .await;
    let b_pending = f
        .invite(&b.admin, "collaborateur", &b.s1, "Bea", "Attente")
        .await;
    f.complete(&b_pending).await;
    let probe = Probe {
        w: &w,
        b_pending: b_pending.id,
    };
    let b_before = f.view(&b.admin).await;

    let design = design_table();
    let mut exercised = HashSet::new();
    for (function, role, _) in MATRIX {
        // What the server must do is DESIGN.md's; the cells visited are the code's.
        let cell = design
            .iter()
            .find(|(f, r, _)| f == function && r == role)
            .map(|(_, _, cell)| cell)
            .unwrap_or_else(|| panic!("{function:?} × {role:?} is not in DESIGN.md"));
        let actor = match role {
            Role::Administrateur => &a.admin,
            Role::Responsable => &a.resp1,
            Role::Collaborateur => &a.collab1,
        };
        let cell_name = format!("{function:?} × {role:?}");
        let answer = probe.call(*function, actor, Aim::OwnService).await;
        match cell {
            None => {
                assert_eq!(answer.0, 403, "{cell_name} is a no: {answer:?}");
                assert_eq!(
                    answer.1["type"], "urn:apex-idp:problem:matrix-role",
                    "{cell_name}"
                );
            }
            Some(allowance) => {
                assert!(
                    (200..300).contains(&answer.0),
                    "{cell_name} is a yes: {answer:?}"
                );
                if allowance.reach == Reach::Own {
                    for aim in [Aim::OwnService, Aim::OtherService] {
                        let other = probe.own_data_of_another(actor, aim).await;
                        assert_eq!(other.0, 403, "{cell_name}, another person: {other:?}");
                        assert_eq!(
                            other.1["type"], "urn:apex-idp:problem:matrix-own-account",
                            "{cell_name}"
                        );
                    }
                    let cross = probe.own_data_of_another(actor, Aim::OtherStructure).await;
                    assert_eq!(cross.0, 404, "{cell_name}, B: {cross:?}");
                    assert_eq!(cross.1["type"], "urn:apex-idp:problem:not-found");
                }
                if allowance.reach == Reach::OwnService {
                    let other = probe.call(*function, actor, Aim::OtherService).await;
                    assert_eq!(other.0, 403, "{cell_name}, other service: {other:?}");
                    assert_eq!(
                        other.1["type"], "urn:apex-idp:problem:matrix-own-service",
                        "{cell_name}"
                    );
                }
                if has_target(*function) {
                    let cross = probe.call(*function, actor, Aim::OtherStructure).await;
                    // A body naming B's service is an unknown value; a path naming B's
                    // account or service is not found. Either way B stays invisible.
                    let expected = if *function == Function::PreCreate {
                        (422, "unknown-service")
                    } else {
                        (404, "not-found")
                    };
                    assert_eq!(cross.0, expected.0, "{cell_name}, B: {cross:?}");
                    assert_eq!(
                        cross.1["type"],
                        format!("urn:apex-idp:problem:{}", expected.1),
                        "{cell_name}"
                    );
                }
            }
        }
        exercised.insert((*function, *role));
    }
    for (function, role, _) in &design {
        assert!(
            exercised.contains(&(*function, *role)),
            "{function:?} × {role:?} of DESIGN.md was not exercised"
        );
    }
    assert_eq!(exercised.len(), design.len());
    assert_eq!(b_before, f.view(&b.admin).await, "B never changed");
    let (_, intact) = f.audit_chain().await;
    assert!(intact);
}

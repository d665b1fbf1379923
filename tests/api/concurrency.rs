//! Concurrent writes are serialised: the outcome of parallel grants and removals equals
//! replaying, in audit order, the operations that succeeded.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::fixture::{Fixture, Person};

const PROFILES: [&str; 2] = ["DEMO:UTILISATEUR", "FICOBA:CONSULTATION"];

/// The profiles of an audited account (`before` or `after` of an event).
fn held(account: &Value) -> BTreeSet<String> {
    account["habilitations"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .filter_map(|h| h["profile"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A deterministic mix of operations (xorshift), so that a failure can be replayed.
fn plan(n: usize) -> Vec<(&'static str, &'static str)> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let method = if x & 1 == 0 { "PUT" } else { "DELETE" };
            let profile = PROFILES[((x >> 1) & 1) as usize];
            (method, profile)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_grants_and_removals_equal_a_serial_order() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Parallèle").await;
    let admin = f.admin(&sid, "Paula", "Parallèle").await;
    let svc = f.service(&admin, "Guichet").await;
    let collab: Person = f
        .member(&admin, &admin, "collaborateur", &svc, "Sérgio", "Série")
        .await;
    let (s, _) = f
        .habilitate(&admin, "PUT", &collab.id, "DEMO:UTILISATEUR")
        .await;
    assert_eq!(s, 201);
    let initial: BTreeSet<String> = f
        .habilitations(&admin, &collab.id)
        .await
        .into_iter()
        .collect();
    let (s, audit) = f.call(Some(&admin.token), "GET", "/audit", None).await;
    assert_eq!(s, 200);
    let mark = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["seq"].as_u64())
        .max()
        .unwrap();

    let ops = plan(50);
    assert!(ops.iter().any(|(m, _)| *m == "PUT") && ops.iter().any(|(m, _)| *m == "DELETE"));
    let tasks: Vec<_> = ops
        .iter()
        .map(|&(method, profile)| {
            let http = f.http.clone();
            let url = format!(
                "{}/api/v1/accounts/{}/habilitations/{profile}",
                f.base, collab.id
            );
            let token = admin.token.clone();
            tokio::spawn(async move {
                let resp = http
                    .request(method.parse().unwrap(), &url)
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap();
                let status = resp.status().as_u16();
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                (method, profile, status, body)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }

    // Every answer is one of the two outcomes of its operation.
    let mut succeeded: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    let mut no_ops: Vec<(&str, &str)> = Vec::new();
    for (method, profile, status, body) in &results {
        match (*method, *status) {
            ("PUT", 201) => {
                let now: Vec<&str> = body["habilitations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_str)
                    .collect();
                assert!(now.contains(profile), "{body}");
                *succeeded.entry(("grant", *profile)).or_default() += 1;
            }
            ("DELETE", 204) => *succeeded.entry(("remove", *profile)).or_default() += 1,
            ("PUT", 200) | ("DELETE", 404) => no_ops.push((*method, *profile)),
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }

    // The audit log orders the changes; replaying them explains every event and the end.
    let (s, audit) = f.call(Some(&admin.token), "GET", "/audit", None).await;
    assert_eq!(s, 200);
    let mut events: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["seq"].as_u64().unwrap() > mark)
        .collect();
    events.sort_by_key(|e| e["seq"].as_u64());
    let mut state = initial.clone();
    let mut states = vec![state.clone()];
    let mut audited: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for e in &events {
        assert_eq!(e["target"], collab.id.as_str(), "{e}");
        assert_eq!(e["actor"], admin.id.as_str(), "{e}");
        let (before, after) = (held(&e["before"]), held(&e["after"]));
        assert_eq!(
            before, state,
            "event {} starts from the replayed state",
            e["seq"]
        );
        let action = e["action"].as_str().unwrap();
        let changed: Vec<&String> = before.symmetric_difference(&after).collect();
        assert_eq!(changed.len(), 1, "one profile per event: {e}");
        let profile = PROFILES
            .into_iter()
            .find(|p| p == changed[0])
            .unwrap_or_else(|| panic!("unexpected profile in {e}"));
        match action {
            "habilitation.grant" => {
                assert!(state.insert(profile.to_owned()), "{e}");
                *audited.entry(("grant", profile)).or_default() += 1;
            }
            "habilitation.remove" => {
                assert!(state.remove(profile), "{e}");
                *audited.entry(("remove", profile)).or_default() += 1;
            }
            other => panic!("unexpected action {other}"),
        }
        assert_eq!(after, state);
        states.push(state.clone());
    }
    assert_eq!(
        audited, succeeded,
        "one audit event per change, none for no-ops"
    );
    assert_eq!(events.len() + no_ops.len(), ops.len());
    assert!(
        events.len() >= 10 && !no_ops.is_empty(),
        "the mix exercises both changes and no-ops"
    );

    // A no-op happened when the serial order says it could.
    for (method, profile) in no_ops {
        let possible = states
            .iter()
            .any(|s| s.contains(profile) == (method == "PUT"));
        assert!(
            possible,
            "{method} {profile} answered as a no-op, never possible"
        );
    }

    let end: BTreeSet<String> = f
        .habilitations(&admin, &collab.id)
        .await
        .into_iter()
        .collect();
    assert_eq!(end, state, "the end state is the replay's");
    let (_, intact) = f.audit_chain().await;
    assert!(intact, "the audit chain is intact");
}

/// The window between a request's start and its commit: a responsable transferred to
/// another service meanwhile acts as what he is at commit, not as what he was.
#[tokio::test]
async fn an_actor_transferred_mid_request_commits_as_he_is_now() {
    use apex_idp::directory::actor_of;
    use apex_idp::domain::{PersonalData, Role};
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Mutation").await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let first = f.service(&admin, "Premier").await;
    let second = f.service(&admin, "Second").await;
    let resp = f
        .member(&admin, &admin, "responsable", &first, "Remi", "Responsable")
        .await;
    // His request began while he ran the first service...
    let dir = f.directory();
    let then = actor_of(&dir.account(&resp.id).unwrap());
    assert_eq!(then.service_id.as_deref(), Some(first.as_str()));
    // ...and the administrateur moved him before it committed.
    let (s, v) = f
        .post(
            &admin,
            "/transfers",
            Some(serde_json::json!({"accounts": [resp.id], "to_service": second})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let person = PersonalData {
        given_name: "Nina".into(),
        family_name: "Nouvelle".into(),
        email: "nina.nouvelle@example.test".into(),
    };
    let r = dir
        .pre_create(&then, Role::Collaborateur, &first, &person)
        .await;
    assert!(r.is_err(), "he no longer runs the first service: {r:?}");
    // In his new service, the same request goes through.
    let r = dir
        .pre_create(&then, Role::Collaborateur, &second, &person)
        .await;
    assert!(r.is_ok(), "{r:?}");
}

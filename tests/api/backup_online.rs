//! A backup taken through the operator API while the server runs restores into an
//! identical store.

use apex_idp::domain::Structure;
use apex_idp::store::{Store, T, restore_from};

use crate::fixture::{Fixture, OPERATOR_TOKEN};

#[tokio::test]
async fn a_backup_taken_while_serving_restores_identically() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Sauvegarde à chaud").await;
    let admin = f.admin(&sid, "Alice", "Martin").await;
    f.service(&admin, "Comptabilité").await;

    // Writes keep flowing while the backup is taken.
    let writer = {
        let base = f.base.clone();
        let token = admin.token.clone();
        let http = f.http.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                http.post(format!("{base}/api/v1/services"))
                    .bearer_auth(&token)
                    .json(&serde_json::json!({"name": format!("Service {i}")}))
                    .send()
                    .await
                    .unwrap();
            }
        })
    };
    let resp = f
        .http
        .get(format!("{}/api/v1/operator/backup", f.base))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/x-ndjson");
    let body = resp.bytes().await.unwrap();
    writer.await.unwrap();

    let target = tempfile::tempdir().unwrap();
    let store = Store::open(target.path()).unwrap();
    let summary = restore_from(&store, &mut std::io::Cursor::new(body.to_vec())).unwrap();
    assert!(summary.records > 10);
    // A consistent snapshot: its audit chain verifies and matches its services.
    let events = apex_idp::directory::audit::verify(&store).unwrap();
    let services = store.len(T::Services) as u64;
    let audited_services = apex_idp::directory::audit::all(&store)
        .unwrap()
        .iter()
        .filter(|e| e.action == "service.create")
        .count() as u64;
    assert_eq!(
        services, audited_services,
        "every service in the snapshot has its audit event, and no more"
    );
    assert!(events >= 3);
    let restored: Vec<Structure> = store
        .scan(T::Structures, b"")
        .unwrap()
        .into_iter()
        .map(|(_, s)| s)
        .collect();
    assert_eq!(restored.len(), 1);
    assert_eq!(restored[0].name, "Sauvegarde à chaud");

    let (s, _) = f
        .call(Some(&admin.token), "GET", "/operator/backup", None)
        .await;
    assert_eq!(s, 401, "operators only");
}

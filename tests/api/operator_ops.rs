//! The operator's operations on a running server, through the operator API: a new
//! category must cover the profiles held, a block ends sessions and is audited, and the
//! routes refuse partners.

use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, assert_problem};

#[tokio::test]
async fn a_new_category_must_cover_every_profile_held() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Catégorie").await;
    let admin = f.admin(&sid, "Alice", "Martin").await;
    f.grant(&admin, &admin.id, "FICOBA:CONSULTATION").await;
    let path = format!("/operator/structures/{sid}");
    let refused = f.op("PATCH", &path, Some(json!({"category": "EC"}))).await;
    assert_problem(&refused, 409, "category-excludes-held");
    assert_eq!(refused.1["blocking"], json!(["FICOBA:CONSULTATION"]));
    f.revoke(&admin, &admin.id, "FICOBA:CONSULTATION").await;
    let (s, v) = f.op("PATCH", &path, Some(json!({"category": "EC"}))).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["category"], "EC");
    let empty = f.op("PATCH", &path, Some(json!({"name": " "}))).await;
    assert_problem(&empty, 422, "name");
}

#[tokio::test]
async fn the_operator_routes_refuse_a_partner_session() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Partenaire").await;
    let admin = f.admin(&sid, "Alice", "Martin").await;
    for (method, path) in [
        ("GET", format!("/operator/structures/{sid}")),
        ("POST", format!("/operator/structures/{sid}/close")),
        ("GET", format!("/operator/accounts/{}", admin.id)),
        ("POST", format!("/operator/accounts/{}/block", admin.id)),
        (
            "POST",
            format!("/operator/accounts/{}/end-sessions", admin.id),
        ),
        ("GET", "/operator/keys".to_owned()),
        ("GET", "/operator/audit/chain".to_owned()),
    ] {
        let answer = f.call(Some(&admin.token), method, &path, None).await;
        assert_problem(&answer, 401, "unauthenticated");
    }
    assert_eq!(f.try_sign_in(&admin.login, PASSWORD).await.0, 201);
}

#[tokio::test]
async fn blocking_is_audited_under_the_operator_and_keeps_the_chain_intact() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Audit").await;
    f.admin(&sid, "Alice", "Martin").await;
    let bruno = f.admin(&sid, "Bruno", "Petit").await;
    let (s, v) = f
        .op(
            "POST",
            &format!("/operator/accounts/{}/block", bruno.id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["blocked"], "operator");
    let (_, log) = f.op("GET", "/operator/audit", None).await;
    let block = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "account.block")
        .unwrap();
    assert_eq!(block["actor"], "operator");
    assert_eq!(block["target"], bruno.id.as_str());
    assert!(f.audit_chain().await.1);
    // The operator's view of the structure shows the block too.
    let (_, structure) = f
        .op("GET", &format!("/operator/structures/{sid}"), None)
        .await;
    let shown = structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == bruno.id.as_str())
        .unwrap();
    assert_eq!(shown["blocked"], "operator");
}

#[tokio::test]
async fn a_blocked_account_is_mailed_no_reset_link() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Réinitialisation").await;
    let alice = f.admin(&sid, "Alice", "Martin").await;
    let bruno = f.admin(&sid, "Bruno", "Petit").await;
    let (s, _) = f
        .op(
            "POST",
            &format!("/operator/accounts/{}/block", bruno.id),
            None,
        )
        .await;
    assert_eq!(s, 200);
    f.forget_mails().await;
    let mails = f.outbox_settled().await;
    for login in [&bruno.login, &alice.login] {
        let (s, _) = f
            .call(
                None,
                "POST",
                "/password-resets",
                Some(json!({"login": login})),
            )
            .await;
        assert_eq!(s, 202);
    }
    // Alice's link arrives; Bruno's request, made first, mailed nothing.
    f.link_to(&alice.email, "/password-resets/").await;
    assert_eq!(f.outbox_settled().await, mails + 1);
}

#[tokio::test]
async fn a_blocked_account_is_warned_of_no_password_expiry() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Expiration").await;
    f.admin(&sid, "Alice", "Martin").await;
    let bruno = f.admin(&sid, "Bruno", "Petit").await;
    let (s, _) = f
        .op(
            "POST",
            &format!("/operator/accounts/{}/block", bruno.id),
            None,
        )
        .await;
    assert_eq!(s, 200);
    // Within the warning period of both passwords (365 days, warned 15 days before):
    // only Alice is warned.
    f.clock.advance(355 * 86_400);
    let report = f.directory().housekeeping().await.unwrap();
    assert_eq!(report.warnings, 1, "{report:?}");
}

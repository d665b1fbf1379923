//! The full lifecycle of DESIGN.md through the file outbox.

use serde_json::json;

use crate::fixture::{Fixture, PASSWORD, link_token};

#[tokio::test]
async fn full_lifecycle_from_structure_creation_to_deletion_request() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Lifecycle").await;
    let admin = f.admin(&sid, "Alice", "Martin").await;
    assert!(admin.login.starts_with("amartin"));
    let svc = f.service(&admin, "Comptabilité").await;

    // The administrateur pre-creates a responsable and a collaborateur.
    let resp = f
        .invite(&admin, "responsable", &svc, "Bruno", "Petit")
        .await;
    let collab = f
        .invite(&admin, "collaborateur", &svc, "Chloé", "Durand")
        .await;

    // The invitation says who invites whom, where, with which role.
    let mail = f.mail_to(&resp.email).await;
    assert!(mail.contains("Alice Martin"), "{mail}");
    let token = link_token(&mail, "/invitations/");
    let (s, v) = f
        .call(None, "GET", &format!("/invitations/{token}"), None)
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["inviter"], "Alice Martin");
    assert_eq!(v["role"], "responsable");
    assert_eq!(v["service"], "Comptabilité");
    assert_eq!(v["structure"], "Cabinet Lifecycle");

    // A weak password is refused and the link stays usable.
    let (s, v) = f
        .call(
            None,
            "POST",
            &format!("/invitations/{token}"),
            Some(json!({"password": "court"})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    assert_eq!(v["field"], "password");
    let (s, v) = f
        .call(
            None,
            "POST",
            &format!("/invitations/{token}"),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "awaiting_validation");
    assert!(v["login"].is_null(), "no identifier before validation");
    f.complete(&collab).await;

    // Both await the administrateur's validation and cannot sign in yet.
    let (s, v) = f
        .call(
            Some(&admin.token),
            "GET",
            "/accounts?state=awaiting_validation",
            None,
        )
        .await;
    assert_eq!(s, 200);
    let pending: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(
        pending.contains(&resp.id.as_str()) && pending.contains(&collab.id.as_str()),
        "{v}"
    );
    let (s, _) = f
        .call(
            None,
            "POST",
            "/sessions",
            Some(json!({"login": "bpetit", "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, 401);

    // Validation generates the identifier and mails it.
    let (s, v) = f
        .call(
            Some(&admin.token),
            "POST",
            &format!("/accounts/{}/validate", resp.id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let login = v["login"].as_str().unwrap().to_owned();
    assert_eq!(login, "bpetit");
    assert!(f.mail_to(&resp.email).await.contains("bpetit"));
    let (s, v) = f
        .call(
            Some(&admin.token),
            "POST",
            &format!("/accounts/{}/validate", collab.id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["login"], "cdurand");

    // Sign-in, then the password expires (injected clock).
    let t = f.sign_in(&login, PASSWORD).await;
    let (s, v) = f.call(Some(&t), "GET", "/me", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["role"], "responsable");
    f.clock.advance(366 * 86_400);
    let (s, v) = f
        .call(
            None,
            "POST",
            "/sessions",
            Some(json!({"login": login, "password": PASSWORD})),
        )
        .await;
    assert_eq!(s, 201);
    assert_eq!(v["password_expired"], true);
    let expired = v["token"].as_str().unwrap().to_owned();
    let (s, v) = f.call(Some(&expired), "GET", "/structure", None).await;
    assert_eq!(s, 403, "only renewal is allowed: {v}");
    assert_eq!(v["type"], "urn:apex-idp:problem:password-expired");

    // Renewal: the same password is refused (history), a new one works.
    let (s, v) = f
        .call(
            Some(&expired),
            "POST",
            "/me/password",
            Some(json!({"current": PASSWORD, "new": PASSWORD})),
        )
        .await;
    assert_eq!(s, 422, "{v}");
    let renewed = "Tulipe-Marteau-Vague-7";
    let (s, v) = f
        .call(
            Some(&expired),
            "POST",
            "/me/password",
            Some(json!({"current": PASSWORD, "new": renewed})),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let (s, _) = f.call(Some(&expired), "GET", "/structure", None).await;
    assert_eq!(s, 200, "the renewed session is no longer restricted");

    // Forgotten password: the same answer for a known and an unknown identifier.
    let (s1, v1) = f
        .call(
            None,
            "POST",
            "/password-resets",
            Some(json!({"login": login})),
        )
        .await;
    let (s2, v2) = f
        .call(
            None,
            "POST",
            "/password-resets",
            Some(json!({"login": "nobody"})),
        )
        .await;
    assert_eq!((s1, s2), (202, 202));
    assert_eq!(v1, v2);
    let reset = link_token(&f.mail_to(&resp.email).await, "/password-resets/");
    let third = "Girafe-Crayon-Lune-93";
    let (s, v) = f
        .call(
            None,
            "POST",
            &format!("/password-resets/{reset}"),
            Some(json!({"password": third})),
        )
        .await;
    assert_eq!(s, 204, "{v}");
    let (s, _) = f
        .call(
            None,
            "POST",
            &format!("/password-resets/{reset}"),
            Some(json!({"password": "Autre-Chose-Neuf-12"})),
        )
        .await;
    assert_eq!(s, 404, "a reset link is single use");
    let (s, _) = f
        .call(
            None,
            "POST",
            "/sessions",
            Some(json!({"login": login, "password": renewed})),
        )
        .await;
    assert_eq!(s, 401, "the old password no longer works");

    // The administrateur's password expired too: he renews it before acting.
    let admin_token = f.sign_in(&admin.login, PASSWORD).await;
    let (s, _) = f
        .call(
            Some(&admin_token),
            "POST",
            "/me/password",
            Some(json!({"current": PASSWORD, "new": "Banane-Stylo-Nuage-55"})),
        )
        .await;
    assert_eq!(s, 204);

    // Deletion request: the account is blocked at once.
    let t = f.sign_in(&login, third).await;
    let (s, v) = f
        .call(
            Some(&admin_token),
            "POST",
            &format!("/accounts/{}/deletion-request", resp.id),
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["state"], "deletion_requested");
    let (s, _) = f
        .call(
            None,
            "POST",
            "/sessions",
            Some(json!({"login": login, "password": third})),
        )
        .await;
    assert_eq!(s, 401);
    let (s, _) = f.call(Some(&t), "GET", "/me", None).await;
    assert_eq!(s, 401, "existing sessions end with the deletion request");
    assert!(
        f.mail_to(&resp.email).await.contains("supprim"),
        "deletion notice"
    );

    // After the retention period, housekeeping purges the account; the login is never reused.
    f.clock.advance(31 * 86_400);
    let report = f.directory().housekeeping().await.unwrap();
    assert_eq!(report.purged, 1);
    let admin_token = f.sign_in(&admin.login, "Banane-Stylo-Nuage-55").await;
    let (s, _) = f
        .call(
            Some(&admin_token),
            "GET",
            &format!("/accounts/{}", resp.id),
            None,
        )
        .await;
    assert_eq!(s, 404, "purged");
    let (s, v) = f.call(Some(&admin_token), "GET", "/audit", None).await;
    assert_eq!(s, 200);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "account.purge" && e["target"] == resp.id.as_str())
    );
    let (events, intact) = f.audit_chain().await;
    assert!(intact && events > 10);
}

//! Security headers of the JSON answers: they load nothing, frame nowhere, are never
//! sniffed as another type, and are never cached when they carry a token or personal data.

use serde_json::json;

use crate::fixture::{Fixture, OPERATOR_TOKEN, PASSWORD};

fn assert_locked(r: &reqwest::Response, what: &str) {
    let h = r.headers();
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert_eq!(
        get("content-security-policy"),
        "default-src 'none'; frame-ancestors 'none'",
        "{what}"
    );
    assert_eq!(get("x-content-type-options"), "nosniff", "{what}");
    assert_eq!(get("cache-control"), "no-store", "{what}");
    assert_eq!(get("x-frame-options"), "DENY", "{what}");
}

#[tokio::test]
async fn api_answers_with_tokens_or_personal_data_are_locked_down() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Entêtes").await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let http = &f.http;

    let r = http
        .post(f.url("/api/v1/sessions"))
        .json(&json!({"login": admin.login, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_locked(&r, "POST /sessions (a token)");

    let r = http
        .get(f.url("/api/v1/me"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_locked(&r, "GET /me (personal data)");

    let r = http
        .get(f.url("/api/v1/operator/structures"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_locked(&r, "GET /operator/structures");

    // Refusals carry the same headers.
    let r = http.get(f.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert_locked(&r, "401 problem");
    let r = http
        .get(f.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_locked(&r, "404 problem");
}

#[tokio::test]
async fn pages_keep_their_own_policy() {
    let f = Fixture::start().await;
    let r = f.http.get(f.url("/")).send().await.unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert_ne!(csp, "default-src 'none'; frame-ancestors 'none'");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

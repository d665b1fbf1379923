//! Signing-key rotation: operator API and CLI. A new key is published before it signs;
//! a retired key stays published until every token it signed has expired.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use crate::fixture::{DEMO, ES256, OPERATOR_TOKEN, Op};

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");

fn kid(token: &str) -> String {
    let h = token.split('.').next().unwrap();
    let v: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).unwrap()).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

async fn published(op: &Op) -> HashSet<String> {
    let v: Value = op
        .http
        .get(op.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn rotate(op: &Op, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut req = op.http.post(op.url("/api/v1/operator/keys/rotate"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_rotated_key_is_published_at_once_signs_after_the_delay_and_leaves_after_its_tokens() {
    let op = Op::start().await;
    let before = published(&op).await;
    assert_eq!(before.len(), 3);
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let old_kid = kid(t["id_token"].as_str().unwrap());
    // Access tokens are ES256 whatever the client's ID-token algorithm: another key.
    let old_at_kid = kid(t["access_token"].as_str().unwrap());
    assert!(before.contains(&old_at_kid));

    let (st, r) = rotate(
        &op,
        Some(OPERATOR_TOKEN),
        Some(json!({"delay_seconds": 600})),
    )
    .await;
    assert_eq!(st, 200, "{r}");
    let next: Vec<&Value> = r["keys"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["state"] == "next")
        .collect();
    assert_eq!(next.len(), 3, "{r}");
    let new_kids: HashSet<String> = next
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();

    // Published at once, but not signing yet.
    let now = published(&op).await;
    assert_eq!(now.len(), 6);
    assert!(new_kids.is_subset(&now));
    let (flow, t) = op.tokens(DEMO, "durand", "openid").await;
    assert_eq!(kid(t["id_token"].as_str().unwrap()), old_kid);
    assert_eq!(kid(t["access_token"].as_str().unwrap()), old_at_kid);

    // Just before the switch, a token of the old key...
    op.clock.advance(590);
    let (_, last_old) = op.tokens(DEMO, "durand", "openid").await;
    let last_old_at = last_old["access_token"].as_str().unwrap().to_owned();
    assert_eq!(kid(&last_old_at), old_at_kid);
    // ...and after it, the new key signs; both verify.
    op.clock.advance(10);
    let (flow2, t2) = op.tokens(DEMO, "durand", "openid").await;
    let new_kid = kid(t2["id_token"].as_str().unwrap());
    assert!(new_kids.contains(&new_kid), "{new_kid}");
    op.verify_id_token(DEMO, t2["id_token"].as_str().unwrap(), &flow2.nonce)
        .await;
    assert_eq!(
        op.userinfo(&last_old_at).await.0,
        200,
        "old key still verifies"
    );
    let _ = (flow, t);
    // ES256 clients moved too.
    let (_, e) = op.tokens(ES256, "durand", "openid").await;
    assert!(new_kids.contains(&kid(e["id_token"].as_str().unwrap())));

    // The old keys stay published while their last tokens may live...
    op.clock.advance(300);
    assert_eq!(published(&op).await.len(), 6);
    // ...and leave once they all have expired (300 s tokens + 60 s skew).
    op.clock.advance(61);
    let after = published(&op).await;
    assert_eq!(after, new_kids);
    assert_eq!(op.userinfo(&last_old_at).await.0, 401);
}

#[tokio::test]
async fn key_rotation_is_for_the_operator_with_a_delay_no_shorter_than_the_jwks_cache() {
    let op = Op::start().await;
    assert_eq!(rotate(&op, None, None).await.0, 401);
    assert_eq!(rotate(&op, Some("not-the-token"), None).await.0, 401);
    let (st, p) = rotate(
        &op,
        Some(OPERATOR_TOKEN),
        Some(json!({"delay_seconds": 10})),
    )
    .await;
    assert_eq!(st, 422, "{p}");
    assert_eq!(p["field"], "delay_seconds");
    let (st, _) = rotate(&op, Some(OPERATOR_TOKEN), Some(json!({"delay": 600}))).await;
    assert_eq!(st, 422, "unknown fields are refused");
    assert_eq!(published(&op).await.len(), 3, "nothing rotated");
    // Without a body: the default delay (600 s).
    let (st, r) = rotate(&op, Some(OPERATOR_TOKEN), None).await;
    assert_eq!(st, 200, "{r}");
    let now = op.directory().now();
    assert_eq!(r["signs_from"], now + 600);
    assert_eq!(published(&op).await.len(), 6);
}

#[tokio::test]
async fn rotate_keys_cli_points_to_the_api_while_the_server_runs_and_rotates_a_stopped_store() {
    let mut op = Op::start().await;
    let data = op.dir.path().join("data");
    let run = || {
        std::process::Command::new(BIN)
            .args(["rotate-keys", "--delay-seconds", "900"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("APEX_SERVER__DATA_DIR", &data)
            .output()
            .unwrap()
    };
    let busy = run();
    assert!(!busy.status.success());
    let err = String::from_utf8_lossy(&busy.stderr);
    assert!(err.contains("/api/v1/operator/keys/rotate"), "{err}");
    op.server.take().unwrap().shutdown().await;
    let done = run();
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(out.matches("Next").count(), 3, "{out}");
    assert_eq!(out.matches("Signing").count(), 3, "{out}");
}

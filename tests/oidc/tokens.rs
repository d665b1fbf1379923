//! Refresh rotation, revocation, introspection, client_credentials, and changes that
//! take effect at once.

use apex_idp::domain::ProfileId;

use crate::fixture::{DEMO, ES256, FICOBA, MOBILE, Op, PASSWORD};

fn s(v: &serde_json::Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_owned()
}

#[tokio::test]
async fn refresh_rotates_and_the_reuse_of_an_old_token_revokes_the_family() {
    let op = Op::start().await;
    let (_, first) = op.tokens(DEMO, "durand", "openid apex").await;
    let r1 = s(&first, "refresh_token");
    let (st, second) = op.refresh(DEMO, &r1).await;
    assert_eq!(st, 200, "{second}");
    let r2 = s(&second, "refresh_token");
    assert_ne!(r1, r2, "rotated");
    assert!(second["id_token"].is_string());
    let (st, _) = op.userinfo(&s(&second, "access_token")).await;
    assert_eq!(st, 200);
    // The old token again: refused, and the whole family dies.
    let (st, e) = op.refresh(DEMO, &r1).await;
    assert_eq!((st, s(&e, "error")), (400, "invalid_grant".into()));
    let (st, e) = op.refresh(DEMO, &r2).await;
    assert_eq!((st, s(&e, "error")), (400, "invalid_grant".into()));
    let (st, _) = op.userinfo(&s(&second, "access_token")).await;
    assert_eq!(st, 401, "access tokens of the family are dead too");
    let (st, _) = op.userinfo(&s(&first, "access_token")).await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn a_refresh_token_only_serves_its_own_client() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let (st, e) = op.refresh(FICOBA, &s(&t, "refresh_token")).await;
    assert_eq!((st, s(&e, "error")), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn refresh_is_refused_once_the_account_is_no_longer_active() {
    let op = Op::start().await;
    // David awaits validation; Alice validates him; he signs in to an open client.
    let dir = op.directory();
    let alice = op.actor("martin");
    let david = dir.validate(&alice, &op.person("leroy").id).await.unwrap();
    let login = david.login.clone().unwrap();
    let browser = op.browser();
    let flow = op.flow(ES256, "openid apex", &[]);
    let page = browser.get(&flow.url).await;
    let code = flow.code(&browser.sign_in(&op, &page, &login, PASSWORD).await);
    let (st, t) = op.exchange(ES256, &code, &flow.verifier).await;
    assert_eq!(st, 200, "{t}");
    let at = s(&t, "access_token");
    assert_eq!(op.userinfo(&at).await.0, 200);
    assert_eq!(op.introspect(ES256, &at).await["active"], true);
    dir.request_deletion(&alice, &david.id).await.unwrap();
    // At once: userinfo, introspection and the next refresh.
    assert_eq!(op.userinfo(&at).await.0, 401);
    assert_eq!(op.introspect(ES256, &at).await["active"], false);
    let (st, e) = op.refresh(ES256, &s(&t, "refresh_token")).await;
    assert_eq!((st, s(&e, "error")), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_removed_habilitation_shows_at_once_in_userinfo_introspection_and_refresh() {
    let op = Op::start().await;
    let (_, t) = op.tokens(FICOBA, "durand", "openid apex").await;
    let at = s(&t, "access_token");
    let intro = op.introspect(FICOBA, &at).await;
    assert_eq!(
        intro["profiles"],
        serde_json::json!(["FICOBA:CONSULTATION"])
    );
    // Bruno (responsable) granted it; Alice (administrateur) removes it.
    let profile: ProfileId = "FICOBA:CONSULTATION".parse().unwrap();
    op.directory()
        .revoke(&op.actor("martin"), &op.person("durand").id, &profile)
        .await
        .unwrap();
    let (st, info) = op.userinfo(&at).await;
    assert_eq!(st, 200);
    assert_eq!(info["profiles"], serde_json::json!([]));
    let intro = op.introspect(FICOBA, &at).await;
    assert_eq!(intro["profiles"], serde_json::json!([]));
    // FICOBA requires a habilitation: no refresh without one.
    let (st, e) = op.refresh(FICOBA, &s(&t, "refresh_token")).await;
    assert_eq!((st, s(&e, "error")), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let (rt, at) = (s(&t, "refresh_token"), s(&t, "access_token"));
    assert_eq!(op.introspect(DEMO, &rt).await["active"], true);
    assert_eq!(
        op.introspect(DEMO, &rt).await["token_type"],
        "refresh_token"
    );
    let (st, _) = op
        .client_call(
            DEMO,
            "/oidc/revoke",
            &[("token", &rt), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(st, 200);
    assert_eq!(op.introspect(DEMO, &rt).await["active"], false);
    assert_eq!(op.userinfo(&at).await.0, 401);
    let (st, _) = op.refresh(DEMO, &rt).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn revoking_an_access_token_kills_it_alone() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let at = s(&t, "access_token");
    // Another client cannot revoke it.
    op.client_call(FICOBA, "/oidc/revoke", &[("token", &at)])
        .await;
    assert_eq!(op.userinfo(&at).await.0, 200);
    let (st, _) = op
        .client_call(DEMO, "/oidc/revoke", &[("token", &at)])
        .await;
    assert_eq!(st, 200);
    assert_eq!(op.userinfo(&at).await.0, 401);
    assert_eq!(op.introspect(DEMO, &at).await["active"], false);
    // The family lives on: the refresh token still works.
    let (st, _) = op.refresh(DEMO, &s(&t, "refresh_token")).await;
    assert_eq!(st, 200);
    // Unknown tokens are "revoked" quietly (RFC 7009 §2.2).
    let (st, _) = op
        .client_call(DEMO, "/oidc/revoke", &[("token", "nothing")])
        .await;
    assert_eq!(st, 200);
}

#[tokio::test]
async fn introspection_answers_only_about_the_clients_own_tokens() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid apex").await;
    let at = s(&t, "access_token");
    let v = op.introspect(DEMO, &at).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["client_id"], "demo");
    assert_eq!(v["sub"], op.person("durand").id);
    assert_eq!(v["username"], op.person("durand").login);
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(op.introspect(FICOBA, &at).await["active"], false);
    assert_eq!(op.introspect(DEMO, "garbage").await["active"], false);
    let (st, e) = op
        .http
        .post(op.url("/oidc/introspect"))
        .form(&[("token", at.as_str())])
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(st, 401);
    assert!(e.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn access_tokens_expire() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let at = s(&t, "access_token");
    op.clock.advance(301);
    assert_eq!(op.userinfo(&at).await.0, 401);
    assert_eq!(op.introspect(DEMO, &at).await["active"], false);
}

#[tokio::test]
async fn client_credentials_serve_confidential_clients_without_user_claims() {
    let op = Op::start().await;
    let (st, t) = op
        .token(DEMO, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(st, 200, "{t}");
    assert!(t.get("id_token").is_none() && t.get("refresh_token").is_none());
    let at = s(&t, "access_token");
    let v = op.introspect(DEMO, &at).await;
    assert_eq!(v["active"], true);
    assert_eq!(v["sub"], "demo");
    assert!(v.get("profiles").is_none());
    assert_eq!(op.userinfo(&at).await.0, 403, "no person behind it");
    let (st, e) = op
        .token(MOBILE, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!((st, s(&e, "error")), (400, "unauthorized_client".into()));
    let (st, e) = op.token(DEMO, &[("grant_type", "password")]).await;
    assert_eq!((st, s(&e, "error")), (400, "unsupported_grant_type".into()));
}

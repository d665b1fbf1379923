//! What the OpenID Foundation's certification plans (Basic OP, Config OP, RP-Initiated
//! Logout OP) expect of an OP beyond the happy flows: error descriptions in the
//! characters RFC 6749 allows, features we do not announce refused the way an OP that
//! lacks them must refuse them, parameters we do not use ignored, and the standard
//! claims of each scope.

use crate::fixture::{DEMO, Op, PASSWORD, json_str, rfc_6749_text};

#[tokio::test]
async fn a_post_logout_redirect_uri_without_id_token_hint_is_refused_for_want_of_the_hint() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    op.code_for(&browser, &flow, &op.person("durand")).await;
    let url = format!(
        "{}?post_logout_redirect_uri={}&state=bye",
        op.url("/oidc/logout"),
        "http%3A%2F%2F127.0.0.1%3A9000%2F"
    );
    let answer = browser.get(&url).await;
    assert_eq!(answer.status, 400);
    assert!(answer.location().is_none());
    assert!(
        answer.body.contains("(id_token_hint) manque"),
        "{}",
        answer.body
    );
    // Nothing was done: the person is still signed in.
    assert!(browser.has_cookie("apex_sso"));
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    silent.code(&browser.get(&silent.url).await);
}

#[tokio::test]
async fn a_refresh_may_ask_again_for_the_scope_first_asked_for() {
    let op = Op::start().await;
    let asked = "openid email offline_access";
    let (_, t) = op.tokens(DEMO, "durand", asked).await;
    assert_eq!(
        json_str(&t, "scope"),
        "openid email",
        "unknown scopes are ignored"
    );
    let (st, r) = op
        .token(
            DEMO,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &json_str(&t, "refresh_token")),
                ("scope", asked),
            ],
        )
        .await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(json_str(&r, "scope"), "openid email");
    assert!(r["id_token"].is_string());
}

#[tokio::test]
async fn a_refresh_refused_for_its_scope_leaves_the_refresh_token_usable() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid email").await;
    let refresh = json_str(&t, "refresh_token");
    let (st, e) = op
        .token(
            DEMO,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("scope", "openid email profile"),
            ],
        )
        .await;
    assert_eq!((st, json_str(&e, "error")), (400, "invalid_scope".into()));
    // The refused request rotated nothing: the token is still the current one.
    let (st, r) = op.refresh(DEMO, &refresh).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(json_str(&r, "scope"), "openid email");
}

#[tokio::test]
async fn the_email_scope_gives_email_verified() {
    let op = Op::start().await;
    let (flow, t) = op.tokens(DEMO, "durand", "openid email").await;
    let (st, info) = op.userinfo(&json_str(&t, "access_token")).await;
    assert_eq!(st, 200, "{info}");
    assert!(info["email"].is_string());
    assert_eq!(info["email_verified"], true);
    let claims = op
        .verify_id_token(DEMO, &json_str(&t, "id_token"), &flow.nonce)
        .await;
    assert_eq!(claims.email_verified(), Some(true));
    // Without the scope, neither.
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let (_, info) = op.userinfo(&json_str(&t, "access_token")).await;
    assert!(info.get("email_verified").is_none(), "{info}");
    let discovery = op.discovery().await;
    let supported = discovery["claims_supported"].as_array().unwrap();
    assert!(supported.contains(&"email_verified".into()));
}

#[tokio::test]
async fn request_objects_are_refused_as_unsupported_at_the_redirect_uri() {
    let op = Op::start().await;
    let unsigned = "eyJhbGciOiJub25lIn0.eyJzdGF0ZSI6ImlubmVyIn0.";
    for (name, value, error) in [
        ("request", unsigned, "request_not_supported"),
        (
            "request_uri",
            "https://rp.example/request.jwt",
            "request_uri_not_supported",
        ),
    ] {
        let flow = op.flow(DEMO, "openid", &[(name, value)]);
        let q = op
            .browser()
            .get(&flow.url)
            .await
            .redirect_query(DEMO.redirect_uri);
        assert_eq!(q["error"], error);
        assert_eq!(q["state"], flow.state);
        assert_eq!(q["iss"], op.base);
        assert!(!q.contains_key("code"));
    }
}

#[tokio::test]
async fn a_missing_response_type_is_an_invalid_request_at_the_redirect_uri() {
    let op = Op::start().await;
    let url = format!(
        "{}?client_id=demo&redirect_uri={}&scope=openid&state=s1&nonce=n1",
        op.url("/oidc/authorize"),
        DEMO.redirect_uri
    );
    let q = op
        .browser()
        .get(&url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "s1");
    assert!(rfc_6749_text(&q["error_description"]));
}

#[tokio::test]
async fn a_posted_request_with_parameters_we_do_not_use_completes() {
    let op = Op::start().await;
    let browser = op.browser();
    // What the plans add to a request: a claims parameter, display, locales, acr_values,
    // prompt=consent, an unknown parameter; posted as a form, without PKCE.
    let page = browser
        .post(
            &op.url("/oidc/authorize"),
            &[
                ("response_type", "code"),
                ("client_id", DEMO.client_id),
                ("redirect_uri", DEMO.redirect_uri),
                ("scope", "email openid"),
                ("state", "posted"),
                ("nonce", "n-posted"),
                ("claims", r#"{"userinfo":{"name":{"essential":true}}}"#),
                ("display", "popup"),
                ("ui_locales", "se"),
                ("claims_locales", "se"),
                ("acr_values", "eidas1 2"),
                ("prompt", "consent"),
                ("extra", "foobar"),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let answer = browser
        .sign_in(&op, &page, &op.person("durand").login, PASSWORD)
        .await;
    let q = answer.redirect_query(DEMO.redirect_uri);
    assert_eq!(q["state"], "posted");
    let (st, t) = op
        .token(
            DEMO,
            &[
                ("grant_type", "authorization_code"),
                ("code", &q["code"]),
                ("redirect_uri", DEMO.redirect_uri),
            ],
        )
        .await;
    assert_eq!(st, 200, "{t}");
    let claims = op
        .verify_id_token(DEMO, &json_str(&t, "id_token"), "n-posted")
        .await;
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), "eidas1");
    let (st, info) = op.userinfo(&json_str(&t, "access_token")).await;
    assert_eq!(st, 200, "{info}");
    assert!(info["email"].is_string());
}

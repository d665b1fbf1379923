//! RP-Initiated Logout.

use crate::fixture::{DEMO, FICOBA, Op};

#[tokio::test]
async fn logout_with_id_token_hint_ends_the_session_and_returns_with_state() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    let (_, t) = op.exchange(DEMO, &code, &flow.verifier).await;
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}&state=bye",
        op.url("/oidc/logout"),
        t["id_token"].as_str().unwrap(),
        "http%3A%2F%2F127.0.0.1%3A9000%2F"
    );
    let answer = browser.get(&url).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    assert_eq!(
        answer.location().unwrap(),
        "http://127.0.0.1:9000/?state=bye"
    );
    assert!(!browser.has_cookie("apex_sso"));
    let silent = op.flow(FICOBA, "openid", &[("prompt", "none")]);
    let q = browser
        .get(&silent.url)
        .await
        .redirect_query(FICOBA.redirect_uri);
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn an_unregistered_post_logout_redirect_uri_is_refused() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    for uri in ["https://evil.example/", "http://127.0.0.1:9001/"] {
        let url = format!(
            "{}?id_token_hint={}&post_logout_redirect_uri={}",
            op.url("/oidc/logout"),
            t["id_token"].as_str().unwrap(),
            uri
        );
        let answer = op.browser().get(&url).await;
        assert_eq!(answer.status, 400, "{uri}");
        assert!(answer.location().is_none());
    }
    // Without a hint nor a client_id, no URI can be trusted.
    let url = format!(
        "{}?post_logout_redirect_uri=http://127.0.0.1:9000/",
        op.url("/oidc/logout")
    );
    assert_eq!(op.browser().get(&url).await.status, 400);
}

#[tokio::test]
async fn logout_without_hint_asks_for_confirmation() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    op.code_for(&browser, &flow, &op.person("durand")).await;
    let url = format!(
        "{}?client_id=demo&post_logout_redirect_uri=http://127.0.0.1:9000/&state=s",
        op.url("/oidc/logout")
    );
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200);
    assert!(browser.has_cookie("apex_sso"), "not yet");
    let csrf = page.hidden("csrf");
    let answer = browser
        .post(
            &op.url("/oidc/logout"),
            &[
                ("csrf", csrf.as_str()),
                ("confirm", "oui"),
                ("client_id", "demo"),
                ("post_logout_redirect_uri", "http://127.0.0.1:9000/"),
                ("state", "s"),
            ],
        )
        .await;
    assert_eq!(answer.status, 303);
    assert_eq!(answer.location().unwrap(), "http://127.0.0.1:9000/?state=s");
    assert!(!browser.has_cookie("apex_sso"));
}

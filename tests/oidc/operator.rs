//! The operator's block and end of sessions, as the issuer applies them: no code for a
//! blocked account, its tokens and SSO session stop; ended sessions stop the same way
//! while the person may sign in again at once.

use crate::fixture::{DEMO, Op, PASSWORD};

#[tokio::test]
async fn a_blocked_account_gets_no_code_and_its_tokens_and_sso_session_stop() {
    let op = Op::start().await;
    let browser = op.browser();
    let durand = op.person("durand");
    let flow = op.flow(DEMO, "openid apex", &[]);
    let code = op.code_for(&browser, &flow, &durand).await;
    let (st, t) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!(st, 200, "{t}");

    op.directory().block_account(&durand.id).await.unwrap();
    let (st, v) = op.refresh(DEMO, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    assert_eq!(
        op.userinfo(t["access_token"].as_str().unwrap()).await.0,
        401
    );
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let q = browser
        .get(&silent.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "login_required");
    // The sign-in form refuses the right password.
    let again = op.flow(DEMO, "openid", &[]);
    let page = op.browser().get(&again.url).await;
    let answer = op
        .browser()
        .sign_in(&op, &page, &durand.login, PASSWORD)
        .await;
    assert!(
        !answer.location().unwrap_or_default().contains("code="),
        "{:?}",
        answer.location()
    );

    // Unblocked, he signs in again.
    op.directory().unblock_account(&durand.id).await.unwrap();
    op.tokens(DEMO, "durand", "openid").await;
}

#[tokio::test]
async fn ending_an_accounts_sessions_ends_its_sso_session_and_token_families() {
    let op = Op::start().await;
    let browser = op.browser();
    let durand = op.person("durand");
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &durand).await;
    let (_, t) = op.exchange(DEMO, &code, &flow.verifier).await;

    op.directory().end_sessions(&durand.login).await.unwrap();
    let (st, v) = op.refresh(DEMO, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let q = browser
        .get(&silent.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "login_required");
    // The person signs in again at once.
    op.tokens(DEMO, "durand", "openid").await;
}

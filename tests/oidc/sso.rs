//! The SSO session: a second client without a prompt, prompt=none|login, max_age,
//! lifetimes, rotation and cookie flags.

use crate::fixture::{DEMO, FICOBA, Op, PASSWORD};

#[tokio::test]
async fn a_second_client_signs_in_without_a_prompt() {
    let op = Op::start().await;
    let browser = op.browser();
    let first = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &first, &op.person("durand")).await;
    let (s, _) = op.exchange(DEMO, &code, &first.verifier).await;
    assert_eq!(s, 200);
    let second = op.flow(FICOBA, "openid apex", &[]);
    let answer = browser.get(&second.url).await;
    let code = second.code(&answer);
    let (s, tokens) = op.exchange(FICOBA, &code, &second.verifier).await;
    assert_eq!(s, 200, "{tokens}");
    let claims = op
        .verify_id_token(FICOBA, tokens["id_token"].as_str().unwrap(), &second.nonce)
        .await;
    assert_eq!(claims.subject().as_str(), op.person("durand").id);
    // prompt=none works too with the session.
    let silent = op.flow(FICOBA, "openid", &[("prompt", "none")]);
    let answer = browser.get(&silent.url).await;
    silent.code(&answer);
}

#[tokio::test]
async fn prompt_none_without_a_session_gives_login_required() {
    let op = Op::start().await;
    let flow = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let answer = op.browser().get(&flow.url).await;
    let q = answer.redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "login_required");
    assert_eq!(q["state"], flow.state);
    assert_eq!(q["iss"], op.base);
}

#[tokio::test]
async fn prompt_login_shows_the_form_despite_a_session() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    op.code_for(&browser, &flow, &op.person("durand")).await;
    let again = op.flow(DEMO, "openid", &[("prompt", "login")]);
    let page = browser.get(&again.url).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\""));
}

#[tokio::test]
async fn max_age_asks_for_a_fresh_sign_in_and_auth_time_tells_when() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    op.code_for(&browser, &flow, &op.person("durand")).await;
    op.clock.advance(120);
    let young = op.flow(DEMO, "openid", &[("max_age", "600")]);
    young.code(&browser.get(&young.url).await);
    let old = op.flow(DEMO, "openid", &[("max_age", "60")]);
    let page = browser.get(&old.url).await;
    assert_eq!(page.status, 200, "sign-in form again");
    let answer = browser
        .sign_in(&op, &page, &op.person("durand").login, PASSWORD)
        .await;
    let code = old.code(&answer);
    let (_, tokens) = op.exchange(DEMO, &code, &old.verifier).await;
    let claims = op
        .verify_id_token(DEMO, tokens["id_token"].as_str().unwrap(), &old.nonce)
        .await;
    let auth_time = claims.auth_time().unwrap().timestamp();
    assert_eq!(auth_time, apex_idp::clock::Clock::now(&op.clock));
}

#[tokio::test]
async fn the_session_ends_after_its_idle_lifetime() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    op.code_for(&browser, &flow, &op.person("durand")).await;
    op.clock.advance(31 * 60);
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let q = browser
        .get(&silent.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn the_session_ends_after_its_absolute_lifetime_even_when_used() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    op.code_for(&browser, &flow, &op.person("durand")).await;
    for _ in 0..25 {
        op.clock.advance(29 * 60);
        let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
        let q = browser
            .get(&silent.url)
            .await
            .redirect_query(DEMO.redirect_uri);
        if q.contains_key("error") {
            assert_eq!(q["error"], "login_required");
            return;
        }
    }
    panic!("the session outlived 12 hours");
}

#[tokio::test]
async fn sign_in_rotates_the_session_cookie_which_is_httponly_and_lax() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let answer = browser
        .sign_in(&op, &page, &op.person("durand").login, PASSWORD)
        .await;
    let cookie = answer
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("apex_sso="))
        .unwrap();
    assert!(cookie.contains("HttpOnly"));
    assert!(cookie.contains("SameSite=Lax"));
    assert!(!cookie.contains("Secure"), "http issuer in tests");
    let first = browser.cookies.lock().unwrap()["apex_sso"].clone();
    let again = op.flow(DEMO, "openid", &[("prompt", "login")]);
    let page = browser.get(&again.url).await;
    browser
        .sign_in(&op, &page, &op.person("durand").login, PASSWORD)
        .await;
    let second = browser.cookies.lock().unwrap()["apex_sso"].clone();
    assert_ne!(first, second);
    // The old session is gone: a browser holding it gets no SSO.
    let stale = op.browser();
    stale
        .cookies
        .lock()
        .unwrap()
        .insert("apex_sso".into(), first);
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let q = stale
        .get(&silent.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "login_required");
}

#[tokio::test]
async fn login_hint_prefills_the_identifier() {
    let op = Op::start().await;
    let flow = op.flow(
        DEMO,
        "openid",
        &[("login_hint", "jdupont"), ("ui_locales", "fr-FR en")],
    );
    let page = op.browser().get(&flow.url).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("value=\"jdupont\""), "{}", page.body);
    assert!(page.body.contains("lang=\"fr\""));
    assert!(
        page.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
}

/// The issuer's sign-in form honours the device cookie too: once guesses from 40
/// addresses trip the limit on a login across all sources, a new browser gets `429`
/// with the right password while the browser where the owner signed in before gets
/// its code.
#[tokio::test]
async fn a_known_browser_signs_in_through_distributed_guessing() {
    let op = Op::start().await;
    let who = op.person("durand");
    let at = |last: u8| std::net::IpAddr::from([127, 0, 0, last]);

    let owner = op.browser_from(at(60));
    let flow = op.flow(DEMO, "openid", &[]);
    op.code_for(&owner, &flow, &who).await;
    assert!(owner.has_cookie("apex_device"));
    // Signed out, so that the next sign-in needs the password again.
    owner.cookies.lock().unwrap().remove("apex_sso");

    for last in 10..50 {
        let guesser = op.browser_from(at(last));
        for _ in 0..3 {
            let flow = op.flow(DEMO, "openid", &[]);
            let page = guesser.get(&flow.url).await;
            let r = guesser
                .sign_in(&op, &page, &who.login, "Mauvais-Essai-1")
                .await;
            assert!(r.status == 401 || r.status == 429, "{}", r.status);
        }
    }

    let stranger = op.browser_from(at(70));
    let flow = op.flow(DEMO, "openid", &[]);
    let page = stranger.get(&flow.url).await;
    let r = stranger.sign_in(&op, &page, &who.login, PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").parse::<u32>().unwrap() > 0);

    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&owner, &flow, &who).await;
    let (s, tokens) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!(s, 200, "{tokens}");
}

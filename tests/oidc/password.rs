//! An expired password leads to its renewal, then on to the application.

use crate::common::Resp;
use crate::fixture::{Browser, DEMO, Op, PASSWORD};

const NEW: &str = "Nouveau-Cheval-Agrafe-93";

#[tokio::test]
async fn an_expired_password_is_renewed_before_going_on_to_the_application() {
    let op = Op::start().await;
    op.clock.advance(366 * 86_400);
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let login = op.person("durand").login;
    let renewal = browser.sign_in(&op, &page, &login, PASSWORD).await;
    assert_eq!(renewal.status, 200, "{}", renewal.body);
    assert!(renewal.body.contains("name=\"current_password\""));
    assert!(renewal.body.contains("name=\"password_confirm\""));
    // No silent SSO while the password is not renewed.
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let q = browser
        .get(&silent.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "interaction_required");
    let post = |current: &'static str, new: &'static str, confirm: &'static str| {
        let (interaction, csrf) = (renewal.hidden("interaction"), renewal.hidden("csrf"));
        let browser = &browser;
        let op = &op;
        async move {
            browser
                .post(
                    &op.url("/oidc/authorize/password"),
                    &[
                        ("interaction", interaction.as_str()),
                        ("csrf", csrf.as_str()),
                        ("current_password", current),
                        ("password", new),
                        ("password_confirm", confirm),
                    ],
                )
                .await
        }
    };
    let mismatch = post(PASSWORD, NEW, "Autre-Chose-Encore-77").await;
    assert_eq!(mismatch.status, 400);
    assert!(
        mismatch
            .body
            .contains("aria-describedby=\"password_confirm-erreur\"")
    );
    let wrong = post("pas-le-bon-mot-de-passe", NEW, NEW).await;
    assert!(
        wrong
            .body
            .contains("aria-describedby=\"current_password-erreur\"")
    );
    let reused = post(PASSWORD, PASSWORD, PASSWORD).await;
    assert!(reused.body.contains("password-erreur"), "{}", reused.body);
    let done = post(PASSWORD, NEW, NEW).await;
    let code = flow.code(&done);
    let (st, _) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!(st, 200);
    // The new password signs in; no renewal this time.
    let fresh = op.browser();
    let again = op.flow(DEMO, "openid", &[]);
    let page = fresh.get(&again.url).await;
    again.code(&fresh.sign_in(&op, &page, &login, NEW).await);
}

/// Posts the renewal form of `page` with the current and the new password.
async fn renew(op: &Op, browser: &Browser, page: &Resp) -> Resp {
    let (interaction, csrf) = (page.hidden("interaction"), page.hidden("csrf"));
    browser
        .post(
            &op.url("/oidc/authorize/password"),
            &[
                ("interaction", interaction.as_str()),
                ("csrf", csrf.as_str()),
                ("current_password", PASSWORD),
                ("password", NEW),
                ("password_confirm", NEW),
            ],
        )
        .await
}

#[tokio::test]
async fn renewing_an_expired_password_ends_the_other_sessions_of_the_person() {
    let op = Op::start().await;
    op.clock.advance(366 * 86_400);
    let login = op.person("durand").login;
    let flow = op.flow(DEMO, "openid", &[]);
    // Two browsers reach the renewal form; one renews.
    let other = op.browser();
    let other_form = other
        .sign_in(&op, &other.get(&flow.url).await, &login, PASSWORD)
        .await;
    let mine = op.browser();
    let renewal = mine
        .sign_in(&op, &mine.get(&flow.url).await, &login, PASSWORD)
        .await;
    let done = renew(&op, &mine, &renewal).await;
    let (st, _) = op.exchange(DEMO, &flow.code(&done), &flow.verifier).await;
    assert_eq!(st, 200, "the renewing browser goes on to the application");
    // The other browser's session ended with the old password: its form asks to sign in.
    let late = renew(&op, &other, &other_form).await;
    assert_eq!(late.status, 401, "{}", late.body);
    assert!(
        late.body.contains("connectez-vous de nouveau"),
        "{}",
        late.body
    );
}

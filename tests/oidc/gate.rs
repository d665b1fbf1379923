//! The access gate and the sign-in form's refusals.

use crate::fixture::{DEMO, ES256, Op, PASSWORD, rfc_6749_text};

#[tokio::test]
async fn an_account_without_a_profile_of_the_application_gets_access_denied() {
    let op = Op::start().await;
    // Gaëlle (administrateur of structure B) holds no DEMO profile.
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let answer = browser
        .sign_in(&op, &page, &op.person("bernard").login, PASSWORD)
        .await;
    let q = answer.redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["state"], flow.state);
    // In RFC 6749's characters, as the certification plans check: accents dropped.
    let description = &q["error_description"];
    assert!(rfc_6749_text(description), "{description}");
    assert!(
        description.contains("aucune habilitation a l'application Application de demonstration"),
        "{description}"
    );
    // An application without require_habilitation lets her in.
    let open = op.flow(ES256, "openid", &[]);
    open.code(&browser.get(&open.url).await);
}

#[tokio::test]
async fn accounts_that_are_not_active_cannot_sign_in() {
    let op = Op::start().await;
    let felix = op.person("roux");
    assert_eq!(
        felix.state,
        apex_idp::domain::AccountState::DeletionRequested
    );
    let browser = op.browser();
    let flow = op.flow(ES256, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let answer = browser.sign_in(&op, &page, &felix.login, PASSWORD).await;
    assert_eq!(answer.status, 401);
    assert!(
        answer
            .body
            .contains("Identifiant ou mot de passe incorrect")
    );
    assert!(!browser.has_cookie("apex_sso"));
}

#[tokio::test]
async fn a_wrong_password_is_shown_on_its_field_and_the_form_is_kept() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let login = op.person("durand").login;
    let answer = browser
        .sign_in(&op, &page, &login, "not-the-password")
        .await;
    assert_eq!(answer.status, 401);
    assert!(answer.body.contains("<title>Erreur : Connexion"));
    assert!(answer.body.contains("aria-describedby=\"password-erreur\""));
    assert!(answer.body.contains(&format!("value=\"{login}\"")));
    // The same pending request goes on with the right password.
    let ok = browser.sign_in(&op, &answer, &login, PASSWORD).await;
    flow.code(&ok);
}

#[tokio::test]
async fn the_core_backoff_applies_and_the_wait_is_shown() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let mut page = browser.get(&flow.url).await;
    let login = op.person("durand").login;
    let mut last = 0;
    for _ in 0..6 {
        page = browser
            .sign_in(&op, &page, &login, "wrong-password-xx")
            .await;
        last = page.status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "{}", page.body);
    assert!(page.body.contains("réessayez dans"), "{}", page.body);
    assert!(page.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn a_form_without_its_csrf_cookie_is_refused() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let other = op.browser();
    let answer = other
        .sign_in(&op, &page, &op.person("durand").login, PASSWORD)
        .await;
    assert_eq!(answer.status, 400);
    assert!(!other.has_cookie("apex_sso"));
}

//! Every form refuses a request without this browser's CSRF token, and writes nothing.

use crate::fixture::Site;

#[tokio::test]
async fn every_form_refuses_a_missing_or_foreign_csrf_token() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let chloe = site.person("durand").id;
    let service = site
        .directory()
        .services_of(&site.actor("martin").structure_id)
        .unwrap()[0]
        .id
        .clone();
    let events = || {
        apex_idp::directory::audit::all(site.directory().store())
            .unwrap()
            .len()
    };
    let before = events();
    let foreign = "x".repeat(43);
    for path in [
        "/".to_owned(),
        "/sign-out".to_owned(),
        "/password-resets".to_owned(),
        format!("/password-resets/{foreign}"),
        format!("/invitations/{foreign}"),
        format!("/email-confirmations/{foreign}"),
        "/me".to_owned(),
        "/me/password".to_owned(),
        "/structure".to_owned(),
        "/structure/services".to_owned(),
        format!("/structure/services/{service}/rename"),
        format!("/structure/services/{service}/delete"),
        format!("/structure/services/{service}/merge"),
        format!("/structure/services/{service}/transfer"),
        "/structure/accounts/new".to_owned(),
        format!("/structure/accounts/{chloe}/validate"),
        format!("/structure/accounts/{chloe}/reject"),
        format!("/structure/accounts/{chloe}/resend-identifier"),
        format!("/structure/accounts/{chloe}/transfer"),
        format!("/structure/accounts/{chloe}/deletion-request"),
        format!("/structure/accounts/{chloe}/habilitations"),
        format!("/structure/accounts/{chloe}/habilitations/remove"),
        format!("/structure/accounts/{chloe}/delegations"),
        format!("/structure/accounts/{chloe}/delegations/remove"),
    ] {
        let fields = [("name", "X"), ("profile", "FICOBA:GESTION"), ("login", "x")];
        let missing = b.post_raw(&path, &fields).await;
        missing.expect(403).shows("Formulaire expiré");
        let mut with_foreign = fields.to_vec();
        with_foreign.push(("csrf", &foreign));
        b.post_raw(&path, &with_foreign).await.expect(403);
    }
    assert_eq!(events(), before, "nothing was written");
    // Still signed in: the sign-out form was refused too.
    b.get("/applications").await.expect(200);
}

#[tokio::test]
async fn a_browser_without_the_cookie_cannot_post_a_token_it_read() {
    let site = Site::start().await;
    let a = site.browser();
    a.get("/").await;
    let token = a.csrf();
    let b = site.browser();
    b.post_raw(
        "/",
        &[
            ("csrf", token.as_str()),
            ("login", &site.person("durand").login),
            ("password", crate::fixture::PASSWORD),
        ],
    )
    .await
    .expect(403)
    .shows("Votre navigateur doit accepter les cookies");
}

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
    let events = || site.directory().audit_events().unwrap().len();
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
    let token = a.csrf().await;
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

#[tokio::test]
async fn a_token_is_bound_to_the_session_it_was_read_in() {
    let site = Site::start().await;
    let b = site.browser();
    let before = b.csrf().await;
    let r = b
        .post(
            "/",
            &[
                ("login", &site.person("durand").login),
                ("password", crate::fixture::PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    // The token read before the sign-in does not serve the new session.
    b.post_raw("/sign-out", &[("csrf", &before)])
        .await
        .expect(403);
    b.get("/applications").await.expect(200);
    // Another signed-in browser's token does not serve this one either.
    let other = site.signed_in("martin").await;
    let theirs = other.csrf().await;
    b.post_raw("/sign-out", &[("csrf", &theirs)])
        .await
        .expect(403);
    // The token its own pages give now does.
    let now = b.csrf().await;
    assert_ne!(now, before);
    let out = b.post_raw("/sign-out", &[("csrf", &now)]).await;
    assert_eq!(out.status, 303, "{}", out.body);
}

#[tokio::test]
async fn under_https_the_csrf_cookie_is_a_host_cookie() {
    let site = Site::start_at("https://apex.test").await;
    let b = site.browser();
    let page = b.get("/").await;
    let set = page.set_cookies();
    let csrf = set
        .iter()
        .find(|c| c.starts_with("__Host-apex_csrf="))
        .unwrap_or_else(|| panic!("no __Host- cookie in {set:?}"));
    assert!(csrf.contains("; Secure"), "{csrf}");
    assert!(csrf.contains("Path=/"), "{csrf}");
    assert!(!csrf.to_lowercase().contains("domain="), "{csrf}");
    assert!(!set.iter().any(|c| c.starts_with("apex_csrf=")), "{set:?}");
}

//! Forgotten password, reset link, change of password.

use crate::fixture::{NEW_PASSWORD, PASSWORD, Site};

#[tokio::test]
async fn the_forgotten_password_request_answers_the_same_whether_the_account_exists() {
    let site = Site::start().await;
    site.forget_mails().await;
    let b = site.browser();
    b.get("/password-resets")
        .await
        .expect(200)
        .shows("name=\"login\"")
        .shows("<label for=\"login\">Identifiant</label>");
    let known = b
        .post(
            "/password-resets",
            &[("login", &site.person("durand").login)],
        )
        .await;
    let unknown = b
        .post("/password-resets", &[("login", "personne-inconnue")])
        .await;
    known
        .expect(200)
        .shows("Si cet identifiant correspond à un compte actif");
    unknown.expect(200);
    assert_eq!(known.main(), unknown.main(), "the same answer");
    let mail = site.mail_to(&site.person("durand").email).await;
    assert!(mail.contains("/password-resets/"), "{mail}");
    b.post("/password-resets", &[("login", " ")])
        .await
        .expect(400)
        .field_error("login");
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once() {
    let site = Site::start().await;
    site.forget_mails().await;
    let chloe = site.person("durand");
    site.directory()
        .request_password_reset(&chloe.login)
        .await
        .unwrap();
    let token = site.link_to(&chloe.email, "/password-resets/").await;
    let b = site.browser();
    let path = format!("/password-resets/{token}");
    b.get(&path)
        .await
        .expect(200)
        .shows("Au moins 12 caractères")
        .shows("name=\"password_confirm\"");
    b.post(
        &path,
        &[("password", NEW_PASSWORD), ("password_confirm", "autre")],
    )
    .await
    .expect(400)
    .field_error("password_confirm");
    b.post(
        &path,
        &[
            ("password", "motdepasse123"),
            ("password_confirm", "motdepasse123"),
        ],
    )
    .await
    .expect(422)
    .field_error("password")
    .shows("plus courants");
    b.post(
        &path,
        &[
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await
    .expect(200)
    .shows("Votre nouveau mot de passe est enregistré.");
    b.get(&path)
        .await
        .expect(410)
        .shows("Demander un nouveau lien");
    b.post(
        &path,
        &[
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await
    .expect(410);
    let s = site.browser();
    s.get("/").await;
    s.post("/", &[("login", &chloe.login), ("password", NEW_PASSWORD)])
        .await
        .expect(303);
    s.post("/", &[("login", &chloe.login), ("password", PASSWORD)])
        .await
        .expect(401);
}

#[tokio::test]
async fn a_reset_link_expires() {
    let site = Site::start().await;
    site.forget_mails().await;
    let chloe = site.person("durand");
    site.directory()
        .request_password_reset(&chloe.login)
        .await
        .unwrap();
    let token = site.link_to(&chloe.email, "/password-resets/").await;
    site.clock.advance(31 * 60);
    site.browser()
        .get(&format!("/password-resets/{token}"))
        .await
        .expect(410)
        .shows("Ce lien de réinitialisation est invalide, a déjà servi ou a expiré.");
}

#[tokio::test]
async fn changing_ones_password_checks_the_current_one_and_the_confirmation() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    b.get("/me/password")
        .await
        .expect(200)
        .shows("name=\"current_password\"")
        .shows("autocomplete=\"current-password\"")
        .shows("Au moins 12 caractères");
    let change = |current: &'static str, new: &'static str, confirm: &'static str| {
        let b = &b;
        async move {
            b.post(
                "/me/password",
                &[
                    ("current_password", current),
                    ("password", new),
                    ("password_confirm", confirm),
                ],
            )
            .await
        }
    };
    change("faux-mot-de-passe", NEW_PASSWORD, NEW_PASSWORD)
        .await
        .expect(422)
        .field_error("current_password")
        .shows("Le mot de passe actuel est erroné.");
    change(PASSWORD, NEW_PASSWORD, "autre")
        .await
        .expect(400)
        .field_error("password_confirm");
    change("", NEW_PASSWORD, NEW_PASSWORD)
        .await
        .expect(400)
        .field_error("current_password");
    change(PASSWORD, PASSWORD, PASSWORD)
        .await
        .expect(422)
        .field_error("password")
        .shows("déjà servi");
    let ok = change(PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    ok.expect(303);
    assert_eq!(ok.location(), "/me?ok=mot-de-passe");
    b.get(&ok.location())
        .await
        .shows("Votre nouveau mot de passe est enregistré.");
    let s = site.browser();
    s.get("/").await;
    s.post(
        "/",
        &[
            ("login", &site.person("durand").login),
            ("password", NEW_PASSWORD),
        ],
    )
    .await
    .expect(303);
}

#[tokio::test]
async fn a_password_change_signs_every_other_browser_out_and_ends_older_reset_links() {
    let site = Site::start().await;
    site.forget_mails().await;
    let chloe = site.person("durand");
    let mine = site.signed_in("durand").await;
    let thief = site.signed_in("durand").await;
    thief.get("/me").await.expect(200);
    site.directory()
        .request_password_reset(&chloe.login)
        .await
        .unwrap();
    let older = site.link_to(&chloe.email, "/password-resets/").await;
    mine.post(
        "/me/password",
        &[
            ("current_password", PASSWORD),
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await
    .expect(303);
    mine.get("/me").await.expect(200);
    let out = thief.get("/me").await;
    out.expect(303);
    assert_eq!(out.location(), "/");
    thief.get("/").await.expect(200).shows("name=\"password\"");
    site.browser()
        .get(&format!("/password-resets/{older}"))
        .await
        .expect(410);
}

#[tokio::test]
async fn the_forgotten_password_form_holds_back_an_address_that_asks_too_often() {
    let site = Site::start().await;
    let b = site.browser_from(std::net::IpAddr::from([127, 0, 0, 7]));
    for n in 0..20 {
        b.post("/password-resets", &[("login", &format!("inconnu{n}"))])
            .await
            .expect(200);
    }
    let r = b
        .post(
            "/password-resets",
            &[("login", &site.person("durand").login)],
        )
        .await;
    r.expect(429).field_error("login").shows("Trop de demandes");
    let wait: i64 = r.header("retry-after").parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    // Another address is not held back.
    site.browser()
        .post("/password-resets", &[("login", "inconnu")])
        .await
        .expect(200);
}

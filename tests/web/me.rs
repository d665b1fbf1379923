//! "Mes données personnelles" and "Mes applications".

use crate::fixture::{PASSWORD, Site};

#[tokio::test]
async fn the_personal_data_page_shows_identity_rights_and_whom_to_ask_for_erasure() {
    let site = Site::start().await;
    let b = site.signed_in("petit").await;
    let page = b.get("/me").await;
    page.expect(200)
        .shows("<dd>Bruno</dd>")
        .shows("<dd>Petit</dd>")
        .shows("<dd>bpetit</dd>")
        .shows("<dd>responsable</dd>")
        .shows("<dd>Comptabilité</dd>")
        .shows("Mes habilitations")
        .shows("Fichier national des comptes bancaires – Consultation (FICOBA:CONSULTATION)")
        .shows("Mes délégations")
        .shows("Application de démonstration – Utilisateur (DEMO:UTILISATEUR)")
        .shows("href=\"/me/export\"")
        .shows("Effacement de mes données")
        .shows("href=\"mailto:alice.martin@cabinet-martin.example\"")
        .shows("href=\"/me/password\"");
}

#[tokio::test]
async fn names_are_rectified_and_errors_tied_to_their_field() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let email = site.person("durand").email;
    let r = b
        .post(
            "/me",
            &[
                ("given_name", "Chloë"),
                ("family_name", "Durand"),
                ("email", &email),
            ],
        )
        .await;
    r.expect(303);
    assert_eq!(r.location(), "/me?ok=donnees");
    b.get(&r.location())
        .await
        .shows("Vos données personnelles sont enregistrées.")
        .shows("<dd>Chloë</dd>");
    let bad = b
        .post(
            "/me",
            &[
                ("given_name", "Chloë"),
                ("family_name", ""),
                ("email", &email),
            ],
        )
        .await;
    bad.expect(422)
        .field_error("family_name")
        .shows("value=\"Chloë\"");
    let account = site.directory().account(&site.person("durand").id).unwrap();
    assert_eq!(account.person.family_name, "Durand");
}

#[tokio::test]
async fn an_email_change_is_confirmed_by_a_link_sent_to_the_new_address() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let old = site.person("durand").email;
    let new = "chloe.durand@nouveau.example";
    let r = b
        .post(
            "/me",
            &[
                ("given_name", "Chloé"),
                ("family_name", "Durand"),
                ("email", new),
                ("current_password", PASSWORD),
            ],
        )
        .await;
    r.expect(303);
    assert_eq!(r.location(), "/me?ok=courriel");
    b.get(&r.location())
        .await
        .shows("Un lien de confirmation a été envoyé")
        .shows(&format!("<dd>{old}</dd>"));
    let token = site.link_to(new, "/email-confirmations/").await;
    let stranger = site.browser();
    let path = format!("/email-confirmations/{token}");
    stranger
        .get(&path)
        .await
        .expect(200)
        .shows("Confirmer cette adresse");
    let id = site.person("durand").id;
    assert_eq!(
        site.directory().account(&id).unwrap().person.email,
        old,
        "a visit confirms nothing"
    );
    stranger
        .post(&path, &[])
        .await
        .expect(200)
        .shows("Adresse confirmée")
        .shows(new);
    assert_eq!(site.directory().account(&id).unwrap().person.email, new);
    stranger.post(&path, &[]).await.expect(410);
    stranger.get(&path).await.expect(410);
    site.browser()
        .get("/email-confirmations/inconnu")
        .await
        .expect(410);
}

#[tokio::test]
async fn a_new_address_needs_the_current_password_and_the_old_one_is_told() {
    let site = Site::start().await;
    site.forget_mails().await;
    let mails = site.outbox_settled().await;
    let b = site.signed_in("durand").await;
    let chloe = site.person("durand");
    let new = "chloe.ailleurs@nouveau.example";
    b.get("/me")
        .await
        .shows("name=\"current_password\"")
        .shows("autocomplete=\"current-password\"");
    let post = |current: &'static str| {
        let b = &b;
        async move {
            b.post(
                "/me",
                &[
                    ("given_name", "Chloé"),
                    ("family_name", "Durand"),
                    ("email", new),
                    ("current_password", current),
                ],
            )
            .await
        }
    };
    post("")
        .await
        .expect(422)
        .field_error("current_password")
        .shows("mot de passe actuel")
        .shows(&format!("value=\"{new}\""));
    post("Pas-Le-Bon-Mot-De-Passe-1")
        .await
        .expect(422)
        .field_error("current_password");
    let account = site.directory().account(&chloe.id).unwrap();
    assert_eq!(account.person.email, chloe.email, "nothing changed");
    assert_eq!(site.outbox_settled().await, mails, "nothing mailed");
    // The form without the new field (an older page) changes names, not the address.
    b.post(
        "/me",
        &[
            ("given_name", "Chloé"),
            ("family_name", "Durand"),
            ("email", &chloe.email),
        ],
    )
    .await
    .expect(303);
    let r = post(PASSWORD).await;
    r.expect(303);
    assert_eq!(r.location(), "/me?ok=courriel");
    let notice = site.mail_to(&chloe.email).await;
    assert!(notice.contains("Changement de votre adresse"), "{notice}");
    assert!(!notice.contains("http"), "no link in the notice:\n{notice}");
    site.link_to(new, "/email-confirmations/").await;
}

#[tokio::test]
async fn an_address_already_used_in_the_structure_is_tied_to_the_email_field() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let taken = site.person("petit").email;
    b.post(
        "/me",
        &[
            ("given_name", "Chloé"),
            ("family_name", "Durand"),
            ("email", &taken),
        ],
    )
    .await
    .expect(409)
    .field_error("email")
    .shows("utilise déjà l'adresse");
    b.post(
        "/me",
        &[
            ("given_name", "Chloé"),
            ("family_name", "Durand"),
            ("email", "pas-une-adresse"),
        ],
    )
    .await
    .expect(422)
    .field_error("email");
}

#[tokio::test]
async fn the_export_is_a_json_download_of_ones_own_data() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let r = b.get("/me/export").await;
    r.expect(200);
    assert_eq!(r.header("content-type"), "application/json");
    assert!(r.header("content-disposition").starts_with("attachment"));
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(v["account"]["id"], site.person("durand").id);
    assert!(v["account"].get("credential").is_none(), "no password hash");
    assert!(!r.body.contains("argon2"));
    assert!(v["events"].as_array().is_some_and(|e| !e.is_empty()));
}

#[tokio::test]
async fn the_portal_lists_the_habilitated_applications_with_links() {
    let site = Site::start().await;
    let chloe = site.signed_in("durand").await;
    chloe
        .get("/applications")
        .await
        .expect(200)
        .shows("<h2>Fichier national des comptes bancaires</h2>")
        .shows("href=\"https://ficoba.example.test/\"")
        .shows("<h2>Application de démonstration</h2>")
        .shows("href=\"http://127.0.0.1:9001/\"")
        .shows("<a href=\"/applications\" aria-current=\"page\">");
    let hugo = site.signed_in("lambert").await;
    hugo.get("/applications")
        .await
        .shows("Application de démonstration")
        .hides("Fichier national des comptes bancaires");
    let gaelle = site.signed_in("bernard").await;
    gaelle
        .get("/applications")
        .await
        .expect(200)
        .shows("Aucune application ne vous est ouverte");
}

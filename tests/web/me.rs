//! "Mes données personnelles" and "Mes applications".

use crate::fixture::Site;

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
        .shows("href=\"http://127.0.0.1:9000/\"")
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

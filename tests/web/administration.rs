//! "Ma structure" administration: services, accounts, habilitations and delegations,
//! audit log.

use apex_idp::domain::{AccountState, PersonalData, Role};

use crate::fixture::{NEW_PASSWORD, Site};

fn service_id(site: &Site, name: &str) -> String {
    site.directory()
        .services_of(&site.actor("martin").structure_id)
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no service {name}"))
        .id
}

#[tokio::test]
async fn an_administrateur_creates_renames_merges_and_deletes_services() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    b.get("/structure/services")
        .await
        .expect(200)
        .shows("Créer un service")
        .shows("<label for=\"name\">Nom du nouveau service</label>");
    let r = b.post("/structure/services", &[("name", "Archives")]).await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("Le service est créé.")
        .shows("Archives");
    b.post("/structure/services", &[("name", "archives")])
        .await
        .expect(409)
        .field_error("name")
        .shows("existe déjà");
    b.post("/structure/services", &[("name", "  ")])
        .await
        .expect(422)
        .field_error("name");
    let archives = service_id(&site, "Archives");
    let page = b.get(&format!("/structure/services/{archives}")).await;
    page.expect(200)
        .shows("Renommer le service")
        .shows("Ce service ne compte aucun compte.")
        .shows("Supprimer le service Archives");
    let r = b
        .post(
            &format!("/structure/services/{archives}/rename"),
            &[("name", "Archives et courrier")],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("Le service est renommé.")
        .shows("Service Archives et courrier");
    b.post(
        &format!("/structure/services/{archives}/rename"),
        &[("name", "Paie")],
    )
    .await
    .expect(409)
    .field_error("name");
    // Merging Paie into the new service moves its people, then removes Paie.
    let paie = service_id(&site, "Paie");
    let paie_page = b.get(&format!("/structure/services/{paie}")).await;
    paie_page
        .shows("Fusionner avec un autre service")
        .shows("transférez-les ou fusionnez le service")
        .hides("Supprimer le service Paie");
    b.post(&format!("/structure/services/{paie}/delete"), &[])
        .await
        .expect(409)
        .shows("Le service compte encore");
    let r = b
        .post(
            &format!("/structure/services/{paie}/merge"),
            &[("into", archives.as_str())],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("Les services sont fusionnés")
        .shows("Leroy David");
    let felix = site.directory().account(&site.person("roux").id).unwrap();
    assert_eq!(felix.service_id.as_deref(), Some(archives.as_str()));
    b.post(
        &format!("/structure/services/{archives}/merge"),
        &[("into", archives.as_str())],
    )
    .await
    .expect(422)
    .shows("ne peut pas être fusionné avec lui-même");
    let r = b.post("/structure/services", &[("name", "Éphémère")]).await;
    r.expect(303);
    let ephemere = service_id(&site, "Éphémère");
    let r = b
        .post(&format!("/structure/services/{ephemere}/delete"), &[])
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("Le service est supprimé.")
        .hides("Éphémère");
}

#[tokio::test]
async fn an_administrateur_transfers_people_between_services() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let compta = service_id(&site, "Comptabilité");
    let paie = service_id(&site, "Paie");
    let chloe = site.person("durand");
    let page = b.get(&format!("/structure/services/{compta}")).await;
    page.expect(200)
        .shows(&format!("name=\"accounts\" value=\"{}\"", chloe.id))
        .shows("Transférer les comptes cochés");
    let r = b
        .post(
            &format!("/structure/services/{compta}/transfer"),
            &[
                ("accounts", chloe.id.as_str()),
                ("to_service", paie.as_str()),
            ],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("Les comptes sont transférés.");
    let moved = site.directory().account(&chloe.id).unwrap();
    assert_eq!(moved.service_id.as_deref(), Some(paie.as_str()));
    assert_eq!(moved.habilitations.len(), 2, "habilitations unchanged");
    b.post(
        &format!("/structure/services/{compta}/transfer"),
        &[("to_service", paie.as_str())],
    )
    .await
    .expect(422)
    .shows("Indiquez au moins un compte.");
    // One account from its own page.
    let r = b
        .post(
            &format!("/structure/accounts/{}/transfer", chloe.id),
            &[("to_service", compta.as_str())],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("Les comptes sont transférés.");
}

#[tokio::test]
async fn a_responsable_pre_creates_a_collaborateur_of_his_service() {
    let site = Site::start().await;
    let b = site.signed_in("petit").await;
    let form = b.get("/structure/accounts/new").await;
    form.expect(200)
        .shows("<option value=\"collaborateur\"")
        .hides("<option value=\"responsable\"")
        .shows("Comptabilité")
        .hides(">Paie<");
    let compta = service_id(&site, "Comptabilité");
    let r = b
        .post(
            "/structure/accounts/new",
            &[
                ("role", "collaborateur"),
                ("service_id", compta.as_str()),
                ("given_name", "Inès"),
                ("family_name", "Nouvelle"),
                ("email", "ines.nouvelle@cabinet-martin.example"),
            ],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("Le compte est pré-créé")
        .shows("<dd>Inès</dd>")
        .shows("invité");
    let mail = site.mail_to("ines.nouvelle@cabinet-martin.example").await;
    assert!(mail.contains("/invitations/"));
}

#[tokio::test]
async fn pre_creation_errors_are_tied_to_their_fields() {
    let site = Site::start().await;
    let b = site.signed_in("petit").await;
    b.get("/structure/accounts/new").await;
    let compta = service_id(&site, "Comptabilité");
    let paie = service_id(&site, "Paie");
    let post = |role: &'static str, service: String, email: &'static str| {
        let b = &b;
        async move {
            b.post(
                "/structure/accounts/new",
                &[
                    ("role", role),
                    ("service_id", service.as_str()),
                    ("given_name", "Inès"),
                    ("family_name", "Nouvelle"),
                    ("email", email),
                ],
            )
            .await
        }
    };
    post("collaborateur", compta.clone(), "pas-une-adresse")
        .await
        .expect(422)
        .field_error("email")
        .shows("value=\"Inès\"");
    post(
        "collaborateur",
        compta.clone(),
        "chloe.durand@cabinet-martin.example",
    )
    .await
    .expect(409)
    .field_error("email")
    .shows("utilise déjà l'adresse");
    post("responsable", compta.clone(), "ines@cabinet-martin.example")
        .await
        .expect(403)
        .field_error("role")
        .shows("Un responsable ne peut pas agir ainsi sur le compte d'un responsable.");
    post("collaborateur", paie, "ines@cabinet-martin.example")
        .await
        .expect(403)
        .field_error("service_id")
        .shows("Un responsable n'agit que sur les comptes de son propre service.");
    post("roi", compta, "ines@cabinet-martin.example")
        .await
        .expect(422)
        .field_error("role");
}

#[tokio::test]
async fn an_administrateur_validates_and_rejects_pending_creations() {
    let site = Site::start().await;
    let emma = site.person("moreau");
    let emma_token = site.link_to(&emma.email, "/invitations/").await;
    site.forget_mails().await;
    let b = site.signed_in("martin").await;
    let david = site.person("leroy");
    let page = b.get("/structure/pending").await;
    page.expect(200)
        .shows("Créations à valider")
        .shows("Leroy David")
        .shows("Moreau");
    let r = b
        .post(
            &format!("/structure/accounts/{}/validate", david.id),
            &[("back", "pending")],
        )
        .await;
    r.expect(303);
    assert_eq!(r.location(), "/structure/pending?ok=valide");
    b.get(&r.location())
        .await
        .shows("La création est validée")
        .shows("Aucune création n'attend de validation.");
    let mail = site.mail_to(&david.email).await;
    assert!(mail.contains("dleroy"), "{mail}");
    // Validating twice is a conflict, said in a sentence.
    b.post(&format!("/structure/accounts/{}/validate", david.id), &[])
        .await
        .expect(409)
        .shows("Action impossible");
    // Emma completes her form; her creation is refused.
    site.directory()
        .complete_invitation(&emma_token, NEW_PASSWORD, &Default::default())
        .await
        .unwrap();
    let r = b
        .post(&format!("/structure/accounts/{}/reject", emma.id), &[])
        .await;
    r.expect(303);
    b.get(&r.location()).await.shows("La création est refusée");
    assert!(site.directory().account(&emma.id).is_err());
}

#[tokio::test]
async fn resending_an_identifier_mails_it_again() {
    let site = Site::start().await;
    site.forget_mails().await;
    let b = site.signed_in("petit").await;
    let chloe = site.person("durand");
    b.get("/structure").await;
    let r = b
        .post(
            &format!("/structure/accounts/{}/resend-identifier", chloe.id),
            &[],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("L'identifiant a été renvoyé par courriel.");
    let mail = site.mail_to(&chloe.email).await;
    assert!(mail.contains(&chloe.login), "{mail}");
}

#[tokio::test]
async fn a_deletion_request_first_lists_the_habilitations_to_remove() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let chloe = site.person("durand");
    let path = format!("/structure/accounts/{}/deletion-request", chloe.id);
    let page = b.get(&path).await;
    page.expect(200)
        .shows("Retirez d'abord les habilitations de ce compte")
        .shows("FICOBA:CONSULTATION")
        .shows("DEMO:UTILISATEUR")
        .hides("Demander la suppression du compte de");
    b.post(&path, &[])
        .await
        .expect(409)
        .shows("Retirez d'abord les habilitations du compte, puis demandez sa suppression.")
        .shows("<li>FICOBA:CONSULTATION</li>");
    for p in ["FICOBA:CONSULTATION", "DEMO:UTILISATEUR"] {
        let r = b
            .post(
                &format!("/structure/accounts/{}/habilitations/remove", chloe.id),
                &[("profile", p), ("back", "deletion")],
            )
            .await;
        r.expect(303);
        assert_eq!(r.location(), format!("{path}?ok=habilitation-retiree"));
    }
    let page = b.get(&path).await;
    page.expect(200)
        .shows("n'a plus d'habilitation")
        .shows("Demander la suppression du compte de Chloé Durand");
    let r = b.post(&path, &[]).await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("La suppression est demandée")
        .shows("suppression demandée");
    let account = site.directory().account(&chloe.id).unwrap();
    assert_eq!(account.state, AccountState::DeletionRequested);
}

#[tokio::test]
async fn a_responsable_habilitates_a_collaborateur_with_a_delegated_profile_only() {
    let site = Site::start().await;
    let dir = site.directory();
    let alice = site.actor("martin");
    let compta = service_id(&site, "Comptabilité");
    let ines = dir
        .pre_create(
            &alice,
            Role::Collaborateur,
            &compta,
            &PersonalData {
                given_name: "Inès".into(),
                family_name: "Nouvelle".into(),
                email: "ines.nouvelle@cabinet-martin.example".into(),
            },
        )
        .await
        .unwrap();
    let token = site
        .link_to("ines.nouvelle@cabinet-martin.example", "/invitations/")
        .await;
    dir.complete_invitation(&token, NEW_PASSWORD, &Default::default())
        .await
        .unwrap();
    dir.validate(&alice, &ines.id).await.unwrap();
    let b = site.signed_in("petit").await;
    let path = format!("/structure/accounts/{}", ines.id);
    b.get(&path)
        .await
        .expect(200)
        .shows("<option value=\"FICOBA:CONSULTATION\"")
        .shows("<option value=\"DEMO:UTILISATEUR\"")
        .hides("FICOBA:GESTION");
    let r = b
        .post(
            &format!("{path}/habilitations"),
            &[("profile", "FICOBA:CONSULTATION")],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("L'habilitation est accordée.")
        .shows("Fichier national des comptes bancaires – Consultation");
    b.post(
        &format!("{path}/habilitations"),
        &[("profile", "FICOBA:GESTION")],
    )
    .await
    .expect(403)
    .shows("Le profil FICOBA:GESTION ne vous a pas été délégué.");
    b.post(
        &format!("{path}/habilitations"),
        &[("profile", "n'importe quoi")],
    )
    .await
    .expect(422);
    assert!(
        dir.account(&ines.id)
            .unwrap()
            .holds(&"FICOBA:CONSULTATION".parse().unwrap())
    );
}

#[tokio::test]
async fn an_administrateur_delegates_and_removing_a_delegation_removes_no_habilitation() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let bruno = site.person("petit");
    let chloe = site.person("durand");
    let path = format!("/structure/accounts/{}", bruno.id);
    b.get(&path)
        .await
        .expect(200)
        .shows("Délégations")
        .shows("Profil à déléguer");
    let r = b
        .post(
            &format!("{path}/delegations"),
            &[("profile", "FICOBA:GESTION")],
        )
        .await;
    r.expect(303);
    b.get(&r.location()).await.shows("Le profil est délégué.");
    let r = b
        .post(
            &format!("{path}/delegations/remove"),
            &[("profile", "FICOBA:CONSULTATION")],
        )
        .await;
    r.expect(303);
    b.get(&r.location())
        .await
        .shows("les habilitations déjà accordées restent en place");
    let chloe = site.directory().account(&chloe.id).unwrap();
    assert!(
        chloe.holds(&"FICOBA:CONSULTATION".parse().unwrap()),
        "no cascade"
    );
    // Only a responsable receives delegations.
    b.post(
        &format!("/structure/accounts/{}/delegations", chloe.id),
        &[("profile", "FICOBA:GESTION")],
    )
    .await
    .expect(403)
    .shows("Un administrateur ne peut pas agir ainsi sur le compte d'un collaborateur.");
}

#[tokio::test]
async fn the_profiles_page_lists_holders_and_delegates() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let page = b.get("/structure/profiles").await;
    page.expect(200)
        .shows("Fichier national des comptes bancaires – Consultation (FICOBA:CONSULTATION)")
        .shows("Chloé Durand")
        .shows("Bruno Petit")
        .shows("Délégué à (1)");
    let bruno = site.signed_in("petit").await;
    bruno
        .get("/structure/profiles")
        .await
        .expect(200)
        .shows("FICOBA:CONSULTATION")
        .hides("FICOBA:GESTION");
}

#[tokio::test]
async fn an_administrateur_reads_the_audit_log_of_his_structure_only() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let page = b.get("/structure/audit").await;
    page.expect(200)
        .shows("Journal d'audit")
        .shows("habilitation accordée")
        .shows("Alice Martin")
        .shows("service créé")
        .hides("Lambert")
        .hides("Gaëlle");
}

//! The pre-creation form of the invitation mail.

use apex_idp::domain::{AccountState, PersonalData};

use crate::fixture::{NEW_PASSWORD, Site};

async fn emma_link(site: &Site) -> String {
    site.link_to(&site.person("moreau").email, "/invitations/")
        .await
}

#[tokio::test]
async fn the_invitation_page_says_who_invites_whom_for_which_structure_service_and_role() {
    let site = Site::start().await;
    let token = emma_link(&site).await;
    let b = site.browser();
    let page = b.get(&format!("/invitations/{token}")).await;
    page.expect(200)
        .shows("<strong>Alice Martin</strong> vous invite à rejoindre")
        .shows("Cabinet Martin &amp; Associés")
        .shows("732 829 320 00074")
        .shows("service <strong>Paie</strong>")
        .shows("en tant que <strong>collaborateur</strong>")
        .shows("value=\"Emma\"")
        .shows("value=\"Moreau\"")
        .shows("emma.moreau@cabinet-martin.example")
        .shows("Au moins 12 caractères")
        .shows("aria-describedby=\"password-aide\"")
        .shows("name=\"password_confirm\"")
        .shows("autocomplete=\"new-password\"");
    // The policy is stated before the fields to type.
    let main = page.main();
    assert!(main.find("Au moins 12 caractères").unwrap() < main.find("name=\"password\"").unwrap());
}

#[tokio::test]
async fn completing_the_invitation_awaits_an_administrateurs_validation() {
    let site = Site::start().await;
    let token = emma_link(&site).await;
    let b = site.browser();
    b.get(&format!("/invitations/{token}")).await.expect(200);
    let r = b
        .post(
            &format!("/invitations/{token}"),
            &[
                ("given_name", "Emma"),
                ("family_name", "Moreau-Petit"),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    r.expect(200)
        .shows("Création en attente de validation")
        .shows("Un administrateur de votre structure doit maintenant la valider");
    let emma = site.directory().account(&site.person("moreau").id).unwrap();
    assert_eq!(emma.state, AccountState::AwaitingValidation);
    assert_eq!(
        emma.person.family_name, "Moreau-Petit",
        "the rectified name"
    );
    // The link served once.
    b.get(&format!("/invitations/{token}"))
        .await
        .expect(410)
        .shows("Lien invalide ou expiré")
        .shows("demandez une nouvelle invitation");
}

#[tokio::test]
async fn an_operator_invited_administrateur_is_active_at_once_and_gets_his_identifier() {
    let site = Site::start().await;
    let dir = site.directory();
    let structure = dir.structures().unwrap()[0].id.clone();
    let email = "nadia.nouvelle@cabinet-martin.example";
    dir.invite_administrateur(
        &structure,
        &PersonalData {
            given_name: "Nadia".into(),
            family_name: "Nouvelle".into(),
            email: email.into(),
        },
    )
    .await
    .unwrap();
    let token = site.link_to(email, "/invitations/").await;
    let b = site.browser();
    b.get(&format!("/invitations/{token}"))
        .await
        .expect(200)
        .shows("la DGFiP")
        .shows("en tant que <strong>administrateur</strong>");
    let r = b
        .post(
            &format!("/invitations/{token}"),
            &[
                ("given_name", "Nadia"),
                ("family_name", "Nouvelle"),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    r.expect(200)
        .shows("Votre compte est actif")
        .shows("Votre identifiant vient de vous être envoyé par courriel")
        .hides("nnouvelle");
    let mail = site.mail_to(email).await;
    assert!(mail.contains("nnouvelle"), "{mail}");
}

#[tokio::test]
async fn invitation_errors_are_tied_to_their_fields_and_change_nothing() {
    let site = Site::start().await;
    let token = emma_link(&site).await;
    let b = site.browser();
    let path = format!("/invitations/{token}");
    b.get(&path).await;
    let post = |given: &'static str, password: &'static str, confirm: &'static str| {
        let path = path.clone();
        let b = &b;
        async move {
            b.post(
                &path,
                &[
                    ("given_name", given),
                    ("family_name", "Moreau"),
                    ("password", password),
                    ("password_confirm", confirm),
                ],
            )
            .await
        }
    };
    post("Emma", NEW_PASSWORD, "autre-chose-123")
        .await
        .expect(400)
        .field_error("password_confirm")
        .shows("La confirmation ne correspond pas");
    post("Emma", "", "")
        .await
        .expect(400)
        .field_error("password");
    post("Emma", "azerty123456", "azerty123456")
        .await
        .expect(422)
        .field_error("password")
        .shows("Ce mot de passe fait partie des plus courants");
    post("Emma", "court", "court")
        .await
        .expect(422)
        .field_error("password")
        .shows("au moins 12 caractères");
    post("Emma", "Moreau-Emma-2026!", "Moreau-Emma-2026!")
        .await
        .expect(422)
        .field_error("password")
        .shows("ni votre nom");
    post("  ", NEW_PASSWORD, NEW_PASSWORD)
        .await
        .expect(422)
        .field_error("given_name");
    // The person's typing is kept, the password never is.
    let again = post("Émilie", "court", "court").await;
    again.shows("value=\"Émilie\"").hides("value=\"court\"");
    let emma = site.directory().account(&site.person("moreau").id).unwrap();
    assert_eq!(emma.state, AccountState::Invited);
    b.get(&path).await.expect(200);
}

#[tokio::test]
async fn an_expired_or_unknown_invitation_link_gets_a_clear_page() {
    let site = Site::start().await;
    let token = emma_link(&site).await;
    let b = site.browser();
    b.get("/invitations/pas-un-jeton")
        .await
        .expect(410)
        .shows("Ce lien de pré-création est invalide, a déjà servi ou a expiré.")
        .shows("demandez une nouvelle invitation à la personne qui vous a invité");
    site.clock.advance(8 * 86_400);
    b.get(&format!("/invitations/{token}"))
        .await
        .expect(410)
        .shows("valable 7 jours");
    b.post(
        &format!("/invitations/{token}"),
        &[
            ("password", NEW_PASSWORD),
            ("password_confirm", NEW_PASSWORD),
        ],
    )
    .await
    .expect(410);
}

//! Each role sees exactly its functions of the matrix, and a forbidden page is a 403
//! that says why and shows no data.

use apex_idp::domain::rights::allowance;
use apex_idp::domain::{Function, Role};

use crate::fixture::Site;

/// Which roles a section opens to.
type Opens = Box<dyn Fn(Role) -> bool>;

/// The sections of "Ma structure" and the function (or rule) that opens each.
fn sections() -> Vec<(&'static str, Opens)> {
    let may = |f: Function| move |r: Role| allowance(f, r).is_some();
    vec![
        (
            "/structure/services",
            Box::new(may(Function::ManageServices)),
        ),
        (
            "/structure/accounts/new",
            Box::new(may(Function::PreCreate)),
        ),
        (
            "/structure/pending",
            Box::new(may(Function::ValidateCreations)),
        ),
        (
            "/structure/profiles",
            Box::new(|r| {
                allowance(Function::Habilitate, r).is_some()
                    || allowance(Function::Delegate, r).is_some()
            }),
        ),
        ("/structure/audit", Box::new(|r| r == Role::Administrateur)),
    ]
}

#[tokio::test]
async fn each_role_sees_exactly_its_functions_and_no_dead_link() {
    let site = Site::start().await;
    for (who, role) in [
        ("martin", Role::Administrateur),
        ("petit", Role::Responsable),
        ("durand", Role::Collaborateur),
    ] {
        let b = site.signed_in(who).await;
        let page = b.get("/structure").await;
        page.expect(200);
        for (path, opens) in sections() {
            let linked = page.body.contains(&format!("href=\"{path}\""));
            assert_eq!(linked, opens(role), "{role:?} and {path}");
            let visit = b.get(path).await;
            assert_eq!(
                visit.status == 200,
                opens(role),
                "{role:?} visiting {path}: {}",
                visit.status
            );
        }
        // Everyone has his own data, his applications and the consultation.
        for path in ["/applications", "/me", "/structure"] {
            assert!(
                page.body.contains(&format!("href=\"{path}\"")),
                "{role:?} {path}"
            );
        }
    }
}

#[tokio::test]
async fn a_collaborateur_gets_403_with_the_reason_and_no_data_on_administration_pages() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let services = site
        .directory()
        .services_of(&site.actor("martin").structure_id)
        .unwrap();
    let paie = services.iter().find(|s| s.name == "Paie").unwrap();
    for (path, sentence) in [
        (
            "/structure/services".to_owned(),
            "Un collaborateur ne peut pas créer, modifier ou supprimer un service.",
        ),
        (
            format!("/structure/services/{}", paie.id),
            "Un collaborateur ne peut pas créer, modifier ou supprimer un service.",
        ),
        (
            "/structure/accounts/new".to_owned(),
            "Un collaborateur ne peut pas pré-créer ce compte.",
        ),
        (
            "/structure/pending".to_owned(),
            "Un collaborateur ne peut pas valider ou refuser une création de compte.",
        ),
        (
            "/structure/profiles".to_owned(),
            "Un collaborateur ne peut pas déléguer un profil ou retirer une délégation.",
        ),
        (
            "/structure/audit".to_owned(),
            "Le journal d'audit est réservé aux administrateurs de la structure.",
        ),
    ] {
        let page = b.get(&path).await;
        page.expect(403).shows("Accès refusé").shows(sentence);
        let main = page.main();
        for data in [
            "Leroy",
            "Moreau",
            "Roux",
            "Petit",
            "@cabinet-martin.example",
            "Félix",
        ] {
            assert!(!main.contains(data), "{path} shows {data}");
        }
    }
    // Forms too: the core refuses, the page says why, nothing is written.
    let before = site
        .directory()
        .services_of(&paie.structure_id)
        .unwrap()
        .len();
    b.get("/structure").await;
    b.post("/structure/services", &[("name", "Clandestin")])
        .await
        .expect(403)
        .shows("Un collaborateur ne peut pas créer, modifier ou supprimer un service.");
    let after = site
        .directory()
        .services_of(&paie.structure_id)
        .unwrap()
        .len();
    assert_eq!(before, after);
}

#[tokio::test]
async fn a_responsable_gets_403_on_the_administrateurs_pages() {
    let site = Site::start().await;
    let b = site.signed_in("petit").await;
    b.get("/structure/services")
        .await
        .expect(403)
        .shows("Un responsable ne peut pas créer, modifier ou supprimer un service.");
    b.get("/structure/pending").await.expect(403).hides("Leroy");
    b.get("/structure/audit")
        .await
        .expect(403)
        .shows("Le journal d'audit est réservé aux administrateurs de la structure.")
        .hides("habilitation accordée");
}

#[tokio::test]
async fn a_responsable_cannot_act_outside_his_service() {
    let site = Site::start().await;
    let b = site.signed_in("petit").await;
    let felix = site.person("roux");
    let david = site.person("leroy");
    b.get("/structure").await;
    // Félix (Paie) is out of Bruno's reach: his page offers him nothing to do.
    b.get(&format!("/structure/accounts/{}", felix.id))
        .await
        .expect(200)
        .hides("Renvoyer l'identifiant")
        .hides("Habiliter")
        .hides("Demander la suppression");
    b.post(
        &format!("/structure/accounts/{}/resend-identifier", david.id),
        &[],
    )
    .await
    .expect(403)
    .shows("Un responsable n'agit que sur les comptes de son propre service.");
    b.post(
        &format!("/structure/accounts/{}/habilitations", david.id),
        &[("profile", "FICOBA:CONSULTATION")],
    )
    .await
    .expect(403)
    .shows("Un responsable n'agit que sur les comptes de son propre service.");
}

#[tokio::test]
async fn another_structures_account_is_not_found() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let hugo = site.person("lambert");
    b.get(&format!("/structure/accounts/{}", hugo.id))
        .await
        .expect(404)
        .hides("Lambert")
        .hides("hugo.lambert");
    b.post(
        &format!("/structure/accounts/{}/resend-identifier", hugo.id),
        &[],
    )
    .await
    .expect(404);
    b.get("/structure/services/inconnu").await.expect(404);
}

#[tokio::test]
async fn an_account_page_offers_exactly_the_viewers_actions() {
    let site = Site::start().await;
    let chloe = site.person("durand");
    let page = |who: &'static str| {
        let site = &site;
        let path = format!("/structure/accounts/{}", chloe.id);
        async move { site.signed_in(who).await.get(&path).await }
    };
    page("martin")
        .await
        .expect(200)
        .shows("Profil à accorder")
        .shows("FICOBA:GESTION")
        .shows("Retirer")
        .shows("Renvoyer l'identifiant")
        .shows("Transférer vers le service")
        .shows("Demander la suppression du compte")
        .hides("Valider la création");
    // Bruno may only hand out what was delegated to him, which Chloé already holds.
    page("petit")
        .await
        .expect(200)
        .hides("Profil à accorder")
        .shows("Retirer")
        .shows("Renvoyer l'identifiant")
        .hides("Transférer vers le service")
        .shows("Demander la suppression du compte");
    page("durand")
        .await
        .expect(200)
        .hides("Retirer")
        .hides("Profil à accorder")
        .hides("Renvoyer l'identifiant")
        .hides("Transférer")
        .hides("Demander la suppression")
        .hides("<h2>Actions</h2>");
    // A pending creation offers its validation to the administrateur only.
    let david = site.person("leroy");
    let alice = site.signed_in("martin").await;
    alice
        .get(&format!("/structure/accounts/{}", david.id))
        .await
        .shows("Valider la création")
        .shows("Refuser la création")
        .hides("Renvoyer l'identifiant");
}

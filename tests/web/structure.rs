//! "Ma structure": consultation with search and pagination.

use apex_idp::directory::generate::GenerateSpec;
use apex_idp::domain::Role;

use crate::fixture::{PASSWORD, Site};

#[tokio::test]
async fn every_role_consults_its_structure_and_only_its_own() {
    let site = Site::start().await;
    for who in ["martin", "petit", "durand"] {
        let b = site.signed_in(who).await;
        let page = b.get("/structure").await;
        page.expect(200)
            .shows("<h1>Ma structure</h1>")
            .shows("Comptabilité")
            .shows("Paie")
            .shows("Durand Chloé")
            .shows("Leroy David")
            .shows("en attente de validation")
            .shows("suppression demandée")
            .hides("Lambert")
            .hides("Service des impôts des entreprises");
    }
    let gaelle = site.signed_in("bernard").await;
    gaelle
        .get("/structure")
        .await
        .shows("Lambert Hugo")
        .hides("Durand");
}

#[tokio::test]
async fn the_search_ignores_case_and_accents_and_stays_out_of_addresses() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let page = b
        .post(
            "/structure",
            &[("q", "CHLOE"), ("service", ""), ("role", ""), ("state", "")],
        )
        .await;
    page.expect(200)
        .shows("Durand Chloé")
        .hides("Petit Bruno")
        .shows("1 personne")
        .shows("value=\"CHLOE\"");
    b.post("/structure", &[("q", "bpetit")])
        .await
        .shows("Petit Bruno")
        .hides("Durand Chloé");
    b.post("/structure", &[("q", "personne-de-ce-nom")])
        .await
        .expect(200)
        .shows("Aucune personne ne correspond");
    // The search form posts: the words typed never enter an address.
    b.get("/structure")
        .await
        .shows("<form method=\"post\" action=\"/structure\"");
}

#[tokio::test]
async fn the_consultation_filters_by_service_role_and_state() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    b.get("/structure?state=awaiting_validation")
        .await
        .expect(200)
        .shows("Leroy David")
        .hides("Durand Chloé");
    b.get("/structure?role=responsable")
        .await
        .shows("Petit Bruno")
        .hides("Leroy David");
    let services = site
        .directory()
        .services_of(&site.actor("martin").structure_id)
        .unwrap();
    let paie = services.iter().find(|s| s.name == "Paie").unwrap();
    b.get(&format!("/structure?service={}", paie.id))
        .await
        .shows("Roux Félix")
        .hides("Durand Chloé");
    // Junk filters are ignored, not errors.
    b.get("/structure?role=roi&state=x&page=-3")
        .await
        .expect(200)
        .shows("Durand Chloé");
}

#[tokio::test]
async fn the_consultation_pages_through_5000_accounts_fifty_at_a_time() {
    let site = Site::empty().await;
    let dir = site.directory();
    let phc = apex_idp::auth::Hasher::new(apex_idp::config::Argon2Config {
        m_kib: 64,
        t: 1,
        p: 1,
    })
    .unwrap()
    .hash_blocking(PASSWORD)
    .unwrap();
    dir.generate(
        GenerateSpec {
            structures: 1,
            services: 20,
            accounts: 5000,
        },
        &phc,
        |_| {},
    )
    .unwrap();
    let structure = dir.structures().unwrap()[0].id.clone();
    let admin = dir
        .accounts_of(&structure)
        .unwrap()
        .into_iter()
        .find(|a| a.role == Role::Administrateur)
        .unwrap();
    let b = site.signed_in_as(admin.login.as_deref().unwrap()).await;
    // How fast these pages render is measured in benches/web.rs, not asserted here.
    for path in [
        "/structure",
        "/structure?page=100",
        "/structure?role=responsable&page=1",
    ] {
        b.get(path).await.expect(200);
    }
    let first = b.get("/structure").await;
    first
        .shows("5000 personnes – page 1 sur 100")
        .shows("Page suivante")
        .hides("Page précédente");
    assert_eq!(
        first
            .main()
            .matches("<th scope=\"row\"><a href=\"/structure/accounts/")
            .count(),
        50
    );
    b.get("/structure?page=100")
        .await
        .shows("page 100 sur 100")
        .shows("href=\"/structure?page=99#personnes\"");
    let searched = b.post("/structure", &[("q", "martin")]).await;
    searched.expect(200).shows("name=\"page\" value=\"2\"");
}

//! The shared layout and the security headers of pages.

use crate::common::Resp;
use crate::fixture::{PASSWORD, Site};

#[tokio::test]
async fn pages_carry_the_security_headers() {
    let site = Site::start().await;
    let b = site.browser();
    for page in [b.get("/").await, b.get("/password-resets").await] {
        page.expect(200);
        let csp = page.header("content-security-policy");
        for part in [
            "default-src 'none'",
            "style-src 'self'",
            "frame-ancestors 'none'",
            "form-action 'self'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(part), "{part} in {csp}");
        }
        assert!(
            !csp.contains("unsafe-inline") && !csp.contains("script-src"),
            "{csp}"
        );
        assert_eq!(page.header("x-content-type-options"), "nosniff");
        assert_eq!(page.header("referrer-policy"), "no-referrer");
        assert_eq!(page.header("x-frame-options"), "DENY");
        assert_eq!(page.header("cache-control"), "no-store");
        assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
        assert!(
            page.header("strict-transport-security").is_empty(),
            "no HSTS over http"
        );
    }
    let signed = site.signed_in("martin").await;
    let page = signed.get("/structure").await;
    page.expect(200);
    assert!(
        page.header("content-security-policy")
            .contains("frame-ancestors 'none'")
    );
}

#[tokio::test]
async fn hsts_is_sent_when_the_public_url_is_https() {
    let site = Site::start_at("https://apex.test").await;
    let page = site.browser().get("/").await;
    page.expect(200);
    assert!(
        page.header("strict-transport-security")
            .contains("max-age="),
        "{:?}",
        page.headers
    );
    // Cookies are then Secure.
    assert!(page.header("set-cookie").contains("Secure"));
}

#[tokio::test]
async fn the_stylesheet_is_a_static_file_and_pages_hold_no_inline_style_or_script() {
    let site = Site::start().await;
    let css = site.browser().get("/static/apex.css").await;
    css.expect(200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(css.body.contains(":focus"), "visible focus");
    assert!(!css.body.contains("Marianne"), "never the Marianne font");
    for Page { path, who, resp } in every_page(&site).await {
        let page = &resp;
        for banned in ["<style", " style=", "<script", "javascript:", "Marianne"] {
            assert!(!page.body.contains(banned), "{banned} in {path} ({who})");
        }
        assert!(page.body.contains("href=\"/static/apex.css\""), "{path}");
    }
}

#[tokio::test]
async fn every_page_is_french_with_a_skip_link_landmarks_and_labelled_fields() {
    let site = Site::start().await;
    for Page { path, who, resp } in every_page(&site).await {
        let page = &resp;
        page.shows("<html lang=\"fr\">")
            .shows("<a class=\"evitement\" href=\"#contenu\">Aller au contenu</a>")
            .shows("<header")
            .shows("<main id=\"contenu\"")
            .shows("<footer")
            .shows("<h1>")
            .shows("Accessibilité : partiellement conforme");
        // The pages of the partner space carry the menu and who is signed in; the
        // public ones (sign-in, links, information) are alike for everyone.
        let partner_space = ["/applications", "/me", "/structure"]
            .iter()
            .any(|space| path.starts_with(space));
        if who == ANONYMOUS {
            page.hides("Connecté :");
        } else if partner_space {
            page.shows("<nav class=\"navigation\" aria-label=\"Menu principal\">")
                .shows("Connecté : <strong>");
        }
        // Every input but the hidden ones has a label for it.
        for chunk in page.body.split("<input").skip(1) {
            let tag = chunk.split('>').next().unwrap();
            if tag.contains("type=\"hidden\"") {
                continue;
            }
            let id = tag
                .split("id=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_else(|| panic!("input without id in {path}: {tag}"));
            assert!(
                page.body.contains(&format!("<label for=\"{id}\"")) || tag.contains("aria-label="),
                "input {id} of {path} ({who}) has a label"
            );
        }
    }
    let b = site.signed_in("petit").await;
    // The current menu entry is marked.
    b.get("/me")
        .await
        .shows("<a href=\"/me\" aria-current=\"page\">Mes données personnelles</a>");
}

#[tokio::test]
async fn unknown_pages_are_a_french_page_for_browsers_and_a_problem_for_programs() {
    let site = Site::start().await;
    let page = site.browser().get("/nulle-part").await;
    page.expect(404)
        .shows("Page introuvable")
        .shows("lang=\"fr\"");
    let api = reqwest::Client::new()
        .get(format!("{}/nulle-part", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 404);
    assert_eq!(
        api.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let junk = site.browser().get("/structure/accounts/%FF").await;
    assert!(matches!(junk.status, 303 | 404), "{}", junk.status);
}

#[tokio::test]
async fn accessibility_statement_and_site_map_are_reachable_from_every_page() {
    let site = Site::start().await;
    for Page { path, who, resp } in every_page(&site).await {
        for link in ["href=\"/accessibilite\"", "href=\"/plan-du-site\""] {
            assert!(resp.body.contains(link), "{link} on {path} ({who})");
        }
    }
    let b = site.browser();
    b.get("/accessibilite")
        .await
        .expect(200)
        .shows("partiellement conforme");
    b.get("/plan-du-site")
        .await
        .expect(200)
        .shows("href=\"/password-resets\"");
}

/// A page of the web space, fetched by `who`.
struct Page {
    path: String,
    who: &'static str,
    resp: Resp,
}

/// The pages every browser sees, signed in or not.
const ANONYMOUS: &str = "anonymous";

/// Every page of the web space, fetched for real: each GET route of the pages' router
/// (checked against `src/web/pages/mod.rs` below, so that a new page cannot be left out),
/// the issuer's sign-in page, and the pages of a refusal and of an unknown path. The
/// signed-in pages are seen by the administrateur, who reaches all of them.
async fn every_page(site: &Site) -> Vec<Page> {
    let martin = site.person("martin");
    let core = site.directory();
    let alice = core.account(&martin.id).unwrap();
    let service = core.services_of(&alice.structure_id).unwrap()[0].id.clone();
    let chloe = site.person("durand");
    // One-time links, as their mails carry them.
    let invitation = site
        .link_to(&site.person("moreau").email, "/invitations/")
        .await;
    site.forget_mails().await;
    core.request_password_reset(&chloe.login).await.unwrap();
    let reset = site.link_to(&chloe.email, "/password-resets/").await;
    let bruno = site.signed_in("petit").await;
    let new = "bruno.nouveau@cabinet-martin.example";
    bruno
        .post(
            "/me",
            &[
                ("given_name", "Bruno"),
                ("family_name", "Petit"),
                ("email", new),
                ("current_password", PASSWORD),
            ],
        )
        .await
        .expect(303);
    let confirmation = site.link_to(new, "/email-confirmations/").await;

    let anonymous = site.browser();
    let mut pages = Vec::new();
    for path in [
        "/".to_owned(),
        "/password-resets".to_owned(),
        format!("/invitations/{invitation}"),
        format!("/password-resets/{reset}"),
        format!("/email-confirmations/{confirmation}"),
        "/accessibilite".to_owned(),
        "/plan-du-site".to_owned(),
        "/nulle-part".to_owned(),
        "/oidc/authorize?response_type=code&client_id=demo\
         &redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback&scope=openid&state=s1\
         &nonce=n1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM\
         &code_challenge_method=S256"
            .to_owned(),
    ] {
        let resp = anonymous.get(&path).await;
        pages.push(Page {
            path,
            who: ANONYMOUS,
            resp,
        });
    }
    let admin = site.signed_in("martin").await;
    for path in [
        "/applications".to_owned(),
        "/me".to_owned(),
        "/me/password".to_owned(),
        "/structure".to_owned(),
        "/structure/services".to_owned(),
        format!("/structure/services/{service}"),
        "/structure/accounts/new".to_owned(),
        "/structure/pending".to_owned(),
        format!("/structure/accounts/{}", chloe.id),
        format!("/structure/accounts/{}/deletion-request", chloe.id),
        "/structure/profiles".to_owned(),
        "/structure/audit".to_owned(),
        "/accessibilite".to_owned(),
        "/plan-du-site".to_owned(),
        "/nulle-part".to_owned(),
    ] {
        let resp = admin.get(&path).await;
        pages.push(Page {
            path,
            who: "martin",
            resp,
        });
    }
    // A refusal is a page too: a responsable may not read the audit log.
    let resp = bruno.get("/structure/audit").await;
    pages.push(Page {
        path: "/structure/audit".to_owned(),
        who: "petit",
        resp,
    });
    let expected = |p: &Page| match (p.path.as_str(), p.who) {
        ("/nulle-part", _) => 404,
        ("/structure/audit", "petit") => 403,
        _ => 200,
    };
    for p in &pages {
        assert_eq!(
            p.resp.status,
            expected(p),
            "{} as {}: {}",
            p.path,
            p.who,
            p.resp.body
        );
    }
    assert_every_get_route_is_covered(&pages);
    pages
}

/// Every GET route of the pages' router has a page in `pages` (its `{param}` segments
/// stand for any value); only the static files and the JSON export are left out.
fn assert_every_get_route_is_covered(pages: &[Page]) {
    let source =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/web/pages/mod.rs"))
            .unwrap();
    let constants = [
        ("visit::menu::APPLICATIONS", Some("/applications")),
        ("visit::menu::ME", Some("/me")),
        ("visit::menu::STRUCTURE", Some("/structure")),
        ("visit::RENEWAL", Some("/me/password")),
        ("layout::STYLESHEET_PATH", None),
        ("layout::FORM_POST_SCRIPT_PATH", None),
    ];
    let routes: Vec<&str> = source.split(".route(").skip(1).collect();
    assert!(routes.len() > 20, "the router was read: {}", routes.len());
    for route in routes {
        let (first, rest) = route.split_once(',').unwrap();
        let handlers = rest.split(".route(").next().unwrap();
        if !handlers.trim_start().starts_with("get(") {
            continue;
        }
        let first = first.trim();
        let template = match first.strip_prefix('"') {
            Some(literal) => literal.trim_end_matches('"'),
            None => match constants.iter().find(|(name, _)| *name == first) {
                Some((_, Some(path))) => path,
                Some((_, None)) => continue,
                None => panic!("a route at an unknown constant {first}: name its path here"),
            },
        };
        // The export is a JSON download, not a page.
        if template == "/me/export" {
            continue;
        }
        let fits = |path: &str| {
            let path = path.split('?').next().unwrap();
            let (a, b): (Vec<&str>, Vec<&str>) =
                (template.split('/').collect(), path.split('/').collect());
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|(t, p)| t == p || (t.starts_with('{') && !p.is_empty()))
        };
        assert!(
            pages.iter().any(|p| fits(&p.path)),
            "the page {template} is not among every_page's"
        );
    }
}

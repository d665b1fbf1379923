//! The shared layout and the security headers of pages.

use crate::fixture::Site;

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
    let b = site.signed_in("martin").await;
    let alice = site.person("martin");
    for path in [
        "/applications".to_owned(),
        "/me".to_owned(),
        "/me/password".to_owned(),
        "/structure".to_owned(),
        "/structure/services".to_owned(),
        "/structure/accounts/new".to_owned(),
        "/structure/pending".to_owned(),
        "/structure/profiles".to_owned(),
        "/structure/audit".to_owned(),
        format!("/structure/accounts/{}", alice.id),
    ] {
        let page = b.get(&path).await;
        page.expect(200);
        for banned in ["<style", " style=", "<script", "javascript:", "Marianne"] {
            assert!(!page.body.contains(banned), "{banned} in {path}");
        }
        assert!(page.body.contains("href=\"/static/apex.css\""), "{path}");
    }
}

#[tokio::test]
async fn every_page_is_french_with_a_skip_link_landmarks_and_labelled_fields() {
    let site = Site::start().await;
    let b = site.signed_in("petit").await;
    for path in [
        "/applications",
        "/me",
        "/structure",
        "/structure/accounts/new",
    ] {
        let page = b.get(path).await;
        page.expect(200)
            .shows("<html lang=\"fr\">")
            .shows("<a class=\"evitement\" href=\"#contenu\">Aller au contenu</a>")
            .shows("<header")
            .shows("<nav class=\"navigation\" aria-label=\"Menu principal\">")
            .shows("<main id=\"contenu\"")
            .shows("<footer")
            .shows("<h1>")
            .shows("Accessibilité : partiellement conforme")
            .shows("Connecté : <strong>Bruno Petit</strong>");
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
                "input {id} of {path} has a label"
            );
        }
    }
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
    let b = site.browser();
    let home = b.get("/").await;
    home.shows("href=\"/accessibilite\"")
        .shows("href=\"/plan-du-site\"");
    b.get("/accessibilite")
        .await
        .expect(200)
        .shows("partiellement conforme");
    b.get("/plan-du-site")
        .await
        .expect(200)
        .shows("href=\"/password-resets\"");
}

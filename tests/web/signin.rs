//! Sign-in at `/`, the session, sign-out, the forced renewal of an expired password.

use crate::fixture::{NEW_PASSWORD, PASSWORD, Site};
use base64::Engine;

#[tokio::test]
async fn sign_in_opens_the_portal_with_a_session_cookie() {
    let site = Site::start().await;
    let b = site.browser();
    let form = b.get("/").await;
    form.expect(200)
        .shows("<title>Connexion – Mon espace APEX Partenaires</title>")
        .shows("name=\"login\"")
        .shows("autocomplete=\"username\"")
        .shows("name=\"password\"")
        .shows("autocomplete=\"current-password\"")
        .shows("name=\"csrf\"")
        .shows("href=\"/password-resets\"");
    assert!(form.header("set-cookie").contains("apex_csrf="));
    assert!(form.header("set-cookie").contains("HttpOnly"));
    let r = b
        .post(
            "/",
            &[
                ("login", &site.person("durand").login),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.expect(303);
    assert_eq!(r.location(), "/applications");
    let cookie = r.header("set-cookie");
    assert!(cookie.starts_with("apex_sso="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    // Signed in, the home page leads to the portal.
    assert_eq!(b.get("/").await.location(), "/applications");
    b.get("/applications")
        .await
        .expect(200)
        .shows("Chloé Durand");
}

#[tokio::test]
async fn the_session_is_a_new_one_at_each_sign_in() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let first = b.cookies.lock().unwrap()["apex_sso"].clone();
    b.get("/").await;
    let r = b
        .post(
            "/",
            &[
                ("login", &site.person("petit").login),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.expect(303);
    let second = b.cookies.lock().unwrap()["apex_sso"].clone();
    assert_ne!(first, second, "a new session, under a new cookie");
    b.get("/applications").await.shows("Bruno Petit");
    // The first cookie no longer opens anything.
    let stale = site.browser();
    stale
        .cookies
        .lock()
        .unwrap()
        .insert("apex_sso".into(), first);
    assert_eq!(stale.get("/applications").await.location(), "/");
    // A cookie planted before sign-in is never adopted (no fixation).
    let planted = site.browser();
    planted.get("/").await;
    planted
        .cookies
        .lock()
        .unwrap()
        .insert("apex_sso".into(), "A".repeat(43));
    planted
        .post(
            "/",
            &[
                ("login", &site.person("durand").login),
                ("password", PASSWORD),
            ],
        )
        .await
        .expect(303);
    assert_ne!(planted.cookies.lock().unwrap()["apex_sso"], "A".repeat(43));
}

#[tokio::test]
async fn a_wrong_password_is_tied_to_the_password_field() {
    let site = Site::start().await;
    let b = site.browser();
    b.get("/").await;
    let login = site.person("durand").login;
    let r = b
        .post("/", &[("login", &login), ("password", "pas-le-bon")])
        .await;
    r.expect(401)
        .field_error("password")
        .shows("Identifiant ou mot de passe incorrect.")
        .shows(&format!("value=\"{login}\""));
    assert!(!b.has_cookie("apex_sso"));
    let unknown = b
        .post("/", &[("login", "personne"), ("password", "pas-le-bon")])
        .await;
    unknown
        .expect(401)
        .shows("Identifiant ou mot de passe incorrect.");
    b.post("/", &[("login", ""), ("password", "x")])
        .await
        .expect(400)
        .field_error("login")
        .shows("Saisissez votre identifiant.");
    b.post("/", &[("login", &login), ("password", "")])
        .await
        .expect(400)
        .field_error("password");
}

#[tokio::test]
async fn repeated_failures_are_slowed_down_with_retry_after() {
    let site = Site::start().await;
    let b = site.browser();
    b.get("/").await;
    let login = site.person("durand").login;
    let mut last = None;
    for _ in 0..6 {
        let r = b
            .post("/", &[("login", &login), ("password", "pas-le-bon")])
            .await;
        if r.status == 429 {
            last = Some(r);
            break;
        }
    }
    let r = last.expect("a 429 after a few failures");
    r.field_error("password").shows("Trop de tentatives");
    assert!(r.header("retry-after").parse::<i64>().unwrap() >= 1);
}

#[tokio::test]
async fn strangers_are_sent_to_the_sign_in_page_and_see_no_data() {
    let site = Site::start().await;
    let b = site.browser();
    let alice = site.person("martin");
    for path in [
        "/applications".to_owned(),
        "/me".to_owned(),
        "/me/export".to_owned(),
        "/me/password".to_owned(),
        "/structure".to_owned(),
        "/structure/services".to_owned(),
        "/structure/pending".to_owned(),
        "/structure/audit".to_owned(),
        format!("/structure/accounts/{}", alice.id),
    ] {
        let r = b.get(&path).await;
        r.expect(303);
        assert_eq!(r.location(), "/", "{path}");
        assert!(!r.body.contains("Martin"), "{path}");
    }
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let cookie = b.cookies.lock().unwrap()["apex_sso"].clone();
    b.get("/applications")
        .await
        .shows("action=\"/sign-out\"")
        .shows("Se déconnecter");
    let r = b.post("/sign-out", &[]).await;
    r.expect(303);
    assert_eq!(r.location(), "/?ok=deconnexion");
    assert!(!b.has_cookie("apex_sso"));
    b.get("/?ok=deconnexion")
        .await
        .expect(200)
        .shows("Vous êtes déconnecté.");
    assert_eq!(b.get("/applications").await.location(), "/");
    let replay = site.browser();
    replay
        .cookies
        .lock()
        .unwrap()
        .insert("apex_sso".into(), cookie);
    assert_eq!(
        replay.get("/me").await.location(),
        "/",
        "the session is gone"
    );
}

#[tokio::test]
async fn a_blocked_account_is_signed_out_at_once() {
    let site = Site::start().await;
    let b = site.signed_in("durand").await;
    let dir = site.directory();
    let alice = site.actor("martin");
    let chloe = site.person("durand");
    for p in ["FICOBA:CONSULTATION", "DEMO:UTILISATEUR"] {
        dir.revoke(&alice, &chloe.id, &p.parse().unwrap())
            .await
            .unwrap();
    }
    dir.request_deletion(&alice, &chloe.id).await.unwrap();
    assert_eq!(b.get("/applications").await.location(), "/");
}

#[tokio::test]
async fn an_expired_password_must_be_renewed_before_anything_else() {
    let site = Site::start().await;
    site.clock.advance(366 * 86_400);
    let b = site.browser();
    b.get("/").await;
    let login = site.person("durand").login;
    let r = b
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await;
    r.expect(303);
    assert_eq!(r.location(), "/me/password");
    for path in ["/applications", "/me", "/structure", "/"] {
        assert_eq!(b.get(path).await.location(), "/me/password", "{path}");
    }
    b.get("/me/password")
        .await
        .expect(200)
        .shows("Renouvellement du mot de passe")
        .shows("a expiré");
    let r = b
        .post(
            "/me/password",
            &[
                ("current_password", PASSWORD),
                ("password", NEW_PASSWORD),
                ("password_confirm", NEW_PASSWORD),
            ],
        )
        .await;
    r.expect(303);
    b.get("/applications").await.expect(200);
}

/// The portal's session is the issuer's: an application asking silently gets a code.
#[tokio::test]
async fn signing_in_to_the_portal_signs_in_to_the_applications() {
    let site = Site::start().await;
    let b = site.signed_in("martin").await;
    let verifier = "v".repeat(50);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let path = format!(
        "/oidc/authorize?response_type=code&client_id=demo&redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2Fcallback\
         &scope=openid&state=s1&nonce=n1&code_challenge={challenge}&code_challenge_method=S256&prompt=none"
    );
    let r = b.get(&path).await;
    r.expect(303);
    assert!(
        r.location()
            .starts_with("http://127.0.0.1:9000/callback?code="),
        "{}",
        r.location()
    );
    // Signing out of the portal signs out of the issuer too.
    b.post("/sign-out", &[]).await.expect(303);
    let r = b.get(&path).await;
    assert!(
        r.location().contains("error=login_required"),
        "{}",
        r.location()
    );
}

/// 120 wrong passwords for one login from 40 addresses (3 each: none of them is slowed
/// on its own) trip the limit on the login across all sources: a new browser, even from
/// a fresh address and with the right password, is told to wait. The browser where the
/// owner signed in before holds a device cookie and still signs in; a forged cookie or
/// another login's does not pass.
#[tokio::test]
async fn distributed_guessing_keeps_new_browsers_out_but_not_the_owner() {
    let site = Site::start().await;
    let login = site.person("durand").login;
    let other = site.person("martin").login;
    let at = |last: u8| std::net::IpAddr::from([127, 0, 0, last]);

    let owner = site.browser_from(at(60));
    owner
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await
        .expect(303);
    let device = owner.cookies.lock().unwrap().get("apex_device").cloned();
    let device = device.expect("a device cookie after a sign-in");
    owner.post("/sign-out", &[]).await.expect(303);
    assert!(owner.has_cookie("apex_device"), "sign-out keeps the device");

    // A browser where another person signed in.
    let neighbour = site.browser_from(at(61));
    neighbour
        .post("/", &[("login", &other), ("password", PASSWORD)])
        .await
        .expect(303);
    neighbour.post("/sign-out", &[]).await.expect(303);

    let mut refused = 0;
    for last in 10..50 {
        let guesser = site.browser_from(at(last));
        for _ in 0..3 {
            let r = guesser
                .post("/", &[("login", &login), ("password", "Mauvais-Essai-1")])
                .await;
            assert!(r.status == 401 || r.status == 429, "{}", r.status);
            refused += u32::from(r.status == 429);
        }
    }
    assert!(refused > 0, "the login-wide limit tripped");

    let stranger = site.browser_from(at(70));
    let r = stranger
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await;
    r.expect(429).shows("Trop de tentatives");
    assert!(r.header("retry-after").parse::<u32>().unwrap() > 0);

    let forged = site.browser_from(at(71));
    let mut tampered = device.clone();
    tampered.pop();
    tampered.push(if device.ends_with('A') { 'B' } else { 'A' });
    forged
        .cookies
        .lock()
        .unwrap()
        .insert("apex_device".into(), tampered);
    forged
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await
        .expect(429);
    neighbour
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await
        .expect(429);

    let r = owner
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await;
    r.expect(303);
    assert_eq!(r.location(), "/applications");
    // Its own wrong passwords still count per source: the owner's browser is no
    // guessing machine either.
    for _ in 0..3 {
        owner
            .post("/", &[("login", &login), ("password", "Mauvais-Essai-2")])
            .await;
    }
    owner
        .post("/", &[("login", &login), ("password", PASSWORD)])
        .await
        .expect(429);
}

/// The device cookie is signed for the whole host under https: `__Host-`, Secure, no
/// Domain, and lasts beyond the session.
#[tokio::test]
async fn the_device_cookie_is_a_host_cookie_under_https() {
    let site = Site::start_at("https://apex.test").await;
    let b = site.browser();
    let r = b
        .post(
            "/",
            &[
                ("login", &site.person("durand").login),
                ("password", PASSWORD),
            ],
        )
        .await;
    r.expect(303);
    let device = r
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-apex_device="))
        .expect("the device cookie");
    assert!(
        device.contains("Secure") && device.contains("HttpOnly"),
        "{device}"
    );
    assert!(
        device.contains("Path=/") && !device.contains("Domain"),
        "{device}"
    );
    assert!(device.contains("Max-Age=15552000"), "{device}");
}

//! Back-Channel Logout 1.0: a tiny relying-party server on port 0 receives the logout
//! tokens; the catalogue that declares its URIs is written at test start.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apex_idp::catalogue::Catalogue;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::JsonWebKey;
use serde_json::Value;

use crate::fixture::{Browser, DEMO, EDDSA, ES256, FICOBA, Op, PASSWORD, Rp};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A logout token as a relying party received it.
#[derive(Debug, Clone)]
struct Received {
    /// The path segment the token came to (the client it was meant for).
    client: String,
    content_type: String,
    token: String,
}

/// The relying parties' back-channel endpoints: `POST /{client}/logout` records the
/// token; `POST /slow/logout` records it at once and answers after 30 s.
struct Receiver {
    base: String,
    got: Arc<Mutex<Vec<Received>>>,
    slow_answered: Arc<AtomicBool>,
}

/// What the receiver saw: the tokens, in their order of arrival, and whether the slow
/// endpoint answered yet.
#[derive(Clone, Default)]
struct Seen {
    got: Arc<Mutex<Vec<Received>>>,
    slow_answered: Arc<AtomicBool>,
}

async fn record(
    State(seen): State<Seen>,
    Path(client): Path<String>,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> StatusCode {
    let slow = client == "slow";
    let token = form
        .iter()
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.got.lock().unwrap().push(Received {
        client,
        content_type,
        token,
    });
    if slow {
        tokio::time::sleep(Duration::from_secs(30)).await;
        seen.slow_answered.store(true, Ordering::SeqCst);
    }
    StatusCode::OK
}

impl Receiver {
    async fn start() -> Receiver {
        let seen = Seen::default();
        let app = Router::new()
            .route("/{client}/logout", post(record))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver {
            base,
            got: seen.got,
            slow_answered: seen.slow_answered,
        }
    }

    fn uri(&self, client: &str) -> String {
        format!("{}/{client}/logout", self.base)
    }

    /// Waits until `n` tokens came (or 10 s), then returns what came.
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let start = Instant::now();
        while self.got.lock().unwrap().len() < n && start.elapsed() < Duration::from_secs(10) {
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        self.got.lock().unwrap().clone()
    }

    /// Everything that came before a later notice: Alice Martin signs in to DEMO and out
    /// again, and her logout token is awaited. The server sends a session's notices as
    /// it ends; once this later one is in, a notice sent earlier is in too, so what came
    /// before it is all that came (rather than what came within some sleep).
    async fn all_before_a_later_notice(&self, op: &Op) -> Vec<Received> {
        let before = self.got.lock().unwrap().len();
        let browser = op.browser();
        let t = tokens_in(op, &browser, DEMO, "martin").await;
        let url = format!(
            "{}?id_token_hint={}",
            op.url("/oidc/logout"),
            t["id_token"].as_str().unwrap()
        );
        assert_eq!(browser.get(&url).await.status, 200);
        let martin = op.person("martin").id;
        let start = Instant::now();
        loop {
            let got = self.got.lock().unwrap().clone();
            let later = got
                .iter()
                .position(|r| part(&r.token, 1)["sub"] == martin.as_str());
            if let Some(at) = later {
                assert_eq!(got.len(), at + 1, "nothing after the later notice: {got:?}");
                assert!(at >= before);
                return got.into_iter().take(at).collect();
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the later notice never came: {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Declares `uri` as the back-channel logout URI of a client.
fn declare(c: &mut Catalogue, rp: Rp, uri: String) {
    let app = c
        .applications
        .iter_mut()
        .find(|a| a.oidc.as_ref().is_some_and(|o| o.client_id == rp.client_id))
        .unwrap();
    app.oidc.as_mut().unwrap().backchannel_logout_uri = Some(uri);
}

/// A server where DEMO, FICOBA and ES256 declare a back-channel URI (EDDSA none).
async fn op_with(receiver: &Receiver) -> Op {
    let uris = [DEMO, FICOBA, ES256].map(|rp| (rp, receiver.uri(rp.client_id)));
    Op::start_with_catalogue(move |c| {
        for (rp, uri) in uris {
            declare(c, rp, uri);
        }
    })
    .await
}

fn part(token: &str, i: usize) -> Value {
    let p = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
}

/// Verifies a logout token as a relying party does (the JWKS and openidconnect's
/// signature check), and returns its claims.
async fn verify_logout_token(op: &Op, token: &str) -> (Value, Value) {
    let header = part(token, 0);
    let jwks = op.jwks().await;
    let kid = header["kid"].as_str().unwrap();
    let key = jwks
        .keys()
        .iter()
        .find(|k| k.key_id().map(|id| id.as_str()) == Some(kid))
        .expect("the signing key is published");
    let alg: openidconnect::core::CoreJwsSigningAlgorithm =
        serde_json::from_value(header["alg"].clone()).unwrap();
    let (signed, sig) = token.rsplit_once('.').unwrap();
    key.verify_signature(
        &alg,
        signed.as_bytes(),
        &URL_SAFE_NO_PAD.decode(sig).unwrap(),
    )
    .unwrap();
    (header, part(token, 1))
}

/// Signs `rp` in through the browser's session (or the form), exchanges the code and
/// returns the ID token's claims as JSON.
async fn sign_in(op: &Op, browser: &Browser, rp: Rp, who: &str) -> Value {
    let t = tokens_in(op, browser, rp, who).await;
    part(t["id_token"].as_str().unwrap(), 1)
}

#[tokio::test]
async fn rp_initiated_logout_sends_a_signed_logout_token_to_each_client_of_the_session() {
    let receiver = Receiver::start().await;
    let op = op_with(&receiver).await;
    let browser = op.browser();
    let durand = op.person("durand");
    let demo = sign_in(&op, &browser, DEMO, "durand").await;
    let ficoba = sign_in(&op, &browser, FICOBA, "durand").await;
    sign_in(&op, &browser, ES256, "durand").await;
    sign_in(&op, &browser, EDDSA, "durand").await;
    let sid = demo["sid"]
        .as_str()
        .expect("sid in the ID token")
        .to_owned();
    assert_eq!(ficoba["sid"], sid, "one session, one sid");
    // The hint is an ID token of DEMO (re-issued for logout).
    let flow = op.flow(DEMO, "openid", &[]);
    let code = flow.code(&browser.get(&flow.url).await);
    let (_, t) = op.exchange(DEMO, &code, &flow.verifier).await;
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A9000%2F&state=bye",
        op.url("/oidc/logout"),
        t["id_token"].as_str().unwrap()
    );
    let answer = browser.get(&url).await;
    assert_eq!(answer.status, 303, "{}", answer.body);
    let got = receiver.wait_for(3).await;
    let got_all = receiver.all_before_a_later_notice(&op).await;
    assert_eq!(got_all.len(), 3, "EDDSA declares no URI: {got_all:?}");
    let mut clients: Vec<&str> = got.iter().map(|r| r.client.as_str()).collect();
    clients.sort_unstable();
    assert_eq!(clients, ["demo", "es256", "ficoba"]);
    let mut jtis = Vec::new();
    for r in &got {
        assert_eq!(r.content_type, "application/x-www-form-urlencoded");
        let (header, claims) = verify_logout_token(&op, &r.token).await;
        let expected_alg = if r.client == "es256" {
            "ES256"
        } else {
            "RS256"
        };
        assert_eq!(header["alg"], expected_alg);
        assert_eq!(header["typ"], "logout+jwt");
        assert_eq!(claims["iss"], op.base);
        assert_eq!(claims["aud"], r.client.as_str());
        assert_eq!(claims["sub"], durand.id.as_str());
        assert_eq!(claims["sid"], sid.as_str());
        assert_eq!(claims["events"][EVENT], serde_json::json!({}));
        assert!(claims.get("nonce").is_none(), "a logout token has no nonce");
        assert!(claims["iat"].as_i64().unwrap() <= claims["exp"].as_i64().unwrap());
        jtis.push(claims["jti"].as_str().unwrap().to_owned());
    }
    jtis.sort();
    jtis.dedup();
    assert_eq!(jtis.len(), 3, "each token has its own jti");
}

#[tokio::test]
async fn discovery_announces_back_channel_logout_and_each_session_has_its_own_sid() {
    let op = Op::start().await;
    let meta = op.discovery().await;
    assert_eq!(meta["backchannel_logout_supported"], true);
    assert_eq!(meta["backchannel_logout_session_supported"], true);
    let one = sign_in(&op, &op.browser(), DEMO, "durand").await;
    let other = sign_in(&op, &op.browser(), DEMO, "durand").await;
    assert_ne!(one["sid"], Value::Null);
    assert_ne!(one["sid"], other["sid"]);
    // The sid is no userinfo claim.
    let (_, t) = op.tokens(DEMO, "durand", "openid apex").await;
    let (_, info) = op.userinfo(t["access_token"].as_str().unwrap()).await;
    assert!(info.get("sid").is_none(), "{info}");
    // A refreshed ID token keeps the session's sid.
    let first = part(t["id_token"].as_str().unwrap(), 1);
    let (st, r) = op.refresh(DEMO, t["refresh_token"].as_str().unwrap()).await;
    assert_eq!(st, 200, "{r}");
    assert_eq!(
        part(r["id_token"].as_str().unwrap(), 1)["sid"],
        first["sid"]
    );
}

#[tokio::test]
async fn a_slow_client_never_delays_the_logout() {
    let receiver = Receiver::start().await;
    let slow = receiver.uri("slow");
    let op = Op::start_with_catalogue(move |c| declare(c, DEMO, slow)).await;
    let browser = op.browser();
    sign_in(&op, &browser, DEMO, "durand").await;
    let flow = op.flow(DEMO, "openid", &[]);
    let code = flow.code(&browser.get(&flow.url).await);
    let (_, t) = op.exchange(DEMO, &code, &flow.verifier).await;
    let url = format!(
        "{}?id_token_hint={}",
        op.url("/oidc/logout"),
        t["id_token"].as_str().unwrap()
    );
    let start = Instant::now();
    let answer = browser.get(&url).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // The logout answered before the client did: its notice is sent (and is waited
    // for below), yet the client, which answers 30 s after it came, has not answered.
    assert!(
        !receiver.slow_answered.load(Ordering::SeqCst),
        "the logout waited {:?} for the client",
        start.elapsed()
    );
    assert!(
        start.elapsed() < Duration::from_secs(25),
        "{:?}",
        start.elapsed()
    );
    assert!(!browser.has_cookie("apex_sso"));
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "the slow client was told");
    assert!(!receiver.slow_answered.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_deletion_request_ends_the_accounts_sessions_and_tells_their_clients() {
    let receiver = Receiver::start().await;
    let op = op_with(&receiver).await;
    let dir = op.directory();
    let alice = op.actor("martin");
    // David awaits validation; Alice validates him; he signs in to an open client.
    let david = dir.validate(&alice, &op.person("leroy").id).await.unwrap();
    let browser = op.browser();
    let flow = op.flow(ES256, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let answer = browser
        .sign_in(&op, &page, david.login.as_deref().unwrap(), PASSWORD)
        .await;
    let code = flow.code(&answer);
    let (st, t) = op.exchange(ES256, &code, &flow.verifier).await;
    assert_eq!(st, 200, "{t}");
    let sid = part(t["id_token"].as_str().unwrap(), 1)["sid"].clone();
    // Another person's session is left alone.
    sign_in(&op, &op.browser(), DEMO, "durand").await;
    dir.request_deletion(&alice, &david.id).await.unwrap();
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].client, "es256");
    let (_, claims) = verify_logout_token(&op, &got[0].token).await;
    assert_eq!(claims["sub"], david.id.as_str());
    assert_eq!(claims["sid"], sid);
    let all = receiver.all_before_a_later_notice(&op).await;
    assert_eq!(all.len(), 1, "{all:?}");
}

#[tokio::test]
async fn signing_in_as_another_person_ends_the_previous_session_with_notice() {
    let receiver = Receiver::start().await;
    let op = op_with(&receiver).await;
    let browser = op.browser();
    let first = sign_in(&op, &browser, DEMO, "durand").await;
    // The same person signing in again keeps the session (and its sid): no notice.
    let again = op.flow(DEMO, "openid", &[("prompt", "login")]);
    let page = browser.get(&again.url).await;
    let answer = browser
        .sign_in(&op, &page, &op.person("durand").login, PASSWORD)
        .await;
    let code = again.code(&answer);
    let (_, t) = op.exchange(DEMO, &code, &again.verifier).await;
    assert_eq!(
        part(t["id_token"].as_str().unwrap(), 1)["sid"],
        first["sid"]
    );
    // Bruno signs in on the same browser: Chloé's session ends, DEMO is told.
    let other = op.flow(FICOBA, "openid", &[("prompt", "login")]);
    let page = browser.get(&other.url).await;
    let answer = browser
        .sign_in(&op, &page, &op.person("petit").login, PASSWORD)
        .await;
    other.code(&answer);
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (_, claims) = verify_logout_token(&op, &got[0].token).await;
    assert_eq!(claims["aud"], "demo");
    assert_eq!(claims["sub"], op.person("durand").id.as_str());
    assert_eq!(claims["sid"], first["sid"]);
}

/// Signs `rp` in through the browser's session (or the form); returns the token response.
async fn tokens_in(op: &Op, browser: &Browser, rp: Rp, who: &str) -> Value {
    let flow = op.flow(rp, "openid", &[]);
    let page = browser.get(&flow.url).await;
    let answer = if page.status == 200 {
        browser
            .sign_in(op, &page, &op.person(who).login, PASSWORD)
            .await
    } else {
        page
    };
    let (st, t) = op.exchange(rp, &flow.code(&answer), &flow.verifier).await;
    assert_eq!(st, 200, "{t}");
    t
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_token_families_and_tells_their_clients() {
    let receiver = Receiver::start().await;
    let op = op_with(&receiver).await;
    // Someone who learnt Chloé's password signs in to DEMO in his own browser.
    let thief = op.browser();
    let stolen = tokens_in(&op, &thief, DEMO, "durand").await;
    let thief_sid = part(stolen["id_token"].as_str().unwrap(), 1)["sid"].clone();
    // He also holds a code not yet redeemed.
    let pending = op.flow(DEMO, "openid", &[]);
    let pending_code = pending.code(&thief.get(&pending.url).await);
    // Chloé signs in to FICOBA in hers, then changes her password in the web space.
    let mine = op.browser();
    let before = tokens_in(&op, &mine, FICOBA, "durand").await;
    let form = mine.get(&op.url("/me/password")).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let new = "Nouvelle-Phrase-Secrete-61";
    let changed = mine
        .post(
            &op.url("/me/password"),
            &[
                ("csrf", &form.hidden("csrf")),
                ("current_password", PASSWORD),
                ("password", new),
                ("password_confirm", new),
            ],
        )
        .await;
    assert_eq!(changed.status, 303, "{}", changed.body);

    // At once, what the thief holds no longer works: the refresh token...
    let refresh = stolen["refresh_token"].as_str().unwrap();
    let (st, v) = op.refresh(DEMO, refresh).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    // ... the code issued before the change...
    let (st, v) = op.exchange(DEMO, &pending_code, &pending.verifier).await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    // ... the access token at userinfo and introspection...
    let access = stolen["access_token"].as_str().unwrap();
    assert_eq!(op.userinfo(access).await.0, 401);
    assert_eq!(op.introspect(DEMO, access).await["active"], false);
    // ... and the SSO cookie: no silent sign-in.
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let q = thief
        .get(&silent.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "login_required");
    // DEMO is told of the thief's session, and of nothing else.
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (_, claims) = verify_logout_token(&op, &got[0].token).await;
    assert_eq!(claims["aud"], "demo");
    assert_eq!(claims["sub"], op.person("durand").id.as_str());
    assert_eq!(claims["sid"], thief_sid);
    // Chloé's browser stays signed in: an application gets a code without a prompt.
    let again = op.flow(FICOBA, "openid", &[("prompt", "none")]);
    let code = again.code(&mine.get(&again.url).await);
    let (st, fresh) = op.exchange(FICOBA, &code, &again.verifier).await;
    assert_eq!(st, 200, "{fresh}");
    // A family issued before the change is refused too, hers included: a refresh
    // token may have been taken with the password; her browser signs FICOBA in again.
    let (st, v) = op
        .refresh(FICOBA, before["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        (st, v["error"].as_str()),
        (400, Some("invalid_grant")),
        "{v}"
    );
    let (st, v) = op
        .refresh(FICOBA, fresh["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(st, 200, "{v}");
    // The watch acted on the change in one look (the thief's notice came of it), and
    // her browser still signs in silently after it; nothing else was sent.
    let all = receiver.all_before_a_later_notice(&op).await;
    assert_eq!(all.len(), 1, "her session never ended: {all:?}");
}

#[tokio::test]
async fn sessions_a_stop_left_standing_after_a_password_change_end_at_start() {
    let receiver = Receiver::start().await;
    let mut op = op_with(&receiver).await;
    let thief = op.browser();
    let stolen = tokens_in(&op, &thief, DEMO, "durand").await;
    let thief_sid = part(stolen["id_token"].as_str().unwrap(), 1)["sid"].clone();
    // The password changes, and the server stops before its watch acts on it.
    let durand = op.person("durand");
    op.directory()
        .change_password(
            &durand.id,
            PASSWORD,
            "Nouvelle-Phrase-Secrete-62",
            std::net::Ipv4Addr::LOCALHOST.into(),
        )
        .await
        .unwrap();
    op.restart().await;
    // At start, the thief's session ends and DEMO is told.
    let got = receiver.wait_for(1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (_, claims) = verify_logout_token(&op, &got[0].token).await;
    assert_eq!(claims["sid"], thief_sid);
    let silent = op.flow(DEMO, "openid", &[("prompt", "none")]);
    let q = thief
        .get(&silent.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "login_required");
}

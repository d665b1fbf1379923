//! Negative cases, each its own test.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::fixture::{DEMO, FICOBA, Op, Rp, json_str};

#[tokio::test]
async fn a_wrong_redirect_uri_gets_an_error_page_never_a_redirect() {
    let op = Op::start().await;
    let evil = Rp {
        redirect_uri: "https://evil.example/callback",
        ..DEMO
    };
    let flow = op.flow(evil, "openid", &[]);
    let answer = op.browser().get(&flow.url).await;
    assert_eq!(answer.status, 400);
    assert!(answer.location().is_none());
    assert!(
        answer.body.contains("n'est pas enregistrée"),
        "{}",
        answer.body
    );
    // A registered URI with something appended is another URI.
    let longer = Rp {
        redirect_uri: "http://127.0.0.1:9000/callback/../x",
        ..DEMO
    };
    let answer = op.browser().get(&op.flow(longer, "openid", &[]).url).await;
    assert_eq!(answer.status, 400);
    // An unknown client too.
    let nobody = Rp {
        client_id: "nobody",
        ..DEMO
    };
    let answer = op.browser().get(&op.flow(nobody, "openid", &[]).url).await;
    assert_eq!(answer.status, 400);
    assert!(answer.location().is_none());
}

#[tokio::test]
async fn the_token_redirect_uri_must_be_the_authorization_ones() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    let (st, e) = op
        .token(
            DEMO,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://localhost:9000/callback"),
                ("code_verifier", &flow.verifier),
            ],
        )
        .await;
    assert_eq!((st, json_str(&e, "error")), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_wrong_client_secret_is_invalid_client() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    let wrong = Rp {
        secret: Some("not-the-secret"),
        ..DEMO
    };
    let (st, e) = op.exchange(wrong, &code, &flow.verifier).await;
    assert_eq!((st, json_str(&e, "error")), (401, "invalid_client".into()));
    // The code was not consumed by the failed attempt.
    let (st, _) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!(st, 200);
    // Another client's secret does not open this client.
    let mixed = Rp {
        secret: FICOBA.secret,
        ..DEMO
    };
    let (st, _) = op
        .token(mixed, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(st, 401);
}

#[tokio::test]
async fn a_replayed_code_is_refused_and_revokes_what_it_issued() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    let (st, t) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!(st, 200);
    assert_eq!(op.userinfo(&json_str(&t, "access_token")).await.0, 200);
    let (st, e) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!((st, json_str(&e, "error")), (400, "invalid_grant".into()));
    assert_eq!(op.userinfo(&json_str(&t, "access_token")).await.0, 401);
    let (st, _) = op.refresh(DEMO, &json_str(&t, "refresh_token")).await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn a_pkce_mismatch_is_refused() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    let other = crate::fixture::random(32);
    let (st, e) = op.exchange(DEMO, &code, &other).await;
    assert_eq!((st, json_str(&e, "error")), (400, "invalid_grant".into()));
    // Nor is a missing verifier accepted (with a fresh code).
    let flow = op.flow(DEMO, "openid", &[]);
    let code = flow.code(&browser.get(&flow.url).await);
    let (st, _) = op
        .token(
            DEMO,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", DEMO.redirect_uri),
            ],
        )
        .await;
    assert_eq!(st, 400);
}

#[tokio::test]
async fn an_expired_code_is_refused() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    op.clock.advance(61);
    let (st, e) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!((st, json_str(&e, "error")), (400, "invalid_grant".into()));
}

#[tokio::test]
async fn a_code_serves_only_the_client_it_was_issued_to() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    let (st, e) = op
        .token(
            FICOBA,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", DEMO.redirect_uri),
                ("code_verifier", &flow.verifier),
            ],
        )
        .await;
    assert_eq!((st, json_str(&e, "error")), (400, "invalid_grant".into()));
}

fn tamper(jwt: &str, change: impl FnOnce(&mut serde_json::Value)) -> String {
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    change(&mut claims);
    let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    format!("{}.{}.{}", parts[0], body, parts[2])
}

#[tokio::test]
async fn a_tampered_access_token_is_refused() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid apex").await;
    let at = json_str(&t, "access_token");
    // Verified once (and remembered), the genuine token does not vouch for a forgery.
    assert_eq!(op.userinfo(&at).await.0, 200);
    let forged = tamper(&at, |c| c["sub"] = op.person("martin").id.into());
    assert_eq!(op.userinfo(&forged).await.0, 401);
    assert_eq!(op.introspect(DEMO, &forged).await["active"], false);
    assert_eq!(op.userinfo(&at).await.0, 200);
}

#[tokio::test]
async fn a_token_signed_by_a_foreign_key_is_refused() {
    use apex_idp::oidc::keys::{self, Alg, KeyRing};
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let at = json_str(&t, "access_token");
    let parts: Vec<&str> = at.split('.').collect();
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    // Same claims, same kid even, signed by a key the issuer never made.
    let foreign: Vec<_> = Alg::ALL
        .iter()
        .map(|a| keys::generate(*a, 0).unwrap())
        .collect();
    let ring = KeyRing::from_records(&foreign).unwrap();
    let mine = apex_idp::oidc::jws::encode(&ring.signer(Alg::EdDSA, 0).unwrap(), "at+jwt", &claims)
        .unwrap();
    assert_eq!(op.userinfo(&mine).await.0, 401);
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let fake_header = serde_json::json!({"alg": "EdDSA", "kid": header["kid"], "typ": "at+jwt"});
    let mine_parts: Vec<&str> = mine.split('.').collect();
    let spoofed = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&fake_header).unwrap()),
        mine_parts[1],
        mine_parts[2]
    );
    assert_eq!(op.userinfo(&spoofed).await.0, 401);
    // HS256 with the public key or the client secret: not ours either.
    let hs_header = serde_json::json!({"alg": "HS256", "kid": header["kid"], "typ": "at+jwt"});
    let hs = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&hs_header).unwrap()),
        parts[1],
        parts[2]
    );
    assert_eq!(op.userinfo(&hs).await.0, 401);
}

/// The header and claims of a JWT, decoded.
fn header_and_claims(jwt: &str) -> (serde_json::Value, serde_json::Value) {
    let parts: Vec<&str> = jwt.split('.').collect();
    let decode = |part: &str| -> serde_json::Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    (decode(parts[0]), decode(parts[1]))
}

/// `header.claims`, base64url, as a JWS signs them.
fn signing_input(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    )
}

/// A JWS of `claims` under `header` (its alg RS256 or ES256), signed by a key of that
/// algorithm the issuer never made.
fn signed_by_a_foreign_key(header: &serde_json::Value, claims: &serde_json::Value) -> String {
    use apex_idp::oidc::keys::{self, Alg};
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    };
    let rng = ring::rand::SystemRandom::new();
    let alg = match header["alg"].as_str().unwrap() {
        "RS256" => Alg::RS256,
        "ES256" => Alg::ES256,
        other => panic!("no forgery for {other}"),
    };
    let foreign = keys::generate(alg, 0).unwrap();
    assert_ne!(foreign.kid, header["kid"].as_str().unwrap());
    let der = serde_json::to_value(&foreign).unwrap()["pkcs8"]
        .as_str()
        .map(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
        })
        .unwrap();
    let input = signing_input(header, claims);
    let signature = match alg {
        Alg::RS256 => {
            let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
            let mut out = vec![0; pair.public().modulus_len()];
            pair.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut out)
                .unwrap();
            out
        }
        _ => EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
            .unwrap()
            .sign(&rng, input.as_bytes())
            .unwrap()
            .as_ref()
            .to_vec(),
    };
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// The issuer's published key of algorithm `alg`.
async fn published_key(op: &Op, alg: &str) -> serde_json::Value {
    let jwks: serde_json::Value = op
        .http
        .get(op.url("/oidc/jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["alg"] == alg)
        .unwrap()
        .clone()
}

/// Neither userinfo nor introspection takes `token`.
async fn refused_everywhere(op: &Op, token: &str, what: &str) {
    let (status, body) = op.userinfo(token).await;
    assert_eq!(status, 401, "userinfo took {what}: {body}");
    let answer = op.introspect(DEMO, token).await;
    assert_eq!(
        answer["active"], false,
        "introspection took {what}: {answer}"
    );
}

/// Neither logout nor a silent authorization takes `hint` as an ID token hint.
async fn refused_as_id_token_hint(op: &Op, hint: &str) {
    let url = format!(
        "{}?id_token_hint={hint}&post_logout_redirect_uri=http://127.0.0.1:9000/",
        op.url("/oidc/logout"),
    );
    let answer = op.browser().get(&url).await;
    assert_eq!(answer.status, 400, "logout took the hint");
    assert!(answer.location().is_none());
    let flow = op.flow(
        DEMO,
        "openid",
        &[("id_token_hint", hint), ("prompt", "none")],
    );
    let q = op
        .browser()
        .get(&flow.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "invalid_request");
}

#[tokio::test]
async fn a_token_signed_by_a_foreign_key_under_the_issuer_s_own_kid_is_refused() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let at = json_str(&t, "access_token");
    assert_eq!(op.userinfo(&at).await.0, 200, "the genuine token works");
    // Well-formed signatures of the right algorithm, by keys the issuer never made,
    // under the kids of the issuer's own keys: the header alone cannot tell them apart.
    let (header, claims) = header_and_claims(&at);
    let same_alg = signed_by_a_foreign_key(&header, &claims);
    refused_everywhere(&op, &same_alg, "a foreign key under the token's kid").await;
    let rsa = published_key(&op, "RS256").await;
    let rsa_header = serde_json::json!({"alg": "RS256", "kid": rsa["kid"], "typ": header["typ"]});
    let foreign_rsa = signed_by_a_foreign_key(&rsa_header, &claims);
    refused_everywhere(&op, &foreign_rsa, "a foreign RSA key under the RSA kid").await;
    // The ID token (RS256 for DEMO) forged the same way is no hint either.
    let (id_header, id_claims) = header_and_claims(&json_str(&t, "id_token"));
    assert_eq!(id_header["alg"], "RS256");
    assert_eq!(id_header["kid"], rsa["kid"]);
    refused_as_id_token_hint(&op, &signed_by_a_foreign_key(&id_header, &id_claims)).await;
    assert_eq!(op.userinfo(&at).await.0, 200);
    // The genuine ID token is a hint logout takes: the refusals above are the forgeries'.
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri=http://127.0.0.1:9000/",
        op.url("/oidc/logout"),
        json_str(&t, "id_token"),
    );
    let answer = op.browser().get(&url).await;
    assert!(answer.location().is_some(), "{}", answer.status);
}

#[tokio::test]
async fn an_hs256_token_keyed_with_the_issuer_s_public_key_is_refused() {
    use rsa::pkcs1::EncodeRsaPublicKey;
    use rsa::pkcs8::{EncodePublicKey, LineEnding};
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let at = json_str(&t, "access_token");
    let (header, claims) = header_and_claims(&at);
    let (id_header, id_claims) = header_and_claims(&json_str(&t, "id_token"));
    // The issuer's public RSA key, as anyone reads it from the JWKS.
    let jwk = published_key(&op, "RS256").await;
    let number = |name: &str| {
        rsa::BigUint::from_bytes_be(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap())
    };
    let public = rsa::RsaPublicKey::new(number("n"), number("e")).unwrap();
    // Every form of those public bytes a confused verifier might take as the HMAC secret.
    let secrets: Vec<(&str, Vec<u8>)> = vec![
        (
            "SPKI DER",
            public.to_public_key_der().unwrap().as_bytes().to_vec(),
        ),
        (
            "SPKI PEM",
            public
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
                .into_bytes(),
        ),
        (
            "PKCS#1 DER",
            public.to_pkcs1_der().unwrap().as_bytes().to_vec(),
        ),
        (
            "PKCS#1 PEM",
            public.to_pkcs1_pem(LineEnding::LF).unwrap().into_bytes(),
        ),
        ("JWK", serde_json::to_vec(&jwk).unwrap()),
        (
            "modulus",
            URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
        ),
    ];
    let hmac = |kid: &serde_json::Value, typ: &serde_json::Value, claims, secret: &[u8]| {
        let hs = serde_json::json!({"alg": "HS256", "kid": kid, "typ": typ});
        let input = signing_input(&hs, claims);
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
        let tag = ring::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    };
    for (form, secret) in &secrets {
        for kid in [&header["kid"], &jwk["kid"]] {
            let forged = hmac(kid, &header["typ"], &claims, secret);
            refused_everywhere(&op, &forged, &format!("HS256 keyed with the {form}")).await;
        }
        let hint = hmac(&id_header["kid"], &id_header["typ"], &id_claims, secret);
        refused_as_id_token_hint(&op, &hint).await;
    }
    assert_eq!(
        op.userinfo(&at).await.0,
        200,
        "the genuine token still works"
    );
}

#[tokio::test]
async fn an_unsigned_id_token_hint_is_refused() {
    let op = Op::start().await;
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let id_token = json_str(&t, "id_token");
    let parts: Vec<&str> = id_token.split('.').collect();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
        parts[1]
    );
    let url = format!(
        "{}?id_token_hint={}&post_logout_redirect_uri={}",
        op.url("/oidc/logout"),
        none,
        "http://127.0.0.1:9000/"
    );
    let answer = op.browser().get(&url).await;
    assert_eq!(answer.status, 400);
    assert!(answer.location().is_none());
    // At the authorization endpoint too.
    let flow = op.flow(
        DEMO,
        "openid",
        &[("id_token_hint", &none), ("prompt", "none")],
    );
    let q = op
        .browser()
        .get(&flow.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "invalid_request");
}

#[tokio::test]
async fn malformed_token_requests_get_oauth_errors() {
    let op = Op::start().await;
    let resp = op
        .http
        .post(op.url("/oidc/token"))
        .body("{}")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"], "invalid_request");
    let (st, e) = op
        .token(DEMO, &[("grant_type", "authorization_code"), ("code", "x")])
        .await;
    assert_eq!((st, json_str(&e, "error")), (400, "invalid_request".into()));
}

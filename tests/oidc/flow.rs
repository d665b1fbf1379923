//! The authorization code flow with PKCE, ID tokens for each algorithm, claims.

use openidconnect::{AccessToken, AccessTokenHash, JsonWebKey};

use crate::fixture::{DEMO, EDDSA, ES256, FICOBA, MOBILE, Op, Rp};

async fn flow_for(op: &Op, rp: Rp, who: &str) {
    let (flow, tokens) = op.tokens(rp, who, "openid profile email apex").await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert!(tokens["expires_in"].as_u64().unwrap() > 0);
    assert!(tokens["refresh_token"].is_string());
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims = op.verify_id_token(rp, id_token, &flow.nonce).await;
    let person = op.person(who);
    assert_eq!(claims.subject().as_str(), person.id);
    assert_eq!(claims.audiences()[0].as_str(), rp.client_id);
    assert!(claims.auth_time().is_some());
    assert_eq!(claims.auth_context_ref().unwrap().as_str(), "eidas1");
    assert_eq!(claims.auth_method_refs().unwrap()[0].as_str(), "pwd");
    // at_hash binds the access token to the ID token.
    let token: apex_idp::oidc::ApexIdToken = id_token.parse().unwrap();
    let alg = token.signing_alg().unwrap().clone();
    let jwks = op.jwks().await;
    let kid = token_kid(id_token);
    let key = jwks
        .keys()
        .iter()
        .find(|k| k.key_id().map(|k| k.as_str()) == Some(kid.as_str()))
        .unwrap();
    let expected = AccessTokenHash::from_token(
        &AccessToken::new(tokens["access_token"].as_str().unwrap().to_owned()),
        &alg,
        key,
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected));
    assert_eq!(alg, rp.alg.jws());
}

fn token_kid(jwt: &str) -> String {
    use base64::Engine;
    let header = jwt.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn code_flow_with_pkce_gives_a_verified_rs256_id_token() {
    let op = Op::start().await;
    flow_for(&op, DEMO, "durand").await;
}

#[tokio::test]
async fn code_flow_with_pkce_gives_a_verified_es256_id_token() {
    let op = Op::start().await;
    flow_for(&op, ES256, "bernard").await;
}

#[tokio::test]
async fn code_flow_with_pkce_gives_a_verified_eddsa_id_token() {
    let op = Op::start().await;
    flow_for(&op, EDDSA, "bernard").await;
}

#[tokio::test]
async fn claims_follow_the_contract_for_each_role() {
    let op = Op::start().await;
    // administrateur (DEMO:UTILISATEUR, no service), collaborateur (service Comptabilité).
    for (who, role, has_service) in [
        ("martin", "administrateur", false),
        ("durand", "collaborateur", true),
    ] {
        let (flow, tokens) = op.tokens(DEMO, who, "openid apex").await;
        let claims = op
            .verify_id_token(DEMO, tokens["id_token"].as_str().unwrap(), &flow.nonce)
            .await;
        let apex = claims.additional_claims();
        assert_eq!(apex.apex_role.as_deref(), Some(role));
        assert_eq!(apex.siret.as_deref(), Some("73282932000074"));
        assert_eq!(apex.structure.as_deref(), Some("Cabinet Martin & Associés"));
        assert_eq!(apex.structure_category.as_deref(), Some("CSP"));
        assert_eq!(apex.service_id.is_some(), has_service);
        assert_eq!(apex.service.is_some(), has_service);
        assert_eq!(
            apex.profiles.as_deref(),
            Some(&["DEMO:UTILISATEUR".to_owned()][..])
        );
        assert_eq!(
            claims.preferred_username().unwrap().as_str(),
            op.person(who).login
        );
        assert_eq!(
            apex.usual_name.as_deref(),
            claims.family_name().unwrap().get(None).map(|f| f.as_str())
        );
        assert!(claims.email().is_some());
        let (s, info) = op.userinfo(tokens["access_token"].as_str().unwrap()).await;
        assert_eq!(s, 200, "{info}");
        assert_eq!(info["sub"], op.person(who).id);
        assert_eq!(info["apex_role"], role);
        assert_eq!(info["profiles"], serde_json::json!(["DEMO:UTILISATEUR"]));
        assert_eq!(info["siret"], "73282932000074");
        assert_eq!(info["usual_name"], info["family_name"]);
        // When and how the person signed in, as in the ID token.
        assert_eq!(
            info["auth_time"].as_i64(),
            claims.auth_time().map(|t| t.timestamp())
        );
        assert_eq!(
            info["acr"].as_str(),
            claims.auth_context_ref().map(|a| a.as_str())
        );
        let amr: Vec<String> = claims
            .auth_method_refs()
            .unwrap()
            .iter()
            .map(|m| m.to_string())
            .collect();
        assert_eq!(info["amr"], serde_json::json!(amr));
    }
    // responsable, through FICOBA.
    let (_, tokens) = op.tokens(FICOBA, "petit", "openid apex").await;
    let (_, info) = op.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info["apex_role"], "responsable");
    assert_eq!(info["service"], "Comptabilité");
    assert_eq!(info["profiles"], serde_json::json!(["FICOBA:CONSULTATION"]));
}

#[tokio::test]
async fn profiles_are_limited_to_the_requesting_clients_application() {
    let op = Op::start().await;
    // Chloé holds FICOBA:CONSULTATION and DEMO:UTILISATEUR.
    let (_, demo) = op.tokens(DEMO, "durand", "openid apex").await;
    let (_, info) = op.userinfo(demo["access_token"].as_str().unwrap()).await;
    assert_eq!(info["profiles"], serde_json::json!(["DEMO:UTILISATEUR"]));
    let (_, ficoba) = op.tokens(FICOBA, "durand", "openid apex").await;
    let (_, info) = op.userinfo(ficoba["access_token"].as_str().unwrap()).await;
    assert_eq!(info["profiles"], serde_json::json!(["FICOBA:CONSULTATION"]));
    let (_, open) = op.tokens(ES256, "durand", "openid apex").await;
    let (_, info) = op.userinfo(open["access_token"].as_str().unwrap()).await;
    assert_eq!(info["profiles"], serde_json::json!([]));
}

#[tokio::test]
async fn scopes_decide_the_claims() {
    let op = Op::start().await;
    let (_, tokens) = op.tokens(DEMO, "durand", "openid").await;
    let (_, info) = op.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.as_object().unwrap().len(), 1, "only sub: {info}");
    let (_, tokens) = op.tokens(DEMO, "durand", "openid email").await;
    let (_, info) = op.userinfo(tokens["access_token"].as_str().unwrap()).await;
    assert!(info["email"].is_string());
    assert!(info.get("siret").is_none());
}

#[tokio::test]
async fn userinfo_answers_get_and_post() {
    let op = Op::start().await;
    let (_, tokens) = op.tokens(DEMO, "durand", "openid apex").await;
    let at = tokens["access_token"].as_str().unwrap();
    let resp = op
        .http
        .post(op.url("/oidc/userinfo"))
        .bearer_auth(at)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = op
        .http
        .post(op.url("/oidc/userinfo"))
        .form(&[("access_token", at)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["sub"], op.person("durand").id);
    let resp = op.http.get(op.url("/oidc/userinfo")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert!(
        resp.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn access_tokens_are_rfc_9068_jwts() {
    let op = Op::start().await;
    let (_, tokens) = op.tokens(DEMO, "durand", "openid apex").await;
    use base64::Engine;
    let at = tokens["access_token"].as_str().unwrap();
    let parts: Vec<&str> = at.split('.').collect();
    assert_eq!(parts.len(), 3);
    let decode = |p: &str| -> serde_json::Value {
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .unwrap(),
        )
        .unwrap()
    };
    let (h, c) = (decode(parts[0]), decode(parts[1]));
    assert_eq!(h["typ"], "at+jwt");
    assert_eq!(
        h["alg"], "ES256",
        "access tokens are ES256 whatever the ID token's algorithm"
    );
    assert_eq!(c["iss"], op.base);
    assert_eq!(c["client_id"], "demo");
    assert_eq!(c["sub"], op.person("durand").id);
    assert!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap() <= 3600);
    assert_eq!(c["profiles"], serde_json::json!(["DEMO:UTILISATEUR"]));
    assert!(c["jti"].is_string());
}

#[tokio::test]
async fn form_post_answers_with_a_form_that_works_without_javascript() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[("response_mode", "form_post")]);
    let page = browser.get(&flow.url).await;
    let answer = browser
        .sign_in(
            &op,
            &page,
            &op.person("durand").login,
            crate::fixture::PASSWORD,
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer
            .body
            .contains(&format!("action=\"{}\"", DEMO.redirect_uri))
    );
    assert!(answer.body.contains("type=\"submit\""));
    assert_eq!(answer.hidden("state"), flow.state);
    let code = answer.hidden("code");
    let (s, v) = op.exchange(DEMO, &code, &flow.verifier).await;
    assert_eq!(s, 200, "{v}");
}

#[tokio::test]
async fn public_client_signs_in_with_pkce_and_without_secret() {
    let op = Op::start().await;
    let (flow, tokens) = op.tokens(MOBILE, "durand", "openid").await;
    assert!(tokens["id_token"].is_string());
    let _ = flow;
    // Without PKCE, a public client is refused at its redirect URI.
    let url = format!(
        "{}?response_type=code&client_id=mobile&redirect_uri={}&scope=openid&state=xyz",
        op.url("/oidc/authorize"),
        MOBILE.redirect_uri
    );
    let answer = op.browser().get(&url).await;
    let q = answer.redirect_query(MOBILE.redirect_uri);
    assert_eq!(q["error"], "invalid_request");
    assert_eq!(q["state"], "xyz");
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let op = Op::start().await;
    let browser = op.browser();
    let flow = op.flow(DEMO, "openid", &[]);
    let code = op.code_for(&browser, &flow, &op.person("durand")).await;
    let resp = op
        .http
        .post(op.url("/oidc/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", DEMO.redirect_uri),
            ("code_verifier", &flow.verifier),
            ("client_id", "demo"),
            ("client_secret", "demo-client-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

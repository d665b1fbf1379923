//! Discovery and JWKS.

use apex_idp::oidc::ApexProviderMetadataDocument;
use openidconnect::core::CoreJwsSigningAlgorithm;

use crate::fixture::Op;

#[tokio::test]
async fn discovery_names_every_endpoint_under_the_issuer_and_is_cacheable() {
    let op = Op::start().await;
    let resp = op
        .http
        .get(op.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cache = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    assert!(cache.contains("max-age"), "{cache}");
    let text = resp.text().await.unwrap();
    let meta: ApexProviderMetadataDocument = serde_json::from_str(&text).unwrap();
    assert_eq!(meta.issuer().as_str(), op.base);
    assert_eq!(
        meta.authorization_endpoint().as_str(),
        op.url("/oidc/authorize")
    );
    assert_eq!(
        meta.token_endpoint().unwrap().as_str(),
        op.url("/oidc/token")
    );
    assert_eq!(
        meta.userinfo_endpoint().unwrap().as_str(),
        op.url("/oidc/userinfo")
    );
    assert_eq!(meta.jwks_uri().as_str(), op.url("/oidc/jwks"));
    let extra = meta.additional_metadata();
    assert_eq!(extra.end_session_endpoint, op.url("/oidc/logout"));
    assert_eq!(extra.introspection_endpoint, op.url("/oidc/introspect"));
    assert_eq!(extra.revocation_endpoint, op.url("/oidc/revoke"));
    assert_eq!(extra.code_challenge_methods_supported, vec!["S256"]);
    let algs = meta.id_token_signing_alg_values_supported();
    for alg in [
        CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        CoreJwsSigningAlgorithm::EdDsa,
    ] {
        assert!(algs.contains(&alg), "{alg:?}");
    }
    let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
    for scope in ["openid", "profile", "email", "apex"] {
        assert!(
            raw["scopes_supported"]
                .as_array()
                .unwrap()
                .contains(&scope.into())
        );
    }
}

#[tokio::test]
async fn jwks_publishes_one_key_per_algorithm_with_kid_and_alg() {
    let op = Op::start().await;
    let resp = op.http.get(op.url("/oidc/jwks")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let v: serde_json::Value = resp.json().await.unwrap();
    let keys = v["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    let mut seen: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, vec!["ES256", "EdDSA", "RS256"]);
    for k in keys {
        assert!(k["kid"].is_string());
        assert_eq!(k["use"], "sig");
        assert!(k.get("d").is_none(), "no private part");
    }
    // openidconnect reads it too.
    let set = op.jwks().await;
    assert_eq!(set.keys().len(), 3);
}

#[tokio::test]
async fn keys_survive_a_restart_of_the_store() {
    use apex_idp::oidc::keys::{self, Alg, KeyRing};
    use apex_idp::store::table::FaceState;
    let dir = tempfile::tempdir().unwrap();
    let kids = |ring: &KeyRing| -> Vec<String> {
        Alg::ALL
            .iter()
            .map(|alg| ring.signer(*alg, 10).unwrap().kid().to_owned())
            .collect()
    };
    let first = {
        let state = FaceState::open_at(dir.path()).unwrap();
        let table = state.table(keys::TREE).unwrap();
        let ring = keys::load_or_generate(&table, 0).unwrap();
        table.flush().unwrap();
        assert!(
            FaceState::open_at(dir.path()).is_err(),
            "an open store is locked: opening it again below proves it was closed"
        );
        kids(&ring)
    };
    let reopened = FaceState::open_at(dir.path()).unwrap();
    let again = keys::load_or_generate(&reopened.table(keys::TREE).unwrap(), 10).unwrap();
    assert_eq!(
        first,
        kids(&again),
        "the same keys, read back, none generated"
    );
}

#[tokio::test]
async fn the_jwks_is_the_same_after_a_restart_of_the_server() {
    let mut op = Op::start().await;
    let kids = |v: serde_json::Value| -> Vec<String> {
        let mut kids: Vec<String> = v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        kids.sort();
        kids
    };
    let get = async |op: &Op| -> serde_json::Value {
        let resp = op.http.get(op.url("/oidc/jwks")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    };
    let before = kids(get(&op).await);
    // The store is closed and opened again, the keys read back from it.
    op.restart().await;
    let after = kids(get(&op).await);
    assert_eq!(before.len(), 3);
    assert_eq!(before, after);
}

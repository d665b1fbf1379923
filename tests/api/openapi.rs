//! The OpenAPI document and the router agree, and the document covers CONTRACT.md.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::fixture::Fixture;

/// The routes of CONTRACT.md's API table, under `/api/v1`.
const CONTRACT: &[(&str, &str)] = &[
    ("POST", "/sessions"),
    ("GET", "/structure"),
    ("GET", "/me"),
    ("GET", "/me/export"),
    ("PATCH", "/me"),
    ("POST", "/me/password"),
    ("GET", "/me/applications"),
    ("POST", "/services"),
    ("PATCH", "/services/{id}"),
    ("DELETE", "/services/{id}"),
    ("POST", "/services/{id}/merge"),
    ("POST", "/transfers"),
    ("POST", "/accounts"),
    ("GET", "/accounts"),
    ("POST", "/accounts/{id}/validate"),
    ("POST", "/accounts/{id}/reject"),
    ("POST", "/accounts/{id}/resend-identifier"),
    ("POST", "/accounts/{id}/deletion-request"),
    ("PUT", "/accounts/{id}/habilitations/{profile}"),
    ("DELETE", "/accounts/{id}/habilitations/{profile}"),
    ("PUT", "/accounts/{id}/delegations/{profile}"),
    ("DELETE", "/accounts/{id}/delegations/{profile}"),
    ("GET", "/audit"),
    ("GET", "/invitations/{token}"),
    ("POST", "/invitations/{token}"),
    ("POST", "/password-resets"),
    ("POST", "/password-resets/{token}"),
    ("GET", "/operator/structures"),
    ("POST", "/operator/structures"),
    ("POST", "/operator/structures/{id}/administrateurs"),
];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// A path with every `{param}` written `{}`, so that parameter names do not matter.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') && seg.ends_with('}') {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A concrete path: dummy values for the parameters (`A:B` for a profile).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| match seg {
            "{profile}" => "A:B",
            s if s.starts_with('{') && s.ends_with('}') => "x",
            s => s,
        })
        .collect::<Vec<_>>()
        .join("/")
}

async fn document(f: &Fixture) -> Value {
    let r = f.send_raw(None, "GET", "/api/openapi.json", None).await;
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.header("content-type").starts_with("application/json"),
        "{r:?}"
    );
    r.body
}

/// Every (method, path) the document describes.
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.to_uppercase(), path.clone(), op.clone()));
        }
    }
    out
}

#[tokio::test]
async fn openapi_document_is_3_1_and_describes_each_operation() {
    let f = Fixture::start().await;
    let doc = document(&f).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let ops = operations(&doc);
    assert!(ops.len() >= CONTRACT.len());
    let mut ids = BTreeSet::new();
    for (method, path, op) in &ops {
        assert!(METHODS.contains(&method.as_str()), "{method} {path}");
        assert!(path.starts_with("/api/v1/"), "{path}");
        assert!(
            ids.insert(op["operationId"].to_string()),
            "unique operationId"
        );
        assert!(op["summary"].is_string(), "{method} {path}");
        let declared: BTreeSet<String> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_owned())
            .collect();
        let templated: BTreeSet<String> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(str::to_owned)
            .collect();
        assert_eq!(declared, templated, "{method} {path}: path parameters");
        let responses = op["responses"].as_object().unwrap();
        assert!(
            responses.keys().any(|k| k.starts_with('2')),
            "{method} {path}: a success response"
        );
        for p in op["parameters"].as_array().unwrap() {
            assert_eq!(p["required"], true, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn every_contract_route_is_documented() {
    let f = Fixture::start().await;
    let doc = document(&f).await;
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|(m, p, _)| (m, shape(&p)))
        .collect();
    let missing: Vec<String> = CONTRACT
        .iter()
        .filter(|(m, p)| !documented.contains(&((*m).to_owned(), shape(&format!("/api/v1{p}")))))
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the OpenAPI document: {missing:?}"
    );
}

#[tokio::test]
async fn every_documented_route_exists_and_no_other_method_does() {
    let f = Fixture::start().await;
    let doc = document(&f).await;
    let ops = operations(&doc);

    // The router's fallback, as a control: an undocumented path.
    let r = f.send_raw(None, "GET", "/api/v1/undocumented", None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["type"], "urn:apex-idp:problem:not-found");

    for (method, path, _) in &ops {
        let url = concrete(path);
        let body = matches!(method.as_str(), "POST" | "PUT" | "PATCH")
            .then(|| ("application/json", b"{}".to_vec()));
        let r = f.send_raw(None, method, &url, body).await;
        assert_ne!(r.status, 405, "{method} {url}: method not routed: {r:?}");
        let fallback = r.status == 404 && r.body["type"] == "urn:apex-idp:problem:not-found";
        assert!(!fallback, "{method} {url}: path not routed: {r:?}");
        assert!(r.status < 500, "{method} {url}: {r:?}");
    }

    // Conversely, a method the document does not list for a path is not served.
    let paths: BTreeSet<&String> = ops.iter().map(|(_, p, _)| p).collect();
    for path in paths {
        for method in METHODS {
            if ops.iter().any(|(m, p, _)| m == method && p == path) {
                continue;
            }
            let url = concrete(path);
            let r = f.send_raw(None, method, &url, None).await;
            assert_eq!(
                r.status, 405,
                "{method} {url} is served but undocumented: {r:?}"
            );
            assert_eq!(
                r.header("content-type"),
                "application/problem+json",
                "{r:?}"
            );
            assert_eq!(
                r.body["type"], "urn:apex-idp:problem:method-not-allowed",
                "{r:?}"
            );
            let allow = r.header("allow");
            for (m, _, _) in ops.iter().filter(|(_, p, _)| p == path) {
                assert!(
                    allow.contains(m.as_str()),
                    "{method} {url}: Allow lists {m}: {r:?}"
                );
            }
        }
    }
}

//! Bad input of every kind is refused with the right status and a problem document,
//! and a refused write changes nothing: neither the audit log nor what the structure
//! or the operator sees.

use serde_json::{Value, json};

use crate::fixture::{Fixture, OPERATOR_TOKEN, Person, RawReply};

const JSON: &str = "application/json";
const PROBLEM: &str = "application/problem+json";

/// A structure with an administrateur, a service, an active collaborateur and an
/// invited one.
struct Scene {
    f: Fixture,
    sid: String,
    admin: Person,
    svc: String,
    collab: Person,
    invited: Person,
}

async fn scene() -> Scene {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Cabinet Entrées").await;
    let admin = f.admin(&sid, "Agnès", "Admin").await;
    let svc = f.service(&admin, "Paie").await;
    let collab = f
        .member(&admin, &admin, "collaborateur", &svc, "Carl", "Collab")
        .await;
    let invited = f
        .invite(&admin, "collaborateur", &svc, "Inès", "Invitée")
        .await;
    Scene {
        f,
        sid,
        admin,
        svc,
        collab,
        invited,
    }
}

/// Everything a refused write must leave untouched.
#[derive(Debug, PartialEq)]
struct State {
    audit_events: u64,
    structure: Value,
    structures: Value,
}

impl Scene {
    async fn state(&self) -> State {
        let (audit_events, intact) = self.f.audit_chain().await;
        assert!(intact, "the audit chain is intact");
        let (s, structure) = self
            .f
            .call(Some(&self.admin.token), "GET", "/structure", None)
            .await;
        assert_eq!(s, 200, "{structure}");
        let (s, structures) = self.f.op("GET", "/operator/structures", None).await;
        assert_eq!(s, 200, "{structures}");
        State {
            audit_events,
            structure,
            structures,
        }
    }

    /// Sends a write that must be refused with `status` (and `rule`, when given), as a
    /// problem document, and checks that nothing changed.
    async fn refused(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
        status: u16,
        rule: Option<&str>,
    ) -> RawReply {
        let before = self.state().await;
        let sent = body
            .as_ref()
            .map(|(ct, b)| format!("{ct} {}", String::from_utf8_lossy(&b[..b.len().min(200)])));
        let reply = self
            .f
            .send_raw(token, method, &format!("/api/v1{path}"), body)
            .await;
        assert_eq!(
            reply.status, status,
            "{method} {path} {sent:?}: expected {status}, got {reply:?}"
        );
        assert_eq!(reply.header("content-type"), PROBLEM, "{method} {path}");
        assert_eq!(reply.body["status"], status, "{reply:?}");
        if let Some(rule) = rule {
            assert_eq!(
                reply.body["type"],
                format!("urn:apex-idp:problem:{rule}"),
                "{method} {path}: {reply:?}"
            );
        }
        let after = self.state().await;
        assert_eq!(before, after, "{method} {path} changed something");
        reply
    }

    /// As [`Scene::refused`], with a JSON body.
    async fn refused_json(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Value,
        status: u16,
        rule: Option<&str>,
    ) -> RawReply {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.refused(token, method, path, Some((JSON, bytes)), status, rule)
            .await
    }

    /// As [`Scene::refused_json`], for a structure the operator creates.
    async fn refused_structure(&self, body: Value, status: u16, rule: &str) -> RawReply {
        let path = "/operator/structures";
        self.refused_json(Some(OPERATOR_TOKEN), "POST", path, body, status, Some(rule))
            .await
    }

    /// A request without body (`path` from the server root) that must be answered with
    /// a problem document of `status`; nothing else is checked.
    async fn problem(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        status: u16,
    ) -> RawReply {
        let r = self.f.send_raw(token, method, path, None).await;
        assert_eq!(
            (r.status, r.header("content-type")),
            (status, PROBLEM),
            "{method} {path}: {r:?}"
        );
        r
    }
}

fn raw(text: &str) -> Option<(&'static str, Vec<u8>)> {
    Some((JSON, text.as_bytes().to_vec()))
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let sc = scene().await;
    let admin = Some(sc.admin.token.as_str());
    for text in [
        "{\"name\": ",
        "{name: \"Achats\"}",
        "{\"name\": \"Achats\",}",
        "{\"name\": \"Achats\"} trailing",
        "",
    ] {
        sc.refused(admin, "POST", "/services", raw(text), 400, None)
            .await;
    }
    let invalid_utf8 = Some((JSON, b"{\"name\": \"\xff\xfe\"}".to_vec()));
    sc.refused(admin, "POST", "/services", invalid_utf8, 400, None)
        .await;
    let r = sc
        .refused(
            None,
            "POST",
            "/sessions",
            raw("{\"login\""),
            400,
            Some("malformed-json"),
        )
        .await;
    assert!(r.body["detail"].is_string());
    sc.refused(
        Some(OPERATOR_TOKEN),
        "POST",
        "/operator/structures",
        raw("[\"35600000049837\""),
        400,
        Some("malformed-json"),
    )
    .await;
}

#[tokio::test]
async fn wrong_types_missing_and_unknown_fields_are_422() {
    let sc = scene().await;
    let admin = Some(sc.admin.token.as_str());
    for body in [
        json!({"name": 5}),
        json!({"name": null}),
        json!({"name": ["Achats"]}),
        json!({}),
        json!({"name": "Achats", "budget": 1}),
        json!(["Achats"]),
        json!("Achats"),
        json!(null),
    ] {
        sc.refused_json(admin, "POST", "/services", body, 422, Some("invalid-body"))
            .await;
    }
    let good = json!({"role": "collaborateur", "service_id": sc.svc, "email": "x@example.fr",
                      "given_name": "Xavier", "family_name": "Dupré"});
    let mut wrong_type = good.clone();
    wrong_type["service_id"] = json!(42);
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("family_name");
    let mut unknown = good.clone();
    unknown["password"] = json!("Cheval-Agrafe-Pile-42");
    for body in [wrong_type, missing, unknown] {
        sc.refused_json(admin, "POST", "/accounts", body, 422, Some("invalid-body"))
            .await;
    }
    for body in [
        json!({"siret": 35600000049837u64, "category": "CSP", "name": "Numérique"}),
        json!({"siret": "35600000049837", "category": "CSP"}),
    ] {
        sc.refused_structure(body, 422, "invalid-body").await;
    }
    // A JSON body without its content type is refused too (and is no 5xx).
    sc.refused(
        admin,
        "POST",
        "/services",
        Some(("text/plain", b"{\"name\":\"Achats\"}".to_vec())),
        415,
        None,
    )
    .await;
    // The sign-in form refuses an unknown field rather than ignoring it.
    sc.refused_json(
        None,
        "POST",
        "/sessions",
        json!({"login": sc.collab.login, "password": crate::fixture::PASSWORD, "otp": "1"}),
        422,
        Some("invalid-body"),
    )
    .await;
}

#[tokio::test]
async fn oversized_body_is_413_and_the_limit_is_exact() {
    let sc = scene().await;
    let admin = Some(sc.admin.token.as_str());
    let limit = apex_idp::config::HttpConfig::default().max_body_bytes;
    assert_eq!(limit, 65_536);
    // `{"name":"…"}` has 11 bytes around the name.
    let body_of = |len: usize| format!("{{\"name\":\"{}\"}}", "a".repeat(len - 11)).into_bytes();
    let over = body_of(limit + 1);
    assert_eq!(over.len(), limit + 1);
    // Exactly at the limit the body is read: the name is then refused as a value.
    let at = body_of(limit);
    assert_eq!(at.len(), limit);
    for (body, status, rule) in [
        (over, 413, "body-too-large"),
        (body_of(256 * 1024), 413, "body-too-large"),
        (at, 422, "name"),
    ] {
        let body = Some((JSON, body));
        sc.refused(admin, "POST", "/services", body, status, Some(rule))
            .await;
    }
}

#[tokio::test]
async fn bad_siret_is_refused_with_the_siret_rule() {
    let sc = scene().await;
    for siret in [
        "73282932000075",
        "35600000012345",
        "00000000000000",
        "7328293200007a",
        "7328293200007",
        "732829320000744",
        "",
    ] {
        let body = json!({"siret": siret, "category": "CSP", "name": "Cabinet Faux"});
        let r = sc.refused_structure(body, 422, "siret").await;
        assert_eq!(r.body["field"], "siret", "{siret}: {r:?}");
    }
}

#[tokio::test]
async fn duplicate_siret_is_a_conflict() {
    let sc = scene().await;
    let bis = json!({"siret": "73282932000074", "category": "CSP", "name": "Cabinet Bis"});
    sc.refused_structure(bis, 409, "siret-taken").await;
    // The La Poste vector is valid; once taken it conflicts too.
    let (s, _) =
        sc.f.op(
            "POST",
            "/operator/structures",
            Some(json!({"siret": "35600000049837", "category": "EC", "name": "La Poste"})),
        )
        .await;
    assert_eq!(s, 201);
    let again = json!({"siret": "35600000049837", "category": "CSP", "name": "La Poste encore"});
    sc.refused_structure(again, 409, "siret-taken").await;
}

#[tokio::test]
async fn unknown_category_is_refused() {
    let sc = scene().await;
    for category in ["XYZ", "csp", ""] {
        let body =
            json!({"siret": "35600000049837", "category": category, "name": "Cabinet Catégorie"});
        let r = sc.refused_structure(body, 422, "category").await;
        assert_eq!(r.body["field"], "category");
    }
}

#[tokio::test]
async fn unknown_or_malformed_profile_is_refused() {
    let sc = scene().await;
    let admin = Some(sc.admin.token.as_str());
    let id = &sc.collab.id;
    for profile in [
        "DEMO:NOPE",
        "NOPE:UTILISATEUR",
        "FICOBA:utilisateur",
        "no-colon",
        "A:B:C",
        ":UTILISATEUR",
        "DEMO:",
        "DEMO:UTI%20LISATEUR",
    ] {
        for method in ["PUT", "DELETE"] {
            let r = sc
                .refused(
                    admin,
                    method,
                    &format!("/accounts/{id}/habilitations/{profile}"),
                    None,
                    422,
                    Some("unknown-profile"),
                )
                .await;
            assert_eq!(r.body["field"], "profile", "{profile}: {r:?}");
        }
    }
    assert!(sc.f.habilitations(&sc.admin, id).await.is_empty());
}

#[tokio::test]
async fn unknown_role_is_refused() {
    let sc = scene().await;
    for role in ["chef", "Collaborateur", "", "operator"] {
        let r = sc
            .refused_json(
                Some(&sc.admin.token),
                "POST",
                "/accounts",
                json!({"role": role, "service_id": sc.svc, "email": "role@example.fr",
                       "given_name": "Rolf", "family_name": "Rôle"}),
                422,
                Some("role"),
            )
            .await;
        assert_eq!(r.body["field"], "role");
    }
}

#[tokio::test]
async fn bad_email_is_refused_with_the_field() {
    let sc = scene().await;
    let mails_before = sc.f.outbox_settled().await;
    for email in [
        "pas-une-adresse",
        "a@b",
        "x@exa mple.fr",
        "@example.fr",
        "x@@example.fr",
        "x@example..fr",
        "",
    ] {
        let r = sc
            .refused_json(
                Some(&sc.admin.token),
                "POST",
                "/accounts",
                json!({"role": "collaborateur", "service_id": sc.svc, "email": email,
                       "given_name": "Emile", "family_name": "Mail"}),
                422,
                None,
            )
            .await;
        assert_eq!(r.body["field"], "email", "{email:?}: {r:?}");
        let r = sc
            .refused_json(
                Some(OPERATOR_TOKEN),
                "POST",
                &format!("/operator/structures/{}/administrateurs", sc.sid),
                json!({"email": email, "given_name": "Emile", "family_name": "Mail"}),
                422,
                None,
            )
            .await;
        assert_eq!(r.body["field"], "email", "{email:?}: {r:?}");
    }
    assert_eq!(
        sc.f.outbox_settled().await,
        mails_before,
        "no mail was sent"
    );
}

#[tokio::test]
async fn wrong_state_is_a_conflict() {
    let sc = scene().await;
    let admin = Some(sc.admin.token.as_str());
    for (id, action) in [
        (&sc.collab.id, "validate"),
        (&sc.invited.id, "validate"),
        (&sc.invited.id, "resend-identifier"),
        (&sc.collab.id, "reject"),
    ] {
        let path = format!("/accounts/{id}/{action}");
        sc.refused(admin, "POST", &path, None, 409, Some("account-state"))
            .await;
    }
    let (s, _) = sc.f.call(None, "GET", "/accounts?state=bogus", None).await;
    assert_eq!(s, 401);
    let r = sc
        .problem(admin, "GET", "/api/v1/accounts?state=bogus", 422)
        .await;
    assert_eq!(r.body["field"], "state");
}

#[tokio::test]
async fn no_or_garbage_token_is_401_with_www_authenticate() {
    let sc = scene().await;
    let body = json!({"name": "Achats"});
    let long = "x".repeat(600);
    for token in [None, Some("garbage"), Some(""), Some(long.as_str())] {
        let r = sc
            .refused_json(
                token,
                "POST",
                "/services",
                body.clone(),
                401,
                Some("unauthenticated"),
            )
            .await;
        assert!(
            r.header("www-authenticate").starts_with("Bearer"),
            "{token:?}: {r:?}"
        );
        let r = sc.problem(token, "GET", "/api/v1/structure", 401).await;
        assert!(r.header("www-authenticate").starts_with("Bearer"));
    }
    // Another scheme is no bearer token.
    let url = format!("{}/api/v1/structure", sc.f.base);
    let resp =
        sc.f.http
            .get(&url)
            .basic_auth(&sc.admin.login, Some(crate::fixture::PASSWORD))
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    // A signed-out session is garbage too.
    let t =
        sc.f.sign_in(&sc.collab.login, crate::fixture::PASSWORD)
            .await;
    let (s, _) = sc.f.call(Some(&t), "DELETE", "/sessions", None).await;
    assert_eq!(s, 204);
    sc.refused(Some(&t), "GET", "/me", None, 401, Some("unauthenticated"))
        .await;
}

#[tokio::test]
async fn tokens_do_not_cross_between_operator_and_partner_routes() {
    let sc = scene().await;
    // Operator routes refuse a partner's session.
    let r = sc
        .refused_json(
            Some(&sc.admin.token),
            "POST",
            "/operator/structures",
            json!({"siret": "35600000049837", "category": "CSP", "name": "Intrus"}),
            401,
            Some("unauthenticated"),
        )
        .await;
    assert!(r.header("www-authenticate").starts_with("Bearer"));
    sc.refused_json(
        Some(&sc.admin.token),
        "POST",
        &format!("/operator/structures/{}/administrateurs", sc.sid),
        json!({"email": "intrus@example.fr", "given_name": "In", "family_name": "Trus"}),
        401,
        Some("unauthenticated"),
    )
    .await;
    for path in ["/operator/structures", "/operator/audit"] {
        sc.refused(Some(&sc.admin.token), "GET", path, None, 401, None)
            .await;
    }
    // Partner routes refuse the operator token.
    sc.refused_json(
        Some(OPERATOR_TOKEN),
        "POST",
        "/services",
        json!({"name": "Opérateur"}),
        401,
        Some("unauthenticated"),
    )
    .await;
    sc.refused(
        Some(OPERATOR_TOKEN),
        "PUT",
        &format!("/accounts/{}/habilitations/DEMO:UTILISATEUR", sc.collab.id),
        None,
        401,
        Some("unauthenticated"),
    )
    .await;
    for path in ["/structure", "/me", "/audit"] {
        sc.refused(Some(OPERATOR_TOKEN), "GET", path, None, 401, None)
            .await;
    }
}

#[tokio::test]
async fn unknown_route_is_a_404_problem() {
    let sc = scene().await;
    for (method, path) in [
        ("GET", "/api/v1/nope"),
        ("POST", "/api/v1/accounts/x/promote"),
        ("GET", "/api/v1"),
        ("GET", "/api/v2/structure"),
        ("GET", "/nope"),
    ] {
        let r = sc.problem(Some(&sc.admin.token), method, path, 404).await;
        assert_eq!(r.body["type"], "urn:apex-idp:problem:not-found");
    }
    // A write to an unknown route writes nothing.
    sc.refused_json(
        Some(&sc.admin.token),
        "POST",
        "/servicez",
        json!({"name": "Achats"}),
        404,
        Some("not-found"),
    )
    .await;
}

#[tokio::test]
async fn undecodable_path_or_query_is_a_400_problem() {
    let sc = scene().await;
    let admin = Some(sc.admin.token.as_str());
    sc.refused(
        admin,
        "PUT",
        "/accounts/%FF/habilitations/DEMO:UTILISATEUR",
        None,
        400,
        Some("bad-path"),
    )
    .await;
    sc.refused(
        None,
        "POST",
        "/invitations/%C3%28",
        raw("{\"password\": \"Cheval-Agrafe-Pile-42\"}"),
        400,
        Some("bad-path"),
    )
    .await;
    let query = "/api/v1/accounts?state=active&state=invited";
    let r = sc.problem(admin, "GET", query, 400).await;
    assert_eq!(r.body["type"], "urn:apex-idp:problem:bad-query");
}

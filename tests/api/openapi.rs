//! The OpenAPI document and the router agree, the document covers CONTRACT.md, and
//! every answer of every endpoint, success or problem, matches the schema the document
//! gives it, as every request body the tests send matches its own.

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde_json::{Value, json};

use crate::fixture::{Fixture, OPERATOR_TOKEN, PASSWORD, RawReply};
use crate::schema::Validator;

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

/// Drives the real server and checks each exchange against the document: the request
/// body against its request schema, the answer against the schema of its status.
struct Contract<'f> {
    f: &'f Fixture,
    doc: Value,
    /// (method, path template, success) of every exchange checked.
    seen: Mutex<BTreeSet<(String, String, bool)>>,
}

/// A person signed in through the API.
struct Signed {
    id: String,
    login: String,
    email: String,
    token: String,
}

fn text(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is no string"))
        .to_owned()
}

impl<'f> Contract<'f> {
    async fn new(f: &'f Fixture) -> Contract<'f> {
        Contract {
            f,
            doc: document(f).await,
            seen: Mutex::new(BTreeSet::new()),
        }
    }

    /// The operation of `method` on `template` (under `/api/v1`, no query).
    fn operation(&self, method: &str, template: &str) -> &Value {
        let op = &self.doc["paths"][format!("/api/v1{template}")][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not in the document");
        op
    }

    fn request_schema(&self, method: &str, template: &str) -> &Value {
        let schema = &self.operation(method, template)["requestBody"]["content"]["application/json"]
            ["schema"];
        assert!(
            !schema.is_null(),
            "{method} {template}: the document takes no body"
        );
        schema
    }

    /// Sends `body` as is (it is checked by the caller) and checks the answer.
    async fn send(
        &self,
        token: Option<&str>,
        method: &str,
        target: &str,
        args: &[&str],
        body: Option<&Value>,
    ) -> RawReply {
        let (template, query) = target.split_once('?').unwrap_or((target, ""));
        let mut args = args.iter();
        let path: Vec<String> = template
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    (*args
                        .next()
                        .unwrap_or_else(|| panic!("{target}: an argument for {seg}")))
                    .to_owned()
                } else {
                    seg.to_owned()
                }
            })
            .collect();
        assert!(args.next().is_none(), "{target}: too many arguments");
        let mut url = format!("/api/v1{}", path.join("/"));
        if !query.is_empty() {
            url = format!("{url}?{query}");
        }
        let body = body.map(|b| ("application/json", serde_json::to_vec(b).unwrap()));
        let reply = self.f.send_raw(token, method, &url, body).await;
        self.check_answer(method, template, &reply);
        reply
    }

    /// The answer's status is documented (a success explicitly), its media type is the
    /// documented one, and its body matches the documented schema.
    fn check_answer(&self, method: &str, template: &str, reply: &RawReply) {
        let responses = &self.operation(method, template)["responses"];
        let status = reply.status.to_string();
        let success = (200..300).contains(&reply.status);
        let documented = responses
            .get(&status)
            .or_else(|| (!success).then(|| responses.get("default")).flatten());
        let Some(response) = documented else {
            panic!("{method} {template}: status {status} is not documented: {reply:?}");
        };
        match response["content"].as_object().map(|c| c.iter().next()) {
            None | Some(None) => assert!(
                reply.body.is_null(),
                "{method} {template} {status}: documented without a body: {reply:?}"
            ),
            Some(Some((media, spec))) => {
                assert!(
                    reply.header("content-type").starts_with(media.as_str()),
                    "{method} {template} {status}: documented as {media}: {reply:?}"
                );
                if let Some(schema) = spec.get("schema")
                    && let Err(e) = Validator::answers(&self.doc).check(schema, &reply.body)
                {
                    panic!(
                        "{method} {template} {status}: the answer does not match its schema:\n{e}\n{}",
                        reply.body
                    );
                }
            }
        }
        self.seen
            .lock()
            .unwrap()
            .insert((method.to_owned(), template.to_owned(), success));
    }

    /// One exchange whose request body (if any) must match its schema.
    async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        target: &str,
        args: &[&str],
        body: Option<Value>,
    ) -> RawReply {
        if let Some(b) = &body {
            let template = target.split('?').next().unwrap_or(target);
            let schema = self.request_schema(method, template);
            if let Err(e) = Validator::requests(&self.doc).check(schema, b) {
                panic!("{method} {target}: the request body {b} does not match its schema:\n{e}");
            }
        }
        self.send(token, method, target, args, body.as_ref()).await
    }

    /// A success with `status`; returns its body.
    async fn ok(
        &self,
        token: Option<&str>,
        method: &str,
        target: &str,
        args: &[&str],
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let r = self.call(token, method, target, args, body).await;
        assert_eq!(r.status, status, "{method} {target} {args:?}: {r:?}");
        r.body
    }

    /// A problem answer with `status`.
    async fn problem(
        &self,
        token: Option<&str>,
        method: &str,
        target: &str,
        args: &[&str],
        body: Option<Value>,
        status: u16,
    ) {
        let r = self.call(token, method, target, args, body).await;
        assert_eq!(r.status, status, "{method} {target} {args:?}: {r:?}");
        assert_eq!(
            r.header("content-type"),
            "application/problem+json",
            "{r:?}"
        );
    }

    /// A body the request schema refuses: the server refuses it too, with `status`.
    async fn refused(
        &self,
        token: Option<&str>,
        method: &str,
        target: &str,
        args: &[&str],
        body: Value,
        status: u16,
    ) {
        let schema = self.request_schema(method, target);
        assert!(
            Validator::requests(&self.doc).check(schema, &body).is_err(),
            "{method} {target}: the schema accepts {body}"
        );
        let r = self.send(token, method, target, args, Some(&body)).await;
        assert_eq!(r.status, status, "{method} {target}: {r:?}");
    }

    async fn sign_in(&self, login: &str, password: &str) -> String {
        let body = json!({"login": login, "password": password});
        let v = self
            .ok(None, "POST", "/sessions", &[], Some(body), 201)
            .await;
        text(&v["token"])
    }

    /// `inviter` pre-creates an account in `service`; its holder completes the form.
    async fn invited(&self, inviter: &str, role: &str, service: &str, given: &str) -> Signed {
        let email = format!("{}.{}@example.fr", given.to_lowercase(), self.f.unique());
        let body = json!({"role": role, "service_id": service, "email": email,
                          "given_name": given, "family_name": "Contrat"});
        let v = self
            .ok(Some(inviter), "POST", "/accounts", &[], Some(body), 201)
            .await;
        let link = self.f.link_to(&email, "/invitations/").await;
        let body = json!({"password": PASSWORD});
        let done = self
            .ok(
                None,
                "POST",
                "/invitations/{token}",
                &[&link],
                Some(body),
                200,
            )
            .await;
        assert_eq!(done["state"], "awaiting_validation");
        Signed {
            id: text(&v["id"]),
            login: String::new(),
            email,
            token: String::new(),
        }
    }

    /// A validated member of `service`, signed in.
    async fn member(&self, admin: &str, role: &str, service: &str, given: &str) -> Signed {
        let person = self.invited(admin, role, service, given).await;
        let v = self
            .ok(
                Some(admin),
                "POST",
                "/accounts/{id}/validate",
                &[&person.id],
                None,
                200,
            )
            .await;
        let login = text(&v["login"]);
        let mail = self.f.mail_to(&person.email).await;
        assert!(mail.contains(&login), "the identifier is mailed");
        let token = self.sign_in(&login, PASSWORD).await;
        Signed {
            login,
            token,
            ..person
        }
    }

    /// Every operation of the document was seen answering a success and a problem.
    fn assert_every_operation_seen(&self) {
        let seen = self.seen.lock().unwrap();
        let mut missing = Vec::new();
        for (method, path, _) in operations(&self.doc) {
            let template = path.strip_prefix("/api/v1").unwrap().to_owned();
            for (success, what) in [(true, "success"), (false, "problem")] {
                if !seen.contains(&(method.clone(), template.clone(), success)) {
                    missing.push(format!("{method} {template}: no {what} checked"));
                }
            }
        }
        assert!(missing.is_empty(), "{missing:#?}");
    }
}

const PROFILE: &str = "FICOBA:CONSULTATION";
const NEW_PASSWORD: &str = "Tortue-Lampe-Nuage-73";

#[tokio::test]
async fn every_answer_matches_the_schema_the_document_gives_it() {
    let f = Fixture::start().await;
    let c = Contract::new(&f).await;
    let op = Some(OPERATOR_TOKEN);

    // The operator creates a structure and invites its administrateur.
    let new_structure =
        json!({"siret": "73282932000074", "category": "CSP", "name": "Structure A"});
    let v = c
        .ok(
            op,
            "POST",
            "/operator/structures",
            &[],
            Some(new_structure),
            201,
        )
        .await;
    let sid = text(&v["id"]);
    let bad_siret = json!({"siret": "73282932000075", "category": "CSP", "name": "Fausse"});
    c.problem(
        op,
        "POST",
        "/operator/structures",
        &[],
        Some(bad_siret),
        422,
    )
    .await;
    c.ok(op, "GET", "/operator/structures", &[], None, 200)
        .await;
    let admin_email = format!("anne.admin.{}@example.fr", f.unique());
    let new_admin = json!({"email": admin_email, "given_name": "Anne", "family_name": "Admin"});
    let target = "/operator/structures/{id}/administrateurs";
    c.problem(
        op,
        "POST",
        target,
        &["nowhere"],
        Some(new_admin.clone()),
        404,
    )
    .await;
    let v = c
        .ok(op, "POST", target, &[&sid], Some(new_admin), 201)
        .await;
    let admin_id = text(&v["id"]);

    // The one-time links: invitation.
    let link = f.link_to(&admin_email, "/invitations/").await;
    c.ok(None, "GET", "/invitations/{token}", &[&link], None, 200)
        .await;
    c.problem(
        None,
        "GET",
        "/invitations/{token}",
        &["no-such-link"],
        None,
        404,
    )
    .await;
    let password = json!({"password": PASSWORD});
    c.problem(
        None,
        "POST",
        "/invitations/{token}",
        &["no-such-link"],
        Some(password.clone()),
        404,
    )
    .await;
    let v = c
        .ok(
            None,
            "POST",
            "/invitations/{token}",
            &[&link],
            Some(password),
            200,
        )
        .await;
    let admin_token = c.sign_in(&text(&v["login"]), PASSWORD).await;
    let admin = Some(admin_token.as_str());

    // The operator's view of the structure.
    let one = "/operator/structures/{id}";
    c.ok(op, "GET", one, &[&sid], None, 200).await;
    c.problem(op, "GET", one, &["nowhere"], None, 404).await;
    c.ok(
        op,
        "PATCH",
        one,
        &[&sid],
        Some(json!({"name": "Structure A bis"})),
        200,
    )
    .await;
    c.problem(
        op,
        "PATCH",
        one,
        &["nowhere"],
        Some(json!({"name": "Rien"})),
        404,
    )
    .await;
    let accounts = "/operator/structures/{id}/accounts";
    c.ok(op, "GET", accounts, &[&sid], None, 200).await;
    c.problem(op, "GET", accounts, &["nowhere"], None, 404)
        .await;

    // Services.
    let mut services = Vec::new();
    for name in [
        "Service un",
        "Service deux",
        "Service trois",
        "Service quatre",
    ] {
        let v = c
            .ok(
                admin,
                "POST",
                "/services",
                &[],
                Some(json!({"name": name})),
                201,
            )
            .await;
        services.push(text(&v["id"]));
    }
    let [s1, s2, s3, s4] = <[String; 4]>::try_from(services).unwrap();
    c.problem(
        admin,
        "POST",
        "/services",
        &[],
        Some(json!({"name": "Service un"})),
        409,
    )
    .await;
    c.ok(
        admin,
        "PATCH",
        "/services/{id}",
        &[&s2],
        Some(json!({"name": "Service 2"})),
        200,
    )
    .await;
    c.problem(
        admin,
        "PATCH",
        "/services/{id}",
        &["nowhere"],
        Some(json!({"name": "X"})),
        404,
    )
    .await;

    // People.
    let resp = c.member(&admin_token, "responsable", &s1, "Remi").await;
    let collab = c.member(&admin_token, "collaborateur", &s1, "Colin").await;
    let collab_t = Some(collab.token.as_str());
    c.problem(
        admin,
        "POST",
        "/accounts/{id}/validate",
        &[&collab.id],
        None,
        409,
    )
    .await;
    let body = json!({"role": "collaborateur", "service_id": s1, "email": "nul@example.fr",
                      "given_name": "Nul", "family_name": "Part"});
    c.problem(collab_t, "POST", "/accounts", &[], Some(body), 403)
        .await;
    c.ok(admin, "GET", "/accounts", &[], None, 200).await;
    c.ok(admin, "GET", "/accounts?state=active", &[], None, 200)
        .await;
    c.problem(admin, "GET", "/accounts?state=bogus", &[], None, 422)
        .await;
    c.ok(admin, "GET", "/accounts/{id}", &[&collab.id], None, 200)
        .await;
    c.problem(admin, "GET", "/accounts/{id}", &["nowhere"], None, 404)
        .await;
    let resend = "/accounts/{id}/resend-identifier";
    c.ok(admin, "POST", resend, &[&collab.id], None, 202).await;
    c.problem(collab_t, "POST", resend, &[&resp.id], None, 403)
        .await;

    // Habilitations and delegations.
    let hab = "/accounts/{id}/habilitations/{profile}";
    let del = "/accounts/{id}/delegations/{profile}";
    c.ok(admin, "PUT", hab, &[&collab.id, PROFILE], None, 201)
        .await;
    c.ok(admin, "PUT", hab, &[&collab.id, PROFILE], None, 200)
        .await;
    c.problem(collab_t, "PUT", hab, &[&resp.id, PROFILE], None, 403)
        .await;
    c.ok(admin, "PUT", del, &[&resp.id, PROFILE], None, 201)
        .await;
    c.problem(collab_t, "PUT", del, &[&resp.id, PROFILE], None, 403)
        .await;
    c.problem(collab_t, "DELETE", del, &[&resp.id, PROFILE], None, 403)
        .await;
    c.ok(admin, "DELETE", del, &[&resp.id, PROFILE], None, 204)
        .await;
    let deletion = "/accounts/{id}/deletion-request";
    c.problem(admin, "POST", deletion, &[&collab.id], None, 409)
        .await;
    c.problem(collab_t, "DELETE", hab, &[&collab.id, PROFILE], None, 403)
        .await;
    c.ok(admin, "DELETE", hab, &[&collab.id, PROFILE], None, 204)
        .await;

    // One's own data.
    c.ok(collab_t, "GET", "/structure", &[], None, 200).await;
    c.ok(collab_t, "GET", "/me", &[], None, 200).await;
    c.ok(admin, "GET", "/me", &[], None, 200).await;
    c.ok(collab_t, "GET", "/me/export", &[], None, 200).await;
    c.ok(collab_t, "GET", "/me/applications", &[], None, 200)
        .await;
    c.ok(
        collab_t,
        "PATCH",
        "/me",
        &[],
        Some(json!({"given_name": "Colin"})),
        200,
    )
    .await;
    let new_email = format!("colin.neuf.{}@example.fr", f.unique());
    c.problem(
        collab_t,
        "PATCH",
        "/me",
        &[],
        Some(json!({"email": new_email})),
        422,
    )
    .await;
    let change = json!({"email": new_email, "current_password": PASSWORD});
    c.ok(collab_t, "PATCH", "/me", &[], Some(change), 200).await;
    let confirm = f.link_to(&new_email, "/email-confirmations/").await;
    let confirmation = "/email-confirmations/{token}";
    c.ok(None, "POST", confirmation, &[&confirm], None, 200)
        .await;
    c.problem(None, "POST", confirmation, &[&confirm], None, 404)
        .await;
    let wrong = json!({"current": "Pas-Le-Bon-Mot-De-Passe-1", "new": NEW_PASSWORD});
    c.problem(collab_t, "POST", "/me/password", &[], Some(wrong), 422)
        .await;
    let change = json!({"current": PASSWORD, "new": NEW_PASSWORD});
    c.ok(collab_t, "POST", "/me/password", &[], Some(change), 204)
        .await;
    c.problem(collab_t, "GET", "/audit", &[], None, 403).await;
    c.ok(admin, "GET", "/audit", &[], None, 200).await;
    let unlock = "/accounts/{id}/unlock";
    c.problem(collab_t, "POST", unlock, &[&resp.id], None, 403)
        .await;
    c.ok(admin, "POST", unlock, &[&collab.id], None, 204).await;

    // Merge, transfer, delete services.
    let merge = "/services/{id}/merge";
    c.problem(
        collab_t,
        "POST",
        merge,
        &[&s3],
        Some(json!({"into": s1})),
        403,
    )
    .await;
    c.ok(admin, "POST", merge, &[&s3], Some(json!({"into": s1})), 200)
        .await;
    let moving = json!({"accounts": [collab.id], "to_service": s2});
    c.problem(
        collab_t,
        "POST",
        "/transfers",
        &[],
        Some(moving.clone()),
        403,
    )
    .await;
    c.ok(admin, "POST", "/transfers", &[], Some(moving), 200)
        .await;
    c.problem(admin, "DELETE", "/services/{id}", &[&s1], None, 409)
        .await;
    c.ok(admin, "DELETE", "/services/{id}", &[&s4], None, 204)
        .await;

    // Rejection and deletion request.
    let rita = c.invited(&admin_token, "collaborateur", &s2, "Rita").await;
    c.problem(
        admin,
        "POST",
        "/accounts/{id}/reject",
        &[&collab.id],
        None,
        409,
    )
    .await;
    c.ok(
        admin,
        "POST",
        "/accounts/{id}/reject",
        &[&rita.id],
        None,
        204,
    )
    .await;
    c.ok(admin, "POST", deletion, &[&collab.id], None, 200)
        .await;

    // Password reset.
    let reset = json!({"login": resp.login});
    c.ok(None, "POST", "/password-resets", &[], Some(reset), 202)
        .await;
    c.refused(
        None,
        "POST",
        "/password-resets",
        &[],
        json!({"identifiant": "x"}),
        422,
    )
    .await;
    let reset = f.link_to(&resp.email, "/password-resets/").await;
    let new = json!({"password": NEW_PASSWORD});
    let by_link = "/password-resets/{token}";
    c.ok(None, "POST", by_link, &[&reset], Some(new.clone()), 204)
        .await;
    c.problem(None, "POST", by_link, &[&reset], Some(new), 404)
        .await;

    // The operator on accounts.
    for (action, status) in [
        ("", 200),
        ("/block", 200),
        ("/unblock", 200),
        ("/end-sessions", 200),
    ] {
        let target = format!("/operator/accounts/{{id}}{action}");
        let method = if action.is_empty() { "GET" } else { "POST" };
        c.ok(op, method, &target, &[&resp.id], None, status).await;
        c.problem(op, method, &target, &["nowhere"], None, 404)
            .await;
    }
    let replacement = "/operator/accounts/{id}/replacement";
    let successor = json!({"email": format!("alain.{}@example.fr", f.unique()),
                           "given_name": "Alain", "family_name": "Suivant"});
    c.problem(
        op,
        "POST",
        replacement,
        &[&resp.id],
        Some(successor.clone()),
        409,
    )
    .await;
    c.ok(op, "POST", replacement, &[&admin_id], Some(successor), 201)
        .await;

    // The operator's audit, keys and backup.
    c.ok(op, "GET", "/operator/audit", &[], None, 200).await;
    c.ok(op, "GET", "/operator/audit?since=0", &[], None, 200)
        .await;
    c.ok(op, "GET", "/operator/audit/chain", &[], None, 200)
        .await;
    c.ok(op, "GET", "/operator/keys", &[], None, 200).await;
    c.ok(op, "GET", "/operator/backup", &[], None, 200).await;
    c.ok(op, "POST", "/operator/catalogue/reload", &[], None, 200)
        .await;
    let rotate = "/operator/keys/rotate";
    c.problem(
        op,
        "POST",
        rotate,
        &[],
        Some(json!({"delay_seconds": 1})),
        422,
    )
    .await;
    c.ok(op, "POST", rotate, &[], Some(json!({})), 200).await;

    // Sign-out, the structure closed, a failed sign-in.
    c.ok(admin, "DELETE", "/sessions", &[], None, 204).await;
    c.ok(
        op,
        "POST",
        "/operator/structures/{id}/close",
        &[&sid],
        None,
        200,
    )
    .await;
    c.problem(
        op,
        "POST",
        "/operator/structures/{id}/close",
        &["nowhere"],
        None,
        404,
    )
    .await;
    let nobody = json!({"login": "personne.inconnue", "password": "Pas-De-Compte-1"});
    c.problem(None, "POST", "/sessions", &[], Some(nobody), 401)
        .await;

    // Every endpoint that needs a token answers a problem without one.
    for (method, path, operation) in operations(&c.doc) {
        if operation["security"].as_array().is_none_or(Vec::is_empty) {
            continue;
        }
        let template = path.strip_prefix("/api/v1").unwrap();
        let args: Vec<&str> = template
            .split('/')
            .filter(|s| s.starts_with('{'))
            .map(|_| "x")
            .collect();
        let r = c.send(None, &method, template, &args, None).await;
        assert_eq!(r.status, 401, "{method} {template}: {r:?}");
    }

    c.assert_every_operation_seen();
}

#[tokio::test]
async fn the_validator_refuses_bodies_that_break_their_schema() {
    let f = Fixture::start().await;
    let c = Contract::new(&f).await;
    let answers = Validator::answers(&c.doc);
    let requests = Validator::requests(&c.doc);
    let schema = |name: &str| json!({"$ref": format!("#/components/schemas/{name}")});

    let new_structure =
        json!({"siret": "73282932000074", "category": "CSP", "name": "Structure A"});
    let structure = c
        .ok(
            Some(OPERATOR_TOKEN),
            "POST",
            "/operator/structures",
            &[],
            Some(new_structure),
            201,
        )
        .await;
    let structure_schema = schema("Structure");
    answers.check(&structure_schema, &structure).unwrap();

    let mut missing = structure.clone();
    missing.as_object_mut().unwrap().remove("siret");
    let e = answers.check(&structure_schema, &missing).unwrap_err();
    assert!(e.contains("\"siret\" is missing"), "{e}");

    let mut wrong_type = structure.clone();
    wrong_type["created_at"] = json!("hier");
    let e = answers.check(&structure_schema, &wrong_type).unwrap_err();
    assert!(e.contains("$.created_at"), "{e}");

    let mut extra = structure.clone();
    extra["secret"] = json!(1);
    let e = answers.check(&structure_schema, &extra).unwrap_err();
    assert!(e.contains("$.secret: member not in the schema"), "{e}");

    let mut fraction = structure.clone();
    fraction["modified_at"] = json!(1.5);
    assert!(answers.check(&structure_schema, &fraction).is_err());

    // Enumerations, nullable members and arrays of references, through an account.
    let account = json!({"id": "a", "login": null, "role": "collaborateur", "state": "invited",
        "service_id": null, "given_name": "A", "family_name": "B", "email": "a@example.fr",
        "habilitations": ["FICOBA:CONSULTATION"], "delegations": []});
    let account_schema = schema("AccountSummary");
    answers.check(&account_schema, &account).unwrap();
    let mut chef = account.clone();
    chef["role"] = json!("chef");
    assert!(answers.check(&account_schema, &chef).is_err());
    let mut not_null = account.clone();
    not_null["login"] = json!(7);
    assert!(answers.check(&account_schema, &not_null).is_err());
    let mut not_a_list = account.clone();
    not_a_list["habilitations"] = json!("FICOBA:CONSULTATION");
    assert!(answers.check(&account_schema, &not_a_list).is_err());
    let mut bad_item = account.clone();
    bad_item["delegations"] = json!([3]);
    assert!(answers.check(&account_schema, &bad_item).is_err());

    // anyOf: the chain is either intact or broken, never a mix missing both.
    let chain = schema("AuditChain");
    answers
        .check(&chain, &json!({"intact": true, "events": 3}))
        .unwrap();
    answers
        .check(
            &chain,
            &json!({"intact": false, "broken_at": 2, "reason": "hash"}),
        )
        .unwrap();
    assert!(answers.check(&chain, &json!({"intact": false})).is_err());

    // Request bodies: a wrong type, a missing member, an unknown member.
    let sign_in = &c.request_schema("POST", "/sessions").clone();
    requests
        .check(sign_in, &json!({"login": "a", "password": "b"}))
        .unwrap();
    assert!(
        requests
            .check(sign_in, &json!({"login": "a", "password": 42}))
            .is_err()
    );
    assert!(requests.check(sign_in, &json!({"login": "a"})).is_err());
    let e = requests
        .check(sign_in, &json!({"login": "a", "password": "b", "otp": "1"}))
        .unwrap_err();
    assert!(e.contains("$.otp: member not in the schema"), "{e}");
    assert!(requests.check(sign_in, &json!(["a", "b"])).is_err());

    // A keyword the validator does not know is refused, not skipped.
    let e = answers
        .check(&json!({"type": "string", "maxLength": 3}), &json!("abcd"))
        .unwrap_err();
    assert!(e.contains("maxLength"), "{e}");
    let e = answers
        .check(&json!({"$ref": "#/components/schemas/Nothing"}), &json!(1))
        .unwrap_err();
    assert!(e.contains("leads nowhere"), "{e}");
}

#[tokio::test]
async fn every_body_and_answer_is_typed_in_the_document() {
    let f = Fixture::start().await;
    let doc = document(&f).await;
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for (method, path, op) in operations(&doc) {
        if let Some(body) = op.get("requestBody") {
            let schema = &body["content"]["application/json"]["schema"];
            let name = schema["$ref"].as_str().unwrap_or_default();
            let name = name
                .strip_prefix("#/components/schemas/")
                .unwrap_or_default();
            assert!(
                schemas.contains_key(name),
                "{method} {path}: the request body names no schema of components: {schema}"
            );
        }
        for (status, response) in op["responses"].as_object().unwrap() {
            for (media, spec) in response["content"].as_object().into_iter().flatten() {
                if media == "application/json" || media == "application/problem+json" {
                    assert!(
                        spec["schema"].is_object(),
                        "{method} {path} {status}: {media} without a schema"
                    );
                }
            }
            if !status.starts_with('2') {
                assert_eq!(
                    response["content"]["application/problem+json"]["schema"]["$ref"],
                    "#/components/schemas/Problem",
                    "{method} {path} {status}"
                );
            }
        }
        let body_read = matches!(method.as_str(), "POST" | "PATCH" | "PUT");
        let has_body = op.get("requestBody").is_some();
        assert!(
            has_body <= body_read,
            "{method} {path}: a body on a {method}"
        );
    }
    // Every schema of components is a JSON Schema object the validator reads whole.
    let validator = Validator::answers(&doc);
    for (name, schema) in schemas {
        assert!(schema.is_object(), "{name}");
        // A value of no type at all: the only errors are mismatches, never an
        // unsupported keyword.
        if let Err(e) = validator.check(schema, &json!({"\u{0}": []})) {
            assert!(!e.contains("is not supported"), "{name}: {e}");
        }
    }
}

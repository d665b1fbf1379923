//! The API fixture: the shared test server (`tests/common`: port 0, temporary store,
//! file outbox, manual clock, cheap argon2) driven through the JSON API with real HTTP;
//! people created through the API, and a world of two structures.

use apex_idp::config::Config;
use apex_idp::domain::login::fold;
use serde_json::{Value, json};

use crate::common::{self, TestServer};

pub use crate::common::{CHEAP, OPERATOR_TOKEN, link_token, test_config};

/// The password every test person chooses.
pub const PASSWORD: &str = "Cheval-Agrafe-Pile-42";

/// A person of a test structure, signed in.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub login: String,
    pub email: String,
    pub token: String,
}

/// A running test server, over an empty directory unless its data dir held one.
pub type Fixture = TestServer;

impl Fixture {
    pub async fn start() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let config = test_config(dir.path());
        Self::start_with(dir, config).await
    }

    pub async fn start_with(dir: tempfile::TempDir, config: Config) -> Fixture {
        TestServer::launch(dir, &config, common::http_client(), async |_| {}).await
    }

    /// One API call; returns the status and the JSON body (Null when empty).
    pub async fn call(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let body = body.map(|b| ("application/json", serde_json::to_vec(&b).unwrap()));
        let reply = self
            .send_raw(token, method, &format!("/api/v1{path}"), body)
            .await;
        (reply.status, reply.body)
    }

    pub async fn op(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(Some(OPERATOR_TOKEN), method, path, body).await
    }

    /// A `GET` by `who`.
    pub async fn get(&self, who: &Person, path: &str) -> (u16, Value) {
        self.call(Some(&who.token), "GET", path, None).await
    }

    /// A `POST` by `who`.
    pub async fn post(&self, who: &Person, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call(Some(&who.token), "POST", path, body).await
    }

    /// A sign-in attempt; returns the answer as is.
    pub async fn try_sign_in(&self, login: &str, password: &str) -> (u16, Value) {
        let body = json!({"login": login, "password": password});
        self.call(None, "POST", "/sessions", Some(body)).await
    }

    pub async fn sign_in(&self, login: &str, password: &str) -> String {
        let (s, v) = self.try_sign_in(login, password).await;
        assert_eq!(s, 201, "sign-in of {login}: {v}");
        v["token"].as_str().unwrap().to_owned()
    }

    /// Operator: creates a structure and returns its id.
    pub async fn structure(&self, siret: &str, name: &str) -> String {
        let (s, v) = self
            .op(
                "POST",
                "/operator/structures",
                Some(json!({"siret": siret, "category": "CSP", "name": name})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// A unique address for a new person.
    fn email_for(&self, given: &str, family: &str) -> String {
        format!(
            "{}.{}{}@example.fr",
            fold(given),
            fold(family),
            self.unique()
        )
    }

    /// Operator invites an administrateur, who completes his form and signs in.
    pub async fn admin(&self, structure_id: &str, given: &str, family: &str) -> Person {
        let email = self.email_for(given, family);
        let (s, v) = self
            .op(
                "POST",
                &format!("/operator/structures/{structure_id}/administrateurs"),
                Some(json!({"email": email, "given_name": given, "family_name": family})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let link = self.link_to(&email, "/invitations/").await;
        let v = self.accept(&link).await;
        assert_eq!(v["state"], "active");
        let login = v["login"].as_str().unwrap().to_owned();
        let token = self.sign_in(&login, PASSWORD).await;
        Person {
            id,
            login,
            email,
            token,
        }
    }

    /// An administrateur (or responsable) pre-creates an account; its holder completes
    /// the form; `validator` validates it; the person signs in.
    pub async fn member(
        &self,
        inviter: &Person,
        validator: &Person,
        role: &str,
        service_id: &str,
        given: &str,
        family: &str,
    ) -> Person {
        let invited = self.invite(inviter, role, service_id, given, family).await;
        self.complete(&invited).await;
        let (s, v) = self.act(validator, &invited.id, "validate").await;
        assert_eq!(s, 200, "{v}");
        let login = v["login"].as_str().unwrap().to_owned();
        let mail = self.mail_to(&invited.email).await;
        assert!(mail.contains(&login), "identifier mail names the login");
        let token = self.sign_in(&login, PASSWORD).await;
        Person {
            login,
            token,
            ..invited
        }
    }

    /// Pre-creates an account (state invited); login and token are empty.
    pub async fn invite(
        &self,
        inviter: &Person,
        role: &str,
        service_id: &str,
        given: &str,
        family: &str,
    ) -> Person {
        let email = self.email_for(given, family);
        let (s, v) = self
            .post(
                inviter,
                "/accounts",
                Some(json!({"role": role, "service_id": service_id, "email": email, "given_name": given, "family_name": family})),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        Person {
            id: v["id"].as_str().unwrap().to_owned(),
            login: String::new(),
            email,
            token: String::new(),
        }
    }

    /// The holder of the invitation `link` chooses his password; returns the answer.
    pub async fn accept(&self, link: &str) -> Value {
        let (s, v) = self
            .call(
                None,
                "POST",
                &format!("/invitations/{link}"),
                Some(json!({"password": PASSWORD})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// The holder of an invitation completes his form (state awaiting_validation).
    pub async fn complete(&self, invited: &Person) {
        let link = self.link_to(&invited.email, "/invitations/").await;
        self.accept(&link).await;
    }

    /// Creates a service; returns the answer as is.
    pub async fn create_service(&self, who: &Person, name: &str) -> (u16, Value) {
        self.post(who, "/services", Some(json!({"name": name})))
            .await
    }

    /// Creates a service and returns its id.
    pub async fn service(&self, admin: &Person, name: &str) -> String {
        let (s, v) = self.create_service(admin, name).await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Renames a service.
    pub async fn rename_service(&self, who: &Person, id: &str, name: &str) -> (u16, Value) {
        let path = format!("/services/{id}");
        let body = json!({"name": name});
        self.call(Some(&who.token), "PATCH", &path, Some(body))
            .await
    }

    /// Deletes a service.
    pub async fn delete_service(&self, who: &Person, id: &str) -> (u16, Value) {
        let path = format!("/services/{id}");
        self.call(Some(&who.token), "DELETE", &path, None).await
    }

    /// Merges the service `from` into `into`.
    pub async fn merge(&self, who: &Person, from: &str, into: &str) -> (u16, Value) {
        let path = format!("/services/{from}/merge");
        self.post(who, &path, Some(json!({"into": into}))).await
    }

    /// Transfers `accounts` to the service `to`.
    pub async fn transfer(&self, who: &Person, accounts: &[&str], to: &str) -> (u16, Value) {
        let body = json!({"accounts": accounts, "to_service": to});
        self.post(who, "/transfers", Some(body)).await
    }

    /// The account `id` as `viewer` asks for it; the answer as is.
    pub async fn get_account(&self, viewer: &Person, id: &str) -> (u16, Value) {
        self.get(viewer, &format!("/accounts/{id}")).await
    }

    /// The account as its structure sees it.
    pub async fn account(&self, viewer: &Person, id: &str) -> Value {
        let (s, v) = self.get_account(viewer, id).await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// The structure (services and accounts) as `viewer` consults it.
    pub async fn view(&self, viewer: &Person) -> Value {
        let (s, v) = self.get(viewer, "/structure").await;
        assert_eq!(s, 200, "{v}");
        v
    }

    /// An action on the account `id`: `POST /accounts/{id}/{action}` (`validate`,
    /// `reject`, `resend-identifier`, `deletion-request`).
    pub async fn act(&self, actor: &Person, id: &str, action: &str) -> (u16, Value) {
        self.post(actor, &format!("/accounts/{id}/{action}"), None)
            .await
    }

    /// Number of audit events and whether the chain is intact (operator view).
    pub async fn audit_chain(&self) -> (u64, bool) {
        let (s, v) = self.op("GET", "/operator/audit", None).await;
        assert_eq!(s, 200);
        (
            v["chain"]["events"].as_u64().unwrap_or(0),
            v["chain"]["intact"] == true,
        )
    }
}

/// Two structures, each with an administrateur, two services, a responsable per
/// service, and a collaborateur per service. Used to test every cell across structures.
pub struct World {
    pub f: Fixture,
    pub a: Side,
    pub b: Side,
}

/// One structure of the world.
pub struct Side {
    pub structure_id: String,
    pub admin: Person,
    pub s1: String,
    pub s2: String,
    pub resp1: Person,
    pub resp2: Person,
    pub collab1: Person,
    pub collab2: Person,
}

impl World {
    pub async fn build() -> World {
        let f = Fixture::start().await;
        let a = Self::side(&f, "73282932000074", "Structure A").await;
        let b = Self::side(&f, "35600000049837", "Structure B").await;
        World { f, a, b }
    }

    async fn side(f: &Fixture, siret: &str, name: &str) -> Side {
        let structure_id = f.structure(siret, name).await;
        let admin = f.admin(&structure_id, "Anne", "Admin").await;
        let s1 = f.service(&admin, "Service un").await;
        let s2 = f.service(&admin, "Service deux").await;
        let resp1 = f
            .member(&admin, &admin, "responsable", &s1, "Rémi", "Resp")
            .await;
        let resp2 = f
            .member(&admin, &admin, "responsable", &s2, "Rose", "Resp")
            .await;
        let collab1 = f
            .member(&admin, &admin, "collaborateur", &s1, "Colin", "Collab")
            .await;
        let collab2 = f
            .member(&admin, &admin, "collaborateur", &s2, "Cléa", "Collab")
            .await;
        Side {
            structure_id,
            admin,
            s1,
            s2,
            resp1,
            resp2,
            collab1,
            collab2,
        }
    }
}

/// Asserts that an answer is the problem document of `rule` with `status`.
#[track_caller]
pub fn assert_problem(answer: &(u16, Value), status: u16, rule: &str) {
    assert_eq!(
        answer.0, status,
        "expected {status} {rule}, got {}",
        answer.1
    );
    assert_eq!(
        answer.1["type"],
        format!("urn:apex-idp:problem:{rule}"),
        "expected rule {rule}"
    );
}

/// What `text` finds in each item of a JSON array (none when it is no array).
fn texts(list: &Value, text: impl Fn(&Value) -> Option<&str>) -> Vec<String> {
    list.as_array()
        .map(|items| items.iter().filter_map(&text).map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The `id` of every object of a JSON array.
pub fn ids(list: &Value) -> Vec<String> {
    texts(list, |i| i["id"].as_str())
}

/// The strings of a JSON array (profiles of an account).
pub fn strings(list: &Value) -> Vec<String> {
    texts(list, Value::as_str)
}

/// What a refused call must leave as it was: both structures as their administrateurs
/// see them, and the number of audit events.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub a: Value,
    pub b: Value,
    pub audit_events: u64,
}

impl World {
    /// Both structures (services and accounts) and the audit log's length, now.
    pub async fn snapshot(&self) -> Snapshot {
        let (sa, a) = self
            .f
            .call(Some(&self.a.admin.token), "GET", "/structure", None)
            .await;
        let (sb, b) = self
            .f
            .call(Some(&self.b.admin.token), "GET", "/structure", None)
            .await;
        assert_eq!((sa, sb), (200, 200));
        let (audit_events, intact) = self.f.audit_chain().await;
        assert!(intact, "the audit chain is intact");
        Snapshot { a, b, audit_events }
    }
}

impl Fixture {
    /// The habilitations of an account, as `viewer` sees them.
    pub async fn habilitations(&self, viewer: &Person, id: &str) -> Vec<String> {
        strings(&self.account(viewer, id).await["habilitations"])
    }

    /// The delegations of an account, as `viewer` sees them.
    pub async fn delegations(&self, viewer: &Person, id: &str) -> Vec<String> {
        strings(&self.account(viewer, id).await["delegations"])
    }

    /// Grants (`PUT`) or removes (`DELETE`) a habilitation.
    pub async fn habilitate(
        &self,
        actor: &Person,
        method: &str,
        id: &str,
        profile: &str,
    ) -> (u16, Value) {
        self.profile_call(actor, method, id, "habilitations", profile)
            .await
    }

    /// Delegates (`PUT`) or removes (`DELETE`) a delegation.
    pub async fn delegate(
        &self,
        actor: &Person,
        method: &str,
        id: &str,
        profile: &str,
    ) -> (u16, Value) {
        self.profile_call(actor, method, id, "delegations", profile)
            .await
    }

    /// Grants a habilitation not held yet: 201.
    pub async fn grant(&self, actor: &Person, id: &str, profile: &str) {
        let answer = self.habilitate(actor, "PUT", id, profile).await;
        assert_eq!(answer.0, 201, "grant of {profile} to {id}: {}", answer.1);
    }

    /// Removes a held habilitation: 204.
    pub async fn revoke(&self, actor: &Person, id: &str, profile: &str) {
        let answer = self.habilitate(actor, "DELETE", id, profile).await;
        assert_eq!(
            answer.0, 204,
            "removal of {profile} from {id}: {}",
            answer.1
        );
    }

    /// Delegates a profile not delegated yet: 201.
    pub async fn grant_delegation(&self, actor: &Person, id: &str, profile: &str) {
        let answer = self.delegate(actor, "PUT", id, profile).await;
        assert_eq!(
            answer.0, 201,
            "delegation of {profile} to {id}: {}",
            answer.1
        );
    }

    /// Removes a delegation: 204.
    pub async fn revoke_delegation(&self, actor: &Person, id: &str, profile: &str) {
        let answer = self.delegate(actor, "DELETE", id, profile).await;
        assert_eq!(
            answer.0, 204,
            "end of delegation {profile} to {id}: {}",
            answer.1
        );
    }

    /// `PUT` or `DELETE` of a profile in a list of an account (`habilitations`,
    /// `delegations`).
    async fn profile_call(
        &self,
        actor: &Person,
        method: &str,
        id: &str,
        list: &str,
        profile: &str,
    ) -> (u16, Value) {
        let path = format!("/accounts/{id}/{list}/{profile}");
        self.call(Some(&actor.token), method, &path, None).await
    }

    /// Requests the deletion of an account.
    pub async fn request_deletion(&self, actor: &Person, id: &str) -> (u16, Value) {
        self.act(actor, id, "deletion-request").await
    }
}

/// A raw HTTP answer: status, headers and body (JSON when it parses, else a string).
#[derive(Debug)]
pub struct RawReply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl RawReply {
    /// A header's value, empty when absent.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl Fixture {
    /// One request with full control: `path` is absolute from the server root (not under
    /// `/api/v1`), the body is sent as is with the given content type.
    pub async fn send_raw(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> RawReply {
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.parse().unwrap(), &url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            req = req
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.unwrap();
        // JSON when it parses, else the text; Null when empty.
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        RawReply {
            status,
            headers,
            body,
        }
    }
}

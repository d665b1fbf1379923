//! The OIDC fixture: the shared test server (`tests/common`) on a known free port (so
//! that `public_url`, the issuer, is the real address), over the demo directory, with
//! signing keys generated once per test run; browsers with their own cookie jar, and
//! relying parties that use `openidconnect`'s types to verify what they receive.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use apex_idp::catalogue::Catalogue;
use apex_idp::oidc::keys::{self, Alg, KeyRecord};
use apex_idp::oidc::{ApexClaims, ApexIdToken};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKey};
use openidconnect::{ClientId, ClientSecret, IdTokenClaims, IssuerUrl, JsonWebKeySet, Nonce};
use serde_json::Value;

use crate::common::{self, DemoPerson, Resp, TestServer};

pub use crate::common::{Browser, OPERATOR_TOKEN};

/// The password of every demo person.
pub const PASSWORD: &str = apex_idp::demo::DEMO_PASSWORD;

/// A relying party of the test catalogue.
#[derive(Debug, Clone, Copy)]
pub struct Rp {
    pub client_id: &'static str,
    pub secret: Option<&'static str>,
    pub redirect_uri: &'static str,
    pub alg: Alg,
}

/// DEMO (RS256, habilitation required).
pub const DEMO: Rp = Rp {
    client_id: "demo",
    secret: Some("demo-client-secret"),
    redirect_uri: "http://127.0.0.1:9000/callback",
    alg: Alg::RS256,
};
/// FICOBA (RS256, habilitation required).
pub const FICOBA: Rp = Rp {
    client_id: "ficoba",
    secret: Some("ficoba-client-secret"),
    redirect_uri: "http://127.0.0.1:9001/callback",
    alg: Alg::RS256,
};
/// OUVERTE (ES256, open to every active account).
pub const ES256: Rp = Rp {
    client_id: "es256",
    secret: Some("es256-client-secret"),
    redirect_uri: "https://ouverte.example.test/callback",
    alg: Alg::ES256,
};
/// EDDSA (EdDSA, open to every active account).
pub const EDDSA: Rp = Rp {
    client_id: "eddsa",
    secret: Some("eddsa-client-secret"),
    redirect_uri: "https://eddsa.example.test/callback",
    alg: Alg::EdDSA,
};
/// MOBILE (public client, PKCE required, open).
pub const MOBILE: Rp = Rp {
    client_id: "mobile",
    secret: None,
    redirect_uri: "http://127.0.0.1:9002/callback",
    alg: Alg::RS256,
};

/// The test catalogue file.
fn catalogue_file() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/oidc/catalogue.toml")
}

/// Signing keys made once for the whole test run (RSA generation is slow).
fn test_keys() -> &'static [KeyRecord] {
    static KEYS: OnceLock<Vec<KeyRecord>> = OnceLock::new();
    KEYS.get_or_init(|| {
        Alg::ALL
            .iter()
            .map(|a| keys::generate(*a, 0).unwrap())
            .collect()
    })
}

/// A running issuer.
pub type Op = TestServer;

impl Op {
    pub async fn start() -> Op {
        Op::start_with_catalogue(|_| {}).await
    }

    /// A server whose catalogue is the test catalogue changed by `edit`, written at
    /// start (for what is only known at run time, such as back-channel logout URIs).
    pub async fn start_with_catalogue(edit: impl FnOnce(&mut Catalogue)) -> Op {
        Op::start_with(edit, |_| {}).await
    }

    /// A server over the test catalogue changed by `edit`, and the test configuration
    /// changed by `configure`.
    pub async fn start_with(
        edit: impl FnOnce(&mut Catalogue),
        configure: impl FnOnce(&mut apex_idp::config::Config),
    ) -> Op {
        let dir = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(catalogue_file()).unwrap();
        let mut catalogue: Catalogue = toml::from_str(&text).unwrap();
        edit(&mut catalogue);
        let file = dir.path().join("catalogue.toml");
        std::fs::write(&file, toml::to_string(&catalogue).unwrap()).unwrap();
        // The issuer is the public URL: it must be the real address.
        let (listener, port) = common::bound_listener();
        let mut config = common::test_config(dir.path());
        config.server.public_url = format!("http://127.0.0.1:{port}");
        config.http.listen = format!("127.0.0.1:{port}");
        config.catalogue.file = file;
        configure(&mut config);
        let http = common::browser_client();
        let op = TestServer::launch_on(listener, dir, &config, http, async |directory| {
            apex_idp::demo::seed(directory).await.unwrap();
            let table = directory.face_state().table(keys::TREE).unwrap();
            keys::install(&table, test_keys()).unwrap();
        })
        .await;
        assert_eq!(
            op.base, config.server.public_url,
            "the issuer is the base URL"
        );
        op
    }

    pub async fn discovery(&self) -> Value {
        self.http
            .get(self.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn jwks(&self) -> JsonWebKeySet<CoreJsonWebKey> {
        self.http
            .get(self.url("/oidc/jwks"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Starts an authorization: PKCE S256, a nonce and a state.
    pub fn flow(&self, rp: Rp, scope: &str, extra: &[(&str, &str)]) -> Flow {
        let verifier = random(32);
        let nonce = random(16);
        let state = random(16);
        let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            verifier.as_bytes(),
        ));
        let mut url = url::Url::parse(&self.url("/oidc/authorize")).unwrap();
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("response_type", "code")
                .append_pair("client_id", rp.client_id)
                .append_pair("redirect_uri", rp.redirect_uri)
                .append_pair("scope", scope)
                .append_pair("state", &state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        Flow {
            rp,
            url: url.to_string(),
            verifier,
            nonce,
            state,
        }
    }

    /// The whole sign-in of a person in a browser, up to the code.
    pub async fn code_for(&self, browser: &Browser, flow: &Flow, who: &DemoPerson) -> String {
        let page = browser.get(&flow.url).await;
        assert_eq!(page.status, 200, "sign-in page: {}", page.body);
        let answer = browser.sign_in(self, &page, &who.login, PASSWORD).await;
        flow.code(&answer)
    }

    /// The code exchange, as the relying party does it (client_secret_basic).
    pub async fn exchange(&self, rp: Rp, code: &str, verifier: &str) -> (u16, Value) {
        self.token(
            rp,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", rp.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// A token request, authenticated with client_secret_basic (or client_id alone).
    pub async fn token(&self, rp: Rp, form: &[(&str, &str)]) -> (u16, Value) {
        self.client_call(rp, "/oidc/token", form).await
    }

    /// A refresh grant at the token endpoint.
    pub async fn refresh(&self, rp: Rp, refresh_token: &str) -> (u16, Value) {
        self.token(
            rp,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// A call of a client-authenticated endpoint.
    pub async fn client_call(&self, rp: Rp, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let mut fields: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.http.post(self.url(path));
        match rp.secret {
            Some(s) => req = req.basic_auth(rp.client_id, Some(s)),
            None => fields.push(("client_id", rp.client_id)),
        }
        let resp = req.form(&fields).send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A full sign-in and code exchange; returns the token response.
    pub async fn tokens(&self, rp: Rp, who: &str, scope: &str) -> (Flow, Value) {
        let browser = self.browser();
        let flow = self.flow(rp, scope, &[]);
        let code = self.code_for(&browser, &flow, &self.person(who)).await;
        let (s, v) = self.exchange(rp, &code, &flow.verifier).await;
        assert_eq!(s, 200, "{v}");
        (flow, v)
    }

    /// Verifies an ID token as the relying party does, with `openidconnect`.
    pub async fn verify_id_token(
        &self,
        rp: Rp,
        id_token: &str,
        nonce: &str,
    ) -> IdTokenClaims<ApexClaims, CoreGenderClaim> {
        let jwks = self.jwks().await;
        let verifier = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(rp.client_id.into()),
            ClientSecret::new(rp.secret.unwrap_or_default().into()),
            IssuerUrl::new(self.base.clone()).unwrap(),
            jwks,
        )
        .set_allowed_algs(vec![rp.alg.jws()]);
        let token: ApexIdToken = id_token.parse().unwrap();
        token
            .claims(&verifier, &Nonce::new(nonce.to_owned()))
            .unwrap()
            .clone()
    }

    pub async fn userinfo(&self, access_token: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url("/oidc/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn introspect(&self, rp: Rp, token: &str) -> Value {
        let (s, v) = self
            .client_call(rp, "/oidc/introspect", &[("token", token)])
            .await;
        assert_eq!(s, 200, "{v}");
        v
    }
}

/// An authorization in progress.
#[derive(Debug, Clone)]
pub struct Flow {
    pub rp: Rp,
    pub url: String,
    pub verifier: String,
    pub nonce: String,
    pub state: String,
}

impl Flow {
    /// The code of a redirect to the relying party, after checking state and iss.
    pub fn code(&self, answer: &Resp) -> String {
        let q = answer.redirect_query(self.rp.redirect_uri);
        assert_eq!(q.get("state"), Some(&self.state), "state echoed");
        assert!(q.contains_key("iss"), "RFC 9207 iss");
        q.get("code")
            .unwrap_or_else(|| panic!("no code in {q:?}"))
            .clone()
    }
}

/// A string member of a JSON answer ("" when absent).
pub fn json_str(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

/// Whether an `error_description` keeps to RFC 6749's characters (§4.1.2.1, §5.2:
/// `%x20-21 / %x23-5B / %x5D-7E`).
pub fn rfc_6749_text(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// A random base64url string of `n` bytes.
pub fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
    URL_SAFE_NO_PAD.encode(b)
}

impl Resp {
    /// The `Location` header, if any.
    pub fn location(&self) -> Option<String> {
        self.headers
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
    }

    /// The query of a 303 to `redirect_uri`.
    pub fn redirect_query(&self, redirect_uri: &str) -> HashMap<String, String> {
        assert_eq!(self.status, 303, "expected a redirect, got {}", self.body);
        let location = self.location().unwrap();
        assert!(
            location.starts_with(redirect_uri),
            "{location} is not under {redirect_uri}"
        );
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }
}

/// The issuer's browser: takes absolute URLs, posts forms as given.
impl Browser {
    pub async fn get(&self, url: &str) -> Resp {
        self.send(self.http.get(url)).await
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.post(url).form(form)).await
    }

    /// Fills and sends the sign-in form of `page`.
    pub async fn sign_in(&self, op: &Op, page: &Resp, login: &str, password: &str) -> Resp {
        let interaction = page.hidden("interaction");
        let csrf = page.hidden("csrf");
        self.post(
            &op.url("/oidc/authorize/sign-in"),
            &[
                ("interaction", &interaction),
                ("csrf", &csrf),
                ("login", login),
                ("password", password),
            ],
        )
        .await
    }
}

//! The OpenID Connect issuer served by several nodes over one database: the nodes share
//! one issuer (`http://apex.test`), its signing keys and its protocol state, so a relying
//! party or a browser may reach any node at any step. A code is redeemed once whichever
//! node it reaches; a refresh token reused on another node revokes its family; an SSO
//! session made on one node signs in on another without a form.

use std::collections::HashMap;

use apex_idp::demo::{DEMO_CLIENT_SECRET, DEMO_PASSWORD, DemoSignIn};
use apex_idp::domain::Role;
use apex_idp::oidc::ApexIdToken;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreIdTokenVerifier, CoreJsonWebKey, CoreJwsSigningAlgorithm};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, JsonWebKeySet, Nonce};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::common::{Browser, Resp};
use crate::node::{Node, active, seed};

/// The issuer of every node: `server.public_url`, not the address a node listens on.
const ISSUER: &str = "http://apex.test";
/// The demo client (config/catalogue.toml); `serve --dev` accepts its published secret.
const CLIENT: &str = "demo";
const REDIRECT_URI: &str = "http://127.0.0.1:9000/callback";

/// An authorization in progress: PKCE S256, a nonce and a state.
struct Flow {
    url: String,
    verifier: String,
    nonce: String,
    state: String,
}

fn random(n: usize) -> String {
    let mut b = vec![0u8; n];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).unwrap();
    URL_SAFE_NO_PAD.encode(b)
}

/// An authorization request of the demo client to `node`.
fn flow(node: &Node, extra: &[(&str, &str)]) -> Flow {
    let (verifier, nonce, state) = (random(32), random(16), random(16));
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut url = url::Url::parse(&format!("{}/oidc/authorize", node.base)).unwrap();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("response_type", "code")
            .append_pair("client_id", CLIENT)
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair(
                "scope",
                extra
                    .iter()
                    .find(|(k, _)| *k == "scope")
                    .map_or("openid", |(_, v)| v),
            )
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        for (k, v) in extra.iter().filter(|(k, _)| *k != "scope") {
            q.append_pair(k, v);
        }
    }
    Flow {
        url: url.to_string(),
        verifier,
        nonce,
        state,
    }
}

impl Flow {
    /// The code of a redirect to the client, after checking state and issuer.
    fn code(&self, answer: &Resp) -> String {
        assert_eq!(answer.status, 303, "expected a redirect: {}", answer.body);
        let location = answer.header("location");
        assert!(location.starts_with(REDIRECT_URI), "{location}");
        let q: HashMap<String, String> = url::Url::parse(location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q.get("state"), Some(&self.state), "state echoed");
        assert_eq!(
            q.get("iss").map(String::as_str),
            Some(ISSUER),
            "RFC 9207 iss"
        );
        q.get("code")
            .unwrap_or_else(|| panic!("no code in {q:?}"))
            .clone()
    }
}

/// The browser of the tests: absolute URLs, forms posted as given.
impl Browser {
    async fn get(&self, url: &str) -> Resp {
        self.send(self.http.get(url)).await
    }

    async fn post(&self, url: &str, form: &[(&str, &str)]) -> Resp {
        self.send(self.http.post(url).form(form)).await
    }
}

/// The whole sign-in of `login` in `browser` at `node`, up to the code.
async fn sign_in(node: &Node, browser: &Browser, flow: &Flow, login: &str) -> String {
    let page = browser.get(&flow.url).await;
    assert_eq!(page.status, 200, "sign-in page: {}", page.body);
    let answer = browser
        .post(
            &format!("{}/oidc/authorize/sign-in", node.base),
            &[
                ("interaction", &page.hidden("interaction")),
                ("csrf", &page.hidden("csrf")),
                ("login", login),
                ("password", DEMO_PASSWORD),
            ],
        )
        .await;
    flow.code(&answer)
}

/// A token request of the demo client at `node` (client_secret_basic).
async fn token(node: &Node, form: &[(&str, &str)]) -> (u16, Value) {
    let reply = node
        .http
        .post(format!("{}/oidc/token", node.base))
        .basic_auth(CLIENT, Some(DEMO_CLIENT_SECRET))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    let text = reply.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn exchange(node: &Node, code: &str, flow: &Flow) -> (u16, Value) {
    token(
        node,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &flow.verifier),
        ],
    )
    .await
}

async fn refresh(node: &Node, refresh_token: &str) -> (u16, Value) {
    token(
        node,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

async fn userinfo(node: &Node, access_token: &str) -> u16 {
    node.http
        .get(format!("{}/oidc/userinfo", node.base))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The subject of an ID token, verified as a relying party does against the keys that
/// `node` publishes.
async fn subject(node: &Node, id_token: &str, nonce: &str) -> String {
    let jwks: JsonWebKeySet<CoreJsonWebKey> = node
        .http
        .get(format!("{}/oidc/jwks", node.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verifier = CoreIdTokenVerifier::new_confidential_client(
        ClientId::new(CLIENT.into()),
        ClientSecret::new(DEMO_CLIENT_SECRET.into()),
        IssuerUrl::new(ISSUER.into()).unwrap(),
        jwks,
    )
    .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
    let token: ApexIdToken = id_token.parse().unwrap();
    let claims = token
        .claims(&verifier, &Nonce::new(nonce.to_owned()))
        .unwrap_or_else(|e| panic!("the ID token does not verify: {e}"));
    claims.subject().as_str().to_owned()
}

fn string(v: &Value, k: &str) -> String {
    v[k].as_str()
        .unwrap_or_else(|| panic!("no {k} in {v}"))
        .to_owned()
}

/// An active collaborateur habilitated for DEMO (every one of the demo is).
fn person(signins: &[DemoSignIn]) -> String {
    active(signins, Role::Collaborateur)
}

/// Two nodes over a seeded database, or None without PostgreSQL.
async fn two_nodes(test: &str) -> Option<(Cluster, Vec<DemoSignIn>, Node, Node)> {
    let cluster = Cluster::start(test)?;
    let url = cluster.database().await;
    let signins = seed(&url).await;
    let (a, b) = (Node::start(&url), Node::start(&url));
    Some((cluster, signins, a, b))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_code_issued_by_one_node_is_redeemed_at_another_exactly_once() {
    let Some((_cluster, signins, a, b)) =
        two_nodes("a_code_issued_by_one_node_is_redeemed_at_another_exactly_once").await
    else {
        return;
    };
    let browser = Browser::new(&a.base);
    let flow = flow(&a, &[]);
    let code = sign_in(&a, &browser, &flow, &person(&signins)).await;
    let (status, tokens) = exchange(&b, &code, &flow).await;
    assert_eq!(status, 200, "{tokens}");
    // What B issued verifies with the keys A publishes: one issuer, one key set.
    subject(&a, &string(&tokens, "id_token"), &flow.nonce).await;
    let access_token = string(&tokens, "access_token");
    assert_eq!(userinfo(&a, &access_token).await, 200);
    // The same code again, at the node that issued it: refused...
    let (status, error) = exchange(&a, &code, &flow).await;
    assert_eq!(
        (status, string(&error, "error")),
        (400, "invalid_grant".into()),
        "{error}"
    );
    // ...and the replay revokes what the first redemption issued, on every node.
    assert_eq!(userinfo(&b, &access_token).await, 401);
    assert_eq!(userinfo(&a, &access_token).await, 401);
    let (status, _) = refresh(&b, &string(&tokens, "refresh_token")).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_rotated_on_one_node_and_reused_on_another_revokes_its_family() {
    let Some((_cluster, signins, a, b)) =
        two_nodes("a_refresh_token_rotated_on_one_node_and_reused_on_another").await
    else {
        return;
    };
    let browser = Browser::new(&a.base);
    let flow = flow(&a, &[]);
    let code = sign_in(&a, &browser, &flow, &person(&signins)).await;
    let (status, first) = exchange(&a, &code, &flow).await;
    assert_eq!(status, 200, "{first}");
    let r1 = string(&first, "refresh_token");
    let (status, second) = refresh(&a, &r1).await;
    assert_eq!(status, 200, "{second}");
    let r2 = string(&second, "refresh_token");
    assert_ne!(r1, r2, "rotated");
    assert_eq!(userinfo(&b, &string(&second, "access_token")).await, 200);
    // The old token at the other node: refused, and the whole family dies.
    let (status, error) = refresh(&b, &r1).await;
    assert_eq!(
        (status, string(&error, "error")),
        (400, "invalid_grant".into()),
        "{error}"
    );
    for node in [&a, &b] {
        let (status, error) = refresh(node, &r2).await;
        assert_eq!(
            (status, string(&error, "error")),
            (400, "invalid_grant".into()),
            "the new refresh token outlived its family: {error}"
        );
        assert_eq!(userinfo(node, &string(&second, "access_token")).await, 401);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sso_session_made_on_one_node_signs_in_on_another_without_a_form() {
    let Some((_cluster, signins, a, b)) =
        two_nodes("an_sso_session_made_on_one_node_signs_in_on_another").await
    else {
        return;
    };
    let on_a = Browser::new(&a.base);
    let first = flow(&a, &[]);
    let code = sign_in(&a, &on_a, &first, &person(&signins)).await;
    let (status, tokens) = exchange(&a, &code, &first).await;
    assert_eq!(status, 200, "{tokens}");
    let who = subject(&a, &string(&tokens, "id_token"), &first.nonce).await;
    // The same browser, now sent to B (the reverse proxy chose another node): the
    // cookies are those A set, for the one public host.
    let on_b = Browser::new(&b.base);
    *on_b.cookies.lock().unwrap() = on_a.cookies.lock().unwrap().clone();
    assert!(
        !on_b.cookies.lock().unwrap().is_empty(),
        "A set a session cookie"
    );
    let second = flow(&b, &[]);
    let answer = on_b.get(&second.url).await;
    assert!(
        !answer.body.contains("name=\"password\""),
        "B showed a sign-in form"
    );
    let code = second.code(&answer);
    let (status, tokens) = exchange(&b, &code, &second).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        subject(&b, &string(&tokens, "id_token"), &second.nonce).await,
        who
    );
    // prompt=none too: the session is B's as much as A's.
    let silent = flow(&b, &[("prompt", "none")]);
    silent.code(&on_b.get(&silent.url).await);
    // A browser without the cookie gets the form at B.
    let page = Browser::new(&b.base).get(&flow(&b, &[]).url).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("name=\"password\""), "{}", page.body);
}

/// What userinfo answers at `node`.
async fn userinfo_claims(node: &Node, access_token: &str) -> (u16, Value) {
    let reply = node
        .http
        .get(format!("{}/oidc/userinfo", node.base))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap();
    let status = reply.status().as_u16();
    (status, reply.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_habilitation_removed_through_one_node_is_gone_at_once_from_userinfo_on_another() {
    let Some((_cluster, signins, a, b)) =
        two_nodes("a_habilitation_removed_through_one_node_is_gone_at_once_from_userinfo").await
    else {
        return;
    };
    // A collaborateur of the administrateur's own structure.
    let login = crate::node::of_first_structure(&signins, Role::Collaborateur);
    let browser = Browser::new(&a.base);
    let flow = flow(&a, &[("scope", "openid apex")]);
    let code = sign_in(&a, &browser, &flow, &login).await;
    let (status, tokens) = exchange(&a, &code, &flow).await;
    assert_eq!(status, 200, "{tokens}");
    let access_token = string(&tokens, "access_token");
    let (status, claims) = userinfo_claims(&b, &access_token).await;
    assert_eq!(status, 200, "{claims}");
    let held: Vec<String> = claims["profiles"]
        .as_array()
        .unwrap_or_else(|| panic!("no profiles: {claims}"))
        .iter()
        .map(|p| p.as_str().unwrap().to_owned())
        .collect();
    assert!(!held.is_empty(), "{claims}");
    // The administrateur removes every DEMO habilitation of the person through A.
    let admin = a.sign_in(&crate::node::administrateur(&signins)).await;
    let (_, structure) = a.call(Some(&admin), "GET", "/structure", None).await;
    let id = structure["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["login"] == login.as_str())
        .map(|x| string(x, "id"))
        .unwrap_or_else(|| panic!("{login} not in {structure}"));
    for profile in &held {
        let (status, body) = a
            .call(
                Some(&admin),
                "DELETE",
                &format!("/accounts/{id}/habilitations/{profile}"),
                None,
            )
            .await;
        assert!(status == 200 || status == 204, "{status} {body}");
    }
    // The very next userinfo on B shows none of them.
    let (status, claims) = userinfo_claims(&b, &access_token).await;
    assert_eq!(status, 200, "{claims}");
    let after = claims["profiles"].as_array().cloned().unwrap_or_default();
    assert!(
        after.iter().all(|p| !held.iter().any(|h| p == h.as_str())),
        "{claims}"
    );
}

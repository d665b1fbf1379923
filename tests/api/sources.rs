//! Brute-force protection keyed by the real client: loopback sources 127.0.0.x stand
//! for distinct clients, and a trusted proxy's `X-Forwarded-For` names the client.

use std::net::IpAddr;

use serde_json::json;

use crate::common::{OPERATOR_TOKEN, test_config};
use crate::fixture::{Fixture, PASSWORD, Person};

const WRONG: &str = "Mauvais-Mot-De-Passe-1";

/// A client whose connections come from `127.0.0.<last>`.
fn from(last: u8) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap()
}

async fn attempt(
    f: &Fixture,
    client: &reqwest::Client,
    xff: Option<&str>,
    login: &str,
    password: &str,
) -> u16 {
    let mut req = client
        .post(f.url("/api/v1/sessions"))
        .json(&json!({"login": login, "password": password}));
    if let Some(x) = xff {
        req = req.header("x-forwarded-for", x);
    }
    req.send().await.unwrap().status().as_u16()
}

async fn member(f: &Fixture, family: &str) -> Person {
    let sid = f.structure("73282932000074", "Cabinet Sources").await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let svc = f.service(&admin, "Trésorerie").await;
    f.member(&admin, &admin, "collaborateur", &svc, "Bob", family)
        .await
}

/// Wrong passwords until the answer is 429; fails if it never comes.
async fn until_delayed(f: &Fixture, client: &reqwest::Client, xff: Option<&str>, login: &str) {
    for _ in 0..10 {
        if attempt(f, client, xff, login, WRONG).await == 429 {
            return;
        }
    }
    panic!("{login} from {xff:?} never backed off");
}

#[tokio::test]
async fn typos_from_one_address_never_delay_the_owner_from_another() {
    let f = Fixture::start().await;
    let m = member(&f, "Ailleurs").await;
    let thief = from(2);
    until_delayed(&f, &thief, None, &m.login).await;
    assert_eq!(attempt(&f, &thief, None, &m.login, PASSWORD).await, 429);
    // The owner, elsewhere, signs in at once.
    assert_eq!(attempt(&f, &from(3), None, &m.login, PASSWORD).await, 201);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.trusted_proxies = vec!["127.0.0.1/32".into()];
    let f = Fixture::start_with(dir, config).await;
    let m = member(&f, "Proxy").await;
    let proxy = from(1);
    until_delayed(&f, &proxy, Some("198.51.100.7"), &m.login).await;
    // Another client behind the same proxy is not held back.
    assert_eq!(
        attempt(&f, &proxy, Some("198.51.100.8"), &m.login, PASSWORD).await,
        201
    );
    // What the client wrote to the left of the proxy's own entry is not believed.
    assert_eq!(
        attempt(
            &f,
            &proxy,
            Some("198.51.100.8, 198.51.100.7"),
            &m.login,
            PASSWORD
        )
        .await,
        429
    );
    // A peer that is no trusted proxy cannot choose its address with the header.
    let other = from(5);
    until_delayed(&f, &other, Some("198.51.100.9"), &m.login).await;
    assert_eq!(
        attempt(&f, &other, Some("198.51.100.10"), &m.login, PASSWORD).await,
        429
    );
}

#[tokio::test]
async fn forwarding_headers_are_ignored_without_trusted_proxies() {
    let f = Fixture::start().await;
    let m = member(&f, "Direct").await;
    let c = from(6);
    until_delayed(&f, &c, Some("198.51.100.7"), &m.login).await;
    assert_eq!(
        attempt(&f, &c, Some("198.51.100.8"), &m.login, PASSWORD).await,
        429
    );
}

#[tokio::test]
async fn an_address_guessing_many_logins_is_slowed_then_forgiven() {
    let f = Fixture::start().await;
    let m = member(&f, "Fenetre").await;
    let c = from(7);
    let mut delayed = false;
    for i in 0..40 {
        if attempt(&f, &c, None, &format!("inconnu{i}"), WRONG).await == 429 {
            delayed = true;
            break;
        }
    }
    assert!(delayed, "the address backs off across logins");
    assert_eq!(attempt(&f, &c, None, &m.login, PASSWORD).await, 429);
    // Elsewhere, nothing changes.
    assert_eq!(attempt(&f, &from(8), None, &m.login, PASSWORD).await, 201);
    // The window slides: past the delay, the failures leak away.
    f.clock.advance(60 * 60);
    assert_eq!(attempt(&f, &c, None, &m.login, PASSWORD).await, 201);
}

async fn operator_call(f: &Fixture, client: &reqwest::Client, token: &str) -> u16 {
    client
        .get(f.url("/api/v1/operator/structures"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn wrong_operator_tokens_slow_their_source_only() {
    let f = Fixture::start().await;
    let guesser = from(9);
    let mut delayed = false;
    for i in 0..40 {
        if operator_call(&f, &guesser, &format!("guess-{i}")).await == 429 {
            delayed = true;
            break;
        }
    }
    assert!(delayed, "the guessing source backs off");
    // A delayed source buys no hash, even with the right token.
    assert_eq!(operator_call(&f, &guesser, OPERATOR_TOKEN).await, 429);
    assert_eq!(operator_call(&f, &from(10), OPERATOR_TOKEN).await, 200);
}

#[tokio::test]
async fn a_partner_token_on_the_operator_api_is_refused_without_a_hash() {
    let f = Fixture::start().await;
    let m = member(&f, "Partenaire").await;
    let c = from(11);
    for _ in 0..30 {
        assert_eq!(operator_call(&f, &c, &m.token).await, 401);
    }
    // Those refusals cost no hash and count as no guess.
    assert_eq!(operator_call(&f, &c, OPERATOR_TOKEN).await, 200);
    // A token that cannot be an operator token's shape is refused as well.
    assert_eq!(operator_call(&f, &c, "with space").await, 401);
}

#[tokio::test]
async fn a_huge_login_is_refused_and_counted_like_any_other() {
    let f = Fixture::start().await;
    let c = from(12);
    let huge = "x".repeat(30_000);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(attempt(&f, &c, None, &huge, WRONG).await);
    }
    assert_eq!(statuses[0], 401, "{statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

//! What an anonymous client can make the issuer keep: free-text parameters are
//! bounded, and so are the sign-ins left pending, per client address and in all.
//! Loopback sources 127.0.0.x stand for distinct clients.

use std::net::IpAddr;
use std::path::Path;

use crate::common::Browser;
use crate::fixture::{DEMO, Op, PASSWORD};

/// A browser whose connections come from `127.0.0.<last>`.
fn browser_from(op: &Op, last: u8) -> Browser {
    let mut b = op.browser();
    b.http = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(IpAddr::from([127, 0, 0, last]))
        .build()
        .unwrap();
    b
}

/// Bytes of every file under `dir`.
fn disk_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let meta = entry.metadata().unwrap();
        total += if meta.is_dir() {
            disk_bytes(&entry.path())
        } else {
            meta.len()
        };
    }
    total
}

async fn settled_disk_bytes(op: &Op) -> u64 {
    op.directory().flush_blocking().unwrap();
    disk_bytes(op.dir.path())
}

#[tokio::test]
async fn fifteen_hundred_requests_with_a_30_kb_state_leave_the_disk_as_it_was() {
    let op = Op::start().await;
    let browser = op.browser();
    let big = "s".repeat(30 * 1024);
    let flow = op.flow(DEMO, "openid", &[]);
    let url = flow.url.replace(&flow.state, &big);
    // A first refusal, so that whatever a first request writes anyway is counted out.
    let first = browser.get(&url).await;
    let q = first.redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "invalid_request", "{q:?}");
    assert!(q["error_description"].contains("state"), "{q:?}");
    assert!(!q.contains_key("state"), "an oversized state is not echoed");
    let before = settled_disk_bytes(&op).await;
    for _ in 0..1500 {
        let answer = browser.get(&url).await;
        assert_eq!(answer.status, 303);
    }
    let after = settled_disk_bytes(&op).await;
    let grown = after.saturating_sub(before);
    // Kept, the states alone would be 45 MB.
    assert!(grown < 1024 * 1024, "the data grew by {grown} bytes");
}

#[tokio::test]
async fn every_free_text_parameter_is_bounded_and_512_bytes_pass() {
    let op = Op::start().await;
    let browser = op.browser();
    let at_bound = "n".repeat(512);
    let page = browser
        .get(&op.flow(DEMO, "openid", &[("login_hint", &at_bound)]).url)
        .await;
    assert_eq!(page.status, 200, "a 512-byte login_hint is accepted");
    let over = "n".repeat(513);
    for name in ["nonce", "login_hint", "prompt"] {
        let flow = op.flow(DEMO, "openid", &[(name, &over)]);
        // `nonce` is already in the flow: the longer one is a second value there.
        let url = if name == "nonce" {
            flow.url.replace(&flow.nonce, &over)
        } else {
            flow.url.clone()
        };
        let q = browser.get(&url).await.redirect_query(DEMO.redirect_uri);
        assert_eq!(q["error"], "invalid_request", "{name}: {q:?}");
        assert_eq!(q["state"], flow.state, "{name}: the state is echoed");
    }
    let flow = op.flow(DEMO, &format!("openid {over}"), &[]);
    let q = browser
        .get(&flow.url)
        .await
        .redirect_query(DEMO.redirect_uri);
    assert_eq!(q["error"], "invalid_request", "long scope: {q:?}");
}

/// Opens a sign-in page and returns it.
async fn pending(op: &Op, browser: &Browser) -> (crate::common::Resp, crate::fixture::Flow) {
    let flow = op.flow(DEMO, "openid", &[]);
    let page = browser.get(&flow.url).await;
    assert_eq!(page.status, 200, "{}", page.body);
    (page, flow)
}

#[tokio::test]
async fn an_address_that_leaves_many_sign_ins_pending_only_forgets_its_own_oldest() {
    let op = Op::start_with(
        |_| {},
        |c| {
            c.oidc.pending_sign_ins_per_address = 5;
            c.oidc.pending_sign_ins_total = 100;
        },
    )
    .await;
    let who = op.person("martin");
    let other = browser_from(&op, 3);
    let (others_page, others_flow) = pending(&op, &other).await;
    let flooder = browser_from(&op, 2);
    let (oldest, _) = pending(&op, &flooder).await;
    for _ in 0..5 {
        pending(&op, &flooder).await;
    }
    let (newest, newest_flow) = pending(&op, &flooder).await;
    // The flooder's oldest is gone; its newest still signs in.
    let late = flooder.sign_in(&op, &oldest, &who.login, PASSWORD).await;
    assert_eq!(late.status, 400, "{}", late.body);
    assert!(late.body.contains("expiré"), "{}", late.body);
    let ok = flooder.sign_in(&op, &newest, &who.login, PASSWORD).await;
    assert!(!newest_flow.code(&ok).is_empty());
    // The other address's sign-in was never touched.
    let ok = other.sign_in(&op, &others_page, &who.login, PASSWORD).await;
    assert!(!others_flow.code(&ok).is_empty());
}

#[tokio::test]
async fn past_the_total_bound_new_sign_ins_wait_until_some_end() {
    let op = Op::start_with(
        |_| {},
        |c| {
            c.oidc.pending_sign_ins_per_address = 10;
            c.oidc.pending_sign_ins_total = 3;
        },
    )
    .await;
    let who = op.person("martin");
    let mut held = Vec::new();
    for last in 2..5 {
        let b = browser_from(&op, last);
        let (page, flow) = pending(&op, &b).await;
        held.push((b, page, flow));
    }
    let late = browser_from(&op, 5);
    let refused = late.get(&op.flow(DEMO, "openid", &[]).url).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("retry-after"), "60");
    // One of those sign-ins ends: there is room again.
    let (b, page, flow) = held.pop().unwrap();
    let ok = b.sign_in(&op, &page, &who.login, PASSWORD).await;
    assert!(!flow.code(&ok).is_empty());
    pending(&op, &late).await;
    // Pending sign-ins expire after 30 minutes, and make room too.
    op.clock.advance(31 * 60);
    pending(&op, &browser_from(&op, 6)).await;
    pending(&op, &browser_from(&op, 7)).await;
}

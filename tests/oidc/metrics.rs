//! The issuer's Prometheus metrics: token requests by grant type and result, and the
//! token endpoint's latency.

use crate::fixture::{DEMO, Op};

async fn metrics(op: &Op) -> String {
    op.http
        .get(op.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

fn value(text: &str, series: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {series} in:\n{text}"))
}

#[tokio::test]
async fn token_requests_are_counted_by_grant_type_and_result() {
    let op = Op::start().await;
    let code = r#"apex_oidc_grants_total{grant_type="authorization_code",result="issued"}"#;
    let reused = r#"apex_oidc_grants_total{grant_type="refresh_token",result="refused"}"#;
    let refreshed = r#"apex_oidc_grants_total{grant_type="refresh_token",result="issued"}"#;
    let odd = r#"apex_oidc_grants_total{grant_type="other",result="refused"}"#;
    let before = metrics(&op).await;
    assert_eq!(value(&before, code), 0);
    assert_eq!(value(&before, "apex_oidc_token_duration_seconds_count"), 0);
    let (_, t) = op.tokens(DEMO, "durand", "openid").await;
    let first = t["refresh_token"].as_str().unwrap().to_owned();
    let (s, _) = op.refresh(DEMO, &first).await;
    assert_eq!(s, 200);
    let (s, _) = op.refresh(DEMO, &first).await;
    assert_eq!(s, 400, "a spent refresh token is refused");
    let (s, _) = op.token(DEMO, &[("grant_type", "password")]).await;
    assert_eq!(s, 400);
    let after = metrics(&op).await;
    assert_eq!(value(&after, code), 1);
    assert_eq!(value(&after, refreshed), 1);
    assert_eq!(value(&after, reused), 1);
    assert_eq!(value(&after, odd), 1, "an unknown grant type is `other`");
    assert_eq!(value(&after, "apex_oidc_token_duration_seconds_count"), 4);
}

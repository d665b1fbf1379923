//! The LDAP face's Prometheus metrics: operations by kind and result, their latency,
//! and the open connections.

use ldap3::Scope;

use crate::fixture::*;

async fn metrics(f: &Fixture) -> String {
    apex_idp::server::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    http.get(format!("http://{}/metrics", f.server().http_addr))
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
async fn operations_are_counted_by_kind_and_result_with_the_open_connections() {
    let f = Fixture::start(SMALL).await;
    let before = metrics(&f).await;
    let binds_ok = r#"apex_ldap_operations_total{op="bind",result="success"}"#;
    let binds_refused = r#"apex_ldap_operations_total{op="bind",result="failure"}"#;
    let searches = r#"apex_ldap_operations_total{op="search",result="success"}"#;
    assert_eq!(value(&before, binds_ok), 0);
    assert_eq!(value(&before, "apex_ldap_connections"), 0);
    let mut app = f.as_application("ALPHA").await;
    let (entries, _) = app
        .search(BASE, Scope::Base, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(entries.len(), 1);
    let mut wrong = f.connect(Transport::Plain).await;
    let refused = wrong
        .simple_bind(&application_dn("ALPHA"), "not-the-secret")
        .await
        .unwrap();
    assert_ne!(refused.rc, 0);
    let during = metrics(&f).await;
    assert_eq!(value(&during, binds_ok), 1);
    assert_eq!(value(&during, binds_refused), 1);
    assert_eq!(value(&during, searches), 1);
    assert_eq!(
        value(&during, "apex_ldap_connections"),
        2,
        "both still open"
    );
    assert!(value(&during, "apex_ldap_operation_duration_seconds_count") >= 3);
    app.unbind().await.unwrap();
    wrong.unbind().await.unwrap();
    // The server closes its side after reading the unbind.
    let mut closed = false;
    for _ in 0..100 {
        if value(&metrics(&f).await, "apex_ldap_connections") == 0 {
            closed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        closed,
        "the gauge comes back to 0 once the connections close"
    );
}

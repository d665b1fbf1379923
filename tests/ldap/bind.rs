//! Binds: people by DN or bare login, applications by their secret, anonymous; the
//! confidentiality rule; expired passwords; the backoff.

use ldap3::Scope;

use crate::fixture::*;

#[tokio::test]
async fn a_person_binds_by_dn_and_by_bare_login_on_every_transport() {
    let f = Fixture::start(SMALL).await;
    let who = f.collaborateur(&f.structures()[0]);
    let login = who.login.clone().unwrap();
    for transport in [Transport::Plain, Transport::StartTls, Transport::Ldaps] {
        let mut ldap = f.bound(transport, &person_dn(&login), PASSWORD).await;
        let me = search(
            &mut ldap,
            &person_dn(&login),
            Scope::Base,
            "(objectClass=*)",
            &["uid"],
        )
        .await;
        assert_eq!(me.len(), 1, "{transport:?}");
        assert_eq!(me[0].attrs["uid"], vec![login.clone()]);
        ldap.unbind().await.unwrap();
        let mut ldap = f.bound(transport, &login.to_uppercase(), PASSWORD).await;
        ldap.unbind().await.unwrap();
    }
}

#[tokio::test]
async fn a_wrong_password_or_an_unknown_name_is_invalid_credentials() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    let mut ldap = f.connect(Transport::Plain).await;
    for (dn, pw) in [
        (person_dn(&login), "not-the-password"),
        (person_dn("nobody"), PASSWORD),
        (format!("cn=x,ou=elsewhere,{BASE}"), PASSWORD),
        (application_dn("ALPHA"), "not-the-secret"),
        (application_dn("NOSUCHAPP"), ALPHA_SECRET),
    ] {
        let res = ldap.simple_bind(&dn, pw).await.unwrap();
        assert_eq!(res.rc, rc::INVALID_CREDENTIALS, "{dn}");
    }
    // A failed bind leaves the connection anonymous.
    let (entries, code) = search_rc(&mut ldap, BASE, Scope::Base, "(objectClass=*)", &[]).await;
    assert_eq!((entries.len(), code), (0, rc::NO_SUCH_OBJECT));
}

#[tokio::test]
async fn an_application_binds_with_its_secret() {
    let f = Fixture::start(SMALL).await;
    for transport in [Transport::Plain, Transport::StartTls, Transport::Ldaps] {
        let mut ldap = f
            .bound(transport, &application_dn("ALPHA"), ALPHA_SECRET)
            .await;
        let me = search(
            &mut ldap,
            &application_dn("ALPHA"),
            Scope::Base,
            "(objectClass=*)",
            &["cn"],
        )
        .await;
        assert_eq!(me.len(), 1);
        ldap.unbind().await.unwrap();
    }
}

#[tokio::test]
async fn plain_binds_need_tls_unless_loopback_is_allowed() {
    let f = Fixture::start_with(SMALL, |c| c.ldap.allow_plain_bind_on_loopback = false).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    let mut plain = f.connect(Transport::Plain).await;
    let res = plain
        .simple_bind(&person_dn(&login), PASSWORD)
        .await
        .unwrap();
    assert_eq!(res.rc, rc::CONFIDENTIALITY_REQUIRED, "{res:?}");
    assert!(res.text.contains("StartTLS"), "{}", res.text);
    // Anonymous reads of the root DSE still work in clear.
    let root = search(
        &mut plain,
        "",
        Scope::Base,
        "(objectClass=*)",
        &["namingContexts"],
    )
    .await;
    assert_eq!(root[0].attrs["namingContexts"], vec![BASE.to_owned()]);
    f.bound(Transport::StartTls, &person_dn(&login), PASSWORD)
        .await;
    f.bound(Transport::Ldaps, &person_dn(&login), PASSWORD)
        .await;
}

#[tokio::test]
async fn an_expired_password_cannot_bind() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    f.clock.advance(366 * 24 * 3600);
    let mut ldap = f.connect(Transport::Plain).await;
    let res = ldap
        .simple_bind(&person_dn(&login), PASSWORD)
        .await
        .unwrap();
    assert_eq!(res.rc, rc::INVALID_CREDENTIALS);
    assert!(res.text.contains("expired"), "{}", res.text);
}

#[tokio::test]
async fn repeated_failures_make_binds_busy() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    let mut ldap = f.connect(Transport::Plain).await;
    let mut codes = Vec::new();
    for _ in 0..10 {
        let res = ldap.simple_bind(&login, "wrong-password").await.unwrap();
        codes.push(res.rc);
        if res.rc == rc::BUSY {
            break;
        }
    }
    assert_eq!(codes.first(), Some(&rc::INVALID_CREDENTIALS));
    assert_eq!(
        codes.last(),
        Some(&rc::BUSY),
        "the core's backoff applies: {codes:?}"
    );
    // While the backoff lasts, even the right password waits (the clock is frozen).
    let res = ldap.simple_bind(&login, PASSWORD).await.unwrap();
    assert_eq!(res.rc, rc::BUSY, "{res:?}");
    assert!(res.text.contains("retry"), "{}", res.text);
}

#[tokio::test]
async fn sasl_and_unauthenticated_binds_are_refused() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    let mut ldap = f.connect(Transport::Plain).await;
    let res = ldap.sasl_external_bind().await.unwrap();
    assert_eq!(res.rc, rc::AUTH_METHOD_NOT_SUPPORTED);
    let res = ldap.simple_bind(&person_dn(&login), "").await.unwrap();
    assert_eq!(res.rc, rc::UNWILLING_TO_PERFORM);
    let res = ldap.simple_bind("", "").await.unwrap();
    assert_eq!(res.rc, rc::SUCCESS, "anonymous bind");
}

#[tokio::test]
async fn anonymous_reads_the_root_dse_and_the_subschema_only() {
    let f = Fixture::start(SMALL).await;
    let mut ldap = f.connect(Transport::Plain).await;
    let root = search(&mut ldap, "", Scope::Base, "(objectClass=*)", &[]).await;
    assert_eq!(root.len(), 1);
    let attrs = &root[0].attrs;
    assert_eq!(attrs["namingContexts"], vec![BASE.to_owned()]);
    assert_eq!(attrs["supportedLDAPVersion"], vec!["3".to_owned()]);
    for oid in [
        "1.3.6.1.4.1.4203.1.11.3",
        "1.3.6.1.4.1.4203.1.11.1",
        "1.3.6.1.4.1.1466.20037",
    ] {
        assert!(
            attrs["supportedExtension"].contains(&oid.to_owned()),
            "{oid}"
        );
    }
    assert!(attrs["supportedControl"].contains(&"1.2.840.113556.1.4.319".to_owned()));
    assert!(!attrs.contains_key("supportedSASLMechanisms"));
    assert_eq!(attrs["vendorName"], vec!["apex-idp".to_owned()]);
    assert_eq!(attrs["subschemaSubentry"], vec!["cn=Subschema".to_owned()]);

    let schema = search(
        &mut ldap,
        "cn=Subschema",
        Scope::Base,
        "(objectClass=subschema)",
        &["attributeTypes", "objectClasses"],
    )
    .await;
    let types = &schema[0].attrs["attributeTypes"];
    assert!(
        types
            .iter()
            .any(|t| t.contains("'apexSiret'") && t.contains("1.3.6.1.4.1.32473.1.1.1"))
    );
    assert!(types.iter().any(|t| t.contains("'uid'")));
    assert!(
        schema[0].attrs["objectClasses"]
            .iter()
            .any(|t| t.contains("'apexAccount'"))
    );

    for base in [BASE.to_owned(), format!("ou=people,{BASE}")] {
        let (entries, code) =
            search_rc(&mut ldap, &base, Scope::Subtree, "(objectClass=*)", &[]).await;
        assert_eq!((entries.len(), code), (0, rc::NO_SUCH_OBJECT), "{base}");
    }
    let (entries, _) = search_rc(&mut ldap, "", Scope::Subtree, "(objectClass=*)", &[]).await;
    assert!(entries.is_empty(), "anonymous sees nothing of the tree");
}

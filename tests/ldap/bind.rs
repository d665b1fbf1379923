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

/// Binds as `dn` over a fresh connection from the loopback address `from`; the
/// result code.
async fn bind_from(f: &Fixture, from: [u8; 4], dn: &str, password: &str) -> u32 {
    use futures::{SinkExt, StreamExt};
    use ldap3_proto::proto::LdapOp;

    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket
        .bind((std::net::Ipv4Addr::from(from), 0).into())
        .unwrap();
    let stream = socket.connect(f.server().ldap_addr.unwrap()).await.unwrap();
    let mut framed = tokio_util::codec::Framed::new(stream, ldap3_proto::LdapCodec::default());
    framed
        .send(crate::limits::bind(1, dn, password))
        .await
        .unwrap();
    match framed.next().await.unwrap().unwrap().op {
        LdapOp::BindResponse(r) => r.res.code as u32,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn wrong_binds_of_an_application_from_elsewhere_never_keep_it_out() {
    let f = Fixture::start(SMALL).await;
    let alpha = application_dn("ALPHA");
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(bind_from(&f, [127, 0, 0, 2], &alpha, "guessed").await);
    }
    assert_eq!(codes.first(), Some(&rc::INVALID_CREDENTIALS));
    assert_eq!(codes.last(), Some(&rc::BUSY), "{codes:?}");
    // The guesser is delayed even with the right secret; the application's own
    // servers, elsewhere, bind at once.
    assert_eq!(
        bind_from(&f, [127, 0, 0, 2], &alpha, ALPHA_SECRET).await,
        rc::BUSY
    );
    assert_eq!(
        bind_from(&f, [127, 0, 0, 3], &alpha, ALPHA_SECRET).await,
        rc::SUCCESS
    );
    assert_eq!(
        bind_from(&f, [127, 0, 0, 1], &alpha, ALPHA_SECRET).await,
        rc::SUCCESS
    );
}

#[tokio::test]
async fn allowed_sources_refuse_application_binds_from_anywhere_else() {
    let f = Fixture::start_with(SMALL, |c| {
        let text = std::fs::read_to_string(&c.catalogue.file).unwrap();
        let text = text.replacen(
            "[application.ldap]\n",
            "[application.ldap]\n  allowed_sources = [\"127.0.0.5/32\", \"::1\"]\n",
            1,
        );
        std::fs::write(&c.catalogue.file, text).unwrap();
    })
    .await;
    let alpha = application_dn("ALPHA");
    assert_eq!(
        bind_from(&f, [127, 0, 0, 5], &alpha, ALPHA_SECRET).await,
        rc::SUCCESS
    );
    // Refused from elsewhere, even with the right secret.
    assert_eq!(
        bind_from(&f, [127, 0, 0, 6], &alpha, ALPHA_SECRET).await,
        rc::INVALID_CREDENTIALS
    );
    // BETA lists no sources: it binds from anywhere.
    assert_eq!(
        bind_from(&f, [127, 0, 0, 6], &application_dn("BETA"), BETA_SECRET).await,
        rc::SUCCESS
    );
}

#[tokio::test]
async fn typos_from_one_address_never_delay_a_person_binding_from_another() {
    let f = Fixture::start(SMALL).await;
    let dn = person_dn(&f.collaborateur(&f.structures()[0]).login.unwrap());
    let mut codes = Vec::new();
    for _ in 0..10 {
        codes.push(bind_from(&f, [127, 0, 0, 2], &dn, "wrong-password").await);
    }
    assert_eq!(codes.last(), Some(&rc::BUSY), "{codes:?}");
    assert_eq!(bind_from(&f, [127, 0, 0, 2], &dn, PASSWORD).await, rc::BUSY);
    assert_eq!(
        bind_from(&f, [127, 0, 0, 3], &dn, PASSWORD).await,
        rc::SUCCESS
    );
}

//! Extended operations (Who am I?, Password Modify, StartTLS) and the refused writes.

use std::collections::HashSet;

use ldap3::exop::{PasswordModify, WhoAmI, WhoAmIResp};
use ldap3::{Mod, Scope};

use crate::fixture::*;

/// Binds as `login` over LDAPS with [`PASSWORD`] and changes it to `new` with Password
/// Modify; returns the connection, still bound.
async fn change_own_password(f: &Fixture, login: &str, new: &str) -> ldap3::Ldap {
    let mut ldap = f.bound(Transport::Ldaps, &person_dn(login), PASSWORD).await;
    let res = ldap
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some(PASSWORD),
            new_pass: Some(new),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, rc::SUCCESS, "{:?}", res.1);
    ldap
}

async fn whoami(ldap: &mut ldap3::Ldap) -> String {
    let (exop, _) = ldap.extended(WhoAmI).await.unwrap().success().unwrap();
    exop.parse::<WhoAmIResp>().authzid
}

#[tokio::test]
async fn who_am_i_names_the_bound_identity() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    let mut ldap = f.connect(Transport::StartTls).await;
    assert_eq!(whoami(&mut ldap).await, "");
    ldap.simple_bind(&login, PASSWORD)
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(whoami(&mut ldap).await, format!("dn:{}", person_dn(&login)));
    ldap.simple_bind(&application_dn("ALPHA"), ALPHA_SECRET)
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(
        whoami(&mut ldap).await,
        format!("dn:{}", application_dn("ALPHA"))
    );
}

#[tokio::test]
async fn a_person_changes_his_own_password_knowing_the_old_one() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    let new = "Nouvelle-Phrase-De-Passe-2026";
    let _ldap = change_own_password(&f, &login, new).await;
    let mut again = f.connect(Transport::Ldaps).await;
    let old = again.simple_bind(&login, PASSWORD).await.unwrap();
    assert_eq!(old.rc, rc::INVALID_CREDENTIALS);
    again
        .simple_bind(&login, new)
        .await
        .unwrap()
        .success()
        .unwrap();
    // With his own DN as userIdentity too.
    let res = again
        .extended(PasswordModify {
            user_id: Some(&person_dn(&login)),
            old_pass: Some(new),
            new_pass: Some("Encore-Une-Autre-Phrase-77"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, rc::SUCCESS, "{:?}", res.1);
}

#[tokio::test]
async fn a_password_change_over_ldap_ends_the_persons_api_sessions() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    apex_idp::server::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let api = format!("http://{}/api/v1", f.server().http_addr);
    let sign_in = async |password: &str| {
        let body = serde_json::json!({"login": login, "password": password});
        let r = http.post(format!("{api}/sessions")).json(&body).send();
        let v: serde_json::Value = r.await.unwrap().json().await.unwrap();
        v["token"].as_str().unwrap_or_default().to_owned()
    };
    let me = async |token: &str| {
        let r = http.get(format!("{api}/me")).bearer_auth(token).send();
        r.await.unwrap().status().as_u16()
    };
    let token = sign_in(PASSWORD).await;
    assert_eq!(me(&token).await, 200);
    let new = "Nouvelle-Phrase-Par-Ldap-2026";
    let _ldap = change_own_password(&f, &login, new).await;
    assert_eq!(
        me(&token).await,
        401,
        "the session opened with the old password ended"
    );
    assert_eq!(me(&sign_in(new).await).await, 200);
}

#[tokio::test]
async fn a_connection_bound_with_the_old_password_reads_nothing_after_a_change() {
    let f = Fixture::start(SMALL).await;
    let s = &f.structures()[0];
    let login = f.collaborateur(s).login.unwrap();
    let structure = structure_dn(s.siret.as_str());
    // Entries read, with the result code: an entry the reader may not see is absent.
    let reads = async |ldap: &mut ldap3::Ldap| {
        let (entries, code) =
            search_rc(ldap, &structure, Scope::Base, "(objectClass=*)", &["1.1"]).await;
        (entries.len(), code)
    };
    let mut thief = f.as_person(&login).await;
    assert_eq!(reads(&mut thief).await, (1, rc::SUCCESS));
    // The owner changes his password over another connection, which stays bound.
    let mut owner = change_own_password(&f, &login, "Nouvelle-Phrase-Par-Ldap-2026").await;
    assert_eq!(
        reads(&mut owner).await,
        (1, rc::SUCCESS),
        "the changing connection stays"
    );
    assert_eq!(
        reads(&mut thief).await,
        (0, rc::NO_SUCH_OBJECT),
        "the old password's connection still reads"
    );
}

#[tokio::test]
async fn password_modify_refuses_others_wrong_old_passwords_and_weak_ones() {
    let f = Fixture::start(SMALL).await;
    let [s0, s1] = &f.structures()[..] else {
        panic!()
    };
    let login = f.collaborateur(s0).login.unwrap();
    let other = f.collaborateur(s1).login.unwrap();
    let mut ldap = f.bound(Transport::StartTls, &login, PASSWORD).await;
    let cases = [
        (
            Some(person_dn(&other)),
            Some(PASSWORD),
            Some("Une-Phrase-Tres-Longue-1"),
            rc::INSUFFICIENT_ACCESS,
        ),
        (
            None,
            Some("not-the-password"),
            Some("Une-Phrase-Tres-Longue-1"),
            rc::INVALID_CREDENTIALS,
        ),
        (
            None,
            Some(PASSWORD),
            Some("court"),
            rc::CONSTRAINT_VIOLATION,
        ),
        (
            None,
            None,
            Some("Une-Phrase-Tres-Longue-1"),
            rc::UNWILLING_TO_PERFORM,
        ),
        (None, Some(PASSWORD), None, rc::UNWILLING_TO_PERFORM),
    ];
    for (user, old, new, expected) in cases {
        let res = ldap
            .extended(PasswordModify {
                user_id: user.as_deref(),
                old_pass: old,
                new_pass: new,
            })
            .await
            .unwrap();
        assert_eq!(
            res.1.rc, expected,
            "{user:?} {old:?} {new:?}: {}",
            res.1.text
        );
    }
    let mut app = f
        .bound(Transport::StartTls, &application_dn("ALPHA"), ALPHA_SECRET)
        .await;
    let res = app
        .extended(PasswordModify {
            user_id: None,
            old_pass: Some(ALPHA_SECRET),
            new_pass: Some("x-y-z-w-v-u-t-s"),
        })
        .await
        .unwrap();
    assert_eq!(res.1.rc, rc::INSUFFICIENT_ACCESS);
}

#[tokio::test]
async fn writes_are_unwilling_to_perform_and_point_to_the_web_space() {
    let f = Fixture::start(SMALL).await;
    let login = f.collaborateur(&f.structures()[0]).login.unwrap();
    let dn = person_dn(&login);
    let mut ldap = f.as_person(&login).await;
    let add = ldap
        .add(
            &format!("uid=new,ou=people,{BASE}"),
            vec![("objectClass", HashSet::from(["inetOrgPerson"]))],
        )
        .await
        .unwrap();
    let modify = ldap
        .modify(&dn, vec![Mod::Replace("sn", HashSet::from(["X"]))])
        .await
        .unwrap();
    let delete = ldap.delete(&dn).await.unwrap();
    let moddn = ldap.modifydn(&dn, "uid=renamed", true, None).await.unwrap();
    for res in [add, modify, delete, moddn] {
        assert_eq!(res.rc, rc::UNWILLING_TO_PERFORM);
        assert!(res.text.contains("web space"), "{}", res.text);
    }
    // Nothing changed.
    let me = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &["uid"]).await;
    assert_eq!(me[0].attrs["uid"], vec![login]);
}

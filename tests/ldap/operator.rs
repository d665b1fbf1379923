//! The operator's block, as the LDAP face applies it: no bind, and a connection bound
//! before no longer sees as him.

use ldap3::Scope;

use crate::fixture::*;

#[tokio::test]
async fn a_blocked_person_binds_no_more_and_his_bound_connection_loses_his_rights() {
    let f = Fixture::start(SMALL).await;
    let who = f.collaborateur(&f.structures()[0]);
    let login = who.login.clone().unwrap();
    let mut before = f.as_person(&login).await;
    let mine = search(
        &mut before,
        &person_dn(&login),
        Scope::Base,
        "(objectClass=*)",
        &["uid"],
    )
    .await;
    assert_eq!(mine.len(), 1);

    f.directory().block_account(&who.id).await.unwrap();
    let mut fresh = f.connect(Transport::Plain).await;
    let bind = fresh
        .simple_bind(&person_dn(&login), PASSWORD)
        .await
        .unwrap();
    assert_eq!(bind.rc, 49, "invalidCredentials: {bind:?}");
    // The connection bound before is anonymous now: the entry is hidden from it.
    let seen = before
        .search(
            &person_dn(&login),
            Scope::Base,
            "(objectClass=*)",
            vec!["uid"],
        )
        .await
        .unwrap();
    assert_eq!(seen.1.rc, 32, "noSuchObject: {:?}", seen.1);

    f.directory().unblock_account(&who.id).await.unwrap();
    f.as_person(&login).await;
}

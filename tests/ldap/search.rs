//! Searches: scopes over the real hierarchy, filters, attribute selection, limits,
//! and Compare.

use ldap3::{Scope, SearchOptions};

use crate::fixture::*;

#[tokio::test]
async fn a_person_reads_his_structure_its_services_and_accounts() {
    let f = Fixture::start(SMALL).await;
    let mine = &f.structures()[0];
    let me = f.collaborateur(mine);
    let mut ldap = f.as_person(me.login.as_deref().unwrap()).await;
    let got = search(&mut ldap, BASE, Scope::Subtree, "(objectClass=*)", &["1.1"]).await;
    let sdn = structure_dn(mine.siret.as_str());
    let mut expected = vec![BASE.to_owned(), sdn.clone()];
    for ou in ["structures", "people", "profiles", "applications"] {
        expected.push(format!("ou={ou},{BASE}"));
    }
    for s in f.services_of(mine) {
        expected.push(format!("apexServiceId={},{sdn}", s.id));
    }
    for a in f.accounts_of(mine) {
        expected.push(person_dn(a.login.as_deref().unwrap()));
    }
    expected = expected.iter().map(|d| d.to_lowercase()).collect();
    expected.sort();
    assert_eq!(dns(&got), expected);
    assert!(
        got.iter().all(|e| e.attrs.is_empty()),
        "1.1 returns no attribute"
    );
}

#[tokio::test]
async fn scopes_follow_the_hierarchy() {
    let f = Fixture::start(SMALL).await;
    let mine = &f.structures()[0];
    let mut ldap = f
        .as_person(f.collaborateur(mine).login.as_deref().unwrap())
        .await;
    let sdn = structure_dn(mine.siret.as_str());
    let base = search(&mut ldap, &sdn, Scope::Base, "(objectClass=*)", &[]).await;
    assert_eq!(base.len(), 1);
    assert_eq!(base[0].attrs["o"], vec![mine.name.clone()]);
    assert_eq!(
        base[0].attrs["apexSiret"],
        vec![mine.siret.as_str().to_owned()]
    );
    assert_eq!(base[0].attrs["businessCategory"], vec!["CSP".to_owned()]);
    let one = search(&mut ldap, &sdn, Scope::OneLevel, "(objectClass=*)", &[]).await;
    assert_eq!(one.len(), f.services_of(mine).len());
    assert!(
        one.iter()
            .all(|e| e.attrs["objectClass"].contains(&"apexService".to_owned()))
    );
    let containers = search(&mut ldap, BASE, Scope::OneLevel, "(objectClass=*)", &["ou"]).await;
    assert_eq!(containers.len(), 4);
    let people = search(
        &mut ldap,
        &format!("ou=people,{BASE}"),
        Scope::OneLevel,
        "(objectClass=inetOrgPerson)",
        &[],
    )
    .await;
    assert_eq!(people.len(), f.accounts_of(mine).len());
    // The naming context is below the root DSE.
    let nc = search(&mut ldap, "", Scope::OneLevel, "(objectClass=*)", &[]).await;
    assert_eq!(dns(&nc), vec![BASE.to_owned()]);
}

#[tokio::test]
async fn attribute_lists_select_user_and_operational_attributes() {
    let f = Fixture::start(SMALL).await;
    let me = f.collaborateur(&f.structures()[0]);
    let login = me.login.clone().unwrap();
    let dn = person_dn(&login);
    let mut ldap = f.as_person(&login).await;
    let user = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &["*"]).await;
    let attrs = &user[0].attrs;
    for a in [
        "uid",
        "cn",
        "sn",
        "givenName",
        "mail",
        "employeeType",
        "apexSiret",
        "apexAccountState",
        "objectClass",
    ] {
        assert!(attrs.contains_key(a), "{a} with *");
    }
    assert_eq!(attrs["employeeType"], vec!["collaborateur".to_owned()]);
    assert_eq!(attrs["mail"], vec![me.person.email.clone()]);
    assert!(!attrs.contains_key("entryUUID"), "operational only with +");
    let op = search(&mut ldap, &dn, Scope::Base, "(objectClass=*)", &["+"]).await;
    let attrs = &op[0].attrs;
    assert_eq!(attrs["entryUUID"], vec![me.id.clone()]);
    assert_eq!(attrs["entryDN"], vec![dn.clone()]);
    for a in [
        "memberOf",
        "createTimestamp",
        "modifyTimestamp",
        "pwdChangedTime",
        "hasSubordinates",
        "subschemaSubentry",
    ] {
        assert!(attrs.contains_key(a), "{a} with +");
    }
    assert!(!attrs.contains_key("uid"));
    let named = search(
        &mut ldap,
        &dn,
        Scope::Base,
        "(objectClass=*)",
        &["UID", "entryuuid", "nosuchattr"],
    )
    .await;
    let mut keys: Vec<&String> = named[0].attrs.keys().collect();
    keys.sort();
    assert_eq!(keys, ["entryUUID", "uid"]);
    // typesOnly: names without values.
    let res = ldap
        .with_search_options(SearchOptions::new().typesonly(true))
        .search(&dn, Scope::Base, "(objectClass=*)", vec!["uid", "mail"])
        .await
        .unwrap();
    let (entries, _) = res.success().unwrap();
    let entry = ldap3::SearchEntry::construct(entries.into_iter().next().unwrap());
    assert!(entry.attrs.values().all(|v| v.is_empty()), "{entry:?}");
    assert_eq!(entry.attrs.len(), 2);
}

#[tokio::test]
async fn filters_of_every_kind_select_entries() {
    let f = Fixture::start(SMALL).await;
    let mine = &f.structures()[0];
    let accounts = f.accounts_of(mine);
    let me = f.collaborateur(mine);
    let mut ldap = f.as_person(me.login.as_deref().unwrap()).await;
    let people = format!("ou=people,{BASE}");
    let count = |pred: &dyn Fn(&apex_idp::domain::Account) -> bool| {
        accounts.iter().filter(|a| pred(a)).count()
    };
    let family = me.person.family_name.clone();
    let cases: Vec<(String, usize)> = vec![
        (
            format!("(uid={})", me.login.as_deref().unwrap().to_uppercase()),
            1,
        ),
        (format!("(mail={})", me.person.email.to_uppercase()), 1),
        (format!("(entryUUID={})", me.id), 1),
        (
            format!("(sn={})", family.to_lowercase()),
            count(&|a| a.person.family_name == family),
        ),
        (format!("(sn:caseExactMatch:={})", family.to_uppercase()), 0),
        (
            format!("(sn:caseExactMatch:={family})"),
            count(&|a| a.person.family_name == family),
        ),
        ("(employeeType=administrateur)".into(), 1),
        (
            "(!(employeeType=administrateur))".into(),
            accounts.len() - 1,
        ),
        (
            "(|(employeeType=administrateur)(employeeType=responsable))".into(),
            3,
        ),
        (
            "(&(objectClass=apexAccount)(employeeType=responsable))".into(),
            2,
        ),
        (
            format!("(apexSiret={})", mine.siret.as_str()),
            accounts.len(),
        ),
        (
            "(apexProfile=ALPHA:*)".into(),
            count(&|a| a.habilitations.iter().any(|h| h.profile.app() == "ALPHA")),
        ),
        (
            format!(
                "(memberOf=cn=beta:utilisateur,ou=profiles,{})",
                BASE.to_uppercase()
            ),
            count(&|a| a.habilitations.iter().any(|h| h.profile.app() == "BETA")),
        ),
        ("(mail=*@s0.example.fr)".into(), accounts.len()),
        ("(createTimestamp>=19700101000000Z)".into(), accounts.len()),
        ("(createTimestamp<=19700101000000Z)".into(), 0),
        ("(nosuchattr=x)".into(), 0),
        ("(&)".into(), accounts.len()),
        ("(|)".into(), 0),
    ];
    for (filter, expected) in cases {
        let got = search(&mut ldap, &people, Scope::OneLevel, &filter, &["1.1"]).await;
        assert_eq!(got.len(), expected, "{filter}");
    }
}

#[tokio::test]
async fn size_limits_return_what_fits_and_say_so() {
    let f = Fixture::start_with(SMALL, |c| c.ldap.size_limit = 5).await;
    let mine = &f.structures()[0];
    let mut ldap = f
        .as_person(f.collaborateur(mine).login.as_deref().unwrap())
        .await;
    let people = format!("ou=people,{BASE}");
    let (entries, code) = search_rc(
        &mut ldap,
        &people,
        Scope::OneLevel,
        "(objectClass=*)",
        &["1.1"],
    )
    .await;
    assert_eq!((entries.len(), code), (5, rc::SIZE_LIMIT_EXCEEDED));
    let res = ldap
        .with_search_options(SearchOptions::new().sizelimit(2))
        .search(&people, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap();
    assert_eq!((res.0.len(), res.1.rc), (2, rc::SIZE_LIMIT_EXCEEDED));
    // Exactly as many as the limit is no excess.
    let sid = &f.services_of(mine)[0].id;
    let res = ldap
        .with_search_options(SearchOptions::new().sizelimit(1))
        .search(
            BASE,
            Scope::Subtree,
            &format!("(&(objectClass=apexService)(apexServiceId={sid}))"),
            vec!["1.1"],
        )
        .await
        .unwrap();
    assert_eq!((res.0.len(), res.1.rc), (1, rc::SUCCESS));
}

#[tokio::test]
async fn compare_answers_under_the_same_visibility() {
    let f = Fixture::start(SMALL).await;
    let [s0, s1] = &f.structures()[..] else {
        panic!()
    };
    let me = f.collaborateur(s0);
    let other = f.collaborateur(s1);
    let mut ldap = f.as_person(me.login.as_deref().unwrap()).await;
    let dn = person_dn(me.login.as_deref().unwrap());
    let yes = ldap
        .compare(&dn, "employeeType", "Collaborateur")
        .await
        .unwrap();
    assert_eq!(yes.0.rc, rc::COMPARE_TRUE);
    let no = ldap
        .compare(&dn, "employeeType", "responsable")
        .await
        .unwrap();
    assert_eq!(no.0.rc, rc::COMPARE_FALSE);
    let absent = ldap.compare(&dn, "labeledURI", "x").await.unwrap();
    assert_eq!(absent.0.rc, rc::NO_SUCH_ATTRIBUTE);
    let hidden = ldap
        .compare(
            &person_dn(other.login.as_deref().unwrap()),
            "employeeType",
            "collaborateur",
        )
        .await
        .unwrap();
    assert_eq!(hidden.0.rc, rc::NO_SUCH_OBJECT);
}

//! Simple Paged Results (RFC 2696) with real cookies across requests.

use std::collections::HashSet;

use apex_idp::directory::generate::GenerateSpec;
use ldap3::Scope;
use ldap3::controls::{ControlType, PagedResults, RawControl};

use crate::fixture::*;

/// One structure of 1,000 accounts: a person of it sees all of them.
const THOUSAND: GenerateSpec = GenerateSpec {
    structures: 1,
    services: 5,
    accounts: 1000,
};

fn cookie_of(res: &ldap3::LdapResult) -> Vec<u8> {
    res.ctrls
        .iter()
        .find(|c| matches!(c.0, Some(ControlType::PagedResults)))
        .map(|c| c.1.parse::<PagedResults>().cookie)
        .expect("a paged results control in every page's answer")
}

#[tokio::test]
async fn paging_returns_1000_entries_in_pages_of_50_each_exactly_once() {
    let f = Fixture::start(THOUSAND).await;
    let s = &f.structures()[0];
    let mut ldap = f
        .as_person(f.collaborateur(s).login.as_deref().unwrap())
        .await;
    let people = format!("ou=people,{BASE}");
    let mut cookie = Vec::new();
    let mut seen = HashSet::new();
    let mut pages = 0;
    loop {
        let (entries, res) = ldap
            .with_controls(PagedResults {
                size: 50,
                cookie: cookie.clone(),
            })
            .search(
                &people,
                Scope::OneLevel,
                "(objectClass=inetOrgPerson)",
                vec!["uid"],
            )
            .await
            .unwrap()
            .success()
            .unwrap();
        pages += 1;
        assert!(entries.len() <= 50);
        for e in entries {
            let dn = ldap3::SearchEntry::construct(e).dn;
            assert!(seen.insert(dn.clone()), "{dn} returned twice");
        }
        cookie = cookie_of(&res);
        if cookie.is_empty() {
            break;
        }
        assert!(pages <= 20, "too many pages");
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(pages, 20);
}

#[tokio::test]
async fn a_cookie_is_tied_to_its_search_and_used_once() {
    let f = Fixture::start(SMALL).await;
    let s = &f.structures()[0];
    let mut ldap = f
        .as_person(f.collaborateur(s).login.as_deref().unwrap())
        .await;
    let people = format!("ou=people,{BASE}");
    let (entries, res) = ldap
        .with_controls(PagedResults {
            size: 3,
            cookie: Vec::new(),
        })
        .search(&people, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap()
        .success()
        .unwrap();
    assert_eq!(entries.len(), 3);
    let cookie = cookie_of(&res);
    assert!(!cookie.is_empty());
    // Another filter with this cookie is refused.
    let other = ldap
        .with_controls(PagedResults {
            size: 3,
            cookie: cookie.clone(),
        })
        .search(&people, Scope::OneLevel, "(uid=*)", vec!["1.1"])
        .await
        .unwrap();
    assert_eq!(other.1.rc, rc::UNWILLING_TO_PERFORM);
    // A forged cookie too.
    let forged = ldap
        .with_controls(PagedResults {
            size: 3,
            cookie: b"forged".to_vec(),
        })
        .search(&people, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap();
    assert_eq!(forged.1.rc, rc::UNWILLING_TO_PERFORM);
    // An unknown critical control is refused.
    let critical = ldap
        .with_controls(RawControl {
            ctype: "1.2.3.4.5".into(),
            crit: true,
            val: None,
        })
        .search(&people, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap();
    assert_eq!(critical.1.rc, rc::UNAVAILABLE_CRITICAL_EXTENSION);
    let lenient = ldap
        .with_controls(RawControl {
            ctype: "1.2.3.4.5".into(),
            crit: false,
            val: None,
        })
        .search(&people, Scope::OneLevel, "(objectClass=*)", vec!["1.1"])
        .await
        .unwrap();
    assert_eq!(lenient.1.rc, rc::SUCCESS);
}

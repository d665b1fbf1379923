//! Who reads what: isolation between structures and between applications, attribute
//! lists of service accounts, and no probing of what is hidden.

use std::collections::BTreeSet;

use ldap3::Scope;

use crate::fixture::*;

#[tokio::test]
async fn a_person_never_sees_another_structure() {
    let f = Fixture::start(SMALL).await;
    let [s0, s1] = &f.structures()[..] else {
        panic!()
    };
    let me = f.collaborateur(s0);
    let other = f.collaborateur(s1);
    let mut ldap = f.as_person(me.login.as_deref().unwrap()).await;
    let (entries, code) = search_rc(
        &mut ldap,
        &structure_dn(s1.siret.as_str()),
        Scope::Subtree,
        "(objectClass=*)",
        &[],
    )
    .await;
    assert_eq!((entries.len(), code), (0, rc::NO_SUCH_OBJECT));
    let (entries, code) = search_rc(
        &mut ldap,
        &person_dn(other.login.as_deref().unwrap()),
        Scope::Base,
        "(objectClass=*)",
        &[],
    )
    .await;
    assert_eq!((entries.len(), code), (0, rc::NO_SUCH_OBJECT));
    for filter in [
        format!("(apexSiret={})", s1.siret.as_str()),
        format!("(uid={})", other.login.as_deref().unwrap()),
        format!("(entryUUID={})", other.id),
        format!("(mail={})", other.person.email),
        "(mail=*@s1.example.fr)".to_owned(),
    ] {
        let got = search(&mut ldap, BASE, Scope::Subtree, &filter, &["1.1"]).await;
        assert!(got.is_empty(), "{filter} leaks {:?}", dns(&got));
    }
    // Profile groups and applications are no business of a person.
    let (entries, _) = search_rc(
        &mut ldap,
        &format!("ou=profiles,{BASE}"),
        Scope::OneLevel,
        "(objectClass=*)",
        &[],
    )
    .await;
    assert!(entries.is_empty());
}

/// The DNs of the accounts habilitated for an application.
fn habilitated(f: &Fixture, app: &str) -> Vec<String> {
    let mut out: Vec<String> = f
        .accounts()
        .iter()
        .filter(|a| a.habilitations.iter().any(|h| h.profile.app() == app))
        .map(|a| person_dn(a.login.as_deref().unwrap()).to_lowercase())
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn an_application_reads_only_the_accounts_habilitated_for_its_profiles() {
    let f = Fixture::start(SMALL).await;
    let people = format!("ou=people,{BASE}");
    for (app, other) in [("ALPHA", "BETA"), ("BETA", "ALPHA")] {
        let expected = habilitated(&f, app);
        assert!(!expected.is_empty() && expected.len() < f.accounts().len());
        let mut ldap = f.as_application(app).await;
        let got = search(
            &mut ldap,
            &people,
            Scope::OneLevel,
            "(objectClass=*)",
            &["apexProfile", "memberOf"],
        )
        .await;
        assert_eq!(dns(&got), expected, "{app}");
        for e in &got {
            let profiles = &e.attrs["apexProfile"];
            assert!(
                profiles.iter().all(|p| p.starts_with(&format!("{app}:"))),
                "{app} sees {profiles:?}"
            );
            assert!(e.attrs["memberOf"].iter().all(|g| !g.contains(other)));
        }
        // Nor can it reach the others by name or by filter.
        let hidden = habilitated(&f, other)
            .into_iter()
            .find(|dn| !expected.contains(dn))
            .unwrap();
        let (entries, code) =
            search_rc(&mut ldap, &hidden, Scope::Base, "(objectClass=*)", &[]).await;
        assert_eq!(
            (entries.len(), code),
            (0, rc::NO_SUCH_OBJECT),
            "{app} reads {hidden}"
        );
        let got = search(
            &mut ldap,
            BASE,
            Scope::Subtree,
            &format!("(apexProfile={other}:*)"),
            &["1.1"],
        )
        .await;
        assert!(got.is_empty(), "{app} probes {other}'s habilitations");
    }
}

#[tokio::test]
async fn an_application_reads_the_structures_services_and_groups_of_its_accounts() {
    let f = Fixture::start(SMALL).await;
    let mut ldap = f.as_application("BETA").await;
    let beta: Vec<_> = f
        .accounts()
        .into_iter()
        .filter(|a| a.habilitations.iter().any(|h| h.profile.app() == "BETA"))
        .collect();
    let structures: BTreeSet<String> = beta.iter().map(|a| a.structure_id.clone()).collect();
    let services: BTreeSet<String> = beta.iter().filter_map(|a| a.service_id.clone()).collect();
    let got = search(
        &mut ldap,
        &format!("ou=structures,{BASE}"),
        Scope::Subtree,
        "(objectClass=*)",
        &["entryUUID"],
    )
    .await;
    let uuids: BTreeSet<String> = got
        .iter()
        .filter_map(|e| e.attrs.get("entryUUID").map(|v| v[0].clone()))
        .collect();
    let expected: BTreeSet<String> = structures.union(&services).cloned().collect();
    assert_eq!(uuids, expected);
    let groups = search(
        &mut ldap,
        &format!("ou=profiles,{BASE}"),
        Scope::OneLevel,
        "(objectClass=groupOfNames)",
        &["cn", "member"],
    )
    .await;
    assert_eq!(groups.len(), 1, "BETA has one profile");
    assert_eq!(groups[0].attrs["cn"], vec!["BETA:UTILISATEUR".to_owned()]);
    let mut members: Vec<String> = groups[0].attrs["member"]
        .iter()
        .map(|m| m.to_lowercase())
        .collect();
    members.sort();
    assert_eq!(members, habilitated(&f, "BETA"));
    let apps = search(
        &mut ldap,
        &format!("ou=applications,{BASE}"),
        Scope::OneLevel,
        "(objectClass=*)",
        &["cn"],
    )
    .await;
    assert_eq!(dns(&apps), vec![application_dn("BETA").to_lowercase()]);
    // member= and memberOf= use the indexes and agree.
    let first = &members[0];
    let via_member = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        &format!("(member={first})"),
        &["1.1"],
    )
    .await;
    assert_eq!(via_member.len(), 1);
    let via_member_of = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        &format!("(memberOf=cn=BETA:UTILISATEUR,ou=profiles,{BASE})"),
        &["1.1"],
    )
    .await;
    assert_eq!(dns(&via_member_of), members);
}

#[tokio::test]
async fn hidden_attributes_are_absent_and_cannot_be_probed() {
    let f = Fixture::start(SMALL).await;
    // BETA reads uid, cn, apexSiret, apexProfile and memberOf only.
    let mut ldap = f.as_application("BETA").await;
    let people = format!("ou=people,{BASE}");
    let got = search(
        &mut ldap,
        &people,
        Scope::OneLevel,
        "(objectClass=*)",
        &["*", "+"],
    )
    .await;
    assert!(!got.is_empty());
    for e in &got {
        for hidden in [
            "mail",
            "sn",
            "givenName",
            "employeeType",
            "entryUUID",
            "pwdChangedTime",
        ] {
            assert!(!e.attrs.contains_key(hidden), "BETA reads {hidden}");
        }
        assert!(e.attrs.contains_key("uid") && e.attrs.contains_key("cn"));
    }
    for probe in [
        "(mail=*)",
        "(employeeType=collaborateur)",
        "(sn=*)",
        "(!(mail=nobody@example.fr))",
    ] {
        let (entries, code) = search_rc(&mut ldap, &people, Scope::OneLevel, probe, &["1.1"]).await;
        assert!(
            entries.is_empty(),
            "{probe} matched {} entries",
            entries.len()
        );
        assert_eq!(code, rc::SUCCESS);
    }
    let dn = &got[0].dn;
    let res = ldap
        .compare(dn, "employeeType", "collaborateur")
        .await
        .unwrap();
    assert_eq!(res.0.rc, rc::NO_SUCH_ATTRIBUTE);
}

#[tokio::test]
async fn a_structure_whose_last_habilitation_goes_disappears_for_the_application() {
    let f = Fixture::start(SMALL).await;
    let mut ldap = f.as_application("BETA").await;
    let structure = f
        .structures()
        .into_iter()
        .find(|s| {
            f.accounts_of(s)
                .iter()
                .any(|a| a.habilitations.iter().any(|h| h.profile.app() == "BETA"))
        })
        .unwrap();
    let dn = structure_dn(structure.siret.as_str());
    let seen = |ldap: &mut ldap3::Ldap| {
        let dn = dn.clone();
        let mut ldap = ldap.clone();
        async move { search_rc(&mut ldap, &dn, Scope::Subtree, "(objectClass=*)", &["1.1"]).await }
    };
    let (before, code) = seen(&mut ldap).await;
    assert_eq!(code, rc::SUCCESS);
    assert!(!before.is_empty());
    // Every BETA habilitation of the structure is revoked by its administrateur.
    let dir = f.directory();
    let actor = f.administrateur_of(&structure);
    for a in f.accounts_of(&structure) {
        for h in a.habilitations.iter().filter(|h| h.profile.app() == "BETA") {
            dir.revoke(&actor, &a.id, &h.profile).await.unwrap();
        }
    }
    let (after, code) = seen(&mut ldap).await;
    assert_eq!((after.len(), code), (0, rc::NO_SUCH_OBJECT));
}

/// Entries are kept between searches: a change must show in the very next one, for
/// every kind of reader that read the entry before.
#[tokio::test]
async fn a_change_shows_at_once_in_entries_already_served() {
    let f = Fixture::start(SMALL).await;
    let (structure, holder, profile) = f
        .structures()
        .into_iter()
        .find_map(|s| {
            let holder = f.accounts_of(&s).into_iter().find(|a| {
                a.role != apex_idp::domain::Role::Administrateur
                    && a.habilitations.iter().any(|h| h.profile.app() == "BETA")
            })?;
            let profile = holder
                .habilitations
                .iter()
                .find(|h| h.profile.app() == "BETA")?
                .profile
                .clone();
            Some((s, holder, profile))
        })
        .unwrap();
    let login = holder.login.clone().unwrap();
    let colleague = f
        .accounts_of(&structure)
        .into_iter()
        .find(|a| a.id != holder.id && a.login.is_some())
        .unwrap();
    let mut app = f.as_application("BETA").await;
    let mut person = f.as_person(colleague.login.as_deref().unwrap()).await;
    let uid = format!("(uid={login})");
    let profiles = |entries: &[ldap3::SearchEntry]| -> Vec<String> {
        entries
            .first()
            .and_then(|e| e.attrs.get("apexProfile"))
            .cloned()
            .unwrap_or_default()
    };
    let service = f.services_of(&structure).into_iter().next().unwrap();
    let service_filter = format!("(apexServiceId={})", service.id);
    // Twice each: the second answer comes from what the first one built.
    for _ in 0..2 {
        let seen = search(&mut app, BASE, Scope::Subtree, &uid, &["apexProfile"]).await;
        assert_eq!(profiles(&seen), vec![profile.to_string()]);
        let seen = search(&mut person, BASE, Scope::Subtree, &uid, &["apexProfile"]).await;
        assert!(profiles(&seen).contains(&profile.to_string()));
        let seen = search(&mut person, BASE, Scope::Subtree, &service_filter, &["ou"]).await;
        assert_eq!(seen[0].attrs["ou"], vec![service.name.clone()]);
    }

    let dir = f.directory();
    let actor = f.administrateur_of(&structure);
    dir.revoke(&actor, &holder.id, &profile).await.unwrap();
    dir.rename_service(&actor, &service.id, "Service renommé")
        .await
        .unwrap();

    let seen = search(&mut app, BASE, Scope::Subtree, &uid, &["apexProfile"]).await;
    let still_beta = holder
        .habilitations
        .iter()
        .any(|h| h.profile.app() == "BETA" && h.profile != profile);
    if still_beta {
        assert!(!profiles(&seen).contains(&profile.to_string()));
    } else {
        assert!(
            seen.is_empty(),
            "no longer habilitated for BETA: {:?}",
            dns(&seen)
        );
    }
    let seen = search(&mut person, BASE, Scope::Subtree, &uid, &["apexProfile"]).await;
    assert!(!profiles(&seen).contains(&profile.to_string()));
    let seen = search(&mut person, BASE, Scope::Subtree, &service_filter, &["ou"]).await;
    assert_eq!(seen[0].attrs["ou"], vec!["Service renommé".to_owned()]);
}

//! What an LDAP client can learn and hold: a paged search tells nothing of entries
//! its reader may not see, paged searches and the DN cache are bounded, connections
//! are capped per source and must bind in time.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ldap3::controls::{ControlType, PagedResults};
use ldap3::{Ldap, Scope};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::fixture::*;
use crate::limits::{encode, root_dse};

fn cookie_of(res: &ldap3::LdapResult) -> Vec<u8> {
    res.ctrls
        .iter()
        .find(|c| matches!(c.0, Some(ControlType::PagedResults)))
        .map(|c| c.1.parse::<PagedResults>().cookie)
        .unwrap_or_default()
}

/// One page of a paged search: the DNs returned, the result code and the cookie.
async fn page(
    ldap: &mut Ldap,
    base: &str,
    filter: &str,
    size: i32,
    cookie: Vec<u8>,
) -> (Vec<String>, u32, Vec<u8>) {
    let ldap3::SearchResult(entries, res) = ldap
        .with_controls(PagedResults { size, cookie })
        .search(base, Scope::Subtree, filter, vec!["1.1"])
        .await
        .unwrap();
    let dns = entries
        .into_iter()
        .map(|e| ldap3::SearchEntry::construct(e).dn)
        .collect();
    (dns, res.rc, cookie_of(&res))
}

/// A filter matching exactly the given logins.
fn any_of(logins: &[&str]) -> String {
    let terms: String = logins.iter().map(|l| format!("(uid={l})")).collect();
    format!("(|{terms})")
}

#[tokio::test]
async fn a_page_of_one_tells_nothing_of_people_in_another_structure() {
    let f = Fixture::start(SMALL).await;
    let structures = f.structures();
    let me = f.collaborateur(&structures[0]);
    let stranger = f.collaborateur(&structures[1]);
    let mut ldap = f.as_person(me.login.as_deref().unwrap()).await;
    let uid = me.login.as_deref().unwrap();
    // Whether the other address exists or not, the answer is the same: my own entry
    // and no cookie (a cookie would say that something else matched).
    for mail in [stranger.person.email.as_str(), "nobody@nowhere.example"] {
        let filter = format!("(|(uid={uid})(mail={mail}))");
        let (dns, code, cookie) = page(&mut ldap, BASE, &filter, 1, Vec::new()).await;
        assert_eq!(code, rc::SUCCESS, "{mail}");
        assert_eq!(dns.len(), 1, "{mail}: {dns:?}");
        assert!(dns[0].starts_with(&format!("uid={uid},")), "{dns:?}");
        assert!(cookie.is_empty(), "{mail}: a cookie tells that it exists");
    }
    // Nor through an application's profile holders.
    let filter = format!("(|(uid={uid})(apexProfile=BETA:UTILISATEUR))");
    let (dns, _, _) = page(&mut ldap, BASE, &filter, 1000, Vec::new()).await;
    let (_, _, cookie) = page(&mut ldap, BASE, &filter, 1, Vec::new()).await;
    assert_eq!(cookie.is_empty(), dns.len() <= 1, "{dns:?}");
    for dn in &dns {
        let login = dn.trim_start_matches("uid=").split(',').next().unwrap();
        assert!(
            f.accounts_of(&structures[0])
                .iter()
                .any(|a| a.login.as_deref() == Some(login)),
            "{dn} is not of my structure"
        );
    }
}

#[tokio::test]
async fn paged_searches_are_bounded_per_connection_per_search_and_in_all() {
    let f = Fixture::start_with(SMALL, |c| {
        c.ldap.max_paged_searches_per_connection = 2;
        c.ldap.max_paged_keys_per_search = 4;
        c.ldap.max_paged_keys_total = 5;
    })
    .await;
    let s = &f.structures()[0];
    let logins: Vec<String> = f
        .accounts_of(s)
        .iter()
        .filter_map(|a| a.login.clone())
        .collect();
    let logins: Vec<&str> = logins.iter().map(String::as_str).collect();
    let admin = f.administrateur_of(s);
    let admin_login = f.directory().account(&admin.account_id).unwrap().login;
    let mut ldap = f.as_person(admin_login.as_deref().unwrap()).await;
    let held = || f.server().ldap_face.as_ref().unwrap().gauges().paged_keys;

    // Five candidates are more than one paged search may keep.
    let (dns, code, _) = page(&mut ldap, BASE, &any_of(&logins[..5]), 1, Vec::new()).await;
    assert_eq!(code, rc::ADMIN_LIMIT_EXCEEDED);
    assert!(dns.is_empty());
    // Without paging, the same search is whole.
    let all = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        &any_of(&logins[..5]),
        &["1.1"],
    )
    .await;
    assert_eq!(all.len(), 5);
    // Read in one page, a paged search keeps nothing.
    let (dns, code, none) = page(&mut ldap, BASE, &any_of(&logins[..4]), 10, Vec::new()).await;
    assert_eq!((dns.len(), code, none.is_empty()), (4, rc::SUCCESS, true));
    assert_eq!(held(), 0);

    // Four candidates, a page of one: three kept.
    let (dns, code, first) = page(&mut ldap, BASE, &any_of(&logins[..4]), 1, Vec::new()).await;
    assert_eq!((dns.len(), code), (1, rc::SUCCESS));
    assert!(!first.is_empty());
    assert_eq!(held(), 3);
    // Another connection's three left over do not fit beside them: busy, no entry.
    let mut other = f.as_person(admin_login.as_deref().unwrap()).await;
    let (dns, code, _) = page(&mut other, BASE, &any_of(&logins[1..5]), 1, Vec::new()).await;
    assert_eq!((dns.len(), code), (0, rc::BUSY));
    assert_eq!(held(), 3);
    // Two left over fit.
    let (_, code, second) = page(&mut ldap, BASE, &any_of(&logins[..3]), 1, Vec::new()).await;
    assert_eq!(code, rc::SUCCESS);
    assert_eq!(held(), 5);
    // A third paged search on the connection: its oldest is forgotten, with its keys.
    let (_, code, third) = page(&mut ldap, BASE, &any_of(&logins[..2]), 1, Vec::new()).await;
    assert_eq!(code, rc::SUCCESS);
    assert_eq!(held(), 3);
    let (_, code, _) = page(&mut ldap, BASE, &any_of(&logins[..4]), 1, first).await;
    assert_eq!(
        code,
        rc::UNWILLING_TO_PERFORM,
        "the oldest cookie is forgotten"
    );
    // Abandoning one (page size 0) gives its candidates back.
    let (_, code, none) = page(&mut ldap, BASE, &any_of(&logins[..3]), 0, second).await;
    assert_eq!((code, none.is_empty()), (rc::SUCCESS, true));
    assert_eq!(held(), 1);
    // Reading a search to its end gives its candidates back, and closing the
    // connection gives back the rest.
    let (dns, code, end) = page(&mut ldap, BASE, &any_of(&logins[..2]), 1, third).await;
    assert_eq!((dns.len(), code, end.is_empty()), (1, rc::SUCCESS, true));
    assert_eq!(held(), 0);
    let (_, _, kept) = page(&mut ldap, BASE, &any_of(&logins[..2]), 1, Vec::new()).await;
    assert!(!kept.is_empty());
    assert_eq!(held(), 1);
    ldap.unbind().await.unwrap();
    for _ in 0..50 {
        if held() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(held(), 0);
}

#[tokio::test]
async fn the_dn_cache_keeps_one_normal_form_and_only_what_its_reader_sees() {
    let f = Fixture::start(SMALL).await;
    let structures = f.structures();
    let me = f.collaborateur(&structures[0]);
    let stranger = f.collaborateur(&structures[1]);
    let remembered = || f.server().ldap_face.as_ref().unwrap().gauges().resolved_dns;
    let before = remembered();
    let spellings = |login: &str| -> Vec<String> {
        (0..64)
            .map(|i| {
                let uid = if i % 2 == 0 { "uid" } else { "UID" };
                let sp = " ".repeat(i % 4);
                let people = if i % 3 == 0 { "ou=people" } else { "OU=People" };
                let uid = if i % 5 == 0 { "userid" } else { uid };
                format!("{uid}{sp}={sp}{login}{sp},{sp}{people}, dc=apex,DC=test")
            })
            .collect()
    };
    // Anonymous clients and readers of another structure remember nothing.
    let mut anonymous = f.connect(Transport::Plain).await;
    let mut stranger_ldap = f.as_person(stranger.login.as_deref().unwrap()).await;
    for dn in spellings(me.login.as_deref().unwrap()) {
        for reader in [&mut anonymous, &mut stranger_ldap] {
            let (entries, _) =
                search_rc(reader, &dn, Scope::Base, "(objectClass=*)", &["1.1"]).await;
            assert!(entries.is_empty(), "{dn}");
        }
    }
    assert_eq!(
        remembered(),
        before,
        "DNs the reader may not see were remembered"
    );
    // A reader who sees the entry, under many spellings: one DN remembered.
    let mut colleague = f.as_person(me.login.as_deref().unwrap()).await;
    for dn in spellings(me.login.as_deref().unwrap()) {
        let entries = search(
            &mut colleague,
            &dn,
            Scope::Base,
            "(objectClass=*)",
            &["1.1"],
        )
        .await;
        assert_eq!(entries.len(), 1, "{dn}");
    }
    assert_eq!(remembered(), before + 1);
}

/// A plain TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: Ipv4Addr, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::from((from, 0))).unwrap();
    socket.connect(to).await.unwrap()
}

/// Whether the server closes `stream` within `within` (reads end or fail).
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 256];
    matches!(
        tokio::time::timeout(within, stream.read(&mut buf)).await,
        Ok(Ok(0) | Err(_))
    )
}

/// Whether the server answers a root DSE search on `stream`.
async fn answers(stream: &mut TcpStream) -> bool {
    if stream.write_all(&encode(vec![root_dse(7)])).await.is_err() {
        return false;
    }
    let mut buf = [0u8; 4096];
    matches!(
        tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
        Ok(Ok(n)) if n > 0
    )
}

#[tokio::test]
async fn connections_are_capped_per_source_and_others_still_get_in() {
    let f = Fixture::start_with(SMALL, |c| c.ldap.max_connections_per_address = 4).await;
    let addr = f.server().ldap_addr.unwrap();
    let greedy = Ipv4Addr::new(127, 0, 0, 2);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut s = connect_from(greedy, addr).await;
        assert!(answers(&mut s).await);
        held.push(s);
    }
    let mut fifth = connect_from(greedy, addr).await;
    assert!(
        closed_within(&mut fifth, Duration::from_secs(2)).await,
        "a fifth connection from one address was kept"
    );
    let mut neighbour = connect_from(Ipv4Addr::new(127, 0, 0, 3), addr).await;
    assert!(answers(&mut neighbour).await, "another address was refused");
    // Once the server has counted the closed connection out, its place is free.
    let gauge = || f.server().ldap_face.as_ref().unwrap().gauges().connections;
    let open = gauge();
    drop(held.pop());
    let start = std::time::Instant::now();
    while gauge() >= open {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never counted out"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut again = connect_from(greedy, addr).await;
    assert!(
        answers(&mut again).await,
        "a closed connection gave no place back"
    );
}

#[tokio::test]
async fn a_connection_that_does_not_bind_in_time_is_closed() {
    let f = Fixture::start_with(SMALL, |c| c.ldap.bind_timeout_seconds = 1).await;
    let addr = f.server().ldap_addr.unwrap();
    // Anonymous reads are served until the deadline, then the connection ends, however
    // busy it keeps itself.
    let mut unbound = TcpStream::connect(addr).await.unwrap();
    assert!(answers(&mut unbound).await);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(closed_within(&mut unbound, Duration::from_secs(2)).await);
    // Nor does a client that keeps a request queued ahead all the time.
    let busy = TcpStream::connect(addr).await.unwrap();
    let (mut rx, mut tx) = busy.into_split();
    // The writer would keep it busy for 60 s; the deadline is 1 s.
    let requests: usize = 1200;
    let sent = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let sent = Arc::clone(&sent);
        async move {
            for i in 0..requests as i32 {
                if tx.write_all(&encode(vec![root_dse(i + 1)])).await.is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    });
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(30), rx.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(_)) => {}
            Err(_) => panic!("the connection stayed open"),
        }
    }
    // Closed while the client still had requests to send: by the deadline, not by
    // its going quiet.
    let before_close = sent.load(Ordering::SeqCst);
    assert!(
        before_close < requests / 2,
        "a busy unbound connection stayed open ({before_close} requests)"
    );
    writer.abort();
    // A bound connection lives on to the idle timeout.
    let mut bound = f.as_application("ALPHA").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let entries = search(
        &mut bound,
        "",
        Scope::Base,
        "(objectClass=*)",
        &["vendorName"],
    )
    .await;
    assert_eq!(entries.len(), 1);
}

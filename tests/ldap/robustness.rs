//! Hostile or broken clients: malformed and oversized BER, idle connections, huge
//! filters. Each gets an LDAP error or a closed connection; the server answers others.

use std::time::Duration;

use ldap3::Scope;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::fixture::*;

/// Reads until the server closes the connection; panics if it stays open.
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return out,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

async fn still_answers(f: &Fixture) {
    let mut ldap = f.connect(Transport::Plain).await;
    let root = search(
        &mut ldap,
        "",
        Scope::Base,
        "(objectClass=*)",
        &["vendorName"],
    )
    .await;
    assert_eq!(root.len(), 1);
}

#[tokio::test]
async fn malformed_ber_closes_the_connection_and_the_server_answers_others() {
    let f = Fixture::start(SMALL).await;
    let addr = f.server().ldap_addr.unwrap();
    let garbage: [&[u8]; 5] = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        &[0x30, 0x03, 0x02, 0x01], // truncated inside a complete frame
        &[0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00], // unknown operation
        &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00], // absurd length
        &[
            0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00,
        ], // bind, short
    ];
    for bytes in garbage {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let _ = s.shutdown().await;
        let _ = read_until_closed(&mut s).await;
        still_answers(&f).await;
    }
}

#[tokio::test]
async fn an_oversized_message_closes_the_connection() {
    let f = Fixture::start_with(SMALL, |c| c.ldap.max_message_bytes = 4096).await;
    let addr = f.server().ldap_addr.unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    // A search request whose base DN alone is 20 kB.
    let big = vec![b'a'; 20_000];
    let mut msg = vec![
        0x30, 0x82, 0x4e, 0x40, 0x02, 0x01, 0x01, 0x63, 0x82, 0x4e, 0x39, 0x04, 0x82, 0x4e, 0x20,
    ];
    msg.extend_from_slice(&big);
    let _ = s.write_all(&msg).await;
    let answer = read_until_closed(&mut s).await;
    // Either silence or a Notice of Disconnection, never a search result.
    assert!(
        answer.is_empty() || answer.windows(22).any(|w| w == b"1.3.6.1.4.1.1466.20036"),
        "{answer:?}"
    );
    still_answers(&f).await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let f = Fixture::start_with(SMALL, |c| c.ldap.idle_timeout_seconds = 1).await;
    let mut s = TcpStream::connect(f.server().ldap_addr.unwrap())
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let _ = read_until_closed(&mut s).await;
    // The server closed it (read_until_closed fails on a connection still open after
    // 5 s of silence), and not before the idle timeout: it was the timeout.
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed after {:?}, before the idle timeout",
        started.elapsed()
    );
    still_answers(&f).await;
}

#[tokio::test]
async fn a_filter_with_too_many_elements_is_refused() {
    let f = Fixture::start_with(SMALL, |c| c.ldap.max_filter_elements = 50).await;
    let mine = &f.structures()[0];
    let mut ldap = f
        .as_person(f.collaborateur(mine).login.as_deref().unwrap())
        .await;
    let filter = format!(
        "(|{})",
        (0..60).map(|i| format!("(uid=u{i})")).collect::<String>()
    );
    let (entries, code) = search_rc(&mut ldap, BASE, Scope::Subtree, &filter, &["1.1"]).await;
    assert_eq!((entries.len(), code), (0, rc::ADMIN_LIMIT_EXCEEDED));
    let ok = search(
        &mut ldap,
        BASE,
        Scope::Subtree,
        "(|(uid=u1)(uid=u2))",
        &["1.1"],
    )
    .await;
    assert!(ok.is_empty());
}

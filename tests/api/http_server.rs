//! The HTTP listener itself: HTTPS of its own with a certificate read again on
//! SIGHUP, connection caps per address, deadlines for headers and requests, and the
//! management listener. Loopback sources 127.0.0.x stand for distinct clients.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use apex_idp::config::Config;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::common::{OPERATOR_TOKEN, test_config};
use crate::fixture::{Fixture, PASSWORD};

/// A client that trusts only the certificate in `pem`.
fn trusting(pem: &[u8]) -> reqwest::Client {
    apex_idp::server::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .add_root_certificate(reqwest::Certificate::from_pem(pem).unwrap())
        .tls_info(true)
        .build()
        .unwrap()
}

/// The certificate the server presented on this answer's connection.
fn served_certificate(r: &reqwest::Response) -> Vec<u8> {
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .unwrap()
        .to_vec()
}

fn der_of(pem: &[u8]) -> Vec<u8> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    CertificateDer::from_pem_slice(pem).unwrap().to_vec()
}

/// Writes a new self-signed certificate for 127.0.0.1 over `[tls]`'s files, as an
/// operator's renewal would (rename into place).
fn renew_certificate(config: &Config) -> Vec<u8> {
    let fresh = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let pem = fresh.cert.pem().into_bytes();
    for (path, bytes) in [
        (
            &config.tls.key,
            fresh.signing_key.serialize_pem().into_bytes(),
        ),
        (&config.tls.cert, pem.clone()),
    ] {
        let next = path.with_extension("next");
        std::fs::write(&next, bytes).unwrap();
        std::fs::rename(&next, path).unwrap();
    }
    pem
}

fn hang_up() {
    let pid = std::process::id().to_string();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &pid])
        .status()
        .unwrap();
    assert!(status.success());
}

/// A server with `http.tls = true` on a development certificate made beforehand.
async fn https_server() -> (Fixture, Config, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.tls = true;
    config.tls.cert = dir.path().join("certs/server.pem");
    config.tls.key = dir.path().join("certs/server-key.pem");
    config.tls.generate_dev_cert = true;
    apex_idp::tls::certificates(&config.tls).unwrap();
    let pem = std::fs::read(&config.tls.cert).unwrap();
    let f = crate::common::TestServer::launch(dir, &config, trusting(&pem), async |_| {}).await;
    assert!(f.base.starts_with("https://"), "{}", f.base);
    (f, config, pem)
}

async fn sign_in(client: &reqwest::Client, f: &Fixture, login: &str) -> reqwest::Response {
    client
        .post(f.url("/api/v1/sessions"))
        .json(&json!({"login": login, "password": PASSWORD}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_partner_signs_in_over_https() {
    let (f, _, pem) = https_server().await;
    let sid = f.structure("73282932000074", "Cabinet TLS").await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let client = trusting(&pem);
    let r = sign_in(&client, &f, &admin.login).await;
    assert_eq!(r.status(), 201);
    assert_eq!(served_certificate(&r), der_of(&pem));
    let token = r.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let me = client
        .get(f.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // Plain HTTP to the HTTPS port gets no answer.
    let plain = f.url("/healthz").replacen("https://", "http://", 1);
    let r = reqwest::Client::new().get(plain).send().await;
    assert!(r.is_err() || r.unwrap().status() != 200);
}

#[tokio::test]
async fn sighup_serves_a_renewed_certificate_and_keeps_open_connections() {
    let (f, config, first) = https_server().await;
    let sid = f
        .structure("73282932000074", "Cabinet Renouvellement")
        .await;
    let admin = f.admin(&sid, "Alix", "Admin").await;
    let old = trusting(&first);
    let r = sign_in(&old, &f, &admin.login).await;
    assert_eq!(r.status(), 201);
    assert_eq!(served_certificate(&r), der_of(&first));

    let second = renew_certificate(&config);
    hang_up();
    let new = trusting(&second);
    let mut seen = None;
    for _ in 0..600 {
        if let Ok(r) = new.get(f.url("/healthz")).send().await {
            seen = Some(served_certificate(&r));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        seen,
        Some(der_of(&second)),
        "new handshakes get the new one"
    );
    // The connection opened before goes on, on the certificate it was opened with.
    let r = sign_in(&old, &f, &admin.login).await;
    assert_eq!(r.status(), 201);
    assert_eq!(served_certificate(&r), der_of(&first));

    // A broken file is refused: the certificate in service stays.
    std::fs::write(&config.tls.cert, b"not a certificate").unwrap();
    hang_up();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let again = trusting(&second);
    let r = again.get(f.url("/healthz")).send().await.unwrap();
    assert_eq!(served_certificate(&r), der_of(&second));
    // The refusal left the reloading alive: a good file afterwards is taken.
    let third = renew_certificate(&config);
    hang_up();
    let newest = trusting(&third);
    let mut seen = None;
    for _ in 0..600 {
        if let Ok(r) = newest.get(f.url("/healthz")).send().await {
            seen = Some(served_certificate(&r));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen, Some(der_of(&third)), "a good file after a bad one");
}

/// A TCP connection from `127.0.0.<last>`.
async fn connect_from(last: u8, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(IpAddr::from([127, 0, 0, last]), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

/// What the server answers on `stream` within 5 s: its bytes ("" when it closed).
async fn answer(stream: &mut TcpStream) -> String {
    let mut buf = vec![0u8; 4096];
    match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await {
        Ok(Ok(n)) => String::from_utf8_lossy(&buf[..n]).into_owned(),
        Ok(Err(_)) => String::new(),
        Err(_) => "(no answer within 5 s)".into(),
    }
}

async fn healthz(stream: &mut TcpStream) -> String {
    let request = "GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n";
    if stream.write_all(request.as_bytes()).await.is_err() {
        return String::new();
    }
    answer(stream).await
}

fn addr_of(f: &Fixture) -> SocketAddr {
    f.server.as_ref().unwrap().http_addr
}

#[tokio::test]
async fn one_address_cannot_hold_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.max_connections_per_address = 3;
    let f = Fixture::start_with(dir, config).await;
    let addr = addr_of(&f);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect_from(2, addr).await);
    }
    let mut fourth = connect_from(2, addr).await;
    assert_eq!(
        healthz(&mut fourth).await,
        "",
        "the fourth is closed at once"
    );
    let mut elsewhere = connect_from(3, addr).await;
    assert!(healthz(&mut elsewhere).await.starts_with("HTTP/1.1 200"));
    // The held ones still work; once one closes, the address may open another.
    assert!(healthz(&mut held[0]).await.starts_with("HTTP/1.1 200"));
    drop(held.pop());
    // The server notices the close in its own time: the place comes back then.
    let start = std::time::Instant::now();
    loop {
        let mut again = connect_from(2, addr).await;
        if healthz(&mut again).await.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "a closed connection gave no place back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn slow_headers_and_slow_bodies_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.http.header_read_timeout_seconds = 1;
    config.http.request_timeout_seconds = 1;
    let f = Fixture::start_with(dir, config).await;
    let addr = addr_of(&f);
    // Headers that never end: the connection is closed.
    let mut slow = connect_from(2, addr).await;
    slow.write_all(b"GET /healthz HTTP/1.1\r\nhost: x\r\n")
        .await
        .unwrap();
    let said = answer(&mut slow).await;
    assert!(!said.starts_with("HTTP/1.1 200"), "{said}");
    assert_ne!(said, "(no answer within 5 s)");
    // A connection that sends nothing at all is closed too.
    let mut silent = connect_from(2, addr).await;
    assert_ne!(answer(&mut silent).await, "(no answer within 5 s)");
    // A body that never comes whole: 408.
    let mut body = connect_from(3, addr).await;
    body.write_all(
        b"POST /api/v1/sessions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"login\"",
    )
    .await
    .unwrap();
    let said = answer(&mut body).await;
    assert!(said.starts_with("HTTP/1.1 408"), "{said}");
}

#[tokio::test]
async fn metrics_and_the_operator_api_can_live_on_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.management.listen = "127.0.0.1:0".into();
    let f = Fixture::start_with(dir, config).await;
    let management = f.server.as_ref().unwrap().management_addr.unwrap();
    let mgmt = |path: &str| format!("http://{management}{path}");
    let http = &f.http;
    let status = |r: reqwest::Response| r.status().as_u16();

    // The public listener no longer serves them.
    let r = http.get(f.url("/metrics")).send().await.unwrap();
    assert_eq!(status(r), 404);
    let r = http
        .get(f.url("/api/v1/operator/structures"))
        .bearer_auth(OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 404);
    let r = http.get(f.url("/healthz")).send().await.unwrap();
    assert_eq!(status(r), 200);

    // The management listener does, and nothing else.
    let r = http.get(mgmt("/metrics")).send().await.unwrap();
    assert_eq!(status(r), 200);
    let r = http
        .post(mgmt("/api/v1/operator/structures"))
        .bearer_auth(OPERATOR_TOKEN)
        .json(&json!({"siret": "73282932000074", "category": "CSP", "name": "Cabinet Gestion"}))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 201);
    let r = http
        .get(mgmt("/api/v1/operator/structures"))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 401, "still behind the operator token");
    for path in ["/", "/api/v1/me", "/.well-known/openid-configuration"] {
        let r = http.get(mgmt(path)).send().await.unwrap();
        assert_eq!(status(r), 404, "{path}");
    }
    let r = http
        .post(mgmt("/api/v1/sessions"))
        .json(&json!({"login": "x", "password": "y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(status(r), 404);
}

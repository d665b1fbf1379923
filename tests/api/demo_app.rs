//! `apex-idp demo` serves the demo application beside the issuer: the portal's link
//! opens a relying party that signs in through single sign-on and shows the claims.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};

use crate::common::{Browser, Resp};

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The demo, stopped when dropped.
struct Demo {
    child: Child,
    base: String,
    app: String,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `apex-idp demo` with its application on a free port. Its public URL must
/// name its port: the socket is bound here and inherited as its standard input
/// (`http.listen = "stdin"`), so the port is never free for someone else in between.
fn start_demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let (listener, port) = crate::common::bound_listener();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = demo_command(&dir, listener, &["--app-listen", "127.0.0.1:0"])
        .env("APEX_SERVER__PUBLIC_URL", &base)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut app = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if let Some(addr) = line.strip_prefix("listening http ") {
            assert_eq!(addr, format!("127.0.0.1:{port}"), "the inherited socket");
        }
        if let Some(addr) = line.strip_prefix("listening demo-app ") {
            app = Some(format!("http://{addr}"));
            break;
        }
    }
    Demo {
        child,
        base,
        app: app.expect("no `listening demo-app` line"),
        _dir: dir,
    }
}

/// `apex-idp demo` in `dir` with `extra` arguments, serving HTTP on `listener` (its
/// standard input), without LDAP, with cheap hashes; its standard output piped.
fn demo_command(
    dir: &tempfile::TempDir,
    listener: std::net::TcpListener,
    extra: &[&str],
) -> Command {
    let mut c = Command::new(BIN);
    c.arg("demo")
        .args(extra)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .current_dir(ROOT)
        .env("APEX_HTTP__LISTEN", "stdin")
        .env("APEX_LDAP__LISTEN", "")
        .env("APEX_ARGON2__M_KIB", "64")
        .env("APEX_ARGON2__T", "1")
        .env_remove("APEX_LOG")
        .stdin(Stdio::from(OwnedFd::from(listener)))
        .stdout(Stdio::piped());
    c
}

async fn get(browser: &Browser, url: &str) -> Resp {
    browser.send(browser.http.get(url)).await
}

async fn post(browser: &Browser, url: &str, form: &[(&str, &str)]) -> Resp {
    browser.send(browser.http.post(url).form(form)).await
}

#[tokio::test]
async fn the_portal_link_opens_the_demo_application_signed_in_through_sso() {
    let demo = start_demo();
    let browser = Browser::new(&demo.base);
    // Signed in to the web space, the portal links to the demo application.
    let page = get(&browser, &browser.url("/")).await;
    let signed = post(
        &browser,
        &browser.url("/"),
        &[
            ("csrf", &page.hidden("csrf")),
            ("login", "amartin"),
            ("password", "Demo-Apex-2026!"),
        ],
    )
    .await;
    assert_eq!(signed.status, 303, "{}", signed.body);
    let portal = get(&browser, &browser.url("/applications")).await;
    assert!(portal.body.contains(&demo.app), "{}", portal.body);
    // The application sends the browser to the issuer, which signs it in without a
    // prompt (single sign-on) and back with a code.
    let home = get(&browser, &format!("{}/", demo.app)).await;
    assert!(home.body.contains("/login"), "{}", home.body);
    let to_issuer = get(&browser, &format!("{}/login", demo.app)).await;
    let authorize = to_issuer.header("location").to_owned();
    assert!(
        authorize.starts_with(&format!("{}/oidc/authorize?", demo.base)),
        "{authorize}"
    );
    assert!(
        authorize.contains("code_challenge_method=S256"),
        "{authorize}"
    );
    let back = get(&browser, &authorize).await;
    let callback = back.header("location").to_owned();
    assert!(
        callback.starts_with(&format!("{}/callback?code=", demo.app)),
        "{callback}"
    );
    let done = get(&browser, &callback).await;
    assert_eq!(done.status, 303, "{}", done.body);
    // Who signed in, the verified claims, userinfo and the profiles.
    let shown = get(&browser, &format!("{}/", demo.app)).await;
    assert_eq!(shown.status, 200);
    for expected in [
        "amartin",
        "DEMO:UTILISATEUR",
        "73282932000074",
        "&quot;sub&quot;",
        "/logout",
    ] {
        assert!(shown.body.contains(expected), "{expected}: {}", shown.body);
    }
    // Logout ends the application's session and the issuer's, and comes back.
    let out = get(&browser, &format!("{}/logout", demo.app)).await;
    let end = out.header("location").to_owned();
    assert!(
        end.starts_with(&format!("{}/oidc/logout?", demo.base)),
        "{end}"
    );
    let again = get(&browser, &format!("{}/", demo.app)).await;
    assert!(again.body.contains("/login"), "signed out: {}", again.body);
}

#[test]
fn a_standard_input_that_is_no_socket_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--data-dir"])
        .arg(dir.path().join("data"))
        .current_dir(ROOT)
        .env("APEX_HTTP__LISTEN", "stdin")
        .env("APEX_LDAP__LISTEN", "")
        .env("APEX_ARGON2__M_KIB", "64")
        .env("APEX_ARGON2__T", "1")
        .env_remove("APEX_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("cannot listen on stdin (http.listen)"),
        "{said}"
    );
}

#[test]
fn with_its_default_port_taken_the_demo_runs_without_its_application_and_says_so() {
    // Held here, or by someone else: taken either way while the demo starts.
    let _taken = std::net::TcpListener::bind("127.0.0.1:9001");
    let dir = tempfile::tempdir().unwrap();
    let (listener, _) = crate::common::bound_listener();
    let mut child = demo_command(&dir, listener, &[])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let last = line.contains("demo application");
        lines.push(line);
        if last {
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        lines.iter().any(|l| l.starts_with("listening http ")),
        "{lines:?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("listening demo-app ")),
        "{lines:?}"
    );
    assert!(
        lines.last().is_some_and(|l| l.contains("not served")),
        "{lines:?}"
    );
    assert!(
        said.contains("demo application not served: 127.0.0.1:9001"),
        "{said}"
    );
}

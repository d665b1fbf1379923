//! `[log] format = "json"`: the real binary writes one JSON object per line, with a
//! security event per sign-in (its outcome, the login, the client address and the
//! request's id, which the answer also carries), and never the password.

use std::io::{BufRead, BufReader, Read};
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `apex-idp demo` writing its log as JSON lines (security events only, beside the
/// warnings), serving HTTP on `listener`; both outputs piped.
fn json_demo(dir: &tempfile::TempDir, listener: std::net::TcpListener) -> Command {
    let mut c = Command::new(BIN);
    c.args(["demo", "--no-app", "--data-dir"])
        .arg(dir.path().join("data"))
        .current_dir(ROOT)
        .env("APEX_HTTP__LISTEN", "stdin")
        .env("APEX_LOG__FORMAT", "json")
        .env("APEX_LOG", "warn,apex::security=info")
        .env("APEX_ARGON2__M_KIB", "64")
        .env("APEX_ARGON2__T", "1")
        .stdin(Stdio::from(OwnedFd::from(listener)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Waits for the demo's sign-ins; returns the lines it printed until then.
fn started(child: &mut std::process::Child) -> Vec<String> {
    let mut lines = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        let done = line.contains("sign-ins");
        lines.push(line);
        if done {
            break;
        }
    }
    lines
}

#[tokio::test]
async fn sign_ins_are_security_events_in_json_lines_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let (listener, port) = crate::common::bound_listener();
    let mut child = json_demo(&dir, listener)
        .env("APEX_LDAP__LISTEN", "")
        .spawn()
        .unwrap();
    started(&mut child);
    let http = crate::common::http_client();
    let sign_in = |password: &'static str| {
        http.post(format!("http://127.0.0.1:{port}/api/v1/sessions"))
            .json(&serde_json::json!({ "login": "amartin", "password": password }))
            .send()
    };
    let wrong = sign_in("Wrong-Password-0000").await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = sign_in("Demo-Apex-2026!").await.unwrap();
    assert_eq!(right.status(), 201);
    let request_id = right.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(request_id.len(), 32, "{request_id}");
    let _ = child.kill();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = child.wait();
    // The log's lines are JSON; the process's own messages (a line cut by the kill)
    // are not log lines.
    let events: Vec<serde_json::Value> = err
        .lines()
        .filter(|l| l.starts_with('{') && l.ends_with('}'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|v: &serde_json::Value| v["target"] == "apex::security")
        .collect();
    let sign_ins: Vec<&serde_json::Value> = events
        .iter()
        .filter(|v| v["fields"]["event"] == "sign_in" && v["fields"]["login"] == "amartin")
        .collect();
    let outcomes: Vec<&str> = sign_ins
        .iter()
        .map(|v| v["fields"]["outcome"].as_str().unwrap())
        .collect();
    // The demo's own seeding signs nobody in: these are the two requests.
    assert_eq!(outcomes, ["failure", "success"], "{err}");
    for e in &sign_ins {
        assert_eq!(e["fields"]["client"], "127.0.0.1", "{e}");
        assert_eq!(e["span"]["name"], "request", "{e}");
    }
    assert_eq!(sign_ins[1]["span"]["request_id"], request_id.as_str());
    assert!(
        !err.contains("Wrong-Password-0000"),
        "a password in the log"
    );
    assert!(!err.contains("Demo-Apex-2026!"), "a password in the log");
}

#[tokio::test]
async fn an_ldap_bind_is_a_security_event_named_by_its_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (listener, _) = crate::common::bound_listener();
    let mut child = json_demo(&dir, listener)
        .env("APEX_LDAP__LISTEN", "127.0.0.1:0")
        .env("APEX_LDAP__LDAPS_LISTEN", "")
        .env("APEX_TLS__CERT", dir.path().join("server.pem"))
        .env("APEX_TLS__KEY", dir.path().join("server-key.pem"))
        .spawn()
        .unwrap();
    let ldap_addr = started(&mut child)
        .iter()
        .find_map(|l| l.strip_prefix("listening ldap ").map(str::to_owned))
        .expect("no `listening ldap` line");
    let (conn, mut ldap) = ldap3::LdapConnAsync::new(&format!("ldap://{ldap_addr}"))
        .await
        .unwrap();
    ldap3::drive!(conn);
    let dn = "uid=cdurand,ou=people,dc=apex,dc=dgfip,dc=gouv,dc=fr";
    let refused = ldap.simple_bind(dn, "Wrong-Password-0000").await.unwrap();
    assert_eq!(refused.rc, 49);
    let _ = ldap.unbind().await;
    let _ = child.kill();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let _ = child.wait();
    let event = err
        .lines()
        .filter(|l| l.starts_with('{') && l.ends_with('}'))
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["fields"]["event"] == "sign_in" && v["fields"]["login"] == "cdurand")
        .unwrap_or_else(|| panic!("no sign-in event of cdurand in:\n{err}"));
    assert_eq!(event["fields"]["outcome"], "failure", "{event}");
    assert_eq!(event["span"]["name"], "ldap", "{event}");
    assert_eq!(event["span"]["peer"], "127.0.0.1", "{event}");
    assert_eq!(
        event["span"]["connection"].as_str().map(str::len),
        Some(32),
        "{event}"
    );
    assert!(
        !err.contains("Wrong-Password-0000"),
        "a password in the log"
    );
}

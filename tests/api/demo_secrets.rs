//! `serve` refuses the demo catalogue's published secrets unless `--dev`, before it
//! touches the data directory; `check-config` says why, and passes with `--dev`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn apex(data: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .current_dir(ROOT)
        .env("APEX_SERVER__DATA_DIR", data)
        .env("APEX_HTTP__LISTEN", "127.0.0.1:0")
        .env("APEX_LDAP__LISTEN", "")
        .env("APEX_ARGON2__M_KIB", "64")
        .env("APEX_ARGON2__T", "1")
        .env_remove("APEX_LOG")
        .stdin(Stdio::null());
    c
}

fn run(data: &Path, args: &[&str]) -> Output {
    apex(data, args).output().unwrap()
}

fn names_both_demo_secrets(stderr: &str) {
    assert!(
        stderr.contains("application[DEMO].oidc.client_secret_hash")
            && stderr.contains("demo-client-secret"),
        "{stderr}"
    );
    assert!(
        stderr.contains("application[FICOBA].ldap.bind_secret_hash")
            && stderr.contains("ficoba-ldap-secret"),
        "{stderr}"
    );
    assert!(stderr.contains("--dev"), "the way out is named: {stderr}");
}

#[test]
fn serve_refuses_the_demo_secrets_before_touching_the_data() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let out = run(&data, &["serve"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    names_both_demo_secrets(&stderr);
    assert!(!data.exists(), "no data directory was created");
}

#[test]
fn check_config_says_why_and_passes_with_dev() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let out = run(&data, &["check-config"]);
    assert!(!out.status.success());
    names_both_demo_secrets(&String::from_utf8_lossy(&out.stderr));
    let out = run(&data, &["check-config", "--dev"]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("configuration OK"));
}

#[test]
fn own_secrets_pass_and_serve_dev_starts_on_the_demo_ones() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // The demo catalogue with secrets of its own.
    let demo = std::fs::read_to_string(Path::new(ROOT).join("config/catalogue.toml")).unwrap();
    let own = apex_idp::auth::password::Hasher::new(crate::fixture::CHEAP)
        .unwrap()
        .hash_blocking("a-secret-of-its-own")
        .unwrap();
    let mut catalogue: toml::Table = toml::from_str(&demo).unwrap();
    for app in catalogue["application"].as_array_mut().unwrap() {
        let app = app.as_table_mut().unwrap();
        if let Some(o) = app.get_mut("oidc").and_then(|o| o.as_table_mut())
            && o.contains_key("client_secret_hash")
        {
            o.insert("client_secret_hash".into(), own.clone().into());
        }
        if let Some(l) = app.get_mut("ldap").and_then(|l| l.as_table_mut()) {
            l.insert("bind_secret_hash".into(), own.clone().into());
        }
    }
    let file = work.path().join("catalogue.toml");
    std::fs::write(&file, toml::to_string(&catalogue).unwrap()).unwrap();
    let out = apex(&data, &["check-config"])
        .env("APEX_CATALOGUE__FILE", &file)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    // With --dev, serve starts on the demo catalogue.
    let mut child = apex(&data, &["serve", "--dev"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(line.starts_with("listening http 127.0.0.1:"), "{line:?}");
}

#[test]
fn check_config_lists_the_faces_problems_with_the_catalogues() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    // The shipped catalogue with an attribute no account entry has, and a bad URL.
    let shipped = std::fs::read_to_string(Path::new(ROOT).join("config/catalogue.toml")).unwrap();
    let broken = shipped
        .replacen(
            "[application.ldap]\n",
            "[application.ldap]\nattributes = [\"uid\", \"userPassword\"]\n",
            1,
        )
        .replacen("url = \"", "url = \"not a url", 1);
    let catalogue = work.path().join("catalogue.toml");
    std::fs::write(&catalogue, broken).unwrap();
    let out = apex(&data, &["check-config", "--dev"])
        .env("APEX_CATALOGUE__FILE", &catalogue)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(".ldap.attributes") && stderr.contains("userPassword"),
        "{stderr}"
    );
    assert!(
        stderr.contains("].url"),
        "both problems are listed: {stderr}"
    );
}

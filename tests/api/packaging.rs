//! What an operator installs beside the binary: the systemd unit and the production
//! configuration example.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_production_configuration_example_passes_check_config() {
    let out = Command::new(BIN)
        .args([
            "check-config",
            "--dev",
            "--config",
            "config/apex.production.toml",
        ])
        .current_dir(ROOT)
        // Its catalogue lives in /etc/apex-idp: the shipped one stands in for it.
        .env("APEX_CATALOGUE__FILE", "config/catalogue.toml")
        .env_remove("APEX_LOG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `systemd-analyze`, when this machine has it (Debian's systemd package).
fn systemd_analyze() -> Option<Command> {
    let found = Command::new("systemd-analyze").arg("--version").output();
    if found.is_ok_and(|o| o.status.success()) {
        return Some(Command::new("systemd-analyze"));
    }
    eprintln!("systemd-analyze not found: the unit file is not checked (apt-get install systemd)");
    None
}

#[test]
fn the_systemd_unit_verifies_and_is_locked_down() {
    let Some(_) = systemd_analyze() else { return };
    // The unit as installed, its ExecStart pointing at the binary under test.
    let text = std::fs::read_to_string(Path::new(ROOT).join("packaging/apex-idp.service")).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/apex-idp serve"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("apex-idp.service");
    std::fs::write(&unit, text.replace("/usr/bin/apex-idp", BIN)).unwrap();
    // `verify` prints what it ignores (unknown keys, bad values) and still exits 0:
    // nothing may be printed.
    let out = systemd_analyze()
        .unwrap()
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    // systemd's own exposure score (0 = locked down, 10 = none): at most 2.
    let out = systemd_analyze()
        .unwrap()
        .args(["security", "--offline=yes", "--threshold=20"])
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

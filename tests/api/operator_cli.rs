//! The operator command line, run as the real binary against a real server: every
//! command, its table and `--json` output, and its exit code (0 ok, 1 usage or local
//! error, 2 refused by a rule, 3 not found, 4 authentication, 5 server unreachable,
//! 6 audit chain broken).

use serde_json::{Value, json};

use crate::fixture::{Fixture, OPERATOR_TOKEN, PASSWORD};

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");

/// What a run of the binary left.
struct Run {
    code: i32,
    out: String,
    err: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.out).unwrap_or_else(|e| panic!("{e}: {}", self.out))
    }

    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "stdout: {}\nstderr: {}", self.out, self.err);
        self
    }
}

/// Runs `apex-idp <args>` with `token` in APEX_OPERATOR_TOKEN (none: unset).
async fn run(args: &[&str], token: Option<&str>) -> Run {
    let mut cmd = tokio::process::Command::new(BIN);
    cmd.args(args)
        .env_remove("APEX_OPERATOR_TOKEN")
        .env_remove("APEX_URL")
        .env("APEX_LOG", "warn");
    if let Some(t) = token {
        cmd.env("APEX_OPERATOR_TOKEN", t);
    }
    let out = cmd.output().await.unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs an operator command against `f` with the operator token.
async fn apex(f: &Fixture, args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--url", f.base.as_str()]);
    run(&all, Some(OPERATOR_TOKEN)).await
}

async fn sign_in_status(f: &Fixture, login: &str) -> u16 {
    f.try_sign_in(login, PASSWORD).await.0
}

async fn me_status(f: &Fixture, token: &str) -> u16 {
    f.call(Some(token), "GET", "/me", None).await.0
}

#[tokio::test]
async fn structure_commands_create_list_show_rename_and_close() {
    let f = Fixture::start().await;
    let created = apex(
        &f,
        &[
            "structure",
            "create",
            "--siret",
            "73282932000074",
            "--category",
            "CSP",
            "--name",
            "Cabinet Martin",
            "--json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(created["siret"], "73282932000074");
    let id = created["id"].as_str().unwrap().to_owned();

    let list = apex(&f, &["structure", "list"]).await.ok();
    assert!(list.out.starts_with("SIRET"), "{}", list.out);
    assert!(
        list.out
            .contains("73282932000074  CSP       Cabinet Martin  open"),
        "{}",
        list.out
    );

    // Administrateur and service show up in `show`, by SIRET.
    let admin = f.admin(&id, "Alice", "Martin").await;
    f.service(&admin, "Comptabilité").await;
    let shown = apex(&f, &["structure", "show", "73282932000074", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(shown["structure"]["id"], id.as_str());
    assert_eq!(shown["services"][0]["name"], "Comptabilité");
    assert_eq!(shown["accounts"][0]["login"], admin.login.as_str());
    let table = apex(&f, &["structure", "show", &id]).await.ok();
    assert!(table.out.contains("SERVICE"), "{}", table.out);
    assert!(table.out.contains(&admin.login), "{}", table.out);

    let renamed = apex(
        &f,
        &[
            "structure",
            "rename",
            &id,
            "--name",
            "Cabinet Martin & Fils",
            "--json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(renamed["name"], "Cabinet Martin & Fils");
    assert_eq!(renamed["siret"], "73282932000074");

    // An unknown category is an invalid value: refused by a rule, exit 2.
    let refused = apex(&f, &["structure", "rename", &id, "--category", "NOPE"]).await;
    assert_eq!(refused.code, 2, "{}", refused.err);
    assert!(
        refused.err.contains("(category, HTTP 422)"),
        "{}",
        refused.err
    );

    // An unknown structure: exit 3.
    let missing = apex(&f, &["structure", "show", "35600000049837"]).await;
    assert_eq!(missing.code, 3, "{}", missing.err);

    // The operator is named by every event of these commands.
    let audit = apex(&f, &["audit", "export"]).await.ok();
    let update = audit
        .out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["action"] == "structure.update")
        .unwrap();
    assert_eq!(update["actor"], "operator");
    assert_eq!(update["after"]["name"], "Cabinet Martin & Fils");
}

#[tokio::test]
async fn a_blocked_account_can_no_longer_sign_in_and_its_sessions_end() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Blocage").await;
    let alice = f.admin(&sid, "Alice", "Martin").await;
    let bruno = f.admin(&sid, "Bruno", "Petit").await;
    assert_eq!(me_status(&f, &bruno.token).await, 200);

    let blocked = apex(&f, &["account", "block", &bruno.login]).await.ok();
    assert!(blocked.out.starts_with("blocked: "), "{}", blocked.out);
    assert_eq!(me_status(&f, &bruno.token).await, 401);
    assert_eq!(sign_in_status(&f, &bruno.login).await, 401);
    let shown = apex(&f, &["account", "show", &bruno.id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(shown["blocked"], "operator");
    assert_eq!(shown["state"], "active");
    let table = apex(&f, &["account", "list", &sid]).await.ok();
    assert!(
        table.out.contains("active (blocked: operator)"),
        "{}",
        table.out
    );

    // Blocking twice is a state conflict.
    let again = apex(&f, &["account", "block", &bruno.login]).await;
    assert_eq!(again.code, 2);

    // Unblocked, he signs in again; the session of before stays ended.
    apex(&f, &["account", "unblock", &bruno.login]).await.ok();
    assert_eq!(sign_in_status(&f, &bruno.login).await, 201);
    assert_eq!(me_status(&f, &bruno.token).await, 401);
    assert_eq!(me_status(&f, &alice.token).await, 200);

    let events = apex(&f, &["audit", "export", "--format", "csv"]).await.ok();
    assert!(
        events
            .out
            .starts_with("seq,at,actor,structure_id,action,target,hash\n")
    );
    assert!(
        events
            .out
            .lines()
            .any(|l| l.contains(",operator,") && l.contains(",account.block,")),
        "{}",
        events.out
    );
}

#[tokio::test]
async fn blocking_the_last_administrateur_is_refused() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Dernier").await;
    let alice = f.admin(&sid, "Alice", "Martin").await;
    let refused = apex(&f, &["account", "block", &alice.id, "--json"]).await;
    assert_eq!(refused.code, 2, "{}", refused.err);
    assert_eq!(
        refused.json()["type"],
        "urn:apex-idp:problem:last-administrateur"
    );
    assert!(
        refused.err.contains("last-administrateur"),
        "{}",
        refused.err
    );
    assert_eq!(me_status(&f, &alice.token).await, 200);
}

#[tokio::test]
async fn end_sessions_ends_the_sessions_but_not_the_account() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Sessions").await;
    let alice = f.admin(&sid, "Alice", "Martin").await;
    let out = apex(&f, &["account", "end-sessions", &alice.login])
        .await
        .ok();
    assert!(out.out.starts_with("sessions ended: "), "{}", out.out);
    assert_eq!(me_status(&f, &alice.token).await, 401);
    let token = f.sign_in(&alice.login, PASSWORD).await;
    assert_eq!(me_status(&f, &token).await, 200);
    let missing = apex(&f, &["account", "end-sessions", "nobody"]).await;
    assert_eq!(missing.code, 3);
}

#[tokio::test]
async fn closing_a_structure_blocks_its_people_for_good() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Fermée").await;
    let alice = f.admin(&sid, "Alice", "Martin").await;
    let closed = apex(&f, &["structure", "close", "73282932000074"])
        .await
        .ok();
    assert!(
        closed.out.starts_with("closed: structure 73282932000074"),
        "{}",
        closed.out
    );
    assert_eq!(me_status(&f, &alice.token).await, 401);
    assert_eq!(sign_in_status(&f, &alice.login).await, 401);
    let shown = apex(&f, &["account", "show", &alice.login, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(shown["blocked"], "structure_closed");
    for args in [
        vec!["account", "unblock", alice.login.as_str()],
        vec!["structure", "close", sid.as_str()],
        vec!["structure", "rename", sid.as_str(), "--name", "Rouverte"],
    ] {
        let refused = apex(&f, &args).await;
        assert_eq!(refused.code, 2, "{args:?}: {}", refused.err);
        assert!(refused.err.contains("structure-closed"), "{}", refused.err);
    }
    let invite = apex(
        &f,
        &[
            "admin",
            "invite",
            &sid,
            "--email",
            "x@example.fr",
            "--given-name",
            "X",
            "--family-name",
            "Y",
        ],
    )
    .await;
    assert_eq!(invite.code, 2, "{}", invite.err);
    let list = apex(&f, &["structure", "list"]).await.ok();
    assert!(list.out.contains("closed "), "{}", list.out);
}

#[tokio::test]
async fn a_replaced_administrateur_is_blocked_once_the_new_one_is_active() {
    let f = Fixture::start().await;
    let sid = f.structure("73282932000074", "Relève").await;
    let alice = f.admin(&sid, "Alice", "Martin").await;
    let invited = apex(
        &f,
        &[
            "admin",
            "replace",
            &alice.login,
            "--email",
            "bruno.petit@example.fr",
            "--given-name",
            "Bruno",
            "--family-name",
            "Petit",
            "--json",
        ],
    )
    .await
    .ok()
    .json();
    assert_eq!(invited["state"], "invited");
    assert_eq!(invited["role"], "administrateur");
    // Until the new one is active, the old one stays.
    assert_eq!(me_status(&f, &alice.token).await, 200);
    let link = f.link_to("bruno.petit@example.fr", "/invitations/").await;
    let bruno = f.accept(&link).await;
    assert_eq!(bruno["state"], "active");
    assert_eq!(me_status(&f, &alice.token).await, 401);
    assert_eq!(sign_in_status(&f, &alice.login).await, 401);
    let shown = apex(&f, &["account", "show", &alice.id, "--json"])
        .await
        .ok()
        .json();
    assert_eq!(shown["blocked"], "replaced");
    // Only an administrateur is replaced.
    let bruno_login = bruno["login"].as_str().unwrap();
    let token = f.sign_in(bruno_login, PASSWORD).await;
    let service = f
        .call(
            Some(&token),
            "POST",
            "/services",
            Some(json!({"name": "Paie"})),
        )
        .await
        .1;
    assert!(service["id"].is_string());
    let human = apex(
        &f,
        &[
            "admin",
            "invite",
            &sid,
            "--email",
            "carla.durand@example.fr",
            "--given-name",
            "Carla",
            "--family-name",
            "Durand",
        ],
    )
    .await
    .ok();
    assert!(human.out.starts_with("invited: "), "{}", human.out);
}

#[tokio::test]
async fn audit_verify_and_export_since_a_time() {
    let f = Fixture::start().await;
    f.structure("73282932000074", "Audit").await;
    let verified = apex(&f, &["audit", "verify"]).await.ok();
    assert!(
        verified.out.starts_with("audit chain intact: 1 events"),
        "{}",
        verified.out
    );
    let json = apex(&f, &["audit", "verify", "--json"]).await.ok().json();
    assert_eq!(json["intact"], true);
    let all = apex(&f, &["audit", "export", "--since", "1970-01-01"])
        .await
        .ok();
    assert_eq!(all.out.lines().count(), 1, "{}", all.out);
    let later = apex(&f, &["audit", "export", "--since", "2999-01-01T00:00:00Z"])
        .await
        .ok();
    assert_eq!(later.out, "");
    let bad = apex(&f, &["audit", "export", "--since", "yesterday"]).await;
    assert_eq!(bad.code, 1, "{}", bad.err);
}

#[tokio::test]
async fn keys_list_and_rotate() {
    let f = Fixture::start().await;
    let before = apex(&f, &["keys", "list", "--json"]).await.ok().json();
    let count = before["keys"].as_array().unwrap().len();
    assert!(count >= 3, "{before}");
    let table = apex(&f, &["keys", "list"]).await.ok();
    assert!(table.out.starts_with("ALG"), "{}", table.out);
    assert!(table.out.contains("signing"), "{}", table.out);
    let rotated = apex(&f, &["keys", "rotate", "--delay-seconds", "300"])
        .await
        .ok();
    assert!(rotated.out.contains("next"), "{}", rotated.out);
    let after = apex(&f, &["keys", "list", "--json"]).await.ok().json();
    assert_eq!(after["keys"].as_array().unwrap().len(), count + 3);
    let short = apex(&f, &["keys", "rotate", "--delay-seconds", "1"]).await;
    assert_eq!(short.code, 2, "{}", short.err);
}

#[tokio::test]
async fn a_wrong_or_missing_token_exits_4_and_an_unreachable_server_exits_5() {
    let f = Fixture::start().await;
    let wrong = run(
        &["structure", "list", "--url", &f.base],
        Some("not-the-operator-token"),
    )
    .await;
    assert_eq!(wrong.code, 4, "{}", wrong.err);
    let none = run(&["structure", "list", "--url", &f.base], None).await;
    assert_eq!(none.code, 4, "{}", none.err);
    assert!(none.err.contains("APEX_OPERATOR_TOKEN"), "{}", none.err);

    // The token from a file.
    let file = f.dir.path().join("token");
    std::fs::write(&file, format!("{OPERATOR_TOKEN}\n")).unwrap();
    let from_file = run(
        &[
            "structure",
            "list",
            "--url",
            &f.base,
            "--token-file",
            file.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert_eq!(from_file.code, 0, "{}", from_file.err);

    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let down = run(&["structure", "list", "--url", &url], Some(OPERATOR_TOKEN)).await;
    assert_eq!(down.code, 5, "{}", down.err);
    assert!(down.err.contains("unreachable"), "{}", down.err);

    // Usage errors exit 1; --help exits 0; the token is no argument.
    let usage = run(
        &["structure", "create", "--url", &f.base],
        Some(OPERATOR_TOKEN),
    )
    .await;
    assert_eq!(usage.code, 1, "{}", usage.err);
    let token_arg = run(&["structure", "list", "--token", OPERATOR_TOKEN], None).await;
    assert_eq!(token_arg.code, 1, "{}", token_arg.err);
    for command in [
        "structure",
        "admin",
        "account",
        "audit",
        "catalogue",
        "keys",
    ] {
        let help = run(&[command, "--help"], None).await;
        assert_eq!(help.code, 0, "{command}: {}", help.err);
        assert!(help.out.contains("--url"), "{command}: {}", help.out);
    }
}

#[tokio::test]
async fn catalogue_check_reads_the_file_here() {
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/config/catalogue.toml");
    let ok = run(&["catalogue", "check", shipped, "--dev"], None)
        .await
        .ok();
    assert!(ok.out.starts_with("catalogue OK: "), "{}", ok.out);
    // Without --dev, the demo's published secrets are refused, as `serve` does.
    let demo = run(&["catalogue", "check", shipped], None).await;
    assert_eq!(demo.code, 1, "{}", demo.out);
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("catalogue.toml");
    std::fs::write(
        &broken,
        "[[category]]\ncode = \"CSP\"\nlabel = \"x\"\napplications = [\"NOPE\"]\n",
    )
    .unwrap();
    let bad = run(
        &["catalogue", "check", broken.to_str().unwrap(), "--json"],
        None,
    )
    .await;
    assert_eq!(bad.code, 1, "{}", bad.err);
    assert_eq!(bad.json()["ok"], false);
    assert!(bad.out.contains("NOPE"), "{}", bad.out);
}

/// Creates a structure of `category` through the operator API; the status.
async fn structure_of(f: &Fixture, n: u64, category: &str) -> (u16, Value) {
    f.op(
        "POST",
        "/operator/structures",
        Some(json!({"siret": crate::durability::siret(5_000_000_000 + n), "category": category, "name": format!("Cabinet {n}")})),
    )
    .await
}

#[tokio::test]
async fn catalogue_reload_puts_a_checked_catalogue_in_force_or_keeps_the_one_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("catalogue.toml");
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/catalogue.toml"
    ))
    .unwrap();
    std::fs::write(&file, &shipped).unwrap();
    let mut config = crate::fixture::test_config(dir.path());
    config.catalogue.file = file.clone();
    let f = Fixture::start_with(dir, config).await;
    assert_eq!(structure_of(&f, 1, "CSP").await.0, 201);
    assert_eq!(
        structure_of(&f, 2, "NOUV").await.0,
        422,
        "not in the catalogue yet"
    );

    // A new category, put in force by `catalogue reload`, without a restart.
    let with_new = format!(
        "{shipped}\n[[category]]\ncode = \"NOUV\"\nlabel = \"Nouvelle catégorie\"\napplications = [\"DEMO\"]\n"
    );
    std::fs::write(&file, &with_new).unwrap();
    let reloaded = apex(&f, &["catalogue", "reload"]).await.ok();
    assert!(
        reloaded.out.starts_with("catalogue reloaded: "),
        "{}",
        reloaded.out
    );
    assert!(reloaded.out.contains("3 categories"), "{}", reloaded.out);
    let (status, body) = structure_of(&f, 3, "NOUV").await;
    assert_eq!(status, 201, "{body}");

    // A broken file: refused as a whole with every problem, the catalogue in force stays.
    std::fs::write(
        &file,
        format!(
            "{with_new}\n[[category]]\ncode = \"CASSE\"\nlabel = \"x\"\napplications = [\"NOPE\"]\n"
        ),
    )
    .unwrap();
    let refused = apex(&f, &["catalogue", "reload", "--json"]).await;
    assert_eq!(refused.code, 2, "{} {}", refused.out, refused.err);
    assert!(refused.err.contains("NOPE"), "{}", refused.err);
    assert!(refused.err.contains("catalogue-invalid"), "{}", refused.err);
    assert_eq!(
        structure_of(&f, 4, "NOUV").await.0,
        201,
        "the catalogue in force stayed"
    );
    assert_eq!(structure_of(&f, 5, "CASSE").await.0, 422);

    // A category that structures still have cannot go.
    std::fs::write(&file, &shipped).unwrap();
    let (status, problem) = f.op("POST", "/operator/catalogue/reload", None).await;
    assert_eq!(status, 422, "{problem}");
    let blocking = problem["blocking"].to_string();
    assert!(
        blocking.contains("category NOUV is gone but is still the category of 2 structure(s)"),
        "{problem}"
    );
    // Only the operator reloads.
    let (status, _) = f
        .call(None, "POST", "/operator/catalogue/reload", None)
        .await;
    assert_eq!(status, 401);

    // SIGHUP reads it again too.
    std::fs::write(
        &file,
        format!("{with_new}\n[[category]]\ncode = \"HUP\"\nlabel = \"Par signal\"\napplications = [\"DEMO\"]\n"),
    )
    .unwrap();
    let hup = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(hup.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut n = 10;
    loop {
        n += 1;
        let (status, body) = structure_of(&f, n, "HUP").await;
        if status == 201 {
            break;
        }
        assert_eq!(status, 422, "{body}");
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP did not reload the catalogue"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

//! `apex-idp migrate-store`, run as the real binary: a whole directory moves from sled
//! to PostgreSQL and back, with its audit chain, and a node over the copy serves it.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use apex_idp::clock::SystemClock;
use apex_idp::config::{Argon2Config, Config};

use crate::cluster::Cluster;

const BIN: &str = env!("CARGO_BIN_EXE_apex-idp");

/// A sled store in `dir` holding the demo directory; the number of its audit events.
async fn demo_store(dir: &Path) -> u64 {
    let mut config = Config::default();
    config.server.data_dir = dir.to_path_buf();
    config.argon2 = Argon2Config {
        m_kib: 64,
        t: 1,
        p: 1,
    };
    config.catalogue.file = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/catalogue.toml");
    let directory = apex_idp::server::open_directory(&config, Arc::new(SystemClock)).unwrap();
    apex_idp::demo::seed(&directory).await.unwrap();
    let events = directory.verify_audit().unwrap();
    directory.close_store().await;
    events
}

fn migrate(from: &str, to: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args(["migrate-store", "--from", from, "--to", to])
        .env("APEX_LOG", "error")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The audit events of the store named `spec`, as the copy sees them.
fn events_in(backend: &apex_idp::store::Backend<'_>) -> u64 {
    let store = apex_idp::store::Store::open_backend(backend).unwrap();
    apex_idp::directory::audit::verify(&store).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_moves_from_sled_to_postgres_and_back_with_its_audit_chain() {
    let Some(cluster) = Cluster::start("a_directory_moves_from_sled_to_postgres_and_back") else {
        return;
    };
    let url = cluster.database().await;
    let dir = tempfile::tempdir().unwrap();
    let sled = dir.path().join("sled");
    let events = demo_store(&sled).await;
    assert!(
        events > 10,
        "the demo directory writes its history: {events}"
    );

    let (ok, text) = migrate(
        &format!("sled:{}", sled.display()),
        &format!("postgres:{url}"),
    );
    assert!(ok, "{text}");
    assert!(
        text.contains(&format!("audit chain intact ({events} events)")),
        "{text}"
    );
    let pg = apex_idp::store::Backend::Postgres(apex_idp::store::PgSettings {
        url: url.clone(),
        pool_size: 2,
    });
    let (url2, pg2) = (url.clone(), pg.clone());
    assert_eq!(
        tokio::task::spawn_blocking(move || events_in(&pg2))
            .await
            .unwrap(),
        events
    );

    // The copy's new ids come after the ones its records hold: a mail queued from now
    // on never takes the key of one still waiting.
    let pg3 = pg.clone();
    let (last_queued, next) = tokio::task::spawn_blocking(move || {
        let store = apex_idp::store::Store::open_backend(&pg3).unwrap();
        let last = store
            .keys_with_prefix(apex_idp::store::T::MailQueue, b"")
            .map(|k| u64::from_be_bytes(k.unwrap().try_into().unwrap()))
            .max()
            .unwrap_or(0);
        (last, store.generate_id().unwrap())
    })
    .await
    .unwrap();
    assert!(last_queued > 0, "the demo's mails wait in the queue");
    assert!(
        next > last_queued,
        "id {next} after queued mail {last_queued}"
    );

    // Into a store that holds data: refused, and nothing is changed.
    let (ok, text) = migrate(
        &format!("sled:{}", sled.display()),
        &format!("postgres:{url2}"),
    );
    assert!(!ok, "a second copy into a full store was accepted: {text}");
    assert!(text.contains("restore needs an empty store"), "{text}");

    // A node over the copy serves the directory: a demo person signs in. The copy's
    // new ids come after the ones it holds (a mail queued now takes a fresh key).
    let node = crate::node::Node::start(&url);
    let token = node.sign_in("amartin").await;
    let (status, structure) = node.call(Some(&token), "GET", "/structure", None).await;
    assert_eq!(status, 200, "{structure}");
    let (status, _) = node
        .call(
            None,
            "POST",
            "/password-resets",
            Some(serde_json::json!({"login": "amartin"})),
        )
        .await;
    assert_eq!(status, 202);
    let (status, body) = node
        .call(
            Some(&token),
            "POST",
            "/services",
            Some(serde_json::json!({"name": "Après la migration"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    drop(node);

    // And back, into a new sled directory, with the history the node added.
    let back = dir.path().join("back");
    let (ok, text) = migrate(
        &format!("postgres:{url}"),
        &format!("sled:{}", back.display()),
    );
    assert!(ok, "{text}");
    let after = events_in(&apex_idp::store::Backend::Sled(&back));
    assert!(
        after > events,
        "{after} events after the node's writes, {events} before"
    );
}

#[test]
fn a_store_named_wrong_or_a_password_in_view_is_refused_clearly() {
    let (ok, text) = migrate("mysql:somewhere", "sled:/nonexistent");
    assert!(!ok);
    assert!(
        text.contains(
            "name a store as sled:<data_dir>, postgres:<url> or postgres-url-file:<file>"
        ),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("url");
    std::fs::write(&file, "postgres://apex:secret@127.0.0.1:1/apex\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, text) = migrate(
        &format!("postgres-url-file:{}", file.display()),
        "sled:/nonexistent",
    );
    assert!(!ok);
    assert!(text.contains("readable by every user"), "{text}");
    assert!(!text.contains("secret"), "the password was printed: {text}");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (ok, text) = migrate(
        &format!("postgres-url-file:{}", file.display()),
        "sled:/nonexistent",
    );
    assert!(!ok);
    assert!(text.contains("unavailable"), "{text}");
    assert!(!text.contains("secret"), "the password was printed: {text}");
    let (ok, text) = migrate(
        "postgres:postgres://apex:secret@127.0.0.1:1/apex",
        "sled:/nonexistent",
    );
    assert!(!ok);
    assert!(!text.contains("secret"), "the password was printed: {text}");
}

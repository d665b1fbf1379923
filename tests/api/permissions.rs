//! The data directory is the owner's only: 0700, every directory below 0700 and every
//! file 0600 whatever the umask; backups (CLI and API) are 0600, and the API backup never
//! exists under a name in the system temporary directory.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::durability::cli;
use crate::fixture::{Fixture, test_config};

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o7777
}

/// Every entry below `dir` that is not owner-only, with its mode.
fn loose_entries(dir: &Path) -> Vec<String> {
    let mut loose = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let m = meta.permissions().mode() & 0o7777;
            if meta.is_dir() {
                pending.push(path.clone());
                if m != 0o700 {
                    loose.push(format!("{} {m:o}", path.display()));
                }
            } else if m != 0o600 {
                loose.push(format!("{} {m:o}", path.display()));
            }
        }
    }
    loose
}

fn temp_names() -> BTreeSet<String> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("apex"))
        .collect()
}

#[tokio::test]
async fn the_data_directory_and_everything_in_it_is_owner_only() {
    let f = Fixture::start().await;
    let data = f.dir.path().join("data");
    assert_eq!(mode(&data), 0o700);
    assert!(std::fs::read_dir(&data).unwrap().next().is_some());
    assert_eq!(loose_entries(&data), Vec::<String>::new());
}

#[tokio::test]
async fn a_looser_existing_data_directory_is_tightened() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let data = &config.server.data_dir;
    std::fs::create_dir_all(data).unwrap();
    std::fs::set_permissions(data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let stray = data.join("stray-note");
    std::fs::write(&stray, "x").unwrap();
    std::fs::set_permissions(&stray, std::fs::Permissions::from_mode(0o644)).unwrap();
    let f = Fixture::start_with(dir, config.clone()).await;
    assert_eq!(mode(&config.server.data_dir), 0o700);
    assert_eq!(mode(&stray), 0o600);
    assert_eq!(loose_entries(&config.server.data_dir), Vec::<String>::new());
    drop(f);
}

#[test]
fn the_cli_backup_file_is_owner_only() {
    let work = tempfile::tempdir().unwrap();
    let data = work.path().join("data");
    let file = work.path().join("apex.backup");
    let out = cli(
        work.path(),
        &data,
        &["backup", "--out", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(mode(&file), 0o600);
    assert_eq!(mode(&data), 0o700);
    assert_eq!(loose_entries(&data), Vec::<String>::new());
}

#[tokio::test]
async fn the_api_backup_leaves_nothing_in_the_temporary_directory() {
    let f = Fixture::start().await;
    let before = temp_names();
    let reply = f
        .http
        .get(f.url("/api/v1/operator/backup"))
        .bearer_auth(crate::fixture::OPERATOR_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 200);
    let body = reply.text().await.unwrap();
    assert!(body.lines().count() >= 2, "{body}");
    let added: Vec<String> = temp_names()
        .difference(&before)
        .filter(|n| n.contains("backup"))
        .cloned()
        .collect();
    assert_eq!(added, Vec::<String>::new());
    let data = f.dir.path().join("data");
    let scratch = data.join(apex_idp::store::private::SCRATCH);
    assert_eq!(mode(&scratch), 0o700);
    assert_eq!(std::fs::read_dir(&scratch).unwrap().count(), 0);
    assert_eq!(loose_entries(&data), Vec::<String>::new());
}

/// A file that appears in the data directory at the umask's mode while the server runs
/// (as sled's new segments do) is owner-only within seconds.
#[tokio::test]
async fn files_created_while_serving_are_tightened() {
    let f = Fixture::start().await;
    let data = f.dir.path().join("data");
    let late = data.join("blobs").join("late-segment");
    std::fs::create_dir_all(late.parent().unwrap()).unwrap();
    std::fs::write(&late, "x").unwrap();
    std::fs::set_permissions(&late, std::fs::Permissions::from_mode(0o644)).unwrap();
    for _ in 0..150 {
        if mode(&late) == 0o600 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(mode(&late), 0o600, "tightened while serving");
}

/// What a crash left in the scratch directory (a spooled backup) is gone at start.
#[tokio::test]
async fn scratch_files_left_by_a_crash_are_removed_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path());
    let scratch = config.server.data_dir.join(".scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let leftover = scratch.join("backup-0000.jsonl");
    std::fs::write(&leftover, "personal data").unwrap();
    let f = Fixture::start_with(dir, config.clone()).await;
    assert!(!leftover.exists(), "the leftover backup is removed");
    assert_eq!(loose_entries(&config.server.data_dir), Vec::<String>::new());
    drop(f);
}

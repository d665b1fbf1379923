//! The storage interface's contract, run on both engines (sled and PostgreSQL), and what
//! only a shared database adds: its own constraints, one migration for nodes starting
//! together, a newer schema refused, commits of other nodes seen after `sync`.

use apex_idp::store::engine::Engine;
use std::sync::Arc;

use apex_idp::store::{Backend, PgSettings, Store, T, WriteSet};

use crate::cluster::Cluster;

fn pg(url: &str) -> Store {
    Store::open_backend(&Backend::Postgres(PgSettings {
        url: url.to_owned(),
        pool_size: 4,
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

fn commit(store: &Store, writes: &WriteSet) -> Result<(), String> {
    let lock = store.lock().map_err(|e| e.to_string())?;
    store.commit(&lock, writes).map_err(|e| e.to_string())
}

/// What every engine must do, through the store and its engine.
fn contract(store: &Store) {
    let e: &dyn Engine = store.engine();
    // A write set commits at once, over several tables.
    let mut w = WriteSet::new();
    for key in ["a\0one", "a\0two", "a\0two\0x", "ab", "b", "a\u{ff}"] {
        w.put_raw(
            T::AccountsByProfile,
            key.as_bytes().to_vec(),
            key.as_bytes().to_vec(),
        );
    }
    w.put_raw(T::Meta, b"answer".to_vec(), b"42".to_vec());
    commit(store, &w).unwrap();
    assert_eq!(e.get(T::Meta, b"answer").unwrap(), Some(b"42".to_vec()));
    assert!(e.contains(T::AccountsByProfile, b"ab").unwrap());
    assert!(!e.contains(T::AccountsByProfile, b"zz").unwrap());
    assert_eq!(
        e.get(T::Accounts, b"answer").unwrap(),
        None,
        "tables are apart"
    );
    // Prefix walks and ranges keep byte order.
    let keys: Vec<Vec<u8>> = e
        .keys_with_prefix(T::AccountsByProfile, b"a\0")
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        keys,
        vec![
            b"a\0one".to_vec(),
            b"a\0two".to_vec(),
            b"a\0two\0x".to_vec()
        ]
    );
    let entries = e.with_prefix(T::AccountsByProfile, b"a").unwrap();
    let keys: Vec<&[u8]> = entries.iter().map(|(k, _)| k.as_slice()).collect();
    assert_eq!(
        keys,
        vec![
            &b"a\0one"[..],
            b"a\0two",
            b"a\0two\0x",
            b"ab",
            "a\u{ff}".as_bytes()
        ]
    );
    let range = e.range(T::AccountsByProfile, b"a\0two", 2).unwrap();
    assert_eq!(range.len(), 2);
    assert_eq!(range[0].0, b"a\0two".to_vec());
    assert_eq!(range[1].0, b"a\0two\0x".to_vec());
    assert_eq!(e.len(T::AccountsByProfile), 6);
    // The last write of a key in a set wins; removals apply.
    let mut w = WriteSet::new();
    w.put_raw(T::Meta, b"answer".to_vec(), b"43".to_vec());
    w.put_raw(T::Meta, b"answer".to_vec(), b"44".to_vec());
    w.remove(T::AccountsByProfile, b"b".to_vec());
    commit(store, &w).unwrap();
    assert_eq!(e.get(T::Meta, b"answer").unwrap(), Some(b"44".to_vec()));
    assert!(!e.contains(T::AccountsByProfile, b"b").unwrap());
    // A walk longer than one page of the engine.
    let mut w = WriteSet::new();
    for i in 0..2_500u32 {
        w.put_raw(
            T::AuditByStructure,
            format!("s\0{i:06}").into_bytes(),
            Vec::new(),
        );
    }
    commit(store, &w).unwrap();
    let walked = e.keys_with_prefix(T::AuditByStructure, b"s\0").count();
    assert_eq!(walked, 2_500);
    // Ids increase.
    let ids: Vec<u64> = (0..5).map(|_| e.next_id().unwrap()).collect();
    assert!(ids.windows(2).all(|p| p[0] < p[1]), "{ids:?}");
    // The faces' tables: compare-and-swap is what single-use codes rest on.
    let table = e.state_table("contract").unwrap();
    assert!(
        table
            .compare_and_swap(b"code", None, Some(b"issued".to_vec()))
            .unwrap()
    );
    assert!(
        !table
            .compare_and_swap(b"code", None, Some(b"again".to_vec()))
            .unwrap()
    );
    assert!(
        table
            .compare_and_swap(b"code", Some(b"issued"), Some(b"used".to_vec()))
            .unwrap()
    );
    assert!(
        !table
            .compare_and_swap(b"code", Some(b"issued"), Some(b"twice".to_vec()))
            .unwrap()
    );
    assert_eq!(table.get(b"code").unwrap(), Some(b"used".to_vec()));
    assert!(
        table
            .compare_and_swap(b"code", Some(b"used"), None)
            .unwrap()
    );
    assert_eq!(table.get(b"code").unwrap(), None);
    table.insert(b"k2", b"v2".to_vec()).unwrap();
    table.insert(b"k1", b"v1".to_vec()).unwrap();
    let mut seen = Vec::new();
    table
        .for_each(&mut |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
    assert_eq!(
        seen,
        vec![
            (b"k1".to_vec(), b"v1".to_vec()),
            (b"k2".to_vec(), b"v2".to_vec())
        ]
    );
    assert_eq!(table.remove(b"k1").unwrap(), Some(b"v1".to_vec()));
    assert!(
        e.table_names()
            .unwrap()
            .iter()
            .any(|n| n == "face_contract")
    );
    assert_eq!(e.named_len("face_contract").unwrap(), 1);
}

#[test]
fn sled_honours_the_storage_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("data")).unwrap();
    contract(&store);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_honours_the_storage_contract() {
    let Some(cluster) = Cluster::start("postgres_honours_the_storage_contract") else {
        return;
    };
    let url = cluster.database().await;
    tokio::task::spawn_blocking(move || contract(&pg(&url)))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_holds_unique_logins_and_references_and_a_refused_commit_writes_nothing() {
    let Some(cluster) = Cluster::start("the_database_holds_unique_logins_and_references") else {
        return;
    };
    let url = cluster.database().await;
    tokio::task::spawn_blocking(move || {
        let store = pg(&url);
        let e = store.engine();
        // A login that names no account is refused by the database at commit, and the
        // other writes of the set are not made either.
        let mut w = WriteSet::new();
        w.put_raw(T::Meta, b"marker".to_vec(), b"1".to_vec());
        w.put_raw(
            T::AccountByLogin,
            b"jdupont".to_vec(),
            b"no-such-account".to_vec(),
        );
        let refused = commit(&store, &w).unwrap_err();
        assert!(refused.contains("foreign key"), "{refused}");
        assert_eq!(e.get(T::Meta, b"marker").unwrap(), None);
        // An account and its login in one set, in either order, are accepted.
        let mut w = WriteSet::new();
        w.put_raw(T::AccountByLogin, b"jdupont".to_vec(), b"acc-1".to_vec());
        w.put_raw(T::Accounts, b"acc-1".to_vec(), b"{}".to_vec());
        w.put_raw(
            T::StructureBySiret,
            b"73282932000074".to_vec(),
            b"str-1".to_vec(),
        );
        w.put_raw(T::Structures, b"str-1".to_vec(), b"{}".to_vec());
        commit(&store, &w).unwrap();
        // The account cannot go while its login still names it.
        let mut w = WriteSet::new();
        w.remove(T::Accounts, b"acc-1".to_vec());
        assert!(commit(&store, &w).is_err());
        assert!(e.contains(T::Accounts, b"acc-1").unwrap());
        // Both go together.
        let mut w = WriteSet::new();
        w.remove(T::Accounts, b"acc-1".to_vec());
        w.remove(T::AccountByLogin, b"jdupont".to_vec());
        commit(&store, &w).unwrap();
        assert!(!e.contains(T::Accounts, b"acc-1").unwrap());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_starting_together_migrate_once_and_a_newer_schema_is_refused() {
    let Some(cluster) = Cluster::start("nodes_starting_together_migrate_once") else {
        return;
    };
    let url = cluster.database().await;
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgEngine_connect(&url))
        })
        .collect();
    for s in starts {
        assert_eq!(s.join().unwrap(), Ok(1));
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let rows = client
        .query("SELECT version FROM apex_schema", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one schema row");
    client
        .batch_execute("UPDATE apex_schema SET version = 99")
        .await
        .unwrap();
    let refused = tokio::task::spawn_blocking(move || PgEngine_connect(&url))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        refused.contains("version 99, newer than this apex-idp knows"),
        "{refused}"
    );
}

/// Connects an engine; the schema version it found, or why it failed.
#[allow(non_snake_case)]
fn PgEngine_connect(url: &str) -> Result<u32, String> {
    let engine = apex_idp::store::PgEngine::connect(&PgSettings {
        url: url.to_owned(),
        pool_size: 2,
    })
    .map_err(|e| e.to_string())?;
    engine.schema_version().map_err(|e| e.to_string())
}

#[tokio::test(flavor = "multi_thread")]
async fn writers_of_two_nodes_take_turns_and_each_sees_what_the_other_wrote() {
    let Some(cluster) = Cluster::start("writers_of_two_nodes_take_turns") else {
        return;
    };
    let url = cluster.database().await;
    tokio::task::spawn_blocking(move || {
        let a = Arc::new(pg(&url));
        let b = Arc::new(pg(&url));
        let put = |store: &Store, n: u32| {
            let mut w = WriteSet::new();
            w.put(
                T::Accounts,
                b"acc-1".to_vec(),
                &serde_json::json!({ "n": n }),
            );
            commit(store, &w).unwrap();
        };
        let read = |store: &Store| -> serde_json::Value {
            (*store
                .get_shared::<serde_json::Value>(T::Accounts, b"acc-1")
                .unwrap()
                .unwrap())
            .clone()
        };
        put(&a, 1);
        // B reads (and caches) it; A changes it; after its sync B reads the change.
        assert_eq!(read(&b)["n"], 1);
        put(&a, 2);
        b.sync().unwrap();
        assert_eq!(read(&b)["n"], 2);
        // B's writer turn waits for A's: what A's operation read stays true until A
        // commits, on every node.
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let a_lock = a.lock().unwrap();
        let waiting = {
            let (b, order) = (Arc::clone(&b), Arc::clone(&order));
            std::thread::spawn(move || {
                let lock = b.lock().unwrap();
                order.lock().unwrap().push("b locked");
                // Under its turn, B sees A's last commit without any sync of its own.
                let n = b
                    .get_shared::<serde_json::Value>(T::Accounts, b"acc-1")
                    .unwrap()
                    .unwrap()["n"]
                    .clone();
                drop(lock);
                n
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(order.lock().unwrap().is_empty(), "B took a turn A holds");
        let mut w = WriteSet::new();
        w.put(
            T::Accounts,
            b"acc-1".to_vec(),
            &serde_json::json!({ "n": 3 }),
        );
        a.commit(&a_lock, &w).unwrap();
        drop(a_lock);
        assert_eq!(waiting.join().unwrap(), 3);
        assert_eq!(*order.lock().unwrap(), vec!["b locked"]);
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn one_node_at_a_time_leads_the_housekeeping() {
    let Some(cluster) = Cluster::start("one_node_at_a_time_leads_the_housekeeping") else {
        return;
    };
    let url = cluster.database().await;
    tokio::task::spawn_blocking(move || {
        let (a, b) = (pg(&url), pg(&url));
        let lead = a.lead("housekeeping").unwrap();
        assert!(lead.is_some());
        assert!(b.lead("housekeeping").unwrap().is_none(), "two leaders");
        assert!(b.lead("another task").unwrap().is_some(), "tasks are apart");
        drop(lead);
        // The lead is released on the engine's runtime: B takes it within a few tries.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut taken = None;
        while taken.is_none() && std::time::Instant::now() < deadline {
            taken = b.lead("housekeeping").unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(taken.is_some(), "the lead was never released");
        // With sled, the one process always leads.
        let dir = tempfile::tempdir().unwrap();
        let alone = Store::open(&dir.path().join("data")).unwrap();
        assert!(alone.lead("housekeeping").unwrap().is_some());
        assert!(alone.lead("housekeeping").unwrap().is_some());
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_node_that_missed_a_trimmed_feed_drops_its_whole_cache() {
    let Some(cluster) = Cluster::start("a_node_that_missed_a_trimmed_feed_drops_its_whole_cache")
    else {
        return;
    };
    let url = cluster.database().await;
    tokio::task::spawn_blocking(move || {
        let (a, b) = (pg(&url), pg(&url));
        let put = |store: &Store, key: &[u8], n: u32| {
            let mut w = WriteSet::new();
            w.put(T::Accounts, key.to_vec(), &serde_json::json!({ "n": n }));
            commit(store, &w).unwrap();
        };
        let read = |store: &Store, key: &[u8]| -> serde_json::Value {
            store
                .get_shared::<serde_json::Value>(T::Accounts, key)
                .unwrap()
                .unwrap()["n"]
                .clone()
        };
        put(&a, b"acc-1", 1);
        b.sync().unwrap();
        assert_eq!(read(&b, b"acc-1"), 1, "cached on B");
        put(&a, b"acc-1", 2);
        put(&a, b"acc-2", 1);
        // The feed forgets what B has not read yet, but the last commit.
        assert_eq!(a.trim_changes(0).unwrap(), 2);
        assert_eq!(a.trim_changes(0).unwrap(), 0, "the last commit stays");
        b.sync().unwrap();
        assert_eq!(read(&b, b"acc-1"), 2, "B dropped its whole cache");
        // The sequence goes on from the last commit: B follows the next ones as before.
        put(&a, b"acc-1", 3);
        b.sync().unwrap();
        assert_eq!(read(&b, b"acc-1"), 3);
    })
    .await
    .unwrap();
}

//! The shared engine: PostgreSQL, for several nodes serving one directory. One table
//! `apex_<name>` of `(key bytea primary key, value bytea)` per table of the store, the
//! faces' state in `apex_face_state`, ids from a sequence, and a change feed
//! (`apex_changes`) that tells every node what the others wrote. The schema is in
//! `schema/postgres/`, applied at start under an advisory lock.
//!
//! The store calls its engine synchronously. The engine runs its own small tokio
//! runtime, which owns the connection pool: a call hands its query to that runtime and
//! waits for the answer, so it works the same from a plain thread and from a task of
//! the server's runtime (which it blocks for one round trip, as a disk read would).
//!
//! Writers of every node take turns under one advisory lock, held by a transaction
//! ([`Engine::lock_writers`]): what an operation reads under it stays true until its
//! commit, on every node, exactly as under the single process's lock.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio::runtime::Runtime;
use tokio_postgres::types::ToSql;

use super::engine::{Change, EachRaw, Engine, Feed, Keys, Lead, SharedWriter};
use super::table::{EachEntry, StateError, StateTable};
use super::{RawEntry, StoreError, T, WriteSet};

/// The numbered migrations of `schema/postgres/`, in order: `MIGRATIONS[n]` takes the
/// schema from version `n` to `n + 1`.
const MIGRATIONS: &[(&str, &str)] = &[(
    "0001_tables.sql",
    include_str!("../../schema/postgres/0001_tables.sql"),
)];

/// The advisory lock under which a node migrates the schema.
const MIGRATION_LOCK: i64 = 0x61_70_65_78_00_00_00_01;
/// The advisory lock under which writers of every node take turns.
const WRITER_LOCK: i64 = 0x61_70_65_78_00_00_00_02;

/// Keys read per round trip by a lazy walk.
const PAGE: i64 = 1_000;

/// How long a call waits for a connection, and a connection for the server, before it
/// fails with "database unavailable".
const WAIT: Duration = Duration::from_secs(5);

/// Where and how to reach the database (`[store]`).
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// A `postgres://` URL (or key=value connection string).
    pub url: String,
    /// Connections kept open at most.
    pub pool_size: usize,
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> StoreError {
        match e.as_db_error() {
            Some(db) if server_unavailable(db.code()) => {
                StoreError::Unavailable(format!("postgresql: {}", db.message()))
            }
            Some(db) => StoreError::Engine(format!("postgresql: {}", db.message())),
            None => StoreError::Unavailable(format!("postgresql: {e}")),
        }
    }
}

/// Whether an error the server reports says that it is going away or cannot serve now
/// (stopping, restarting, out of connections, a standby after a failover), rather than
/// that the statement is wrong: the server rolled the transaction back, and a retry
/// later may succeed.
fn server_unavailable(code: &tokio_postgres::error::SqlState) -> bool {
    use tokio_postgres::error::SqlState;
    let class = code.code().get(..2);
    class == Some("08")
        || class == Some("53")
        || [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ]
        .contains(code)
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> StoreError {
        StoreError::Unavailable(format!("postgresql: {e}"))
    }
}

/// The PostgreSQL engine.
pub struct PgEngine {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Option<Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // A runtime may not be dropped from a task: let its threads end by themselves.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Inner {
    /// Runs `work` with a connection of the pool on the engine's runtime and waits for
    /// its answer.
    fn run<V, F, W>(&self, work: W) -> Result<V, StoreError>
    where
        V: Send + 'static,
        F: Future<Output = Result<V, StoreError>> + Send + 'static,
        W: FnOnce(Object) -> F + Send + 'static,
    {
        let pool = self.pool.clone();
        self.spawn_wait(async move { work(pool.get().await?).await })
    }

    fn spawn_wait<V, F>(&self, work: F) -> Result<V, StoreError>
    where
        V: Send + 'static,
        F: Future<Output = Result<V, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(work.await);
        });
        rx.recv()
            .map_err(|_| StoreError::Unavailable("postgresql: the engine stopped".into()))?
    }
}

/// The table's name in the database.
fn table_of(t: T) -> String {
    format!("apex_{}", t.name())
}

/// The smallest key greater than every key that starts with `prefix`, if any.
fn after_prefix(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Rows of `sql` with a prefix bound pair appended to `params` as `$n`, `$n+1`.
async fn with_prefix_rows(
    client: &Object,
    table: &str,
    columns: &str,
    prefix: Vec<u8>,
    from: Option<Vec<u8>>,
    limit: Option<i64>,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let start = match from {
        Some(f) if f > prefix => f,
        _ => prefix.clone(),
    };
    let strict = start != prefix;
    let end = after_prefix(&prefix);
    let op = if strict { ">" } else { ">=" };
    let mut sql = format!("SELECT {columns} FROM {table} WHERE key {op} $1");
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(start)];
    if let Some(end) = end {
        sql.push_str(" AND key < $2");
        params.push(Box::new(end));
    }
    sql.push_str(" ORDER BY key");
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let stmt = client.prepare_cached(&sql).await?;
    Ok(client.query(&stmt, &refs).await?)
}

impl PgEngine {
    /// Connects to the database, checks the schema and migrates it (once, whichever
    /// node starts first).
    pub fn connect(settings: &PgSettings) -> Result<PgEngine, StoreError> {
        let config: tokio_postgres::Config = settings
            .url
            .parse()
            .map_err(|e| StoreError::Engine(format!("store.url: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("apex-postgres")
            .enable_all()
            .build()?;
        let handle = runtime.handle().clone();
        let tls = tls_connector();
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = handle.enter();
            Pool::builder(manager)
                .max_size(settings.pool_size.max(2))
                .wait_timeout(Some(WAIT))
                .create_timeout(Some(WAIT))
                .recycle_timeout(Some(WAIT))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| StoreError::Engine(format!("postgresql pool: {e}")))?
        };
        let inner = Arc::new(Inner {
            runtime: Some(runtime),
            handle,
            pool,
        });
        inner.run(|client| async move { migrate(client).await })?;
        Ok(PgEngine { inner })
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        self.inner.run(|client| async move {
            let row = client
                .query_one("SELECT version FROM apex_schema", &[])
                .await?;
            Ok(u32::try_from(row.get::<_, i32>(0)).unwrap_or(0))
        })
    }

    fn named_table(name: &str) -> NamedTable {
        match T::ALL.iter().find(|t| t.name() == name) {
            Some(t) => NamedTable::Store(table_of(*t)),
            None => NamedTable::Face(name.strip_prefix("face_").unwrap_or(name).to_owned()),
        }
    }
}

/// A table named by a backup: one of the store's, or one of the faces'.
#[derive(Clone)]
enum NamedTable {
    Store(String),
    Face(String),
}

/// Calls `each` with every entry of `table`, in key order, a page per round trip (the
/// next page starts past the last key read, through the primary key's index).
fn walk_table(inner: &Inner, table: &NamedTable, each: &mut EachRaw<'_>) -> Result<(), StoreError> {
    let mut after: Option<Vec<u8>> = None;
    loop {
        let (table, from) = (table.clone(), after.clone());
        let rows: Vec<RawEntry> = inner.run(move |client| async move {
            let (source, mut params): (String, Vec<Box<dyn ToSql + Sync + Send>>) = match table {
                NamedTable::Store(t) => (format!("{t} WHERE true"), Vec::new()),
                NamedTable::Face(name) => (
                    "apex_face_state WHERE tbl = $1".to_owned(),
                    vec![Box::new(name)],
                ),
            };
            let past = match from {
                Some(key) => {
                    params.push(Box::new(key));
                    format!(" AND key > ${}", params.len())
                }
                None => String::new(),
            };
            let sql = format!("SELECT key, value FROM {source}{past} ORDER BY key LIMIT {PAGE}");
            let refs: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn ToSql + Sync))
                .collect();
            let rows = client.query(&sql, &refs).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })?;
        let Some((last, _)) = rows.last() else {
            return Ok(());
        };
        after = Some(last.clone());
        for (k, v) in &rows {
            each(k, v)?;
        }
    }
}

/// TLS on rustls (ring), verifying the server against the web's roots; used when the
/// URL asks for it (`sslmode=require`; `prefer`, the default, uses it when the server
/// offers it).
fn tls_connector() -> tokio_postgres_rustls::MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    match config {
        Ok(config) => tokio_postgres_rustls::MakeRustlsConnect::new(config),
        // The ring provider supports the default versions; keep a connector that
        // trusts nothing rather than panic.
        Err(_) => tokio_postgres_rustls::MakeRustlsConnect::new(
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
        ),
    }
}

/// Applies the migrations the database lacks, under the migration lock; refuses a
/// schema newer than this build knows.
async fn migrate(client: Object) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let outcome = migrate_locked(&client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    outcome?;
    unlocked?;
    Ok(())
}

async fn migrate_locked(client: &Object) -> Result<(), StoreError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS apex_schema (version integer NOT NULL)")
        .await?;
    let found = client
        .query_opt("SELECT version FROM apex_schema", &[])
        .await?
        .map(|row| row.get::<_, i32>(0));
    let found = match found {
        Some(v) => usize::try_from(v).unwrap_or(0),
        None => {
            client
                .execute("INSERT INTO apex_schema (version) VALUES (0)", &[])
                .await?;
            0
        }
    };
    if found > MIGRATIONS.len() {
        return Err(StoreError::Engine(format!(
            "the database's schema is version {found}, newer than this apex-idp knows ({}); upgrade apex-idp",
            MIGRATIONS.len()
        )));
    }
    for (number, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found) {
        let version = i32::try_from(number + 1).unwrap_or(i32::MAX);
        let script = format!("BEGIN;\n{sql}\nUPDATE apex_schema SET version = {version};\nCOMMIT;");
        if let Err(e) = client.batch_execute(&script).await {
            let _ = client.batch_execute("ROLLBACK").await;
            return Err(StoreError::Engine(format!(
                "schema/postgres/{name}: {}",
                e.as_db_error()
                    .map(|d| d.message().to_owned())
                    .unwrap_or_else(|| e.to_string())
            )));
        }
        tracing::info!(migration = name, version, "postgresql schema migrated");
    }
    Ok(())
}

/// What a write set leaves in one table: the keys it removes, the keys it writes and
/// their values.
#[derive(Debug, Default, PartialEq, Eq)]
struct TableWrites {
    removed: Vec<Vec<u8>>,
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
}

/// The last write of each key of a write set, grouped by table: what the set leaves.
fn final_writes(writes: &WriteSet) -> Vec<(T, TableWrites)> {
    let mut last: std::collections::BTreeMap<(T, &[u8]), Option<&[u8]>> =
        std::collections::BTreeMap::new();
    for (t, key, value) in writes.iter() {
        last.insert((*t, key.as_slice()), value.as_deref());
    }
    let mut out: Vec<(T, TableWrites)> = Vec::new();
    for ((t, key), value) in last {
        if out.last().map(|(lt, _)| *lt) != Some(t) {
            out.push((t, TableWrites::default()));
        }
        if let Some((_, w)) = out.last_mut() {
            match value {
                Some(v) => {
                    w.keys.push(key.to_vec());
                    w.values.push(v.to_vec());
                }
                None => w.removed.push(key.to_vec()),
            }
        }
    }
    out
}

/// Applies a write set inside the transaction `client` has open.
async fn apply(client: &Object, writes: &WriteSet) -> Result<(), StoreError> {
    for (
        t,
        TableWrites {
            removed,
            keys,
            values,
        },
    ) in final_writes(writes)
    {
        let table = table_of(t);
        if !removed.is_empty() {
            let stmt = client
                .prepare_cached(&format!("DELETE FROM {table} WHERE key = ANY($1)"))
                .await?;
            client.execute(&stmt, &[&removed]).await?;
        }
        if !keys.is_empty() {
            let stmt = client
                .prepare_cached(&format!(
                    "INSERT INTO {table} (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                     ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                ))
                .await?;
            client.execute(&stmt, &[&keys, &values]).await?;
        }
    }
    Ok(())
}

/// Runs `work` in a transaction of its own.
async fn in_transaction(client: &Object, writes: &WriteSet) -> Result<(), StoreError> {
    client.batch_execute("BEGIN").await?;
    match apply(client, writes).await {
        Ok(()) => {
            client.batch_execute("COMMIT").await?;
            Ok(())
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK").await;
            Err(e)
        }
    }
}

/// The writers' turn: a connection whose open transaction holds the writer lock. A
/// commit ends the turn; a further commit under the same guard (a bulk load) waits for
/// the next turn first.
struct PgWriter {
    inner: Arc<Inner>,
    client: Option<Object>,
    open: bool,
}

async fn begin_turn(client: &Object) -> Result<(), StoreError> {
    client.batch_execute("BEGIN").await?;
    client
        .execute("SELECT pg_advisory_xact_lock($1)", &[&WRITER_LOCK])
        .await?;
    Ok(())
}

/// Applies the writes and their change row, then commits: the end of the turn.
async fn commit_turn(
    client: &Object,
    writes: &WriteSet,
    changes: &(Vec<i16>, Vec<Vec<u8>>),
) -> Result<(), StoreError> {
    apply(client, writes).await?;
    let row = client
        .query_one(
            "INSERT INTO apex_changes (seq, tables, keys) \
             SELECT coalesce(max(seq), 0) + 1, $1, $2 FROM apex_changes RETURNING seq",
            &[&changes.0, &changes.1],
        )
        .await?;
    let seq: i64 = row.get(0);
    client
        .execute("SELECT pg_notify('apex_changes', $1)", &[&seq.to_string()])
        .await?;
    client.batch_execute("COMMIT").await?;
    Ok(())
}

impl SharedWriter for PgWriter {
    fn commit(&mut self, writes: &WriteSet) -> Result<(), StoreError> {
        let client = self.client.take().ok_or_else(|| {
            StoreError::Unavailable("postgresql: the writer's turn was lost".into())
        })?;
        let changes: (Vec<i16>, Vec<Vec<u8>>) = writes
            .iter()
            .map(|(t, key, _)| (i16::try_from(t.index()).unwrap_or(-1), key.clone()))
            .unzip();
        let writes = writes.clone();
        let open = self.open;
        self.open = false;
        let client = self.inner.spawn_wait(async move {
            let outcome = async {
                if !open {
                    begin_turn(&client).await?;
                }
                commit_turn(&client, &writes, &changes).await
            }
            .await;
            match outcome {
                Ok(()) => Ok(client),
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(e)
                }
            }
        })?;
        self.client = Some(client);
        Ok(())
    }
}

impl Drop for PgWriter {
    fn drop(&mut self) {
        if let Some(client) = self.client.take()
            && self.open
        {
            // Ends the turn; the connection goes back to the pool without a transaction.
            self.inner.handle.spawn(async move {
                let _ = client.batch_execute("ROLLBACK").await;
            });
        }
    }
}

impl Engine for PgEngine {
    fn get(&self, table: T, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_vec();
        self.inner.run(move |client| async move {
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT value FROM {} WHERE key = $1",
                    table_of(table)
                ))
                .await?;
            Ok(client.query_opt(&stmt, &[&key]).await?.map(|r| r.get(0)))
        })
    }

    fn contains(&self, table: T, key: &[u8]) -> Result<bool, StoreError> {
        let key = key.to_vec();
        self.inner.run(move |client| async move {
            let stmt = client
                .prepare_cached(&format!("SELECT 1 FROM {} WHERE key = $1", table_of(table)))
                .await?;
            Ok(client.query_opt(&stmt, &[&key]).await?.is_some())
        })
    }

    fn keys_with_prefix<'a>(&'a self, table: T, prefix: &[u8]) -> Keys<'a> {
        Box::new(PrefixKeys {
            inner: Arc::clone(&self.inner),
            table: table_of(table),
            prefix: prefix.to_vec(),
            after: None,
            page: std::collections::VecDeque::new(),
            done: false,
        })
    }

    fn with_prefix(&self, table: T, prefix: &[u8]) -> Result<Vec<RawEntry>, StoreError> {
        let prefix = prefix.to_vec();
        self.inner.run(move |client| async move {
            let rows =
                with_prefix_rows(&client, &table_of(table), "key, value", prefix, None, None)
                    .await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn range(&self, table: T, from: &[u8], max: usize) -> Result<Vec<RawEntry>, StoreError> {
        let from = from.to_vec();
        let max = i64::try_from(max).unwrap_or(i64::MAX);
        self.inner.run(move |client| async move {
            let stmt = client
                .prepare_cached(&format!(
                    "SELECT key, value FROM {} WHERE key >= $1 ORDER BY key LIMIT $2",
                    table_of(table)
                ))
                .await?;
            let rows = client.query(&stmt, &[&from, &max]).await?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    }

    fn len(&self, table: T) -> usize {
        self.inner
            .run(move |client| async move {
                let row = client
                    .query_one(&format!("SELECT count(*) FROM {}", table_of(table)), &[])
                    .await?;
                Ok(usize::try_from(row.get::<_, i64>(0)).unwrap_or(0))
            })
            .unwrap_or(0)
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        let writes = writes.clone();
        self.inner
            .run(move |client| async move { in_transaction(&client, &writes).await })
    }

    fn flush(&self) -> Result<(), StoreError> {
        // A commit is durable when PostgreSQL acknowledges it.
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        self.inner.run(|client| async move {
            let row = client.query_one("SELECT nextval('apex_ids')", &[]).await?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    fn ids_after(&self, floor: u64) -> Result<(), StoreError> {
        let floor = i64::try_from(floor).unwrap_or(i64::MAX);
        self.inner.run(move |client| async move {
            client
                .query_one(
                    "SELECT setval('apex_ids', GREATEST($1, (SELECT last_value FROM apex_ids)))",
                    &[&floor],
                )
                .await?;
            Ok(())
        })
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.inner.run(|client| async move {
            let row = client
                .query_one("SELECT pg_database_size(current_database())", &[])
                .await?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    fn state_table(&self, name: &str) -> Result<Arc<dyn StateTable>, StoreError> {
        Ok(Arc::new(PgTable {
            inner: Arc::clone(&self.inner),
            name: name.to_owned(),
        }))
    }

    fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let mut names: Vec<String> = T::ALL.iter().map(|t| t.name().to_owned()).collect();
        let faces = self.inner.run(|client| async move {
            let rows = client
                .query("SELECT DISTINCT tbl FROM apex_face_state ORDER BY tbl", &[])
                .await?;
            Ok(rows
                .iter()
                .map(|r| format!("face_{}", r.get::<_, String>(0)))
                .collect::<Vec<_>>())
        })?;
        names.extend(faces);
        Ok(names)
    }

    fn named_len(&self, name: &str) -> Result<u64, StoreError> {
        let named = Self::named_table(name);
        self.inner.run(move |client| async move {
            let row = match named {
                NamedTable::Store(table) => {
                    client
                        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
                        .await?
                }
                NamedTable::Face(tbl) => {
                    client
                        .query_one(
                            "SELECT count(*) FROM apex_face_state WHERE tbl = $1",
                            &[&tbl],
                        )
                        .await?
                }
            };
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    fn walk_named(&self, name: &str, each: &mut EachRaw<'_>) -> Result<(), StoreError> {
        walk_table(&self.inner, &Self::named_table(name), each)
    }

    fn load_named(&self, name: &str, entries: Vec<RawEntry>) -> Result<(), StoreError> {
        let named = Self::named_table(name);
        self.inner.run(move |client| async move {
            let (keys, values): (Vec<Vec<u8>>, Vec<Vec<u8>>) = entries.into_iter().unzip();
            client.batch_execute("BEGIN; SET CONSTRAINTS ALL DEFERRED").await?;
            let loaded = match named {
                NamedTable::Store(table) => {
                    client
                        .execute(
                            &format!(
                                "INSERT INTO {table} (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
                            ),
                            &[&keys, &values],
                        )
                        .await
                }
                NamedTable::Face(tbl) => {
                    client
                        .execute(
                            "INSERT INTO apex_face_state (tbl, key, value) \
                             SELECT $3, k, v FROM unnest($1::bytea[], $2::bytea[]) AS u(k, v) \
                             ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value",
                            &[&keys, &values, &tbl],
                        )
                        .await
                }
            };
            match loaded {
                Ok(_) => {
                    client.batch_execute("COMMIT").await?;
                    Ok(())
                }
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    Err(e.into())
                }
            }
        })
    }

    fn clear_named(&self, name: &str) -> Result<(), StoreError> {
        let named = Self::named_table(name);
        self.inner.run(move |client| async move {
            match named {
                NamedTable::Store(table) => {
                    client.execute(&format!("DELETE FROM {table}"), &[]).await?
                }
                NamedTable::Face(tbl) => {
                    client
                        .execute("DELETE FROM apex_face_state WHERE tbl = $1", &[&tbl])
                        .await?
                }
            };
            Ok(())
        })
    }

    fn lock_writers(&self) -> Result<Option<Box<dyn SharedWriter>>, StoreError> {
        let client = self.inner.run(|client| async move {
            if let Err(e) = begin_turn(&client).await {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(e);
            }
            Ok(client)
        })?;
        Ok(Some(Box::new(PgWriter {
            inner: Arc::clone(&self.inner),
            client: Some(client),
            open: true,
        })))
    }

    fn changes_since(&self, seq: u64) -> Result<Feed, StoreError> {
        let from = i64::try_from(seq).unwrap_or(i64::MAX);
        self.inner.run(move |client| async move {
            let stmt = client
                .prepare_cached(
                    "SELECT seq, tables, keys, (SELECT min(seq) FROM apex_changes) FROM apex_changes \
                     WHERE seq > $1 ORDER BY seq",
                )
                .await?;
            let rows = client.query(&stmt, &[&from]).await?;
            let Some(first) = rows.first() else {
                return Ok(Feed::Changes(Vec::new()));
            };
            let oldest: Option<i64> = first.get(3);
            if from > 0 && oldest.is_some_and(|o| o > from + 1) {
                let last: i64 = rows.last().map(|r| r.get(0)).unwrap_or(from);
                return Ok(Feed::Gap(u64::try_from(last).unwrap_or(0)));
            }
            let mut changes = Vec::with_capacity(rows.len());
            for row in &rows {
                let tables: Vec<i16> = row.get(1);
                let keys: Vec<Vec<u8>> = row.get(2);
                changes.push(Change {
                    seq: u64::try_from(row.get::<_, i64>(0)).unwrap_or(0),
                    keys: tables
                        .into_iter()
                        .zip(keys)
                        .filter_map(|(t, k)| {
                            let t = T::ALL.get(usize::try_from(t).ok()?)?;
                            Some((*t, k))
                        })
                        .collect(),
                });
            }
            Ok(Feed::Changes(changes))
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn last_change(&self) -> Result<u64, StoreError> {
        self.inner.run(|client| async move {
            let row = client
                .query_one("SELECT coalesce(max(seq), 0) FROM apex_changes", &[])
                .await?;
            Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
        })
    }

    fn trim_changes(&self, seconds: u64) -> Result<u64, StoreError> {
        let seconds = f64::from(u32::try_from(seconds).unwrap_or(u32::MAX));
        self.inner.run(move |client| async move {
            Ok(client
                .execute(
                    "DELETE FROM apex_changes WHERE at < now() - make_interval(secs => $1) \
                     AND seq < (SELECT max(seq) FROM apex_changes)",
                    &[&seconds],
                )
                .await?)
        })
    }

    fn lead(&self, task: &str) -> Result<Option<Lead>, StoreError> {
        let key = lead_key(task);
        let held = self.inner.run(move |client| async move {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?;
            Ok(row.get::<_, bool>(0).then_some(client))
        })?;
        Ok(held.map(|client| {
            Lead::holding(Box::new(PgLead {
                handle: self.inner.handle.clone(),
                client: Some(client),
                key,
            }))
        }))
    }
}

/// The advisory lock of a task led by one node at a time: a fixed prefix and the
/// task's name hashed (FNV-1a), apart from the migration and writer locks.
fn lead_key(task: &str) -> i64 {
    let hash = task.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    i64::from_be_bytes(*b"apexL\0\0\0") | i64::from(hash as u16)
}

/// A lead held by a connection's session lock; released when dropped (or when the
/// connection dies, and another node takes the lead).
struct PgLead {
    handle: tokio::runtime::Handle,
    client: Option<Object>,
    key: i64,
}

impl Drop for PgLead {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let key = self.key;
            self.handle.spawn(async move {
                let _ = client
                    .execute("SELECT pg_advisory_unlock($1)", &[&key])
                    .await;
            });
        }
    }
}

/// The keys under a prefix, read a page at a time.
struct PrefixKeys {
    inner: Arc<Inner>,
    table: String,
    prefix: Vec<u8>,
    after: Option<Vec<u8>>,
    page: std::collections::VecDeque<Vec<u8>>,
    done: bool,
}

impl Iterator for PrefixKeys {
    type Item = Result<Vec<u8>, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.is_empty() && !self.done {
            let (table, prefix, after) =
                (self.table.clone(), self.prefix.clone(), self.after.clone());
            let fetched = self.inner.run(move |client| async move {
                let rows =
                    with_prefix_rows(&client, &table, "key", prefix, after, Some(PAGE)).await?;
                Ok(rows
                    .iter()
                    .map(|r| r.get::<_, Vec<u8>>(0))
                    .collect::<Vec<_>>())
            });
            match fetched {
                Ok(keys) => {
                    self.done = keys.len() < usize::try_from(PAGE).unwrap_or(usize::MAX);
                    self.after = keys.last().cloned().or(self.after.take());
                    self.page.extend(keys);
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        self.page.pop_front().map(Ok)
    }
}

/// One table of the faces' state: rows of `apex_face_state` under its name.
struct PgTable {
    inner: Arc<Inner>,
    name: String,
}

impl StateTable for PgTable {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let (name, key) = (self.name.clone(), key.to_vec());
        Ok(self.inner.run(move |client| async move {
            let stmt = client
                .prepare_cached("SELECT value FROM apex_face_state WHERE tbl = $1 AND key = $2")
                .await?;
            Ok(client
                .query_opt(&stmt, &[&name, &key])
                .await?
                .map(|r| r.get(0)))
        })?)
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), StateError> {
        let (name, key) = (self.name.clone(), key.to_vec());
        Ok(self.inner.run(move |client| async move {
            let stmt = client
                .prepare_cached(
                    "INSERT INTO apex_face_state (tbl, key, value) VALUES ($1, $2, $3) \
                     ON CONFLICT (tbl, key) DO UPDATE SET value = EXCLUDED.value",
                )
                .await?;
            client.execute(&stmt, &[&name, &key, &value]).await?;
            Ok(())
        })?)
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, StateError> {
        let (name, key, old) = (self.name.clone(), key.to_vec(), old.map(<[u8]>::to_vec));
        Ok(self.inner.run(move |client| async move {
            let changed = match (old, new) {
                (None, None) => {
                    let stmt = client
                        .prepare_cached("SELECT 1 FROM apex_face_state WHERE tbl = $1 AND key = $2")
                        .await?;
                    u64::from(client.query_opt(&stmt, &[&name, &key]).await?.is_none())
                }
                (None, Some(new)) => {
                    let stmt = client
                        .prepare_cached(
                            "INSERT INTO apex_face_state (tbl, key, value) VALUES ($1, $2, $3) \
                             ON CONFLICT (tbl, key) DO NOTHING",
                        )
                        .await?;
                    client.execute(&stmt, &[&name, &key, &new]).await?
                }
                (Some(old), None) => {
                    let stmt = client
                        .prepare_cached(
                            "DELETE FROM apex_face_state WHERE tbl = $1 AND key = $2 AND value = $3",
                        )
                        .await?;
                    client.execute(&stmt, &[&name, &key, &old]).await?
                }
                (Some(old), Some(new)) => {
                    let stmt = client
                        .prepare_cached(
                            "UPDATE apex_face_state SET value = $4 WHERE tbl = $1 AND key = $2 AND value = $3",
                        )
                        .await?;
                    client.execute(&stmt, &[&name, &key, &old, &new]).await?
                }
            };
            Ok(changed == 1)
        })?)
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let (name, key) = (self.name.clone(), key.to_vec());
        Ok(self.inner.run(move |client| async move {
            let stmt = client
                .prepare_cached(
                    "DELETE FROM apex_face_state WHERE tbl = $1 AND key = $2 RETURNING value",
                )
                .await?;
            Ok(client
                .query_opt(&stmt, &[&name, &key])
                .await?
                .map(|r| r.get(0)))
        })?)
    }

    fn for_each(&self, each: &mut EachEntry<'_>) -> Result<(), StateError> {
        let mut failed: Option<StateError> = None;
        let outcome = self.walk(&mut |k, v| match each(k, v) {
            Ok(()) => Ok(()),
            Err(e) => {
                failed = Some(e);
                Err(StoreError::Engine("stopped".into()))
            }
        });
        match (failed, outcome) {
            (Some(e), _) => Err(e),
            (None, r) => Ok(r?),
        }
    }

    fn flush(&self) -> Result<(), StateError> {
        Ok(())
    }
}

impl PgTable {
    fn walk(&self, each: &mut EachRaw<'_>) -> Result<(), StoreError> {
        walk_table(&self.inner, &NamedTable::Face(self.name.clone()), each)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_going_away_is_unavailable_and_a_refused_statement_is_not() {
        use tokio_postgres::error::SqlState;
        for gone in [
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::CONNECTION_FAILURE,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::READ_ONLY_SQL_TRANSACTION,
        ] {
            assert!(server_unavailable(&gone), "{gone:?}");
        }
        for refused in [
            SqlState::UNIQUE_VIOLATION,
            SqlState::FOREIGN_KEY_VIOLATION,
            SqlState::SYNTAX_ERROR,
            SqlState::UNDEFINED_TABLE,
        ] {
            assert!(!server_unavailable(&refused), "{refused:?}");
        }
    }

    #[test]
    fn the_bound_after_a_prefix_is_its_successor() {
        assert_eq!(after_prefix(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(after_prefix(&[0x61, 0xff]), Some(vec![0x62]));
        assert_eq!(after_prefix(&[0xff, 0xff]), None);
        assert_eq!(after_prefix(b""), None);
    }

    #[test]
    fn a_write_set_leaves_the_last_write_of_each_key() {
        let mut w = WriteSet::new();
        w.put_raw(T::Accounts, b"a".to_vec(), b"1".to_vec());
        w.remove(T::Accounts, b"a".to_vec());
        w.put_raw(T::Accounts, b"b".to_vec(), b"2".to_vec());
        w.remove(T::Structures, b"s".to_vec());
        w.put_raw(T::Structures, b"s".to_vec(), b"3".to_vec());
        let out = final_writes(&w);
        assert_eq!(out.len(), 2);
        let of = |table: T| out.iter().find(|(t, _)| *t == table).map(|(_, w)| w);
        assert_eq!(
            of(T::Accounts),
            Some(&TableWrites {
                removed: vec![b"a".to_vec()],
                keys: vec![b"b".to_vec()],
                values: vec![b"2".to_vec()],
            })
        );
        assert_eq!(
            of(T::Structures),
            Some(&TableWrites {
                removed: vec![],
                keys: vec![b"s".to_vec()],
                values: vec![b"3".to_vec()],
            })
        );
    }
}

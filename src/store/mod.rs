//! The store: one table per entity, secondary indexes, atomic write sets, a checked
//! format version, over a storage [`Engine`] (sled by default, in `store::sled_engine`). It
//! knows bytes and keys, not rules.

mod backup;
mod cache;
pub mod engine;
mod index;
mod pg_engine;
pub mod private;
mod sled_engine;
pub mod table;
mod writeset;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use backup::{BackupSummary, backup_to, restore_from};
pub use engine::{Engine, Feed};
pub use index::{account_keys, service_keys, structure_keys};
pub use pg_engine::{PgEngine, PgSettings};
pub use sled_engine::SledEngine;
pub use writeset::WriteSet;

/// The store format this build writes. Older formats are migrated at open.
pub const FORMAT_VERSION: u32 = 1;

/// Decoded accounts, structures and services kept in memory, at most this many of
/// each (a few hundred bytes each): the working set of the LDAP face, the API and the
/// issuer. At 200,000 accounts, 262,144 holds them all for about 130 MiB more than
/// 65,536 did, and LDAP searches drawn uniformly over every reader-visible person
/// run 1.2× (equality) to 2× (a whole structure) faster per CPU-second (README).
const CACHED_VALUES: usize = 262_144;

/// Key of the format version in the meta tree.
const FORMAT_KEY: &[u8] = b"format_version";

/// One migration step, applied at open.
type Migration = fn(&Store) -> Result<(), StoreError>;

/// Numbered migration steps: `MIGRATIONS[n]` upgrades format `n + 1` to `n + 2`.
const MIGRATIONS: &[Migration] = &[];

/// Every tree of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum T {
    /// Format version, audit head, counters.
    Meta,
    /// structure id -> Structure
    Structures,
    /// SIRET -> structure id
    StructureBySiret,
    /// service id -> Service
    Services,
    /// structure id \0 service id -> ()
    ServicesByStructure,
    /// account id -> Account
    Accounts,
    /// login -> account id
    AccountByLogin,
    /// login -> account id, never removed: identifiers are never reused
    LoginsUsed,
    /// e-mail (lower-case) \0 account id -> ()
    AccountsByEmail,
    /// structure id \0 account id -> ()
    AccountsByStructure,
    /// service id \0 account id -> ()
    AccountsByService,
    /// APP:PROFILE \0 account id -> () (habilitations)
    AccountsByProfile,
    /// APP:PROFILE \0 account id -> () (delegations)
    DelegationsByProfile,
    /// state \0 account id -> ()
    AccountsByState,
    /// SHA-256 of a one-time token -> OneTimeToken
    Tokens,
    /// sequence (u64 BE) -> AuditEvent
    Audit,
    /// structure id \0 sequence (u64 BE) -> ()
    AuditByStructure,
    /// sequence (u64 BE) -> QueuedMail
    MailQueue,
    /// SHA-256 of a session token -> Session
    Sessions,
}

impl T {
    /// Every tree, in the order of the write-set views.
    pub const ALL: [T; 19] = [
        T::Meta,
        T::Structures,
        T::StructureBySiret,
        T::Services,
        T::ServicesByStructure,
        T::Accounts,
        T::AccountByLogin,
        T::LoginsUsed,
        T::AccountsByEmail,
        T::AccountsByStructure,
        T::AccountsByService,
        T::AccountsByProfile,
        T::DelegationsByProfile,
        T::AccountsByState,
        T::Tokens,
        T::Audit,
        T::AuditByStructure,
        T::MailQueue,
        T::Sessions,
    ];

    /// The table's name (sled's tree).
    pub fn name(self) -> &'static str {
        match self {
            T::Meta => "meta",
            T::Structures => "structures",
            T::StructureBySiret => "structure_by_siret",
            T::Services => "services",
            T::ServicesByStructure => "services_by_structure",
            T::Accounts => "accounts",
            T::AccountByLogin => "account_by_login",
            T::LoginsUsed => "logins_used",
            T::AccountsByEmail => "accounts_by_email",
            T::AccountsByStructure => "accounts_by_structure",
            T::AccountsByService => "accounts_by_service",
            T::AccountsByProfile => "accounts_by_profile",
            T::DelegationsByProfile => "delegations_by_profile",
            T::AccountsByState => "accounts_by_state",
            T::Tokens => "tokens",
            T::Audit => "audit",
            T::AuditByStructure => "audit_by_structure",
            T::MailQueue => "mail_queue",
            T::Sessions => "sessions",
        }
    }

    pub(crate) fn index(self) -> usize {
        T::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// What can go wrong below the rules.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine failed.
    #[error("store: {0}")]
    Engine(String),
    /// Another process holds the store.
    #[error(
        "the store at {0} is in use by another process (is the server running?); while it runs, take a consistent backup with GET /api/v1/operator/backup"
    )]
    Locked(String),
    /// A value that does not decode.
    #[error("store: corrupt value in {tree}: {message}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// The decoding error.
        message: String,
    },
    /// A format this build does not know.
    #[error(
        "store format {found} is not supported by this apex-idp (it reads formats up to {supported}); upgrade apex-idp"
    )]
    Format {
        /// Found in the store.
        found: u32,
        /// Highest supported.
        supported: u32,
    },
    /// The database cannot be reached (PostgreSQL stopped, network): nothing was
    /// written; retry later.
    #[error("{0} (the database is unavailable)")]
    Unavailable(String),
    /// A non-empty store without a format version.
    #[error("the directory {0} holds data that is not an apex-idp store")]
    NotAStore(String),
    /// Backup or restore input is wrong.
    #[error("{0}")]
    Backup(String),
    /// I/O (the engine's files, backup files).
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The data directory cannot be created or made owner-only.
    #[error("server.data_dir = {dir}: cannot create it owner-only (0700): {source}")]
    CreateDir {
        /// The directory.
        dir: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Where the store keeps its data.
#[derive(Debug, Clone)]
pub enum Backend<'a> {
    /// sled, embedded, in this directory.
    Sled(&'a Path),
    /// PostgreSQL, shared by every node.
    Postgres(PgSettings),
}

/// A key and its value, as stored.
pub type RawEntry = (Vec<u8>, Vec<u8>);

/// The store: the engine's tables plus the single-writer lock.
pub struct Store {
    engine: Arc<dyn Engine>,
    writer: Mutex<()>,
    /// Commits so far; a flush covers every commit counted before it started.
    committed: AtomicU64,
    /// Commits known to be on disk.
    flushed: AtomicU64,
    /// The last commit of the change feed whose keys the caches dropped (shared data).
    seen: AtomicU64,
    /// One flush at a time: sled 0.34's concurrent flushes can deadlock, and a waiting
    /// writer is covered by the next flush anyway (group commit).
    flusher: tokio::sync::Mutex<()>,
    /// Decoded values of the trees read on every request.
    cache: cache::ReadCache,
    /// The data directory, `None` for a temporary store.
    dir: Option<std::path::PathBuf>,
}

/// Proof that the caller holds the single-writer lock (across every process that shares
/// the data, when they do).
pub struct WriteLock<'a> {
    _local: MutexGuard<'a, ()>,
    shared: Mutex<Option<Box<dyn engine::SharedWriter>>>,
}

impl Store {
    /// Opens (or creates) the store in `dir`, checks its format and migrates it.
    ///
    /// `dir` is created 0700 (tightened when looser), and once sled opened it every
    /// directory below is 0700 and every file 0600; what a crash left in its scratch
    /// directory is removed.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        private::create_private_dir(dir).map_err(|source| StoreError::CreateDir {
            dir: dir.display().to_string(),
            source,
        })?;
        let engine = SledEngine::open(dir)?;
        let mut store = Self::over(Arc::new(engine), dir)?;
        store.dir = Some(dir.to_path_buf());
        // Sled's lock is held: no other process uses the scratch directory now.
        let swept = private::sweep_scratch(dir)?;
        if swept > 0 {
            tracing::warn!(swept, "data directory: leftover scratch files removed");
        }
        private::tighten_tree(dir)?;
        Ok(store)
    }

    /// The data directory, `None` for a temporary store.
    pub fn data_dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// Sets the files sled created since the last pass to 0600 (directories 0700).
    pub fn tighten_permissions(&self) -> Result<usize, StoreError> {
        match &self.dir {
            Some(dir) => Ok(private::tighten_tree(dir)?),
            None => Ok(0),
        }
    }

    /// Opens a throw-away store (tests, benchmarks).
    pub fn temporary() -> Result<Store, StoreError> {
        Self::over(Arc::new(SledEngine::temporary()?), Path::new("(temporary)"))
    }

    /// Opens the store the configuration names: sled in `data_dir`, or PostgreSQL.
    pub fn open_backend(backend: &Backend<'_>) -> Result<Store, StoreError> {
        match backend {
            Backend::Sled(dir) => Store::open(dir),
            Backend::Postgres(settings) => {
                let engine = PgEngine::connect(settings)?;
                let store = Self::over(Arc::new(engine), Path::new("(postgresql)"))?;
                // Start past what the feed holds: nothing is cached yet.
                store
                    .seen
                    .store(store.engine.last_change()?, Ordering::SeqCst);
                Ok(store)
            }
        }
    }

    /// The store over an engine: checks its format and migrates it.
    pub fn over(engine: Arc<dyn Engine>, dir: &Path) -> Result<Store, StoreError> {
        let store = Store {
            engine,
            writer: Mutex::new(()),
            committed: AtomicU64::new(0),
            cache: cache::ReadCache::new(CACHED_VALUES),
            flushed: AtomicU64::new(0),
            seen: AtomicU64::new(0),
            flusher: tokio::sync::Mutex::new(()),
            dir: None,
        };
        store.check_format(dir)?;
        Ok(store)
    }

    fn check_format(&self, dir: &Path) -> Result<(), StoreError> {
        let found = match self.engine.get(T::Meta, FORMAT_KEY)? {
            Some(v) => {
                u32::from_be_bytes(v.as_slice().try_into().map_err(|_| StoreError::Corrupt {
                    tree: "meta",
                    message: "format_version is not 4 bytes".into(),
                })?)
            }
            None => {
                let empty = T::ALL.iter().all(|t| self.engine.len(*t) == 0);
                if !empty {
                    return Err(StoreError::NotAStore(dir.display().to_string()));
                }
                self.put_format(FORMAT_VERSION)?;
                FORMAT_VERSION
            }
        };
        if found > FORMAT_VERSION || found == 0 {
            return Err(StoreError::Format {
                found,
                supported: FORMAT_VERSION,
            });
        }
        for version in found..FORMAT_VERSION {
            let step = MIGRATIONS
                .get((version - 1) as usize)
                .ok_or(StoreError::Format {
                    found,
                    supported: FORMAT_VERSION,
                })?;
            step(self)?;
            self.put_format(version + 1)?;
        }
        Ok(())
    }

    fn put_format(&self, version: u32) -> Result<(), StoreError> {
        let mut w = WriteSet::new();
        w.put_raw(T::Meta, FORMAT_KEY, version.to_be_bytes().to_vec());
        self.engine.commit(&w)?;
        self.engine.flush()
    }

    /// The format version recorded in the store.
    pub fn format_version(&self) -> Result<u32, StoreError> {
        let v = self.engine.get(T::Meta, FORMAT_KEY)?;
        Ok(v.and_then(|v| v.as_slice().try_into().ok())
            .map(u32::from_be_bytes)
            .unwrap_or(0))
    }

    /// Whether other processes share the data (PostgreSQL): then reads follow the
    /// change feed ([`Store::sync`]).
    pub fn shared(&self) -> bool {
        self.engine.shared()
    }

    /// The engine under the store.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// A table of the faces' state (OIDC codes, signing keys, ...).
    fn state_table(&self, name: &str) -> Result<Arc<dyn table::StateTable>, StoreError> {
        self.engine.state_table(name)
    }

    /// Takes the single-writer lock: reads made while holding it stay true until commit.
    /// When other processes share the data, it also waits for the writers' turn across
    /// them and brings the caches up to date with what they wrote, so that the reads
    /// under it see every commit; that wait can fail (the database is gone).
    pub fn lock(&self) -> Result<WriteLock<'_>, StoreError> {
        let local = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let shared = self.engine.lock_writers()?;
        if shared.is_some() {
            self.sync()?;
        }
        Ok(WriteLock {
            _local: local,
            shared: Mutex::new(shared),
        })
    }

    /// Applies a write set atomically (one engine commit over every table it touches).
    pub fn commit(&self, lock: &WriteLock<'_>, writes: &WriteSet) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut shared = lock
            .shared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match shared.as_mut() {
            Some(turn) => {
                turn.commit(writes)?;
                self.forget(writes.iter().map(|(t, key, _)| (*t, key.as_slice())));
                self.committed.fetch_add(1, Ordering::SeqCst);
                drop(shared);
                // The feed past what this node saw holds this commit and, when the turn
                // was taken again for it (a bulk load's second commit), what other nodes
                // committed in between: reading it drops both from the caches. The write
                // is committed: the database going away right after must not turn an
                // acknowledged write into one reported as not done, and every request
                // reads the feed again before it reads anything.
                if let Err(e) = self.sync() {
                    tracing::warn!(error = %e, "change feed after a commit");
                }
            }
            None => {
                self.engine.commit(writes)?;
                self.forget(writes.iter().map(|(t, key, _)| (*t, key.as_slice())));
                self.committed.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    fn forget<'k>(&self, keys: impl Iterator<Item = (T, &'k [u8])>) {
        for (t, key) in keys {
            if cache::ReadCache::covers(t) {
                self.cache.invalidate(t, cache::affected(t, key));
            }
        }
    }

    /// Forgets the change feed's commits older than `seconds` but the last (the
    /// housekeeping's, on shared data); how many.
    pub fn trim_changes(&self, seconds: u64) -> Result<u64, StoreError> {
        self.engine.trim_changes(seconds)
    }

    /// Takes the lead of `task`, which one process at a time runs among those sharing
    /// the data (always this one's with sled); None while another holds it.
    pub fn lead(&self, task: &str) -> Result<Option<engine::Lead>, StoreError> {
        self.engine.lead(task)
    }

    /// Brings this process's caches up to date with what other processes sharing the
    /// data committed: once a write is acknowledged by any node, a read that starts
    /// after `sync` returns sees it. One round trip to the database when shared; free
    /// otherwise.
    pub fn sync(&self) -> Result<(), StoreError> {
        if !self.engine.shared() {
            return Ok(());
        }
        let seen = self.seen.load(Ordering::SeqCst);
        match self.engine.changes_since(seen)? {
            Feed::Changes(changes) => {
                for change in changes {
                    if change.seq <= self.seen.load(Ordering::SeqCst) {
                        continue;
                    }
                    self.forget(change.keys.iter().map(|(t, k)| (*t, k.as_slice())));
                    self.committed.fetch_add(1, Ordering::SeqCst);
                    self.seen.fetch_max(change.seq, Ordering::SeqCst);
                }
            }
            Feed::Gap(last) => {
                self.cache.clear();
                self.committed.fetch_add(1, Ordering::SeqCst);
                self.seen.fetch_max(last, Ordering::SeqCst);
            }
        }
        Ok(())
    }

    /// Applies a write set to tables that no operation reads under the writer lock
    /// (API sessions): atomically, without waiting for the lock.
    pub fn commit_unlocked(&self, writes: &WriteSet) -> Result<(), StoreError> {
        if writes.is_empty() {
            return Ok(());
        }
        self.engine.commit(writes)?;
        self.committed.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    /// Makes every write committed so far durable (fsync). Call before answering.
    /// Concurrent callers share flushes: one fsync covers every commit before it.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let mine = self.committed.load(Ordering::SeqCst);
        let _turn = self.flusher.lock().await;
        if self.flushed.load(Ordering::SeqCst) >= mine {
            return Ok(());
        }
        let target = self.committed.load(Ordering::SeqCst);
        let engine = Arc::clone(&self.engine);
        tokio::task::spawn_blocking(move || engine.flush())
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))??;
        self.flushed.fetch_max(target, Ordering::SeqCst);
        Ok(())
    }

    /// Flushes synchronously (shutdown, CLI).
    pub fn flush_sync(&self) -> Result<(), StoreError> {
        self.engine.flush()
    }

    /// Moves [`Store::version`] without a commit: what callers derived from the data
    /// together with something else that changed (the catalogue) is derived again.
    pub fn touch(&self) {
        self.committed.fetch_add(1, Ordering::SeqCst);
    }

    /// How many commits this store has applied since it was opened: any change of the
    /// directory moves it.
    pub fn version(&self) -> u64 {
        self.committed.load(Ordering::SeqCst)
    }

    /// Reads one value, shared: accounts, structures and services come from memory
    /// when they were read since their last change.
    pub fn get_shared<V>(&self, t: T, key: &[u8]) -> Result<Option<Arc<V>>, StoreError>
    where
        V: DeserializeOwned + Send + Sync + 'static,
    {
        if !cache::holds_values(t) {
            return Ok(self.get(t, key)?.map(Arc::new));
        }
        let miss = match self.cache.get::<V>(t, key) {
            Ok(v) => return Ok(Some(v)),
            Err(miss) => miss,
        };
        let Some(value) = self.get::<V>(t, key)?.map(Arc::new) else {
            return Ok(None);
        };
        self.cache.keep(miss, t, key, Arc::clone(&value));
        Ok(Some(value))
    }

    /// Reads and decodes one value.
    pub fn get<V: DeserializeOwned>(&self, t: T, key: &[u8]) -> Result<Option<V>, StoreError> {
        match self.engine.get(t, key)? {
            Some(bytes) => decode(t, &bytes).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes every value of a tree whose key starts with `prefix`.
    pub fn scan<V: DeserializeOwned>(
        &self,
        t: T,
        prefix: &[u8],
    ) -> Result<Vec<(Vec<u8>, V)>, StoreError> {
        self.engine
            .with_prefix(t, prefix)?
            .into_iter()
            .map(|(k, v)| Ok((k, decode(t, &v)?)))
            .collect()
    }

    /// Up to `max` keys and values of a tree from key `from` on, in key order, as stored.
    pub fn raw_from(&self, t: T, from: &[u8], max: usize) -> Result<Vec<RawEntry>, StoreError> {
        self.engine.range(t, from, max)
    }

    /// Up to `max` values of a tree from key `from` on, in key order.
    pub fn values_from<V: DeserializeOwned>(
        &self,
        t: T,
        from: &[u8],
        max: usize,
    ) -> Result<Vec<V>, StoreError> {
        self.raw_from(t, from, max)?
            .iter()
            .map(|(_, v)| decode(t, v))
            .collect()
    }

    /// The ids stored after `prefix \0` in an index tree.
    pub fn index_ids(&self, t: T, prefix: &str) -> Result<Vec<String>, StoreError> {
        if !cache::is_index(t) {
            return self.scan_index(t, prefix);
        }
        let miss = match self.cache.get::<Vec<String>>(t, prefix.as_bytes()) {
            Ok(ids) => return Ok(ids.as_ref().clone()),
            Err(miss) => miss,
        };
        let ids = self.scan_index(t, prefix)?;
        self.cache
            .keep(miss, t, prefix.as_bytes(), Arc::new(ids.clone()));
        Ok(ids)
    }

    fn scan_index(&self, t: T, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.index_iter(t, prefix).collect()
    }

    /// The ids stored after `prefix \0` in an index tree, read lazily (past the
    /// cache: for walks that usually stop early, and to fill the cache).
    pub fn index_iter(
        &self,
        t: T,
        prefix: &str,
    ) -> impl Iterator<Item = Result<String, StoreError>> + use<'_> {
        let mut p = prefix.as_bytes().to_vec();
        p.push(0);
        let skip = p.len();
        self.engine.keys_with_prefix(t, &p).map(move |k| {
            let k = k?;
            Ok(String::from_utf8_lossy(k.get(skip..).unwrap_or_default()).into_owned())
        })
    }

    /// Whether a table holds `key`.
    pub fn contains(&self, t: T, key: &[u8]) -> Result<bool, StoreError> {
        self.engine.contains(t, key)
    }

    /// Whether an index holds `id` under `prefix \0`.
    pub fn index_contains(&self, t: T, prefix: &str, id: &str) -> Result<bool, StoreError> {
        let mut key = prefix.as_bytes().to_vec();
        key.push(0);
        key.extend_from_slice(id.as_bytes());
        self.engine.contains(t, &key)
    }

    /// The id a unique index (login, SIRET) maps `key` to.
    pub fn unique_id(&self, t: T, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .engine
            .get(t, key.as_bytes())?
            .map(|id| String::from_utf8_lossy(&id).into_owned()))
    }

    /// Whether an index has any entry under `prefix \0`.
    pub fn index_has_any(&self, t: T, prefix: &str) -> Result<bool, StoreError> {
        if cache::is_index(t)
            && let Ok(ids) = self.cache.get::<Vec<String>>(t, prefix.as_bytes())
        {
            return Ok(!ids.is_empty());
        }
        let mut p = prefix.as_bytes().to_vec();
        p.push(0);
        Ok(self
            .engine
            .keys_with_prefix(t, &p)
            .next()
            .transpose()?
            .is_some())
    }

    /// Number of entries in a tree.
    pub fn len(&self, t: T) -> usize {
        self.engine.len(t)
    }

    /// Size of the store on disk, in bytes.
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.engine.size_on_disk()
    }

    /// A new unique, monotonic id (mail queue, audit sequence).
    pub fn generate_id(&self) -> Result<u64, StoreError> {
        self.engine.next_id()
    }

    /// Every key of a table that starts with `prefix`, in key order, read lazily.
    pub fn keys_with_prefix(
        &self,
        t: T,
        prefix: &[u8],
    ) -> impl Iterator<Item = Result<Vec<u8>, StoreError>> + use<'_> {
        self.engine.keys_with_prefix(t, prefix)
    }
}

/// Encodes a value as stored (JSON).
pub fn encode<V: Serialize>(value: &V) -> Vec<u8> {
    // Serializing our own plain data types cannot fail; fall back to null to stay panic-free.
    serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec())
}

/// Decodes a stored value.
pub fn decode<V: DeserializeOwned>(t: T, bytes: &[u8]) -> Result<V, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        tree: t.name(),
        message: e.to_string(),
    })
}

/// An index key: `parts` joined by NUL bytes.
pub fn key(parts: &[&str]) -> Vec<u8> {
    parts.join("\0").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reopens a store whose previous handle was just dropped: sled's background
    /// threads may hold the directory lock a moment longer.
    fn reopen(dir: &Path) -> Result<Store, StoreError> {
        for _ in 0..100 {
            match Store::open(dir) {
                Err(StoreError::Locked(_)) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(StoreError::Io(_)) => std::thread::sleep(std::time::Duration::from_millis(20)),
                other => return other,
            }
        }
        Store::open(dir)
    }

    #[test]
    fn a_newer_store_format_is_refused_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.format_version().unwrap(), FORMAT_VERSION);
            let mut w = WriteSet::new();
            w.put_raw(T::Meta, FORMAT_KEY, 99u32.to_be_bytes().to_vec());
            store.commit(&store.lock().unwrap(), &w).unwrap();
            store.flush_sync().unwrap();
        }
        let err = reopen(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::Format { found: 99, .. }), "{err}");
        assert!(err.to_string().contains("upgrade apex-idp"), "{err}");
    }

    #[test]
    fn data_without_a_format_version_is_not_taken_for_a_store() {
        let dir = tempfile::tempdir().unwrap();
        {
            let engine = SledEngine::open(dir.path()).unwrap();
            let mut w = WriteSet::new();
            w.put_raw(T::Accounts, b"x".to_vec(), b"y".to_vec());
            engine.commit(&w).unwrap();
            engine.flush().unwrap();
        }
        let err = reopen(dir.path()).err().unwrap();
        assert!(matches!(err, StoreError::NotAStore(_)), "{err}");
    }

    #[test]
    fn commits_show_at_once_through_the_caches() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let put = |t: T, key: &[u8], value: &str| {
            let mut w = WriteSet::new();
            w.put(t, key.to_vec(), &value.to_owned());
            store.commit(&store.lock().unwrap(), &w).unwrap();
        };
        put(T::Accounts, b"a1", "first");
        put(T::AccountsByStructure, &key(&["s1", "a1"]), "");
        // Read twice: the second read comes from the cache.
        for _ in 0..2 {
            let v: Arc<String> = store.get_shared(T::Accounts, b"a1").unwrap().unwrap();
            assert_eq!(v.as_str(), "first");
            assert_eq!(
                store.index_ids(T::AccountsByStructure, "s1").unwrap(),
                ["a1"]
            );
            assert!(store.index_has_any(T::AccountsByStructure, "s1").unwrap());
        }
        put(T::Accounts, b"a1", "second");
        put(T::AccountsByStructure, &key(&["s1", "a2"]), "");
        let v: Arc<String> = store.get_shared(T::Accounts, b"a1").unwrap().unwrap();
        assert_eq!(v.as_str(), "second");
        assert_eq!(
            store.index_ids(T::AccountsByStructure, "s1").unwrap(),
            ["a1", "a2"]
        );
        let mut w = WriteSet::new();
        w.remove(T::Accounts, b"a1".to_vec());
        w.remove(T::AccountsByStructure, key(&["s1", "a1"]));
        w.remove(T::AccountsByStructure, key(&["s1", "a2"]));
        store.commit(&store.lock().unwrap(), &w).unwrap();
        assert!(
            store
                .get_shared::<String>(T::Accounts, b"a1")
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .index_ids(T::AccountsByStructure, "s1")
                .unwrap()
                .is_empty()
        );
        assert!(!store.index_has_any(T::AccountsByStructure, "s1").unwrap());
    }
}

//! The embedded engine: sled, one tree per table (the faces' under `face_<name>`), a
//! commit as one sled transaction over the trees it touches.

use std::path::Path;
use std::sync::Arc;

use sled::Transactional;

use super::engine::{EachRaw, Engine, Keys};
use super::table::{EachEntry, StateError, StateTable};
use super::{RawEntry, StoreError, T, WriteSet};

/// Bytes of sled's page cache: the working set of a large directory, bounded so that
/// the process's memory stays predictable.
const CACHE_BYTES: u64 = 256 << 20;

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
        match e {
            sled::Error::Io(io) => StoreError::Io(io),
            other => StoreError::Engine(other.to_string()),
        }
    }
}

impl From<sled::Error> for StateError {
    fn from(e: sled::Error) -> StateError {
        StateError::Store(e.into())
    }
}

/// The sled engine.
pub struct SledEngine {
    db: sled::Db,
    trees: Vec<sled::Tree>,
}

impl SledEngine {
    /// Opens (or creates) the database in `dir`.
    pub fn open(dir: &Path) -> Result<SledEngine, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(CACHE_BYTES)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match &e {
                sled::Error::Io(io)
                    if io.kind() == std::io::ErrorKind::WouldBlock
                        || io.to_string().contains("lock") =>
                {
                    StoreError::Locked(dir.display().to_string())
                }
                _ => StoreError::from(e),
            })?;
        Self::over(db)
    }

    /// A throw-away database (tests, benchmarks).
    pub fn temporary() -> Result<SledEngine, StoreError> {
        Self::over(sled::Config::new().temporary(true).open()?)
    }

    fn over(db: sled::Db) -> Result<SledEngine, StoreError> {
        let trees = T::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SledEngine { db, trees })
    }

    fn tree(&self, t: T) -> &sled::Tree {
        // `trees` is built from T::ALL, so every index exists.
        self.trees.get(t.index()).unwrap_or(&self.db)
    }

    fn named(&self, name: &str) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(name.as_bytes())?)
    }
}

impl Engine for SledEngine {
    fn get(&self, table: T, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree(table).get(key)?.map(|v| v.to_vec()))
    }

    fn contains(&self, table: T, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self.tree(table).contains_key(key)?)
    }

    fn keys_with_prefix<'a>(&'a self, table: T, prefix: &[u8]) -> Keys<'a> {
        Box::new(
            self.tree(table)
                .scan_prefix(prefix)
                .keys()
                .map(|k| Ok(k?.to_vec())),
        )
    }

    fn with_prefix(&self, table: T, prefix: &[u8]) -> Result<Vec<RawEntry>, StoreError> {
        self.tree(table)
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    fn range(&self, table: T, from: &[u8], max: usize) -> Result<Vec<RawEntry>, StoreError> {
        self.tree(table)
            .range(from..)
            .take(max)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    fn len(&self, table: T) -> usize {
        self.tree(table).len()
    }

    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError> {
        self.trees
            .as_slice()
            .transaction(|views| {
                for (t, key, value) in writes.iter() {
                    let Some(view) = views.get(t.index()) else {
                        continue;
                    };
                    match value {
                        Some(v) => view.insert(key.as_slice(), v.as_slice())?,
                        None => view.remove(key.as_slice())?,
                    };
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(s) => StoreError::from(s),
                sled::transaction::TransactionError::Abort(()) => {
                    StoreError::Engine("transaction aborted".into())
                }
            })
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    fn next_id(&self) -> Result<u64, StoreError> {
        Ok(self.db.generate_id()?)
    }

    fn ids_after(&self, floor: u64) -> Result<(), StoreError> {
        // sled counts in memory and persists now and then: catching up is cheap.
        while self.db.generate_id()? < floor {}
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self.db.size_on_disk()?)
    }

    fn state_table(&self, name: &str) -> Result<Arc<dyn StateTable>, StoreError> {
        Ok(Arc::new(SledTable(self.named(&format!("face_{name}"))?)))
    }

    fn table_names(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .db
            .tree_names()
            .iter()
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .filter(|n| n != "__sled__default")
            .collect())
    }

    fn named_len(&self, name: &str) -> Result<u64, StoreError> {
        Ok(self.named(name)?.len() as u64)
    }

    fn walk_named(&self, name: &str, each: &mut EachRaw<'_>) -> Result<(), StoreError> {
        for kv in self.named(name)?.iter() {
            let (k, v) = kv?;
            each(&k, &v)?;
        }
        Ok(())
    }

    fn load_named(&self, name: &str, entries: Vec<RawEntry>) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (k, v) in entries {
            batch.insert(k, v);
        }
        self.named(name)?.apply_batch(batch)?;
        Ok(())
    }

    fn clear_named(&self, name: &str) -> Result<(), StoreError> {
        self.named(name)?.clear()?;
        Ok(())
    }
}

/// A table of the faces' state: one tree.
struct SledTable(sled::Tree);

impl StateTable for SledTable {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.get(key)?.map(|v| v.to_vec()))
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), StateError> {
        self.0.insert(key, value)?;
        Ok(())
    }

    fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, StateError> {
        Ok(self.0.compare_and_swap(key, old, new)?.is_ok())
    }

    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.0.remove(key)?.map(|v| v.to_vec()))
    }

    fn for_each(&self, each: &mut EachEntry<'_>) -> Result<(), StateError> {
        for item in self.0.iter() {
            let (key, value) = item?;
            each(&key, &value)?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), StateError> {
        self.0.flush()?;
        Ok(())
    }
}

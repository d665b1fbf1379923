//! The faces' own state, which is no directory data (OIDC codes, refresh families, SSO
//! sessions, signing keys): typed tables of JSON values under byte keys, with the
//! atomic compare-and-swap that single-use codes and refresh rotation rely on. A face
//! reaches them through [`FaceState`], never through the store itself.

use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::store::{Store, StoreError};

/// The faces' tables of one store.
#[derive(Clone)]
pub struct FaceState {
    store: Arc<Store>,
}

impl FaceState {
    /// The tables kept in `store`.
    pub fn new(store: Arc<Store>) -> FaceState {
        FaceState { store }
    }

    /// Opens the store in `dir` for its faces' tables alone (a command run while the
    /// server is stopped).
    pub fn open_at(dir: &Path) -> Result<FaceState, StoreError> {
        Ok(FaceState::new(Arc::new(Store::open(dir)?)))
    }

    /// Opens (or creates) the table `name`.
    pub fn table<V: Serialize + DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Table<V>, StateError> {
        Ok(Table {
            raw: self.store.state_table(name)?,
            _values: PhantomData,
        })
    }
}

/// The protocol state failed to read or write.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The store refused to open a tree.
    #[error("oidc state: {0}")]
    Store(#[from] StoreError),
    /// A value does not decode.
    #[error("oidc state: corrupt value: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// What [`StateTable::for_each`] calls with each key and value.
pub type EachEntry<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StateError> + 'a;

/// What a storage engine provides for one table of the faces' state: bytes under byte
/// keys, with an atomic compare-and-swap (single-use codes and refresh rotation rest on
/// it). No engine type appears here: sled implements it with a tree, a SQL engine with
/// one row per key and `UPDATE … WHERE value = <old>` (`INSERT … ON CONFLICT DO
/// NOTHING` for an absent old value).
pub trait StateTable: Send + Sync {
    /// The bytes under `key`.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Writes `value` under `key`, whatever was there.
    fn insert(&self, key: &[u8], value: Vec<u8>) -> Result<(), StateError>;
    /// Replaces what `key` holds by `new` (None: removes it) only if it still holds
    /// `old` (None: nothing); false when it did not.
    fn compare_and_swap(
        &self,
        key: &[u8],
        old: Option<&[u8]>,
        new: Option<Vec<u8>>,
    ) -> Result<bool, StateError>;
    /// Removes `key`, returning what it held.
    fn remove(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Calls `each` with every key and value, in key order, without holding them all.
    fn for_each(&self, each: &mut EachEntry<'_>) -> Result<(), StateError>;
    /// Makes every write so far durable.
    fn flush(&self) -> Result<(), StateError>;
}

/// One table of the faces' state holding values of type `V` (JSON).
pub struct Table<V> {
    raw: Arc<dyn StateTable>,
    _values: PhantomData<fn() -> V>,
}

impl<V> Clone for Table<V> {
    fn clone(&self) -> Self {
        Table {
            raw: Arc::clone(&self.raw),
            _values: PhantomData,
        }
    }
}

/// A value with the exact bytes it was read from (for compare-and-swap).
pub struct Read<V> {
    /// The value.
    pub value: V,
    raw: Vec<u8>,
}

impl<V: Serialize + DeserializeOwned> Table<V> {
    /// Reads a value.
    pub fn get(&self, key: &[u8]) -> Result<Option<V>, StateError> {
        Ok(self.read(key)?.map(|r| r.value))
    }

    /// Reads a value with its bytes.
    pub fn read(&self, key: &[u8]) -> Result<Option<Read<V>>, StateError> {
        match self.raw.get(key)? {
            Some(raw) => Ok(Some(Read {
                value: serde_json::from_slice(&raw)?,
                raw,
            })),
            None => Ok(None),
        }
    }

    /// Writes a value.
    pub fn put(&self, key: &[u8], value: &V) -> Result<(), StateError> {
        self.raw.insert(key, serde_json::to_vec(value)?)
    }

    /// Writes a value only where there is none; false when one was there.
    pub fn put_new(&self, key: &[u8], value: &V) -> Result<bool, StateError> {
        self.raw
            .compare_and_swap(key, None, Some(serde_json::to_vec(value)?))
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StateError> {
        self.raw.flush()
    }

    /// Removes a value.
    pub fn remove(&self, key: &[u8]) -> Result<(), StateError> {
        self.raw.remove(key)?;
        Ok(())
    }

    /// Replaces `old` by `new` only if nobody changed it since it was read.
    pub fn swap(&self, key: &[u8], old: &Read<V>, new: &V) -> Result<bool, StateError> {
        self.raw
            .compare_and_swap(key, Some(&old.raw), Some(serde_json::to_vec(new)?))
    }

    /// Removes a value and returns it.
    pub fn take(&self, key: &[u8]) -> Result<Option<V>, StateError> {
        match self.raw.remove(key)? {
            Some(raw) => Ok(Some(serde_json::from_slice(&raw)?)),
            None => Ok(None),
        }
    }

    /// Every value, in key order; a value that does not decode is an error (for state
    /// that must be whole, such as signing keys).
    pub fn values(&self) -> Result<Vec<V>, StateError> {
        let mut out = Vec::new();
        self.raw.for_each(&mut |_, raw| {
            out.push(serde_json::from_slice::<V>(raw)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Every readable value with its key.
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, V)>, StateError> {
        let mut out = Vec::new();
        self.raw.for_each(&mut |key, raw| {
            if let Ok(value) = serde_json::from_slice::<V>(raw) {
                out.push((key.to_vec(), value));
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Removes every value for which `dead` holds (and every unreadable one); returns
    /// how many.
    pub fn purge(&self, dead: impl Fn(&V) -> bool) -> Result<usize, StateError> {
        let mut n = 0;
        self.raw.for_each(&mut |key, raw| {
            let gone = serde_json::from_slice::<V>(raw).map_or(true, |v| dead(&v));
            if gone && self.raw.compare_and_swap(key, Some(raw), None)? {
                n += 1;
            }
            Ok(())
        })?;
        Ok(n)
    }

    /// Removes every readable value for which `chosen` holds, and returns them.
    pub fn take_where(&self, chosen: impl Fn(&V) -> bool) -> Result<Vec<V>, StateError> {
        let mut out = Vec::new();
        self.raw.for_each(&mut |key, raw| {
            let Ok(value) = serde_json::from_slice::<V>(raw) else {
                return Ok(());
            };
            if chosen(&value) && self.raw.compare_and_swap(key, Some(raw), None)? {
                out.push(value);
            }
            Ok(())
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What every engine's tables must do; run here on sled.
    fn honours_the_contract(t: &Table<String>) {
        let ok = |r: Result<bool, StateError>| r.unwrap_or_else(|e| panic!("{e}"));
        assert!(ok(t.put_new(b"a", &"one".into())));
        assert!(
            !ok(t.put_new(b"a", &"two".into())),
            "put_new keeps the first"
        );
        let read = t
            .read(b"a")
            .unwrap_or_default()
            .unwrap_or_else(|| panic!("a"));
        assert!(ok(t.swap(b"a", &read, &"three".into())));
        assert!(
            !ok(t.swap(b"a", &read, &"four".into())),
            "a stale read loses"
        );
        assert_eq!(t.get(b"a").unwrap_or_default().as_deref(), Some("three"));
        for (k, v) in [(b"b", "keep"), (b"c", "drop"), (b"d", "take")] {
            t.put(k, &v.to_owned()).unwrap_or_else(|e| panic!("{e}"));
        }
        assert_eq!(t.purge(|v| v == "drop").unwrap_or_default(), 1);
        assert_eq!(t.take_where(|v| v == "take").unwrap_or_default(), ["take"]);
        assert_eq!(t.take(b"b").unwrap_or_default().as_deref(), Some("keep"));
        let keys: Vec<Vec<u8>> = t
            .entries()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(keys, [b"a".to_vec()], "in key order, the rest gone");
        t.flush().unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn sled_tables_honour_the_contract() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let state = FaceState::open_at(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let table = state.table("contract").unwrap_or_else(|e| panic!("{e}"));
        honours_the_contract(&table);
    }
}

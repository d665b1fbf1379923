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
            tree: self.store.face_tree(name)?,
            _values: PhantomData,
        })
    }
}

/// The protocol state failed to read or write.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// sled failed.
    #[error("oidc state: {0}")]
    Sled(#[from] sled::Error),
    /// The store refused to open a tree.
    #[error("oidc state: {0}")]
    Store(#[from] StoreError),
    /// A value does not decode.
    #[error("oidc state: corrupt value: {0}")]
    Corrupt(#[from] serde_json::Error),
}

/// One face tree holding values of type `V`.
pub struct Table<V> {
    tree: sled::Tree,
    _values: PhantomData<fn() -> V>,
}

impl<V> Clone for Table<V> {
    fn clone(&self) -> Self {
        Table {
            tree: self.tree.clone(),
            _values: PhantomData,
        }
    }
}

/// A value with the exact bytes it was read from (for compare-and-swap).
pub struct Read<V> {
    /// The value.
    pub value: V,
    raw: sled::IVec,
}

impl<V: Serialize + DeserializeOwned> Table<V> {
    /// Reads a value.
    pub fn get(&self, key: &[u8]) -> Result<Option<V>, StateError> {
        Ok(self.read(key)?.map(|r| r.value))
    }

    /// Reads a value with its bytes.
    pub fn read(&self, key: &[u8]) -> Result<Option<Read<V>>, StateError> {
        match self.tree.get(key)? {
            Some(raw) => Ok(Some(Read {
                value: serde_json::from_slice(&raw)?,
                raw,
            })),
            None => Ok(None),
        }
    }

    /// Writes a value.
    pub fn put(&self, key: &[u8], value: &V) -> Result<(), StateError> {
        self.tree.insert(key, serde_json::to_vec(value)?)?;
        Ok(())
    }

    /// Writes a value only where there is none; false when one was there.
    pub fn put_new(&self, key: &[u8], value: &V) -> Result<bool, StateError> {
        let new = serde_json::to_vec(value)?;
        Ok(self
            .tree
            .compare_and_swap(key, None::<&[u8]>, Some(new))?
            .is_ok())
    }

    /// Makes every write so far durable.
    pub fn flush(&self) -> Result<(), StateError> {
        self.tree.flush()?;
        Ok(())
    }

    /// Removes a value.
    pub fn remove(&self, key: &[u8]) -> Result<(), StateError> {
        self.tree.remove(key)?;
        Ok(())
    }

    /// Replaces `old` by `new` only if nobody changed it since it was read.
    pub fn swap(&self, key: &[u8], old: &Read<V>, new: &V) -> Result<bool, StateError> {
        let new = serde_json::to_vec(new)?;
        Ok(self
            .tree
            .compare_and_swap(key, Some(&old.raw), Some(new))?
            .is_ok())
    }

    /// Removes a value and returns it.
    pub fn take(&self, key: &[u8]) -> Result<Option<V>, StateError> {
        match self.tree.remove(key)? {
            Some(raw) => Ok(Some(serde_json::from_slice(&raw)?)),
            None => Ok(None),
        }
    }

    /// Every readable value with its key.
    pub fn entries(&self) -> Result<Vec<(Vec<u8>, V)>, StateError> {
        let mut out = Vec::new();
        for item in self.tree.iter() {
            let (key, raw) = item?;
            if let Ok(value) = serde_json::from_slice::<V>(&raw) {
                out.push((key.to_vec(), value));
            }
        }
        Ok(out)
    }

    /// Removes every value for which `dead` holds; returns how many.
    pub fn purge(&self, dead: impl Fn(&V) -> bool) -> Result<usize, StateError> {
        let mut n = 0;
        for item in self.tree.iter() {
            let (key, raw) = item?;
            let gone = serde_json::from_slice::<V>(&raw).map_or(true, |v| dead(&v));
            if gone
                && self
                    .tree
                    .compare_and_swap(&key, Some(&raw), None::<&[u8]>)?
                    .is_ok()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    /// Removes every readable value for which `chosen` holds, and returns them.
    pub fn take_where(&self, chosen: impl Fn(&V) -> bool) -> Result<Vec<V>, StateError> {
        let mut out = Vec::new();
        for item in self.tree.iter() {
            let (key, raw) = item?;
            let Ok(value) = serde_json::from_slice::<V>(&raw) else {
                continue;
            };
            if chosen(&value)
                && self
                    .tree
                    .compare_and_swap(&key, Some(&raw), None::<&[u8]>)?
                    .is_ok()
            {
                out.push(value);
            }
        }
        Ok(out)
    }
}

//! Entries of accounts, structures and services as each kind of reader sees them,
//! kept while the object they were built from is the one the core serves: building an
//! entry (DNs, timestamps, profile groups, the reader's restrictions) costs more than
//! finding it. An entry is reused only when it was built from the very value the
//! store's cache holds now (the same `Arc`), so a change shows at once.

use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use crate::bounded::BoundedMap;
use crate::directory::Reader;

use super::acl::Viewer;
use super::dit::{Entry, Key, Source};

/// Shards of the cache: connections reading different entries rarely meet.
const SHARDS: usize = 32;

/// Entries kept at most (one per object and kind of reader).
pub const CAPACITY: usize = 65_536;

/// How a reader's restrictions shape an entry: readers of one kind see the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// Everything (a person's own entry, structures and services).
    Whole,
    /// Another person of the same structure: no password date.
    Colleague,
    /// An application's service account: its attribute list and its own profiles.
    Application(String),
}

impl View {
    /// The view a reader has of `key`.
    pub fn of(viewer: &Viewer<'_>, key: &Key) -> View {
        match (&viewer.reader, key) {
            (Reader::Person(me), Key::Account(id)) if id != &me.account_id => View::Colleague,
            (Reader::Application(app), Key::Account(_)) => View::Application(app.code.clone()),
            _ => View::Whole,
        }
    }
}

struct Cached {
    view: View,
    source: Source,
    entry: Arc<Entry>,
}

/// Entries by key, then by view.
pub struct EntryCache {
    shards: Vec<Mutex<BoundedMap<Key, Vec<Cached>>>>,
    hasher: std::collections::hash_map::RandomState,
}

impl Default for EntryCache {
    fn default() -> EntryCache {
        EntryCache::new(CAPACITY)
    }
}

impl EntryCache {
    /// A cache of about `capacity` entries.
    pub fn new(capacity: usize) -> EntryCache {
        let hasher = std::collections::hash_map::RandomState::new();
        let per_shard = capacity.div_ceil(SHARDS);
        EntryCache {
            shards: (0..SHARDS)
                .map(|n| Mutex::new(BoundedMap::new(per_shard, hasher.hash_one(n))))
                .collect(),
            hasher,
        }
    }

    fn shard(&self, key: &Key) -> Option<std::sync::MutexGuard<'_, BoundedMap<Key, Vec<Cached>>>> {
        let i = usize::try_from(self.hasher.hash_one(key) % SHARDS as u64).unwrap_or(0);
        self.shards
            .get(i)
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The entry of `key` in `view` built from `source`, building it with `build` when
    /// none is kept (or the kept one came from an older value).
    pub fn get_or_build<E>(
        &self,
        key: &Key,
        view: View,
        source: Source,
        build: impl FnOnce() -> Result<Option<Entry>, E>,
    ) -> Result<Option<Arc<Entry>>, E> {
        if let Some(shard) = self.shard(key)
            && let Some(kept) = shard.get(key)
            && let Some(c) = kept
                .iter()
                .find(|c| c.view == view && c.source.same(&source))
        {
            return Ok(Some(Arc::clone(&c.entry)));
        }
        let Some(entry) = build()? else {
            return Ok(None);
        };
        let entry = Arc::new(entry);
        if let Some(mut shard) = self.shard(key) {
            let fresh = Cached {
                view: view.clone(),
                source: source.clone(),
                entry: Arc::clone(&entry),
            };
            match shard.get_mut(key) {
                Some(kept) => {
                    // Entries from older values are of no more use.
                    kept.retain(|c| c.source.same(&source) && c.view != view);
                    kept.push(fresh);
                }
                None => shard.insert(key.clone(), vec![fresh]),
            }
        }
        Ok(Some(entry))
    }
}

//! A bounded cache of decoded values for the trees read on every request (accounts,
//! structures, services): decoding JSON and walking sled's pages cost more than the
//! rest of a lookup. Commits invalidate what they write, so a reader never gets a
//! value older than the last commit it could have seen.

use std::any::Any;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, PoisonError};

use super::T;
use crate::bounded::BoundedMap;

/// The trees whose values are cached; every write to them goes through
/// `Store::commit`, which invalidates. For the indexes, what is cached is the list of
/// ids under one prefix (`prefix \0 id` keys), small for these three.
pub const CACHED: [T; 6] = [
    T::Accounts,
    T::Structures,
    T::Services,
    T::ServicesByStructure,
    T::AccountsByStructure,
    T::AccountsByService,
];

/// Whether a cached tree is an index, cached by prefix.
pub fn is_index(t: T) -> bool {
    matches!(
        t,
        T::ServicesByStructure | T::AccountsByStructure | T::AccountsByService
    )
}

/// Whether the values of this tree are cached one by one (not an index).
pub fn holds_values(t: T) -> bool {
    matches!(t, T::Accounts | T::Structures | T::Services)
}

/// The cache key a write to `key` of `t` affects: the key itself, or its prefix.
pub fn affected(t: T, key: &[u8]) -> &[u8] {
    if is_index(t) {
        let end = key.iter().position(|b| *b == 0).unwrap_or(key.len());
        key.get(..end).unwrap_or(key)
    } else {
        key
    }
}

/// Shards: readers of different keys rarely wait on each other.
const SHARDS: usize = 64;

type Value = Arc<dyn Any + Send + Sync>;

/// Decoded values by tree and key, at most `capacity` of each tree.
pub struct ReadCache {
    shards: Vec<Mutex<Shard>>,
    hasher: std::collections::hash_map::RandomState,
}

struct Shard {
    /// Moves at each invalidation: a value read from sled before an invalidation of
    /// its shard is not kept, since the commit may have changed it.
    epoch: u64,
    /// One map per cached tree, in the order of `CACHED`.
    values: [BoundedMap<Box<[u8]>, Value>; CACHED.len()],
}

/// The position of a cached tree in `CACHED`.
fn slot(t: T) -> Option<usize> {
    CACHED.iter().position(|c| *c == t)
}

/// What a miss remembers, to keep the value it reads only if nothing changed meanwhile.
pub struct Miss {
    shard: usize,
    epoch: u64,
}

impl ReadCache {
    /// A cache of at most `capacity` values of each tree (0: nothing is cached).
    pub fn new(capacity: usize) -> ReadCache {
        let hasher = std::collections::hash_map::RandomState::new();
        let per_shard = capacity.div_ceil(SHARDS);
        let shards = (0..SHARDS)
            .map(|n| {
                Mutex::new(Shard {
                    epoch: 0,
                    values: std::array::from_fn(|i| {
                        BoundedMap::new(per_shard, hasher.hash_one((n, i)))
                    }),
                })
            })
            .collect();
        ReadCache { shards, hasher }
    }

    /// Whether values of this tree are cached.
    pub fn covers(t: T) -> bool {
        CACHED.contains(&t)
    }

    fn shard_of(&self, t: T, key: &[u8]) -> usize {
        // The remainder is below SHARDS: the conversion cannot fail.
        usize::try_from(self.hasher.hash_one((t, key)) % SHARDS as u64).unwrap_or(0)
    }

    fn lock(&self, shard: usize) -> Option<std::sync::MutexGuard<'_, Shard>> {
        self.shards
            .get(shard)
            .map(|m| m.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The cached value, or what to hand back to `keep` after reading it.
    pub fn get<V: Any + Send + Sync>(&self, t: T, key: &[u8]) -> Result<Arc<V>, Miss> {
        let shard = self.shard_of(t, key);
        let Some(s) = self.lock(shard) else {
            return Err(Miss { shard, epoch: 0 });
        };
        slot(t)
            .and_then(|i| s.values.get(i))
            .and_then(|m| m.get(key))
            .and_then(|v| Arc::clone(v).downcast::<V>().ok())
            .ok_or(Miss {
                shard,
                epoch: s.epoch,
            })
    }

    /// Keeps a value read after a miss, unless its shard was invalidated meanwhile.
    pub fn keep<V: Any + Send + Sync>(&self, miss: Miss, t: T, key: &[u8], value: Arc<V>) {
        let Some(mut s) = self.lock(miss.shard) else {
            return;
        };
        if s.epoch != miss.epoch {
            return;
        }
        if let Some(m) = slot(t).and_then(|i| s.values.get_mut(i)) {
            m.insert(Box::from(key), value);
        }
    }

    /// Forgets every value (another process wrote what the feed no longer details).
    pub fn clear(&self) {
        for shard in 0..SHARDS {
            if let Some(mut s) = self.lock(shard) {
                s.epoch = s.epoch.wrapping_add(1);
                for m in &mut s.values {
                    m.clear();
                }
            }
        }
    }

    /// Forgets a value a commit wrote (or removed).
    pub fn invalidate(&self, t: T, key: &[u8]) {
        let Some(mut s) = self.lock(self.shard_of(t, key)) else {
            return;
        };
        s.epoch = s.epoch.wrapping_add(1);
        if let Some(m) = slot(t).and_then(|i| s.values.get_mut(i)) {
            m.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_read_before_an_invalidation_is_not_kept() {
        let c = ReadCache::new(1024);
        let Err(miss) = c.get::<String>(T::Accounts, b"a") else {
            panic!("empty cache hit");
        };
        // A commit writes the key between the reader's miss and its keep.
        c.invalidate(T::Accounts, b"a");
        c.keep(miss, T::Accounts, b"a", Arc::new("old".to_owned()));
        assert!(c.get::<String>(T::Accounts, b"a").is_err());

        let Err(miss) = c.get::<String>(T::Accounts, b"a") else {
            panic!("stale value kept");
        };
        c.keep(miss, T::Accounts, b"a", Arc::new("new".to_owned()));
        assert_eq!(
            c.get::<String>(T::Accounts, b"a").ok().as_deref(),
            Some(&"new".to_owned())
        );
        c.invalidate(T::Accounts, b"a");
        assert!(c.get::<String>(T::Accounts, b"a").is_err());
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let c = ReadCache::new(SHARDS * 2);
        for i in 0..10_000u32 {
            let key = i.to_be_bytes();
            if let Err(miss) = c.get::<u32>(T::Structures, &key) {
                c.keep(miss, T::Structures, &key, Arc::new(i));
            }
        }
        let held: usize = c
            .shards
            .iter()
            .map(|s| {
                s.lock()
                    .map(|s| s.values.iter().map(BoundedMap::len).sum::<usize>())
                    .unwrap_or(0)
            })
            .sum();
        assert!(held <= SHARDS * 2, "{held} values held");
        assert!(held > 0);
    }

    #[test]
    fn a_value_of_another_type_is_a_miss() {
        let c = ReadCache::new(64);
        let Err(miss) = c.get::<u32>(T::Services, b"s") else {
            panic!("empty cache hit");
        };
        c.keep(miss, T::Services, b"s", Arc::new(7u32));
        assert!(c.get::<String>(T::Services, b"s").is_err());
        assert_eq!(c.get::<u32>(T::Services, b"s").ok().as_deref(), Some(&7));
    }
}

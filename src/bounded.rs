//! A map holding at most a fixed number of entries, evicting one at random when full:
//! a hot working set stays (each eviction hits a given entry with probability 1/n),
//! and no scan order can make it evict the same entries again and again.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

/// A bounded map with random eviction.
#[derive(Debug)]
pub struct BoundedMap<K, V> {
    /// Each value with the position of its key in `keys`.
    map: HashMap<K, (V, usize)>,
    /// The keys, for eviction at a random position.
    keys: Vec<K>,
    capacity: usize,
    /// xorshift64 state: cheap, and good enough to pick victims.
    state: u64,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map of at most `capacity` entries (0: it keeps nothing).
    pub fn new(capacity: usize, seed: u64) -> BoundedMap<K, V> {
        BoundedMap {
            map: HashMap::new(),
            keys: Vec::new(),
            capacity,
            state: seed | 1,
        }
    }

    /// Forgets every entry.
    pub fn clear(&mut self) {
        self.map.clear();
        self.keys.clear();
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the map is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The value of a key.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get(key).map(|(v, _)| v)
    }

    /// The value of a key, mutable.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.map.get_mut(key).map(|(v, _)| v)
    }

    /// Inserts or replaces; a new key in a full map evicts another entry first.
    pub fn insert(&mut self, key: K, value: V) {
        if let Some((v, _)) = self.map.get_mut(&key) {
            *v = value;
            return;
        }
        if self.capacity == 0 {
            return;
        }
        if self.keys.len() >= self.capacity {
            let victim = self.next_random() % self.keys.len() as u64;
            let victim = usize::try_from(victim).unwrap_or(0);
            if let Some(k) = self.keys.get(victim).cloned() {
                self.remove(&k);
            }
        }
        self.map.insert(key.clone(), (value, self.keys.len()));
        self.keys.push(key);
    }

    /// Removes a key; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let (value, at) = self.map.remove(key)?;
        self.keys.swap_remove(at);
        // The key that took its place says where it is now.
        if let Some(moved) = self.keys.get(at)
            && let Some((_, position)) = self.map.get_mut::<K>(moved)
        {
            *position = at;
        }
        Some(value)
    }

    fn next_random(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_holds_at_most_its_capacity_and_stays_consistent() {
        let mut m = BoundedMap::new(100, 42);
        for i in 0..10_000u32 {
            m.insert(i, i * 2);
            if i % 7 == 0 {
                m.remove(&(i / 2));
            }
            assert!(m.len() <= 100);
        }
        // Every key listed maps back to its own position, and every value is right.
        for (at, k) in m.keys.iter().enumerate() {
            assert_eq!(m.map[k].1, at);
            assert_eq!(m.map[k].0, k * 2);
        }
        assert_eq!(m.map.len(), m.keys.len());
    }

    #[test]
    fn a_hot_set_stays_while_cold_keys_stream_through() {
        // 50 hot keys read between cold ones, in a map of 1000 already full of cold keys.
        let mut m = BoundedMap::new(1000, 7);
        for cold in 1_000_000..1_001_000u32 {
            m.insert(cold, ());
        }
        let (mut hits, mut reads) = (0, 0);
        for round in 0..200u32 {
            for hot in 0..50u32 {
                reads += 1;
                if m.get(&hot).is_some() {
                    hits += 1;
                } else {
                    m.insert(hot, ());
                }
                m.insert(2_000_000 + round * 50 + hot, ());
            }
        }
        assert!(hits * 10 > reads * 8, "{hits} hits of {reads} reads");
    }

    #[test]
    fn a_map_of_capacity_zero_keeps_nothing() {
        let mut m = BoundedMap::new(0, 1);
        m.insert("a", 1);
        assert!(m.is_empty());
        assert_eq!(m.get("a"), None);
    }
}

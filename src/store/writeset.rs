//! A set of writes applied in one transaction.

use serde::Serialize;

use super::{T, encode};

/// Writes collected by an operation, then committed atomically by [`super::Store::commit`].
#[derive(Debug, Default, Clone)]
pub struct WriteSet {
    writes: Vec<(T, Vec<u8>, Option<Vec<u8>>)>,
}

impl WriteSet {
    /// An empty write set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a key to an encoded value.
    pub fn put<V: Serialize>(&mut self, t: T, key: impl Into<Vec<u8>>, value: &V) {
        self.writes.push((t, key.into(), Some(encode(value))));
    }

    /// Sets a key to raw bytes.
    pub fn put_raw(&mut self, t: T, key: impl Into<Vec<u8>>, value: Vec<u8>) {
        self.writes.push((t, key.into(), Some(value)));
    }

    /// Removes a key.
    pub fn remove(&mut self, t: T, key: impl Into<Vec<u8>>) {
        self.writes.push((t, key.into(), None));
    }

    /// Replaces the index entries `before` by `after`, touching only what changed.
    pub fn reindex(&mut self, before: &[(T, Vec<u8>, Vec<u8>)], after: &[(T, Vec<u8>, Vec<u8>)]) {
        for (t, k, _) in before {
            if !after.iter().any(|(t2, k2, _)| t2 == t && k2 == k) {
                self.remove(*t, k.clone());
            }
        }
        for (t, k, v) in after {
            if !before
                .iter()
                .any(|(t2, k2, v2)| t2 == t && k2 == k && v2 == v)
            {
                self.put_raw(*t, k.clone(), v.clone());
            }
        }
    }

    /// Whether nothing is to be written.
    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }

    /// The writes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &(T, Vec<u8>, Option<Vec<u8>>)> {
        self.writes.iter()
    }
}

//! What a storage engine gives the store: named tables of bytes under ordered keys, an
//! atomic commit of a write set over any of them, durability on demand, unique
//! increasing ids. No engine type appears here; sled implements it in `store::sled_engine`,
//! and a SQL engine implements it with one table of `(key bytea primary key, value
//! bytea)` per table and one transaction per commit.
//!
//! The store above it keeps what is the same for every engine: the single-writer lock,
//! the decoded-value and index caches, group commit, the format version and its
//! migrations, backup and restore. Why each operation has the shape it has:
//! - reads are point reads, prefix walks and ordered ranges, because every index of the
//!   directory is a sorted key `value \0 id` (a SQL engine answers them with its
//!   primary key index: `key >= $1 AND key < $2 ORDER BY key`);
//! - every write goes through [`Engine::commit`] of a whole [`WriteSet`], because an
//!   operation of the matrix writes its records, their index entries, its audit events
//!   and its mails at once or not at all;
//! - [`Engine::flush`] is separate from the commit so that concurrent writers share one
//!   fsync (group commit); an engine that is durable at commit makes it a no-op;
//! - the faces' state tables ([`StateTable`]) carry their own compare-and-swap, which
//!   single-use codes and refresh rotation rest on;
//! - an engine shared by several processes (PostgreSQL) also gives the writers of every
//!   process one turn at a time ([`Engine::lock_writers`]: a transaction holding an
//!   advisory lock, through which the turn's commits go) and a change feed
//!   ([`Engine::changes_since`]: the keys each commit wrote, in commit order), from
//!   which every process drops what its caches hold of what another one wrote.

use std::sync::Arc;

use super::table::StateTable;
use super::{RawEntry, StoreError, T, WriteSet};

/// The keys of a walk, in key order, read lazily.
pub type Keys<'a> = Box<dyn Iterator<Item = Result<Vec<u8>, StoreError>> + 'a>;

/// What [`Engine::walk_named`] calls with each key and value.
pub type EachRaw<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

/// The writers' turn of an engine shared by several processes: while it is held, no
/// other process commits to the directory.
pub trait SharedWriter: Send {
    /// Commits `writes` as the next change of the feed, which ends the turn; a further
    /// commit under the same guard waits for the next turn first.
    fn commit(&mut self, writes: &WriteSet) -> Result<(), StoreError>;
}

/// One commit of the change feed: its sequence number and the keys it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Increasing by one from commit to commit.
    pub seq: u64,
    /// Every key the commit wrote or removed.
    pub keys: Vec<(T, Vec<u8>)>,
}

/// What the change feed holds past a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// The commits past it, in order (none: up to date).
    Changes(Vec<Change>),
    /// The feed no longer holds every commit past it (trimmed): drop every cached
    /// value; the number is the last commit.
    Gap(u64),
}

/// The lead of a task that one process at a time runs (housekeeping), held until
/// dropped.
pub struct Lead {
    _held: Option<Box<dyn Send>>,
}

impl Lead {
    /// The lead of a process that shares its data with none.
    pub fn alone() -> Lead {
        Lead { _held: None }
    }

    /// A lead that lasts as long as `held` does.
    pub fn holding(held: Box<dyn Send>) -> Lead {
        Lead { _held: Some(held) }
    }
}

/// A storage engine (see the module's documentation).
pub trait Engine: Send + Sync {
    /// The value under `key` in `table`.
    fn get(&self, table: T, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Whether `table` holds `key`.
    fn contains(&self, table: T, key: &[u8]) -> Result<bool, StoreError>;
    /// The keys of `table` that start with `prefix`, in key order.
    fn keys_with_prefix<'a>(&'a self, table: T, prefix: &[u8]) -> Keys<'a>;
    /// Every entry of `table` whose key starts with `prefix`, in key order.
    fn with_prefix(&self, table: T, prefix: &[u8]) -> Result<Vec<RawEntry>, StoreError>;
    /// Up to `max` entries of `table` from key `from` on, in key order.
    fn range(&self, table: T, from: &[u8], max: usize) -> Result<Vec<RawEntry>, StoreError>;
    /// How many entries `table` holds.
    fn len(&self, table: T) -> usize;
    /// Applies every write of the set at once, or none.
    fn commit(&self, writes: &WriteSet) -> Result<(), StoreError>;
    /// Makes every commit so far durable.
    fn flush(&self) -> Result<(), StoreError>;
    /// A new id, greater than every id it gave before, across restarts.
    fn next_id(&self) -> Result<u64, StoreError>;
    /// Makes every id given from now on greater than `floor` (after a restore, whose
    /// records hold ids another engine gave).
    fn ids_after(&self, floor: u64) -> Result<(), StoreError>;
    /// The bytes the engine occupies on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError>;
    /// A table of the faces' state, opened (or created) by name.
    fn state_table(&self, name: &str) -> Result<Arc<dyn StateTable>, StoreError>;
    /// The name of every table that holds data, the faces' included (backups).
    fn table_names(&self) -> Result<Vec<String>, StoreError>;
    /// How many entries the table `name` holds (backups).
    fn named_len(&self, name: &str) -> Result<u64, StoreError>;
    /// Calls `each` with every entry of the table `name`, in key order (backups).
    fn walk_named(&self, name: &str, each: &mut EachRaw<'_>) -> Result<(), StoreError>;
    /// Writes entries into the table `name` (restore into an empty store).
    fn load_named(&self, name: &str, entries: Vec<RawEntry>) -> Result<(), StoreError>;
    /// Empties the table `name` (a restore taken back).
    fn clear_named(&self, name: &str) -> Result<(), StoreError>;
    /// Whether other processes share the data (then the writers take turns through
    /// [`Engine::lock_writers`] and caches follow [`Engine::changes_since`]).
    fn shared(&self) -> bool {
        false
    }
    /// Waits for the writers' turn across processes; `None` when the data is this
    /// process's alone (its own lock is enough).
    fn lock_writers(&self) -> Result<Option<Box<dyn SharedWriter>>, StoreError> {
        Ok(None)
    }
    /// The sequence number of the feed's last commit (0: none).
    fn last_change(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// The commits of the feed past `seq`.
    fn changes_since(&self, _seq: u64) -> Result<Feed, StoreError> {
        Ok(Feed::Changes(Vec::new()))
    }
    /// Forgets the commits of the change feed older than `seconds`, but the last one
    /// (the feed's sequence goes on from it); how many. A node that had not read them
    /// drops its whole cache ([`Feed::Gap`]).
    fn trim_changes(&self, _seconds: u64) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// Takes the lead of `task` when no other process holds it; None when one does.
    fn lead(&self, _task: &str) -> Result<Option<Lead>, StoreError> {
        Ok(Some(Lead::alone()))
    }
}

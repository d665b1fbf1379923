//! The append-only, hash-chained audit log.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::{Store, StoreError, T, WriteSet, key};

/// Key of the chain head in the meta tree.
const HEAD_KEY: &[u8] = b"audit_head";

/// One change of a right, an account or a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AuditEvent {
    /// Position in the log, from 1.
    pub seq: u64,
    /// When (unix seconds).
    pub at: i64,
    /// Who: an account id, `operator`, or `system`.
    pub actor: String,
    /// The structure concerned, if any.
    pub structure_id: Option<String>,
    /// What was done (`habilitation.grant`, `service.create`, ...).
    pub action: String,
    /// What it was done to (an id, or `id/APP:PROFILE`).
    pub target: String,
    /// The target before.
    pub before: Option<Value>,
    /// The target after.
    pub after: Option<Value>,
    /// Hash of the previous event (hex), zeros for the first.
    pub prev: String,
    /// SHA-256 (hex) over `prev` and this event without `hash`.
    pub hash: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
}

/// The change feed: the audit log read in order, for the faces that follow what
/// changed (ending the sessions of an account that left) without reading the store.
impl super::Directory {
    /// The position of the last change written, 0 before any.
    pub fn last_change(&self) -> super::DirResult<u64> {
        let head: Option<Head> = self.store.get(T::Meta, HEAD_KEY)?;
        Ok(head.map_or(0, |h| h.seq))
    }

    /// Up to `max` changes written after position `after`, in order, with the position
    /// read through. An event that does not decode is skipped (and logged): a follower
    /// moves past it instead of stopping there for good.
    pub fn changes_after(
        &self,
        after: u64,
        max: usize,
    ) -> super::DirResult<(u64, Vec<AuditEvent>)> {
        let from = after.saturating_add(1).to_be_bytes();
        let mut through = after;
        let mut events = Vec::new();
        for (key, value) in self.store.raw_from(T::Audit, &from, max)? {
            through = seq_of(&key).max(through);
            match serde_json::from_slice::<AuditEvent>(&value) {
                Ok(event) => events.push(event),
                Err(e) => tracing::error!(seq = through, error = %e, "audit: undecodable event"),
            }
        }
        Ok((through, events))
    }
}

/// The position of an audit key (its big-endian sequence number).
fn seq_of(key: &[u8]) -> u64 {
    key.get(..8)
        .and_then(|k| <[u8; 8]>::try_from(k).ok())
        .map_or(0, u64::from_be_bytes)
}

/// What an operation records, before it is chained.
#[derive(Debug, Clone)]
pub struct Change {
    /// Who.
    pub actor: String,
    /// Which structure.
    pub structure_id: Option<String>,
    /// What.
    pub action: &'static str,
    /// To what.
    pub target: String,
    /// Before.
    pub before: Option<Value>,
    /// After.
    pub after: Option<Value>,
}

fn zero_hash() -> String {
    "0".repeat(64)
}

fn seal(event: &AuditEvent) -> String {
    let mut unsealed = event.clone();
    unsealed.hash = String::new();
    let body = serde_json::to_vec(&unsealed).unwrap_or_default();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(event.prev.as_bytes());
    ctx.update(&body);
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Appends changes to the write set, chained after the current head. The caller holds
/// the writer lock, so the head read here is still the head at commit.
pub fn append(
    store: &Store,
    writes: &mut WriteSet,
    changes: Vec<Change>,
    at: i64,
) -> Result<(), StoreError> {
    let mut head: Head = store.get(T::Meta, HEAD_KEY)?.unwrap_or(Head {
        seq: 0,
        hash: zero_hash(),
    });
    for c in changes {
        let mut event = AuditEvent {
            seq: head.seq + 1,
            at,
            actor: c.actor,
            structure_id: c.structure_id,
            action: c.action.to_owned(),
            target: c.target,
            before: c.before,
            after: c.after,
            prev: head.hash.clone(),
            hash: String::new(),
        };
        event.hash = seal(&event);
        writes.put(T::Audit, event.seq.to_be_bytes().to_vec(), &event);
        if let Some(s) = &event.structure_id {
            let mut k = key(&[s, ""]);
            k.extend_from_slice(&event.seq.to_be_bytes());
            writes.put_raw(T::AuditByStructure, k, Vec::new());
        }
        head = Head {
            seq: event.seq,
            hash: event.hash,
        };
    }
    writes.put(T::Meta, HEAD_KEY.to_vec(), &head);
    Ok(())
}

/// The events of one structure, oldest first.
pub fn of_structure(store: &Store, structure_id: &str) -> Result<Vec<AuditEvent>, StoreError> {
    let prefix = key(&[structure_id, ""]);
    let mut out = Vec::new();
    for k in store.keys_with_prefix(T::AuditByStructure, &prefix) {
        let k = k?;
        let seq = k.get(prefix.len()..).unwrap_or_default();
        if let Some(e) = store.get::<AuditEvent>(T::Audit, seq)? {
            out.push(e);
        }
    }
    Ok(out)
}

/// Every event, oldest first.
pub fn all(store: &Store) -> Result<Vec<AuditEvent>, StoreError> {
    Ok(store
        .scan::<AuditEvent>(T::Audit, b"")?
        .into_iter()
        .map(|(_, e)| e)
        .collect())
}

/// Every entry of a table in key order, read a bounded step at a time.
fn walk(store: &Store, t: T) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>), StoreError>> + '_ {
    const STEP: usize = 1024;
    let mut next: Option<Vec<u8>> = Some(Vec::new());
    let mut buffered = std::collections::VecDeque::new();
    std::iter::from_fn(move || {
        if buffered.is_empty() {
            let from = next.take()?;
            match store.raw_from(t, &from, STEP) {
                Ok(entries) => {
                    if entries.len() == STEP
                        && let Some((last, _)) = entries.last()
                    {
                        let mut after = last.clone();
                        after.push(0);
                        next = Some(after);
                    }
                    buffered.extend(entries);
                }
                Err(e) => return Some(Err(e)),
            }
        }
        buffered.pop_front().map(Ok)
    })
}

/// A break in the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit chain broken at event {seq}: {reason}")]
pub struct ChainBroken {
    /// The first event that does not verify.
    pub seq: u64,
    /// Why.
    pub reason: String,
}

/// Proves the whole chain: sequence without gaps, each hash over its predecessor.
pub fn verify(store: &Store) -> Result<u64, ChainBroken> {
    let broken = |seq, reason: &str| ChainBroken {
        seq,
        reason: reason.to_owned(),
    };
    let mut prev = zero_hash();
    let mut expected = 1u64;
    for kv in walk(store, T::Audit) {
        let (_, v) = kv.map_err(|e| broken(expected, &e.to_string()))?;
        let e: AuditEvent =
            serde_json::from_slice(&v).map_err(|e| broken(expected, &e.to_string()))?;
        if e.seq != expected {
            return Err(broken(expected, "missing event"));
        }
        if e.prev != prev {
            return Err(broken(e.seq, "previous hash does not match"));
        }
        if seal(&e) != e.hash {
            return Err(broken(e.seq, "event was altered"));
        }
        prev = e.hash;
        expected += 1;
    }
    let head: Option<Head> = store
        .get(T::Meta, HEAD_KEY)
        .map_err(|e| broken(expected, &e.to_string()))?;
    if head.is_some_and(|h| h.seq != expected - 1 || h.hash != prev) {
        return Err(broken(expected, "head does not match the last event"));
    }
    Ok(expected - 1)
}

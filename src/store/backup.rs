//! Backup and restore: the whole store as versioned JSON lines.
//!
//! Line 1 is a header, then one line per key of every tree, then a trailer with the
//! record count and the SHA-256 of every line before it. Restore checks the whole file
//! before writing anything, and only into an empty store.

use std::io::{BufRead, Write};

use serde::{Deserialize, Serialize};

use super::{FORMAT_VERSION, Store, StoreError, WriteLock};

/// Version of the backup file format.
const BACKUP_VERSION: u32 = 1;
/// Marker of the header line.
const MAGIC: &str = "apex-idp-backup";

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    store_format: u32,
    created_at: String,
}

#[derive(Serialize, Deserialize)]
struct Record {
    tree: String,
    key: String,
    value: String,
}

#[derive(Serialize, Deserialize)]
struct Trailer {
    end: bool,
    records: u64,
    sha256: String,
}

/// What a backup or restore moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupSummary {
    /// Key/value records.
    pub records: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

fn progress(total: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(total),
        indicatif::ProgressDrawTarget::stderr(),
    );
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} ({eta})")
    {
        bar.set_style(style);
    }
    bar.set_message(what.to_owned());
    bar
}

/// Writes a consistent snapshot: the caller holds the writer lock, so no write interleaves.
pub fn backup_to(
    store: &Store,
    _lock: &WriteLock<'_>,
    out: &mut dyn Write,
) -> Result<BackupSummary, StoreError> {
    let db = store.db();
    let names: Vec<sled::IVec> = db.tree_names();
    let total: u64 = names
        .iter()
        .filter_map(|n| db.open_tree(n).ok())
        .map(|t| t.len() as u64)
        .sum();
    let bar = progress(total, "backup");
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    let mut write_line = |line: String| -> Result<(), StoreError> {
        digest.update(line.as_bytes());
        digest.update(b"\n");
        out.write_all(line.as_bytes())?;
        out.write_all(b"\n")?;
        Ok(())
    };
    let header = Header {
        format: MAGIC.into(),
        version: BACKUP_VERSION,
        store_format: store.format_version()?,
        created_at: chrono::Utc::now().to_rfc3339(),
    };
    write_line(serde_json::to_string(&header).map_err(|e| StoreError::Backup(e.to_string()))?)?;
    let mut records = 0u64;
    for name in &names {
        let tree_name = String::from_utf8_lossy(name).into_owned();
        if tree_name == "__sled__default" {
            continue;
        }
        let tree = db.open_tree(name)?;
        for kv in tree.iter() {
            let (k, v) = kv?;
            let record = Record {
                tree: tree_name.clone(),
                key: hex(&k),
                value: hex(&v),
            };
            write_line(
                serde_json::to_string(&record).map_err(|e| StoreError::Backup(e.to_string()))?,
            )?;
            records += 1;
            bar.inc(1);
        }
    }
    let sha256 = hex(digest.clone().finish().as_ref());
    let trailer = Trailer {
        end: true,
        records,
        sha256,
    };
    let line = serde_json::to_string(&trailer).map_err(|e| StoreError::Backup(e.to_string()))?;
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()?;
    bar.finish_and_clear();
    Ok(BackupSummary { records })
}

/// Restores a backup into an empty store, after checking the whole file.
pub fn restore_from(store: &Store, input: &mut dyn BufRead) -> Result<BackupSummary, StoreError> {
    let bad = |line: usize, m: &str| StoreError::Backup(format!("backup line {line}: {m}"));
    let db = store.db();
    let non_empty = store.trees.iter().any(|t| {
        t.iter()
            .next()
            .is_some_and(|kv| kv.is_ok_and(|(k, _)| k.as_ref() != super::FORMAT_KEY))
    });
    if non_empty {
        return Err(StoreError::Backup(
            "restore needs an empty store: choose a new data_dir".into(),
        ));
    }
    let lines: Vec<String> = input.lines().collect::<Result<_, _>>()?;
    let (trailer_line, body) = lines.split_last().ok_or_else(|| bad(1, "empty file"))?;
    let trailer: Trailer = serde_json::from_str(trailer_line)
        .map_err(|_| bad(lines.len(), "missing trailer: the file is truncated"))?;
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    for l in body {
        digest.update(l.as_bytes());
        digest.update(b"\n");
    }
    if !trailer.end || hex(digest.finish().as_ref()) != trailer.sha256 {
        return Err(bad(lines.len(), "checksum mismatch: the file is damaged"));
    }
    let (header_line, records) = body.split_first().ok_or_else(|| bad(1, "missing header"))?;
    let header: Header =
        serde_json::from_str(header_line).map_err(|_| bad(1, "not an apex-idp backup"))?;
    if header.format != MAGIC {
        return Err(bad(1, "not an apex-idp backup"));
    }
    if header.version != BACKUP_VERSION || header.store_format > FORMAT_VERSION {
        return Err(bad(
            1,
            &format!(
                "backup version {} of store format {} is newer than this apex-idp supports",
                header.version, header.store_format
            ),
        ));
    }
    if records.len() as u64 != trailer.records {
        return Err(bad(lines.len(), "record count mismatch"));
    }
    let mut decoded = Vec::with_capacity(records.len());
    for (i, l) in records.iter().enumerate() {
        let r: Record = serde_json::from_str(l).map_err(|e| bad(i + 2, &e.to_string()))?;
        let k = unhex(&r.key).ok_or_else(|| bad(i + 2, "key is not hex"))?;
        let v = unhex(&r.value).ok_or_else(|| bad(i + 2, "value is not hex"))?;
        decoded.push((r.tree, k, v));
    }
    let bar = progress(trailer.records, "restore");
    for (tree, k, v) in decoded {
        db.open_tree(tree.as_bytes())?.insert(k, v)?;
        bar.inc(1);
    }
    db.flush()?;
    bar.finish_and_clear();
    Ok(BackupSummary {
        records: trailer.records,
    })
}

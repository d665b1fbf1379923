//! Backup and restore: the whole store as versioned JSON lines.
//!
//! Line 1 is a header, then one line per key of every tree, then a trailer with the
//! record count and the SHA-256 of every line before it. Restore checks the whole file
//! before writing anything, and only into an empty store.

use std::io::{BufRead, Read, Seek, SeekFrom, Write};

use serde::{Deserialize, Serialize};

use super::{FORMAT_VERSION, Store, StoreError, T, WriteLock};

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
    let engine = store.engine();
    let names = engine.table_names()?;
    let mut total = 0u64;
    for name in &names {
        total += engine.named_len(name)?;
    }
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
        engine.walk_named(name, &mut |k, v| {
            let record = Record {
                tree: name.clone(),
                key: hex(k),
                value: hex(v),
            };
            write_line(
                serde_json::to_string(&record).map_err(|e| StoreError::Backup(e.to_string()))?,
            )?;
            records += 1;
            bar.inc(1);
            Ok(())
        })?;
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

/// Longest line read from a backup: far above any record, so that a file without
/// line breaks is refused instead of filling the memory.
const MAX_LINE: u64 = 64 << 20;
/// Records written to the store per batch.
const BATCH: usize = 10_000;

/// One record of a backup, decoded.
struct Decoded {
    tree: String,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// Reads a whole backup once, line by line (never more than one line in memory),
/// handing each record to `each` and checking the header, the count and the checksum.
/// The errors come in the order of a reading of the whole file: a damaged file is
/// called damaged (checksum) before any of its lines is called malformed.
fn scan<R: BufRead>(
    input: &mut R,
    mut each: impl FnMut(Decoded) -> Result<(), StoreError>,
) -> Result<u64, StoreError> {
    let bad = |line: u64, m: &str| StoreError::Backup(format!("backup line {line}: {m}"));
    let mut digest = ring::digest::Context::new(&ring::digest::SHA256);
    // The line before the current one: the last line read is the trailer.
    let mut previous: Option<String> = None;
    let mut line_no = 0u64;
    let mut records = 0u64;
    let mut header: Option<Result<Header, StoreError>> = None;
    let mut first_error: Option<StoreError> = None;
    loop {
        let mut line = String::new();
        let read = input.by_ref().take(MAX_LINE).read_line(&mut line)?;
        if read == 0 {
            break;
        }
        if !line.ends_with('\n') && read as u64 == MAX_LINE {
            return Err(bad(line_no + 1, "line too long: not an apex-idp backup"));
        }
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        line_no += 1;
        if let Some(body) = previous.replace(line) {
            digest.update(body.as_bytes());
            digest.update(b"\n");
            let at = line_no - 1;
            if header.is_none() {
                header = Some(parse_header(&body).map_err(|m| bad(1, &m)));
            } else {
                records += 1;
                if first_error.is_none() {
                    let written =
                        decode(&body)
                            .map_err(|m| bad(at, &m))
                            .and_then(|d| match &header {
                                Some(Ok(_)) => each(d),
                                _ => Ok(()),
                            });
                    first_error = written.err();
                }
            }
        }
    }
    let trailer_line = previous.ok_or_else(|| bad(1, "empty file"))?;
    let trailer: Trailer = serde_json::from_str(&trailer_line)
        .map_err(|_| bad(line_no, "missing trailer: the file is truncated"))?;
    if !trailer.end || hex(digest.finish().as_ref()) != trailer.sha256 {
        return Err(bad(line_no, "checksum mismatch: the file is damaged"));
    }
    header.ok_or_else(|| bad(1, "missing header"))??;
    if records != trailer.records {
        return Err(bad(line_no, "record count mismatch"));
    }
    first_error.map_or(Ok(records), Err)
}

fn parse_header(line: &str) -> Result<Header, String> {
    let header: Header =
        serde_json::from_str(line).map_err(|_| "not an apex-idp backup".to_owned())?;
    if header.format != MAGIC {
        return Err("not an apex-idp backup".into());
    }
    if header.version != BACKUP_VERSION || header.store_format > FORMAT_VERSION {
        return Err(format!(
            "backup version {} of store format {} is newer than this apex-idp supports",
            header.version, header.store_format
        ));
    }
    Ok(header)
}

fn decode(line: &str) -> Result<Decoded, String> {
    let r: Record = serde_json::from_str(line).map_err(|e| e.to_string())?;
    Ok(Decoded {
        key: unhex(&r.key).ok_or("key is not hex")?,
        value: unhex(&r.value).ok_or("value is not hex")?,
        tree: r.tree,
    })
}

/// Restores a backup into an empty store. The file is read twice, one line at a time:
/// first to check all of it (nothing is written unless the whole file is sound), then
/// to write it in batches. Should the second reading differ (the file changed between
/// the two), everything written is taken back and the store is left empty.
pub fn restore_from<R: BufRead + Seek>(
    store: &Store,
    input: &mut R,
) -> Result<BackupSummary, StoreError> {
    let engine = store.engine();
    let non_empty = T::ALL.iter().any(|t| {
        engine.range(*t, b"", 2).is_ok_and(|entries| {
            entries
                .iter()
                .any(|(k, _)| k.as_slice() != super::FORMAT_KEY)
        })
    });
    if non_empty {
        return Err(StoreError::Backup(
            "restore needs an empty store: choose a new data_dir".into(),
        ));
    }
    let format = engine.get(T::Meta, super::FORMAT_KEY)?;
    let start = input.stream_position()?;
    let total = scan(input, |_| Ok(()))?;
    input.seek(SeekFrom::Start(start))?;
    let bar = progress(total, "restore");
    let mut written: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // Records that others name (structures, accounts) are written in a first reading,
    // the rest in a second: an engine that checks references (PostgreSQL's foreign
    // keys) then finds every login's account and every SIRET's structure already there,
    // whatever the order of the file.
    let referenced = |tree: &str| tree == T::Structures.name() || tree == T::Accounts.name();
    let mut result = Ok(0);
    for first in [true, false] {
        if result.is_err() {
            break;
        }
        input.seek(SeekFrom::Start(start))?;
        let mut batches: Vec<(String, Vec<super::RawEntry>)> = Vec::new();
        let mut pass = |d: Decoded| -> Result<(), StoreError> {
            if referenced(&d.tree) != first {
                return Ok(());
            }
            let at = match batches.iter().position(|(t, _)| *t == d.tree) {
                Some(at) => at,
                None => {
                    batches.push((d.tree.clone(), Vec::new()));
                    batches.len() - 1
                }
            };
            if let Some((tree, batch)) = batches.get_mut(at) {
                batch.push((d.key, d.value));
                if batch.len() >= BATCH {
                    let full = std::mem::take(batch);
                    written.insert(tree.clone());
                    engine.load_named(tree, full)?;
                    bar.inc(BATCH as u64);
                }
            }
            Ok(())
        };
        result = scan(input, &mut pass).and_then(|records| {
            if records != total {
                return Err(StoreError::Backup(
                    "the backup file changed while it was restored".into(),
                ));
            }
            for (tree, batch) in std::mem::take(&mut batches) {
                let n = batch.len() as u64;
                written.insert(tree.clone());
                engine.load_named(&tree, batch)?;
                bar.inc(n);
            }
            Ok(records)
        });
    }
    if result.is_ok() {
        // The mail queue's keys are ids the source engine gave: new ones come after.
        let mut last = 0u64;
        for key in engine.keys_with_prefix(T::MailQueue, b"") {
            let key = key?;
            if let Ok(bytes) = <[u8; 8]>::try_from(key.as_slice()) {
                last = last.max(u64::from_be_bytes(bytes));
            }
        }
        engine.ids_after(last)?;
        engine.flush()?;
    }
    bar.finish_and_clear();
    match result {
        Ok(records) => Ok(BackupSummary { records }),
        Err(e) => {
            // Take back what the second reading wrote: the store was empty but for
            // its format version.
            for tree in written {
                let _ = engine.clear_named(&tree);
            }
            if let Some(v) = format {
                let mut w = super::WriteSet::new();
                w.put_raw(T::Meta, super::FORMAT_KEY, v);
                let _ = engine.commit(&w);
            }
            let _ = engine.flush();
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let store = Store::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        (dir, store)
    }

    fn backup_of(records: usize) -> Vec<u8> {
        let (_dir, store) = store();
        for i in 0..records {
            let key = format!("k{i:06}");
            let mut w = crate::store::WriteSet::new();
            w.put_raw(T::Audit, key.into_bytes(), b"value".to_vec());
            if let Err(e) = store.lock().and_then(|lock| store.commit(&lock, &w)) {
                panic!("{e}");
            }
        }
        let mut out = Vec::new();
        let lock = store.lock().unwrap_or_else(|e| panic!("{e}"));
        backup_to(&store, &lock, &mut out).unwrap_or_else(|e| panic!("{e}"));
        out
    }

    /// A file that reads one way the first time and another way after a seek to its
    /// start, as a backup replaced between the two readings would.
    struct Changing {
        first: std::io::Cursor<Vec<u8>>,
        then: Option<std::io::Cursor<Vec<u8>>>,
        rewound: bool,
    }

    impl Read for Changing {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            match (&mut self.then, self.rewound) {
                (Some(then), true) => then.read(buf),
                _ => self.first.read(buf),
            }
        }
    }

    impl BufRead for Changing {
        fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
            match (&mut self.then, self.rewound) {
                (Some(then), true) => then.fill_buf(),
                _ => self.first.fill_buf(),
            }
        }
        fn consume(&mut self, n: usize) {
            match (&mut self.then, self.rewound) {
                (Some(then), true) => then.consume(n),
                _ => self.first.consume(n),
            }
        }
    }

    impl Seek for Changing {
        fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
            if self.first.position() > 0 {
                self.rewound = true;
            }
            self.first.seek(to)
        }
    }

    #[test]
    fn a_restore_writes_in_batches_and_counts_every_record() {
        let file = backup_of(3 * BATCH + 7);
        let (_dir, target) = store();
        let summary = restore_from(&target, &mut std::io::Cursor::new(file))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(target.len(T::Audit), 3 * BATCH + 7);
        assert!(summary.records > (3 * BATCH + 7) as u64);
    }

    #[test]
    fn a_file_that_changes_between_the_readings_leaves_the_store_empty() {
        let good = backup_of(2 * BATCH + 1);
        // Same length, one value changed near the end: the second reading has written
        // two batches before it meets the checksum.
        let mut altered = good.clone();
        let text = String::from_utf8_lossy(&good).into_owned();
        let at = text
            .rfind("76616c7565")
            .unwrap_or_else(|| panic!("no value"));
        if let Some(b) = altered.get_mut(at) {
            *b = b'8';
        }
        let (_dir, target) = store();
        let mut input = Changing {
            first: std::io::Cursor::new(good),
            then: Some(std::io::Cursor::new(altered)),
            rewound: false,
        };
        let Err(e) = restore_from(&target, &mut input) else {
            panic!("a changed file restored")
        };
        assert!(e.to_string().contains("checksum"), "{e}");
        assert!(input.rewound);
        assert_eq!(target.len(T::Audit), 0, "nothing written stays");
        assert_eq!(target.format_version().unwrap_or(0), FORMAT_VERSION);
    }

    #[test]
    fn a_file_without_line_breaks_is_refused_without_reading_it_whole() {
        let (_dir, target) = store();
        let huge = std::io::repeat(b'x').take(MAX_LINE + 1);
        let mut input = std::io::Cursor::new(Vec::new());
        std::io::copy(&mut { huge }, &mut input).unwrap_or_else(|e| panic!("{e}"));
        input.set_position(0);
        let Err(e) = restore_from(&target, &mut input) else {
            panic!("restored")
        };
        assert!(e.to_string().contains("line 1: line too long"), "{e}");
    }
}

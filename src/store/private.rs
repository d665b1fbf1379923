//! Owner-only permissions for the data directory: it is created 0700 (tightened when
//! found looser), and after sled opened it every directory below is 0700 and every file
//! 0600, whatever the umask. Without `unsafe` the process umask cannot be set, so the
//! files sled creates later are tightened on each pass; the 0700 directory keeps other
//! users out meanwhile.

use std::path::{Path, PathBuf};

/// The private scratch directory inside the data directory (the API backup's file).
pub const SCRATCH: &str = ".scratch";

/// Creates `dir` (and its parents) with mode 0700, or tightens it to 0700 when it
/// exists with a looser mode. Returns whether it had to be tightened.
pub fn create_private_dir(dir: &Path) -> std::io::Result<bool> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o7777;
        if mode != 0o700 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
            tracing::warn!(
                dir = %dir.display(),
                was = format!("{mode:o}"),
                "data directory tightened to mode 0700"
            );
            return Ok(true);
        }
    }
    Ok(false)
}

/// Sets every directory under `dir` to 0700 and every file to 0600 (symbolic links are
/// not followed). Returns how many entries were changed.
pub fn tighten_tree(dir: &Path) -> std::io::Result<usize> {
    let mut changed = 0;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
        while let Some(current) = pending.pop() {
            for entry in std::fs::read_dir(&current)? {
                let entry = entry?;
                let path = entry.path();
                let meta = match std::fs::symlink_metadata(&path) {
                    Ok(m) => m,
                    // Sled may rename or remove a file while we walk.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                let wanted = if meta.is_dir() {
                    pending.push(path.clone());
                    0o700
                } else if meta.is_file() {
                    0o600
                } else {
                    continue;
                };
                if meta.permissions().mode() & 0o7777 != wanted {
                    match std::fs::set_permissions(&path, std::fs::Permissions::from_mode(wanted)) {
                        Ok(()) => changed += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(changed)
}

/// The scratch directory of `data_dir`, created 0700 if missing.
pub fn scratch_dir(data_dir: &Path) -> std::io::Result<PathBuf> {
    let dir = data_dir.join(SCRATCH);
    create_private_dir(&dir)?;
    Ok(dir)
}

/// Removes what a crash left in the scratch directory of `data_dir` (a spooled API
/// backup is unlinked as soon as it is open, so anything there is a leftover). Returns
/// how many entries went.
pub fn sweep_scratch(data_dir: &Path) -> std::io::Result<usize> {
    let dir = data_dir.join(SCRATCH);
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let mut removed = 0;
    for entry in entries {
        let path = entry?.path();
        let gone = if std::fs::symlink_metadata(&path)?.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match gone {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(removed)
}

/// Creates a new file readable and writable by its owner only (mode 0600); fails if
/// `path` exists.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

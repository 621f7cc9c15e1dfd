//! The local runner's own secrets: generated on first start, kept beside the database in
//! files only the owner can read, and printed so the user can paste them into GitHub.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ghsync_shared::config::Config;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::secrets::random_hex;
use ghsync_shared::services::Services;
use ghsync_shared::store::StoreOptions;

/// The services on the configured database; without `GHSYNC_KMS_KEY_ID` or
/// `GHSYNC_LOCAL_KEY`, the local master key kept in `ghsync.key` beside the database.
pub async fn services(config: &Config) -> Result<Services> {
    let fallback = if config.kms_key_id.is_some() || config.local_key_hex.is_some() {
        None
    } else {
        let dir = state_dir(&config.database_url);
        let (hex, created) = kept_secret(&dir, "ghsync.key", 32)?;
        if created {
            tracing::warn!(
                path = %dir.join("ghsync.key").display(),
                "generated a local master key for PAT encryption; back it up (without it stored PATs \
                 cannot be decrypted) or set GHSYNC_KMS_KEY_ID to use AWS KMS"
            );
        }
        Some(KeyProvider::Local(LocalKeys::from_hex(&hex)?))
    };
    if let Some(db) = sqlite_file(&config.database_url) {
        keep_private_database(&db)?;
    }
    Services::connect(config, &StoreOptions::default(), fallback).await.with_context(|| {
        format!("cannot start ({})", ghsync_shared::config::redact_url(&config.database_url))
    })
}

/// The file of a `sqlite:` database URL (`None` for other URLs and in-memory databases).
pub fn sqlite_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://").or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && !path.contains(":memory:")).then(|| PathBuf::from(path))
}

/// Makes the SQLite database (it holds sealed PATs, issue text and the delivery log) and its
/// WAL and shared-memory files readable by the owner only: created 0600 before SQLite opens
/// it (SQLite gives its `-wal` and `-shm` files the database file's mode), and an existing
/// file with wider permissions narrowed, with a warning.
pub fn keep_private_database(db: &Path) -> Result<()> {
    if !db.exists() {
        fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(db)
            .with_context(|| format!("cannot create {}", db.display()))?;
    }
    for suffix in ["", "-wal", "-shm"] {
        let path = PathBuf::from(format!("{}{suffix}", db.display()));
        keep_private(&path)?;
    }
    Ok(())
}

/// Narrows an existing file that group or others may read or write to mode 0600 (a missing
/// file is left alone); refuses when that is not possible.
fn keep_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match fs::metadata(path) {
        Ok(meta) => meta.permissions().mode() & 0o777,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the permissions of {}", path.display()));
        }
    };
    if mode & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).with_context(|| {
            format!(
                "{} is readable by others (mode {mode:o}) and cannot be made private: chmod 600 it",
                path.display()
            )
        })?;
        tracing::warn!(path = %path.display(), was = %format_args!("{mode:o}"), "made a file of secrets private (mode 600)");
    }
    Ok(())
}

/// The folder of a `sqlite:` database file (the working directory for other URLs).
pub fn state_dir(database_url: &str) -> PathBuf {
    sqlite_file(database_url)
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Reads the secret kept in `dir/name`, or generates one into it (mode 0600).
/// Returns the secret and whether it was just created.
pub fn kept_secret(dir: &Path, name: &str, bytes: usize) -> Result<(String, bool)> {
    let path = dir.join(name);
    keep_private(&path)?;
    match fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok((s.trim().to_string(), false)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let secret = random_hex(bytes);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(secret.as_bytes())?;
    Ok((secret.to_string(), true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn state_lives_beside_the_sqlite_file() {
        assert_eq!(state_dir("sqlite://ghsync.db?mode=rwc"), PathBuf::from("."));
        assert_eq!(state_dir("sqlite:///var/lib/ghsync/x.db"), PathBuf::from("/var/lib/ghsync"));
        assert_eq!(state_dir("postgres://u@h/db"), PathBuf::from("."));
    }

    #[test]
    fn a_secret_is_generated_once_and_kept_private() {
        let dir = std::env::temp_dir().join(format!("ghsync-test-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let (first, created) = kept_secret(&dir, "s", 32).unwrap();
        assert!(created);
        assert_eq!(first.len(), 64);
        let (again, created) = kept_secret(&dir, "s", 32).unwrap();
        assert!(!created);
        assert_eq!(again, first);
        let mode = fs::metadata(dir.join("s")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_database_and_a_widened_secret_are_kept_private() {
        let dir = std::env::temp_dir().join(format!("ghsync-test-{}", uuid::Uuid::new_v4()));
        fs::create_dir_all(&dir).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let db = dir.join("g.db");
        keep_private_database(&db).unwrap();
        assert_eq!(mode(&db), 0o600, "created private");
        // Files someone widened (or an older ghsync left) are narrowed.
        let wal = dir.join("g.db-wal");
        fs::write(&wal, b"").unwrap();
        fs::set_permissions(&wal, fs::Permissions::from_mode(0o644)).unwrap();
        fs::set_permissions(&db, fs::Permissions::from_mode(0o664)).unwrap();
        keep_private_database(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        kept_secret(&dir, "s", 32).unwrap();
        fs::set_permissions(dir.join("s"), fs::Permissions::from_mode(0o644)).unwrap();
        let (_, created) = kept_secret(&dir, "s", 32).unwrap();
        assert!(!created);
        assert_eq!(mode(&dir.join("s")), 0o600);
        assert_eq!(sqlite_file("sqlite://x/g.db?mode=rwc"), Some(PathBuf::from("x/g.db")));
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://h/db"), None);
        fs::remove_dir_all(dir).unwrap();
    }
}
